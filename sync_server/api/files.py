"""Answers that carry a file of personal data (a PDF, a scan, an export) for the browser to
show or save."""

from __future__ import annotations

from typing import Literal

from fastapi.responses import Response

__all__ = ["inline_file", "attachment_file"]


def _file(
    content: bytes, media_type: str, filename: str, disposition: Literal["inline", "attachment"]
) -> Response:
    # Never cached (personal data stays off shared caches and the browser's disk cache) and
    # never sniffed as another type.
    return Response(
        content,
        media_type=media_type,
        headers={
            "Content-Disposition": f'{disposition}; filename="{filename}"',
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )


def inline_file(content: bytes, media_type: str, filename: str) -> Response:
    """``content`` shown in the browser (``inline``)."""
    return _file(content, media_type, filename, "inline")


def attachment_file(content: bytes, media_type: str, filename: str) -> Response:
    """``content`` saved by the browser as ``filename`` (``attachment``)."""
    return _file(content, media_type, filename, "attachment")
