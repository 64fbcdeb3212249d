"""A faithful local fake of the WhatsApp Business Cloud API, as a REAL HTTP server on loopback.

Same paths, payload shapes and error bodies as Meta's Graph API (v16.0+ shapes, no
``error_subcode`` except where Meta still sends one), so the server's Cloud API transport
runs unchanged against it (``KK_SERVER_WHATSAPP_API_BASE_URL`` = :attr:`FakeCloudApi.base_url`):

* ``POST /{version}/{phone_number_id}/media``: multipart ``file``, ``type``,
  ``messaging_product=whatsapp`` -> ``{"id": media_id}``; documents <= 100 MB, images <= 5 MB;
* ``POST /{version}/{phone_number_id}/messages``: ``text``, ``document`` (by media id or
  link, ``filename``, ``caption`` <= 1024), ``template`` (approved names only; parameters
  without line breaks or tabs) -> ``{"messaging_product", "contacts": [{"input", "wa_id"}],
  "messages": [{"id": "wamid..."}]}`` (templates add ``"message_status": "accepted"``);
* ``GET /{version}/{media_id}`` -> ``{"url", "mime_type", "sha256", "file_size", "id",
  "messaging_product"}``; ``GET`` that url with the bearer token -> the bytes.

Errors (``{"error": {"message": "(#CODE) Title", "type", "code", "error_data":
{"messaging_product", "details"}, "fbtrace_id"}}``): 190 (HTTP 401) for a wrong or expired
token; 130429 (HTTP 400) while :attr:`throttle` counts down; 132001 for an unknown template;
132018 for a bad template parameter; 131047 and 131026 synchronously for numbers in
:attr:`sync_errors`, otherwise (as Meta usually does) asynchronously in a ``failed`` status:
131047 for a free-form message to a number outside its 24-hour window, 131026 for a number in
:attr:`undeliverable`.

Webhooks: after accepting a message the fake POSTs its statuses to :attr:`webhook_url`,
signed ``X-Hub-Signature-256: sha256=<HMAC-SHA256(app secret, raw body)>``, from a background
thread: ``sent``, ``delivered``, ``read`` in a random order (seeded), some duplicated,
``delivered`` sometimes skipped; each carrying the message's ``biz_opaque_callback_data``.
:meth:`send_inbound_media` / :meth:`send_inbound_text` post inbound messages (and open the
sender's 24-hour window). :attr:`hold` makes ``/messages`` record a message and then not
answer until released, for crash tests.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import queue
import random
import re
import secrets
import socket
import threading
import time
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

__all__ = ["FakeCloudApi", "SentMessage", "sign_body"]

VERSION = "v21.0"
_DOCUMENT_MAX = 100 * 1024 * 1024
_IMAGE_MAX = 5 * 1024 * 1024
_BAD_PARAM = re.compile(r"[\n\t]| {5,}")
_TITLES = {
    130429: ("Rate limit hit", "Cloud API message throughput has been reached."),
    131047: (
        "Re-engagement message",
        "Message failed to send because more than 24 hours have passed since the customer "
        "last replied to this number.",
    ),
    131026: (
        "Message Undeliverable",
        "Unable to deliver message. Reasons can include: The recipient phone number is not a "
        "WhatsApp phone number; Recipient has not accepted our new Terms of Service and "
        "Privacy Policy; Recipient using an old WhatsApp version.",
    ),
    132001: ("Template does not exist", "template name does not exist in the translation"),
    132018: (
        "There was an issue with the parameters in your template.",
        "Param text cannot have new-line/tab characters or more than 4 consecutive spaces",
    ),
    131009: ("Parameter value is not valid", "Parameter value is not valid"),
    100: ("Invalid parameter", "Invalid parameter"),
}
_HREF = "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/"


def sign_body(app_secret: str, body: bytes) -> str:
    """The ``X-Hub-Signature-256`` header value Meta sends with ``body``."""
    return "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


@dataclass
class SentMessage:
    """One message the fake accepted."""

    wamid: str
    to: str
    type: str
    payload: dict[str, Any]

    @property
    def outbox_id(self) -> str | None:
        return self.payload.get("biz_opaque_callback_data")


@dataclass
class FakeCloudApi:
    """The fake; :meth:`start` it, point the server at :attr:`base_url`, :meth:`stop` it."""

    app_secret: str = "fake-app-secret"
    access_token: str = "fake-access-token"
    phone_number_id: str = "106540352242922"
    waba_id: str = "102290129340398"
    display_phone_number: str = "6271100000"
    webhook_url: str | None = None
    seed: int = 0
    approved_templates: frozenset[str] = frozenset(
        {"kk_dokumen_belum_lengkap", "kk_permohonan_dikembalikan", "kk_terbit", "kk_diterima"}
    )
    # Behaviours a test changes while the fake runs.
    token_expired: bool = False
    throttle: int = 0
    """The next N sends answer 130429."""
    open_windows: set[str] = field(default_factory=set)
    """wa_ids (digits) that wrote within 24 hours: free-form messages reach them."""
    undeliverable: set[str] = field(default_factory=set)
    sync_errors: dict[str, int] = field(default_factory=dict)
    """wa_id -> code answered synchronously (131047 or 131026) instead of by webhook."""
    auto_statuses: bool = True
    skip_delivered_chance: float = 0.3
    duplicate_chance: float = 0.5
    webhook_retries: int = 300
    hold: threading.Event | None = None
    """When set to an Event: /messages records the message, then waits for it before
    answering (the server can be killed in between)."""
    # What happened.
    messages: list[SentMessage] = field(default_factory=list)
    media: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    uploads: int = 0
    webhook_answers: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.received = threading.Event()
        self._lock = threading.Lock()
        self._outgoing: queue.Queue[bytes | None] = queue.Queue()
        self._stopping = threading.Event()
        self._pending = 0
        self._idle = threading.Condition(self._lock)
        self._server: uvicorn.Server | None = None
        self._threads: list[threading.Thread] = []
        self.port = 0

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> FakeCloudApi:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(self._app(), log_level="warning", access_log=False, ws="none")
        self._server = uvicorn.Server(config)
        serve = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]}, daemon=True)
        deliver = threading.Thread(target=self._deliver_loop, daemon=True)
        self._threads = [serve, deliver]
        for thread in self._threads:
            thread.start()
        deadline = time.monotonic() + 15
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("fake Cloud API did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self.hold is not None:
            self.hold.set()
        self._outgoing.put(None)
        if self._server is not None:
            self._server.should_exit = True
        for thread in self._threads:
            thread.join(timeout=15)

    def wait_idle(self, timeout: float = 30.0) -> None:
        """Wait until every queued webhook POST was answered."""
        with self._idle:
            if not self._idle.wait_for(lambda: self._pending == 0, timeout=timeout):
                raise AssertionError("webhook deliveries did not finish")

    def to_outbox(self, outbox_id: str) -> list[SentMessage]:
        """Every accepted message that carried ``outbox_id``."""
        with self._lock:
            return [m for m in self.messages if m.outbox_id == outbox_id]

    # -- webhooks the fake sends ---------------------------------------------------------------

    def post_webhook(self, value: dict[str, Any]) -> None:
        """Queue one signed webhook POST carrying ``value`` (``entry[0].changes[0].value``)."""
        envelope = {
            "object": "whatsapp_business_account",
            "entry": [
                {
                    "id": self.waba_id,
                    "changes": [
                        {
                            "value": {
                                "messaging_product": "whatsapp",
                                "metadata": {
                                    "display_phone_number": self.display_phone_number,
                                    "phone_number_id": self.phone_number_id,
                                },
                                **value,
                            },
                            "field": "messages",
                        }
                    ],
                }
            ],
        }
        with self._lock:
            self._pending += 1
        self._outgoing.put(json.dumps(envelope, separators=(",", ":")).encode())

    def post_statuses(self, message: SentMessage, statuses: list[dict[str, Any]]) -> None:
        for status in statuses:
            self.post_webhook({"statuses": [status]})

    def status(
        self, message: SentMessage, status: str, error_code: int | None = None
    ) -> dict[str, Any]:
        """A status object as Meta sends it for ``message``."""
        body: dict[str, Any] = {
            "id": message.wamid,
            "status": status,
            "timestamp": str(int(time.time())),
            "recipient_id": message.to,
        }
        if message.outbox_id is not None:
            body["biz_opaque_callback_data"] = message.outbox_id
        if status in ("sent", "delivered"):
            body["conversation"] = {
                "id": hashlib.md5(message.to.encode()).hexdigest(),  # noqa: S324 (an id)
                "origin": {"type": "utility"},
            }
            body["pricing"] = {"billable": True, "pricing_model": "PMP", "category": "utility"}
        if error_code is not None:
            title, details = _TITLES[error_code]
            body["errors"] = [
                {
                    "code": error_code,
                    "title": title,
                    "message": title,
                    "error_data": {"details": details},
                    "href": _HREF,
                }
            ]
        return body

    def send_inbound_text(self, from_: str, text: str, *, name: str = "Pemohon") -> str:
        self.open_windows.add(from_)
        wamid = _wamid()
        message = {"from": from_, "id": wamid, "timestamp": str(int(time.time()))}
        message.update({"type": "text", "text": {"body": text}})
        self.post_webhook(
            {"contacts": [{"profile": {"name": name}, "wa_id": from_}], "messages": [message]}
        )
        return wamid

    def send_inbound_media(
        self,
        from_: str,
        content: bytes,
        mime_type: str,
        *,
        kind: str = "document",
        filename: str | None = None,
        caption: str = "",
        name: str = "Pemohon",
    ) -> str:
        """The applicant sends a file to the office number; returns its media id."""
        self.open_windows.add(from_)
        media_id = str(self.rng.randrange(10**15, 10**16))
        with self._lock:
            self.media[media_id] = (content, mime_type)
        item: dict[str, Any] = {
            "mime_type": mime_type,
            "sha256": base64.b64encode(hashlib.sha256(content).digest()).decode(),
            "id": media_id,
        }
        if caption:
            item["caption"] = caption
        if kind == "document":
            item["filename"] = filename or "dokumen.pdf"
        message = {"from": from_, "id": _wamid(), "timestamp": str(int(time.time()))}
        message.update({"type": kind, kind: item})
        self.post_webhook(
            {"contacts": [{"profile": {"name": name}, "wa_id": from_}], "messages": [message]}
        )
        return media_id

    def _deliver_loop(self) -> None:
        """POST queued webhooks in order; like Meta, retry one that is not answered 200
        (here every 0.1 s, up to :attr:`webhook_retries` times) before the next."""
        with httpx.Client(timeout=30, trust_env=False) as http:
            while True:
                body = self._outgoing.get()
                if body is None:
                    return
                for _ in range(self.webhook_retries + 1):
                    answer = self._post(http, body)
                    if answer == 200 or self._stopping.is_set():
                        break
                    time.sleep(0.1)
                with self._idle:
                    self.webhook_answers.append(answer)
                    self._pending -= 1
                    self._idle.notify_all()

    def _post(self, http: httpx.Client, body: bytes) -> int:
        try:
            return http.post(
                self.webhook_url or "",
                content=body,
                headers={
                    "Content-Type": "application/json",
                    "X-Hub-Signature-256": sign_body(self.app_secret, body),
                },
            ).status_code
        except httpx.HTTPError:
            return 0

    def _auto_report(self, message: SentMessage) -> None:
        if not (self.auto_statuses and self.webhook_url):
            return
        if message.to in self.undeliverable:
            self.post_statuses(message, [self.status(message, "failed", 131026)])
            return
        if message.type != "template" and message.to not in self.open_windows:
            self.post_statuses(message, [self.status(message, "failed", 131047)])
            return
        names = ["sent", "read"]
        if self.rng.random() >= self.skip_delivered_chance:
            names.insert(1, "delivered")
        names += [n for n in names if self.rng.random() < self.duplicate_chance]
        self.rng.shuffle(names)
        self.post_statuses(message, [self.status(message, n) for n in names])

    # -- the HTTP API -----------------------------------------------------------------------

    def _app(self) -> FastAPI:
        app = FastAPI()
        fake = self

        @app.post("/{version}/{phone_number_id}/media")
        async def upload(version: str, phone_number_id: str, request: Request) -> Response:
            refused = fake._refuse(request, phone_number_id)
            if refused is not None:
                return refused
            parts = _multipart(request.headers.get("content-type", ""), await request.body())
            file = parts.get("file")
            if parts.get("messaging_product", (b"",))[0] != b"whatsapp" or file is None:
                return _error(100, http=400)
            content, mime = file[0], (parts.get("type", (b"",))[0] or b"").decode()
            limit = _IMAGE_MAX if mime.startswith("image/") else _DOCUMENT_MAX
            if len(content) > limit or not mime:
                return _error(131009, http=400)
            media_id = str(fake.rng.randrange(10**15, 10**16))
            with fake._lock:
                fake.media[media_id] = (content, mime)
                fake.uploads += 1
            return JSONResponse({"id": media_id})

        @app.post("/{version}/{phone_number_id}/messages")
        async def send(version: str, phone_number_id: str, request: Request) -> Response:
            refused = fake._refuse(request, phone_number_id)
            if refused is not None:
                return refused
            payload = json.loads(await request.body())
            problem = fake._check_message(payload)
            if problem is not None:
                return problem
            to = payload["to"].lstrip("+")
            if fake.throttle > 0:
                fake.throttle -= 1
                return _error(130429, http=400)
            code = fake.sync_errors.get(to)
            if code is not None and not (code == 131047 and payload["type"] == "template"):
                return _error(code, http=400)
            message = SentMessage(_wamid(), to, payload["type"], payload)
            with fake._lock:
                fake.messages.append(message)
            fake.received.set()
            while fake.hold is not None and not fake.hold.is_set():
                await asyncio.sleep(0.02)
            fake._auto_report(message)
            answer: dict[str, Any] = {"id": message.wamid}
            if message.type == "template":
                answer["message_status"] = "accepted"
            return JSONResponse(
                {
                    "messaging_product": "whatsapp",
                    "contacts": [{"input": payload["to"], "wa_id": to}],
                    "messages": [answer],
                }
            )

        @app.get("/{version}/{media_id}")
        async def media_info(version: str, media_id: str, request: Request) -> Response:
            refused = fake._refuse(request, None)
            if refused is not None:
                return refused
            if media_id not in fake.media:
                return _error(100, http=400)
            content, mime = fake.media[media_id]
            return JSONResponse(
                {
                    "messaging_product": "whatsapp",
                    "url": f"{fake.base_url}/whatsapp_business/attachments/{media_id}?ext=1&hash=x",
                    "mime_type": mime,
                    "sha256": hashlib.sha256(content).hexdigest(),
                    "file_size": len(content),
                    "id": media_id,
                }
            )

        @app.get("/whatsapp_business/attachments/{media_id}")
        async def download(media_id: str, request: Request) -> Response:
            refused = fake._refuse(request, None)
            if refused is not None or media_id not in fake.media:
                return Response(status_code=404)
            content, mime = fake.media[media_id]
            return Response(content, media_type=mime)

        return app

    def _refuse(self, request: Request, phone_number_id: str | None) -> Response | None:
        auth = request.headers.get("authorization", "")
        if self.token_expired or not hmac.compare_digest(auth, f"Bearer {self.access_token}"):
            return JSONResponse(
                {
                    "error": {
                        "message": "Error validating access token: Session has expired on "
                        "Tuesday, 24-Nov-26 09:00:00 PST. The current time is Wednesday, "
                        "25-Nov-26 02:11:43 PST.",
                        "type": "OAuthException",
                        "code": 190,
                        "error_subcode": 463,
                        "fbtrace_id": _trace(),
                    }
                },
                status_code=401,
            )
        if phone_number_id is not None and phone_number_id != self.phone_number_id:
            return _error(100, http=400)
        return None

    def _check_message(self, payload: Any) -> Response | None:
        if not isinstance(payload, dict) or payload.get("messaging_product") != "whatsapp":
            return _error(100, http=400)
        if not re.fullmatch(r"\+?\d{8,15}", str(payload.get("to", ""))):
            return _error(100, http=400)
        if len(str(payload.get("biz_opaque_callback_data", ""))) > 512:
            return _error(100, http=400)
        kind = payload.get("type")
        if kind == "text":
            body = payload.get("text", {}).get("body")
            return None if isinstance(body, str) and 0 < len(body) <= 4096 else _error(100)
        if kind == "document":
            document = payload.get("document", {})
            if document.get("id") not in self.media and not document.get("link"):
                return _error(131009)
            return None if len(document.get("caption", "")) <= 1024 else _error(100)
        if kind == "template":
            template = payload.get("template", {})
            if template.get("name") not in self.approved_templates:
                return _error(132001, http=404)
            for component in template.get("components", []):
                for parameter in component.get("parameters", []):
                    text = parameter.get("text", "")
                    if parameter.get("type") == "text" and (not text or _BAD_PARAM.search(text)):
                        return _error(132018)
                    document = parameter.get("document")
                    if document is not None and document.get("id") not in self.media:
                        return _error(131009)
            return None
        return _error(100)


def _error(code: int, *, http: int = 400) -> JSONResponse:
    title, details = _TITLES[code]
    return JSONResponse(
        {
            "error": {
                "message": f"(#{code}) {title}",
                "type": "OAuthException",
                "code": code,
                "error_data": {"messaging_product": "whatsapp", "details": details},
                "fbtrace_id": _trace(),
            }
        },
        status_code=http,
    )


def _multipart(content_type: str, body: bytes) -> dict[str, tuple[bytes, str | None]]:
    """Fields of a multipart/form-data body: name -> (bytes, file name)."""
    message = BytesParser(policy=HTTP).parsebytes(
        b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body
    )
    fields: dict[str, tuple[bytes, str | None]] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if name:
            fields[str(name)] = (part.get_payload(decode=True) or b"", part.get_filename())
    return fields


def _wamid() -> str:
    return "wamid." + base64.b64encode(secrets.token_bytes(30)).decode()


def _trace() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(16)).decode().rstrip("=")
