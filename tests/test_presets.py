"""Presets: the real libraries' defaults by name, merged under what a strategy sets."""

from __future__ import annotations

from pathlib import Path

import pytest

from simulator.client.presets import NO_DEADLINE_S, PRESET_FIELDS, PRESETS
from simulator.config import ClientConfig, ConfigError, RetryConfig, load_scenario

SCENARIO = """
name: presets
duration: 10
workload:
  arrivals: {kind: poisson, rate: 1}
strategies:
  a: STRATEGY
"""


def load(tmp_path: Path, strategy: str) -> ClientConfig:
    path = tmp_path / "s.yaml"
    path.write_text(SCENARIO.replace("STRATEGY", strategy))
    return load_scenario(path).strategies["a"]


def test_every_library_has_a_preset_of_its_own_kind() -> None:
    assert set(PRESETS) == {
        "openai_sdk",
        "anthropic_sdk",
        "litellm_router",
        "langchain_with_retry",
        "tenacity_cookbook",
        "vercel_ai_sdk",
    }
    for name, cfg in PRESETS.items():
        assert cfg.preset == name and cfg.retry.kind == name and cfg.description


def test_presets_carry_the_libraries_defaults() -> None:
    sdk = PRESETS["openai_sdk"]
    assert sdk.retry.max_attempts == 3  # max_retries 2
    assert (sdk.timeouts.connect_s, sdk.timeouts.read_s) == (5.0, 600.0)
    assert sdk.timeouts.total_s == NO_DEADLINE_S
    assert PRESETS["tenacity_cookbook"].retry.max_attempts == 6
    router = PRESETS["litellm_router"].retry
    assert (router.num_retries, router.allowed_fails, router.cooldown_time_s) == (2, None, 5.0)
    assert PRESETS["vercel_ai_sdk"].timeouts.read_s == 300.0
    # a kind's defaults are the library's even without a preset
    assert RetryConfig(kind="tenacity_cookbook").max_attempts == 6


def test_fields_given_next_to_a_preset_override_it(tmp_path: Path) -> None:
    cfg = load(tmp_path, "{preset: litellm_router, fallback: [gpt-4o], retry: {num_retries: 4}}")
    assert cfg.fallback == ["gpt-4o"] and cfg.retry.kind == "litellm_router"
    assert cfg.retry.num_retries == 4 and cfg.retry.cooldown_time_s == 5.0
    assert cfg.timeouts == PRESETS["litellm_router"].timeouts
    other = load(tmp_path, "{preset: openai_sdk, retry: {kind: full_jitter, cap_s: 9}}")
    assert other.retry.kind == "full_jitter" and other.retry.cap_s == 9  # replaced whole
    assert other.timeouts.read_s == 600.0  # the rest of the preset stays


def test_an_unknown_preset_is_a_config_error_naming_the_choices(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, "{preset: openai_skd}")
    ((path, message),) = info.value.problems
    assert path == "strategies.a.preset"
    assert "no preset 'openai_skd'" in message
    for name in PRESET_FIELDS:
        assert name in message


def test_a_field_the_preset_kind_does_not_read_is_still_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, "{preset: openai_sdk, retry: {cap_s: 3}}")
    assert [p for p, _ in info.value.problems] == ["strategies.a.retry.cap_s"]


def test_old_kind_names_still_load(tmp_path: Path) -> None:
    assert load(tmp_path, "{retry: {kind: openai_default}}").retry.kind == "openai_sdk"
    assert load(tmp_path, "{retry: {kind: anthropic_default}}").retry.kind == "anthropic_sdk"


def test_a_preset_strategy_round_trips_through_the_run_folder(tmp_path: Path) -> None:
    from simulator.run_folder import write_scenario

    path = tmp_path / "s.yaml"
    path.write_text(SCENARIO.replace("STRATEGY", "{preset: tenacity_cookbook, stream: true}"))
    sc = load_scenario(path)
    out = tmp_path / "run"
    out.mkdir()
    write_scenario(sc, out)
    again = load_scenario(out / "scenario.yaml")
    assert again.strategies == sc.strategies
