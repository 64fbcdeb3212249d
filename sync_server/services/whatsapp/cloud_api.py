"""The WhatsApp Business Cloud API transport (Graph API over httpx).

Why httpx and not pywa: we use four calls (upload media, send, read a media URL, download
it) and need exact control of what pywa decides for us: the outbox id in
``biz_opaque_callback_data``, the order "commit ``sending``, call, record", classifying an
error by its code and by WHEN a connection failed (before sending: safe to retry; after:
perlu dicek), and checking the webhook's signature on the raw bytes before anything parses
them. pywa's value is its typed models and handler routing, which would sit beside our own
webhook route and outbox rather than replace them, at the cost of another dependency that
follows Graph API versions on its own schedule. httpx is already ours.

Calls (``{base}/{version}/...``, ``Authorization: Bearer <token>``):

* ``POST /{phone_number_id}/media`` multipart ``file``, ``type``, ``messaging_product`` ->
  ``{"id"}``;
* ``POST /{phone_number_id}/messages`` JSON -> ``{"messages": [{"id": "wamid..."}]}``:
  ``text`` (inside the window), ``document`` (by media id, with ``filename`` and
  ``caption``), or ``template`` (outside it; the KK as the header's document);
* ``GET /{media_id}`` -> ``{"url", "mime_type", "file_size"}``, then ``GET url``
  (:meth:`CloudApiTransport.download`, for inbound documents).

Errors: the Graph API body ``{"error": {"code", "message", "error_data": {"details"}}}`` is
classified by :func:`sync_server.services.whatsapp.codes.classify`. A connection refused
or a connect timeout never reached Meta (retry); a timeout or broken connection after the
request was written may have (perlu dicek). The token is never logged nor put in an error.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx
from pydantic import SecretStr

from sync_server.services.whatsapp.codes import classify
from sync_server.services.whatsapp.transport import (
    Disposition,
    Document,
    OutgoingMessage,
    SendError,
)

__all__ = ["CloudApiTransport", "message_payload", "MediaTooLarge"]

log = logging.getLogger("sync_server.whatsapp")


class MediaTooLarge(Exception):
    """An inbound media file is larger than we accept."""


def message_payload(message: OutgoingMessage) -> dict[str, Any]:
    """The JSON body of ``POST /messages`` for ``message``."""
    rendered = message.rendered
    body: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": message.recipient.lstrip("+"),
        "biz_opaque_callback_data": message.outbox_id,
    }
    if message.use_template:
        template = rendered.template
        components: list[dict[str, Any]] = []
        if template.document_header and message.media_id:
            document = {"id": message.media_id, "filename": message.filename}
            components.append(
                {"type": "header", "parameters": [{"type": "document", "document": document}]}
            )
        components.append(
            {"type": "body", "parameters": [{"type": "text", "text": v} for v in template.body]}
        )
        body["type"] = "template"
        body["template"] = {
            "name": template.name,
            "language": {"code": template.language},
            "components": components,
        }
    elif message.media_id:
        body["type"] = "document"
        body["document"] = {
            "id": message.media_id,
            "filename": message.filename,
            "caption": rendered.text,
        }
    else:
        body["type"] = "text"
        body["text"] = {"preview_url": False, "body": rendered.text}
    return body


class CloudApiTransport:
    """Sends through the Cloud API of one business phone number."""

    name = "cloud_api"

    def __init__(
        self,
        *,
        base_url: str,
        version: str,
        phone_number_id: str,
        access_token: SecretStr,
        timeout: float = 30.0,
    ) -> None:
        self._root = f"{base_url.rstrip('/')}/{version}"
        self._phone_number_id = phone_number_id
        self._token = access_token
        self._client = httpx.AsyncClient(timeout=timeout, trust_env=False)

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._token.get_secret_value()}"}

    async def upload(self, document: Document) -> str:
        url = f"{self._root}/{self._phone_number_id}/media"
        response = await self._call(
            "POST",
            url,
            files={"file": (document.filename, document.content, document.mime_type)},
            data={"messaging_product": "whatsapp", "type": document.mime_type},
        )
        return _field(response, "id")

    async def send(self, message: OutgoingMessage) -> str:
        url = f"{self._root}/{self._phone_number_id}/messages"
        response = await self._call("POST", url, json=message_payload(message))
        messages = response.get("messages")
        if not (isinstance(messages, list) and messages and isinstance(messages[0], dict)):
            raise SendError(Disposition.UNKNOWN, "http.bad_answer", _ODD_ANSWER)
        return _field(messages[0], "id")

    async def download(self, media_id: str, *, max_bytes: int) -> tuple[bytes, str]:
        """An inbound media file and its declared type; :class:`MediaTooLarge` above
        ``max_bytes`` (checked on the declared size and again while reading)."""
        info = await self._call("GET", f"{self._root}/{media_id}")
        url, declared = _field(info, "url"), info.get("file_size")
        if isinstance(declared, int) and declared > max_bytes:
            raise MediaTooLarge(declared)
        data = bytearray()
        try:
            async with self._client.stream("GET", url, headers=self._headers()) as response:
                if response.status_code != 200:
                    raise SendError(Disposition.RETRY, f"http.{response.status_code}", _MEDIA)
                async for chunk in response.aiter_bytes():
                    data += chunk
                    if len(data) > max_bytes:
                        raise MediaTooLarge(len(data))
        except httpx.HTTPError:
            raise SendError(Disposition.RETRY, "http.connection", _MEDIA) from None
        return bytes(data), str(info.get("mime_type", ""))

    async def aclose(self) -> None:
        await self._client.aclose()

    async def _call(self, method: str, url: str, **kw: Any) -> dict[str, Any]:
        try:
            response = await self._client.request(method, url, headers=self._headers(), **kw)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout):
            # Never reached Meta: nothing can have been sent.
            raise SendError(Disposition.RETRY, "http.connect", _UNREACHABLE) from None
        except httpx.TransportError:
            # The request may have been written and processed: the answer is lost.
            raise SendError(Disposition.UNKNOWN, "http.no_answer", _NO_ANSWER) from None
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code == 200 and isinstance(body, dict):
            return body
        error = body.get("error") if isinstance(body, dict) else None
        if isinstance(error, dict) and isinstance(error.get("code"), int):
            code = error["code"]
            disposition, reason = classify(code)
            log.warning("whatsapp api error code=%s http=%s", code, response.status_code)
            raise SendError(disposition, str(code), reason)
        # No Graph error body (a proxy's 502/504...): Meta may or may not have processed it.
        raise SendError(Disposition.UNKNOWN, f"http.{response.status_code}", _NO_ANSWER)


def _field(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if not (isinstance(value, str) and value):
        raise SendError(Disposition.UNKNOWN, "http.bad_answer", _ODD_ANSWER)
    return value


_UNREACHABLE = "Server WhatsApp tidak dapat dihubungi; dicoba lagi nanti."
_NO_ANSWER = (
    "Jawaban WhatsApp tidak diterima; pesan mungkin sudah terkirim. Perlu dicek: menunggu "
    "status dari WhatsApp, tidak dikirim ulang otomatis."
)
_ODD_ANSWER = "Jawaban WhatsApp tidak dikenali; perlu dicek."
_MEDIA = "Berkas dari WhatsApp tidak dapat diunduh; dicoba lagi nanti."
