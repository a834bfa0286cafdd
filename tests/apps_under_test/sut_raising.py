"""Calls the mock once, then fails every other request with its own exception."""

from __future__ import annotations

import httpx


class AppBroke(Exception):
    pass


def answer(request):
    resp = httpx.post(
        request.openai_base_url + "/chat/completions",
        json={"model": request.model, "messages": request.messages, "max_tokens": 16},
        headers={"authorization": f"Bearer {request.api_key}"},
        timeout=10,
    )
    if int(request.trace_id.rsplit("-", 1)[1]) % 2:
        raise AppBroke(f"odd request, status {resp.status_code}")
    return resp.json()
