"""The openai SDK with its defaults: 2 retries, 0.5-8 s exponential backoff with 25% jitter,
Retry-After honoured up to 60 s, a 600 s timeout. The client is built at import time, from
``OPENAI_BASE_URL`` and ``OPENAI_API_KEY``, which the run points at the mock.
"""

from __future__ import annotations

from openai import OpenAI

client = OpenAI()


def answer(request):
    reply = client.chat.completions.create(
        model=request.model,
        messages=request.messages,
        max_tokens=request.max_tokens,
        user=request.user,
    )
    return reply.choices[0].message.content
