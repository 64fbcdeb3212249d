"""The server's state on disk and in memory: data directory, database, key, throttle.

``kk-server init`` calls :func:`init_data_dir` (idempotent); ``kk-server serve`` and the app's
lifespan call :func:`open_context`, which refuses a data directory that was never
initialised (``server.not_initialized``) rather than silently creating a new server
identity.
"""

from __future__ import annotations

import asyncio
import base64
from dataclasses import dataclass
from datetime import timedelta

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from signing.keys import generate_key, load_private_key, public_key_b64, save_private_key
from signing.sealed_box import (
    box_public_b64,
    generate_box_key,
    load_box_key,
    save_box_key,
    scan_key_statement,
)
from sync_server.clock import utc_now
from sync_server.config import ServerConfig
from sync_server.errors import Refusal
from sync_server.services import feed
from sync_server.services.enrollment import EnrollmentThrottle
from sync_server.services.scans import ScanLimits
from sync_server.storage.db import Database
from sync_server.storage.scans import BlobStore

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
    box_key: X25519PrivateKey
    """Opens the scan keys counters seal for the server (:mod:`signing.sealed_box`)."""

    @property
    def server_public_key(self) -> str:
        """Standard base64 of the server's raw Ed25519 public key (pinned by counters)."""
        return public_key_b64(self.server_key)

    @property
    def scan_limits(self) -> ScanLimits:
        """Size limits and upload expiry from the configuration."""
        return ScanLimits(
            max_scan_bytes=self.config.max_scan_bytes,
            max_application_bytes=self.config.max_application_scan_bytes,
            expiry=timedelta(hours=self.config.upload_expiry_hours),
        )

    @property
    def blobs(self) -> BlobStore:
        """The scan blob folder."""
        return BlobStore(self.config.scans_dir)

    def scan_key_offer(self) -> dict[str, str]:
        """The server's X25519 public key and its Ed25519 signature over
        :func:`~signing.sealed_box.scan_key_statement`, as enrollment and
        ``GET /api/v1/sync/scans/key`` hand it to counters (who check it with the pinned
        key)."""
        public = box_public_b64(self.box_key)
        signature = self.server_key.sign(scan_key_statement(public))
        return {
            "scan_public_key": public,
            "scan_key_signature": base64.b64encode(signature).decode("ascii"),
        }


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
    _box_key(config)
    key = load_private_key(config.key_path)
    version = migrate(database(config, server_key=key))
    return InitReport(created, version, public_key_b64(key))


def _box_key(config: ServerConfig) -> X25519PrivateKey:
    """The scan key, made on first use: by ``init``, or by the first start of a data
    directory from before scans (no scan can exist yet that another key would have sealed,
    so making it is not a change of identity the way a new signing key would be)."""
    if not config.box_key_path.exists():
        save_box_key(generate_box_key(), config.box_key_path)
    return load_box_key(config.box_key_path)


def open_context(config: ServerConfig) -> ServerContext:
    """Load an initialised data directory; raises ``server.not_initialized`` otherwise."""
    if not (config.key_path.exists() and config.db_path.exists()):
        raise Refusal("server.not_initialized", path=config.data_dir)
    key = load_private_key(config.key_path)  # once: every feed event of this process uses it
    box_key = _box_key(config)
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
        box_key=box_key,
    )
