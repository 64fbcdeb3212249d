"""Documents applicants send to the office number (SOP step 1 without a USB stick).

1. The webhook (:mod:`.webhook`) records each inbound ``document`` or ``image`` message in
   ``whatsapp_inbox`` (:func:`record`), in the notification's transaction, once per message
   id (Meta redelivers), routed to the kecamatan of the sender's pending application (the
   most recently updated one whose applicant's WhatsApp number is the sender's), or to the
   central inbox (kecamatan ``NULL``) when the number has none. Nothing is downloaded while
   Meta waits for the webhook's answer.
2. :class:`InboundFetcher` (run by the outbox worker on each pass) downloads each pending
   item through the Cloud API (:meth:`CloudApiTransport.download`), with the size limit
   enforced on the declared size and again while reading; checks the type by CONTENT (JPEG,
   PNG or PDF: :func:`protocol.scans.sniff_media_type`; the declared MIME type and the file
   name prove nothing); encrypts and stores it like every scan (:mod:`.scan_store`); then
   tells every active counter of the kecamatan with a signed ``inbox.document`` event. A
   file that fails a check is ``refused`` with the reason and nothing of it is kept; a
   download that fails for a passing reason is retried with back-off.
3. The operator attaches an item to an application (:func:`attach`): the application must
   exist and, for a kecamatan's item, belong to that kecamatan. Every active counter of the
   kecamatan is told with a signed ``inbox.attached`` event, so none offers it again.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from protocol.errors import ValidationError, message_for
from protocol.phone import normalize_whatsapp
from protocol.scans import sniff_media_type
from protocol.server_events import ServerEventKind
from protocol.workflow import State, owner
from sync_server.clock import stamp, utc_now
from sync_server.errors import Refusal
from sync_server.services import feed
from sync_server.services.whatsapp.cloud_api import MediaTooLarge
from sync_server.services.whatsapp.scan_store import ScanStore
from sync_server.services.whatsapp.transport import SendError
from sync_server.services.whatsapp.worker import WorkerSettings
from sync_server.storage import changelog as log_store
from sync_server.storage import devices as device_store
from sync_server.storage import inbox as store
from sync_server.storage.db import Connection, Database
from sync_server.storage.inbox import InboxItem

if TYPE_CHECKING:
    from sync_server.services.whatsapp.webhook import InboundMessage

__all__ = ["Downloader", "record", "route", "InboundFetcher", "attach", "attach_in"]

log = logging.getLogger("sync_server.whatsapp")

_KINDS = ("document", "image")
_BATCH = 10


class Downloader(Protocol):
    async def download(self, media_id: str, *, max_bytes: int) -> tuple[bytes, str]: ...


def route(conn: Connection, sender: str) -> tuple[str | None, str | None]:
    """The kecamatan and application of the sender's latest pending application, or
    ``(None, None)`` for the central inbox."""
    rows = conn.execute(
        "SELECT application_id, kecamatan, state, snapshot FROM applications "
        "ORDER BY updated_at DESC"
    ).fetchall()
    # A kabupaten's open applications number in the thousands: reading them is cheap next to
    # a media download, and the number is compared as the counter normalised it.
    for row in rows:
        if owner(State(row["state"])) is None:
            continue  # archived or withdrawn: nothing pending
        raw = json.loads(row["snapshot"]).get("applicant", {}).get("whatsapp", "")
        try:
            if normalize_whatsapp(raw) == sender:
                return row["kecamatan"], row["application_id"]
        except ValidationError:
            continue
    return None, None


def record(conn: Connection, message: InboundMessage, *, now: datetime) -> int | None:
    """Put an inbound document or image in its inbox (see the module docstring)."""
    if message.kind not in _KINDS or not message.media_id:
        return None
    kecamatan, application_id = route(conn, message.sender)
    at = stamp(now)
    item_id = store.insert(
        conn,
        provider_id=message.provider_id,
        sender=message.sender,
        kind=message.kind,
        media_id=message.media_id,
        declared_type=message.mime_type,
        filename=message.filename,
        kecamatan=kecamatan,
        application_id=application_id,
        status="pending",
        next_attempt_at=at,
        received_at=message.at or at,
    )
    if item_id is not None:
        log.info("whatsapp inbox item=%s kecamatan=%s", item_id, kecamatan or "pusat")
    return item_id


class InboundFetcher:
    """Downloads, checks, encrypts and stores pending inbox items."""

    def __init__(
        self,
        db: Database,
        downloader: Downloader,
        scans: ScanStore,
        settings: WorkerSettings,
        *,
        max_bytes: int,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.db = db
        self.downloader = downloader
        self.scans = scans
        self.settings = settings
        self.max_bytes = max_bytes
        self.clock = clock

    async def run_once(self) -> int:
        with self.db.read() as conn:
            items = store.due(conn, stamp(self.clock()), _BATCH)
        for item in items:
            await self._fetch(item)
        return len(items)

    async def _fetch(self, item: InboxItem) -> None:
        try:
            content, _declared = await self.downloader.download(
                item.media_id, max_bytes=self.max_bytes
            )
        except MediaTooLarge:
            await asyncio.to_thread(self._refuse, item, "scan.too_large")
            return
        except SendError as error:
            await asyncio.to_thread(self._retry, item, error.reason)
            return
        media_type = sniff_media_type(content[:16])
        if not content:
            await asyncio.to_thread(self._refuse, item, "scan.empty")
        elif media_type is None:
            await asyncio.to_thread(self._refuse, item, "scan.bad_type")
        else:
            scan_id = await asyncio.to_thread(self.scans.put, content)
            await asyncio.to_thread(self._stored, item, scan_id, media_type, len(content))

    def _refuse(self, item: InboxItem, code: str) -> None:
        reason = message_for(code, size="lebih", max=self.max_bytes)
        with self.db.write() as conn:
            store.update(conn, item.id, status="refused", reason=reason, attempts=item.attempts + 1)
        log.warning("whatsapp inbox item=%s refused code=%s", item.id, code)

    def _retry(self, item: InboxItem, reason: str) -> None:
        attempts = item.attempts + 1
        now = self.clock()
        with self.db.write() as conn:
            if attempts >= self.settings.max_attempts:
                store.update(conn, item.id, status="refused", reason=reason, attempts=attempts)
                return
            store.update(
                conn,
                item.id,
                attempts=attempts,
                reason=reason,
                next_attempt_at=stamp(now + self.settings.backoff(attempts)),
            )

    def _stored(self, item: InboxItem, scan_id: str, media_type: str, size: int) -> None:
        now = self.clock()
        with self.db.write() as conn:
            store.update(
                conn,
                item.id,
                status="stored",
                scan_id=scan_id,
                media_type=media_type,
                size=size,
                stored_at=stamp(now),
                attempts=item.attempts + 1,
                reason="",
            )
            stored = store.get(conn, item.id)
            assert stored is not None
            _tell_counters(
                conn,
                stored,
                ServerEventKind.INBOX_DOCUMENT,
                {
                    "item_id": stored.id,
                    "scan_id": stored.scan_id,
                    "media_type": stored.media_type,
                    "size": stored.size,
                    "sender": stored.sender,
                    "application_id": stored.application_id,
                    "received_at": stored.received_at,
                },
                now,
            )
        log.info("whatsapp inbox item=%s stored scan=%s", item.id, scan_id[:12])


def _tell_counters(
    conn: Connection,
    item: InboxItem,
    kind: ServerEventKind,
    body: dict[str, Any],
    now: datetime,
) -> None:
    """One ``kind`` event about the item for every active counter of its kecamatan."""
    if item.kecamatan is None:
        return  # the central inbox: staff route it (attach)
    for device in device_store.active_devices_of(conn, item.kecamatan):
        feed.append(
            conn, audience=device.device_id, kind=kind, application_id=None, body=body, now=now
        )


def attach(
    db: Database, item_id: int, application_id: str, *, actor_id: str, now: datetime
) -> InboxItem:
    """Attach a stored inbox item to an application (of the item's kecamatan, if it has one)."""
    with db.write() as conn:
        return attach_in(conn, item_id, application_id, actor_id=actor_id, now=now)


def attach_in(
    conn: Connection,
    item_id: int,
    application_id: str,
    *,
    actor_id: str,
    now: datetime,
    kecamatan: str | None = None,
) -> InboxItem:
    """:func:`attach` inside the caller's transaction (a counter's ``inbox.attached`` event
    in its push). ``kecamatan``: the item must be that kecamatan's inbox (a counter sees
    only its own kecamatan's items, never the central inbox's)."""
    item = store.get(conn, item_id)
    if item is None or item.status != "stored":
        raise Refusal("inbox.not_found", status=404, item_id=item_id)
    record = log_store.get_application(conn, application_id)
    if record is None:
        raise Refusal("application.unknown", status=404, application_id=application_id)
    if kecamatan is not None and item.kecamatan != kecamatan:
        raise Refusal("inbox.wrong_kecamatan", status=403, item_id=item_id)
    if item.kecamatan is not None and record.kecamatan != item.kecamatan:
        raise Refusal("inbox.wrong_kecamatan", status=403, item_id=item_id)
    if kecamatan is not None and item.attached_to not in (None, application_id):
        raise Refusal("inbox.already_attached", status=409, item_id=item_id)
    store.update(
        conn, item_id, attached_to=application_id, attached_by=actor_id, attached_at=stamp(now)
    )
    attached = store.get(conn, item_id)
    assert attached is not None
    if item.attached_to != application_id:  # a repeat changes nothing to tell
        body = {
            "item_id": attached.id,
            "application_id": attached.attached_to,
            "at": attached.attached_at,
        }
        _tell_counters(conn, attached, ServerEventKind.INBOX_ATTACHED, body, now)
    return attached
