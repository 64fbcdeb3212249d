"""What an attached scan is, in a few words: type, size, pages (for the checklist)."""

from __future__ import annotations

import io
import logging

from field_client.scans import ScanInfo
from field_client.widgets.status.sync_status_bar import format_bytes

__all__ = ["count_pages", "describe_scan"]

log = logging.getLogger("field_client.app")

_TYPES = {"application/pdf": "PDF", "image/jpeg": "JPG", "image/png": "PNG"}


def count_pages(content: bytes, media_type: str) -> int | None:
    """Pages of a PDF (1 for an image); ``None`` when the PDF cannot be read."""
    if media_type != "application/pdf":
        return 1
    from pypdf import PdfReader  # only when a PDF is previewed: keeps start-up quick
    from pypdf.errors import PdfReadError

    try:
        return len(PdfReader(io.BytesIO(content)).pages)
    except (PdfReadError, ValueError, KeyError, OSError) as exc:
        log.info("cannot count the pages of a scan: %s", exc)
        return None


def describe_scan(info: ScanInfo, pages: int | None) -> str:
    """``"PDF, 1,2 MB, 3 halaman, terkirim"``."""
    parts = [_TYPES.get(info.media_type, info.media_type), format_bytes(info.plain_bytes)]
    if pages is not None:
        parts.append(f"{pages} halaman")
    parts.append("terkirim" if info.uploaded_at else "belum terkirim")
    return ", ".join(parts)
