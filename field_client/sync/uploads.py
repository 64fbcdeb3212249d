"""Uploading the counter's scans: the missing check, then each blob from where it stopped.

One pass (:meth:`ScanUploader.run`), after the round pushed its events:

1. the server's scan key is fetched once if this device has none yet (a device enrolled
   before scans existed), and kept only if the key pinned at enrollment signed it;
2. the missing check: the server says for each unsent scan whether it holds it whole
   (``complete``: recorded here, nothing sent), part of it (``partial`` with the offset to
   resume from), or has never heard of it (``unknown``: its ``scan.attached`` event has not
   been accepted; it waits for a later round);
3. scans go oldest application first (:meth:`Store.scans_to_upload`); before each one,
   events written meanwhile are pushed, so small events never wait behind a big file;
4. each blob goes in pieces from the server's offset, each with its SHA-256. The piece size
   adapts to the link (:class:`ChunkSizer`): it aims at ``scan_chunk_target_s`` seconds at
   the measured rate, doubles at most per success and halves after a cut, so a cut costs
   at most one piece. After a cut the server's offset is asked again after a short pause
   and the upload goes on; after five cuts or failed questions in a row the round gives up
   (the engine retries with backoff).

Blobs are ciphertext: no key is needed here. Failures propagate to the engine's round
(which shows them and retries with backoff); every upload resumes from the server's offset.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from field_client.scans import ScanInfo
from field_client.store import Store
from field_client.sync.client import SyncClient
from field_client.sync.errors import LinkDown, ServerRefusal, SyncError
from field_client.sync.progress import ProgressMeter, TransferProgress
from signing.keys import load_public_key_b64
from signing.sealed_box import verify_scan_key_offer

__all__ = ["ScanUploader", "ChunkSizer", "UploadStats"]

log = logging.getLogger("field_client.sync")

_STATUS_PAGE = 500
_MAX_ATTEMPTS_PER_SCAN = 8
"""Refusals that say "send again" (offset moved, damaged chunk) before giving up a round."""
_SEND_AGAIN = frozenset({"scan.offset_mismatch", "scan.checksum_mismatch", "request.bad_signature"})
"""Refusals of a piece that mean "send from the server's offset again". The request
signature covers the body's SHA-256, so a piece damaged on the way usually fails as
``request.bad_signature`` before the server compares the piece's own checksum."""
_MAX_CUTS_IN_A_ROW = 5
"""Cuts (and failed offset questions) in a row before the round gives up and backs off."""
_CUT_PAUSE_S = 0.5
"""Pause before asking the offset after a cut, times the cuts in a row."""


@dataclass(slots=True)
class UploadStats:
    """What the engine's uploads cost since it started (diagnostics, the benchmark)."""

    pieces: int = 0
    """Piece requests sent (answered or not)."""
    piece_bytes: int = 0
    """Bytes of blob in those requests; minus the blobs' sizes, what was sent twice."""
    cut_pieces: int = 0
    """Pieces whose request got no answer."""
    completed_bytes: int = 0
    """Blob bytes of the scans this engine saw completed by its own pieces."""


@dataclass(slots=True)
class ChunkSizer:
    """The size of the next scan piece, adapted to the link."""

    minimum: int
    maximum: int
    target_s: float
    size: int = 0
    cut_seen: bool = False
    """After the first cut, growth is additive (one minimum piece per success) rather than
    doubling: like TCP's congestion avoidance, it probes for the size the link's cuts allow
    instead of jumping back to where it was cut."""

    def __post_init__(self) -> None:
        if self.size <= 0:
            self.size = min(self.maximum, max(self.minimum, 64 * 1024))

    def succeeded(self, rate_bps: float) -> None:
        """A piece went through; ``rate_bps`` is the measured rate."""
        ideal = rate_bps * self.target_s if rate_bps > 0 else self.maximum
        grown = self.size + self.minimum if self.cut_seen else self.size * 2
        self.size = int(max(self.minimum, min(self.maximum, grown, ideal)))

    def failed(self) -> None:
        """A piece was cut: the link is worse than it looked."""
        self.size = max(self.minimum, self.size // 2)
        self.cut_seen = True


StoreRunner = Callable[..., Awaitable[Any]]


class ScanUploader:
    """Sends this device's unsent scans to the server.

    Args:
        client: the signed-request client.
        run: runs ``fn(store, *args)`` on the engine's store thread.
        push_events: pushes pending events (the engine's push), called before each scan.
        on_progress: receives a :class:`TransferProgress` after every request.
        timestamp: the device clock as a protocol timestamp (for ``uploaded_at``).
    """

    def __init__(
        self,
        client: SyncClient,
        run: StoreRunner,
        *,
        push_events: Callable[[], Awaitable[None]],
        on_progress: Callable[[TransferProgress | None], None],
        timestamp: Callable[[], str],
        chunks: ChunkSizer,
        stats: UploadStats | None = None,
    ) -> None:
        self._client = client
        self._run = run
        self._push_events = push_events
        self._on_progress = on_progress
        self._timestamp = timestamp
        self._chunks = chunks
        self._stats = stats or UploadStats()

    async def run(self) -> None:
        """One pass over the unsent scans (see the module doc)."""
        await self._ensure_scan_key()
        pending: list[ScanInfo] = await self._run(Store.scans_to_upload)
        if not pending:
            return
        status = await self._status([s.scan_id for s in pending])
        complete = [s.scan_id for s in pending if status[s.scan_id]["status"] == "complete"]
        if complete:
            await self._mark_uploaded(complete)
        todo = [s for s in pending if status[s.scan_id]["status"] == "partial"]
        meter = ProgressMeter("upload", total=sum(s.blob_bytes for s in todo), files=len(todo))
        try:
            for scan in todo:
                await self._push_events()
                await self._upload(scan, int(status[scan.scan_id]["offset"]), meter)
        finally:
            self._on_progress(None)

    async def _ensure_scan_key(self) -> None:
        if await self._run(Store.server_box_key) is not None:
            return
        device = await self._run(Store.device)
        offer = await self._client.scan_key()
        public = verify_scan_key_offer(load_public_key_b64(device.server_public_key), offer)
        await self._run(Store.set_server_box_key, public)
        log.info("learned the server's scan key")

    async def _offset_after_cut(self, scan: ScanInfo, cuts: int) -> int:
        """The server's offset after a cut, asked after a short pause (a handover or a dead
        spot usually passes in seconds); raises :class:`LinkDown` once cuts and failed
        questions reach :data:`_MAX_CUTS_IN_A_ROW` together, so the round backs off."""
        while True:
            if cuts >= _MAX_CUTS_IN_A_ROW:
                raise LinkDown.of("sync.offline")
            await asyncio.sleep(_CUT_PAUSE_S * cuts)
            log.info("scan %s: piece cut; asking the offset", scan.scan_id[:12])
            try:
                return int((await self._status([scan.scan_id]))[scan.scan_id]["offset"])
            except LinkDown:
                cuts += 1

    async def _status(self, scan_ids: list[str]) -> dict[str, dict[str, Any]]:
        answers: dict[str, dict[str, Any]] = {}
        for start in range(0, len(scan_ids), _STATUS_PAGE):
            page = scan_ids[start : start + _STATUS_PAGE]
            for answer in await self._client.scan_status(page):
                answers[answer["scan_id"]] = answer
        missing = [i for i in scan_ids if i not in answers]
        if missing:
            raise SyncError.of("sync.bad_scan_status", scan_id=missing[0][:12])
        return answers

    async def _upload(self, scan: ScanInfo, offset: int, meter: ProgressMeter) -> None:
        blob: bytes = await self._run(lambda s: s.scan_folder.read(scan.scan_id))
        meter.start_file(len(blob), already=offset)
        self._on_progress(meter.snapshot())
        attempts = cuts = 0
        while True:
            piece = blob[offset : offset + self._chunks.size]
            self._stats.pieces += 1
            self._stats.piece_bytes += len(piece)
            try:
                answer = await self._client.upload_chunk(scan.scan_id, offset, piece)
            except LinkDown:
                self._stats.cut_pieces += 1
                self._chunks.failed()
                cuts += 1
                offset = await self._offset_after_cut(scan, cuts)
                meter.restart()
                continue
            except ServerRefusal as refusal:
                attempts += 1
                held = refusal.extra.get("offset", offset)
                retry = refusal.code in _SEND_AGAIN
                if not retry or not isinstance(held, int) or attempts >= _MAX_ATTEMPTS_PER_SCAN:
                    raise
                log.info("scan %s: %s, resuming at %d", scan.scan_id[:12], refusal.code, held)
                offset = held
                meter.restart()
                continue
            cuts = 0
            meter.sent(len(piece))
            self._chunks.succeeded(meter.rate_bps)
            offset = answer.offset
            self._on_progress(meter.snapshot())
            if answer.complete:
                self._stats.completed_bytes += len(blob)
                break
        meter.finish_file()
        self._on_progress(meter.snapshot())
        await self._mark_uploaded([scan.scan_id])

    async def _mark_uploaded(self, scan_ids: list[str]) -> None:
        at = self._timestamp()
        await self._run(lambda s: s.mark_scans_uploaded(scan_ids, at=at))
