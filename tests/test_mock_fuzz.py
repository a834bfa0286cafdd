"""A hypothesis fuzz over every route of the mock: bodies, headers and content codings never get
a 5xx, and the keep-alive connection they came on keeps serving.

One mock is served in-process for the whole run (a background loop, as
``tests/conftest.running_mock``), and one keep-alive ``http.client`` connection sends every
example, so a response that breaks the connection fails the example that sent it. Examples
are bounded (``derandomize``: the same examples every run) so the file runs in well under a
minute. The hand-picked cases with the exact 4xx each gets are the table tests
(``tests/test_*_bad_inputs.py``, ``tests/test_mock_transport.py``).
"""

from __future__ import annotations

import gzip
import http.client
import json
import urllib.parse
import zlib
from collections.abc import Iterator
from typing import Any

import brotli
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mock_provider.config import DistConfig, LatencyConfig, ModelConfig, ProviderConfig
from mock_provider.model.faults import FaultHeaderError, parse_fault_header
from tests.conftest import running_mock

ZERO = DistConfig(median=0)
INSTANT = LatencyConfig(
    network_ms=ZERO, prefill_ms_per_token=ZERO, first_token_ms=ZERO, decode_ms_per_token=ZERO
)
CHAT, EMBED, CLAUDE = "gpt-4o-mini", "text-embedding-3-small", "claude-haiku-4-5"
POST_ROUTES = (
    "/v1/chat/completions", "/v1/responses", "/v1/embeddings", "/v1/messages",
    "/v1/messages/count_tokens", "/_stampede/faults", "/_stampede/reset",
)  # fmt: skip
EXAMPLES = 400


@pytest.fixture(scope="module")
def mock() -> Iterator[Any]:
    cfg = ProviderConfig(
        models={m: ModelConfig(latency=INSTANT) for m in (CHAT, EMBED, CLAUDE)},
        output_tokens=DistConfig(median=5, spread=0),
        max_body_bytes=64 * 1024,  # the size limit reached cheaply (the real ones: 32, 50 MB)
        time_scale=1000.0,  # any refusal's round trip is a millisecond of wall time
    )
    with running_mock(cfg) as m:
        yield m


class Wire:
    """One keep-alive connection; a request it cannot complete fails the example."""

    def __init__(self, port: int) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)

    def send(self, method: str, path: str, body: bytes | None, headers: dict[str, str]) -> Any:
        self.conn.request(method, path, body=body, headers=headers)
        resp = self.conn.getresponse()
        data = resp.read()
        return resp.status, data, resp

    def tidy(self) -> None:
        """Undo what an admin example may have changed: fault rules, the clock."""
        for method, path, body in (("DELETE", "/_stampede/faults", None),
                                   ("POST", "/_stampede/reset",
                                    b'{"epoch": 0, "time_scale": 1000}')):  # fmt: skip
            status, _, _ = self.send(method, path, body, {"content-type": "application/json"})
            assert status == 200


@pytest.fixture(scope="module")
def wire(mock: Any) -> Iterator[Wire]:
    w = Wire(mock.port)
    yield w
    w.conn.close()


# --------------------------------------------------------------------------- strategies

_text = st.text(max_size=16)
_leaf = st.one_of(st.none(), st.booleans(), st.integers(-(10**12), 10**12),
                  st.floats(allow_nan=False, allow_infinity=False), _text)  # fmt: skip
_json = st.recursive(
    _leaf,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_text, inner, max_size=4),
    max_leaves=16,
)
_content = _text | st.lists(
    st.fixed_dictionaries(
        {"type": st.sampled_from(["text", "image", "tool_result", "x"])},
        optional={"text": _text | _json},
    ),
    max_size=3,
)
_messages = st.lists(
    st.fixed_dictionaries(
        {"role": st.sampled_from(["user", "assistant", "system", "tool", "developer", "x"]),
         "content": _content},
        optional={"tool_call_id": st.sampled_from(["c1", "c2"]),
                  "tool_calls": st.lists(st.fixed_dictionaries(
                      {"id": st.sampled_from(["c1", "c2"]), "type": st.just("function"),
                       "function": st.fixed_dictionaries(
                           {"name": st.just("f"), "arguments": st.just("{}")})}),
                      max_size=2)},
    ),
    max_size=4,
)  # fmt: skip
_schema = st.fixed_dictionaries(
    {"type": st.sampled_from(["object", "string", "array", "x"])},
    optional={"properties": st.dictionaries(_text, st.fixed_dictionaries(
        {"type": st.sampled_from(["string", "integer", "x"])}), max_size=2),
        "required": st.lists(_text, max_size=2), "additionalProperties": st.booleans()},
)  # fmt: skip
_tools = st.lists(st.fixed_dictionaries(
    {"type": st.sampled_from(["function", "x"]),
     "name": st.sampled_from(["f", "", "a b"]),
     "function": st.fixed_dictionaries({"name": st.sampled_from(["f", "g"])},
                                       optional={"parameters": _schema})},
    optional={"input_schema": _schema, "parameters": _schema}),
    max_size=2)  # fmt: skip
_common = {
    "stream": st.booleans(), "temperature": st.floats(-1, 3), "tools": _tools,
    "tool_choice": st.sampled_from(["auto", "required", "none", "x"])
    | st.fixed_dictionaries({"type": st.sampled_from(["any", "tool", "function", "auto"]),
                             "name": st.sampled_from(["f", "g"])}),
}  # fmt: skip
_near_valid = {
    "/v1/chat/completions": st.fixed_dictionaries(
        {"model": st.sampled_from([CHAT, CLAUDE, "x"]), "messages": _messages},
        optional={**_common, "max_tokens": st.integers(-1, 20_000),
                  "max_completion_tokens": st.integers(-1, 20_000),
                  "stream_options": st.fixed_dictionaries({"include_usage": st.booleans()}),
                  "n": st.integers(0, 4), "stop": _text | st.lists(_text, max_size=6),
                  "response_format": st.fixed_dictionaries(
                      {"type": st.sampled_from(["json_object", "json_schema", "text", "x"])},
                      optional={"json_schema": st.fixed_dictionaries(
                          {"name": st.just("Out"), "schema": _schema},
                          optional={"strict": st.booleans()})})}),
    "/v1/responses": st.fixed_dictionaries(
        {"model": st.sampled_from([CHAT, CLAUDE, "x"]), "input": _text | _messages},
        optional={**_common, "instructions": _text, "max_output_tokens": st.integers(-1, 20_000),
                  "previous_response_id": _text, "store": st.booleans(),
                  "text": st.fixed_dictionaries({"format": st.fixed_dictionaries(
                      {"type": st.sampled_from(["json_schema", "text", "json_object", "x"])},
                      optional={"name": st.just("Out"), "schema": _schema,
                                "strict": st.booleans()})})}),
    "/v1/embeddings": st.fixed_dictionaries(
        {"model": st.sampled_from([EMBED, CHAT, "x"]),
         "input": _text | st.lists(_text, max_size=3) | st.lists(st.integers(-2, 10**6),
                                                                 max_size=3)},
        optional={"dimensions": st.integers(-2, 5000),
                  "encoding_format": st.sampled_from(["float", "base64", "x"])}),
    "/v1/messages": st.fixed_dictionaries(
        {"model": st.sampled_from([CLAUDE, CHAT, "x"]), "messages": _messages,
         "max_tokens": st.integers(-1, 20_000)},
        optional={**_common, "system": _text | _content, "stop_sequences": st.lists(_text),
                  "thinking": st.fixed_dictionaries(
                      {"type": st.sampled_from(["enabled", "disabled", "x"]),
                       "budget_tokens": st.integers(-1, 30_000)}),
                  "top_k": st.integers(-1, 10), "metadata": _json}),
    "/v1/messages/count_tokens": st.fixed_dictionaries(
        {"model": st.sampled_from([CLAUDE, CHAT, "x"]), "messages": _messages},
        optional={"system": _text | _content, "tools": _tools}),
    "/_stampede/faults": st.fixed_dictionaries(
        {"kind": st.sampled_from(["error", "outage", "slow", "hang", "reset", "x"])},
        optional={"status": st.integers(100, 700), "times": st.integers(-1, 3),
                  "probability": st.floats(-1, 2), "factor": st.floats(-1, 5),
                  "start": st.floats(-10, 10), "end": st.floats(-10, 10) | st.none(),
                  "model": _text}),
    "/_stampede/reset": st.fixed_dictionaries(
        {}, optional={"epoch": _leaf | st.sampled_from([1e308, -1e308, "nan", "inf"]),
                      "time_scale": _leaf | st.sampled_from([1e-300, 1e300, "inf", -1])}),
}  # fmt: skip


def _nested(depth: int) -> bytes:
    return b'{"a":' * depth + b"1" + b"}" * depth


def _deep_array(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


_bodies = st.one_of(
    _json.map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=300),
    st.integers(1, 20_000).map(_deep_array),
    st.integers(1, 5_000).map(_nested),
    st.integers(60_000, 120_000).map(lambda n: b'{"model": "' + b"x" * n + b'"}'),  # too large
)
_codings = st.sampled_from(
    [None, None, "gzip", "gzip", "deflate", "br", "identity", "", "garbage", "gzip, br",
     "x-gzip", "compress", "zstd"]
)  # fmt: skip
_compress = st.sampled_from(["as-named", "as-named", "not-at-all", "cut-short"])
_header_text = st.text(
    st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40
)  # printable ASCII: what http.client lets through as a header value
_fault_values = st.one_of(
    _header_text,
    st.sampled_from(["error;status=abc", "error;status=200", "error;status=99999", "slow;factor=-1",
                     "cut_stream;after_tokens=x", "error;model=x", "hang;max_hang=-3",
                     "error;;;", ";", "error;status", "stream_error;status=404", "explode"]),
)  # fmt: skip


def _encoded(raw: bytes, coding: str | None, how: str) -> bytes:
    if coding is None or how == "not-at-all":
        return raw
    first = coding.split(",")[0].strip()
    compressed = {"gzip": gzip.compress, "x-gzip": gzip.compress, "deflate": zlib.compress,
                  "br": brotli.compress}.get(first, lambda b: b)(raw)  # fmt: skip
    return compressed[: max(1, len(compressed) // 2)] if how == "cut-short" else compressed


@st.composite
def post_requests(draw: st.DrawFn) -> tuple[str, bytes, dict[str, str]]:
    path = draw(st.sampled_from(POST_ROUTES))
    body = draw(_near_valid[path].map(lambda v: json.dumps(v).encode()) | _bodies)
    coding = draw(_codings)
    data = _encoded(body, coding, draw(_compress))
    headers: dict[str, str] = {}
    ctype = draw(st.sampled_from(["application/json", "application/json", "text/plain", None,
                                  "multipart/form-data; boundary=x", "garbage/;;;"]))  # fmt: skip
    if ctype:
        headers["content-type"] = ctype
    if coding is not None:
        headers["content-encoding"] = coding
    auth = draw(st.sampled_from(["bearer", "x-api-key", "both", "none", "junk"]))
    if auth in ("bearer", "both"):
        headers["authorization"] = "Bearer sk-test"
    if auth in ("x-api-key", "both"):
        headers["x-api-key"] = "sk-test"
    if auth == "junk":
        headers[draw(st.sampled_from(["authorization", "x-api-key"]))] = draw(_header_text)
    version = draw(st.sampled_from(["2023-06-01", "2023-06-01", None, "junk"]))
    if version == "junk":
        headers["anthropic-version"] = draw(_header_text)
    elif version is not None:
        headers["anthropic-version"] = version
    fault = draw(st.none() | _fault_values)
    if fault is not None and not _parses(fault):  # a fault that parses strikes by design
        headers["x-stampede-fault"] = fault
    return path, data, headers


def _parses(value: str) -> bool:
    try:
        parse_fault_header(value)
    except FaultHeaderError:
        return False
    return True


_query = st.dictionaries(
    st.sampled_from(["limit", "before_id", "after_id", "key", "model", "status", "since", "x"]),
    _header_text,
    max_size=3,
)
_get_paths = st.one_of(
    st.sampled_from(["/v1/models", "/_stampede/faults", "/_stampede/requests", "/metrics",
                     "/_stampede/health", "/v1/nope", "/v1/chat/completions"]),
    _header_text.map(lambda t: "/v1/models/" + urllib.parse.quote(t, safe="")),
)  # fmt: skip


def _check(status: int, data: bytes, resp: Any, path: str) -> None:
    assert status < 500, (status, data[:300])
    if status >= 400 and path.startswith("/v1/") and status != 413:
        json.loads(data)  # the provider's own error body, never a traceback page
    assert resp.getheader("connection", "").lower() != "close" or status == 413


# --------------------------------------------------------------------------- the fuzz


@settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                 HealthCheck.function_scoped_fixture])  # fmt: skip
@given(request=post_requests())
def test_no_post_body_header_or_coding_gets_a_5xx(wire: Wire, request: Any) -> None:
    path, data, headers = request
    status, body, resp = wire.send("POST", path, data, headers)
    _check(status, body, resp, path)
    if path.startswith("/_stampede/"):
        wire.tidy()


@settings(max_examples=120, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(path=_get_paths, query=_query,
       version=st.sampled_from([None, "2023-06-01"]) | _header_text,
       auth=st.sampled_from(["Bearer sk-test", ""]) | _header_text,
       method=st.sampled_from(["GET", "GET", "DELETE", "PUT"]))  # fmt: skip
def test_no_get_path_query_or_header_gets_a_5xx(
    wire: Wire, path: str, query: dict[str, str], version: str | None, auth: str, method: str
) -> None:
    headers = {"authorization": auth, "x-api-key": "sk-test"}
    if version is not None:
        headers["anthropic-version"] = version
    if method == "DELETE" and path == "/_stampede/faults":
        path += "/" + urllib.parse.quote(next(iter(query.values()), "f1"), safe="")
    url = path + ("?" + urllib.parse.urlencode(query) if query else "")
    status, body, resp = wire.send(method, url, None, headers)
    _check(status, body, resp, path)
