"""Document scans on the counter: encrypted the moment they are attached, content-addressed.

Key hierarchy (design.md §4, docs/security.md):

* each scan gets a fresh random key and becomes one encrypted blob
  (:mod:`signing.scan_cipher`) whose header seals that key for the server's X25519 key: the
  sync engine uploads blobs with no secret at hand, only the server opens them;
* the scan key is also wrapped under the **device data key** (``scans.wrapped_key``), so a
  logged-in operator can preview the scan here;
* the data key exists only wrapped, once per operator, under a key derived from that
  operator's password (``scan_keyring``), and sealed for the server, bound to this device
  (the escrow in ``meta``: the server re-issues the key from it to an operator with no copy,
  :mod:`field_client.scan_recovery`). A stolen disk without a password opens no scan.

Dedup: the same file attached twice is stored once. The lookup key is an HMAC of the
plaintext under a key derived from the data key (``scans.dedup_tag``), not its plain
SHA-256, which would tell a thief holding a list of known documents' hashes which of them
this counter has.

Blobs live in ``scans/<first two hex>/<scan id>`` beside ``counter.db``, named by the
SHA-256 of their bytes (the scan id): no outside name ever reaches the file system. A blob
is written and fsynced under a temporary name, then renamed, before its row commits; a
crash between the two leaves an unreferenced blob, never a row without its blob.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from field_client.errors import ApplicationNotFound, ScanError
from protocol.requirements import DOCUMENTS
from protocol.scans import MAX_SCAN_BYTES, ScanReference, sniff_media_type
from signing.durable import fsync_dir
from signing.key_escrow import seal_escrow
from signing.key_wrap import (
    KeyUnwrapError,
    unwrap_key,
    unwrap_with_password,
    wrap_key,
    wrap_with_password,
)
from signing.scan_cipher import HEADER_SIZE, decrypt_scan, encrypt_scan
from signing.sealed_box import box_public_b64, generate_box_key, load_box_public_b64

if TYPE_CHECKING:
    from field_client.store import Transaction

__all__ = [
    "DataKey",
    "ScanFolder",
    "ScanInfo",
    "AttachedScan",
    "unlock",
    "adopt",
    "escrow",
    "attach",
    "read_plaintext",
    "DocumentFolder",
    "device_box_private",
]


class DataKey:
    """The device data key, unlocked for one operator's session. Never stored plain, never
    printed; drop it at logout."""

    __slots__ = ("_key", "_dedup", "_wrap")

    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise ValueError("a data key has 32 bytes")
        self._key = key
        self._dedup = _subkey(key, b"KK-SCAN-DEDUP-V1")
        self._wrap = _subkey(key, b"KK-SCAN-WRAP-V1")

    def __repr__(self) -> str:
        return "DataKey(<hidden>)"

    def dedup_tag(self, plaintext: bytes) -> str:
        """The keyed hash that finds an identical file already attached."""
        return hmac.new(self._dedup, plaintext, hashlib.sha256).hexdigest()

    def wrap_scan_key(self, scan_key: bytes, scan_id: str) -> str:
        """``scan_key`` wrapped for this counter, bound to its scan."""
        return wrap_key(self._wrap, scan_key, context=_scan_context(scan_id))

    def unwrap_scan_key(self, wrapped: str, scan_id: str) -> bytes:
        """The scan key :meth:`wrap_scan_key` wrapped."""
        return unwrap_key(self._wrap, wrapped, context=_scan_context(scan_id))

    def wrap_for(self, operator_id: str, password: str) -> str:
        """This key wrapped under ``password`` for the ``scan_keyring`` row of the operator."""
        return wrap_with_password(password, self._key, context=_operator_context(operator_id))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, DataKey) and hmac.compare_digest(self._key, other._key)

    def __hash__(self) -> int:
        return hash(self._dedup)


def _subkey(key: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(key)


def _scan_context(scan_id: str) -> bytes:
    return b"KK-SCAN-KEY-V1\n" + scan_id.encode("ascii")


def _operator_context(operator_id: str) -> bytes:
    return b"KK-DATA-KEY-V1\n" + operator_id.encode("utf-8")


@dataclass(frozen=True, slots=True)
class ScanInfo:
    """A scan attached to an application, as lists and the sync engine see it."""

    scan_id: str
    application_id: str
    document: str
    """The requirement document code (:data:`protocol.requirements.DOCUMENTS`)."""
    media_type: str
    plain_bytes: int
    original_bytes: int
    """Bytes of the file as the operator gave it (before recompression)."""
    blob_bytes: int
    """Bytes of the encrypted blob: what goes over the link."""
    created_at: str
    uploaded_at: str | None
    """When the server confirmed it holds the whole blob (``None``: still to send)."""

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> ScanInfo:
        return cls(**{name: row[name] for name in cls.__slots__})


SCAN_COLUMNS = (
    "s.scan_id, a.application_id, a.document, s.media_type, s.plain_bytes, s.original_bytes,"
    " s.blob_bytes, s.created_at, s.uploaded_at"
)


@dataclass(frozen=True, slots=True)
class AttachedScan:
    """What :meth:`field_client.actions.Counter.attach_scan` did."""

    scan_id: str
    media_type: str
    original_bytes: int
    plain_bytes: int
    blob_bytes: int
    deduplicated: bool
    """The same file was attached before: nothing new was stored or will be sent."""
    newly_linked: bool = True
    """False when the scan was attached to this application already (nothing written)."""
    header_sha256: str | None = None
    """SHA-256 of the blob's header, announced with the event (:class:`ScanReference`)."""

    def reference(self, document: str) -> ScanReference:
        """How a ``scan.attached`` event names this scan."""
        return ScanReference(
            self.scan_id, document, self.media_type, self.blob_bytes, self.header_sha256
        )

    @property
    def saved_bytes(self) -> int:
        """Bytes recompression saved (0 for a file kept as it was)."""
        return self.original_bytes - self.plain_bytes


class ScanFolder:
    """The content-addressed folder of encrypted blobs (scans, and downloads sealed for
    this counter: :class:`DocumentFolder`)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def path(self, scan_id: str) -> Path:
        """Where the blob of ``scan_id`` lives (the id is checked: 64 hex digits)."""
        if len(scan_id) != 64 or any(c not in "0123456789abcdef" for c in scan_id):
            raise ValueError("not a scan id")
        return self.root / scan_id[:2] / scan_id

    def write(self, scan_id: str, blob: bytes) -> None:
        """Store ``blob`` under its id, durably; an existing blob (same bytes) is kept."""
        target = self.path(scan_id)
        if target.exists():
            return
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = target.with_name(f".{scan_id}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, blob)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, target)
        fsync_dir(target.parent)

    def header_sha256(self, scan_id: str) -> str | None:
        """SHA-256 of the blob's header (its first bytes; ``None`` if the file is gone)."""
        try:
            with self.path(scan_id).open("rb") as blob:
                return hashlib.sha256(blob.read(HEADER_SIZE)).hexdigest()
        except FileNotFoundError:
            return None

    def read(self, scan_id: str) -> bytes:
        """The blob's bytes; :class:`ScanError` ``scan.blob_missing`` if the file is gone."""
        try:
            return self.path(scan_id).read_bytes()
        except FileNotFoundError:
            raise ScanError.of("scan.blob_missing", scan_id=scan_id[:12]) from None


class DocumentFolder(ScanFolder):
    """Downloaded documents as the server sealed them for this counter (never plaintext:
    :mod:`field_client.sync.downloads`), by the signed document's SHA-256, and the partial
    downloads, by document and ciphertext SHA-256."""

    def partial(self, sha256: str, blob_sha256: str) -> Path:
        """Where ciphertext ``blob_sha256`` of document ``sha256`` grows (0600)."""
        self.path(sha256), self.path(blob_sha256)  # checks the names
        return self.root / "partial" / f"{sha256}.{blob_sha256}"

    def install(self, partial: Path, sha256: str) -> None:
        """Move a verified partial download into place as document ``sha256`` (atomic)."""
        target = self.path(sha256)
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.replace(partial, target)
        fsync_dir(target.parent)


def device_box_private(reads: Any, key: DataKey) -> X25519PrivateKey:
    """The counter's X25519 private key, unwrapped with the data key."""
    row = reads._row("SELECT value FROM meta WHERE key = 'device_box_private'")
    if row is None:
        raise ScanError.of("scan.locked")
    try:
        raw = unwrap_key(key._wrap, row["value"], context=_DEVICE_BOX_CONTEXT)
    except KeyUnwrapError:
        raise ScanError.of("scan.locked") from None
    return X25519PrivateKey.from_private_bytes(raw)


_DEVICE_BOX_CONTEXT = b"KK-DEVICE-BOX-V1"


def _ensure_device_box(tx: Transaction, key: DataKey) -> None:
    """Make the counter's X25519 key pair once: the public half plain (the sync engine
    seals downloads with it, no secret needed), the private half under the data key."""
    if tx._row("SELECT 1 AS x FROM meta WHERE key = 'device_box_public'") is not None:
        return
    private = generate_box_key()
    raw = private.private_bytes(
        serialization.Encoding.Raw,
        serialization.PrivateFormat.Raw,
        serialization.NoEncryption(),
    )
    for name, value in (
        ("device_box_public", box_public_b64(private)),
        ("device_box_private", wrap_key(key._wrap, raw, context=_DEVICE_BOX_CONTEXT)),
    ):
        tx._db.execute("INSERT INTO meta (key, value) VALUES (?, ?)", [name, value])


def _ensure_escrow(tx: Transaction, key: DataKey) -> None:
    """Keep the data key sealed for the server's scan key, bound to this device (the
    escrow :mod:`field_client.scan_recovery` sends to re-issue the key to an operator who
    has no copy). Made at the first unlock that knows the server's key; made again when the
    server's key changed. Only the server's private key opens it."""
    device = tx._row("SELECT device_id, server_box_key FROM device WHERE id = 1")
    if device is None or not device["server_box_key"]:
        return  # learned at the next sync; the escrow follows at the next unlock
    sealed_for = tx._row("SELECT value FROM meta WHERE key = ?", [_ESCROW_SERVER])
    if sealed_for is not None and sealed_for["value"] == device["server_box_key"]:
        return
    escrow = seal_escrow(
        load_box_public_b64(device["server_box_key"]), key._key, device["device_id"]
    )
    for name, value in ((_ESCROW, escrow), (_ESCROW_SERVER, device["server_box_key"])):
        tx._db.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?)"
            " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            [name, value],
        )


_ESCROW = "data_key_escrow"
_ESCROW_SERVER = "data_key_escrow_server_key"


def escrow(reads: Any) -> str | None:
    """The data key sealed for the server (base64), or ``None`` before the first unlock
    that knew the server's scan key."""
    row = reads._row("SELECT value FROM meta WHERE key = ?", [_ESCROW])
    return None if row is None else row["value"]


def adopt(tx: Transaction, operator_id: str, password: str, raw: bytes, *, at: str) -> DataKey:
    """Wrap a data key the server re-issued (:mod:`field_client.scan_recovery`) for
    ``operator_id``, once it proved to be this counter's key: it must open the counter's
    own X25519 key, wrapped under the data key since the first unlock. Anything else raises
    ``scan.recovered_key_wrong`` and writes nothing."""
    try:
        key = DataKey(raw)
        device_box_private(tx, key)
    except (ValueError, ScanError):
        raise ScanError.of("scan.recovered_key_wrong") from None
    tx._db.execute(
        "INSERT INTO scan_keyring (operator_id, wrapped_data_key, created_at) VALUES (?, ?, ?)"
        " ON CONFLICT (operator_id) DO UPDATE SET wrapped_data_key = excluded.wrapped_data_key,"
        " created_at = excluded.created_at",
        [operator_id, key.wrap_for(operator_id, password), at],
    )
    _ensure_escrow(tx, key)
    return key


def unlock(
    tx: Transaction,
    operator_id: str,
    password: str,
    *,
    at: str,
    unlocked: DataKey | None = None,
) -> DataKey:
    """The data key for ``operator_id``, opened with their password.

    The first operator to unlock makes the key. An operator without a wrapped copy yet gets
    one when ``unlocked`` (the key another operator opened earlier in this session) is
    given; otherwise ``scan.locked`` (:class:`ScanError`: the server can re-issue it,
    :mod:`field_client.scan_recovery`). A wrong password raises ``scan.wrong_password``.
    Every successful unlock also makes sure the escrow for the server exists. The caller
    has checked the password at login already; this check is the cryptographic one.
    """
    row = tx._row("SELECT wrapped_data_key FROM scan_keyring WHERE operator_id = ?", [operator_id])
    if row is not None:
        try:
            raw = unwrap_with_password(
                password, row["wrapped_data_key"], context=_operator_context(operator_id)
            )
        except KeyUnwrapError:
            raise ScanError.of("scan.wrong_password") from None
        opened = DataKey(raw)
        _ensure_device_box(tx, opened)
        _ensure_escrow(tx, opened)
        return opened
    any_row = tx._row("SELECT 1 AS x FROM scan_keyring LIMIT 1")
    if any_row is None:
        key = DataKey(os.urandom(32))
    elif unlocked is not None:
        key = unlocked
    else:
        raise ScanError.of("scan.locked")
    tx._db.execute(
        "INSERT INTO scan_keyring (operator_id, wrapped_data_key, created_at) VALUES (?, ?, ?)",
        [operator_id, key.wrap_for(operator_id, password), at],
    )
    _ensure_device_box(tx, key)
    _ensure_escrow(tx, key)
    return key


def attach(
    tx: Transaction,
    folder: ScanFolder,
    key: DataKey,
    application_id: str,
    document: str,
    content: bytes,
    *,
    at: str,
    original_bytes: int | None = None,
) -> AttachedScan:
    """Encrypt and store ``content`` and link it to the application (see module doc).

    ``original_bytes`` is the size before recompression (default: ``len(content)``).
    Refuses an unknown document code, a type other than JPEG/PNG/PDF by content, an empty
    or too large file, an application not stored here, and a device that does not know
    the server's scan key yet (``scan.server_key_missing``: one sync fetches it).
    """
    if document not in DOCUMENTS:
        raise ScanError.of("scan.unknown_document", document=document[:40])
    if not content:
        raise ScanError.of("scan.empty")
    if len(content) > MAX_SCAN_BYTES:
        raise ScanError.of("scan.too_large", size=len(content), max=MAX_SCAN_BYTES)
    media_type = sniff_media_type(content[:16])
    if media_type is None:
        raise ScanError.of("scan.bad_type")
    if tx.application_state(application_id) is None:
        raise ApplicationNotFound.of("application.unknown", application_id=application_id)
    tag = key.dedup_tag(content)
    existing = tx._row("SELECT * FROM scans WHERE dedup_tag = ?", [tag])
    if existing is not None:
        scan_id = existing["scan_id"]
        return AttachedScan(
            scan_id,
            existing["media_type"],
            existing["original_bytes"],
            existing["plain_bytes"],
            existing["blob_bytes"],
            deduplicated=True,
            newly_linked=_link(tx, application_id, scan_id, document, at),
            header_sha256=folder.header_sha256(scan_id),
        )
    server_key = _server_box_key(tx)
    encrypted = encrypt_scan(content, server_key)
    folder.write(encrypted.scan_id, encrypted.blob)
    original = len(content) if original_bytes is None else original_bytes
    tx._db.execute(
        "INSERT INTO scans (scan_id, dedup_tag, wrapped_key, media_type, plain_bytes,"
        " original_bytes, blob_bytes, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [
            encrypted.scan_id,
            tag,
            key.wrap_scan_key(encrypted.scan_key, encrypted.scan_id),
            media_type,
            len(content),
            original,
            len(encrypted.blob),
            at,
        ],
    )
    _link(tx, application_id, encrypted.scan_id, document, at)
    return AttachedScan(
        encrypted.scan_id,
        media_type,
        original,
        len(content),
        len(encrypted.blob),
        deduplicated=False,
        header_sha256=hashlib.sha256(encrypted.blob[:HEADER_SIZE]).hexdigest(),
    )


def _link(tx: Transaction, application_id: str, scan_id: str, document: str, at: str) -> bool:
    cursor = tx._db.execute(
        "INSERT INTO application_scans (application_id, scan_id, document, attached_at)"
        " VALUES (?, ?, ?, ?) ON CONFLICT (application_id, scan_id) DO NOTHING",
        [application_id, scan_id, document, at],
    )
    return cursor.rowcount == 1


def _server_box_key(tx: Transaction) -> Any:
    row = tx._row("SELECT server_box_key FROM device WHERE id = 1")
    if row is None or not row["server_box_key"]:
        raise ScanError.of("scan.server_key_missing")
    return load_box_public_b64(row["server_box_key"])


def read_plaintext(tx_or_store: Any, folder: ScanFolder, key: DataKey, scan_id: str) -> bytes:
    """The scan's content for a logged-in operator's preview."""
    row = tx_or_store._row("SELECT wrapped_key FROM scans WHERE scan_id = ?", [scan_id])
    if row is None:
        raise ScanError.of("scan.not_found", scan_id=scan_id[:12])
    try:
        scan_key = key.unwrap_scan_key(row["wrapped_key"], scan_id)
    except KeyUnwrapError:
        raise ScanError.of("scan.locked") from None
    return decrypt_scan(folder.read(scan_id), scan_key)
