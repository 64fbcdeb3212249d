"""Deleting the server's blob files that no row names: what a crash leaves behind.

Files are always written before the row that names them commits (an uploaded scan's pieces
and its promotion, :mod:`sync_server.services.scans`; a WhatsApp document,
:mod:`sync_server.services.whatsapp.scan_store`; a download sealed for a counter,
:mod:`sync_server.services.device_documents`), so a crash in between leaves a file nothing
names and nothing would ever delete. :func:`sweep` does, for files last written more than
:data:`GRACE` ago: a write in progress is seconds old, so it is never taken for an orphan.

* ``scans/<xx>/<id>``: kept while a ``scans`` row or a ``whatsapp_inbox`` row names it;
* ``scans/partial/<id>``: kept while its ``scans`` row is still arriving (abandoned uploads
  are expired by their row, :func:`sync_server.services.scans.expire_partials`);
* ``sealed/<xx>/<sha256>``: kept while a ``sealed_documents`` row names it; rows of revoked
  devices and of documents no longer signed are dropped first (never served again);
* temporary files of an interrupted write (``.tmp-*``) in those folders.

Files with other names are left alone. The server runs it at start-up and every
:data:`INTERVAL` (:func:`run_periodically`, from the app's lifespan).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable
from datetime import timedelta
from pathlib import Path

from protocol.scans import is_scan_id
from sync_server.config import ServerConfig
from sync_server.storage import sealed_documents as sealed_store
from sync_server.storage.db import Database

__all__ = ["GRACE", "INTERVAL", "sweep", "run_periodically"]

log = logging.getLogger("sync_server.sweep")

GRACE = timedelta(hours=1)
"""How old an unnamed file must be before it is deleted."""

INTERVAL = timedelta(hours=6)
"""How often the running server sweeps."""


def sweep(db: Database, config: ServerConfig, *, now: float | None = None) -> int:
    """Delete orphan blob files (see the module doc); returns how many."""
    cutoff = (time.time() if now is None else now) - GRACE.total_seconds()
    with db.write() as conn:
        conn.execute(
            "DELETE FROM sealed_documents WHERE document_sha256 NOT IN"
            " (SELECT sha256 FROM kk_documents)"
        )
        sealed_store.forget_revoked(conn)
    # Files first, rows second: a file written after the listing is no candidate, and one
    # named by a row committed in between is kept.
    scans = _old(_blob_files(config.scans_dir), cutoff)
    partials = _old(_files(config.scans_dir / "partial"), cutoff)
    sealed = _old(_blob_files(config.sealed_dir), cutoff)
    with db.read() as conn:
        named = {r[0] for r in conn.execute("SELECT scan_id FROM scans")}
        named |= {r[0] for r in conn.execute("SELECT scan_id FROM whatsapp_inbox")}
        arriving = {
            r[0] for r in conn.execute("SELECT scan_id FROM scans WHERE status = 'arriving'")
        }
        sealed_named = sealed_store.referenced_blobs(conn)
    doomed = [p for p in scans if p.name not in named]
    doomed += [p for p in partials if p.name not in arriving]
    doomed += [p for p in sealed if p.name not in sealed_named]
    for path in doomed:
        path.unlink(missing_ok=True)
    if doomed:
        log.info("deleted %d orphan blob files", len(doomed))
    return len(doomed)


async def run_periodically(db: Database, config: ServerConfig) -> None:
    """:func:`sweep` now and every :data:`INTERVAL` until cancelled; a failure is logged and
    tried again next time."""
    while True:
        try:
            await asyncio.to_thread(sweep, db, config)
        except Exception:
            log.exception("storage sweep failed")
        await asyncio.sleep(INTERVAL.total_seconds())


def _blob_files(root: Path) -> Iterable[Path]:
    """``root/<xx>/<name>`` files (the content-addressed layout)."""
    if not root.is_dir():
        return []
    return (
        path
        for folder in root.iterdir()
        if len(folder.name) == 2 and folder.is_dir()
        for path in _files(folder)
    )


def _files(folder: Path) -> Iterable[Path]:
    """Blob files (named by a SHA-256) and temporary files of interrupted writes."""
    if not folder.is_dir():
        return []
    return (p for p in folder.iterdir() if is_scan_id(p.name) or p.name.startswith(".tmp-"))


def _old(paths: Iterable[Path], cutoff: float) -> list[Path]:
    found = []
    for path in paths:
        try:
            if path.is_file() and path.stat().st_mtime < cutoff:
                found.append(path)
        except FileNotFoundError:  # deleted meanwhile
            continue
    return found
