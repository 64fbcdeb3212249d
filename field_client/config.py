"""Settings of a kecamatan counter, from ``KK_COUNTER_*`` environment variables or arguments.

Every field documents itself (the docstring under it). The CLI's ``--data-dir`` wins over
``KK_COUNTER_DATA_DIR``. State lives in the data directory (mode 0700):

* ``counter.db``: the store, SQLite in WAL mode (:mod:`field_client.store`);
* ``device_key.pem``: the device's Ed25519 key, mode 0600, made at enrollment
  (:mod:`field_client.sync.enroll`). It signs the change log and every sync request, so it
  cannot sit behind an operator's password (docs/security.md).

The defaults suit a 2G/3G link that is often down: long read timeouts, small batches, a
backoff capped at five minutes.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["CounterConfig", "DB_FILE", "KEY_FILE"]

DB_FILE = "counter.db"
KEY_FILE = "device_key.pem"


class CounterConfig(BaseSettings):
    """Where the counter keeps its state and how its sync engine treats the link."""

    model_config = SettingsConfigDict(
        env_prefix="KK_COUNTER_", use_attribute_docstrings=True, frozen=True, extra="forbid"
    )

    data_dir: Path = Path("var/counter")
    """Directory holding counter.db and device_key.pem (created at enrollment)."""

    server_url: str | None = None
    """Base URL of the central server. Empty: the URL given at enrollment (stored with the
    device); set it only when the server moves."""

    connect_timeout_s: float = Field(default=10.0, gt=0)
    """Seconds to open a TCP (and TLS) connection; a 2G call setup takes a few seconds."""

    read_timeout_s: float = Field(default=60.0, gt=0)
    """Seconds to wait for the next bytes of an answer; the server may be busy verifying a
    batch while the link trickles."""

    write_timeout_s: float = Field(default=60.0, gt=0)
    """Seconds to wait for one chunk of the request body to leave the socket."""

    request_deadline_s: float = Field(default=300.0, gt=0)
    """Upper bound on one whole request, so a link that trickles a byte a minute cannot hold
    the engine forever; the request is then retried like any broken one."""

    scan_key_recovery_deadline_s: float = Field(default=20.0, gt=0)
    """Upper bound on fetching the scan key from the server for an operator who has no
    copy of it (field_client.scan_recovery). The login does not wait for it (the recovery
    runs in the background), but the password is held at most this long; then the scans
    stay locked until asked again."""

    push_max_events: int = Field(default=200, ge=1, le=500)
    """Most events in one push (the server accepts 500). Smaller batches make progress on a
    link that cuts long transfers."""

    push_max_bytes: int = Field(default=256 * 1024, ge=1024)
    """Budget of one push batch, counted on the events' JSON before gzip (gzip shrinks it
    several times). A batch always carries at least one event, whatever its size."""

    pull_limit: int = Field(default=200, ge=1, le=500)
    """Most server events asked for per pull request (the server serves at most 500)."""

    recompress_photos: bool = True
    """Office setting: downscale and re-encode camera photos to document quality before they
    are encrypted (long side 1600 px, SSIM >= 0.9; field_client.recompress). PDFs are kept
    as they are. Off: every file is sent exactly as attached."""

    scan_chunk_min_bytes: int = Field(default=16 * 1024, ge=1024)
    """Smallest piece of a scan sent in one request (after repeated cuts)."""

    scan_chunk_max_bytes: int = Field(default=1024 * 1024, ge=1024, le=4 * 1024 * 1024)
    """Largest piece of a scan sent in one request (the server accepts 4 MiB bodies)."""

    scan_chunk_target_s: float = Field(default=8.0, gt=0)
    """How long one piece should take on the link as measured: long enough that a round
    trip per piece costs little, short enough that a cut loses little."""

    backoff_base_s: float = Field(default=2.0, gt=0)
    """First retry delay after a failure; it doubles per failure, with full jitter."""

    backoff_cap_s: float = Field(default=300.0, gt=0)
    """Longest delay between two attempts while the link or the server fails."""

    poll_interval_s: float = Field(default=120.0, gt=0)
    """Delay between two sync rounds when everything went through: decisions of the centre
    arrive by pull, so the counter asks again this often. A new event wakes it at once."""

    export_dir: Path | None = None
    """Folder offered to save a copy of a signed KK PDF (to print or copy). Empty: the
    operator's home folder is offered; the operator may type another one each time."""

    trust_env: bool = True
    """Use the HTTP(S)_PROXY / NO_PROXY environment variables (offices behind a proxy)."""

    @property
    def db_path(self) -> Path:
        """The counter's SQLite store."""
        return self.data_dir / DB_FILE

    @property
    def key_path(self) -> Path:
        """The device's private key (0600)."""
        return self.data_dir / KEY_FILE
