"""Deleting the counter's blob files that no row names: what a crash leaves behind.

Every file here is written first and its row committed after (a scan blob before its
``scans`` row, :func:`field_client.scans.attach`; a download moved into place before
``kk_documents.downloaded_at``), so a crash between the two leaves a file nothing names,
never a row without its file. Nothing else would ever delete such a file. :func:`sweep_orphans`
does, for files older than a grace period (an hour): a write in progress is seconds old,
so it is never mistaken for an orphan, even when another process is writing at the moment.

What is deleted:

* ``scans/<xx>/<id>`` that no ``scans`` row names, and temporary ``.<id>.<pid>.tmp`` files;
* ``documents/<xx>/<sha256>`` that no ``kk_documents`` row names (a KK signed again
  replaced it);
* ``documents/partial/<sha256>.<blob>`` of a document not waiting for download any more;
  plain ``documents/partial/<sha256>`` files an older version of the app left (plaintext:
  deleted at once, whatever their age).

Files whose names follow none of these patterns are left alone. The sync engine calls it
in its idle time (:class:`~field_client.sync.engine.SyncEngine`).
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

from field_client.store import Store
from protocol.scans import is_scan_id

__all__ = ["GRACE_S", "sweep_orphans"]

log = logging.getLogger("field_client.orphans")

GRACE_S = 3600.0
"""How old an unnamed file must be before it is deleted (seconds)."""


def sweep_orphans(store: Store, *, grace_s: float = GRACE_S, now: float | None = None) -> int:
    """Delete orphan blob files (see the module doc); returns how many were deleted."""
    cutoff = (time.time() if now is None else now) - grace_s
    # Files first, rows second: a file written after the listing is not a candidate, and
    # one listed (old) but named by a row committed meanwhile is kept.
    scan_files = _old_files(store.scan_folder.root, cutoff, skip={"partial"})
    document_files = _old_files(store.document_folder.root, cutoff, skip={"partial"})
    partials = _partials(store.document_folder.root / "partial")
    scan_ids = {r["scan_id"] for r in store._rows("SELECT scan_id FROM scans")}
    documents = {}
    for row in store._rows("SELECT document, downloaded_at FROM kk_documents"):
        try:
            sha256 = str(json.loads(row["document"])["sha256"])
        except (ValueError, KeyError, TypeError):
            continue
        documents[sha256] = row["downloaded_at"] is None or documents.get(sha256, False)
    doomed = [p for p in scan_files if _is_temporary(p) or p.name not in scan_ids]
    doomed += [p for p in document_files if _is_temporary(p) or p.name not in documents]
    for path in partials:
        name, dot, blob = path.name.partition(".")
        if not dot:
            doomed.append(path)  # plaintext from before downloads came sealed
        elif _older(path, cutoff) and not (is_scan_id(blob) and documents.get(name)):
            doomed.append(path)
    for path in doomed:
        path.unlink(missing_ok=True)
    if doomed:
        log.info("deleted %d orphan blob files", len(doomed))
    return len(doomed)


def _old_files(root: Path, cutoff: float, *, skip: set[str]) -> list[Path]:
    """Blob and temporary files in ``root/<xx>/`` last written before ``cutoff``."""
    if not root.is_dir():
        return []
    found = []
    for folder in root.iterdir():
        if folder.name in skip or len(folder.name) != 2 or not folder.is_dir():
            continue
        for path in folder.iterdir():
            if not (is_scan_id(path.name) or _is_temporary(path)):
                continue
            if _older(path, cutoff):
                found.append(path)
    return found


def _older(path: Path, cutoff: float) -> bool:
    try:
        return path.stat().st_mtime < cutoff
    except FileNotFoundError:  # deleted meanwhile
        return False


def _partials(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return [p for p in folder.iterdir() if is_scan_id(p.name.partition(".")[0])]


def _is_temporary(path: Path) -> bool:
    """``ScanFolder.write``'s temporary name: ``.<id>.<pid>.tmp``."""
    parts = path.name.split(".")
    return len(parts) == 4 and parts[0] == "" and is_scan_id(parts[1]) and parts[3] == "tmp"
