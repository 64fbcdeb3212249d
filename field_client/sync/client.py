"""The counter's HTTP client for ``/api/v1/sync/*``: signed requests over a bad link.

Every request is signed afresh (:func:`signing.requests.sign_request`: new nonce, current
corrected time) over the exact bytes sent, so a retry is a new request the server accepts,
while a captured one cannot be replayed.

* push: ``POST /api/v1/sync/push``, body = gzip of ``{"events": [...]}`` with
  ``Content-Encoding: gzip`` (JSON of signed events compresses several times, and on 2G
  every byte is time);
* pull: ``GET /api/v1/sync/pull?after=<cursor>&limit=<n>`` with ``Accept-Encoding: gzip``.

Clock: a counter's clock may be wrong by hours (a dead CMOS battery, a manual change). When
the server refuses with ``request.clock_skew`` it sends its time; the client keeps the
difference as :attr:`SyncClient.clock_offset`, signs the request again once, and applies
the offset to every later request. The device clock itself is never changed.

Answers are sorted into three outcomes: a JSON answer (returned), a refusal of the whole
request (:class:`~field_client.sync.errors.ServerRefusal`, with the server's code), or no
usable answer (:class:`~field_client.sync.errors.LinkDown`): connect/read failures,
timeouts, a cut mid-transfer, a gateway's 502/503/504, or a body that is not the server's
JSON (a hotspot's login page answering 200 with HTML).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from field_client.config import CounterConfig
from field_client.sync.errors import LinkDown, ServerRefusal
from protocol.events import parse_timestamp
from signing.requests import sign_request

__all__ = [
    "PUSH_PATH",
    "PULL_PATH",
    "PushAnswer",
    "PullAnswer",
    "ChunkAnswer",
    "DownloadPiece",
    "SCANS_PATH",
    "SyncClient",
    "client_for",
    "timeouts",
    "utc_now",
    "read_json",
]

PUSH_PATH = "/api/v1/sync/push"
PULL_PATH = "/api/v1/sync/pull"
SCANS_PATH = "/api/v1/sync/scans"
DOCUMENTS_PATH = "/api/v1/sync/documents"

log = logging.getLogger("field_client.sync")

_GATEWAY_STATUSES = frozenset({502, 503, 504})
"""A reverse proxy's answers while the server behind it is down: no answer of the server."""


def utc_now() -> datetime:
    """The device clock, timezone-aware in UTC."""
    return datetime.now(UTC)


def timeouts(*, connect: float, read: float, write: float) -> httpx.Timeout:
    """httpx timeouts for a 2G/3G link; waiting for a pooled connection counts as connect."""
    return httpx.Timeout(connect=connect, read=read, write=write, pool=connect)


@dataclass(frozen=True, slots=True)
class PushAnswer:
    """The server's acknowledgement of a push (sync_server.services.ingest)."""

    acked_seq: int
    """Highest seq the server stores for this device."""
    results: list[dict[str, Any]]
    """One per event sent, in order: ``{"seq", "status", "code", "message", "params"}``."""


@dataclass(frozen=True, slots=True)
class PullAnswer:
    """One page of the server's feed for this device."""

    events: list[dict[str, Any]]
    """Signed server events in wire form, oldest first (verified by the store)."""
    more: bool
    """True when the server holds more events after these."""


@dataclass(frozen=True, slots=True)
class DownloadPiece:
    """A piece of a download and what it is cut from."""

    data: bytes
    document_sha256: str
    """Of the signed PDF inside (as ``application.kk_ready`` names it)."""
    document_size: int
    blob_sha256: str
    """Of the whole ciphertext the counter stores."""
    blob_size: int


@dataclass(frozen=True, slots=True)
class ChunkAnswer:
    """The server's acknowledgement of one scan chunk."""

    offset: int
    """Bytes of the blob the server now holds."""
    complete: bool
    """The whole blob arrived and was verified."""


def read_json(response: httpx.Response) -> Any:
    """The JSON body, or :class:`LinkDown` when the answer is not the server's.

    A gateway's 502/503/504 means the server did not answer. A body that is not JSON is
    someone else's page (a hotspot login, a proxy's error), not a refusal by the server.
    """
    if response.status_code in _GATEWAY_STATUSES:
        raise LinkDown.of("sync.server_unavailable", status=response.status_code)
    try:
        return json.loads(response.content)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        raise LinkDown.of("sync.bad_response", status=response.status_code) from None


def refusal_of(response: httpx.Response, data: Any) -> ServerRefusal:
    """The :class:`ServerRefusal` in a problem+json body (``code``, ``detail``, extra
    fields), or :class:`LinkDown` for an error answer that is not the server's shape."""
    error = data if isinstance(data, dict) else None
    if not (
        isinstance(error, dict)
        and isinstance(error.get("code"), str)
        and isinstance(error.get("detail"), str)
    ):
        raise LinkDown.of("sync.bad_response", status=response.status_code)
    extra = {k: v for k, v in error.items() if k not in _PROBLEM_MEMBERS}
    if "retry_after" not in extra and response.headers.get("retry-after", "").isdigit():
        extra["retry_after"] = int(response.headers["retry-after"])
    return ServerRefusal(error["code"], error["detail"], status=response.status_code, extra=extra)


_PROBLEM_MEMBERS = frozenset({"type", "title", "status", "detail", "code", "instance"})


def client_for(
    config: CounterConfig,
    url: str,
    device_id: str,
    key: Ed25519PrivateKey,
    *,
    clock: Callable[[], datetime] = utc_now,
    transport: httpx.AsyncBaseTransport | None = None,
    deadline_s: float | None = None,
) -> SyncClient:
    """A client with the counter's timeouts; ``deadline_s`` (the engine's
    ``request_deadline_s`` when ``None``) also caps the read and write timeouts."""
    read, write = config.read_timeout_s, config.write_timeout_s
    if deadline_s is not None:
        read, write = min(read, deadline_s), min(write, deadline_s)
    return SyncClient(
        url,
        device_id,
        key,
        timeout=timeouts(connect=config.connect_timeout_s, read=read, write=write),
        deadline_s=config.request_deadline_s if deadline_s is None else deadline_s,
        clock=clock,
        transport=transport,
        trust_env=config.trust_env,
    )


class SyncClient:
    """Signed requests of one enrolled device to its server.

    Args:
        base_url: the server's base URL (``https://host`` or ``http://host:port``).
        device_id: the enrolled device id (``X-KK-Device``).
        key: the device's private key.
        timeout: per-phase httpx timeouts (:func:`timeouts`).
        deadline_s: upper bound on one whole request, body and answer included.
        clock: the device clock; the server's clock offset is added to it.
        transport: an httpx transport (tests may pass one; production leaves ``None``).
        trust_env: honour HTTP(S)_PROXY / NO_PROXY.
    """

    def __init__(
        self,
        base_url: str,
        device_id: str,
        key: Ed25519PrivateKey,
        *,
        timeout: httpx.Timeout,
        deadline_s: float = 300.0,
        clock: Callable[[], datetime] = utc_now,
        transport: httpx.AsyncBaseTransport | None = None,
        trust_env: bool = True,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.device_id = device_id
        self._key = key
        self._clock = clock
        self._deadline = deadline_s
        self.clock_offset = timedelta(0)
        """Server clock minus device clock, learned from ``request.clock_skew``."""
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            timeout=timeout,
            transport=transport,
            trust_env=trust_env,
            follow_redirects=False,  # a redirect would change the signed path
            headers={"Accept-Encoding": "gzip", "User-Agent": "kk-counter"},
        )

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    def now(self) -> datetime:
        """The corrected clock that signs requests."""
        return self._clock() + self.clock_offset

    async def push(self, gzipped_body: bytes) -> PushAnswer:
        """Send one push body (already gzip-compressed ``{"events": [...]}``)."""
        data = await self.signed(
            "POST",
            PUSH_PATH,
            body=gzipped_body,
            headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
        )
        acked, results = data.get("acked_seq"), data.get("results")
        if (
            isinstance(acked, bool)
            or not isinstance(acked, int)
            or not isinstance(results, list)
            or not all(isinstance(r, dict) for r in results)
        ):
            raise LinkDown.of("sync.bad_response", status=200)
        return PushAnswer(acked, results)

    async def pull(self, after: int, *, limit: int) -> PullAnswer:
        """Ask for the server events after ``after`` (the last cursor applied here)."""
        data = await self.signed("GET", f"{PULL_PATH}?after={int(after)}&limit={int(limit)}")
        events, more = data.get("events"), data.get("more", False)
        if not isinstance(events, list) or not isinstance(more, bool):
            raise LinkDown.of("sync.bad_response", status=200)
        return PullAnswer(events, more)

    async def scan_key(self) -> dict[str, Any]:
        """The server's X25519 scan key offer (verify it with the pinned key)."""
        return await self.signed("GET", f"{SCANS_PATH}/key")

    async def scan_status(self, scan_ids: list[str]) -> list[dict[str, Any]]:
        """The missing check: ``[{"scan_id", "status", "offset", "bytes"}]``."""
        body = json.dumps({"scan_ids": scan_ids}).encode("ascii")
        data = await self.signed(
            "POST", f"{SCANS_PATH}/status", body=body, headers={"Content-Type": "application/json"}
        )
        scans = data.get("scans")
        if not isinstance(scans, list) or not all(
            isinstance(s, dict)
            and isinstance(s.get("scan_id"), str)
            and s.get("status") in ("complete", "partial", "unknown")
            and isinstance(s.get("offset"), int)
            for s in scans
        ):
            raise LinkDown.of("sync.bad_response", status=200)
        return scans

    async def upload_chunk(self, scan_id: str, offset: int, data: bytes) -> ChunkAnswer:
        """Send ``data`` as the bytes of the blob from ``offset`` on, with its SHA-256."""
        digest = hashlib.sha256(data).hexdigest()
        answer = await self.signed(
            "PATCH",
            f"{SCANS_PATH}/{scan_id}?offset={int(offset)}&sha256={digest}",
            body=data,
            headers={"Content-Type": "application/offset+octet-stream"},
        )
        new_offset, complete = answer.get("offset"), answer.get("complete")
        if isinstance(new_offset, bool) or not isinstance(new_offset, int):
            raise LinkDown.of("sync.bad_response", status=200)
        if not isinstance(complete, bool):
            raise LinkDown.of("sync.bad_response", status=200)
        return ChunkAnswer(new_offset, complete)

    async def register_box_key(self, public_key: str) -> None:
        """Tell the server the X25519 key this counter's downloads are to be sealed for."""
        body = json.dumps({"box_public_key": public_key}).encode("ascii")
        await self.signed(
            "PUT", f"{DOCUMENTS_PATH}/box-key", body=body,
            headers={"Content-Type": "application/json"},
        )  # fmt: skip

    async def download_piece(self, application_id: str, offset: int, length: int) -> DownloadPiece:
        """A piece of the signed KK, encrypted for this counter, from ``offset`` of the
        ciphertext."""
        response = await self.signed_response(
            "GET", f"{DOCUMENTS_PATH}/{application_id}?offset={int(offset)}&length={int(length)}"
        )
        headers = response.headers
        sizes = [headers.get(f"x-kk-{h}-size", "") for h in ("document", "blob")]
        digests = [headers.get(f"x-kk-{h}-sha256", "") for h in ("document", "blob")]
        if not all(s.isdigit() for s in sizes) or not all(len(d) == 64 for d in digests):
            raise LinkDown.of("sync.bad_response", status=response.status_code)
        return DownloadPiece(response.content, digests[0], int(sizes[0]), digests[1], int(sizes[1]))

    async def signed(
        self,
        method: str,
        target: str,
        *,
        body: bytes = b"",
        headers: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """Send a signed request and return its JSON object answer.

        Raises :class:`ServerRefusal` for a refusal, :class:`LinkDown` for no usable answer.
        A ``request.clock_skew`` refusal corrects :attr:`clock_offset` and signs once more.
        """
        response = await self.signed_response(method, target, body=body, headers=headers)
        data = read_json(response)
        if not isinstance(data, dict):
            raise LinkDown.of("sync.bad_response", status=response.status_code)
        return data

    async def signed_response(
        self,
        method: str,
        target: str,
        *,
        body: bytes = b"",
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        """Send a signed request; the successful response, whatever its body. Refusals and
        the clock correction as in :meth:`signed`."""
        for attempt in (1, 2):
            request = self._http.build_request(method, target, content=body, headers=headers)
            # Sign the target exactly as it goes on the wire (base path and query included).
            sent_target = request.url.raw_path.decode("ascii")
            request.headers.update(
                sign_request(self._key, self.device_id, method, sent_target, body, now=self.now())
            )
            response = await self._send(request)
            if response.is_success:
                return response
            refusal = refusal_of(response, read_json(response))
            if refusal.code == "request.clock_skew" and attempt == 1:
                server_time = parse_timestamp(str(refusal.extra.get("server_time", "")))
                if server_time is not None:
                    self.clock_offset = server_time - self._clock()
                    log.warning(
                        "device clock is off by %.0f s; signing with the server's time",
                        self.clock_offset.total_seconds(),
                    )
                    continue
            raise refusal
        raise AssertionError("unreachable")  # pragma: no cover

    async def _send(self, request: httpx.Request) -> httpx.Response:
        try:
            async with asyncio.timeout(self._deadline):
                return await self._http.send(request)
        except (httpx.TransportError, TimeoutError) as exc:
            log.info("no answer from %s: %s", self.base_url, type(exc).__name__)
            raise LinkDown.of("sync.offline") from exc
