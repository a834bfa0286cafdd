"""The anthropic SDK with its defaults (2 retries, 0.5-8 s backoff with jitter, Retry-After
honoured), calling a Claude model through the Messages API; ``ANTHROPIC_BASE_URL`` and
``ANTHROPIC_API_KEY`` point it at the mock."""

from __future__ import annotations

from anthropic import Anthropic

client = Anthropic()


def answer(request):
    kwargs = {"system": request.system} if request.system else {}
    reply = client.messages.create(
        model=request.model,
        messages=request.conversation,
        max_tokens=request.max_tokens or 1024,
        **kwargs,
    )
    return reply.content[0].text
