"""Response and request ids: random-looking, the same for a seed, never repeated after a reset."""

from __future__ import annotations

import re

from mock_provider.config import DistConfig, ProviderConfig
from mock_provider.model.ids import IdStream
from mock_provider.model.provider import ChatRequest, Completion, Provider

HELLO = [{"role": "user", "content": "hello"}]


def _run(p: Provider, n: int = 300) -> list[Completion]:
    out = []
    for i in range(n):
        c = p.chat(ChatRequest("sk", "gpt-4o-mini", 20, 50, False, HELLO), i * 0.01)
        assert isinstance(c, Completion)
        out.append(c)
    return out


def _provider(seed: int) -> Provider:
    return Provider(ProviderConfig(seed=seed, output_tokens=DistConfig(median=20, spread=0.5)))


def test_ids_have_the_real_shapes() -> None:
    for c in _run(_provider(0)):
        assert re.fullmatch(r"req_[0-9a-f]{32}", c.request_id)
        assert re.fullmatch(r"[A-Za-z0-9]{29}", c.response_key)


def test_ids_repeat_for_a_seed_and_never_after_a_reset() -> None:
    first = _run(_provider(7))
    assert [c.request_id for c in first] == [c.request_id for c in _run(_provider(7))]
    p = _provider(7)
    before = _run(p)
    p.reset(0.0)
    after = _run(p)
    ids = [c.request_id for c in before + after]
    keys = [c.response_key for c in before + after]
    assert len(set(ids)) == len(ids) and len(set(keys)) == len(keys)
    # A reset renumbers the requests: the same draws again, under new ids.
    assert [c.output_tokens for c in after] == [c.output_tokens for c in before]
    other = {c.request_id for c in _run(_provider(8))}
    assert other.isdisjoint(ids)


def test_consecutive_ids_share_no_visible_pattern() -> None:
    ids = [c.request_id[4:] for c in _run(_provider(1), 600)]  # crosses an id block
    prefixes = {i[:8] for i in ids}
    assert len(prefixes) == len(ids)  # no shared prefix, as a counter would have
    digits = "".join(ids)
    for d in "0123456789abcdef":  # every hex digit about equally common
        assert abs(digits.count(d) / len(digits) - 1 / 16) < 0.01


def test_unnumbered_ids_come_from_their_own_stream() -> None:
    p = _provider(3)
    spare = [p.unnumbered_request_id() for _ in range(5)]
    c = _run(p, 1)[0]
    assert c.request_id == _run(_provider(3), 1)[0].request_id  # requests not renumbered
    assert c.request_id not in spare and len(set(spare)) == 5


def test_an_id_is_a_function_of_seed_generation_stream_and_number() -> None:
    a, b = IdStream(5, 2, 0), IdStream(5, 2, 0)
    assert [a.ids(n) for n in (0, 700, 3)] == [b.ids(n) for n in (0, 700, 3)]  # any order
    assert IdStream(5, 2, 1).ids(0) != a.ids(0) != IdStream(5, 3, 0).ids(0)
    assert IdStream(-5, 0, 0).ids(0) != IdStream(5, 0, 0).ids(0)  # a negative seed works too
