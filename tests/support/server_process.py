"""``kk-server`` as a REAL separate process, and a counter's side of the wire, for tests that
kill the server (:mod:`tests.integration.test_server_crash`) and for the benchmarks.

* :func:`kk_server` runs one CLI command (``init``, ``device enroll-code``, ``user add``)
  the way an admin does; :func:`prepare_data_dir` sets up a data directory with it.
* :class:`ServerProcess` runs ``kk-server serve`` on a fixed loopback port and data
  directory: :meth:`~ServerProcess.start` waits for ``GET /api/v1/health`` to answer (polling,
  no fixed sleeps), :meth:`~ServerProcess.kill` sends SIGKILL, :meth:`~ServerProcess.stop`
  asks for a graceful shutdown. Starting again reuses the same port and data directory.
* :func:`enroll` and :func:`signed_push` act as a counter: enrollment with a one-time code,
  then pushes signed afresh for every attempt (new nonce, current time).
"""

from __future__ import annotations

import gzip
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from signing.keys import generate_key, public_key_b64
from signing.requests import sign_request

__all__ = [
    "KK_SERVER",
    "PUSH_PATH",
    "HEALTH_PATH",
    "ENROLL_PATH",
    "kk_server",
    "prepare_data_dir",
    "free_port",
    "ServerProcess",
    "Counter",
    "enroll",
    "encode_events",
    "signed_push",
]

KK_SERVER = Path(sys.executable).parent / "kk-server"
"""The console script of this virtualenv (``[project.scripts]``)."""
PUSH_PATH = "/api/v1/sync/push"
HEALTH_PATH = "/api/v1/health"
ENROLL_PATH = "/api/v1/devices/enroll"

_CODE = re.compile(r"Kode pendaftaran : ([0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4})")
_USER_ID = re.compile(r"dibuat dengan ID (\S+)\.$", re.MULTILINE)


def _clean_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """This environment without ``KK_SERVER_*`` settings (the data dir is passed explicitly)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KK_SERVER_")}
    env.update(extra or {})
    return env


def kk_server(data_dir: Path, *args: str, input: str | None = None) -> str:
    """Run ``kk-server --data-dir DATA_DIR ARGS...``; its stdout. Raises on a non-zero exit."""
    done = subprocess.run(
        [str(KK_SERVER), "--data-dir", str(data_dir), *args],
        input=input,
        capture_output=True,
        text=True,
        env=_clean_env(),
        timeout=60,
    )
    if done.returncode != 0:
        raise RuntimeError(f"kk-server {' '.join(args)} failed: {done.stderr or done.stdout}")
    return done.stdout


@dataclass(frozen=True)
class PreparedServer:
    """What :func:`prepare_data_dir` made: codes to enroll with and operator accounts."""

    data_dir: Path
    codes: dict[str, list[str]]
    """Kecamatan code -> one-time enrollment codes issued for it."""
    operators: dict[str, list[str]]
    """Kecamatan code -> user ids of the operator accounts bound to it."""


def prepare_data_dir(
    data_dir: Path,
    devices_per_kecamatan: dict[str, int],
    *,
    operators_per_kecamatan: int = 1,
    password: str = "rahasia-loket-1",
) -> PreparedServer:
    """``kk-server init``, then for each kecamatan the enrollment codes and operator accounts,
    all through the CLI as an admin would."""
    kk_server(data_dir, "init")
    codes: dict[str, list[str]] = {}
    operators: dict[str, list[str]] = {}
    for kecamatan, count in devices_per_kecamatan.items():
        for n in range(count):
            out = kk_server(
                data_dir, "device", "enroll-code", "--kecamatan", kecamatan,
                "--label", f"Loket {n + 1}",
            )  # fmt: skip
            match = _CODE.search(out)
            assert match, out
            codes.setdefault(kecamatan, []).append(match.group(1))
        for n in range(operators_per_kecamatan):
            out = kk_server(
                data_dir, "user", "add", "--role", "operator", "--kecamatan", kecamatan,
                "--username", f"op{kecamatan}x{n + 1}", "--name", f"Operator Loket {n + 1}",
                "--password-stdin", input=password + "\n",
            )  # fmt: skip
            match = _USER_ID.search(out)
            assert match, out
            operators.setdefault(kecamatan, []).append(match.group(1))
    return PreparedServer(data_dir, codes, operators)


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class ServerProcess:
    """``kk-server serve`` in its own process on ``127.0.0.1:port``.

    ``command`` replaces ``[kk-server]`` (e.g. a profiling wrapper taking the same arguments);
    ``log`` receives the server's stdout and stderr (appended across restarts).
    """

    data_dir: Path
    port: int = field(default_factory=free_port)
    log: Path | None = None
    command: Sequence[str] = (str(KK_SERVER),)
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0
    _log_file: IO[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def start(self, *, timeout: float = 30.0) -> float:
        """Start the server and wait until it answers; the seconds that took."""
        assert self.process is None or self.process.poll() is not None, "already running"
        began = time.monotonic()
        if self.log is not None and self._log_file is None:
            self._log_file = self.log.open("ab")
        self.process = subprocess.Popen(
            [*self.command, "--data-dir", str(self.data_dir), "serve", "--port", str(self.port)],
            stdin=subprocess.DEVNULL,
            stdout=self._log_file or subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
            env=_clean_env(self.env),
        )
        self.starts += 1
        self.wait_ready(timeout=timeout)
        return time.monotonic() - began

    def wait_ready(self, *, timeout: float = 30.0) -> None:
        """Poll ``GET /api/v1/health`` until it answers 200 (fails if the process exits)."""
        deadline = time.monotonic() + timeout
        pause = 0.005
        with httpx.Client(base_url=self.base_url, timeout=2.0) as http:
            while True:
                assert self.process is not None
                if self.process.poll() is not None:
                    raise RuntimeError(
                        f"kk-server exited with {self.process.returncode} during start-up"
                        + (f"; see {self.log}" if self.log else "")
                    )
                try:
                    if http.get(HEALTH_PATH).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"kk-server did not answer within {timeout} s")
                time.sleep(pause)
                pause = min(pause * 2, 0.05)

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as in a power cut of the process."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=30)

    def stop(self, *, timeout: float = 30.0) -> int | None:
        """Graceful shutdown (SIGTERM, as systemd does); SIGKILL if it does not end in time."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        return self.process.returncode

    def close(self) -> None:
        self.kill()
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# -- the counter's side ---------------------------------------------------------------------


@dataclass
class Counter:
    """An enrolled counter: its id, kecamatan and private key."""

    device_id: str
    kecamatan: str
    key: Ed25519PrivateKey


def enroll(http: httpx.Client, code: str, *, label: str = "Loket") -> Counter:
    """Enroll a new key pair with a one-time code (``POST /api/v1/devices/enroll``)."""
    key = generate_key()
    response = http.post(
        ENROLL_PATH, json={"code": code, "public_key": public_key_b64(key), "label": label}
    )
    if response.status_code != 201:
        raise RuntimeError(f"enrollment refused: {response.status_code} {response.text}")
    body = response.json()
    return Counter(body["device_id"], body["kecamatan"], key)


def encode_events(events: Sequence[dict[str, Any]]) -> bytes:
    """A push body as counters send it: JSON, gzip-compressed."""
    return gzip.compress(json.dumps({"events": list(events)}).encode("utf-8"), compresslevel=6)


def signed_push(http: httpx.Client, counter: Counter, body: bytes) -> httpx.Response:
    """POST an already encoded (gzip) push body, signed now with a fresh nonce."""
    headers = sign_request(
        counter.key, counter.device_id, "POST", PUSH_PATH, body, now=datetime.now(UTC)
    )
    headers["Content-Type"] = "application/json"
    headers["Content-Encoding"] = "gzip"
    return http.post(PUSH_PATH, content=body, headers=headers)
