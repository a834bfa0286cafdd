"""A strategy's world: the traffic it faces, the catalogue it reads and its client brain.

Every driver builds it here and nowhere else: the virtual driver (and ``stampede check`` and
``sweep``, which run it), each Locust process of a live run whatever the worker count, and
the attribution of an app strategy's calls. So one scenario and seed give every driver the
same requests and the same draws.

Why the draws do not depend on the worker: the brain's generator is seeded from the scenario's
seed and the strategy's name only, and it draws just once, the seed of the per-request
streams (:class:`mock_provider.model.randomness.RequestRandom`, keyed by the request's
number). Every wait a request sleeps comes from its own stream, so share i of N draws, for each
of its requests, what a one-process run draws for it: ``--workers N``, ``--master`` and
``--virtual`` pick the same jitter. (The ``:0`` that ends the recipe is where a worker's
number once went; it stays so a virtual run replays the traces it gave before.)
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from mock_provider.model.catalog import ModelSpec, build_catalog
from simulator.client.engine import ClientBrain
from simulator.config import Scenario
from simulator.workload import Workload, build_workload, laid_out

__all__ = ["StrategyWorld", "brain_rng", "strategy_world"]


@dataclass(frozen=True)
class StrategyWorld:
    """What one strategy runs against. ``brain`` is None for an app strategy: the user's
    code decides its retries."""

    workload: Workload
    catalog: dict[str, ModelSpec]
    brain: ClientBrain | None


def brain_rng(sc: Scenario, strategy: str) -> random.Random:
    """The brain's generator: the scenario's seed and the strategy's name, never a worker."""
    return random.Random(f"{sc.seed}:{strategy}:0")


def strategy_world(sc: Scenario, strategy: str) -> StrategyWorld:
    """``strategy``'s world in ``sc``: the scenario's traffic with the strategy's own prompt
    layout if it sets one, the mock's catalogue, and a fresh client brain (every logical
    request of the strategy, in any process, draws from it as if from one)."""
    config = sc.strategies[strategy]
    workload = build_workload(laid_out(sc.workload, config.prompt_layout), sc.seed, sc.duration)
    catalog = build_catalog(sc.provider)
    client = sc.clients.get(strategy)
    brain = None if client is None else ClientBrain(client, catalog, brain_rng(sc, strategy))
    return StrategyWorld(workload, catalog, brain)
