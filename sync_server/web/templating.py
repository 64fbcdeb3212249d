"""Jinja2 rendering of the staff pages (``templates/web``), autoescaped, with the filters
the pages share (Indonesian dates and durations, code labels)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, StreamingResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

import templates
from protocol.events import parse_timestamp
from protocol.workflow import Role
from sync_server.services.wilayah import kecamatan_name

__all__ = [
    "TEMPLATE_DIR",
    "STATIC_DIR",
    "PAGE_HEADERS",
    "render",
    "stream",
    "local_time",
    "duration",
]

TEMPLATE_DIR = Path(templates.__file__).resolve().parent / "web"
STATIC_DIR = TEMPLATE_DIR / "static"
# Musi Banyuasin is on WIB (UTC+7) all year; staff read times in it.
_WIB = timedelta(hours=7)
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "Mei", "Jun", "Jul", "Agu", "Sep", "Okt", "Nov", "Des")


def local_time(text: str | None) -> str:
    """A stored UTC stamp as ``25 Nov 2026 14:05 WIB``; ``-`` when missing."""
    if not text:
        return "-"
    moment = parse_timestamp(text) + _WIB
    return f"{moment.day} {_MONTHS[moment.month - 1]} {moment.year} {moment:%H:%M} WIB"


def duration(minutes: float | int | None) -> str:
    """Minutes as ``3 mnt``, ``2 jam 5 mnt`` or ``1 hari 4 jam``."""
    if minutes is None:
        return "-"
    total = int(round(minutes))
    days, rest = divmod(total, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days} hari {hours} jam"
    if hours:
        return f"{hours} jam {mins} mnt"
    return f"{mins} mnt"


_ACCESS_LABELS = {
    "application.read": "Membaca berkas",
    "application.decided": "Keputusan",
    "document.read": "Membuka dokumen",
    "scan.read": "Membuka pindaian",
    "application.claimed": "Mengambil berkas",
    "application.released": "Melepas berkas",
    "application.exported": "Ekspor untuk SIAK",
    "application.siak_entered": "Mencatat entri SIAK",
    "scan_key.reissued": "Kunci pindaian loket diberikan ke operator",
    "scan_key.refused": "Kunci pindaian loket ditolak",
    "user.password_reset": "Kata sandi akun diatur ulang",
}


def _access_label(action: str) -> str:
    """An access-log action in words (the code itself for one added later)."""
    return _ACCESS_LABELS.get(action, action)


def _role_label(value: str | None) -> str:
    try:
        return Role(value).label if value else "-"
    except ValueError:
        return str(value)


PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
    "style-src 'self'; script-src 'self'; frame-ancestors 'none'; form-action 'self'",
}
"""Every staff page: never cached (personal data), no framing, only this origin's assets."""

_env = Environment(
    loader=FileSystemLoader(TEMPLATE_DIR),
    autoescape=select_autoescape(["html", "svg"]),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_env.filters.update(
    local_time=local_time,
    duration=duration,
    kecamatan=kecamatan_name,
    role_label=_role_label,
    access_label=_access_label,
)


def render(
    request: Request, name: str, context: dict[str, Any] | None = None, *, status: int = 200
) -> HTMLResponse:
    """Render ``templates/web/<name>`` with ``request`` and ``context``; never cached."""
    values = {"session": None, "notice": None, "error": None, **(context or {})}
    html = _env.get_template(name).render(request=request, **values)
    return HTMLResponse(html, status_code=status, headers=PAGE_HEADERS)


def stream(request: Request, name: str, context: dict[str, Any]) -> StreamingResponse:
    """Render ``name`` as it goes: what the template has written so far reaches the browser
    while later parts (which may iterate over slow work, e.g. signing) are still running.
    Jinja's generator is synchronous; Starlette iterates it in a worker thread."""
    values = {"session": None, "notice": None, "error": None, **context}
    chunks = _env.get_template(name).generate(request=request, **values)
    return StreamingResponse(chunks, media_type="text/html; charset=utf-8", headers=PAGE_HEADERS)
