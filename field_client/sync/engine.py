"""The counter's sync engine: a background asyncio task that empties the outbox and pulls.

The outbox (:mod:`field_client.store`) is the truth. The engine only reads it and records
what the server answered; it never deletes nor rewrites an event. A push whose answer is
lost is simply sent again: the server stores each event once and answers a re-sent batch
with the same acknowledgement, so nothing is lost and nothing is doubled.

One round (:meth:`SyncEngine.run_once`):

1. push: pending events, oldest first, in batches of at most ``push_max_events`` and
   ``push_max_bytes`` of JSON (gzip on the wire); each answer is recorded with
   :meth:`Store.record_push_result`, so the server's refusal of one event (an unknown
   operator, an illegal move) reaches the operator's screen. Repeated until nothing is
   pending.

   * 409 ``event.seq_gap`` (the server holds less than this counter thinks, e.g. it was
     restored from a backup): the events from ``expected_seq`` on are read back from the
     outbox and sent again, then the pending ones;
   * 413 (batch too large for the server): the batch is halved and sent again.

2. pull: the server's signed events after :meth:`Store.pull_cursor`, applied with
   :meth:`Store.apply_server_events` (which verifies them against the pinned server key and
   applies a batch all or nothing), until the server says there are no ``more``.

3. downloads: the signed KK PDFs the pull announced, resumable, encrypted by the server for
   this counter and kept as they arrive (:mod:`field_client.sync.downloads`);

4. scans: the missing check, then each unsent scan's blob from where the server's copy
   stops, oldest application first, pushing any new events before each file
   (:mod:`field_client.sync.uploads`). :attr:`SyncStatus.transfer` shows the progress.

Failures never reach the caller; they become the :class:`SyncStatus` the UI shows:

* no network, timeouts, cuts, a gateway's 502/503/504, a hotspot's page
  (:class:`~field_client.sync.errors.LinkDown`): ``online`` false, retried with backoff;
* a refusal of a whole request (:class:`~field_client.sync.errors.ServerRefusal`): its code
  and Indonesian message kept as ``last_error``; retried with backoff, except
  ``device.revoked``, which stops the engine and sets ``device_revoked``;
* a contradiction in an answer (``outbox.*``, a server event that does not verify) and
  local problems (key file, not enrolled): the same, with that code;
* anything else is a bug: logged with its traceback, shown as ``sync.internal_error``.

Idle time: after a round, at most every :data:`SWEEP_INTERVAL_S` (and after the first
round), the engine deletes blob files no row names (:func:`field_client.orphans.sweep_orphans`:
what a crash between writing a file and committing its row leaves).

Backoff: full jitter (a uniform delay between 0 and ``min(cap, base * 2**failures)``, from
an injectable seeded RNG), reset by a successful round. After a success the engine waits
``poll_interval_s`` to pull again. :meth:`SyncEngine.wake` (or setting
:attr:`SyncEngine.wakeup`) ends any wait at once: the app calls it after an operator action.

The store is used from one worker thread with its own SQLite connection, so a slow disk or
a long ``apply_server_events`` never freezes the screens running on the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import logging
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from field_client.config import CounterConfig
from field_client.errors import DeviceKeyMismatch, DeviceNotEnrolled
from field_client.orphans import sweep_orphans
from field_client.store import Device, Store
from field_client.sync.client import SyncClient, client_for, utc_now
from field_client.sync.downloads import DocumentDownloader
from field_client.sync.errors import LinkDown, ServerRefusal, SyncError
from field_client.sync.progress import TransferProgress
from field_client.sync.uploads import ChunkSizer, ScanUploader, UploadStats
from protocol.errors import KKError, message_for
from protocol.events import format_timestamp
from signing.keys import load_private_key, public_key_b64

__all__ = ["SyncStatus", "Backoff", "SyncEngine"]

log = logging.getLogger("field_client.sync")

T = TypeVar("T")

_REVOKED = "device.revoked"

SWEEP_INTERVAL_S = 6 * 3600.0
"""How often the engine looks for orphan blob files in its idle time."""


@dataclass(frozen=True, slots=True)
class SyncStatus:
    """What the operator's status bar shows. Immutable: each change is a new value.

    Not to be confused with :class:`field_client.store.SyncStatus`, the state of one outbox
    event.
    """

    online: bool = False
    """The last attempt got an answer from the server (a refusal counts as an answer)."""
    syncing: bool = False
    """A round is running now."""
    pending_events: int = 0
    """Outbox events the server has not acknowledged yet."""
    pending_bytes: int = 0
    """Their size as stored (JSON), before compression."""
    refused_events: int = 0
    """Outbox events the server kept but refused (each with a code and message)."""
    last_success_at: datetime | None = None
    """End of the last round that pushed and pulled everything (device clock)."""
    last_attempt_at: datetime | None = None
    """End of the last round, successful or not (device clock)."""
    next_attempt_at: datetime | None = None
    """When the engine will try again on its own (device clock); ``None`` while running."""
    last_error: str | None = None
    """Indonesian, for the operator; ``None`` after a successful round."""
    last_error_code: str | None = None
    """Stable code of ``last_error`` (``sync.offline``, ``device.revoked``...)."""
    device_revoked: bool = False
    """The server revoked this device: the engine stopped and will not try again."""
    pending_scans: int = 0
    """Scans the server does not hold whole yet."""
    pending_scan_bytes: int = 0
    """Their encrypted size: what is left to send at most."""
    transfer: TransferProgress | None = None
    """The scan transfer running now (bytes, rate, time left), for the progress bar;
    ``None`` when no scan is moving."""

    def describe(self) -> str:
        """One Indonesian line for a status bar or the CLI."""
        if self.device_revoked:
            state = "Perangkat dicabut; sinkronisasi berhenti"
        elif self.syncing:
            state = "Sedang sinkronisasi"
        elif self.online and self.last_error is None:
            state = "Terhubung ke server pusat"
        elif self.online:
            state = "Terhubung, tetapi ada masalah"
        else:
            state = "Tidak terhubung ke server pusat"
        parts = [state, f"{self.pending_events} catatan menunggu dikirim"]
        if self.pending_scans:
            parts.append(f"{self.pending_scans} berkas menunggu dikirim")
        if self.refused_events:
            parts.append(f"{self.refused_events} catatan ditolak server")
        if self.transfer is not None:
            parts.append(self.transfer.describe())
        return "; ".join(parts) + "."


@dataclass(slots=True)
class Backoff:
    """Capped exponential backoff with full jitter (AWS architecture blog, 2015).

    Full jitter spreads the retries of counters that all lost the same tower or the same
    server, so they do not hammer it together the moment it comes back.
    """

    base_s: float
    cap_s: float
    rng: random.Random

    def delay(self, failures: int) -> float:
        """Seconds to wait after ``failures`` consecutive failures (``failures`` >= 1)."""
        exponent = min(max(failures - 1, 0), 32)  # 2**32 * base is far past any cap
        return self.rng.uniform(0.0, min(self.cap_s, self.base_s * 2.0**exponent))


@dataclass(frozen=True, slots=True)
class _Batch:
    seqs: list[int]
    body: bytes
    """gzip of ``{"events": [...]}``"""
    pending: frozenset[int]
    """Seqs of the batch still pending here: only their results are recorded."""


class _StoreThread:
    """The engine's own connection to the store, used from one worker thread only
    (a sqlite3 connection belongs to the thread that opened it)."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kk-sync-store")
        self._store: Store | None = None

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(store, *args)`` on the store thread."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._call, fn, args)

    def _call(self, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        if self._store is None:
            if not self._path.exists():  # never create a store: that is enrollment's job
                raise DeviceNotEnrolled.of("device.not_enrolled")
            self._store = Store.open(self._path)
        return fn(self._store, *args)

    async def close(self) -> None:
        def close() -> None:
            if self._store is not None:
                self._store.close()
                self._store = None

        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(self._executor, close)
        finally:
            self._executor.shutdown(wait=False)


class SyncEngine:
    """Pushes the outbox and pulls the server's events, forever or one round at a time.

    Args:
        config: the counter's settings (data directory, timeouts, batch sizes, backoff).
        clock: the device clock (aware datetimes); the server's offset is learned on top.
        rng: randomness of the backoff jitter; pass a seeded one for reproducible tests.
        sleep: how the engine waits (``asyncio.sleep``); tests may pass a faster one.
        transport: an httpx transport for the sync client (``None``: real network).

    Use it as an async context manager, or call :meth:`aclose` at the end.
    """

    def __init__(
        self,
        config: CounterConfig,
        *,
        clock: Callable[[], datetime] = utc_now,
        rng: random.Random | None = None,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.config = config
        self._clock = clock
        self._sleep = sleep
        self._transport = transport
        self.backoff = Backoff(config.backoff_base_s, config.backoff_cap_s, rng or random.Random())
        self.wakeup = asyncio.Event()
        """Set it (or call :meth:`wake`) to end the current wait: a new event to send."""
        self.failures = 0
        """Consecutive failed rounds (0 after a success): the backoff's exponent."""
        self._status = SyncStatus()
        self._callbacks: list[Callable[[SyncStatus], None]] = []
        self._watchers: list[asyncio.Queue[SyncStatus]] = []
        self._db = _StoreThread(config.db_path)
        self._client: SyncClient | None = None
        self._client_for: tuple[str, str, str] | None = None
        self._round_lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._retry_after: float | None = None
        self._chunks = ChunkSizer(
            minimum=config.scan_chunk_min_bytes,
            maximum=config.scan_chunk_max_bytes,
            target_s=config.scan_chunk_target_s,
        )
        """Scan piece size, kept across rounds: what the link taught stays learned."""
        self._download_chunks = ChunkSizer(
            minimum=config.scan_chunk_min_bytes,
            maximum=config.scan_chunk_max_bytes,
            target_s=config.scan_chunk_target_s,
        )
        self.upload_stats = UploadStats()
        """Pieces and bytes sent since this engine started (diagnostics)."""
        self._answered = False
        """Whether the server answered during the current round (so it is online even if
        the round then fails on something local)."""
        self._swept_at: float | None = None
        """When (monotonic) orphan blob files were last swept (``None``: not yet)."""

    # -- what the UI uses ----------------------------------------------------------------

    @property
    def status(self) -> SyncStatus:
        """The current status."""
        return self._status

    @property
    def clock_offset(self) -> timedelta:
        """Server clock minus device clock, as learned so far."""
        return self._client.clock_offset if self._client else timedelta(0)

    def subscribe(self, callback: Callable[[SyncStatus], None]) -> Callable[[], None]:
        """Call ``callback(status)`` on the event loop at every change; returns a function
        that unsubscribes. A callback that raises is logged and kept."""
        self._callbacks.append(callback)
        return lambda: self._callbacks.remove(callback) if callback in self._callbacks else None

    async def watch(self) -> AsyncIterator[SyncStatus]:
        """The current status, then every change. A slow reader skips intermediate values
        but always gets the latest. Wrap it in :func:`contextlib.aclosing` when leaving the
        loop early, so the subscription ends at once rather than at garbage collection."""
        queue: asyncio.Queue[SyncStatus] = asyncio.Queue(maxsize=1)
        queue.put_nowait(self._status)
        self._watchers.append(queue)
        try:
            while True:
                yield await queue.get()
        finally:
            self._watchers.remove(queue)

    def wake(self) -> None:
        """Sync now: call after the operator wrote an event. From the event loop's thread
        only; from another thread use ``loop.call_soon_threadsafe(engine.wake)``."""
        self.wakeup.set()

    def start(self) -> asyncio.Task[None]:
        """Run :meth:`run_forever` as a background task (idempotent)."""
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self.run_forever(), name="kk-sync-engine")
        return self._task

    async def stop(self) -> None:
        """Stop the background task (a round in flight is abandoned and re-sent later)."""
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def aclose(self) -> None:
        """Stop, close the HTTP client and the engine's store connection."""
        await self.stop()
        if self._client is not None:
            await self._client.aclose()
            self._client = None
        await self._db.close()

    async def __aenter__(self) -> SyncEngine:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # -- the loop ------------------------------------------------------------------------

    async def run_forever(self) -> None:
        """Sync rounds until cancelled or the device is revoked; never raises otherwise."""
        while True:
            status = await self.run_once()
            if status.device_revoked:
                log.error("device revoked by the server; sync stopped")
                return
            if self.failures == 0:
                delay = self.config.poll_interval_s
            else:
                delay = self.backoff.delay(self.failures)
                if self._retry_after is not None:
                    delay = max(delay, min(self._retry_after, self.config.backoff_cap_s))
            self._publish(next_attempt_at=self._clock() + timedelta(seconds=delay))
            await self._pause(delay)

    async def _pause(self, delay: float) -> None:
        sleeper = asyncio.ensure_future(self._sleep(delay))
        waker = asyncio.ensure_future(self.wakeup.wait())
        try:
            await asyncio.wait({sleeper, waker}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (sleeper, waker):
                task.cancel()
            self.wakeup.clear()

    async def run_once(self) -> SyncStatus:
        """One round: push everything pending, then pull everything new. Never raises
        (except cancellation); returns the status after the round."""
        if self._status.device_revoked:
            return self._status
        async with self._round_lock:
            self.wakeup.clear()  # whatever woke us is in this round
            self._retry_after = None
            self._publish(syncing=True, next_attempt_at=None)
            changes: dict[str, Any] = {}
            self._answered = False
            try:
                await self._round()
            except asyncio.CancelledError:
                # Stopped mid-round: whatever was in flight is simply sent again next time.
                self._publish(syncing=False)
                raise
            except LinkDown as exc:
                changes = self._failed(exc, online=False)
            except ServerRefusal as exc:
                self._retry_after = exc.retry_after
                if exc.code == _REVOKED:
                    changes = {
                        "online": True,
                        "device_revoked": True,
                        "last_error": message_for("sync.stopped", reason=exc.message),
                        "last_error_code": exc.code,
                    }
                    self.failures += 1
                else:
                    changes = self._failed(exc, online=True)
            except KKError as exc:  # a contradicting answer, a local key or store problem
                changes = self._failed(exc, online=self._answered or self._status.online)
            except Exception:
                log.exception("sync round failed with an unexpected error")
                changes = self._failed(
                    SyncError.of("sync.internal_error"),
                    online=self._answered or self._status.online,
                )
            else:
                self.failures = 0
                now = self._clock()
                changes = {
                    "online": True,
                    "last_success_at": now,
                    "last_error": None,
                    "last_error_code": None,
                }
            changes["last_attempt_at"] = self._clock()
            changes["syncing"] = False
            try:
                changes.update(await self._db.run(_counts))
            except Exception as exc:  # counts are cosmetic; the round's result stands
                if not isinstance(exc, KKError):
                    log.exception("could not count the outbox")
            self._publish(**changes)
            await self._sweep_if_due()
            return self._status

    async def _sweep_if_due(self) -> None:
        """Delete orphan blob files, now and then (see the module doc); never raises."""
        now = time.monotonic()
        if self._swept_at is not None and now - self._swept_at < SWEEP_INTERVAL_S:
            return
        self._swept_at = now
        try:
            await self._db.run(sweep_orphans)
        except KKError as exc:  # not enrolled yet, say: next time
            log.info("orphan sweep skipped: %s", exc.code)
        except Exception:
            log.exception("orphan sweep failed")

    def _failed(self, exc: KKError, *, online: bool) -> dict[str, Any]:
        self.failures += 1
        log.info("sync round failed: %s", exc.code)
        return {"online": online, "last_error": exc.message, "last_error_code": exc.code}

    # -- one round -----------------------------------------------------------------------

    async def _round(self) -> None:
        client = await self._connect()
        await self._push_all(client)
        self._publish(**(await self._db.run(_counts)))
        await self._pull_all(client)
        # The signed KKs the pull announced: small, and the applicant is waiting for them.
        await DocumentDownloader(
            client,
            self._db.run,
            on_progress=self._progress,
            timestamp=lambda: format_timestamp(self._clock()),
            chunks=self._download_chunks,
        ).run()
        # Scans last: small events and the centre's answers never wait behind a big file.
        uploader = ScanUploader(
            client,
            self._db.run,
            push_events=lambda: self._push_all(client),
            on_progress=self._progress,
            timestamp=lambda: format_timestamp(self._clock()),
            chunks=self._chunks,
            stats=self.upload_stats,
        )
        await uploader.run()

    def _progress(self, transfer: TransferProgress | None) -> None:
        self._publish(transfer=transfer)

    async def _connect(self) -> SyncClient:
        """The client for the enrolled device (re-made if the enrollment changed)."""
        device: Device | None = await self._db.run(Store.device)
        if device is None:
            raise DeviceNotEnrolled.of("device.not_enrolled")
        url = self.config.server_url or device.server_url
        identity = (device.device_id, device.public_key, url)
        if self._client is not None and self._client_for == identity:
            return self._client
        key = await asyncio.to_thread(load_private_key, self.config.key_path)
        if public_key_b64(key) != device.public_key:
            raise DeviceKeyMismatch.of("device.key_mismatch", device_id=device.device_id)
        offset = timedelta(0)
        if self._client is not None:
            offset = self._client.clock_offset  # the device clock did not change with the URL
            await self._client.aclose()
        self._client = self._make_client(url, device.device_id, key)
        self._client.clock_offset = offset
        self._client_for = identity
        return self._client

    def _make_client(self, url: str, device_id: str, key: Ed25519PrivateKey) -> SyncClient:
        return client_for(
            self.config, url, device_id, key, clock=self._clock, transport=self._transport
        )

    async def _push_all(self, client: SyncClient) -> None:
        max_events = self.config.push_max_events
        max_bytes = self.config.push_max_bytes
        last_first: int | None = None
        while True:
            batch = await self._db.run(_pending_batch, max_events, max_bytes)
            if batch is None:
                return
            if batch.seqs[0] == last_first:
                # The last answer was recorded yet the same events are still pending.
                raise SyncError.of("sync.no_progress", seq=batch.seqs[0])
            try:
                answer = await client.push(batch.body)
                self._answered = True
            except ServerRefusal as refusal:
                if refusal.code == "event.seq_gap":
                    await self._resend_from(client, refusal, batch.seqs[0])
                    continue
                if refusal.status == 413 and len(batch.seqs) > 1:
                    max_events = max(1, len(batch.seqs) // 2)
                    max_bytes = max(1024, max_bytes // 2)
                    continue
                raise
            results = [
                r
                for r in answer.results
                if isinstance(r.get("seq"), int) and r["seq"] in batch.pending
            ]
            await self._db.run(Store.record_push_result, answer.acked_seq, results)
            last_first = batch.seqs[0]
            self._publish(**(await self._db.run(_counts)))

    async def _resend_from(
        self, client: SyncClient, gap: ServerRefusal, first_pending: int
    ) -> None:
        """Send the events the server lost (``expected_seq`` up to the first pending one)."""
        expected = gap.extra.get("expected_seq")
        if isinstance(expected, bool) or not isinstance(expected, int) or expected < 1:
            raise gap
        if expected >= first_pending:
            raise SyncError.of("sync.no_progress", seq=first_pending)
        log.warning(
            "server expects seq %d, this counter's first pending is %d: sending again",
            expected,
            first_pending,
        )
        seq = expected
        while seq < first_pending:
            batch = await self._db.run(
                _batch_from,
                seq,
                first_pending - 1,
                self.config.push_max_events,
                self.config.push_max_bytes,
            )
            answer = await client.push(batch.body)
            # These events were settled here already; only the server's head moves.
            await self._db.run(Store.record_push_result, answer.acked_seq, [])
            seq = batch.seqs[-1] + 1

    async def _pull_all(self, client: SyncClient) -> None:
        previous: int | None = None
        while True:
            cursor: int = await self._db.run(lambda s: s.pull_cursor())
            if cursor == previous:
                raise SyncError.of("sync.no_progress", seq=cursor)
            page = await client.pull(cursor, limit=self.config.pull_limit)
            self._answered = True
            if page.events:
                await self._db.run(lambda s, events: s.apply_server_events(events), page.events)
            if not page.more or not page.events:
                return
            previous = cursor

    # -- status --------------------------------------------------------------------------

    def _publish(self, **changes: Any) -> None:
        status = replace(self._status, **changes)
        if status == self._status:
            return
        self._status = status
        for callback in list(self._callbacks):
            try:
                callback(status)
            except Exception:
                log.exception("a sync status subscriber failed")
        for queue in self._watchers:
            if queue.full():
                queue.get_nowait()
            queue.put_nowait(status)


# -- store work (runs on the store thread) --------------------------------------------------


def _counts(store: Store) -> dict[str, int]:
    return {**store.outbox_summary(), **store.scan_summary()}


def _encode(wires: list[bytes]) -> bytes:
    raw = b'{"events":[' + b",".join(wires) + b"]}"
    return gzip.compress(raw, compresslevel=9, mtime=0)


def _take(items: list[tuple[int, bytes]], max_bytes: int) -> list[tuple[int, bytes]]:
    """The longest prefix within ``max_bytes``; always at least one event."""
    taken, size = [], 0
    for seq, wire in items:
        if taken and size + len(wire) > max_bytes:
            break
        taken.append((seq, wire))
        size += len(wire) + 1
    return taken


def _pending_batch(store: Store, max_events: int, max_bytes: int) -> _Batch | None:
    wires = store.pending_wires(limit=max_events)
    if not wires:
        return None
    taken = _take(wires, max_bytes)
    seqs = [seq for seq, _ in taken]
    return _Batch(seqs, _encode([wire for _, wire in taken]), frozenset(seqs))


def _batch_from(store: Store, start: int, stop: int, max_events: int, max_bytes: int) -> _Batch:
    """Events ``start``..``stop`` whatever their status, read back from the outbox."""
    rows = store.wires_between(start, stop, max_events)
    if not rows or rows[0][0] != start:
        # Synced events may be purged (schema: retention); the server cannot get them back
        # from here.
        raise SyncError.of("sync.history_missing", seq=start)
    contiguous = [(seq, wire) for i, (seq, wire) in enumerate(rows) if seq == start + i]
    taken = _take(contiguous, max_bytes)
    return _Batch([seq for seq, _ in taken], _encode([w for _, w in taken]), frozenset())
