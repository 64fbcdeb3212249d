"""The server's state on disk and in memory: data directory, database, key, throttle.

``kk-server init`` calls :func:`init_data_dir` (idempotent); ``kk-server serve`` and the app's
lifespan call :func:`open_context`, which refuses a data directory that was never
initialised (``server.not_initialized``) rather than silently creating a new server
identity.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from signing.keys import generate_key, load_private_key, public_key_b64, save_private_key
from sync_server.clock import utc_now
from sync_server.config import ServerConfig
from sync_server.errors import Refusal
from sync_server.services import feed
from sync_server.services.enrollment import EnrollmentThrottle
from sync_server.storage.db import Database

__all__ = [
    "ServerContext",
    "InitReport",
    "init_data_dir",
    "open_context",
    "database",
    "migrate",
]


@dataclass(frozen=True, slots=True)
class ServerContext:
    """Everything a request handler needs, built once per app by the lifespan."""

    config: ServerConfig
    db: Database
    server_key: Ed25519PrivateKey
    throttle: EnrollmentThrottle
    push_slots: asyncio.Semaphore
    """Bounds concurrent push processing (``config.push_concurrency``)."""

    @property
    def server_public_key(self) -> str:
        """Standard base64 of the server's raw Ed25519 public key (pinned by counters)."""
        return public_key_b64(self.server_key)


@dataclass(frozen=True, slots=True)
class InitReport:
    key_created: bool
    schema_version: int
    server_public_key: str


def database(config: ServerConfig, *, server_key: Ed25519PrivateKey | None = None) -> Database:
    """The data directory's database; it signs feed events with ``server_key`` or, when none
    is given, with the key file loaded on first use (the CLI's case)."""
    return Database(
        config.db_path,
        busy_timeout_ms=config.sqlite_busy_timeout_ms,
        key_path=config.key_path,
        server_key=server_key,
    )


def migrate(db: Database) -> int:
    """Bring the schema up to date, including what an upgrade must sign (the feed of devices
    enrolled before it existed: :func:`sync_server.services.feed.seed_after_upgrade`)."""
    return db.migrate(
        on_upgrade=lambda conn, found, to: feed.seed_after_upgrade(conn, found, to, now=utc_now())
    )


def init_data_dir(config: ServerConfig) -> InitReport:
    """Create the data directory (0700), the server key and the schema, keeping what exists.

    The key comes first: upgrading an existing database may sign feed events.
    """
    config.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    created = not config.key_path.exists()
    if created:
        save_private_key(generate_key(), config.key_path)
    key = load_private_key(config.key_path)
    version = migrate(database(config, server_key=key))
    return InitReport(created, version, public_key_b64(key))


def open_context(config: ServerConfig) -> ServerContext:
    """Load an initialised data directory; raises ``server.not_initialized`` otherwise."""
    if not (config.key_path.exists() and config.db_path.exists()):
        raise Refusal("server.not_initialized", path=config.data_dir)
    key = load_private_key(config.key_path)  # once: every feed event of this process uses it
    db = database(config, server_key=key)
    migrate(db)
    throttle = EnrollmentThrottle(
        max_failures=config.enroll_max_failures,
        window_seconds=config.enroll_failure_window_seconds,
    )
    return ServerContext(
        config=config,
        db=db,
        server_key=key,
        throttle=throttle,
        push_slots=asyncio.Semaphore(config.push_concurrency),
    )
