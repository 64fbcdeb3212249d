"""The outbox worker: a background task of the server's lifespan that sends due messages.

One worker per server process, one message at a time (the Cloud API's throughput limit is
far above a kabupaten's daily volume; the outbox is about never losing or doubling a
message, not speed). Each pass:

1. on start, :func:`~sync_server.services.whatsapp.outbox.recover_interrupted`: messages
   left ``sending`` by a dead process become ``unknown`` (perlu dicek), never re-sent;
2. for each due message: render its text, choose free-form or template (the 24-hour window
   from ``whatsapp_contacts``, or a forced template after a 131047), upload the KK PDF if
   the message carries it and it is not uploaded yet, then commit ``sending``, call the
   transport, and record its answer (:class:`~sync_server.services.whatsapp.transport.Disposition`).

Database work runs in worker threads; the transport's calls are awaited on the event loop.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from sync_server.clock import stamp, utc_now
from sync_server.services.whatsapp import outbox
from sync_server.services.whatsapp.documents import KKDocuments
from sync_server.services.whatsapp.texts import render
from sync_server.services.whatsapp.transport import (
    Disposition,
    Document,
    OutgoingMessage,
    SendError,
    Transport,
)
from sync_server.storage import outbox as store
from sync_server.storage.db import Database
from sync_server.storage.outbox import OutboxRow

__all__ = ["Chore", "WorkerSettings", "OutboxWorker"]

log = logging.getLogger("sync_server.whatsapp")

_BATCH = 20


class Chore(Protocol):
    """Other work done on each pass (fetching inbound documents)."""

    async def run_once(self) -> int: ...


@dataclass(frozen=True, slots=True)
class WorkerSettings:
    poll_seconds: float = 1.0
    max_attempts: int = 8
    backoff_seconds: float = 5.0
    backoff_max_seconds: float = 3600.0

    def backoff(self, attempts: int) -> timedelta:
        """Delay before the next attempt after ``attempts`` failed ones (doubling, capped)."""
        seconds = self.backoff_seconds * 2 ** max(attempts - 1, 0)
        return timedelta(seconds=min(seconds, self.backoff_max_seconds))


class OutboxWorker:
    """Sends the outbox's due messages through ``transport`` until stopped."""

    def __init__(
        self,
        db: Database,
        transport: Transport,
        documents: KKDocuments,
        settings: WorkerSettings,
        *,
        clock: Callable[[], datetime] = utc_now,
        chores: tuple[Chore, ...] = (),
    ) -> None:
        self.db = db
        self.chores = chores
        self.transport = transport
        self.documents = documents
        self.settings = settings
        self.clock = clock
        self.paused_until: datetime | None = None
        self._stop = asyncio.Event()

    async def run(self) -> None:
        """Recover, then send due messages every ``poll_seconds`` until :meth:`stop`."""
        await asyncio.to_thread(self._write, outbox.recover_interrupted)
        while not self._stop.is_set():
            for work in (self.run_once, *(chore.run_once for chore in self.chores)):
                try:
                    await work()
                except Exception:  # one bad pass must not end delivery for the whole server
                    log.exception("whatsapp worker pass failed; retrying")
            try:
                await asyncio.wait_for(self._stop.wait(), timeout=self.settings.poll_seconds)
            except TimeoutError:
                pass

    def stop(self) -> None:
        self._stop.set()

    async def run_once(self) -> int:
        """One pass over the due messages; how many were attempted."""
        now = self.clock()
        if self.paused_until is not None and now < self.paused_until:
            return 0
        with self.db.read() as conn:
            rows = store.due(conn, stamp(now), _BATCH)
        for row in rows:
            await self._attempt(row)
            if self.paused_until is not None:
                break
        return len(rows)

    def _write(self, func: Callable[..., object], *args: object, **kw: object) -> object:
        with self.db.write() as conn:
            return func(conn, *args, now=self.clock(), **kw)

    async def _attempt(self, row: OutboxRow) -> None:
        rendered = render(row.purpose, row.params)
        with self.db.read() as conn:
            in_window = outbox.in_window(conn, row.recipient, self.clock())
        use_template = row.use_template or not in_window
        filename = f"KK-{row.params['reference']}.pdf"
        media_id = row.media_id
        if rendered.needs_document and media_id is None:
            media_id = await self._upload(row, filename)
            if media_id is None:
                return
        claimed = await asyncio.to_thread(self._write, outbox.claim, row.id)
        if claimed is None:
            return
        message = OutgoingMessage(
            outbox_id=row.id,
            recipient=row.recipient,
            rendered=rendered,
            use_template=use_template,
            media_id=media_id,
            filename=filename if media_id else "",
        )
        try:
            provider_id = await self.transport.send(message)
        except SendError as error:
            await asyncio.to_thread(self._after_error, claimed, error, use_template)
            return
        await asyncio.to_thread(self._write, outbox.record_accepted, row.id, provider_id)
        log.info(
            "whatsapp sent id=%s purpose=%s via=%s template=%s",
            row.id,
            row.purpose.value,
            self.transport.name,
            use_template,
        )

    async def _upload(self, row: OutboxRow, filename: str) -> str | None:
        pdf = await asyncio.to_thread(self.documents.signed_kk, row.application_id)
        if pdf is None:
            error = SendError(Disposition.RETRY, "kk.not_ready", "Dokumen KK belum tersedia.")
            await asyncio.to_thread(self._retry, row, error, row.attempts + 1)
            return None
        try:
            media_id = await self.transport.upload(Document(pdf, filename))
        except SendError as error:
            # An upload that may or may not have landed only leaves an unused media file:
            # nothing reaches the applicant, so every upload failure is simply retried.
            if error.disposition is Disposition.ALERT:
                await asyncio.to_thread(self._alert, row, error)
            elif error.disposition is Disposition.FAILED:
                await asyncio.to_thread(self._fail, row, error)
            else:
                await asyncio.to_thread(self._retry, row, error, row.attempts + 1)
            return None
        await asyncio.to_thread(self._write, outbox.record_media, row.id, media_id)
        return media_id

    def _after_error(self, row: OutboxRow, error: SendError, used_template: bool) -> None:
        log.warning(
            "whatsapp send failed id=%s code=%s disposition=%s",
            row.id,
            error.code,
            error.disposition.value,
        )
        disposition = error.disposition
        if disposition is Disposition.USE_TEMPLATE and used_template:
            disposition = Disposition.FAILED  # the template itself is refused: nothing left
        if disposition is Disposition.RETRY:
            self._retry(row, error, row.attempts)
        elif disposition is Disposition.USE_TEMPLATE:
            self._write(outbox.record_template_fallback, row.id, code=error.code)
        elif disposition is Disposition.FAILED:
            self._fail(row, error)
        elif disposition is Disposition.ALERT:
            self._alert(row, error)
        else:
            self._write(outbox.record_unknown, row.id, code=error.code, reason=error.reason)

    def _retry(self, row: OutboxRow, error: SendError, attempts: int) -> None:
        if row.attempts != attempts:  # counted here when no claim counted it (upload step)
            with self.db.write() as conn:
                store.update(conn, row.id, attempts=attempts)
        self._write(
            outbox.record_retry,
            row.id,
            code=error.code,
            reason=error.reason,
            delay=self.settings.backoff(attempts),
            max_attempts=self.settings.max_attempts,
        )

    def _fail(self, row: OutboxRow, error: SendError) -> None:
        self._write(outbox.record_failed, row.id, code=error.code, reason=error.reason)

    def _alert(self, row: OutboxRow, error: SendError) -> None:
        """Our credentials were refused: every message would fail alike. Tell the admin,
        keep the message queued with no limit on attempts (not its fault), pause sending."""
        pause = timedelta(seconds=self.settings.backoff_max_seconds)
        now = self.clock()
        self.paused_until = now + pause
        with self.db.write() as conn:  # the alert and the queued message, together
            store.add_alert(
                conn,
                at=stamp(now),
                source=f"whatsapp.{self.transport.name}",
                code=error.code,
                detail=error.reason,
            )
            outbox.record_retry(
                conn,
                row.id,
                code=error.code,
                reason=error.reason,
                delay=pause,
                max_attempts=sys.maxsize,
                now=now,
            )
        log.error("whatsapp: sending paused for %s after %s: admin alerted", pause, error.code)
