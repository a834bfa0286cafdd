"""A LiteLLM Router with a fallback model: gpt-4o-mini first, gpt-4o when it fails.

The router reads the mock's URL and key from the environment the run sets; ``num_retries``
and the fallback are the router's own (it also sleeps Retry-After on a 429 before it falls
back: the issue's finding).
"""

from __future__ import annotations

import os

from litellm import Router

_base = os.environ["OPENAI_BASE_URL"]
_key = os.environ["OPENAI_API_KEY"]


def _deployment(name: str) -> dict:
    params = {"model": f"openai/{name}", "api_base": _base, "api_key": _key}
    return {"model_name": name, "litellm_params": params}


router = Router(
    model_list=[_deployment("gpt-4o-mini"), _deployment("gpt-4o")],
    fallbacks=[{"gpt-4o-mini": ["gpt-4o"]}],
    num_retries=2,
    timeout=30,
)


def answer(request):
    reply = router.completion(
        model=request.model, messages=request.messages, max_tokens=request.max_tokens
    )
    return reply.choices[0].message.content
