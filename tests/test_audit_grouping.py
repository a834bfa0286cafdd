"""Properties of the audit's grouping (``simulator/audit/grouping.py``) over generated journals,
and its accuracy on the labelled corpus of ``bench/audit_corpus.py``."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence

import msgspec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.audit_accuracy import predict, score
from bench.audit_corpus import FAMILIES, corpus
from mock_provider.journal import JournalEntry
from simulator.audit.grouping import group_requests, group_requests_reference

KEYS = ("sk-...aaaa", "sk-...bbbb", "sk-...cccc", "sk-...dddd")
PROMPTS = ("p0", "p1", "p2")
FAILURES = (429, 500, 503, 529, 400, 404)


def entry(
    start: float,
    dur: float,
    status: int,
    *,
    key: str,
    prompt: str,
    count: int | None,
    model: str = "gpt-4o-mini",
    retry_after: float | None = None,
) -> JournalEntry:
    return JournalEntry(
        t=round(start + dur, 6), start_t=round(start, 6), path="/v1/chat/completions",
        status=status, model=model, key=key, prompt=prompt,
        retry_count=None if count is None else str(count), retry_after_s=retry_after,
    )  # fmt: skip


@st.composite
def sdk_call(draw: st.DrawFn, key: str, prompt: str) -> list[JournalEntry]:
    """One SDK call with its own retries, as the openai and anthropic SDKs send them."""
    t = draw(st.floats(0, 600, allow_nan=False))
    out = []
    max_retries = draw(st.integers(0, 3))
    for k in range(max_retries + 1):
        status = draw(st.sampled_from((200, 429, 503)))
        ra = draw(st.sampled_from((None, 1.0, 2.0))) if status == 429 else None
        dur = draw(st.floats(0.005, 2.0)) if status == 200 else draw(st.floats(0.005, 0.08))
        out.append(entry(t, dur, status, key=key, prompt=prompt, count=k, retry_after=ra))
        if status == 200 or k == max_retries:
            break
        base = ra if ra else min(0.5 * 2**k, 8.0) * (1 - 0.25 * draw(st.floats(0, 1)))
        t += dur + base
    return out


@st.composite
def journals(draw: st.DrawFn, distinct: bool = False) -> list[list[JournalEntry]]:
    """SDK calls (the true logical requests); ``distinct``: each its own key and prompt."""
    n = draw(st.integers(1, 12))
    calls = []
    for i in range(n):
        if distinct:
            key, prompt = KEYS[i % len(KEYS)], f"own-{i}"
        else:
            key, prompt = draw(st.sampled_from(KEYS)), draw(st.sampled_from(PROMPTS))
        calls.append(draw(sdk_call(key, prompt)))
    return calls


def groups(entries: Sequence[JournalEntry]) -> set[frozenset[int]]:
    """The grouping of ``entries`` as sets of their indices."""
    index = {id(e): i for i, e in enumerate(entries)}
    return {frozenset(index[id(a)] for a in r.attempts) for r in group_requests(entries)}


def by_value(entries: Sequence[JournalEntry]) -> Counter[tuple[str, ...]]:
    """The grouping as a multiset of groups of entry values: two identical attempts (same
    key, prompt, times and status) can swap places and nothing could tell."""
    return Counter(tuple(sorted(repr(a) for a in r.attempts)) for r in group_requests(entries))


def flat(calls: Sequence[Sequence[JournalEntry]]) -> list[JournalEntry]:
    return sorted((e for c in calls for e in c), key=lambda e: e.t)  # the journal's order


def truth(calls: Sequence[Sequence[JournalEntry]]) -> set[frozenset[int]]:
    entries = flat(calls)
    index = {id(e): i for i, e in enumerate(entries)}
    return {frozenset(index[id(e)] for e in c) for c in calls}


@given(journals(distinct=True))
def test_sdk_calls_of_distinct_prompts_are_recovered_exactly(calls) -> None:  # type: ignore[no-untyped-def]
    assert groups(flat(calls)) == truth(calls)


@given(journals(), st.permutations(KEYS))
def test_renaming_keys_changes_no_group(calls, perm) -> None:  # type: ignore[no-untyped-def]
    entries = flat(calls)
    rename = dict(zip(KEYS, perm, strict=True))
    renamed = [msgspec.structs.replace(e, key=rename[e.key]) for e in entries]
    assert groups(renamed) == groups(entries)


@given(journals())
def test_each_key_is_grouped_on_its_own(calls) -> None:  # type: ignore[no-untyped-def]
    entries = flat(calls)
    together = groups(entries)
    for key in KEYS:
        mine = [i for i, e in enumerate(entries) if e.key == key]
        alone = groups([entries[i] for i in mine])
        assert {frozenset(mine[j] for j in g) for g in alone} == {
            g for g in together if entries[next(iter(g))].key == key
        }


@given(journals(), st.randoms(use_true_random=False))
def test_the_journal_line_order_changes_no_group(calls, rng: random.Random) -> None:  # type: ignore[no-untyped-def]
    entries = flat(calls)
    shuffled = list(entries)
    rng.shuffle(shuffled)
    assert by_value(shuffled) == by_value(entries)


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(
    journals(),
    st.floats(0, 700, allow_nan=False),
    st.sampled_from(KEYS),
    st.sampled_from(PROMPTS),
    st.sampled_from((200, *FAILURES)),
)
def test_adding_a_count_0_request_never_merges_two_requests(  # type: ignore[no-untyped-def]
    calls, start, key, prompt, status
) -> None:
    entries = flat(calls)
    before = groups(entries)
    extra = entry(start, 0.03, status, key=key, prompt=prompt, count=0,
                  retry_after=1.0 if status == 429 else None)  # fmt: skip
    after = groups([*entries, extra])
    new = len(entries)
    group_of = {i: g for g in before for i in g}
    for g in after:
        old = {i for i in g if i != new}
        assert len({group_of[i] for i in old}) <= 1, (g, before)


@given(
    st.lists(st.floats(0, 0.045, allow_nan=False), min_size=2, max_size=40),
    st.sampled_from((429, 500, 503, 529)),
    st.booleans(),
    st.floats(0.05, 30.0),
)
def test_identical_one_shots_are_never_retries(  # type: ignore[no-untyped-def]
    gaps, status, header, stretch
) -> None:
    """Many users sending one body, refused with a failure the SDK would retry itself. With
    the SDK's count 0 on each, never a retry, however far apart (``stretch``). With no header,
    a burst whose copies overlap in flight (each arrives within 45 ms of the one before, and a
    refusal takes 50) is never a retry either (rule 4)."""
    starts = [sum(gaps[:i]) * (stretch if header else 1.0) for i in range(len(gaps))]
    entries = [
        entry(s, 0.05, status, key=KEYS[0], prompt="same", count=0 if header else None,
              retry_after=1.0 if status == 429 else None)
        for s in starts
    ]  # fmt: skip
    assert all(len(g) == 1 for g in groups(entries))


@st.composite
def mixed_journals(draw: st.DrawFn) -> list[JournalEntry]:
    """SDK calls, plain loops (no header) and wrappers (count 0 on every attempt), with
    common prompts, statuses the SDK does and does not retry, and fallbacks."""
    out = []
    for call in draw(journals()):
        mode = draw(st.sampled_from(("sdk", "none", "zero")))
        for e in call:
            status = draw(st.sampled_from((e.status, e.status, 400, 404)))
            model = draw(st.sampled_from((e.model, e.model, "gpt-4o")))
            count = {"sdk": e.retry_count, "none": None, "zero": "0"}[mode]
            out.append(msgspec.structs.replace(e, retry_count=count, status=status, model=model))
    return sorted(out, key=lambda e: e.t)


@given(mixed_journals())
def test_the_fast_grouping_agrees_with_the_reference(entries) -> None:  # type: ignore[no-untyped-def]
    fast = {tuple(id(a) for a in r.attempts) for r in group_requests(entries)}
    plain = {tuple(id(a) for a in r.attempts) for r in group_requests_reference(entries)}
    assert fast == plain


def test_the_fast_grouping_agrees_with_the_reference_on_the_corpus() -> None:
    for seed in (0, 1):
        entries = [r.entry for r in corpus(seed=seed, per_family=60)]
        fast = {tuple(id(a) for a in r.attempts) for r in group_requests(entries)}
        plain = {tuple(id(a) for a in r.attempts) for r in group_requests_reference(entries)}
        assert fast == plain


def test_the_corpus_is_grouped_with_precision_and_recall_over_98_percent() -> None:
    rows = corpus(seed=7, per_family=60)
    scores = score(rows, predict(rows))
    total = scores["all"]
    assert total.precision is not None and total.recall is not None
    assert total.precision >= 0.98 and total.recall >= 0.98, total
    assert set(scores) == {"all", *FAMILIES}
    # the header and the tag are what lift it over key, prompt and timing alone
    base = score(rows, predict(rows, strip=True))["all"]
    assert base.precision is not None and base.precision < total.precision
