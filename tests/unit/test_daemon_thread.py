"""Blocking work on a daemon thread: awaited like ``asyncio.to_thread``, never waited for at
exit (the counter app's ctrl+q must not hang on a scan-key request over a dead link)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from field_client.daemon_thread import in_daemon_thread


async def test_the_result_and_the_exception_come_back_to_the_awaiting_coroutine():
    caller = threading.get_ident()
    assert await in_daemon_thread(threading.get_ident, name="t") != caller
    with pytest.raises(ValueError, match="rusak"):
        await in_daemon_thread(lambda: int("rusak"), name="t")


async def test_a_cancelled_await_drops_the_result_quietly():
    release, finished = threading.Event(), threading.Event()

    def slow() -> str:
        release.wait(30)
        finished.set()
        return "terlambat"

    loop = asyncio.get_running_loop()
    errors: list[dict] = []
    loop.set_exception_handler(lambda _loop, context: errors.append(context))
    task = asyncio.ensure_future(in_daemon_thread(slow, name="t"))
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    release.set()
    assert await asyncio.to_thread(finished.wait, 10)
    await asyncio.sleep(0.1)  # the thread's report has run on the loop by now
    assert errors == []


def test_the_process_exits_while_the_thread_still_blocks():
    script = textwrap.dedent(
        """
        import asyncio, threading
        from field_client.daemon_thread import in_daemon_thread

        async def main():
            work = asyncio.ensure_future(
                in_daemon_thread(lambda: threading.Event().wait(60), name="dead-link")
            )
            await asyncio.sleep(0.2)
            work.cancel()

        asyncio.run(main())
        print("closed")
        """
    )
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=50
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "closed"
    assert time.monotonic() - started < 30  # not the thread's 60 s
