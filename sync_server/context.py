"""The server's state on disk and in memory: data directory, database, key, throttle.

``kk-server init`` calls :func:`init_data_dir` (idempotent); ``kk-server serve`` and the app's
lifespan call :func:`open_context`, which refuses a data directory that was never
initialised (``server.not_initialized``) rather than silently creating a new server
identity.
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from signing.keys import generate_key, load_private_key, public_key_b64, save_private_key
from sync_server.config import ServerConfig
from sync_server.errors import Refusal
from sync_server.services.enrollment import EnrollmentThrottle
from sync_server.storage.db import Database

__all__ = ["ServerContext", "InitReport", "init_data_dir", "open_context", "database"]


@dataclass(frozen=True, slots=True)
class ServerContext:
    """Everything a request handler needs, built once per app by the lifespan."""

    config: ServerConfig
    db: Database
    server_key: Ed25519PrivateKey
    throttle: EnrollmentThrottle

    @property
    def server_public_key(self) -> str:
        """Standard base64 of the server's raw Ed25519 public key (pinned by counters)."""
        return public_key_b64(self.server_key)


@dataclass(frozen=True, slots=True)
class InitReport:
    key_created: bool
    schema_version: int
    server_public_key: str


def database(config: ServerConfig) -> Database:
    return Database(config.db_path, busy_timeout_ms=config.sqlite_busy_timeout_ms)


def init_data_dir(config: ServerConfig) -> InitReport:
    """Create the data directory (0700), the schema and the server key, keeping what exists."""
    config.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    version = database(config).migrate()
    created = not config.key_path.exists()
    if created:
        save_private_key(generate_key(), config.key_path)
    key = load_private_key(config.key_path)
    return InitReport(created, version, public_key_b64(key))


def open_context(config: ServerConfig) -> ServerContext:
    """Load an initialised data directory; raises ``server.not_initialized`` otherwise."""
    if not (config.key_path.exists() and config.db_path.exists()):
        raise Refusal("server.not_initialized", path=config.data_dir)
    key = load_private_key(config.key_path)
    db = database(config)
    db.migrate()
    throttle = EnrollmentThrottle(
        max_failures=config.enroll_max_failures,
        window_seconds=config.enroll_failure_window_seconds,
    )
    return ServerContext(config=config, db=db, server_key=key, throttle=throttle)
