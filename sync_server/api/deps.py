"""Dependencies of the routes, as ``Annotated`` aliases so signatures read like sentences."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Path, Request
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from protocol.workflow import Role
from sync_server.clock import utc_now
from sync_server.context import ServerContext
from sync_server.errors import Refusal
from sync_server.services import request_auth, staff_auth
from sync_server.services.staff_auth import StaffSession
from sync_server.storage.devices import Device

__all__ = [
    "SignedRequest",
    "get_context",
    "client_ip",
    "read_body",
    "authenticated_request",
    "ContextDep",
    "ClientIpDep",
    "SignedRequestDep",
    "staff_session",
    "StaffUser",
    "require_roles",
    "ApplicationIdPath",
]


def get_context(request: Request) -> ServerContext:
    return request.app.state.context


def client_ip(request: Request) -> str:
    """The client's address (uvicorn applies X-Forwarded-For only from trusted proxies)."""
    return request.client.host if request.client else "unknown"


ContextDep = Annotated[ServerContext, Depends(get_context)]
ClientIpDep = Annotated[str, Depends(client_ip)]


async def read_body(request: Request, limit: int) -> bytes:
    """The raw body as sent, refused with 413 ``request.too_large`` past ``limit`` bytes.

    A declared Content-Length over the limit is refused before reading anything; a body
    without one (chunked) is counted while it streams and dropped as soon as it passes. A
    connection cut mid-body raises ``ClientDisconnect`` with the bytes that did arrive in
    ``request.state.cut_body``.
    """
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise _too_large(limit)
            chunks.append(chunk)
    except ClientDisconnect:
        # What arrived before the cut, for a route that can keep part of it (scan chunks).
        request.state.cut_body = b"".join(chunks)
        raise
    return b"".join(chunks)


def _too_large(limit: int) -> Refusal:
    return Refusal("request.too_large", status=413, extra={"max_bytes": limit}, max=limit)


@dataclass(frozen=True, slots=True)
class SignedRequest:
    """A request whose device signature, clock and nonce were checked."""

    device: Device
    body: bytes
    """The body exactly as received (still compressed when Content-Encoding says so)."""
    content_encoding: str | None


def _request_target(request: Request) -> str:
    """Path plus query exactly as the client sent them (what the device signed)."""
    raw_path = request.scope.get("raw_path")
    path = raw_path.decode("latin-1") if raw_path else request.url.path
    query = request.scope.get("query_string", b"")
    return f"{path}?{query.decode('latin-1')}" if query else path


async def authenticated_request(request: Request, context: ContextDep) -> SignedRequest:
    """Check the ``X-KK-*`` signature headers (:mod:`sync_server.services.request_auth`)."""
    credentials = request_auth.read_credentials(request.headers)
    request.state.claimed_device = credentials.device_id
    device = await run_in_threadpool(request_auth.lookup_device, context.db, credentials.device_id)
    body = await read_body(request, context.config.max_body_bytes)
    await run_in_threadpool(
        request_auth.check_signed_request,
        context.db,
        device,
        credentials,
        method=request.method,
        path=_request_target(request),
        body=body,
        now=utc_now(),
    )
    return SignedRequest(device, body, request.headers.get("content-encoding"))


SignedRequestDep = Annotated[SignedRequest, Depends(authenticated_request)]


_BEARER = re.compile(r"^Bearer +([A-Za-z0-9_-]{20,128}) *$", re.IGNORECASE)


async def staff_session(request: Request, context: ContextDep) -> StaffSession:
    """The staff session of an ``Authorization: Bearer <token>`` header.

    Only a staff token authenticates: a device signature (``X-KK-*`` headers) counts for
    nothing here, just as a staff token counts for nothing on ``/api/v1/sync``.
    Raises 401 ``auth.token_missing`` / ``auth.token_invalid`` / ``auth.token_expired`` /
    ``auth.account_disabled`` (with ``WWW-Authenticate: Bearer``).
    """
    header = request.headers.get("authorization")
    if header is None:
        raise Refusal("auth.token_missing", status=401)
    match = _BEARER.match(header)
    if match is None:
        raise Refusal("auth.token_invalid", status=401)
    session = await run_in_threadpool(
        staff_auth.authenticate, context.db, match.group(1), now=utc_now()
    )
    request.state.staff_user = session.user.user_id
    return session


StaffUser = Annotated[StaffSession, Depends(staff_session)]
"""Any logged-in staff member (verifikator, kabid, kepala_dinas, admin)."""


def require_roles(*roles: Role) -> Callable[[StaffSession], Awaitable[StaffSession]]:
    """A dependency admitting only staff of ``roles`` (403 ``auth.forbidden_role`` else).

    Use as ``Annotated[StaffSession, Depends(require_roles(Role.KABID))]``.
    """
    allowed = frozenset(roles)
    names = ", ".join(r.label for r in Role if r in allowed)

    async def check(session: StaffUser) -> StaffSession:
        if session.user.role not in allowed:
            raise Refusal(
                "auth.forbidden_role",
                status=403,
                role=session.user.role.label,
                allowed=names,
            )
        return session

    return check


ApplicationIdPath = Annotated[
    str,
    Path(
        min_length=1,
        max_length=64,
        description="The application's id (a UUID made at the counter).",
        examples=["0b5f1a52-7a0e-4d3e-9a55-2f1c0c9e8a11"],
    ),
]
"""``{application_id}`` of every application route, with the sample family's id as the
example (``scripts/fuzz_api.py`` stores that application so the examples reach real data)."""
