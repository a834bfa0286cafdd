"""Locust entry point for live runs: ``locust -f simulator/live/locustfile.py``.

``stampede run`` starts Locust with this file, as a master with ``--workers N`` or
``--master``; ``stampede worker`` starts Locust workers on it, on this host or others (it can
also be used by hand with Locust's own ``--master`` / ``--worker`` flags: see the README).
Each Locust process (standalone, or one per worker) runs one :class:`StampedeUser`, which
fires its share of the scenario's arrivals open-loop: a burst really is N requests at once.
Its share's world (traffic, catalogue, client brain) is built as the virtual driver builds it
(``simulator/world.py``), so a request draws the same waits whichever process runs it.
Workers ship their trace records to the master with Locust messages, so traces from every
host end up in the master's run directory; they get their share's number, say ready and
learn t=0 in messages too (``messages.py``), so a worker needs no file of the run's.

A Locust worker exits when its master quits, and ``stampede run`` starts one master per
strategy: a worker's exit code tells ``stampede worker`` (``worker.py``) whether to start
another for the next strategy or that the run is over.

Stopping: the orchestrator sends SIGUSR1 (:data:`STOP_SIGNAL`) to Locust (the master), and
the stop order runs before anything closes: the driver stops new arrivals, attempts and
waits, attempts in flight finish (``STOP_GRACE_S`` at most), their records are written (a
worker's are sent to the master, which waits for every worker's last batch); then the runner
quits as at a normal end, and the writer is closed last. SIGTERM or Ctrl-C to Locust itself
run the same order from Locust's ``quitting`` event (a Ctrl-C may land in an attempt in
flight, though: see :func:`_on_stop_signal`).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import gevent
import yaml
from gevent.event import AsyncResult, Event
from locust import FastHttpUser, events, task
from locust.exception import StopUser
from locust.runners import STATE_INIT, MasterRunner, WorkerRunner

from mock_provider.clock import WallClock
from simulator.apps.calling import AppCaller
from simulator.apps.calls import AppCall, calls_path
from simulator.apps.loading import load_app
from simulator.apps.request import AppRequest, app_request, sdk_environment
from simulator.config import Scenario
from simulator.live.app_driver import AppDriver
from simulator.live.driver import LiveDriver
from simulator.live.messages import (
    CALLS_MSG,
    DONE_MSG,
    EPOCH_MSG,
    SHARE_MSG,
    STOP_MSG,
    TRACE_MSG,
    MessageSink,
    ask_share,
    hand_out_shares,
    hear_epoch,
    stand_in_for_workers,
    worker_exit_code,
)
from simulator.live.orchestrate import reset_target
from simulator.live.start import await_start
from simulator.live.stopping import STOP_GRACE_S
from simulator.live.timing import expected_concurrency
from simulator.live.transport import LocustTransport
from simulator.traces import TraceRecord, TraceWriter
from simulator.workload import LogicalRequest
from simulator.world import strategy_world

STOP_SIGNAL = signal.SIGUSR1  # from the orchestrator (see _on_stop_signal)
FLUSH_EVERY_S = 0.25
STARTUP_S = 3.0
WARM_UP_S = 5.0  # wall seconds for opening connections before reporting ready
START_WAIT_S = 180.0  # wall seconds to wait for t=0 once ready (the orchestrator waits 120)
# After the grace period the driver cuts what is still in flight; this is for writing and
# shipping the last records (a worker's batch crosses a socket to the master).
STOP_MARGIN_S = 5.0


@events.init_command_line_parser.add_listener
def _add_arguments(parser: Any) -> None:
    group = parser.add_argument_group("llm-stampede")
    group.add_argument("--stampede-run-dir", default="", help="run directory (scenario.yaml)")
    group.add_argument("--stampede-strategy", default="", help="strategy name to run")
    group.add_argument("--stampede-workers", type=int, default=1, help="worker processes in all")
    group.add_argument(
        "--stampede-epoch",
        type=float,
        default=0.0,
        help="wall time (time.time()) of scenario t=0; 0 = a moment from now",
    )
    group.add_argument(
        "--stampede-start-dir",
        default="",
        help="folder for the start handshake: each process writes ready-<worker> once its share "
        "is built, then waits for the file epoch (scenario t=0, a time.time()); overrides "
        "--stampede-epoch",
    )
    group.add_argument(
        "--stampede-last",
        action="store_true",
        help="the run's last strategy: its workers exit when it ends (stampede worker)",
    )
    group.add_argument("--stampede-scenario-yaml", default="", help=argparse.SUPPRESS)


class _Run:
    """Per-process state, set up once Locust has parsed its options."""

    writer: TraceWriter | None = None
    calls_writer: TraceWriter | None = None  # an app strategy's calls (master, standalone)
    done_workers: int = 0
    scenario: Scenario | None = None
    driver: LiveDriver | None = None
    stop_requested: bool = False
    share_done = Event()  # this process's share ended and its records are written or sent
    workers_done = Event()  # master: every worker sent its last batch
    epoch = AsyncResult()  # worker: scenario t=0, from the master
    share = AsyncResult()  # worker: its share's number (or None: none left), from the master
    run_over: bool = False  # worker: the master stopped the whole run


RUN = _Run()


def scenario_of(opts: Any) -> Scenario:
    """The scenario the master read, carried in Locust's options (workers need no file)."""
    if RUN.scenario is None:
        RUN.scenario = Scenario.model_validate(yaml.safe_load(opts.stampede_scenario_yaml))
    return RUN.scenario


@events.init.add_listener
def _on_init(environment: Any, **_: Any) -> None:
    opts = environment.parsed_options
    runner = environment.runner
    # Locust fires ``quitting`` listeners last-registered first, and the runner, created just
    # before this event, registered one that quits every worker (or, on a worker, tells the
    # master it quits): registered again now, the stop order runs before it.
    environment.events.quitting.remove_listener(_on_quit)
    environment.events.quitting.add_listener(_on_quit)
    if isinstance(runner, WorkerRunner):
        runner.register_message(STOP_MSG, _on_master_stop)
        runner.register_message(EPOCH_MSG, lambda msg, **_: RUN.epoch.set(msg.data["epoch"]))
        runner.register_message(SHARE_MSG, lambda msg, **_: RUN.share.set(msg.data["share"]))
        return  # a worker learns everything from the master's options when it is spawned
    if opts is None:
        return
    if not opts.stampede_run_dir:
        return
    gevent.signal_handler(STOP_SIGNAL, _on_stop_signal, environment)
    run_dir = Path(opts.stampede_run_dir)
    opts.stampede_scenario_yaml = (run_dir / "scenario.yaml").read_text()
    scenario_of(opts)  # fail here, not in a worker, if it does not validate
    if not opts.stampede_epoch and not opts.stampede_start_dir:
        # started by hand: t=0 a moment from now, mock reset to it
        opts.stampede_epoch = time.time() + STARTUP_S
        if not reset_target(environment.host, opts.stampede_epoch):
            logging.warning(
                "%s has no stampede reset endpoint; its clock is its own", environment.host
            )
    RUN.writer = TraceWriter(run_dir / "traces.jsonl")
    if opts.stampede_strategy in scenario_of(opts).apps:
        RUN.calls_writer = TraceWriter(calls_path(run_dir, opts.stampede_strategy))
    if isinstance(runner, MasterRunner):

        def on_traces(msg: Any, **_: Any) -> None:
            assert RUN.writer is not None
            for line in msg.data["lines"]:
                RUN.writer.write_line(line)

        def on_calls(msg: Any, **_: Any) -> None:
            assert RUN.calls_writer is not None
            for line in msg.data["lines"]:
                RUN.calls_writer.write_line(line)

        def on_done(msg: Any, **_: Any) -> None:
            RUN.done_workers += 1
            # N workers have shares; one more connected (stampede worker) has none to end
            if RUN.done_workers >= min(runner.worker_count, opts.stampede_workers):
                RUN.workers_done.set()
                if not RUN.stop_requested:  # a stop's shutdown is already under way
                    gevent.spawn_later(0.2, runner.quit)

        runner.register_message(TRACE_MSG, on_traces)
        runner.register_message(CALLS_MSG, on_calls)
        runner.register_message(DONE_MSG, on_done)
        hand_out_shares(runner, opts.stampede_workers)
        if opts.stampede_start_dir:
            stand_in_for_workers(runner, Path(opts.stampede_start_dir), _stopped, START_WAIT_S)


def _on_master_stop(environment: Any, msg: Any, **_: Any) -> None:
    """A worker: the master stops this strategy, and with it the run if it says so. One
    that was given no share yet (the master still waited for others) has nothing to send."""
    RUN.run_over = RUN.run_over or bool((msg.data or {}).get("run_over"))
    _request_stop()
    if not getattr(environment.parsed_options, "stampede_strategy", ""):
        environment.runner.send_message(DONE_MSG, {"worker": environment.runner.worker_index})


def _await_t0(runner: Any, opts: Any, worker: int, clock: WallClock) -> None:
    """Ready (share built, connections open, an app imported): wait for t=0 and set
    ``clock`` to it (simulator/live/start.py); a stop first leaves the clock as it is.
    A worker says so to its master and hears back from it: it may be on another host."""
    if isinstance(runner, WorkerRunner):
        epoch = hear_epoch(runner, worker, RUN.epoch, _stopped, START_WAIT_S)
    else:
        epoch = await_start(
            Path(opts.stampede_start_dir), worker, _stopped, START_WAIT_S, gevent.sleep,
        )  # fmt: skip
    if epoch is not None:
        clock.reset(epoch)


def _stopped() -> bool:
    return RUN.stop_requested


def _request_stop() -> None:
    """No new arrivals, attempts or waits in this process (also before its share starts)."""
    RUN.stop_requested = True
    if RUN.driver is not None:
        RUN.driver.stop()


def _stop_and_wait(environment: Any, run_over: bool = False) -> None:
    """Stop this process's share (a master: every worker's, telling them whether the whole
    run stops) and wait until its last records are written or shipped. Idempotent: at a
    normal end there is nothing to wait for."""
    runner = environment.runner
    wait_s = STOP_GRACE_S + STOP_MARGIN_S
    if isinstance(runner, MasterRunner):
        RUN.stop_requested = True
        if runner.worker_count and not RUN.workers_done.is_set():
            runner.send_message(STOP_MSG, {"run_over": run_over})
            if not RUN.workers_done.wait(wait_s):
                logging.warning("stop: not every worker sent its last records in %.0f s", wait_s)
    else:
        _request_stop()
        if RUN.driver is not None and not RUN.share_done.wait(wait_s):
            logging.warning("stop: the run did not end in %.0f s", wait_s)


def _on_stop_signal(environment: Any) -> None:
    """SIGUSR1, the orchestrator's stop: the stop order, then quit as a finished run does.

    Locust's own SIGTERM shutdown runs in a greenlet and exits from there, racing its CSV
    statistics writer against the closing of its files; on SIGINT, Python raises
    KeyboardInterrupt in whichever greenlet is running, which may be an attempt in flight.
    Here the run is stopped first and Locust then shuts down from its main greenlet.
    The orchestrator sends it only to end the run (a stop, or an error): no strategy follows.
    """
    _stop_and_wait(environment, run_over=True)
    runner = environment.runner
    waiting = isinstance(runner, MasterRunner) and runner.state == STATE_INIT
    runner.quit()
    if waiting:  # Locust's main greenlet still waits for workers: nothing ran, leave now
        sys.exit(0)


@events.quitting.add_listener
def _on_quit(environment: Any, **_: Any) -> None:
    """The stop order (see the module docstring), then the writer is closed.

    Locust fires ``quitting`` before it stops its users, and may fire it twice (a signal's
    shutdown, then the main greenlet's): every step is idempotent.
    """
    _stop_and_wait(environment)
    for writer in (RUN.writer, RUN.calls_writer):
        if writer is not None:
            writer.close()
    if isinstance(environment.runner, WorkerRunner):
        environment.process_exit_code = worker_exit_code(environment.parsed_options, RUN.run_over)


class StampedeUser(FastHttpUser):
    """Runs this process's share of one strategy's logical requests, then stops the run."""

    concurrency = 4096  # open-loop: a burst needs a connection per request in flight
    max_retries = 0

    def __init__(self, environment: Any) -> None:
        opts = environment.parsed_options
        sc = scenario_of(opts)
        self.strategy = opts.stampede_strategy or next(iter(sc.strategies))
        client = sc.clients.get(self.strategy)
        if client is not None:  # an app strategy makes its own connections
            clock = WallClock(sc.scale)  # only to convert: each run's own clock is in run_share
            self.connection_timeout = clock.wall(client.timeouts.connect_s)
            self.network_timeout = clock.wall(client.timeouts.read_s)
        super().__init__(environment)

    @task
    def run_share(self) -> None:
        runner = self.environment.runner
        opts = self.environment.parsed_options
        sc = scenario_of(opts)
        worker: int | None = 0
        if isinstance(runner, WorkerRunner):
            worker = ask_share(runner, RUN.share, _stopped, START_WAIT_S)
        if worker is None:
            logging.error("more workers asked for a share than there are shares")
            runner.send_message(DONE_MSG, {"worker": -1})
            raise StopUser()
        workers = opts.stampede_workers if isinstance(runner, WorkerRunner) else 1
        world = strategy_world(sc, self.strategy)
        workload = world.workload
        mine_open = [r for r in workload.open_loop if r.seq % workers == worker]
        mine_closed = [u for i, u in enumerate(workload.closed_loop) if i % workers == worker]
        clock = WallClock(sc.scale, opts.stampede_epoch or time.time())
        if self.strategy in sc.apps:
            self._run_app_share(sc, clock, worker, mine_open, mine_closed)
            raise StopUser()
        brain = world.brain
        assert brain is not None  # an app strategy's share ran above
        sink: Any = RUN.writer
        flusher = None
        if isinstance(runner, WorkerRunner):
            sink = MessageSink(runner)

            def flush_forever() -> None:
                while True:
                    gevent.sleep(FLUSH_EVERY_S)
                    sink.flush()

            flusher = gevent.spawn(flush_forever)
        transport = LocustTransport(self.client, clock)
        # Connections for the busiest moment of this share, opened before t=0.
        busiest = -(-expected_concurrency(sc, workload) // workers)
        if opts.stampede_start_dir:
            transport.warm_up(busiest, WARM_UP_S)
            _await_t0(runner, opts, worker, clock)
        else:
            transport.warm_up(busiest, max(0.0, clock.wall_until(0.0) - 0.1))

        def on_request(rec: TraceRecord) -> None:
            self.environment.events.request.fire(
                request_type="LOGICAL",
                name=self.strategy,
                response_time=clock.wall(rec.latency_ms),  # wall ms, as Locust counts
                response_length=0,
                exception=None if rec.success else Exception(rec.error),
                context={},
            )

        driver = LiveDriver(
            brain, transport, clock, sink, self.strategy, worker, on_request, STOP_GRACE_S
        )
        RUN.driver = driver
        if RUN.stop_requested:  # the stop came before this share started
            driver.stop()
        try:
            driver.stop_signal.sleep(clock.wall_until(0.0))
            driver.run_schedule(mine_open, mine_closed, sc.duration + sc.drain)
        finally:
            if flusher is not None:
                flusher.kill()
                sink.flush()
                runner.send_message(DONE_MSG, {"worker": worker})
            elif not RUN.stop_requested:  # a stop's shutdown quits the runner itself
                gevent.spawn_later(0.1, runner.quit)
            RUN.share_done.set()
        raise StopUser()

    def _run_app_share(
        self,
        sc: Scenario,
        clock: WallClock,
        worker: int,
        mine_open: list[LogicalRequest],
        mine_closed: list[tuple[LogicalRequest, ...]],
    ) -> None:
        """This process's share of an app strategy: the SDK environment set, the app
        imported (both before t=0), one call per logical request (simulator/live/app_driver)."""
        runner = self.environment.runner
        app = sc.apps[self.strategy]
        host = self.environment.host.rstrip("/").removesuffix("/v1")
        os.environ.update(sdk_environment(host, app.api_key))
        # Imported in a native thread: a module that takes seconds to import (LiteLLM does)
        # would otherwise hold the gevent hub, and a worker that sends no heartbeat for 3 s
        # is dropped by the master, which stops the run. (Checked by `stampede run` already.)
        fn = gevent.get_hub().threadpool.apply(load_app, (app.app, app.path))
        if self.environment.parsed_options.stampede_start_dir:
            _await_t0(runner, self.environment.parsed_options, worker, clock)
        caller = AppCaller(fn)
        fallback = tuple(app.fallback)

        def make_request(req: LogicalRequest) -> AppRequest:
            return app_request(req, self.strategy, host, app.api_key, app.stream, fallback)

        sink: Any = RUN.calls_writer
        flusher = None
        if isinstance(runner, WorkerRunner):
            sink = MessageSink(runner, CALLS_MSG)

            def flush_forever() -> None:
                while True:
                    gevent.sleep(FLUSH_EVERY_S)
                    sink.flush()

            flusher = gevent.spawn(flush_forever)

        def on_call(call: AppCall) -> None:
            self.environment.events.request.fire(
                request_type="APP",
                name=self.strategy,
                response_time=clock.wall((call.t - call.start_t) * 1000.0),
                response_length=0,
                exception=None if call.success else Exception(call.error),
                context={},
            )

        driver = AppDriver(caller, make_request, clock, sink, worker, on_call, STOP_GRACE_S)
        RUN.driver = driver
        if RUN.stop_requested:
            driver.stop()
        try:
            driver.stop_signal.sleep(clock.wall_until(0.0))
            driver.run_schedule(mine_open, mine_closed, sc.duration + sc.drain)
        finally:
            caller.close()
            if flusher is not None:
                flusher.kill()
                sink.flush()
                runner.send_message(DONE_MSG, {"worker": worker})
            elif not RUN.stop_requested:
                gevent.spawn_later(0.1, runner.quit)
            RUN.share_done.set()
