"""WhatsApp messages to the applicant: why one is sent and where its delivery stands.

Shared by the server (its outbox, :mod:`sync_server.services.whatsapp`) and the counter (the
``message.status`` events it pulls, :mod:`protocol.server_events`), so both read the same
values and show the same Indonesian labels.

Statuses move forward only (:func:`advance`): the Cloud API reports them by webhook in any
order, with duplicates, and sometimes never reports ``delivered`` before ``read``. So a
status ranked at or below the current one changes nothing, ``failed`` ends a message that
was not yet delivered, and ``unknown`` ("perlu dicek": the process stopped between the API
call and recording its answer) is settled by whatever the webhook reports next.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from types import MappingProxyType

from protocol.errors import define_messages

__all__ = ["MessagePurpose", "DeliveryStatus", "RESENDABLE", "advance"]

# Shared: the server refuses a re-send (from the CLI or a counter's ``message.resend``) or an
# inbox attachment with these codes, and the counter refuses the same cases before recording.
define_messages(
    {
        "outbox.not_found": "Pesan WhatsApp {message_id} tidak ada.",
        "outbox.not_resendable": "Pesan berstatus {status_label} tidak dikirim ulang; hanya "
        "pesan yang gagal atau perlu dicek.",
        "outbox.already_resent": "Pesan WhatsApp {message_id} sudah diminta dikirim ulang; "
        "lihat pesan barunya.",
        # The kecamatan's inbox: documents applicants send by WhatsApp, attached by staff
        # or at the counter (``inbox.attached``).
        "inbox.not_found": "Dokumen kotak masuk WhatsApp {item_id} tidak ada atau belum tersimpan.",
        "inbox.wrong_kecamatan": "Dokumen kotak masuk {item_id} milik kecamatan lain.",
        "inbox.already_attached": "Dokumen kotak masuk {item_id} sudah dilampirkan ke "
        "permohonan lain.",
    }
)


class MessagePurpose(enum.StrEnum):
    """Why the office writes to the applicant (one text in ``templates/whatsapp/`` each)."""

    INCOMPLETE = "incomplete"
    """The counter marked the application incomplete: the message lists what is missing."""
    RETURNED = "returned"
    """The centre returned the application to the counter for correction."""
    KK_ISSUED = "kk_issued"
    """The counter issued the KK: the message carries the signed PDF."""
    KK_RECEIVED = "kk_received"
    """The application was archived after the applicant received the KK."""

    @property
    def label(self) -> str:
        return _PURPOSE_LABELS[self]


_PURPOSE_LABELS: Mapping[MessagePurpose, str] = MappingProxyType(
    {
        MessagePurpose.INCOMPLETE: "Pemberitahuan dokumen belum lengkap",
        MessagePurpose.RETURNED: "Pemberitahuan permohonan dikembalikan",
        MessagePurpose.KK_ISSUED: "Pengiriman KK (PDF)",
        MessagePurpose.KK_RECEIVED: "Konfirmasi KK diterima",
    }
)


class DeliveryStatus(enum.StrEnum):
    """Where one outgoing message stands. Wire values are the member values."""

    QUEUED = "queued"
    """Persisted in the outbox, waiting for its (next) attempt."""
    SENDING = "sending"
    """The API call is under way; only the server's outbox holds this status."""
    UNKNOWN = "unknown"
    """Perlu dicek: the outcome of an API call was never recorded. Never re-sent blindly;
    settled by the webhook's statuses or by an operator who checked with the applicant."""
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    FAILED = "failed"

    @property
    def label(self) -> str:
        """Indonesian name shown at the counter and in the central views."""
        return _STATUS_LABELS[self]


_STATUS_LABELS: Mapping[DeliveryStatus, str] = MappingProxyType(
    {
        DeliveryStatus.QUEUED: "Dalam antrean",
        DeliveryStatus.SENDING: "Sedang dikirim",
        DeliveryStatus.UNKNOWN: "Perlu dicek",
        DeliveryStatus.SENT: "Terkirim",
        DeliveryStatus.DELIVERED: "Sampai di ponsel pemohon",
        DeliveryStatus.READ: "Dibaca",
        DeliveryStatus.FAILED: "Gagal",
    }
)

RESENDABLE = frozenset({DeliveryStatus.FAILED, DeliveryStatus.UNKNOWN})
"""Statuses a person may have re-sent (as a new message): failed, and "perlu dicek" after
checking with the applicant. Never automatic."""

_RANK: Mapping[DeliveryStatus, int] = MappingProxyType(
    {
        DeliveryStatus.QUEUED: 0,
        DeliveryStatus.SENDING: 1,
        DeliveryStatus.UNKNOWN: 1,
        DeliveryStatus.SENT: 2,
        DeliveryStatus.DELIVERED: 3,
        DeliveryStatus.READ: 4,
    }
)


def advance(current: DeliveryStatus, reported: DeliveryStatus) -> DeliveryStatus | None:
    """The status after ``reported`` arrives for a message at ``current``; ``None`` when the
    report changes nothing (a duplicate, or older news arriving late)."""
    if current is DeliveryStatus.FAILED or reported is current:
        return None
    if reported is DeliveryStatus.FAILED:
        # Once the phone has the message, a late failure report cannot undo that.
        return reported if _RANK[current] < _RANK[DeliveryStatus.DELIVERED] else None
    return reported if _RANK[reported] > _RANK[current] else None
