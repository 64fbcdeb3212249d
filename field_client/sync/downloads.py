"""Downloading the signed KKs to the counter, resumable, after each pull; never plaintext.

``application.kk_ready`` (a signed server event, applied by the pull) names the PDF by
SHA-256 and size. The server never sends this counter the PDF itself: it sends it encrypted
for the counter's own X25519 box key (:mod:`signing.scan_cipher`, the file key sealed for
the counter), one ciphertext per (document, device) that it keeps, so every piece of a
resumed download is cut from the same bytes. So no plaintext byte of a download is ever on
the counter's disk, not even while it is arriving.

Before the first download the engine registers the box key's public half with the server
(:meth:`~field_client.sync.client.SyncClient.register_box_key`, a signed request), and again
whenever it changes; the key is made at the first operator unlock, so until then downloads
wait. For each document not downloaded yet (:meth:`Store.documents_to_download`) the engine
asks for pieces from the bytes it already holds, sized like upload pieces
(:class:`~field_client.sync.uploads.ChunkSizer`), appending each to
``partial/<document sha256>.<ciphertext sha256>``; a cut resumes from that file's length in
the next round, and a ciphertext the server replaced meanwhile (a new box key) starts over.
Each answer must name the signed document (else ``sync.document_changed``). The whole
ciphertext must hash to what the server announced and its header must describe a document
of the signed size; it is then moved into place as it is (no re-encryption, no secret
needed) and recorded. The plaintext's SHA-256 is checked against the signed one when an
operator opens it (:meth:`Store.read_kk_pdf`).
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from field_client.scans import DocumentFolder
from field_client.store import KKDocument, Store
from field_client.sync.client import SyncClient
from field_client.sync.errors import LinkDown, ServerRefusal, SyncError
from field_client.sync.progress import ProgressMeter, TransferProgress
from field_client.sync.uploads import ChunkSizer
from protocol.errors import KKError
from protocol.scans import is_scan_id
from signing.scan_cipher import blob_size, read_header

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
        public = await self._run(Store.device_box_public)
        if public is None:
            return  # no operator has unlocked this counter yet: nothing to seal for
        if await self._run(Store.device_box_registered) != public:
            await self._register(public)  # once per key
        todo = [d for d in await self._run(Store.documents_to_download) if _well_formed(d)]
        if not todo:
            return
        # Progress counts ciphertext bytes, what crosses the link (the server encrypts with
        # the default chunk size, so their number follows from the signed size).
        meter = ProgressMeter(
            "download", total=sum(blob_size(int(d.document["size"])) for d in todo), files=len(todo)
        )
        try:
            for document in todo:
                await self._download(document, public, meter)
        finally:
            self._on_progress(None)

    async def _register(self, public: str) -> None:
        """Have the server seal for ``public`` (a changed key also makes the documents
        sealed for the old one due again)."""
        await self._client.register_box_key(public)
        await self._run(lambda s: s.mark_device_box_registered(public))

    async def _download(self, document: KKDocument, public: str, meter: ProgressMeter) -> None:
        sha256, size = str(document.document["sha256"]), int(document.document["size"])
        folder: DocumentFolder = await self._run(lambda s: s.document_folder)
        partial = _partial_of(folder, sha256)
        held = partial.stat().st_size if partial else 0
        meter.start_file(blob_size(size), already=held)
        registered_again = False
        while True:
            try:
                piece = await self._client.download_piece(
                    document.application_id, held, self._chunks.size
                )
            except LinkDown:
                self._chunks.failed()
                raise  # the next round resumes from the partial file
            except ServerRefusal as exc:
                if exc.code == "document.box_key_missing" and not registered_again:
                    # The server lost the registration (restored from a backup): again.
                    await self._register(public)
                    registered_again = True
                    continue
                if exc.code != "document.bad_range" or partial is None:
                    raise
                partial.unlink(missing_ok=True)  # the server's copy is shorter: another one
                partial, held = None, 0
                continue
            if piece.document_sha256 != sha256 or piece.document_size != size:
                # The server holds another document than the signed event named (signed
                # again meanwhile): the next pull brings the new event.
                raise SyncError.of("sync.document_changed", application_id=document.application_id)
            target = folder.partial(sha256, piece.blob_sha256)
            if partial is not None and partial != target:
                # The server made a new ciphertext (a new box key): these bytes are cut from
                # it, not from what we hold. Start over.
                partial.unlink(missing_ok=True)
                partial, held = None, 0
                continue
            if partial is None:
                partial = target
                partial.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            if held >= piece.blob_size:
                break
            if not piece.data:
                raise LinkDown.of("sync.bad_response", status=200)
            _append(partial, piece.data)
            held += len(piece.data)
            meter.sent(len(piece.data))
            self._chunks.succeeded(meter.rate_bps)
            self._on_progress(meter.snapshot())
            if held >= piece.blob_size:
                break
        self._install(folder, partial, sha256, size, document)
        at = self._timestamp()
        await self._run(lambda s: s.mark_document_downloaded(document, at=at))
        meter.finish_file()
        log.info("downloaded the signed KK of %s", document.application_id)

    @staticmethod
    def _install(
        folder: DocumentFolder, partial: Path, sha256: str, size: int, document: KKDocument
    ) -> None:
        """Check the whole ciphertext and move it into place, or drop it."""
        blob = partial.read_bytes()
        blob_sha256 = partial.name.partition(".")[2]
        try:
            header = read_header(blob)
            fits = header.plain_size == size and len(blob) == blob_size(size, header.chunk_size)
        except KKError:
            fits = False
        if not fits or hashlib.sha256(blob).hexdigest() != blob_sha256:
            partial.unlink()
            raise SyncError.of("sync.document_changed", application_id=document.application_id)
        folder.install(partial, sha256)


def _partial_of(folder: DocumentFolder, sha256: str) -> Path | None:
    """The partial download of document ``sha256``, if any. Other partial files of it
    (and plain ones an older version of this app left) are deleted."""
    found = None
    directory = folder.root / "partial"
    if not directory.is_dir():
        return None
    for path in sorted(directory.iterdir()):
        name, _, blob = path.name.partition(".")
        if name != sha256:
            continue
        if found is None and is_scan_id(blob):
            found = path
        else:
            path.unlink(missing_ok=True)
    return found


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
