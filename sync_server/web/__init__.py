"""The staff pages under ``/staf``: server-rendered HTML for the verifikator, the Kabid, the
Kepala Dinas and the admin, on a phone (360 px wide) as on a desktop.

The pages are a second face of the same services as the JSON API (:mod:`sync_server.api`):
login and sessions (:mod:`sync_server.services.staff_auth`), queues, reading a file (into the
access log), decisions. Their routers live here, apart from the API's, and answer HTML:
a refusal becomes an Indonesian error page with the same status (it is still logged and
recorded by :func:`sync_server.api.errors.note_refusal`), a missing or expired session a
redirect to the login form. Forms are plain HTML posts with a CSRF token
(:mod:`sync_server.web.session`); no script is needed.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from protocol.errors import KKError
from sync_server.errors import Refusal
from sync_server.web import (
    pages_admin,
    pages_auth,
    pages_claims,
    pages_dashboard,
    pages_decide,
    pages_review,
    pages_scans,
    pages_siak,
    pages_tte,
)
from sync_server.web.session import PREFIX, LoginRequired
from sync_server.web.templating import STATIC_DIR, render

__all__ = ["install_web"]

Handler = Callable[[Request, Exception], Awaitable[Response]]


def _is_page(request: Request) -> bool:
    path = request.url.path
    return (path == PREFIX or path.startswith(PREFIX + "/")) and not path.startswith(
        PREFIX + "/static/"
    )


def _back(request: Request) -> str:
    """The page the user came from (same origin, a staff page), else the start page; a
    refused decision goes back to its application."""
    if request.url.path.endswith("/keputusan"):
        return request.url.path.removesuffix("/keputusan")
    referer = urlsplit(request.headers.get("referer", ""))
    own = referer.netloc in ("", request.url.netloc)
    if own and referer.path.startswith(PREFIX + "/") and referer.path != request.url.path:
        return referer.path
    return PREFIX + "/"


def _as_page(api_handler: Handler) -> Handler:
    """The API's handler, its problem+json answer turned into an error page on ``/staf``."""

    async def handle(request: Request, exc: Exception) -> Response:
        answer = await api_handler(request, exc)
        if not _is_page(request):
            return answer
        problem: dict[str, Any] = json.loads(bytes(answer.body))
        return render(
            request,
            "error.html",
            {"problem": problem, "back": _back(request)},
            status=answer.status_code,
        )

    return handle


async def _login_required(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, LoginRequired)
    return RedirectResponse(exc.location(), status_code=303)


def install_web(app: FastAPI) -> None:
    """Add the staff pages to ``app``; call after the API's error handlers are installed."""
    for router in (
        pages_auth.router,
        pages_review.router,
        pages_decide.router,
        pages_dashboard.router,
        pages_admin.router,
        pages_tte.router,
        pages_scans.router,
        pages_claims.router,
        pages_siak.router,
    ):
        app.include_router(router)
    app.mount(f"{PREFIX}/static", StaticFiles(directory=STATIC_DIR), name="staf-static")
    for kind in (Refusal, KKError, RequestValidationError, StarletteHTTPException, Exception):
        app.add_exception_handler(kind, _as_page(app.exception_handlers[kind]))
    app.add_exception_handler(LoginRequired, _login_required)
