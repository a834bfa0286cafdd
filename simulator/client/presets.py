"""Named client configs: each real library with its own defaults, as a strategy can name it.

A scenario strategy says ``{preset: openai_sdk}``, or ``{preset: litellm_router, fallback:
[gpt-4o-mini]}`` to change a field; :func:`merge_under` puts the preset under what the strategy
gives (nested sections merge, lists are replaced, and a ``retry`` of another kind replaces the
preset's whole ``retry``). :data:`PRESETS` is the registry that ``stampede check NAME`` and the
config schema look names up in.

Each preset is the library's retry kind (see :mod:`simulator.client.libraries` and
:mod:`simulator.client.litellm_router` for the versions read) plus its client timeouts. None of
these libraries has an overall deadline per call, so ``total_s`` is :data:`NO_DEADLINE_S`.
"""

from __future__ import annotations

from typing import Any

from simulator.config import ClientConfig

__all__ = ["NO_DEADLINE_S", "PRESETS", "PRESET_FIELDS", "merge_under"]

NO_DEADLINE_S = 86_400.0  # a day: no deadline within any scenario

_SDK_TIMEOUTS = {"connect_s": 5.0, "read_s": 600.0, "total_s": NO_DEADLINE_S}  # 600 s, connect 5

# The presets as a scenario file would write them (what the schema merges under a strategy).
PRESET_FIELDS: dict[str, dict[str, Any]] = {
    "openai_sdk": {
        "description": "openai-python defaults: 2 retries, Retry-After up to 120 s, 600 s timeout",
        "retry": {"kind": "openai_sdk", "max_attempts": 3},
        "timeouts": _SDK_TIMEOUTS,
    },
    "anthropic_sdk": {
        "description": "anthropic-sdk-python defaults: 2 retries, any Retry-After, 600 s timeout",
        "retry": {"kind": "anthropic_sdk", "max_attempts": 3},
        "timeouts": _SDK_TIMEOUTS,
    },
    "litellm_router": {
        "description": "LiteLLM Router defaults: 2 retries in a group, 5 s cooldowns, fallbacks",
        "retry": {"kind": "litellm_router", "num_retries": 2, "cooldown_time_s": 5.0},
        # Router(timeout=None) passes litellm.request_timeout, 6000 s, to every phase.
        "timeouts": {"connect_s": 6000.0, "read_s": 6000.0, "total_s": NO_DEADLINE_S},
    },
    "langchain_with_retry": {
        "description": "Runnable.with_retry() defaults: 3 attempts, 2^n + U(0,1) s, every error",
        "retry": {"kind": "langchain_with_retry", "max_attempts": 3},
        "timeouts": _SDK_TIMEOUTS,  # ChatOpenAI(timeout=None): the openai SDK's
    },
    "tenacity_cookbook": {
        "description": "OpenAI cookbook tenacity: 6 attempts, U(1, min(2^n, 60)) s, every error",
        "retry": {"kind": "tenacity_cookbook", "max_attempts": 6},
        "timeouts": _SDK_TIMEOUTS,  # the cookbook's OpenAI() client
    },
    "vercel_ai_sdk": {
        "description": "Vercel AI SDK defaults: 2 retries, 2 s doubling, no jitter",
        "retry": {"kind": "vercel_ai_sdk", "max_attempts": 3},
        # No timeout of its own: Node's fetch (undici) connects within 10 s and waits 300 s
        # for headers and between body chunks.
        "timeouts": {"connect_s": 10.0, "read_s": 300.0, "total_s": NO_DEADLINE_S},
    },
}


def merge_under(preset: dict[str, Any], given: dict[str, Any]) -> dict[str, Any]:
    """``given`` over ``preset``: mappings merge key by key, anything else is replaced; a
    mapping whose ``kind`` differs from the preset's replaces it whole (its fields would not
    apply to another kind)."""
    out = dict(preset)
    for key, value in given.items():
        base = out.get(key)
        if (
            isinstance(base, dict)
            and isinstance(value, dict)
            and value.get("kind", base.get("kind")) == base.get("kind")
        ):
            out[key] = merge_under(base, value)
        else:
            out[key] = value
    return out


PRESETS: dict[str, ClientConfig] = {
    name: ClientConfig.model_validate({"preset": name}) for name in PRESET_FIELDS
}
