"""Content-addressed files of the server: signed KKs and archive packages, by SHA-256.

``<documents_dir>/<first two hex digits>/<sha256>``, mode 0440 once written. A file is
written to a temporary name, flushed to disk and renamed into place, so a reader never sees
half a file, and writing the same bytes twice keeps the one copy. The database row that
names a hash is committed only after :func:`put` returned: a crash in between leaves an
unreferenced file (harmless, same bytes next time), never a row without its file.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path

__all__ = ["put", "get", "path_of", "DocumentMissing"]

_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class DocumentMissing(LookupError):
    """No file with that hash (or not a SHA-256 at all)."""


def path_of(root: Path, sha256: str) -> Path:
    """Where the file with ``sha256`` lives under ``root`` (``ValueError`` for a bad hash)."""
    if not _SHA256.match(sha256):
        raise ValueError("not a lower-case hex SHA-256")
    return Path(root) / sha256[:2] / sha256


def put(root: Path, data: bytes) -> str:
    """Store ``data`` durably; returns its SHA-256 (hex)."""
    digest = hashlib.sha256(data).hexdigest()
    target = path_of(root, digest)
    if target.exists():
        return digest
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, 0o440)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)  # the rename itself survives a power cut
    finally:
        os.close(dir_fd)
    return digest


def get(root: Path, sha256: str) -> bytes:
    """The bytes stored under ``sha256``, checked against it (``DocumentMissing`` if absent
    or altered on disk)."""
    try:
        data = path_of(root, sha256).read_bytes()
    except (ValueError, FileNotFoundError) as exc:
        raise DocumentMissing(sha256) from exc
    if hashlib.sha256(data).hexdigest() != sha256:
        raise DocumentMissing(sha256)
    return data
