"""Integration fixtures: a real server data directory, a REAL uvicorn server on a free
loopback port (in a background thread), an httpx client, and helpers that act like a counter:
enroll a device, write its signed change log, push it with signed requests.

Nothing is mocked: SQLite files on disk, HTTP over TCP, Ed25519 keys.
"""

from __future__ import annotations

import gzip
import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from protocol.events import GENESIS_HASH, ChangeEvent, EventKind
from signing.events import build_event
from signing.keys import generate_key, public_key_b64
from signing.requests import sign_request
from sync_server.app import create_app
from sync_server.clock import utc_now
from sync_server.config import ServerConfig
from sync_server.context import database, init_data_dir
from sync_server.services import accounts, enrollment
from sync_server.storage.db import Database
from tests.factories import application_dict
from tests.support.faulty_link import FaultyLink

PUSH_PATH = "/api/v1/sync/push"
ENROLL_PATH = "/api/v1/devices/enroll"
SEKAYU = "160601"
LAIS = "160602"
OPERATOR_PASSWORD = "rahasia-loket-1"


@dataclass
class RunningServer:
    """A uvicorn server running ``create_app(config)`` in a thread of the test process."""

    config: ServerConfig
    base_url: str
    _server: uvicorn.Server
    _thread: threading.Thread

    @property
    def db(self) -> Database:
        return database(self.config)

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=15)
        assert not self._thread.is_alive(), "uvicorn did not stop"


def start_server(config: ServerConfig) -> RunningServer:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(config),
            log_level="warning",
            access_log=False,
            lifespan="on",
            ws="none",
            proxy_headers=False,
        )
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    return RunningServer(config, f"http://127.0.0.1:{port}", server, thread)


@pytest.fixture
def server_config(tmp_path) -> ServerConfig:
    """An initialised data directory (``kk-server init``). WhatsApp messages stay queued
    (transport ``off``), so feeds hold exactly what each test caused; WhatsApp tests choose
    their transport."""
    config = ServerConfig(data_dir=tmp_path / "server", whatsapp_transport="off")
    init_data_dir(config)
    return config


@pytest.fixture
def server(server_config) -> Iterator[RunningServer]:
    running = start_server(server_config)
    yield running
    running.stop()


@pytest.fixture
def link(server) -> Iterator[FaultyLink]:
    """The faulty-link proxy in front of the server: a perfect link until a test spoils it."""
    host, port = server.base_url.removeprefix("http://").split(":")
    with FaultyLink(host, int(port), seed=7) as proxy:
        yield proxy


@pytest.fixture
def client(server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base_url, timeout=30) as http:
        yield http


# -- counter-side helpers -----------------------------------------------------------------


@dataclass
class EnrolledDevice:
    device_id: str
    kecamatan: str
    key: Ed25519PrivateKey
    server_public_key: str


def issue_code(server: RunningServer, kecamatan: str = SEKAYU, **kw: Any) -> str:
    issued = enrollment.issue_code(
        server.db,
        kecamatan=kecamatan,
        ttl=kw.pop("ttl", None) or _hours(24),
        now=kw.pop("now", None) or utc_now(),
        **kw,
    )
    return issued.code


async def refused_code(server: RunningServer, server_url: str, tmp_path: Path, case: str) -> str:
    """A code the server will refuse: ``unknown``, ``expired`` or ``used`` (by another counter
    that enrolls with it first)."""
    from field_client.config import CounterConfig
    from field_client.sync import enroll_device

    if case == "unknown":
        return "ABCD-EFGH-JKMN"
    if case == "expired":
        return issue_code(server, ttl=_hours(1), now=utc_now() - _hours(2))
    code = issue_code(server)
    other = CounterConfig(data_dir=tmp_path / "other-counter", trust_env=False)
    await enroll_device(other, server_url=server_url, code=code)
    return code


def _hours(n: int) -> Any:
    from datetime import timedelta

    return timedelta(hours=n)


def enroll_device(
    server: RunningServer, client: httpx.Client, kecamatan: str = SEKAYU
) -> EnrolledDevice:
    key = generate_key()
    code = issue_code(server, kecamatan)
    response = client.post(
        ENROLL_PATH, json={"code": code, "public_key": public_key_b64(key), "label": "Loket"}
    )
    assert response.status_code == 201, response.text
    body = response.json()
    return EnrolledDevice(body["device_id"], body["kecamatan"], key, body["server_public_key"])


def add_operator(
    server: RunningServer, username: str = "budi", kecamatan: str | None = SEKAYU, **kw: Any
) -> str:
    user = accounts.add_user(
        server.db,
        username=username,
        full_name=kw.pop("full_name", "Budi Santoso"),
        role=kw.pop("role", "operator"),
        kecamatan=kecamatan,
        password=OPERATOR_PASSWORD,
        now=utc_now(),
    )
    return user.user_id


@dataclass
class DeviceLog:
    """A counter's signed change log, built the way the counter builds it."""

    device: EnrolledDevice
    operator_id: str
    events: list[ChangeEvent] = field(default_factory=list)

    def append(
        self,
        kind: EventKind,
        application_id: str | None = None,
        body: dict[str, Any] | None = None,
        *,
        operator_id: str | None = None,
    ) -> dict[str, Any]:
        last = self.events[-1] if self.events else None
        event = build_event(
            key=self.device.key,
            device_id=self.device.device_id,
            operator_id=operator_id or self.operator_id,
            previous_seq=last.seq if last else 0,
            previous_hash=last.hash() if last else GENESIS_HASH,
            kind=kind,
            application_id=application_id or application_dict()["id"],
            body={} if body is None else body,
            at=datetime.now(UTC),
        )
        self.events.append(event)
        return event.to_wire()

    def create(self, app: dict[str, Any] | None = None, **kw: Any) -> dict[str, Any]:
        app = app or application_dict()
        return self.append(EventKind.APPLICATION_CREATED, app["id"], {"application": app}, **kw)

    def wire(self, start: int = 1, stop: int | None = None) -> list[dict[str, Any]]:
        """Wire events with seq in [start, stop] (all from start by default)."""
        return [
            e.to_wire() for e in self.events if e.seq >= start and (stop is None or e.seq <= stop)
        ]


def encode_push(events: list[dict[str, Any]], *, compress: bool = True) -> bytes:
    raw = json.dumps({"events": events}).encode("utf-8")
    return gzip.compress(raw) if compress else raw


def signed_post(
    client: httpx.Client,
    device: EnrolledDevice,
    body: bytes,
    *,
    path: str = PUSH_PATH,
    gzip_encoded: bool = True,
    now: datetime | None = None,
    nonce: str | None = None,
    key: Ed25519PrivateKey | None = None,
    device_id: str | None = None,
    extra_headers: dict[str, str] | None = None,
) -> httpx.Response:
    headers = sign_request(
        key or device.key,
        device_id or device.device_id,
        "POST",
        path,
        body,
        now=now or datetime.now(UTC),
        nonce=nonce,
    )
    headers["Content-Type"] = "application/json"
    if gzip_encoded:
        headers["Content-Encoding"] = "gzip"
    headers.update(extra_headers or {})
    return client.post(path, content=body, headers=headers)


def push(
    client: httpx.Client, device: EnrolledDevice, events: list[dict[str, Any]], **kw: Any
) -> httpx.Response:
    compress = kw.pop("gzip_encoded", True)
    return signed_post(
        client, device, encode_push(events, compress=compress), gzip_encoded=compress, **kw
    )


def stored_events(server: RunningServer, device_id: str) -> list[dict[str, Any]]:
    with server.db.read() as conn:
        rows = conn.execute(
            "SELECT seq, status, code FROM events WHERE device_id = ? ORDER BY seq", (device_id,)
        ).fetchall()
    return [dict(r) for r in rows]


def table_count(server: RunningServer, table: str) -> int:
    with server.db.read() as conn:
        return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # noqa: S608


# -- TTE ------------------------------------------------------------------------------------

TTE_PASSPHRASE = "kepala-dinas-uji-9"


@pytest.fixture(scope="session")
def demo_pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A demo PKI (``kk-tte demo-pki``) shared by the tests: read-only once made."""
    from signing.demo_pki import create_demo_pki

    directory = tmp_path_factory.mktemp("tte") / "pki"
    create_demo_pki(directory, TTE_PASSPHRASE)
    return directory


def tte_config(tmp_path: Path, pki: Path, **settings: Any) -> ServerConfig:
    """An initialised data directory whose server signs KKs with the demo PKI."""
    config = ServerConfig(
        data_dir=tmp_path / "server",
        tte_pki_dir=pki,
        public_base_url="https://kk.mubakab.go.id",
        **settings,
    )
    init_data_dir(config)
    return config


# -- WhatsApp ------------------------------------------------------------------------------


@pytest.fixture
def terminal(server: RunningServer, client: httpx.Client, tmp_path: Path) -> Iterator[Any]:
    """An enrolled counter terminal (:class:`tests.integration.test_pull.Terminal`) with its
    own store file, acting on ``server``."""
    from tests.integration.test_pull import open_terminal  # here: test_pull imports this module

    terminal = open_terminal(server, client, tmp_path / "terminal.db")
    yield terminal
    terminal.store.close()


@pytest.fixture
def operator_id(server: RunningServer) -> str:
    """An operator account of Sekayu on ``server``."""
    return add_operator(server)
