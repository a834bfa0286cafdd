"""An async app whose client is built at import time, from the environment the run sets."""

from __future__ import annotations

from openai import AsyncOpenAI

client = AsyncOpenAI(max_retries=3)


async def answer(request):
    reply = await client.chat.completions.create(
        model=request.model, messages=request.messages, max_tokens=request.max_tokens
    )
    return reply.choices[0].message.content
