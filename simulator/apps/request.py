"""What an app strategy's function receives: one logical request, ready to forward.

The function is called once per logical request, ``answer(request)``, sync or async, and
calls the mock through whatever SDK or HTTP client it uses. Before its module is imported the
run sets the SDKs' environment variables (:func:`sdk_environment`), so code that builds its
client at import time (``client = OpenAI()``) reaches the mock unchanged; the same URLs and
key are on the request for code that passes them explicitly.

The user message of every request starts with a request tag (``#000000042``): an app that
forwards the messages, or puts the user's text anywhere in its own prompt, is attributed its
attempts through it (see :mod:`simulator.apps.attribution`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from simulator.workload import LogicalRequest

__all__ = ["AppRequest", "app_request", "sdk_environment"]


def sdk_environment(host: str, api_key: str) -> dict[str, str]:
    """The variables the openai and anthropic SDKs (and LiteLLM) read, pointing at ``host``
    (``http://127.0.0.1:PORT``, no ``/v1``)."""
    return {
        "OPENAI_BASE_URL": f"{host}/v1",
        "OPENAI_API_KEY": api_key,
        "ANTHROPIC_BASE_URL": host,  # the anthropic SDK adds /v1 itself
        "ANTHROPIC_API_KEY": api_key,
    }


@dataclass(frozen=True, slots=True)
class AppRequest:
    """One logical request, as the application under test receives it.

    ``messages`` are OpenAI-style ``{"role", "content"}`` dicts, in order; for Anthropic's
    API, :attr:`system` and :attr:`conversation` split them as ``messages.create`` wants.
    ``fallback`` is the scenario's list for this strategy (the app may ignore it).
    """

    messages: list[dict[str, str]]
    model: str
    max_tokens: int | None
    stream: bool
    user: str
    feature: str
    openai_base_url: str
    anthropic_base_url: str
    api_key: str
    trace_id: str
    prompt_version: str = "v1"
    fallback: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)  # for the app's own use

    @property
    def system(self) -> str | None:
        """The system messages' text joined, or None (Anthropic's ``system`` parameter)."""
        parts = [m["content"] for m in self.messages if m["role"] == "system"]
        return "\n\n".join(parts) if parts else None

    @property
    def conversation(self) -> list[dict[str, str]]:
        """The messages without the system ones (Anthropic's ``messages``)."""
        return [m for m in self.messages if m["role"] != "system"]


def app_request(
    req: LogicalRequest,
    strategy: str,
    host: str,
    api_key: str,
    stream: bool,
    fallback: tuple[str, ...] = (),
) -> AppRequest:
    """The :class:`AppRequest` for logical request ``req`` of ``strategy``."""
    env = sdk_environment(host, api_key)
    return AppRequest(
        messages=[{"role": role, "content": content} for role, content in req.messages],
        model=req.model,
        max_tokens=req.max_tokens,
        stream=stream,
        user=req.user_id,
        feature=req.feature,
        openai_base_url=env["OPENAI_BASE_URL"],
        anthropic_base_url=env["ANTHROPIC_BASE_URL"],
        api_key=api_key,
        trace_id=f"{strategy}-{req.seq}",
        prompt_version=req.prompt_version,
        fallback=fallback,
    )
