from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from mock_provider.dialects.openai.tokens import count_chat_tokens
from mock_provider.model.tokens import count_text, text_of_tokens
from simulator.config import PromptConfig, WorkloadConfig
from simulator.workload import (
    LogicalRequest,
    _PromptMaker,
    _TextSource,
    build_workload,
    describe,
)


def wl(arrivals: dict[str, Any], prompts: dict[str, Any] | None = None) -> WorkloadConfig:
    return WorkloadConfig.model_validate({"arrivals": arrivals, "prompts": prompts or {}})


def exact_count(r: LogicalRequest) -> int:
    return count_chat_tokens([{"role": role, "content": c} for role, c in r.messages])


POISSON = wl({"kind": "poisson", "rate": 50}, {"features": ["chat", "search", "summary"]})


def test_same_seed_same_workload_other_seed_differs() -> None:
    a = build_workload(POISSON, 7, 60.0)
    b = build_workload(POISSON, 7, 60.0)
    c = build_workload(POISSON, 8, 60.0)
    assert a.open_loop == b.open_loop and a.closed_loop == b.closed_loop
    assert a.total > 0
    assert a.open_loop != c.open_loop
    assert [r.at for r in a.open_loop[:10]] != [r.at for r in c.open_loop[:10]]


def test_closed_loop_is_deterministic_too() -> None:
    cfg = wl({"kind": "closed_loop", "users": 5, "think_time": {"median": 1, "spread": 0.5}})
    assert build_workload(cfg, 3, 30.0) == build_workload(cfg, 3, 30.0)
    assert build_workload(cfg, 3, 30.0) != build_workload(cfg, 4, 30.0)


def test_streams_are_independent_prompts_do_not_move_with_arrival_rate() -> None:
    slow = build_workload(wl({"kind": "poisson", "rate": 10}), 1, 60.0).open_loop
    fast = build_workload(wl({"kind": "poisson", "rate": 40}), 1, 60.0).open_loop
    assert len(fast) > len(slow) > 100
    key = [(r.user_id, r.feature, r.messages) for r in slow]
    assert key == [(r.user_id, r.feature, r.messages) for r in fast[: len(slow)]]
    assert [r.at for r in slow[:20]] != [r.at for r in fast[:20]]


def test_burst_is_n_requests_at_one_instant() -> None:
    w = build_workload(wl({"kind": "burst", "n": 250, "at": 3.5}), 0, 10.0)
    assert len(w.open_loop) == 250
    assert {r.at for r in w.open_loop} == {3.5}
    assert [r.seq for r in w.open_loop] == list(range(250))


def test_burst_outside_the_run_is_an_error() -> None:
    with pytest.raises(ValueError, match="burst"):
        build_workload(wl({"kind": "burst", "n": 5, "at": 20}), 0, 10.0)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_poisson_count_within_five_sigma_and_inside_the_run(seed: int) -> None:
    rate, duration = 200.0, 50.0
    w = build_workload(wl({"kind": "poisson", "rate": rate}), seed, duration)
    mean = rate * duration
    assert abs(len(w.open_loop) - mean) < 5 * math.sqrt(mean)
    at = np.array([r.at for r in w.open_loop])
    assert at.min() >= 0 and at.max() < duration
    assert np.all(np.diff(at) >= 0)
    assert [r.seq for r in w.open_loop] == list(range(len(at)))
    # uniform in time: each half holds about half (binomial, 5 sigma)
    first = int((at < duration / 2).sum())
    assert abs(first - len(at) / 2) < 5 * math.sqrt(len(at) / 4)


def test_max_requests_caps_open_loop_keeping_the_earliest() -> None:
    full = build_workload(wl({"kind": "poisson", "rate": 100}), 5, 20.0).open_loop
    capped = build_workload(wl({"kind": "poisson", "rate": 100, "max_requests": 30}), 5, 20.0)
    assert len(capped.open_loop) == 30
    assert [r.at for r in capped.open_loop] == [r.at for r in full[:30]]


def halves(at: list[float], duration: float) -> tuple[int, int]:
    a = np.array(at)
    return int((a < duration / 2).sum()), int((a >= duration / 2).sum())


def test_ramp_up_puts_more_arrivals_in_the_second_half() -> None:
    d = 100.0
    cfg = wl({"kind": "ramp", "start_rate": 1, "end_rate": 50})
    at = [r.at for r in build_workload(cfg, 0, d).open_loop]
    first, second = halves(at, d)
    # expected: 637.5 vs 1912.5
    assert second > 2 * first
    assert abs(len(at) - 25.5 * d) < 5 * math.sqrt(25.5 * d)
    assert min(at) >= 0 and max(at) < d


def test_ramp_down_reverses() -> None:
    at = [
        r.at
        for r in build_workload(
            wl({"kind": "ramp", "start_rate": 50, "end_rate": 1}), 0, 100.0
        ).open_loop
    ]
    first, second = halves(at, 100.0)
    assert first > 2 * second


def test_spike_window_is_denser() -> None:
    cfg = wl({"kind": "spike", "rate": 5, "spike_rate": 100, "spike_start": 20, "spike_end": 30})
    at = np.array([r.at for r in build_workload(cfg, 0, 60.0).open_loop])
    inside = ((at >= 20) & (at < 30)).sum() / 10
    outside = ((at < 20) | (at >= 30)).sum() / 50
    assert inside > 10 * outside
    assert abs(inside - 105) < 5 * math.sqrt(105 / 10)  # per-second rate, 5 sigma


def test_diurnal_follows_the_sine() -> None:
    cfg = wl({"kind": "diurnal", "rate": 20, "amplitude": 0.9, "period": 100})
    at = np.array([r.at for r in build_workload(cfg, 0, 100.0).open_loop])
    peak = (at < 50).sum()  # sin > 0 on the first half period
    trough = (at >= 50).sum()
    assert peak > 3 * trough
    assert abs(len(at) - 2000) < 5 * math.sqrt(2000)


def test_closed_loop_sequences_fill_the_duration() -> None:
    users, d = 4, 100.0
    cfg = wl({"kind": "closed_loop", "users": users, "think_time": {"median": 2, "spread": 0.3}})
    w = build_workload(cfg, 0, d)
    assert w.open_loop == ()
    assert len(w.closed_loop) == users
    for u, seq in enumerate(w.closed_loop):
        think = [r.at for r in seq]
        assert all(t > 0 for t in think)
        assert sum(think) < d  # every request starts inside the run at zero service time
        assert 30 < len(seq) < 70  # ~100 s / 2.1 s mean think time
        assert {r.user_id for r in seq} == {f"user-{u}"}
    seqs = sorted(r.seq for s in w.closed_loop for r in s)
    assert seqs == list(range(w.total))


def test_closed_loop_max_requests_caps_the_total() -> None:
    cfg = wl(
        {
            "kind": "closed_loop",
            "users": 3,
            "think_time": {"median": 1, "spread": 0},
            "max_requests": 10,
        }
    )
    w = build_workload(cfg, 0, 1000.0)
    assert w.total == 10
    assert sorted(len(s) for s in w.closed_loop) == [3, 3, 4]
    assert {r.at for s in w.closed_loop for r in s} == {1.0}  # spread 0: constant think time


def test_zero_think_time_without_a_cap_is_refused() -> None:
    cfg = wl({"kind": "closed_loop", "users": 1, "think_time": {"median": 0}})
    with pytest.raises(ValueError, match="max_requests"):
        build_workload(cfg, 0, 10.0)


def layout_workload(layout: str, n: int = 200) -> tuple[LogicalRequest, ...]:
    cfg = wl(
        {"kind": "burst", "n": n},
        {"layout": layout, "system_tokens": 1200, "input_tokens": {"median": 300, "spread": 1}},
    )
    return build_workload(cfg, 0, 1.0).open_loop


def test_cache_friendly_shares_one_identical_system_prompt() -> None:
    reqs = layout_workload("cache_friendly")
    assert {r.messages[0] for r in reqs} == {("system", text_of_tokens(1200, 1))}
    assert len({r.messages[1] for r in reqs}) == len(reqs)  # dynamic part last


def test_cache_busting_first_message_differs_per_request() -> None:
    reqs = layout_workload("cache_busting")
    firsts = [r.messages[0] for r in reqs]
    assert all(role == "system" for role, _ in firsts)
    assert len(set(firsts)) == len(reqs)
    stable = text_of_tokens(1200, 1)
    assert all(c.endswith(stable) and c != stable for _, c in firsts)


def test_plain_is_one_user_message_that_differs_per_request() -> None:
    reqs = layout_workload("plain")
    assert all(len(r.messages) == 1 and r.messages[0][0] == "user" for r in reqs)
    assert len({r.messages for r in reqs}) == len(reqs)


@pytest.mark.parametrize("layout", ["plain", "cache_friendly", "cache_busting"])
def test_input_tokens_are_exact(layout: str) -> None:
    reqs = layout_workload(layout, 300)
    sizes = {len(r.messages[-1][1]) for r in reqs}
    assert len(sizes) > 50  # a real spread of sizes, small and large
    for r in reqs[::3]:
        assert r.input_tokens == exact_count(r)


@pytest.mark.parametrize("layout", ["plain", "cache_friendly", "cache_busting"])
def test_input_tokens_exact_for_tiny_prompts_and_large_prompt_numbers(layout: str) -> None:
    prompts = PromptConfig(layout=layout, system_tokens=5)
    maker = _PromptMaker(prompts, 50)
    for size in (1, 3, 4, 5, 6, 40):
        for k in (0, 7, 1234, 999_999_999):
            messages, tokens = maker.make(k, size)
            assert tokens == count_chat_tokens([{"role": r, "content": c} for r, c in messages])
            assert count_text(messages[-1][1]) == size  # the drawn size is the user content
    with pytest.raises(ValueError):
        maker.make(10**9, 10)


def test_text_source_slices_equal_text_of_tokens() -> None:
    src = _TextSource(500)
    for n, off in [(1, 0), (17, 5), (300, 63), (500, 0), (0, 12)]:
        assert src.get(n, off) == text_of_tokens(n, off)


def test_request_fields_come_from_config() -> None:
    cfg = WorkloadConfig.model_validate(
        {
            "arrivals": {"kind": "poisson", "rate": 100},
            "prompts": {
                "users": 3,
                "features": ["a", "b"],
                "prompt_version": "v9",
                "max_tokens": 77,
                "input_tokens": {"median": 50, "spread": 0},
            },
            "model": "gpt-4o",
        }
    )
    reqs = build_workload(cfg, 0, 10.0).open_loop
    assert {r.user_id for r in reqs} == {"user-0", "user-1", "user-2"}
    assert {r.feature for r in reqs} == {"a", "b"}
    assert {(r.prompt_version, r.max_tokens, r.model) for r in reqs} == {("v9", 77, "gpt-4o")}
    assert {r.input_tokens for r in reqs} == {3 + 3 + 1 + 50}


def test_repeat_multiplies_with_same_prompt_and_user() -> None:
    base = build_workload(wl({"kind": "poisson", "rate": 20}), 0, 10.0).open_loop
    rep = build_workload(wl({"kind": "poisson", "rate": 20}, {"repeat": 3}), 0, 10.0).open_loop
    assert len(rep) == 3 * len(base)
    assert [r.seq for r in rep] == list(range(len(rep)))
    ats = [r.at for r in rep]
    assert ats == sorted(ats)
    for orig in base[:20]:
        copies = [r for r in rep if r.messages == orig.messages]
        assert len(copies) == 3
        assert {(r.user_id, r.feature) for r in copies} == {(orig.user_id, orig.feature)}
        assert [round(r.at - orig.at, 9) for r in copies] == [0.0, 0.001, 0.002]


def test_repeat_in_closed_loop_follows_immediately() -> None:
    cfg = wl(
        {"kind": "closed_loop", "users": 2, "think_time": {"median": 5, "spread": 0}},
        {"repeat": 2},
    )
    w = build_workload(cfg, 0, 20.0)
    for seq in w.closed_loop:
        assert [r.at for r in seq] == [5.0, 0.001] * 3  # starts at 5, 10, 15 s
        assert seq[0].messages == seq[1].messages and seq[1].messages != seq[2].messages


def test_describe_mentions_count_and_rate() -> None:
    text = describe(build_workload(wl({"kind": "poisson", "rate": 100}), 0, 10.0))
    n = build_workload(wl({"kind": "poisson", "rate": 100}), 0, 10.0).total
    assert f"{n:,} logical requests" in text and "/s" in text
    assert "all at once" in describe(build_workload(wl({"kind": "burst", "n": 3}), 0, 1.0))
