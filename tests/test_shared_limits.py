"""The Redis limiter follows the in-process bucket rule to the bit: the same sequence of
admissions and settles at the same scenario times gets the same decisions, Retry-Afters and
header views, even when two processes (two clients) take turns on one pair's buckets; and the
shared fault counts, clock and reset."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mock_provider.config import FaultWindowConfig
from mock_provider.model.faults import FaultSchedule, FaultTarget
from mock_provider.model.limits import LimitState, SplitLimits
from mock_provider.redis_store import RedisStore, parse_redis_url

from .redis_server import needs_redis, redis_server

pytestmark = needs_redis


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    with redis_server() as url:
        yield url


@pytest.fixture(scope="module")
def two_processes(redis_url: str) -> tuple[RedisStore, RedisStore]:
    """Two stores with their own connections: two mock processes on one Redis."""
    a, b = RedisStore.from_url(redis_url), RedisStore.from_url(redis_url)
    a.join(1.0)
    b.join(1.0)
    return a, b


@dataclass(frozen=True)
class Admit:
    dt: float
    process: int  # which store admits: 0 or 1
    need: int  # estimate (OpenAI) or input tokens (split)
    out: int  # split: max_tokens; OpenAI: unused
    done_now: bool  # settled at admission (an instant response)
    used: int  # actual output tokens


@dataclass(frozen=True)
class Settle:
    dt: float
    process: int
    pick: int  # which open ticket
    used: int


_dt = st.one_of(st.just(0.0), st.floats(0.0, 2.0), st.floats(0.0, 90.0))
_steps = st.lists(
    st.one_of(
        st.builds(Admit, _dt, st.integers(0, 1), st.integers(0, 3000), st.integers(1, 2000),
                  st.booleans(), st.integers(0, 2500)),
        st.builds(Settle, _dt, st.integers(0, 1), st.integers(0, 1000), st.integers(0, 2500)),
    ),
    min_size=1, max_size=60,
)  # fmt: skip
_settings = settings(max_examples=150, deadline=None,
                     suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip


@_settings
@given(
    rpm=st.integers(1, 600),
    tpm=st.integers(1, 20_000),
    most=st.one_of(st.none(), st.integers(1, 4)),
    steps=_steps,
)
def test_openai_buckets_in_redis_decide_as_in_process(
    two_processes: tuple[RedisStore, RedisStore],
    rpm: int,
    tpm: int,
    most: int | None,
    steps: list[Admit | Settle],
) -> None:
    key, now = uuid.uuid4().hex, 0.0
    local = LimitState(rpm, tpm, now, most)
    shared = [s.openai(key, "gpt-4o-mini", rpm, tpm, now, most) for s in two_processes]
    tickets: list[tuple[int, int]] = []  # (charged, input)
    for step in steps:
        now += step.dt
        if isinstance(step, Settle):
            if tickets:
                charged, _ = tickets.pop(step.pick % len(tickets))
                local.settle(charged, step.used, now)
                shared[step.process].settle(charged, step.used, now)
            continue
        actual = step.need + step.used if step.done_now else None
        want = local.admit(step.need, now, actual)
        got = shared[step.process].admit(step.need, now, actual)
        assert got == want  # the verdict, the limit named, the Retry-After, the headers' view
        if actual is None and not hasattr(want, "kind"):
            tickets.append((step.need, step.need))


@_settings
@given(
    caps=st.tuples(st.integers(1, 600), st.integers(1, 20_000), st.integers(1, 8000)),
    tpm=st.one_of(st.none(), st.integers(1, 20_000)),
    most=st.one_of(st.none(), st.integers(1, 4)),
    steps=_steps,
)
def test_split_buckets_in_redis_decide_as_in_process(
    two_processes: tuple[RedisStore, RedisStore],
    caps: tuple[int, int, int],
    tpm: int | None,
    most: int | None,
    steps: list[Admit | Settle],
) -> None:
    key, now = uuid.uuid4().hex, 0.0
    rpm, itpm, otpm = caps
    local = SplitLimits(rpm, itpm, otpm, tpm, now, most)
    shared = [s.anthropic(key, "claude", rpm, itpm, otpm, tpm, now, most) for s in two_processes]
    tickets: list[tuple[int, int]] = []
    for step in steps:
        now += step.dt
        if isinstance(step, Settle):
            if tickets:
                charged, inp = tickets.pop(step.pick % len(tickets))
                local.settle(charged, inp + step.used, now)
                shared[step.process].settle(charged, inp + step.used, now)
            continue
        actual = step.used if step.done_now else None
        want = local.admit(step.need, step.out, now, actual)
        got = shared[step.process].admit(step.need, step.out, now, actual)
        assert got == want
        if actual is None and not hasattr(want, "kind"):
            tickets.append((step.need + step.out, step.need))


def test_the_view_reads_what_another_process_charged(
    two_processes: tuple[RedisStore, RedisStore],
) -> None:
    a, b = two_processes
    key = uuid.uuid4().hex
    mine, theirs = a.openai(key, "m", 10, 1000, 0.0, None), b.openai(key, "m", 10, 1000, 0.0, None)
    theirs.admit(400, 0.0)
    view = mine.view(0.0)
    assert (view.requests.remaining, view.tokens.remaining) == (9, 600)


def test_a_rule_with_times_strikes_that_many_times_across_processes(
    two_processes: tuple[RedisStore, RedisStore],
) -> None:
    rule = FaultWindowConfig.model_validate(
        {"kind": "error", "status": 500, "times": 3, "message": uuid.uuid4().hex}
    )
    schedules = [FaultSchedule.from_config([rule], store) for store in two_processes]
    target = FaultTarget("gpt-4o-mini")
    struck = [schedules[i % 2].decide(target, 1.0, None) is not None for i in range(10)]
    assert struck == [True] * 3 + [False] * 7


def test_a_reset_moves_the_shared_clock_and_starts_fresh_buckets(
    two_processes: tuple[RedisStore, RedisStore],
) -> None:
    a, b = two_processes
    key = uuid.uuid4().hex
    first = a.openai(key, "m", 1, 1000, 0.0, None)
    assert not hasattr(first.admit(1, 0.0), "kind")
    assert first.admit(1, 0.0).kind == "requests"  # type: ignore[union-attr]
    before = b.current()
    after = a.reset(12345.0, 3.0)
    assert after.generation == before.generation + 1
    seen = b.current()
    assert (seen.epoch, seen.time_scale, seen.generation) == (12345.0, 3.0, after.generation)
    fresh = b.openai(key, "m", 1, 1000, 0.0, None)
    assert not hasattr(fresh.admit(1, 0.0), "kind")  # a new generation's bucket is full


@pytest.mark.parametrize(
    ("url", "parsed"),
    [("redis://127.0.0.1:6380/2", ("127.0.0.1", 6380, 2)), ("redis://h", ("h", 6379, 0))],
)
def test_redis_urls(url: str, parsed: tuple[str, int, int]) -> None:
    assert parse_redis_url(url) == parsed


@pytest.mark.parametrize("url", ["http://h:1", "redis://h:x", "redis://h:1/db"])
def test_bad_redis_urls_say_what_was_expected(url: str) -> None:
    with pytest.raises(ValueError, match="redis://HOST:PORT"):
        parse_redis_url(url)
