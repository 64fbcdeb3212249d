"""Uploading the counter's scans: the missing check, then each blob from where it stopped.

One pass (:meth:`ScanUploader.run`), after the round pushed its events:

1. the server's scan key is fetched once if this device has none yet (a device enrolled
   before scans existed), and kept only if the key pinned at enrollment signed it;
2. the missing check: the server says for each unsent scan whether it holds it whole
   (``complete``: recorded here, nothing sent), part of it (``partial`` with the offset to
   resume from), or has never heard of it (``unknown``: its ``scan.attached`` event has not
   been accepted; it waits for a later round);
3. scans go oldest application first (:meth:`Store.scans_to_upload`); before each one,
   events written meanwhile are pushed, so small events never wait behind a big file.

Blobs are ciphertext: no key is needed here. Failures propagate to the engine's round
(which shows them and retries with backoff); every upload resumes from the server's offset.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from field_client.scans import ScanInfo
from field_client.store import Store
from field_client.sync.client import SyncClient
from field_client.sync.errors import ServerRefusal, SyncError
from field_client.sync.progress import ProgressMeter, TransferProgress
from signing.keys import load_public_key_b64
from signing.sealed_box import verify_scan_key_offer

__all__ = ["ScanUploader"]

log = logging.getLogger("field_client.sync")

_STATUS_PAGE = 500
_MAX_ATTEMPTS_PER_SCAN = 8
"""Refusals that say "send again" (offset moved, damaged chunk) before giving up a round."""

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
    ) -> None:
        self._client = client
        self._run = run
        self._push_events = push_events
        self._on_progress = on_progress
        self._timestamp = timestamp

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
        attempts = 0
        while True:
            try:
                answer = await self._client.upload_chunk(scan.scan_id, offset, blob[offset:])
            except ServerRefusal as refusal:
                attempts += 1
                held = refusal.extra.get("offset")
                retry = refusal.code in ("scan.offset_mismatch", "scan.checksum_mismatch")
                if not retry or not isinstance(held, int) or attempts >= _MAX_ATTEMPTS_PER_SCAN:
                    raise
                log.info("scan %s: %s, resuming at %d", scan.scan_id[:12], refusal.code, held)
                offset = held
                meter.restart()
                continue
            meter.sent(len(blob) - offset)
            offset = answer.offset
            if answer.complete:
                break
        meter.finish_file()
        self._on_progress(meter.snapshot())
        await self._mark_uploaded([scan.scan_id])

    async def _mark_uploaded(self, scan_ids: list[str]) -> None:
        at = self._timestamp()
        await self._run(lambda s: s.mark_scans_uploaded(scan_ids, at=at))
