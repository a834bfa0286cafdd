"""tenacity with full jitter around the openai SDK (its own retries off): retry 429s, 5xx and
lost connections, never a 400, waiting U(0, min(30, 2^n)) seconds (AWS's "full jitter")."""

from __future__ import annotations

import openai
from openai import OpenAI
from tenacity import (
    retry,
    retry_if_exception_type,
    stop_after_attempt,
    wait_random_exponential,
)

client = OpenAI(max_retries=0, timeout=30.0)

RETRYABLE = (openai.RateLimitError, openai.InternalServerError, openai.APIConnectionError)


@retry(
    retry=retry_if_exception_type(RETRYABLE),
    wait=wait_random_exponential(multiplier=1, max=30),
    stop=stop_after_attempt(8),
    reraise=True,
)
def answer(request):
    reply = client.chat.completions.create(
        model=request.model,
        messages=request.messages,
        max_tokens=request.max_tokens,
        user=request.user,
    )
    return reply.choices[0].message.content
