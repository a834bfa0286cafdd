"""Calling an app strategy's function from a Locust process (gevent), sync or async.

A sync function is called in the request's own greenlet: Locust monkey-patches the standard
library before anything else is imported, so a blocking SDK (the openai and anthropic SDKs
over httpx, ``requests``) yields to the other requests while it waits on a socket or sleeps.

An async function runs on **one asyncio event loop per Locust process**, itself running in a
greenlet (its selector is gevent's, so it waits cooperatively): each call is submitted with
``run_coroutine_threadsafe`` and its greenlet waits on the future. Why one loop, not one per
call: an async client built at import time (``client = AsyncOpenAI()``) keeps a connection
pool bound to the loop that first used it, and a pool used from a second loop fails
("Event loop is closed"); with one loop, such a module works unchanged, and many calls are in
flight on it at once. A call cut by the run (the drain ended) cancels its coroutine.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from typing import Any

import gevent

__all__ = ["AppCaller"]


class AppCaller:
    """Calls ``fn(request)`` and returns what it returns, or raises what it raises."""

    def __init__(self, fn: Callable[..., Any]) -> None:
        self.fn = fn
        self.is_async = inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(
            getattr(fn, "__call__", None)  # noqa: B004 - an instance with an async __call__
        )
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: gevent.Greenlet | None = None

    def __call__(self, request: Any) -> Any:
        if not self.is_async:
            result = self.fn(request)
            if inspect.isawaitable(result):  # a sync wrapper that returned a coroutine
                return self._await(result)
            return result
        return self._await(self.fn(request))

    def _await(self, awaitable: Any) -> Any:
        loop = self._event_loop()
        future = asyncio.run_coroutine_threadsafe(_as_coroutine(awaitable), loop)
        try:
            return future.result()
        except gevent.GreenletExit:  # the run cut this call: stop the coroutine too
            loop.call_soon_threadsafe(future.cancel)
            raise

    def _event_loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            self._loop = asyncio.new_event_loop()
            self._runner = gevent.spawn(self._loop.run_forever)
        return self._loop

    def close(self) -> None:
        """Stop the event loop (if one was started); calls still pending are cancelled."""
        loop, self._loop = self._loop, None
        if loop is not None:
            loop.call_soon_threadsafe(loop.stop)
            if self._runner is not None:
                self._runner.join(timeout=1.0)
                self._runner.kill()


async def _as_coroutine(awaitable: Any) -> Any:
    return await awaitable
