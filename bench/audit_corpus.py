"""Labelled request journals: clients whose true retry chains are known, for the audit's grouping.

    corpus(seed=0, per_family=150) -> list[Labelled]

Each family is one kind of client the audit meets, written as the journal would show it (the
mock's fields: key, prompt fingerprint, model, status, Retry-After, the SDK's retry count, the
request tag, times), with the true logical request of every attempt. The clients follow their
libraries' documented rules (the openai and anthropic SDKs' ``_base_client.py``, LangChain's
``with_retry``, tenacity):

- ``sdk``: the openai or anthropic SDK with its own retries (``max_retries`` 2): it retries
  408/409/429/5xx after the Retry-After (0 < v <= 60 s) or ``min(0.5 * 2**k, 8) * (1 - 0.25 U)``,
  sending ``x-stainless-retry-count`` 0, 1, 2. Some users ask the same common question, so
  bodies repeat across requests, and several keys share the traffic.
- ``sdk_interleaved``: one key, one prompt, many SDK calls in flight at once (a batch job), each
  retrying its own 429s: only the counts and the timing tell the chains apart.
- ``loop_fixed``, ``loop_jitter``, ``loop_immediate``: a plain HTTP loop with no header
  (curl, requests, httpx), retrying any failure, a 400 included: a fixed 1 s, full jitter
  ``U(0, 2**k)``, or at once.
- ``one_shots_sdk``: thirty users sending one identical body through the SDK at the same moment
  (within 0.3 s), or one script sending it thirty times in a row; every attempt has count 0,
  most are refused with a 429 and a Retry-After, none is retried by the client.
- ``one_shots_plain``: thirty identical bodies at the same moment with no header; none retried.
- ``bad_request``: an SDK client that never retries a 400 (three different bad bodies), the
  same behind LangChain's ``with_retry`` (``max_retries=0``: every attempt has count 0,
  ``2**(a-1) + U(0, 1)`` s apart) and a raw loop, both retrying the 400.
- ``streams``: SDK streams; a 429 before the first byte is the SDK's retry, a stream cut
  mid-answer is the app's (a new SDK call, count 0).
- ``fallback``: the SDK gives up on a model in an outage (503 at counts 0, 1, 2), then the app
  calls another model (count 0).
- ``wrapper``: tenacity around the SDK (``max_retries`` 2): when the SDK gives up, tenacity
  calls it again after ``U(1, 4)`` s, and its count starts at 0.
- ``tagged_wrapper``: a stampede app strategy (every user message carries its request tag)
  with tenacity around an SDK with ``max_retries=0``, retrying 429s: counts are all 0.

Clock noise: every recorded time moves by up to ``noise_s`` (0.5 ms), as an event loop's lag
would move it. Everything is drawn from one seeded ``random.Random``.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

import msgspec

from mock_provider.journal import JournalEntry

__all__ = ["FAMILIES", "Labelled", "corpus"]

PATH = "/v1/chat/completions"
SPAN_S = 600.0  # each family's requests start within this window
COMMON = [f"common-{i}" for i in range(4)]  # prompts many users send word for word


@dataclass(frozen=True)
class Labelled:
    entry: JournalEntry
    chain: int  # the true logical request
    family: str


@dataclass
class _Journal:
    rng: random.Random
    noise_s: float
    rows: list[Labelled] = field(default_factory=list)
    chains: int = 0

    def chain(self) -> int:
        self.chains += 1
        return self.chains

    def add(
        self,
        family: str,
        chain: int,
        start: float,
        status: int,
        dur: float,
        *,
        key: str,
        prompt: str,
        model: str = "gpt-4o-mini",
        count: int | None = None,
        retry_after: float | None = None,
        stream: bool = False,
        fault: str | None = None,
        tag: str | None = None,
    ) -> float:
        """Journal one attempt; returns when it ended (the true time, before noise)."""
        end = start + dur
        n = self.noise_s
        s = start + self.rng.uniform(-n, n)
        t = max(s, end + self.rng.uniform(-n, n))
        entry = JournalEntry(
            t=round(t, 6), start_t=round(s, 6), path=PATH, status=status, model=model,
            key=key, prompt=prompt, retry_count=None if count is None else str(count),
            retry_after_s=retry_after, stream=stream, fault=fault, tag=tag, max_tokens=256,
        )  # fmt: skip
        self.rows.append(Labelled(entry, chain, family))
        return end


def _refusal_s(rng: random.Random) -> float:
    return rng.uniform(0.01, 0.06)


def _answer_s(rng: random.Random) -> float:
    return rng.uniform(0.3, 2.5)


def _sdk_delay(rng: random.Random, k: int, retry_after: float | None) -> float:
    """The SDKs' wait before retry k + 1 (k retries taken so far)."""
    if retry_after is not None and 0 < retry_after <= 60:
        return retry_after
    return min(0.5 * 2**k, 8.0) * (1 - 0.25 * rng.random())


def _sdk_call(
    j: _Journal,
    family: str,
    chain: int,
    start: float,
    *,
    key: str,
    prompt: str,
    model: str = "gpt-4o-mini",
    p_fail: float = 0.35,
    max_retries: int = 2,
    stream: bool = False,
    tag: str | None = None,
    fail_status: Callable[[random.Random], int] | None = None,
) -> tuple[float, bool]:
    """One SDK call with its own retries: (when it returned, whether it got an answer)."""
    rng = j.rng
    t = start
    for k in range(max_retries + 1):
        if rng.random() < p_fail:
            status = fail_status(rng) if fail_status else rng.choice((429, 429, 429, 503, 500))
            ra = float(rng.choice((1, 2))) if status == 429 and rng.random() < 0.7 else None
            end = j.add(family, chain, t, status, _refusal_s(rng), key=key, prompt=prompt,
                        model=model, count=k, retry_after=ra, stream=stream, tag=tag)  # fmt: skip
            if k == max_retries:
                return end, False
            t = end + _sdk_delay(rng, k, ra)
            continue
        end = j.add(family, chain, t, 200, _answer_s(rng), key=key, prompt=prompt, model=model,
                    count=k, stream=stream, tag=tag)  # fmt: skip
        return end, True
    raise AssertionError("unreachable")


def _prompt(rng: random.Random, family: str, i: int, shared: float) -> str:
    return rng.choice(COMMON) if rng.random() < shared else f"{family}-{i}"


def sdk(j: _Journal, n: int) -> None:
    for i in range(n):
        key = j.rng.choice(("sk-...aaaa", "sk-...bbbb", "sk-...cccc"))
        model = j.rng.choice(("gpt-4o-mini", "claude-haiku-4-5"))
        _sdk_call(j, "sdk", j.chain(), j.rng.uniform(0, SPAN_S), key=key, model=model,
                  prompt=_prompt(j.rng, "sdk", i, 0.2))  # fmt: skip


def sdk_interleaved(j: _Journal, n: int) -> None:
    for batch in range(max(1, n // 10)):
        t0 = j.rng.uniform(0, SPAN_S)
        for _ in range(10):
            _sdk_call(j, "sdk_interleaved", j.chain(), t0 + j.rng.uniform(0, 0.5),
                      key="sk-...batch", prompt=f"batch-{batch}", p_fail=0.6)  # fmt: skip


def _loop(j: _Journal, family: str, n: int, delay: Callable[[int], float]) -> None:
    rng = j.rng
    for i in range(n):
        chain, key = j.chain(), rng.choice(("sk-...loop", "sk-...aaaa"))
        prompt, t = _prompt(rng, family, i, 0.1), rng.uniform(0, SPAN_S)
        bad = rng.random() < 0.1  # a body the API refuses: retried like the rest
        for k in range(5):
            if bad or rng.random() < 0.4:
                status = 400 if bad else rng.choice((429, 503))
                ra = 1.0 if status == 429 else None
                end = j.add(family, chain, t, status, _refusal_s(rng), key=key,
                            prompt="raw:" + prompt if bad else prompt,
                            retry_after=ra)  # fmt: skip
                t = end + delay(k)
                continue
            j.add(family, chain, t, 200, _answer_s(rng), key=key, prompt=prompt)
            break


def loop_fixed(j: _Journal, n: int) -> None:
    _loop(j, "loop_fixed", n, lambda k: 1.0)


def loop_jitter(j: _Journal, n: int) -> None:
    _loop(j, "loop_jitter", n, lambda k: j.rng.uniform(0, 2.0 ** (k + 1)))


def loop_immediate(j: _Journal, n: int) -> None:
    _loop(j, "loop_immediate", n, lambda k: j.rng.uniform(0, 0.002))


def one_shots_sdk(j: _Journal, n: int) -> None:
    rng = j.rng
    for group in range(max(1, n // 30)):
        t0, prompt = rng.uniform(0, SPAN_S), f"one-shot-{group}"
        in_a_row = group % 2 == 1  # one script, thirty calls one after another
        t = t0
        for _ in range(30):
            start = t if in_a_row else t0 + rng.uniform(0, 0.3)
            ok = rng.random() < 0.1
            end = j.add("one_shots_sdk", j.chain(), start, 200 if ok else 429,
                        _answer_s(rng) if ok else _refusal_s(rng), key="sk-...shot",
                        prompt=prompt, count=0,
                        retry_after=None if ok else 2.0)  # fmt: skip
            t = end + rng.uniform(0.0, 0.05)


def one_shots_plain(j: _Journal, n: int) -> None:
    rng = j.rng
    for group in range(max(1, n // 30)):
        t0, prompt = rng.uniform(0, SPAN_S), f"plain-shot-{group}"
        for _ in range(30):
            ok = rng.random() < 0.1
            j.add("one_shots_plain", j.chain(), t0 + rng.uniform(0, 0.3), 200 if ok else 429,
                  _answer_s(rng) if ok else _refusal_s(rng), key="sk-...curl",
                  prompt=prompt, retry_after=None if ok else 2.0)  # fmt: skip


def bad_request(j: _Journal, n: int) -> None:
    rng = j.rng
    for i in range(n):
        t, kind = rng.uniform(0, SPAN_S), i % 3
        chain = j.chain()
        if kind == 0:  # the SDK: a 400 is not retried; three different bad bodies in a row
            for b in range(3):
                t = j.add("bad_request", chain if b == 0 else j.chain(), t, 400,
                          _refusal_s(rng), key="sk-...sdk4", prompt=f"raw:bad-{i}-{b}",
                          count=0) + rng.uniform(0.05, 1.0)  # fmt: skip
        elif kind == 1:  # LangChain with_retry(stop_after_attempt=3), SDK max_retries=0
            for a in range(1, 4):
                end = j.add("bad_request", chain, t, 400, _refusal_s(rng), key="sk-...lang",
                            prompt=f"raw:lc-{i}", count=0)  # fmt: skip
                t = end + 2 ** (a - 1) + rng.uniform(0, 1)
        else:  # a raw loop, retrying the 400 at once
            for _ in range(3):
                t = j.add("bad_request", chain, t, 400, _refusal_s(rng), key="sk-...loop",
                          prompt=f"raw:loop-{i}") + rng.uniform(0, 0.01)  # fmt: skip


def streams(j: _Journal, n: int) -> None:
    rng = j.rng
    for i in range(n):
        chain, key, prompt = j.chain(), "sk-...strm", _prompt(rng, "streams", i, 0.1)
        t = rng.uniform(0, SPAN_S)
        for _call in range(3):
            end, ok = _sdk_call(j, "streams", chain, t, key=key, prompt=prompt, stream=True,
                                p_fail=0.25)  # fmt: skip
            if not ok:
                break
            if rng.random() < 0.3:  # cut mid-answer: the app calls again
                last = j.rows[-1].entry
                cut = msgspec.structs.replace(last, fault="cut_stream")
                j.rows[-1] = Labelled(cut, chain, "streams")
                t = end + rng.uniform(0.0, 0.5)
                continue
            break


def fallback(j: _Journal, n: int) -> None:
    rng = j.rng
    for i in range(n):
        chain, key, prompt = j.chain(), rng.choice(("sk-...fall", "sk-...aaaa")), f"fb-{i}"
        end, ok = _sdk_call(j, "fallback", chain, rng.uniform(0, SPAN_S), key=key,
                            prompt=prompt, p_fail=0.9,
                            fail_status=lambda r: 503)  # fmt: skip
        if not ok:
            _sdk_call(j, "fallback", chain, end + rng.uniform(0, 0.05), key=key, prompt=prompt,
                      model="gpt-4o", p_fail=0.1)  # fmt: skip


def wrapper(j: _Journal, n: int) -> None:
    rng = j.rng
    for i in range(n):
        chain, key, prompt = j.chain(), "sk-...tena", _prompt(rng, "wrapper", i, 0.1)
        t = rng.uniform(0, SPAN_S)
        for _attempt in range(3):
            end, ok = _sdk_call(j, "wrapper", chain, t, key=key, prompt=prompt, p_fail=0.6)
            if ok:
                break
            t = end + rng.uniform(1, 4)


def tagged_wrapper(j: _Journal, n: int) -> None:
    rng = j.rng
    for i in range(n):
        chain, tag = j.chain(), f"#{900_000_000 + i:09d}"
        t = rng.uniform(0, SPAN_S)
        for _attempt in range(4):
            end, ok = _sdk_call(j, "tagged_wrapper", chain, t, key="sk-...app",
                                prompt=f"app-{i}", p_fail=0.5, max_retries=0,
                                tag=tag)  # fmt: skip
            if ok:
                break
            t = end + rng.uniform(0, 2.0 ** (_attempt + 1))


FAMILIES: dict[str, Callable[[_Journal, int], None]] = {
    "sdk": sdk,
    "sdk_interleaved": sdk_interleaved,
    "loop_fixed": loop_fixed,
    "loop_jitter": loop_jitter,
    "loop_immediate": loop_immediate,
    "one_shots_sdk": one_shots_sdk,
    "one_shots_plain": one_shots_plain,
    "bad_request": bad_request,
    "streams": streams,
    "fallback": fallback,
    "wrapper": wrapper,
    "tagged_wrapper": tagged_wrapper,
}


def corpus(
    seed: int = 0,
    per_family: int = 150,
    noise_s: float = 0.0005,
    families: tuple[str, ...] = tuple(FAMILIES),
) -> list[Labelled]:
    """Every family's journal merged into one run, in the order the mock writes it (by end)."""
    j = _Journal(random.Random(seed), noise_s)
    for name in families:
        FAMILIES[name](j, per_family)
    return sorted(j.rows, key=lambda r: (r.entry.t, r.entry.start_t or 0.0))
