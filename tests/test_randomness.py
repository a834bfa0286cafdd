"""A request's random stream: reproducible, independent per request, and the right shape."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mock_provider.model.randomness import RequestRandom, splitmix64


def test_splitmix64_known_values() -> None:
    # SplitMix64 from state 0 steps by the golden gamma: its first output is a published value
    assert splitmix64(0x9E3779B97F4A7C15) == 0xE220A8397B1DCDAF


def test_same_seed_and_request_same_draws_whatever_ran_before() -> None:
    a, b = RequestRandom(7, 42), RequestRandom(7, 42)
    RequestRandom(7, 41).random()  # another request drawing changes nothing
    assert [a.random() for _ in range(5)] == [b.random() for _ in range(5)]
    assert RequestRandom(7, 43).random() != RequestRandom(7, 42).random()
    assert RequestRandom(8, 42).random() != RequestRandom(7, 42).random()


def test_the_array_of_lognormals_is_the_scalar_draws() -> None:
    one, many = RequestRandom(3, 9), RequestRandom(3, 9)
    expected = [math.exp(-2.0 + 0.4 * one.standard_normal()) for _ in range(50)]
    assert many.lognormal(-2.0, 0.4, 50) == pytest.approx(expected, rel=1e-12)
    assert one.random() == many.random()  # both streams moved on by the same count


def test_draws_have_the_right_distribution() -> None:
    u = np.array([RequestRandom(1, i).random() for i in range(20_000)])
    assert u.min() >= 0 and u.max() < 1 and u.mean() == pytest.approx(0.5, abs=0.01)
    n = np.array([RequestRandom(2, i).standard_normal() for i in range(20_000)])
    assert n.mean() == pytest.approx(0.0, abs=0.03) and n.std() == pytest.approx(1.0, abs=0.03)
    k = np.array([RequestRandom(3, i).integers(4) for i in range(20_000)])
    assert set(k.tolist()) == {0, 1, 2, 3}
    assert np.bincount(k) / k.size == pytest.approx([0.25] * 4, abs=0.015)
