"""``stampede run --master``: Locust's master per strategy, its workers started apart.

With ``--workers N`` Locust forks its workers on this host (``--processes N``); with
``--master`` it forks none and waits for N that ``stampede worker`` started, here or on other
hosts (Locust's ``--expect-workers``). Every strategy gets a master on the same address, so
one ``stampede worker`` serves the whole run (``worker.py``). The orchestrator waits for the
workers itself, bounded, to say how many came and how to start the others.
"""

from __future__ import annotations

import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from simulator.live.start import connected_count
from simulator.live.stopping import StopRequests
from simulator.run_folder import RunError

__all__ = ["DEFAULT_MASTER_PORT", "MasterMode"]

DEFAULT_MASTER_PORT = 5557  # Locust's
WORKERS_WAIT_S = 60.0
ANY_INTERFACE = ("", "*", "0.0.0.0", "::")


@dataclass(frozen=True)
class MasterMode:
    """Where the master listens, and how long it waits for its workers each strategy."""

    bind_host: str = "127.0.0.1"
    port: int = DEFAULT_MASTER_PORT
    wait_s: float = WORKERS_WAIT_S

    def locust_args(self, workers: int) -> list[str]:
        return [
            "--master", "--expect-workers", str(workers),
            "--master-bind-host", self.bind_host, "--master-bind-port", str(self.port),
        ]  # fmt: skip

    def worker_command(self) -> str:
        """What to run on a worker host."""
        host = socket.gethostname() if self.bind_host in ANY_INTERFACE else self.bind_host
        port = "" if self.port == DEFAULT_MASTER_PORT else f" --master-port {self.port}"
        return f"stampede worker --master-host {host}{port}"

    def await_workers(
        self,
        start_dir: Path,
        workers: int,
        proc: subprocess.Popen[bytes],
        stops: StopRequests,
        poll_s: float = 0.05,
    ) -> None:
        """Wait until ``workers`` have connected to the master (it writes the count to the
        start folder); return early when the master exited or a stop came (the caller sees
        to both); RunError past ``wait_s``."""
        deadline = time.monotonic() + self.wait_s
        while connected_count(start_dir) < workers:
            if proc.poll() is not None or stops.requested:
                return
            if time.monotonic() > deadline:
                raise RunError(
                    f"waiting for {workers} worker{'s' if workers != 1 else ''}: "
                    f"{connected_count(start_dir)} connected after {self.wait_s:g} s; start "
                    f"them with: {self.worker_command()}"
                )
            time.sleep(poll_s)
