"""Settings of the central server, from ``KK_SERVER_*`` environment variables or arguments.

Every field documents itself (the docstring under it). The CLI's ``--data-dir`` wins over
``KK_SERVER_DATA_DIR``. State lives in the data directory:

* ``server.db``: SQLite in WAL mode, ``synchronous=FULL`` (:mod:`sync_server.storage.db`);
* ``server_key.pem``: the server's Ed25519 key, mode 0600, made by ``kk-server init``;
* ``documents/``: signed KKs and archive packages, content-addressed by SHA-256;
* ``server_scan_key.pem``: the server's X25519 key that counters seal scan keys for, mode
  0600, made by ``kk-server init`` (lose it and no stored scan can be read again);
* ``scans/``: encrypted scan blobs, content-addressed (:mod:`sync_server.storage.scans`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from protocol.scans import MAX_APPLICATION_SCAN_BYTES, MAX_SCAN_BYTES

__all__ = [
    "ServerConfig",
    "DB_FILE",
    "KEY_FILE",
    "DOCUMENTS_DIR",
    "BOX_KEY_FILE",
    "SCANS_DIR",
    "SEALED_DIR",
]

DB_FILE = "server.db"
KEY_FILE = "server_key.pem"
DOCUMENTS_DIR = "documents"
BOX_KEY_FILE = "server_scan_key.pem"
SCANS_DIR = "scans"
SEALED_DIR = "sealed"


class ServerConfig(BaseSettings):
    """Where the server keeps its state, where it listens, and the limits it enforces."""

    model_config = SettingsConfigDict(
        env_prefix="KK_SERVER_", use_attribute_docstrings=True, frozen=True, extra="forbid"
    )

    data_dir: Path = Path("var/server")
    """Directory holding server.db and server_key.pem (created by ``kk-server init``)."""

    host: str = "127.0.0.1"
    """Address ``kk-server serve`` listens on; loopback unless a reverse proxy is absent."""

    port: int = Field(default=8000, ge=1, le=65535)
    """TCP port ``kk-server serve`` listens on."""

    trusted_proxies: list[str] = []
    """Addresses of reverse proxies whose X-Forwarded-For is believed (client IPs feed the
    enrollment throttle). Empty: the TCP peer is the client."""

    max_body_bytes: int = Field(default=4 * 1024 * 1024, ge=1024)
    """Largest request body accepted as sent on the wire (after compression): 413 above."""

    max_decompressed_bytes: int = Field(default=32 * 1024 * 1024, ge=1024)
    """Largest body after gzip decompression, enforced while decompressing: 413 above."""

    max_events_per_batch: int = Field(default=500, ge=1)
    """Most events one push may carry: 413 ``push.too_many_events`` above."""

    push_concurrency: int = Field(default=2, ge=1)
    """Pushes processed at once; more wait their turn. Storing is serialised by SQLite's one
    writer and Python runs one thread at a time, so two (one storing, one checking
    signatures) keep the work flowing; fifteen at once only fight over the interpreter."""

    enroll_max_failures: int = Field(default=10, ge=1)
    """Failed enrollment attempts one client IP may make within the window before 429."""

    enroll_failure_window_seconds: int = Field(default=15 * 60, ge=1)
    """Sliding window, in seconds, over which failed enrollment attempts are counted."""

    enroll_code_ttl_hours: int = Field(default=24, ge=1, le=24 * 30)
    """Default lifetime of a one-time enrollment code."""

    sqlite_busy_timeout_ms: int = Field(default=5000, ge=0)
    """How long a connection waits for another writer (e.g. the CLI) before failing."""

    kk_number_allocator: Literal["demo", "siak"] = "demo"
    """Where new families' KK numbers come from: ``demo`` (kecamatan + DDMMYY + serial) or
    ``siak`` (the number SIAK issued, entered by staff before the TTE)."""

    tte_pki_dir: Path | None = None
    """Directory made by ``kk-tte demo-pki`` holding the Kepala Dinas's PKCS#12, the trust
    root, the CRLs and the timestamping key. Unset: the server cannot sign (``sign`` answers
    503 ``tte.not_configured``). The passphrase is never configured: the Kepala Dinas types
    it for each batch."""

    tte_pkcs11_library: Path | None = None
    """PKCS#11 library of the token holding the Kepala Dinas's key (e.g.
    ``/usr/lib/softhsm/libsofthsm2.so``). Set: the key is on the token, the secret typed per
    batch is the token's user PIN, and ``tte_pki_dir`` still supplies the trust root, chain,
    CRLs and timestamping key (the PKCS#12 file is not used)."""

    tte_pkcs11_token: str = ""
    """Label of the token (PKCS#11 only)."""

    tte_pkcs11_key_label: str = "kepala-dinas"
    """Label of the signing key and its certificate on the token (PKCS#11 only)."""

    kepala_dinas_name: str = "KEPALA DINAS (DEMO)"
    """Name printed under the QR code of a signed KK."""

    kepala_dinas_nip: str = "-"
    """NIP printed under the Kepala Dinas's name."""

    public_base_url: str = "http://127.0.0.1:8000"
    """Public address of this server; a signed KK's QR code points at
    ``<public_base_url>/verifikasi/<token>``."""

    verify_rate_per_minute: int = Field(default=30, ge=1)
    """Verification look-ups (page or JSON) one client address may make per minute: 429
    above, so the token space cannot be walked."""

    max_scan_bytes: int = Field(default=MAX_SCAN_BYTES, ge=1024, le=MAX_SCAN_BYTES)
    """Largest scan (plaintext) accepted; a blob announced larger is refused."""

    max_application_scan_bytes: int = Field(
        default=MAX_APPLICATION_SCAN_BYTES, ge=1024, le=MAX_APPLICATION_SCAN_BYTES
    )
    """Largest total of the scans of one application (encrypted bytes)."""

    upload_expiry_hours: int = Field(default=72, ge=1)
    """A partial scan upload untouched this long is discarded (its bytes deleted); the
    counter then starts it again from zero. Three days covers a weekend without network."""

    web_cookie_secure: bool | None = None
    """Mark the staff pages' session cookie ``Secure``: ``None`` (default) when the request
    arrived over HTTPS (directly, or through a trusted proxy's X-Forwarded-Proto); set true
    behind a TLS proxy whose headers are not trusted, false only for local tests."""

    @property
    def documents_dir(self) -> Path:
        """Content-addressed store of signed KKs and archive packages (by SHA-256)."""
        return self.data_dir / DOCUMENTS_DIR

    whatsapp_transport: Literal["console", "cloud_api", "off"] = "console"
    """Where messages to applicants go: ``console`` writes them under the data directory
    (``whatsapp/console/``), ``cloud_api`` sends them through the WhatsApp Business Cloud
    API, ``off`` keeps them queued in the outbox."""

    whatsapp_api_base_url: str = "https://graph.facebook.com"
    """Graph API root (a local fake in tests)."""

    whatsapp_api_version: str = Field(default="v21.0", pattern=r"^v\d+\.\d+$")
    """Graph API version in every path."""

    whatsapp_phone_number_id: str = ""
    """The office number's id in WhatsApp Manager (not the phone number itself)."""

    whatsapp_access_token: SecretStr = SecretStr("")
    """System-user access token with ``whatsapp_business_messaging``; never logged."""

    whatsapp_app_secret: SecretStr = SecretStr("")
    """The Meta app's secret: the key of the webhook's ``X-Hub-Signature-256``; never logged.
    Empty: every webhook POST is refused."""

    whatsapp_verify_token: SecretStr = SecretStr("")
    """The token typed in the app's webhook settings, echoed on GET verification. Empty:
    verification is refused."""

    whatsapp_poll_seconds: float = Field(default=1.0, gt=0, le=60)
    """How often the outbox worker looks for due messages."""

    whatsapp_max_attempts: int = Field(default=8, ge=1)
    """Attempts of a message that keeps failing for a passing reason, before "failed"."""

    whatsapp_backoff_seconds: float = Field(default=5.0, gt=0)
    """First retry delay; doubled after each attempt, up to ``whatsapp_backoff_max_seconds``."""

    whatsapp_backoff_max_seconds: float = Field(default=3600.0, gt=0)
    """Longest retry delay (also how long sending pauses after an expired token)."""

    whatsapp_inbound_max_bytes: int = Field(default=MAX_SCAN_BYTES, ge=1024, le=MAX_SCAN_BYTES)
    """Largest document an applicant may send by WhatsApp; larger ones are refused unread."""

    whatsapp_timeout_seconds: float = Field(default=30.0, gt=0)
    """Timeout of one Cloud API call. A send that times out is "perlu dicek", not re-sent."""

    @property
    def box_key_path(self) -> Path:
        return self.data_dir / BOX_KEY_FILE

    @property
    def scans_dir(self) -> Path:
        return self.data_dir / SCANS_DIR

    @property
    def sealed_dir(self) -> Path:
        """Signed KKs encrypted for one counter each, by the SHA-256 of the ciphertext."""
        return self.data_dir / SEALED_DIR

    @property
    def db_path(self) -> Path:
        return self.data_dir / DB_FILE

    @property
    def key_path(self) -> Path:
        return self.data_dir / KEY_FILE
