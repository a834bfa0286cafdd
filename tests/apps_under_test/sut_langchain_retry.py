"""LangChain's ``with_retry`` around the openai SDK: 3 attempts, retrying every exception,
a 400 included (the issue's example of a client that retries what cannot succeed)."""

from __future__ import annotations

from langchain_core.runnables import RunnableLambda
from openai import OpenAI

client = OpenAI(max_retries=0)


def _create(request):
    reply = client.chat.completions.create(
        model=request.model, messages=request.messages, max_tokens=request.max_tokens
    )
    return reply.choices[0].message.content


chain = RunnableLambda(_create).with_retry(stop_after_attempt=3)


def answer(request):
    return chain.invoke(request)
