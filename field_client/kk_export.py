"""A copy of the signed KK PDF, saved where the operator asks (to print or hand over).

The PDF is kept sealed in the counter's document folder, as the server encrypted it for this
counter; only a logged-in operator's data key opens it (:meth:`Store.read_kk_pdf`), which
checks the plaintext against the signed SHA-256 of the ``application.kk_ready`` event, so
the copy is the verified file.
The copy is written to a temporary file in the target folder and renamed, so a full disk
never leaves half a PDF under the final name; it is readable by its owner only (personal
data, UU PDP 27/2022).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from field_client.errors import ExportError
from field_client.scans import DataKey
from field_client.store import Store

__all__ = ["export_kk_pdf", "export_name"]


def export_name(kk_number: str) -> str:
    """The file name of the copy: the KK number says whose it is."""
    return f"KK-{kk_number}.pdf"


def export_kk_pdf(store: Store, key: DataKey, application_id: str, folder: Path) -> Path:
    """Save the downloaded KK PDF of ``application_id`` into ``folder``; return its path.

    Raises :class:`ExportError` (``export.not_downloaded`` or ``export.folder``), or
    :class:`ScanError` ``download.mismatch`` for a copy that is not the signed PDF.
    """
    document = store.kk_document(application_id)
    content = store.read_kk_pdf(key, application_id) if document else None
    if document is None or content is None:
        raise ExportError.of("export.not_downloaded")
    folder = folder.expanduser()
    target = folder / export_name(document.kk_number)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=folder, prefix=".kk-", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(content)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise ExportError.of(
            "export.folder", folder=str(folder), detail=exc.strerror or str(exc)
        ) from None
    return target
