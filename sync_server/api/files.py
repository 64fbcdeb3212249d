"""Answers that carry a file of personal data (a PDF, a scan) for the browser to show."""

from __future__ import annotations

from fastapi.responses import Response

__all__ = ["inline_file"]


def inline_file(content: bytes, media_type: str, filename: str) -> Response:
    """``content`` shown in the browser (``inline``), never cached (personal data stays off
    shared caches and the browser's disk cache) and never sniffed as another type."""
    return Response(
        content,
        media_type=media_type,
        headers={
            "Content-Disposition": f'inline; filename="{filename}"',
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )
