"""Import an app strategy's function, and check that it imports before anything starts.

:func:`load_app` is what each Locust process does, after setting the SDK environment: put the
app's ``path`` first on ``sys.path``, import the module, follow the attribute path, check
that the result is callable. :func:`check_apps` does the same in a child process, once per app
strategy, when ``stampede run`` validates a scenario: a broken import is a config error (exit
2, naming ``strategies.<name>.app``) before the mock or Locust starts, and the import's
duration is measured, so the run gives the Locust processes time to import it before t=0.

Why a child process: the user's module runs code at import (it may build clients, patch
libraries, or take seconds, as LiteLLM does), and the ``stampede`` process that orchestrates
the run must stay free of it; the child imports under gevent's monkey-patching, as Locust's
processes will. It sees the SDK variables pointing at a closed loopback port, so an import
that calls the API fails fast and says so.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from typing import Any

from simulator.apps.request import sdk_environment

__all__ = ["CHECK_TIMEOUT_S", "AppLoadError", "app_problems", "check_app", "load_app"]

CHECK_TIMEOUT_S = 90.0  # an import that takes longer is an error of its own
NO_MOCK_HOST = "http://127.0.0.1:9"  # the discard port: nothing listens, a call fails at once


class AppLoadError(Exception):
    """The app cannot be loaded; ``str()`` says why, in one line."""


def load_app(spec: str, path: str) -> Callable[..., Any]:
    """The callable ``spec`` (``"module:attr.path"``) names, imported with ``path`` first on
    ``sys.path``. Set the SDK environment before calling this."""
    module_name, _, attr_path = spec.partition(":")
    if path not in sys.path:
        sys.path.insert(0, path)
    try:
        obj: Any = importlib.import_module(module_name)
    except Exception as exc:  # any error the module's own code raised while importing
        raise AppLoadError(
            f"cannot import {module_name!r} (from {path}): {type(exc).__name__}: {exc}"
        ) from exc
    for part in attr_path.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise AppLoadError(f"{module_name!r} has no attribute {attr_path!r}") from None
    if not callable(obj):
        raise AppLoadError(f"{spec!r} is a {type(obj).__name__}, not a function")
    return obj


def check_app(spec: str, path: str, api_key: str) -> tuple[str | None, float]:
    """(why it cannot be loaded, or None; the import's wall seconds), from a child process."""
    env: Mapping[str, str] = {**os.environ, **sdk_environment(NO_MOCK_HOST, api_key)}
    cmd = [sys.executable, "-m", "simulator.apps.loading", spec, path]
    try:
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=CHECK_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return f"importing {spec!r} took over {CHECK_TIMEOUT_S:.0f} s", CHECK_TIMEOUT_S
    lines = proc.stdout.strip().splitlines()
    try:
        result = json.loads(lines[-1])
    except (IndexError, ValueError):
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return f"the import check of {spec!r} failed: {last}", 0.0
    return result.get("error"), float(result.get("import_s", 0.0))


def app_problems(
    apps: Mapping[str, Any],
    virtual: bool = False,
    target: str | None = None,
    time_scale: float | str = 1.0,
) -> tuple[list[tuple[str, str]], dict[str, float]]:
    """(field path, what is wrong) for each app strategy (``AppConfig`` by name) that cannot
    run, and each loadable app's import seconds. An app runs only live, against the mock
    ``stampede run`` starts (its attempts come from that mock's journal), and at time scale
    1: its own waits (an SDK's backoff, a ``time.sleep``) are wall seconds, which a faster
    scenario clock would stretch."""
    problems: list[tuple[str, str]] = []
    import_s: dict[str, float] = {}
    if apps and not virtual and time_scale != 1.0:
        names = ", ".join(apps)
        problems.append(("time_scale", f"is {time_scale}, and app strategies ({names}) run "
                         "at 1: their own waits are wall seconds; set time_scale: 1 "
                         "(or --time-scale 1)"))  # fmt: skip
    for name, app in apps.items():
        if virtual:
            problems.append((f"strategies.{name}", "an app strategy calls the mock over HTTP "
                             "and cannot run in virtual time: drop --virtual, or leave it out "
                             "with --strategies"))  # fmt: skip
            continue
        if target is not None:
            problems.append((f"strategies.{name}", "an app strategy's attempts are read from "
                             "the journal of the mock stampede starts: drop --target"))  # fmt: skip
            continue
        error, took = check_app(app.app, app.path, app.api_key)
        if error is not None:
            problems.append((f"strategies.{name}.app", error))
        else:
            import_s[name] = took
    return problems, import_s


def _main(argv: list[str]) -> int:
    """``python -m simulator.apps.loading SPEC PATH``: one JSON line, ``{"error", "import_s"}``."""
    from gevent import monkey

    monkey.patch_all()  # as Locust does before it imports anything of the app's
    spec, path = argv
    started = time.perf_counter()
    try:
        load_app(spec, path)
        error = None
    except AppLoadError as exc:
        error = str(exc)
    except BaseException as exc:  # SystemExit or worse from the module's own code
        error = f"importing {spec!r} raised {type(exc).__name__}: {exc}"
    took = time.perf_counter() - started
    print(json.dumps({"error": error, "import_s": round(took, 3)}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
