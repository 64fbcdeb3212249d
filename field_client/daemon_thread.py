"""Blocking work the app awaits but never waits for at exit.

``asyncio.to_thread`` and every ``ThreadPoolExecutor`` thread are joined when the app
closes (``asyncio.run`` shuts the default executor down; ``concurrent.futures`` joins its
workers at interpreter exit). For a request on a dead link that means ctrl+q hangs until
its deadline. :func:`in_daemon_thread` runs the call on a daemon thread of its own instead:
the awaiting coroutine can be cancelled, and the process can exit, while it still runs.
Use it only for work whose interruption at exit leaves nothing half-done (a SQLite
transaction not committed is rolled back).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import TypeVar

__all__ = ["in_daemon_thread"]

T = TypeVar("T")


async def in_daemon_thread(call: Callable[[], T], *, name: str) -> T:
    """The result of ``call()`` run on a new daemon thread (its exception re-raised here).
    Cancelling the await leaves the thread to finish; its result is then dropped."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def settle(result: T | None, error: BaseException | None) -> None:
        if future.done():  # cancelled meanwhile: nobody wants it
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)  # type: ignore[arg-type]

    def run() -> None:
        result: T | None = None
        error: BaseException | None = None
        try:
            result = call()
        except BaseException as exc:  # handed to the awaiting coroutine
            error = exc
        try:
            loop.call_soon_threadsafe(settle, result, error)
        except RuntimeError:  # the loop is closed: the app has exited
            pass

    threading.Thread(target=run, name=name, daemon=True).start()
    return await future
