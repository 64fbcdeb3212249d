"""Where the worker finds the signed KK PDF that a ``kk_issued`` message carries: the one the
TTE step stored for the application (``kk_documents`` row, content-addressed file under
``documents_dir``, :mod:`sync_server.services.kk_signing`).

A message whose PDF cannot be read (no row yet, or the file lost or altered on disk: the
store checks its SHA-256) waits, queued and retried with back-off, instead of going out
without it or with other bytes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from sync_server.storage import documents, kk_registry
from sync_server.storage.db import Database

__all__ = ["KKDocuments", "StoredKKDocuments"]


class KKDocuments(Protocol):
    def signed_kk(self, application_id: str) -> bytes | None:
        """The signed KK PDF of the application, or ``None`` while there is none."""
        ...


class StoredKKDocuments:
    """The signed KKs of the server's document store."""

    def __init__(self, db: Database, documents_dir: Path) -> None:
        self.db = db
        self.documents_dir = documents_dir

    def signed_kk(self, application_id: str) -> bytes | None:
        with self.db.read() as conn:
            row = kk_registry.document_of_application(conn, application_id)
        if row is None:
            return None
        try:
            return documents.get(self.documents_dir, row.sha256)
        except documents.DocumentMissing:
            return None
