"""One owner per setting: the scenario owns ``seed`` and ``time_scale``, the mock's config is
derived from it in one place (``Scenario.mock_config``), and one function builds a strategy's
world for every driver (``simulator.world``)."""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

import pytest

from mock_provider.config import ConfigError, ProviderConfig, load_provider_config
from mock_provider.model.provider import Provider
from simulator.config import load_scenario
from simulator.world import strategy_world

ROOT = Path(__file__).resolve().parents[1]

SCENARIO = """
name: owners
seed: {seed}
time_scale: {scale}
duration: 5
drain: 30
provider:
  models:
    gpt-4o-mini: {{rpm: 600}}
  output_tokens: {{median: 30, spread: 0.5}}
{extra}
workload:
  model: gpt-4o-mini
  arrivals: {{kind: poisson, rate: 2}}
  prompts: {{input_tokens: {{median: 100}}, max_tokens: 60}}
strategies:
  jitter:
    retry: {{kind: full_jitter, base_s: 0.5, max_attempts: 3}}
"""


def _file(tmp_path: Path, seed: int = 5, scale: object = 10, extra: str = "") -> Path:
    path = tmp_path / "owners.yaml"
    path.write_text(SCENARIO.format(seed=seed, scale=scale, extra=extra))
    return path


def test_a_library_caller_of_load_scenario_gives_the_mock_the_scenarios_seed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sc = load_scenario(_file(tmp_path, seed=5, scale=10))
    assert (sc.mock_config.seed, sc.mock_config.time_scale) == (5, 10.0)
    # the virtual driver starts its mock from it (check and sweep run the virtual driver)
    from simulator.virtual import run as virtual

    started: list[ProviderConfig] = []

    class Spy(Provider):
        def __init__(self, cfg: ProviderConfig, now: float = 0.0) -> None:
            started.append(cfg)
            super().__init__(cfg, now)

    monkeypatch.setattr(virtual, "Provider", Spy)
    records: list[object] = []
    virtual.run_strategy(sc, "jitter", SimpleNamespace(write=records.append), [])
    assert [c.seed for c in started] == [5] and records


def test_auto_gives_the_mock_scale_one_until_the_calibration_resets_it(tmp_path: Path) -> None:
    sc = load_scenario(_file(tmp_path, seed=3, scale="auto"))
    assert (sc.mock_config.seed, sc.mock_config.time_scale) == (3, 1.0)
    # a model_copy (the CLI's --seed, the chosen scale) re-derives: nothing to keep in step
    chosen = sc.model_copy(update={"seed": 8, "time_scale": 25.0})
    assert (chosen.mock_config.seed, chosen.mock_config.time_scale) == (8, 25.0)


@pytest.mark.parametrize("field", ["seed", "time_scale"])
def test_a_scenarios_provider_section_may_not_set_a_setting_the_scenario_owns(
    tmp_path: Path, field: str
) -> None:
    path = _file(tmp_path, extra=f"  {field}: 4")
    for load in (load_scenario, load_provider_config):  # stampede run, stampede serve --config
        with pytest.raises(ConfigError) as err:
            load(path)
        [(where, message)] = err.value.problems
        assert where == f"provider.{field}"
        assert f"the scenario's own {field} owns it" in message


def test_a_standalone_provider_config_keeps_its_seed_and_time_scale(tmp_path: Path) -> None:
    path = tmp_path / "provider.yaml"
    path.write_text("seed: 4\ntime_scale: 3\nmodels:\n  gpt-4o-mini: {rpm: 60}\n")
    cfg = load_provider_config(path)
    assert (cfg.seed, cfg.time_scale, cfg.models["gpt-4o-mini"].rpm) == (4, 3.0, 60)


@pytest.mark.parametrize("scale", [10, "auto"])
def test_serving_a_scenario_file_gives_the_mock_what_the_scenario_derives(
    tmp_path: Path, scale: object
) -> None:
    """``stampede run`` starts its mock on the run folder's scenario.yaml: the same config."""
    path = _file(tmp_path, seed=6, scale=scale)
    assert load_provider_config(path) == load_scenario(path).mock_config


def test_a_strategys_world_draws_what_any_worker_of_it_draws(tmp_path: Path) -> None:
    """Built twice (two Locust workers, or a worker and the virtual driver), a strategy's
    world gives each request the same stream of draws and the same traffic."""
    sc = load_scenario(_file(tmp_path))
    one, two = strategy_world(sc, "jitter"), strategy_world(sc, "jitter")
    assert one.workload == two.workload
    assert one.brain is not None and two.brain is not None
    for seq in (0, 1, 17):
        a, b = one.brain.draws(seq), two.brain.draws(seq)
        assert [a.random() for _ in range(5)] == [b.random() for _ in range(5)]
    assert one.brain.draws(0).random() != one.brain.draws(1).random()


def test_no_driver_builds_a_brain_or_a_strategys_traffic_on_its_own() -> None:
    """The world is built in simulator/world.py only. (``stampede check``'s checklist probes a
    client config with scripted outcomes: no scenario, no traffic, its own generator.)"""
    allowed = {"simulator/world.py", "simulator/check/checklist.py"}
    found = set()
    for path in (ROOT / "simulator").rglob("*.py"):
        text = path.read_text()
        if re.search(r"ClientBrain\(|build_workload\(laid_out\(", text):
            found.add(str(path.relative_to(ROOT)))
    assert found <= allowed, sorted(found - allowed)
