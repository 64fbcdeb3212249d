"""How a message leaves the server: the :class:`Transport` interface and its outcomes.

Transports (chosen by ``KK_SERVER_WHATSAPP_TRANSPORT``):

* ``console`` (:class:`sync_server.services.whatsapp.console.ConsoleTransport`): the embedded
  default of ``make run``; writes each message and its attachment under the data directory;
* ``cloud_api`` (:mod:`sync_server.services.whatsapp.cloud_api`): the WhatsApp Business
  Cloud API over httpx.

A transport never decides what happens next: it answers with the message's id at the
provider, or raises :class:`SendError` with a :class:`Disposition` the worker acts on. It is
decided from the provider's error CODE, never from its message text.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Protocol

from sync_server.services.whatsapp.texts import RenderedMessage

__all__ = ["Document", "OutgoingMessage", "Disposition", "SendError", "Transport"]


@dataclass(frozen=True, slots=True)
class Document:
    """A file sent with a message (the KK PDF)."""

    content: bytes
    filename: str
    mime_type: str = "application/pdf"


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    outbox_id: str
    """Travels with the message (``biz_opaque_callback_data``) and comes back in statuses."""
    recipient: str
    """E.164 number (``+628...``)."""
    rendered: RenderedMessage
    use_template: bool
    """Outside the 24-hour window (or after a 131047): the approved template."""
    media_id: str | None = None
    """The uploaded document (:meth:`Transport.upload`), when the message carries one."""
    filename: str = ""


class Disposition(enum.StrEnum):
    """What the worker does after a failed call."""

    RETRY = "retry"
    """Certainly not sent (throughput limit, connection refused, server busy): retry after
    a back-off."""
    USE_TEMPLATE = "use_template"
    """Outside the 24-hour window: send the approved template instead."""
    FAILED = "failed"
    """Will not be delivered (undeliverable number, bad request): a visible failure."""
    ALERT = "alert"
    """Our credentials are refused (expired token): alert the admin, pause, retry later."""
    UNKNOWN = "unknown"
    """The request may have reached the provider (timeout after sending): perlu dicek."""


class SendError(Exception):
    """A call the provider refused or that did not complete."""

    def __init__(self, disposition: Disposition, code: str, reason: str) -> None:
        super().__init__(f"{disposition.value} {code}")
        self.disposition = disposition
        self.code = code
        """The provider's error code as text (``"130429"``), or ours (``"http.timeout"``)."""
        self.reason = reason
        """Indonesian, for people: shown at the counter and in the central views."""


class Transport(Protocol):
    """Where messages go. Both calls are safe to repeat except :meth:`send`."""

    name: str

    async def upload(self, document: Document) -> str:
        """Store ``document`` with the provider; its media id."""
        ...

    async def send(self, message: OutgoingMessage) -> str:
        """Send one message; the provider's message id. Raises :class:`SendError`."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...
