"""A private asyncio loop on a thread for Playwright.

Playwright talks to its driver through an asyncio subprocess, which Qt's qasync loop does
not implement; so the TradingView engine keeps its pages on a loop of its own, and any
caller's loop (the CLI's asyncio.run, the GUI's qasync) awaits it. Cancelling the caller's
task cancels the work on this loop.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


class LoopThread:
    def __init__(self, name: str = "tvdesk-browser") -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._main, name=name, daemon=True)
        self._thread.start()

    def _main(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_forever()
        self._loop.run_until_complete(self._loop.shutdown_asyncgens())
        self._loop.close()

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        return self._loop

    async def call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run `coroutine` on this thread's loop and await its result from any loop.

        Unlike `asyncio.wrap_future`, the result is handed back only while the caller's loop
        is alive: a caller that was cancelled and whose loop has ended is simply forgotten.
        """
        future = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        caller = asyncio.get_running_loop()
        waiter: asyncio.Future[T] = caller.create_future()

        def settle(done: concurrent.futures.Future[T]) -> None:
            if waiter.done():
                return
            if done.cancelled():
                waiter.cancel()
            elif done.exception() is not None:
                waiter.set_exception(done.exception())  # type: ignore[arg-type]
            else:
                waiter.set_result(done.result())

        def handback(done: concurrent.futures.Future[T]) -> None:
            with contextlib.suppress(RuntimeError):  # the caller's loop is closed
                caller.call_soon_threadsafe(settle, done)

        future.add_done_callback(handback)
        try:
            return await waiter
        except asyncio.CancelledError:
            future.cancel()
            raise

    def stop(self) -> None:
        if self._loop.is_running():
            self._loop.call_soon_threadsafe(self._loop.stop)
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout=10)
