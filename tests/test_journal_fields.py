"""What the request journal records about each answer: enough to group and attribute it.

A refusal carries the prompt's fingerprint, the request tag and max_tokens (a 429 is what a
retry follows, so the audit must be able to tell which prompt it refused); an answer carries
its cache reads and finish reason; a body the API refuses carries the key and the tag.
"""

from __future__ import annotations

import httpx

from mock_provider.config import DistConfig, LatencyConfig, ModelConfig, ProviderConfig
from mock_provider.journal import fingerprint, read_journal, request_tag
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
