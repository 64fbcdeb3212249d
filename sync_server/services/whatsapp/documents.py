"""Where the worker finds the signed KK PDF that a ``kk_issued`` message carries.

The KK document issue (#7) produces and signs the PDF; until it stores signed KKs on the
server, the outbox reads them through this small interface from a directory: the signed
file of an application is ``<data dir>/kk/<application id>.pdf``. A message whose PDF is not
there yet waits (queued, retried with back-off) instead of going out without it.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Protocol

__all__ = ["KKDocuments", "DirectoryKKDocuments", "KK_DIR"]

KK_DIR = Path("kk")
"""Under the server's data directory."""
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


class KKDocuments(Protocol):
    def signed_kk(self, application_id: str) -> bytes | None:
        """The signed KK PDF of the application, or ``None`` while there is none."""
        ...


class DirectoryKKDocuments:
    """Signed KK PDFs kept as ``<directory>/<application id>.pdf``."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def path_of(self, application_id: str) -> Path:
        if not _UUID.match(application_id):
            raise ValueError("application id must be a lower-case UUID")
        return self.directory / f"{application_id}.pdf"

    def signed_kk(self, application_id: str) -> bytes | None:
        path = self.path_of(application_id)
        return path.read_bytes() if path.is_file() else None
