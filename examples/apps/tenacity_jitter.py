"""tenacity with full jitter around the openai SDK (its own retries off), and a fallback model.

Retries 429s, 5xx and lost connections, never a 400, waiting U(0, min(30, 2^n)) seconds (AWS's
"full jitter"); after a server error the next attempts go to the fallback model (the
scenario's ``fallback`` for this strategy, else gpt-4o).
"""

from __future__ import annotations

import openai
from openai import OpenAI
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_random_exponential

client = OpenAI(max_retries=0, timeout=30.0)

RETRYABLE = (openai.RateLimitError, openai.InternalServerError, openai.APIConnectionError)


def answer(request):
    model, fallback = request.model, (request.fallback or ("gpt-4o",))[0]
    retrying = Retrying(
        retry=retry_if_exception_type(RETRYABLE),
        wait=wait_random_exponential(multiplier=1, max=30),
        stop=stop_after_attempt(8),
        reraise=True,
    )
    for attempt in retrying:
        with attempt:
            try:
                reply = client.chat.completions.create(
                    model=model,
                    messages=request.messages,
                    max_tokens=request.max_tokens,
                    user=request.user,
                )
            except openai.InternalServerError:
                model = fallback  # the primary is failing: try the fallback next
                raise
            return reply.choices[0].message.content
    return None
