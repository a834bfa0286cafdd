"""What the request journal records about each answer: enough to group and attribute it.

A refusal carries the prompt's fingerprint, the request tag and max_tokens (a 429 is what a
retry follows, so the audit must be able to tell which prompt it refused); an answer carries
its cache reads and finish reason; a body the API refuses carries the key and the tag.
"""

from __future__ import annotations

import httpx

from mock_provider.config import DistConfig, LatencyConfig, ModelConfig, ProviderConfig
from mock_provider.journal import (
    RAW_PREFIX,
    body_fingerprint,
    fingerprint,
    read_journal,
    request_tag,
)
from tests.conftest import running_mock

ZERO = DistConfig(median=0)
INSTANT = LatencyConfig(
    network_ms=ZERO, prefill_ms_per_token=ZERO, first_token_ms=ZERO, decode_ms_per_token=ZERO
)
TAGGED = [
    {"role": "system", "content": "You are terse."},
    {"role": "user", "content": "#000000042 Say something."},
]


def test_request_tag_is_the_last_one_and_exactly_nine_digits() -> None:
    assert request_tag(b'{"content": "#000000007 then #000000042 ok"}') == "#000000042"
    assert request_tag("no tag #12345678 here, nor #1234567890") is None
    assert request_tag(None) is None


def test_entries_carry_prompt_tag_tokens_and_key(tmp_path) -> None:
    cfg = ProviderConfig(models={"gpt-4o-mini": ModelConfig(latency=INSTANT, rpm=1)})
    log = tmp_path / "requests.jsonl"
    with running_mock(cfg, str(log)) as m:
        url = m.base_url + "/chat/completions"
        auth = {"authorization": "Bearer sk-journal-key"}
        body = {"model": "gpt-4o-mini", "messages": TAGGED, "max_tokens": 20}
        ok = httpx.post(url, json=body, headers=auth)
        limited = httpx.post(url, json={**body, "stream": True}, headers=auth)
        bad = httpx.post(url, json={**body, "max_tokens": "many"}, headers=auth)
    assert (ok.status_code, limited.status_code, bad.status_code) == (200, 429, 400)
    served, refused, refused_body = list(read_journal(log))
    assert served.status == 200 and served.tag == "#000000042"
    assert served.finish_reason in ("end", "max_tokens") and served.cached_tokens == 0
    assert served.prompt == fingerprint(TAGGED)
    # the 429 names the same prompt, so a retry of it can be told from another request
    assert refused.status == 429 and refused.error == "rate_limit"
    assert refused.prompt == served.prompt and refused.tag == "#000000042"
    assert refused.max_tokens == 20 and refused.stream is True
    assert refused.key == served.key == "sk-...-key"
    assert refused_body.status == 400 and refused_body.key == "sk-...-key"
    assert refused_body.tag == "#000000042"


def test_every_line_carries_a_fingerprint_refusals_included(tmp_path) -> None:
    """400, 401, 404 (model and path), 413, 429 and a fault: each line has a fingerprint, the
    same for identical requests and different for different ones; a 401 whose body parses
    has the fingerprint the same messages get when answered."""
    cfg = ProviderConfig(
        models={"gpt-4o-mini": ModelConfig(latency=INSTANT, rpm=1)},
        api_keys=["sk-journal-key"], max_body_bytes=2000,
    )  # fmt: skip
    log = tmp_path / "requests.jsonl"
    auth = {"authorization": "Bearer sk-journal-key"}
    body = {"model": "gpt-4o-mini", "messages": TAGGED, "max_tokens": 20}
    other = {**body, "messages": [{"role": "user", "content": "Something else."}]}
    with running_mock(cfg, str(log)) as m:
        url = m.base_url + "/chat/completions"
        sent = [
            httpx.post(url, json=body, headers={"authorization": "Bearer sk-wrong-key"}),
            httpx.post(url, content=b"{not json", headers=auth),
            httpx.post(url, content=b"{not json", headers=auth),
            httpx.post(url, content=b"{not json either", headers=auth),
            httpx.post(url, json={**body, "max_tokens": "many"}, headers=auth),
            httpx.post(url, json={**body, "model": "no-such-model"}, headers=auth),
            httpx.post(m.base_url + "/chat/completion", json=body, headers=auth),
            httpx.post(url, json={**body, "pad": "x" * 3000}, headers=auth),
            httpx.post(url, json=body, headers=auth),
            httpx.post(url, json=other, headers={**auth, "x-stampede-fault": "error;status=503"}),
            httpx.post(url, json=body, headers=auth),
            httpx.post(url, json=other, headers=auth),
        ]
    statuses = [r.status_code for r in sent]
    assert statuses == [401, 400, 400, 400, 400, 404, 404, 413, 200, 503, 429, 429]
    lines = list(read_journal(log))
    assert [e.status for e in lines] == statuses
    assert all(e.prompt for e in lines), lines
    (unauth, bad1, bad2, bad3, bad_field, no_model, no_path, too_big, ok, fault, limited,
     limited_other) = lines  # fmt: skip
    assert unauth.prompt == ok.prompt == limited.prompt == no_model.prompt == fingerprint(TAGGED)
    assert unauth.model == "gpt-4o-mini"
    assert bad1.prompt == bad2.prompt and bad1.prompt.startswith(RAW_PREFIX)
    assert len({bad1.prompt, bad3.prompt, bad_field.prompt, too_big.prompt}) == 4
    assert no_path.prompt.startswith(RAW_PREFIX) and no_path.path == "/v1/chat/completion"
    assert fault.prompt == limited_other.prompt != ok.prompt and fault.fault == "error"
    assert too_big.error == "request_too_large" and too_big.key == "sk-...-key"


def test_a_bad_body_keeps_its_fingerprint_on_another_model() -> None:
    # A router falling back to another model sends the same bad body again: the same request.
    bad = b'{"model": "gpt-4o-mini", "messages": [], "max_tokens": 8}'
    assert body_fingerprint(bad) == body_fingerprint(bad.replace(b"gpt-4o-mini", b"gpt-4o"))
    assert body_fingerprint(bad) != body_fingerprint(bad.replace(b"8}", b"9}"))
    assert body_fingerprint(b"{not json") != body_fingerprint(b"{not json either")
    assert body_fingerprint(None) == body_fingerprint(b"")
    deep = b"[" * 100_000 + b"]" * 100_000  # too deep to decode: its bytes are fingerprinted
    assert body_fingerprint(deep).startswith(RAW_PREFIX)


def test_unreadable_bodies_keep_fingerprints_of_their_own(tmp_path) -> None:
    """A body that does not decode is fingerprinted by the bytes that came, on every route:
    two different broken bodies are two requests, not one retried."""
    cfg = ProviderConfig(models={"gpt-4o-mini": ModelConfig(latency=INSTANT)})
    log = tmp_path / "requests.jsonl"
    broken = [b"\x1f\x8b not gzip at all", b"\x1f\x8b something else entirely"]
    with running_mock(cfg, str(log)) as m, httpx.Client(base_url=m.base_url) as http:
        for route in ("/chat/completions", "/embeddings"):
            for body in broken:
                r = http.post(route, content=body, headers={
                    "authorization": "Bearer sk-test", "content-type": "application/json",
                    "content-encoding": "gzip"})  # fmt: skip
                assert r.status_code == 400
    entries = [e for e in read_journal(log) if e.status == 400]
    assert len(entries) == 4
    prints = [e.prompt for e in entries]
    assert all(p is not None and p.startswith(RAW_PREFIX) for p in prints)
    assert prints[0] != prints[1] and prints[2] != prints[3]  # different bytes, different prints
    assert prints[0] == prints[2] and prints[1] == prints[3]  # the same bytes on either route
    assert prints[0] != body_fingerprint(b"")  # not the empty body's
