"""``kk-server`` with measurements added from the outside, switched on and off by signals.

::

    KK_PROFILE_MODE=stages|cprofile python benchmarks/profiled_server.py OUT.json [kk-server args]

Runs :func:`sync_server.cli.main` unchanged (nothing in ``sync_server`` is edited); before it
starts, this module wraps a few functions of the push path. Two modes:

``stages`` (default)
    Stage timers around the steps of a push (request signature check, gzip, ``json.loads``,
    event parsing, application parsing, canonical JSON, Ed25519, readiness, storing, SQLite
    statements, the response model), measuring each call's own thread CPU time and wall time,
    nested calls subtracted. A handful of wrapped calls per event, so the figures are those of
    the real server within a few per cent, under any concurrency (thread CPU time does not
    count waiting for the GIL). SQLite statements are timed per kind (``COMMIT`` shows what
    ``synchronous=FULL`` costs) and the writer lock of
    :class:`sync_server.storage.db.Database` is timed too (waited, held).
``cprofile``
    cProfile in every thread (event loop and workers), wall clock. Slows Python code several
    times, so only for finding the hottest functions; run it with one counter so no thread
    waits for the GIL.

SIGUSR1 starts the measured window (writes ``OUT.started``); SIGUSR2 ends it and writes the
differences over the window to ``OUT`` as JSON::

    {"mode", "wall_seconds", "process_cpu",
     "stages": {label: {"calls", "cpu", "wall"}},      own time, nested stages excluded
     "top_level_cpu": seconds in outermost stages,      the rest is unmeasured
     "sqlite": {kind: {"count", "seconds"}}, "write_lock": {"waited", "held"},
     "functions": {key: self seconds}}                  cprofile mode only
"""

from __future__ import annotations

import cProfile
import functools
import inspect
import json
import os
import re
import signal
import sqlite3
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

MODE = os.environ.get("KK_PROFILE_MODE", "stages")

_lock = threading.Lock()
_stages: dict[str, list[float]] = {}  # label -> [calls, own cpu, own wall]
_top_level = [0.0]
_sql: dict[str, list[float]] = {}  # kind -> [count, wall seconds]
_writer = {"waited": 0.0, "held": 0.0}
_profiles: list[cProfile.Profile] = []
_local = threading.local()
_window: dict[str, Any] = {}
missing: list[str] = []
"""Functions that could not be wrapped (the server changed): reported in OUT."""


# -- stage timers ---------------------------------------------------------------------------


def _stage(label: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def timed(*args: Any, **kwargs: Any) -> Any:
        stack = _local.__dict__.setdefault("stack", [])
        stack.append([0.0, 0.0])
        cpu0, wall0 = time.thread_time(), time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            cpu, wall = time.thread_time() - cpu0, time.perf_counter() - wall0
            child_cpu, child_wall = stack.pop()
            if stack:
                stack[-1][0] += cpu
                stack[-1][1] += wall
            with _lock:
                entry = _stages.setdefault(label, [0, 0.0, 0.0])
                entry[0] += 1
                entry[1] += cpu - child_cpu
                entry[2] += wall - child_wall
                if not stack:
                    _top_level[0] += cpu

    return timed


def _wrap(owner: Any, name: str, label: str) -> None:
    """Replace ``owner.name`` (a function, or a classmethod of a class) by a timed one."""
    try:
        raw = inspect.getattr_static(owner, name)
    except AttributeError:
        missing.append(f"{getattr(owner, '__name__', owner)}.{name}")
        return
    if isinstance(raw, classmethod):
        setattr(owner, name, classmethod(_stage(label, raw.__func__)))
    else:
        setattr(owner, name, _stage(label, raw))


def _instrument_stages() -> None:
    from protocol import events
    from protocol.application import Application
    from signing import requests as signing_requests  # noqa: F401  (loaded before wrapping)
    from sync_server import schemas
    from sync_server.services import ingest, request_auth

    _wrap(request_auth, "lookup_device", "request check: device lookup")
    _wrap(request_auth, "check_signed_request", "request check: clock, nonce write")
    _wrap(request_auth, "verify_request", "Ed25519 verify (request and events)")
    _wrap(ingest, "decode_body", "gzip inflate")
    _wrap(ingest, "parse_batch", "json.loads of the body")
    _wrap(events.ChangeEvent, "from_wire", "event parsing (from_wire, rest)")
    _wrap(Application, "from_dict", "application parsing (Application.from_dict)")
    for module in (events, ingest):
        _wrap(module, "canonical_json", "canonical JSON (check + dumps)")
    _wrap(events, "sha256_hex", "SHA-256 of events")
    _wrap(ingest, "verify_event", "Ed25519 verify (request and events)")
    _wrap(ingest, "check_batch", "batch checks (rest)")
    _wrap(ingest, "store_batch", "storing: chain, judge, records (rest)")
    _wrap(ingest, "readiness", "readiness rules (submit)")
    _wrap(ingest, "receive_push", "push handler (rest)")
    _wrap(schemas.PushResponse, "model_validate", "response model (pydantic)")


# -- SQLite statements and the writer lock --------------------------------------------------

_TABLE = re.compile(r"\b(?:FROM|INTO|UPDATE)\s+(\w+)", re.IGNORECASE)


def _kind(sql: str) -> str:
    words = sql.split(None, 1)
    verb = words[0].upper() if words else "?"
    table = _TABLE.search(sql)
    return f"{verb} {table.group(1)}" if table else verb


_timed_factories: dict[type, type] = {}


def _timed(factory: type[sqlite3.Connection]) -> type[sqlite3.Connection]:
    """A subclass of the connection class the server asked for, with a timed ``execute``."""
    timed = _timed_factories.get(factory)
    if timed is None:
        execute = factory.execute
        staged_execute = _stage("SQLite statements (CPU)", execute)
        staged_commit = _stage("SQLite COMMIT (CPU)", execute)

        class Timed(factory):  # type: ignore[valid-type, misc]
            def execute(self, sql: str, parameters: Any = (), /) -> sqlite3.Cursor:
                began = time.perf_counter()
                try:
                    if MODE != "stages":
                        return execute(self, sql, parameters)
                    run = staged_commit if sql.lstrip().upper() == "COMMIT" else staged_execute
                    return run(self, sql, parameters)
                finally:
                    seconds = time.perf_counter() - began
                    with _lock:
                        entry = _sql.setdefault(_kind(sql), [0, 0.0])
                        entry[0] += 1
                        entry[1] += seconds

        Timed.__name__ = Timed.__qualname__ = f"Timed{factory.__name__}"
        timed = _timed_factories[factory] = Timed
    return timed


_real_connect = sqlite3.connect


def _connect(*args: Any, **kwargs: Any) -> sqlite3.Connection:
    kwargs["factory"] = _timed(kwargs.get("factory", sqlite3.Connection))
    return _real_connect(*args, **kwargs)


class _TimedLock:
    """Wraps the writer lock: one holder at a time, so the start of the hold fits on self."""

    def __init__(self, lock: Any) -> None:
        self._lock = lock
        self._since = 0.0

    def __enter__(self) -> _TimedLock:
        began = time.perf_counter()
        self._lock.acquire()
        self._since = time.perf_counter()
        _writer["waited"] += self._since - began
        return self

    def __exit__(self, *exc: object) -> None:
        _writer["held"] += time.perf_counter() - self._since
        self._lock.release()


def _instrument_storage() -> None:
    sqlite3.connect = _connect  # type: ignore[assignment]
    from sync_server.storage.db import Database

    original_init = Database.__init__

    @functools.wraps(original_init)
    def init(self: Database, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        if hasattr(self, "_write_lock"):
            self._write_lock = _TimedLock(self._write_lock)  # type: ignore[assignment]
        else:
            missing.append("Database._write_lock")

    Database.__init__ = init  # type: ignore[method-assign]


# -- cProfile in every thread ---------------------------------------------------------------


def _start_profiler() -> None:
    profile = cProfile.Profile()
    with _lock:
        _profiles.append(profile)
    profile.enable()


def _thread_hook(frame: FrameType, event: str, arg: Any) -> None:
    """Installed by ``threading.setprofile``: the first event of every new thread."""
    sys.setprofile(None)
    _start_profiler()


def _key(code: Any) -> str:
    if isinstance(code, str):
        return code
    return f"{code.co_filename}:{code.co_firstlineno}({code.co_name})"


# -- the window -----------------------------------------------------------------------------


def _snapshot() -> dict[str, Any]:
    functions: dict[str, float] = {}
    with _lock:
        profiles = list(_profiles)
        stages = {k: list(v) for k, v in _stages.items()}
        sql = {k: list(v) for k, v in _sql.items()}
        top = _top_level[0]
        writer = dict(_writer)
    for profile in profiles:  # getstats reads under the GIL: consistent per profile
        for entry in profile.getstats():
            key = _key(entry.code)
            functions[key] = functions.get(key, 0.0) + entry.inlinetime
    times = os.times()
    return {
        "wall": time.perf_counter(),
        "cpu": times.user + times.system,
        "stages": stages,
        "top": top,
        "sql": sql,
        "writer": writer,
        "functions": functions,
    }


def _minus(end: dict[str, list[float]], start: dict[str, list[float]]) -> dict[str, list[float]]:
    out = {}
    for key, values in end.items():
        before = start.get(key, [0] * len(values))
        diff = [a - b for a, b in zip(values, before, strict=True)]
        if diff[0]:
            out[key] = diff
    return out


def _on_start(signum: int, frame: FrameType | None) -> None:
    _window["start"] = _snapshot()
    Path(_window["out"]).with_suffix(".started").write_text("")


def _on_end(signum: int, frame: FrameType | None) -> None:
    start, end = _window["start"], _snapshot()
    functions = {
        k: s - start["functions"].get(k, 0.0)
        for k, s in end["functions"].items()
        if s - start["functions"].get(k, 0.0) > 0
    }
    result = {
        "mode": MODE,
        "wall_seconds": end["wall"] - start["wall"],
        "process_cpu": end["cpu"] - start["cpu"],
        "stages": {
            k: {"calls": int(n), "cpu": cpu, "wall": wall}
            for k, (n, cpu, wall) in _minus(end["stages"], start["stages"]).items()
        },
        "top_level_cpu": end["top"] - start["top"],
        "sqlite": {
            k: {"count": int(n), "seconds": s}
            for k, (n, s) in _minus(end["sql"], start["sql"]).items()
        },
        "write_lock": {k: end["writer"][k] - start["writer"][k] for k in ("waited", "held")},
        "functions": functions,
        "not_instrumented": missing,
    }
    out = Path(_window["out"])
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps(result))
    tmp.replace(out)


def main() -> None:
    if len(sys.argv) < 2 or MODE not in ("stages", "cprofile"):
        raise SystemExit(__doc__)
    _window["out"] = sys.argv[1]
    _instrument_storage()
    if MODE == "stages":
        _instrument_stages()
    signal.signal(signal.SIGUSR1, _on_start)
    signal.signal(signal.SIGUSR2, _on_end)
    if MODE == "cprofile":
        threading.setprofile(_thread_hook)
        _start_profiler()  # the main thread: uvicorn's event loop

    from sync_server.cli import main as kk_server

    kk_server(args=sys.argv[2:], prog_name="kk-server")


if __name__ == "__main__":
    main()
