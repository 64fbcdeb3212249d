"""Downloading the signed KKs to the counter, resumable, after each pull.

``application.kk_ready`` (a signed server event, applied by the pull) names the PDF by
SHA-256 and size. For each such document not downloaded yet (:meth:`Store.documents_to_download`)
the engine asks for pieces from the bytes it already holds, sized like upload pieces
(:class:`~field_client.sync.uploads.ChunkSizer`), appending each to a partial file; a cut
resumes from the partial file's length in the next round. When the file is whole its
SHA-256 must be the signed one (else the partial file is dropped and the download starts
over); it is then sealed for the counter's own X25519 key (:meth:`Store.store_downloaded_document`:
the public half is plain, so no secret is needed here; the private half opens only with an
operator's data key) and the plain partial file is deleted.

Until an operator has unlocked the data key once on this counter there is no device key to
seal for, and downloads wait.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Awaitable, Callable
from typing import Any

from field_client.store import KKDocument, Store
from field_client.sync.client import SyncClient
from field_client.sync.errors import LinkDown, SyncError
from field_client.sync.progress import ProgressMeter, TransferProgress
from field_client.sync.uploads import ChunkSizer
from protocol.scans import is_scan_id

__all__ = ["DocumentDownloader"]

log = logging.getLogger("field_client.sync")

StoreRunner = Callable[..., Awaitable[Any]]


class DocumentDownloader:
    """Fetches the signed KK PDFs this counter was told about (see the module doc)."""

    def __init__(
        self,
        client: SyncClient,
        run: StoreRunner,
        *,
        on_progress: Callable[[TransferProgress | None], None],
        timestamp: Callable[[], str],
        chunks: ChunkSizer,
    ) -> None:
        self._client = client
        self._run = run
        self._on_progress = on_progress
        self._timestamp = timestamp
        self._chunks = chunks

    async def run(self) -> None:
        if await self._run(Store.device_box_public) is None:
            return
        todo = [d for d in await self._run(Store.documents_to_download) if _well_formed(d)]
        if not todo:
            return
        meter = ProgressMeter(
            "download", total=sum(int(d.document["size"]) for d in todo), files=len(todo)
        )
        try:
            for document in todo:
                await self._download(document, meter)
        finally:
            self._on_progress(None)

    async def _download(self, document: KKDocument, meter: ProgressMeter) -> None:
        sha256, size = str(document.document["sha256"]), int(document.document["size"])
        folder = await self._run(lambda s: s.document_folder)
        partial = folder.partial(sha256)
        partial.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        held = partial.stat().st_size if partial.exists() else 0
        if held > size:
            partial.unlink()
            held = 0
        meter.start_file(size, already=held)
        while held < size:
            try:
                data, digest, total = await self._client.download_piece(
                    document.application_id, held, self._chunks.size
                )
            except LinkDown:
                self._chunks.failed()
                raise  # the next round resumes from the partial file
            if digest != sha256 or total != size or not data:
                # The server holds another document than the signed event named (signed
                # again meanwhile): the next pull brings the new event.
                raise SyncError.of("sync.document_changed", application_id=document.application_id)
            _append(partial, data)
            held += len(data)
            meter.sent(len(data))
            self._chunks.succeeded(meter.rate_bps)
            self._on_progress(meter.snapshot())
        content = partial.read_bytes()
        if hashlib.sha256(content).hexdigest() != sha256:
            partial.unlink()
            raise SyncError.of("sync.document_changed", application_id=document.application_id)
        at = self._timestamp()
        await self._run(lambda s: s.store_downloaded_document(document, content, at=at))
        partial.unlink()
        meter.finish_file()
        log.info("downloaded the signed KK of %s", document.application_id)


def _well_formed(document: KKDocument) -> bool:
    """The signed reference names a file we can fetch and check (else it is skipped)."""
    sha256, size = document.document.get("sha256"), document.document.get("size")
    ok = is_scan_id(sha256) and isinstance(size, int) and not isinstance(size, bool) and size > 0
    if not ok:
        log.warning("signed KK of %s has no usable file reference", document.application_id)
    return ok


def _append(path: os.PathLike[str], data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
