"""What every field of a scenario or client file means: the words behind the reference.

The schema classes (``simulator.config``, ``mock_provider.config``) own the types, defaults
and bounds; this table owns the sentence a person reads, the unit where the type does not say
it, and an example where the default is no example. ``docs/scenarios.md`` and the JSON Schema
(``stampede schema``) are both built from the classes plus this table, and
``tests/test_reference.py`` fails when a field has no entry here or an entry names a field
that is gone, so the reference cannot fall behind the schema.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["FIELD_DOCS", "FieldDoc"]


@dataclass(frozen=True, slots=True)
class FieldDoc:
    text: str
    units: str = ""
    example: Any = None  # None: the default is the example


D = FieldDoc

FIELD_DOCS: dict[str, FieldDoc] = {
    # ------------------------------------------------------------------ scenario
    "Scenario.name": D(
        "the run's name: the report folder is reports/<name>-<timestamp>/, so letters, digits, "
        "_, - and . (not first), at most 100 characters",
        example="my_scenario",
    ),
    "Scenario.description": D(
        "what this run asks, shown at the top of the report",
        example="a burst of 100 requests against a 60 RPM limit",
    ),
    "Scenario.seed": D(
        "every random draw comes from it, the mock's included: the same seed gives the same "
        "arrivals, prompts, latencies and faults for every strategy",
        example=7,
    ),
    "Scenario.duration": D("arrivals happen in [0, duration)", example="2m"),
    "Scenario.drain": D(
        "after the last arrival, requests in flight get this long to finish (retries included)",
        example="90s",
    ),
    "Scenario.time_scale": D(
        "live runs only: run K times faster than scenario time (reports "
        "stay in scenario time); auto picks the largest K whose host delays "
        "stay within the timing bound",
        "a factor",
        example="auto",
    ),
    "Scenario.provider": D(
        "the mock provider: models, limits, latency, faults (its seed and time scale are the "
        "scenario's own)",
        example={"models": {"gpt-4o-mini": {"rpm": 60}}},
    ),
    "Scenario.workload": D(
        "what the application sends: arrivals, prompts and the first model",
        example={"model": "gpt-4o", "arrivals": {"kind": "poisson", "rate": 2}},
    ),
    "Scenario.strategies": D(
        "name -> a client config (a built-in strategy) or an app (your "
        "own code); every strategy faces the same seeded traffic",
        example={"full_jitter": {"retry": {"kind": "full_jitter"}}},
    ),
    "Scenario.objective": D(
        "how strategies are ranked: metrics in order, and a floor a "
        "strategy must meet to be ranked at all; a metric name or a list "
        "is short for {rank_by: ...}",
        example={"rank_by": ["p95_latency_ms"], "floor": {"success_rate": ">= 0.95"}},
    ),
    "Scenario.thresholds": D(
        "k6-style gates on summary metrics that set the exit code: 'all' "
        "or a strategy name -> {metric: expression}",
        example={"all": {"success_rate": ">= 0.99", "p95_latency_ms": "< 8000"}},
    ),
    "Scenario.baseline": D(
        "the strategy whose cost per success the cost-spike alert compares against", example="naive"
    ),
    "Scenario.overload": D(
        "intended: demand above the limits is what the scenario is about, so the pre-flight "
        "says it as info rather than a warning",
        example="intended",
    ),
    "Scenario.sweep": D(
        "stampede sweep's grid when the command line gives none; stampede run ignores it",
        example={"vary": {"strategies.a.retry.base_s": [0.5, 1]}},
    ),
    # ------------------------------------------------------------------ provider
    "ProviderSettings.models": D(
        "model name -> overrides and limits; a catalogue model keeps "
        "what is not given, a new name is a new model",
        example={"gpt-4o": {"rpm": 500, "tpm": 2000000}},
    ),
    "ProviderSettings.default_rpm": D(
        "requests per minute for a model with no rpm of its own", "requests/minute"
    ),
    "ProviderSettings.default_tpm": D(
        "tokens per minute for a model with no tpm of its own", "tokens/minute"
    ),
    "ProviderSettings.api_keys": D(
        "keys the mock accepts (empty: any key); another gets the provider's 401",
        example=["sk-team-a", "sk-team-b"],
    ),
    "ProviderSettings.default_max_tokens": D("output cap for a request that sets none", "tokens"),
    "ProviderSettings.output_tokens": D(
        "how long answers are: a log-normal draw per request, cut at the request's max_tokens",
        "tokens",
        example={"median": 150, "spread": 0.4},
    ),
    "ProviderSettings.faults": D(
        "fault rules: which requests each strikes and what it does",
        example=[{"kind": "outage", "model": "gpt-4o", "start": 30, "end": 90, "status": 503}],
    ),
    "ProviderSettings.cache_ttl_s": D("how long a cached prompt prefix stays readable"),
    "ProviderSettings.cache_min_tokens": D(
        "shortest prompt prefix that is cached (OpenAI's automatic caching)", "tokens"
    ),
    "ProviderSettings.max_body_bytes": D(
        "largest request body accepted; above it the provider's 413", "bytes"
    ),
    "ProviderSettings.profile": D(
        "which OpenAI-compatible service to imitate where they differ: "
        "openai (whole-second retry-after) or azure (retry-after-ms "
        "too)"
    ),
    "ProviderSettings.tool_call_probability": D(
        "how often a request that offers tools with tool_choice auto gets a tool call",
        "probability",
    ),
    "ProviderSettings.parallel_tool_call_probability": D(
        "how often an answer that calls a tool, where parallel calls are allowed, adds one more "
        "call (again for each further one)",
        "probability",
    ),
    "ProviderSettings.catalog_date": D(
        "the day the model catalogue is read on: a model released later does not exist yet, "
        "one retired by then answers the provider's 404",
        example="2026-12-07",
    ),
    "ProviderSettings.catalog_limits": D(
        "give a model with no limits of its own the catalogue's published tier limits, "
        "instead of default_rpm and default_tpm",
        example=True,
    ),
    # ------------------------------------------------------------------ models
    "ModelConfig.dialect": D(
        "the wire format a new model speaks (a catalogue model has its own)", example="openai"
    ),
    "ModelConfig.context_window": D(
        "prompt plus max_tokens above it gets the provider's 400", "tokens", example=128000
    ),
    "ModelConfig.price_input": D("price of input tokens", "USD per million tokens", example=2.5),
    "ModelConfig.price_cached_input": D(
        "price of input tokens read from the prompt cache", "USD per million tokens", example=1.25
    ),
    "ModelConfig.price_output": D("price of output tokens", "USD per million tokens", example=10.0),
    "ModelConfig.max_output_tokens": D(
        "largest max_tokens the model accepts", "tokens", example=16384
    ),
    "ModelConfig.latency": D(
        "how long the model takes: network, prefill, first token, decode (each a log-normal draw)",
        example={"first_token_ms": {"median": 400, "spread": 0.3}},
    ),
    "ModelConfig.cache_min_tokens": D(
        "shortest cacheable prefix for explicit (Anthropic cache_control) caching",
        "tokens",
        example=1024,
    ),
    "ModelConfig.rpm": D("requests per minute, per API key", "requests/minute", example=500),
    "ModelConfig.tpm": D(
        "OpenAI models: tokens per minute, prompt plus output, per key. "
        "Anthropic models: an optional combined cap",
        "tokens/minute",
        example=2000000,
    ),
    "ModelConfig.itpm": D(
        "Anthropic models: input tokens per minute (cache reads not counted)",
        "tokens/minute",
        example=30000,
    ),
    "ModelConfig.otpm": D(
        "Anthropic models: output tokens per minute", "tokens/minute", example=8000
    ),
    "ModelConfig.max_in_flight": D(
        "per key: requests in flight above it get a 429", "requests", example=1
    ),
    "ModelConfig.load": D(
        "how the model slows down, and refuses, under concurrent load",
        example={"free": 20, "slope": 0.05, "capacity": 200},
    ),
    "ModelConfig.retry_after": D(
        "what a 429 says about when to retry: exact (retry-after-ms "
        "and retry-after), seconds (retry-after only) or none; unset, "
        "the provider's profile decides",
        example="exact",
    ),
    "ModelConfig.api_keys": D(
        "keys allowed to call this model (empty: every accepted key); another gets a 403",
        example=["sk-team-a"],
    ),
    "LatencyConfig.network_ms": D(
        "round trip before the model starts", "milliseconds", example={"median": 40, "spread": 0.3}
    ),
    "LatencyConfig.prefill_ms_per_token": D(
        "prompt processing per input token", "milliseconds per token", example={"median": 0.05}
    ),
    "LatencyConfig.first_token_ms": D(
        "time to the first output token after prefill",
        "milliseconds",
        example={"median": 300, "spread": 0.4},
    ),
    "LatencyConfig.decode_ms_per_token": D(
        "gap between output tokens", "milliseconds per token", example={"median": 12, "spread": 0.2}
    ),
    "LoadConfig.free": D("requests in flight across keys before latency grows", "requests"),
    "LoadConfig.slope": D(
        "latency grows by this factor per request in flight above free", "per request", example=0.05
    ),
    "LoadConfig.exponent": D("the growth's power: latency x (1 + slope * excess ** exponent)"),
    "LoadConfig.capacity": D(
        "above this many in flight the model refuses: 503 (OpenAI) or 529 (Anthropic)",
        "requests",
        example=200,
    ),
    "DistConfig.median": D(
        "the median of a log-normal draw (in the parent field's unit)", example=300
    ),
    "DistConfig.spread": D(
        "sigma of the log-normal: 0 always gives the median, 0.5 a typical spread"
    ),
    # ------------------------------------------------------------------ faults
    "FaultWindowConfig.kind": D(
        "what the fault does: outage, error_rate, error, reset, hang, "
        "empty, malformed, slow, cut_stream, stream_error (see the "
        "table of fields each kind reads)",
        example="error",
    ),
    "FaultWindowConfig.model": D("which model's requests it strikes; * is any"),
    "FaultWindowConfig.key": D("only requests with this API key", example="sk-team-a"),
    "FaultWindowConfig.dialect": D("only requests in this wire format", example="anthropic"),
    "FaultWindowConfig.path": D("only requests to this path", example="/v1/chat/completions"),
    "FaultWindowConfig.stream": D(
        "only streamed (true) or only plain (false) requests", example=True
    ),
    "FaultWindowConfig.tools": D(
        "only requests that offer tools (true) or do not (false)", example=True
    ),
    "FaultWindowConfig.start": D("scenario time the fault starts striking"),
    "FaultWindowConfig.end": D("scenario time it stops (unset: never)", example="90s"),
    "FaultWindowConfig.probability": D(
        "share of matching requests it strikes, drawn from the seed", "probability"
    ),
    "FaultWindowConfig.times": D(
        "strike only the next N matching requests, then stop", "requests", example=3
    ),
    "FaultWindowConfig.status": D(
        "the HTTP status an outage, error or stream_error answers", example=529
    ),
    "FaultWindowConfig.rate": D(
        "error_rate: the share of requests that fail", "probability", example=0.4
    ),
    "FaultWindowConfig.statuses": D(
        "error_rate: each failure's status, drawn from this list", example=[500, 503]
    ),
    "FaultWindowConfig.error_type": D(
        "the error body's type instead of the status's own", example="insufficient_quota"
    ),
    "FaultWindowConfig.message": D(
        "the error body's message instead of the provider's", example="The server is overloaded"
    ),
    "FaultWindowConfig.retry_after": D("the retry-after the error carries", example=5),
    "FaultWindowConfig.should_retry": D(
        "the x-should-retry header the error carries", example=False
    ),
    "FaultWindowConfig.after_bytes": D(
        "reset: bytes of the body sent before the reset (unset: before the status line)",
        "bytes",
        example=200,
    ),
    "FaultWindowConfig.after_tokens": D(
        "malformed, cut_stream, stream_error: tokens streamed before the fault", "tokens"
    ),
    "FaultWindowConfig.max_hang": D(
        "hang: the connection is closed after this long if the client has not given up"
    ),
    "FaultWindowConfig.factor": D(
        "slow: time to first token and each gap times this", "a factor", example=5
    ),
    "FaultWindowConfig.delay": D("slow: added before the first token", example="2s"),
    # ------------------------------------------------------------------ workload
    "WorkloadConfig.arrivals": D(
        "when logical requests arrive: one arrival process, or a list "
        "of open-loop phases that overlay",
        example={"kind": "poisson", "rate": 2},
    ),
    "WorkloadConfig.prompts": D(
        "what each request sends: layout, sizes, users, features",
        example={"input_tokens": {"median": 300}, "max_tokens": 400},
    ),
    "WorkloadConfig.model": D(
        "the model the application asks for first (a fallback chain starts here)"
    ),
    "ArrivalConfig.kind": D(
        "burst, poisson, ramp, spike, diurnal or closed_loop (see the "
        "table of fields each kind reads)",
        example="poisson",
    ),
    "ArrivalConfig.n": D("burst: how many requests arrive at once", "requests"),
    "ArrivalConfig.at": D("burst: when it arrives"),
    "ArrivalConfig.rate": D(
        "poisson, spike, diurnal: mean arrivals per second", "requests/second", example=2
    ),
    "ArrivalConfig.start_rate": D("ramp: the rate at t=0", "requests/second"),
    "ArrivalConfig.end_rate": D(
        "ramp: the rate at the end of the duration", "requests/second", example=4
    ),
    "ArrivalConfig.spike_rate": D(
        "spike: extra rate inside the spike", "requests/second", example=12
    ),
    "ArrivalConfig.spike_start": D("spike: when it starts", example=60),
    "ArrivalConfig.spike_end": D("spike: when it ends (after spike_start)", example=80),
    "ArrivalConfig.amplitude": D(
        "diurnal: rate x (1 + amplitude x sin(2 pi t / period))", "fraction of the rate"
    ),
    "ArrivalConfig.period": D("diurnal: the length of one cycle", example="1h"),
    "ArrivalConfig.users": D(
        "closed_loop: users, each sending its next request think_time after its last one ended",
        "users",
        example=20,
    ),
    "ArrivalConfig.think_time": D(
        "closed_loop: the pause between a user's requests",
        "seconds",
        example={"median": 5, "spread": 0.5},
    ),
    "ArrivalConfig.max_requests": D(
        "stop this arrival process after N requests", "requests", example=500
    ),
    "PromptConfig.layout": D(
        "plain; cache_friendly (stable system prompt first, so the cache "
        "reads it); cache_busting (a per-request stamp first)"
    ),
    "PromptConfig.input_tokens": D(
        "the user turn's size, drawn per request", "tokens", example={"median": 300, "spread": 0.5}
    ),
    "PromptConfig.system_tokens": D(
        "a system prompt of this size on every request", "tokens", example=1500
    ),
    "PromptConfig.max_tokens": D("the max_tokens each request asks for (null: none)", "tokens"),
    "PromptConfig.users": D(
        "distinct users the requests are spread over (for per-user budgets and traces)", "users"
    ),
    "PromptConfig.features": D(
        "feature names the requests are spread over (for per-feature budgets and traces)",
        example=["chat", "search"],
    ),
    "PromptConfig.prompt_version": D("the prompt_version written in every trace row"),
    "PromptConfig.repeat": D(
        "a loop bug: each logical request is sent this many times", "times", example=25
    ),
    # ------------------------------------------------------------------ clients
    "ClientConfig.preset": D(
        "a real library's defaults, merged under the fields given next "
        "to it (stampede list shows them)",
        example="openai_sdk",
    ),
    "ClientConfig.description": D("one line shown in reports", example="full jitter, 5 tries"),
    "ClientConfig.retry": D(
        "when and how long to wait before trying again",
        example={"kind": "full_jitter", "max_attempts": 5, "base_s": 1},
    ),
    "ClientConfig.fallback": D(
        "models to try, in order, when the first fails", example=["gpt-4o-mini"]
    ),
    "ClientConfig.fallback_on": D("which failures move to the next model: 429, 5xx, timeout"),
    "ClientConfig.guards": D(
        "refuse a request before sending it: input size, daily budgets",
        example={"max_input_tokens": 4000},
    ),
    "ClientConfig.timeouts": D(
        "how long the client waits: to connect, between bytes, and for the whole request",
        example={"read_s": 30, "total_s": 120},
    ),
    "ClientConfig.stream": D("stream answers (server-sent events)", example=True),
    "ClientConfig.api_key": D("the key the client sends (per-key limits)"),
    "ClientConfig.prompt_layout": D(
        "this strategy's own prompt layout instead of workload.prompts.layout",
        example="cache_friendly",
    ),
    "RetryConfig.kind": D(
        "the retry policy (see the table of fields each kind reads)", example="full_jitter"
    ),
    "RetryConfig.max_attempts": D("attempts in all, the first included", "attempts", example=5),
    "RetryConfig.base_s": D("backoff: the first wait, doubled each retry"),
    "RetryConfig.cap_s": D("backoff: the longest wait"),
    "RetryConfig.delay_s": D("fixed: the wait between attempts"),
    "RetryConfig.honor_retry_after": D(
        "wait what the 429's retry-after says when it says", example=True
    ),
    "RetryConfig.max_retry_after_s": D("a retry-after longer than this is not honoured"),
    "RetryConfig.retry_on": D("statuses worth another attempt"),
    "RetryConfig.num_retries": D("litellm_router: retries after the first attempt", "retries"),
    "RetryConfig.allowed_fails": D(
        "litellm_router: failures before a deployment cools down", "failures", example=3
    ),
    "RetryConfig.cooldown_time_s": D("litellm_router: how long a failing deployment is skipped"),
    "RetryConfig.min_wait_s": D("litellm_router: the least wait before a retry (its retry_after)"),
    "RetryConfig.retry_budget": D(
        "gRPC retry throttling: retries stop while the token count "
        "is at or below half of max_tokens",
        example={"max_tokens": 10, "token_ratio": 0.1},
    ),
    "RetryConfig.adaptive_throttle": D(
        "Google SRE client-side throttling: refuse locally as the provider refuses",
        example={"k": 2},
    ),
    "RetryConfig.circuit_breaker": D(
        "stop calling after consecutive failures, probe again after a while",
        example={"failure_threshold": 5},
    ),
    "RetryBudgetConfig.max_tokens": D("the bucket's size; each failure takes 1", "tokens"),
    "RetryBudgetConfig.token_ratio": D("each success gives back this much", "tokens"),
    "AdaptiveThrottleConfig.k": D(
        "accepts x k is the request rate the client allows itself before refusing locally",
        "a factor",
    ),
    "AdaptiveThrottleConfig.window_s": D("how far back requests and accepts are counted"),
    "CircuitBreakerConfig.failure_threshold": D(
        "consecutive failures that open the circuit", "failures"
    ),
    "CircuitBreakerConfig.reset_timeout_s": D("how long it stays open before a probe"),
    "CircuitBreakerConfig.half_open_max": D("probes allowed while half open", "requests"),
    "GuardConfig.max_input_tokens": D(
        "refuse a request whose prompt is longer", "tokens", example=4000
    ),
    "GuardConfig.max_output_tokens": D(
        "cap each request's max_tokens at this", "tokens", example=500
    ),
    "GuardConfig.user_daily_budget_usd": D(
        "refuse a user's requests once their spend reaches this",
        "USD per user per day",
        example=1.0,
    ),
    "GuardConfig.feature_daily_budget_usd": D(
        "refuse a feature's requests once its spend reaches this",
        "USD per feature per day",
        example=50.0,
    ),
    "TimeoutConfig.connect_s": D("to open the connection"),
    "TimeoutConfig.read_s": D("between bytes of the answer (the first one included)"),
    "TimeoutConfig.total_s": D(
        "for the whole logical request, retries and waits included: no wait or attempt goes past it"
    ),
    "AppConfig.app": D(
        "your function as module:function; called once per logical request",
        example="myapp.llm:answer",
    ),
    "AppConfig.path": D("folder put first on sys.path, relative to the scenario file"),
    "AppConfig.description": D("one line shown in reports", example="our production client"),
    "AppConfig.fallback": D(
        "models the app may call besides the workload's (checked against "
        "the catalogue, counted by the pre-flight)",
        example=["gpt-4o-mini"],
    ),
    "AppConfig.stream": D("what each request asks for; the app decides", example=True),
    "AppConfig.api_key": D("the key the app is given for the mock"),
    "AppConfig.prompt_layout": D("this app's own prompt layout", example="plain"),
    # ------------------------------------------------------------------ objective, sweep
    "ObjectiveConfig.rank_by": D(
        "metric names, in order: the first decides unless the leaders tie within noise",
        example=["success_rate", "p95_latency_ms"],
    ),
    "ObjectiveConfig.floor": D(
        "metric -> expression a strategy must meet to be ranked",
        example={"success_rate": ">= 0.95"},
    ),
    "SweepConfig.vary": D(
        "a dotted path into this file -> the values it takes",
        example={"strategies.jitter.retry.base_s": [0.25, 0.5, 1, 2]},
    ),
    "SweepConfig.seeds": D("seeds per grid point (the spread)", "seeds", example=5),
    "SweepConfig.reference": D(
        "a published result the sweep's ordering is held to",
        example={
            "source": "a blog post",
            "strategies": {"a": {"attempts": 1}, "b": {"attempts": 2}},
        },
    ),
    "SweepReference.source": D("where the numbers come from", example="Brooker (2015)"),
    "SweepReference.at": D(
        "the grid point they were measured at: path -> value", example={"workload.arrivals.n": 100}
    ),
    "SweepReference.strategies": D(
        "strategy -> metric -> the published number",
        example={"no_backoff": {"attempts": 2300}, "full_jitter": {"attempts": 1100}},
    ),
}
