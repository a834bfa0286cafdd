"""A naive retry loop, as copied from a forum answer: retry at once on any error, ten times.

Bad on purpose: no backoff, no jitter, Retry-After ignored, a 400 retried like a 429.
Run as an app strategy, ``{app: "naive_loop:answer", path: "../examples/apps"}``.
"""

from __future__ import annotations

import os

import httpx

client = httpx.Client(timeout=60.0)


def answer(request):
    """One logical request: POST until a 200, at most ten times."""
    url = os.environ["OPENAI_BASE_URL"] + "/chat/completions"
    headers = {"authorization": f"Bearer {os.environ['OPENAI_API_KEY']}"}
    body = {"model": request.model, "messages": request.messages}
    if request.max_tokens is not None:
        body["max_tokens"] = request.max_tokens
    for _ in range(10):
        resp = client.post(url, json=body, headers=headers)
        if resp.status_code == 200:
            return resp.json()["choices"][0]["message"]["content"]
    resp.raise_for_status()
    return None
