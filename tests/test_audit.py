"""The audit's judging: pure functions over journal entries, no I/O (the CLI at the end)."""

from __future__ import annotations

import json
import random
from pathlib import Path

import msgspec
import pytest

from mock_provider.journal import RESET_PATH, JournalEntry, write_entry
from simulator.audit.findings import AuditLimits, audit
from simulator.audit.grouping import group_requests
from simulator.cli import main

RTT = 0.04  # a refusal's network round trip, scenario seconds


def entry(
    start: float,
    status: int = 200,
    *,
    dur: float = RTT,
    prompt: str = "p0",
    key: str = "sk-...abcd",
    model: str = "gpt-4o-mini",
    retry_after: float | None = None,
    count: str | None = None,
    max_tokens: int | None = 256,
    stream: bool = False,
    fault: str | None = None,
    disconnected: bool = False,
) -> JournalEntry:
    return JournalEntry(
        t=start + dur, path="/v1/chat/completions", status=status, model=model, key=key,
        start_t=start, retry_after_s=retry_after, retry_count=count, prompt=prompt,
        max_tokens=max_tokens, stream=stream, fault=fault, disconnected=disconnected,
    )  # fmt: skip


def status_of(result, finding: str) -> str:  # type: ignore[no-untyped-def]
    return next(f.status for f in result.findings if f.id == finding)


def detail_of(result, finding: str) -> str:  # type: ignore[no-untyped-def]
    return next(f.detail for f in result.findings if f.id == finding)


def test_forty_identical_one_shot_requests_are_forty_requests_and_no_finding() -> None:
    # The case: one body, one key, sent 40 times at once; 29 were refused with a
    # Retry-After and none retried. Another tool called this a retry storm.
    rng = random.Random(1)
    entries = [
        entry(rng.uniform(0, 0.02), 429 if i < 29 else 200, retry_after=2.0 if i < 29 else None)
        for i in range(40)
    ]
    result = audit(entries)
    assert result.requests == 40 and result.attempts == 40
    assert result.passed, [f for f in result.failures]
    assert status_of(result, "retry_after") == "not shown"
    assert status_of(result, "jitter") == "not shown"


def test_the_sdk_retry_header_chains_attempts_and_a_wrapper_retry_is_seen_too() -> None:
    chained = [entry(0.0, 429, retry_after=0.5, count="0"), entry(0.6, 429, count="1"),
               entry(1.7, 200, count="2")]  # fmt: skip
    assert [len(r.attempts) for r in group_requests(chained)] == [3]
    # Two SDK calls of the same prompt in flight at once: each retry joins its own chain.
    two = [entry(0.0, 503, count="0"), entry(0.01, 503, count="0"),
           entry(0.5, 200, count="1"), entry(0.6, 200, count="1")]  # fmt: skip
    assert [len(r.attempts) for r in group_requests(two)] == [2, 2]
    # LangChain's with_retry around an SDK with max_retries=0: each retry is a new SDK call,
    # whose header says 0 again; it follows a 400 the SDK handed back, so it is a retry.
    wrapper = [entry(0.0, 400, count="0"), entry(1.2, 400, count="0"), entry(3.5, 400, count="0")]
    assert [len(r.attempts) for r in group_requests(wrapper)] == [3]
    # A successful call is never continued: the same prompt again is a new request.
    again = [entry(0.0, 200, count="0"), entry(0.5, 200, count="0")]
    assert len(group_requests(again)) == 2


def test_a_reset_starts_a_new_run() -> None:
    reset = JournalEntry(t=0.0, path=RESET_PATH, status=200, time_scale=1.0)
    entries = [entry(0.0, 503), reset, entry(0.0 + 0.1, 200)]
    groups = group_requests(entries)
    assert [(g.run, len(g.attempts)) for g in groups] == [(0, 1), (1, 1)]


def naive(n: int = 10) -> list[JournalEntry]:
    """Each request: a 429 with Retry-After 1 s, then immediate retries until a 200."""
    out = []
    for i in range(n):
        t, prompt = i * 0.001, f"p{i}"
        for _ in range(3):
            out.append(entry(t, 429, prompt=prompt, retry_after=1.0))
            t += RTT + 0.001
        out.append(entry(t, 200, prompt=prompt))
    return out


def test_the_naive_loop_fails_on_jitter_and_retry_after() -> None:
    result = audit(naive())
    assert result.requests == 10 and result.attempts == 40
    assert status_of(result, "retry_after") == "fail"
    assert "30 of 30 retries were sent before the Retry-After" in detail_of(result, "retry_after")
    assert status_of(result, "jitter") == "fail"
    assert "lockstep" not in detail_of(result, "jitter")
    assert not result.passed
    retry = next(c for c in result.checklist if c.id == "retry")
    assert retry.status == "fail"


def backoff(delay_of, n: int = 20) -> list[JournalEntry]:  # type: ignore[no-untyped-def]
    """Each request: two 429s (no Retry-After), then a 200; waits from ``delay_of(retry)``."""
    out = []
    for i in range(n):
        t, prompt = i * 0.01, f"p{i}"
        for k in (1, 2):
            out.append(entry(t, 429, prompt=prompt))
            t += RTT + delay_of(k)
        out.append(entry(t, 200, prompt=prompt))
    return out


def test_full_jitter_passes_and_backoff_without_jitter_fails() -> None:
    rng = random.Random(3)
    jittered = audit(backoff(lambda k: rng.uniform(0, 2.0**k)))
    assert status_of(jittered, "jitter") == "pass"
    assert jittered.passed
    fixed = audit(backoff(lambda k: 2.0 ** (k - 1)))
    assert status_of(fixed, "jitter") == "fail"
    assert "backoff without jitter" in detail_of(fixed, "jitter")


def test_coming_back_exactly_at_retry_after_is_lockstep() -> None:
    out = []
    for i in range(8):
        ra = 1.0 + i * 0.3  # each request was told a different wait...
        out += [entry(i * 0.01, 429, prompt=f"p{i}", retry_after=ra),
                entry(i * 0.01 + RTT + ra, 200, prompt=f"p{i}")]  # fmt: skip
    result = audit(out)  # ...and each waited exactly that
    assert status_of(result, "retry_after") == "pass"
    assert status_of(result, "jitter") == "fail"
    assert "lockstep" in detail_of(result, "jitter")
    rng = random.Random(5)
    spread = [
        entry(e.start_t + (rng.uniform(0, 1.0) if e.status == 200 else 0.0), e.status,  # type: ignore[operator]
              prompt=e.prompt or "", retry_after=e.retry_after_s)
        for e in out
    ]  # fmt: skip
    assert status_of(audit(spread), "jitter") == "pass"


def test_retrying_a_400_fails_and_not_retrying_it_passes() -> None:
    retried = [entry(0.0, 400, prompt="bad"), entry(0.1, 400, prompt="bad"),
               entry(0.2, 400, prompt="bad")]  # fmt: skip
    result = audit(retried)
    assert status_of(result, "client_errors") == "fail"
    assert "after a 400" in detail_of(result, "client_errors")
    assert status_of(audit([entry(0.0, 400, prompt="bad")]), "client_errors") == "pass"
    assert status_of(audit([entry(0.0)]), "client_errors") == "not shown"


def outage(fall_back: bool, tail_s: float = 2.0) -> list[JournalEntry]:
    """Five requests struck by a 5xx streak on gpt-4o-mini from 0 to about 1 s."""
    out = []
    for i in range(5):
        t, prompt = i * 0.2, f"p{i}"
        out.append(entry(t, 503, prompt=prompt))
        model = "gpt-4o" if fall_back else "gpt-4o-mini"
        out.append(entry(1.0 + RTT + tail_s + i * 0.01, 200, prompt=prompt, model=model))
    return out


def uncapped_backoff() -> list[JournalEntry]:
    """Five requests struck by the outage of ``outage()``, then retried (429s) 2, 4, ... 64 s
    apart, with no cap: the last retry about two minutes after the outage ended."""
    out = []
    for i in range(5):
        t, prompt = i * 0.2, f"p{i}"
        out.append(entry(t, 503, prompt=prompt))
        for k in range(1, 7):
            t += RTT + 2.0**k
            out.append(entry(t, 429 if k < 6 else 200, prompt=prompt))
    return out


def test_fallback_and_the_tail_after_an_outage() -> None:
    without = audit(outage(fall_back=False))
    assert status_of(without, "fallback") == "fail"
    assert "none of the 5 requests" in detail_of(without, "fallback")
    assert status_of(audit(outage(fall_back=True)), "fallback") == "pass"
    assert status_of(without, "after_outage") == "pass"
    late = audit(uncapped_backoff())
    assert status_of(late, "after_outage") == "fail"
    assert late.requests == 5  # a growing backoff's long gaps are still one request's
    calm = audit([entry(i * 0.1, prompt=f"p{i}") for i in range(5)])
    assert status_of(calm, "fallback") == "not shown"
    assert status_of(calm, "after_outage") == "not shown"
    assert next(c for c in calm.checklist if c.id == "fallback").status == "not shown"
    assert calm.passed


def test_hangs_without_a_timeout_and_cut_streams_accepted() -> None:
    waited = audit([entry(0.0, 200, dur=30.0, fault="hang")])
    assert status_of(waited, "timeout") == "fail"
    gave_up = audit([entry(0.0, 499, dur=10.0, fault="hang", disconnected=True),
                     entry(10.1, 200)])  # fmt: skip
    assert status_of(gave_up, "timeout") == "pass"
    accepted = audit([entry(0.0, 200, stream=True, fault="cut_stream")])
    assert status_of(accepted, "truncated_streams") == "fail"
    retried = audit([entry(0.0, 200, stream=True, fault="cut_stream"),
                     entry(0.5, 200, stream=True)])  # fmt: skip
    assert status_of(retried, "truncated_streams") == "pass"
    assert status_of(retried, "streaming") == "pass"


def test_token_limits_fail_and_streaming_off_only_warns() -> None:
    result = audit([entry(0.0, max_tokens=None, prompt="a"), entry(0.0, prompt="b")])
    assert status_of(result, "token_limits") == "fail"
    assert status_of(result, "streaming") == "warn"
    assert not result.passed
    ok = audit([entry(0.0, prompt="a"), entry(0.0, prompt="b")])
    assert status_of(ok, "streaming") == "warn" and ok.passed


def test_amplification_is_judged_only_against_a_limit() -> None:
    entries = naive(4)
    assert status_of(audit(entries), "amplification") == "info"
    judged = audit(entries, AuditLimits(max_amplification=2.0))
    assert status_of(judged, "amplification") == "fail"
    assert "4.00x" in next(f.value for f in judged.findings if f.id == "amplification")


def write_journal(path: Path, entries: list[JournalEntry]) -> None:
    with open(path, "w") as fh:
        for e in entries:
            write_entry(fh, e)


def test_cli_exit_codes_and_outputs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "naive.jsonl"
    write_journal(bad, naive())
    assert main(["audit", str(bad), "--out", str(tmp_path / "a")]) == 1
    out = capsys.readouterr().out
    assert "FAIL Retry-After honoured" in out
    data = json.loads((tmp_path / "a" / "audit.json").read_text())
    assert data["passed"] is False and data["requests"] == 10
    assert "Retry-After honoured" in (tmp_path / "a" / "audit.html").read_text()
    good = tmp_path / "good.jsonl"
    rng = random.Random(3)
    write_journal(good, backoff(lambda k: rng.uniform(0, 2.0**k)))
    assert main(["audit", str(good)]) == 0
    assert main(["audit", str(tmp_path / "missing.jsonl")]) == 2
    garbage = tmp_path / "garbage.jsonl"
    garbage.write_text("hello\nworld\n")
    assert main(["audit", str(garbage)]) == 2
    limits = tmp_path / "limits.yaml"
    limits.write_text("max_amplification: 1.5\n")
    assert main(["audit", str(good), "--thresholds", str(limits)]) == 1
    limits.write_text("max_amplifcation: 1.5\n")
    assert main(["audit", str(good), "--thresholds", str(limits)]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "max_amplifcation: unknown limit" in err


@pytest.mark.parametrize(
    ("name", "content", "why"),
    [
        ("missing.jsonl", None, "no such file"),
        ("empty.jsonl", b"", "the file is empty"),
        ("garbage.jsonl", b"hello\nworld\n", "no line is a journal entry"),
        ("binary.jsonl", bytes(range(256)) + b"\n", "no line is a journal entry"),
        ("resets.jsonl", b'{"t":0.0,"path":"/_stampede/reset","status":200}\n', "none a chat"),
    ],
)
def test_a_journal_with_no_request_exits_2_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, content: bytes | None,
    why: str,
) -> None:  # fmt: skip
    # A mistyped --request-log, or a client that never reached the mock: not a green audit.
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    assert main(["audit", str(path)]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "no requests in the journal" in err and why in err, err
    # The file first, then what is wrong with it, then what that means.
    said = f"{path}: {why}: no requests" if content is None else f"{path}: no requests"
    assert said in err, err


def test_three_different_bad_requests_are_three_requests_not_retries() -> None:
    # Every 400 now carries the fingerprint of its body: different bodies are different.
    bad = [entry(i * 0.5, 400, prompt=f"raw:{i}", count="0") for i in range(3)]
    result = audit(bad)
    assert (result.requests, result.attempts) == (3, 3)
    assert status_of(result, "client_errors") == "pass"


def test_thirty_identical_count_0_one_shots_in_a_row_are_thirty_requests() -> None:
    # The case: one body, one key, sent thirty times one after another through the
    # SDK with its retries off; each refused with a Retry-After the next did not wait for.
    shots = [entry(i * 0.1, 429, retry_after=2.0, count="0") for i in range(30)]
    result = audit(shots)
    assert (result.requests, result.attempts) == (30, 30)
    assert status_of(result, "retry_after") == "not shown" and result.passed
    # The same journal without the header is what a plain loop's retries look like.
    plain = audit([msgspec.structs.replace(e, retry_count=None) for e in shots])
    assert plain.requests == 1 and status_of(plain, "retry_after") == "fail"


def test_a_tag_joins_a_wrappers_count_0_retries_of_a_429() -> None:
    # A stampede app strategy: tenacity around an SDK with max_retries=0. Without the tag,
    # the journal cannot tell these from one-shots; with it, they are one request.
    tagged = [
        msgspec.structs.replace(entry(t, 429, retry_after=1.0, count="0"), tag="#000000042")
        for t in (0.0, 1.5, 4.0)
    ]
    assert [len(r.attempts) for r in group_requests(tagged)] == [3]
    untagged = [msgspec.structs.replace(e, tag=None) for e in tagged]
    assert [len(r.attempts) for r in group_requests(untagged)] == [1, 1, 1]
