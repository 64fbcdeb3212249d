"""The console/file transport: ``make run``'s embedded default, with no WhatsApp account.

Each message becomes ``<data dir>/whatsapp/console/<time>-<outbox id>.txt`` (recipient,
purpose, text or template, attachment name) and each attachment
``<data dir>/whatsapp/console/<media id>-<file name>``, where the operator can open them;
one log line per message names the file (never its text: it goes to the applicant only).
Files are written whole under a temporary name and renamed, so a half-written message is
never there to be read.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from datetime import UTC, datetime
from pathlib import Path

from sync_server.services.whatsapp.transport import Document, OutgoingMessage

__all__ = ["ConsoleTransport", "CONSOLE_DIR"]

CONSOLE_DIR = Path("whatsapp") / "console"
"""Under the server's data directory."""

log = logging.getLogger("sync_server.whatsapp")
_SAFE = re.compile(r"[^A-Za-z0-9._-]")


class ConsoleTransport:
    """Writes messages to files instead of sending them; every send is "sent"."""

    name = "console"

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    async def upload(self, document: Document) -> str:
        media_id = "console-" + hashlib.sha256(document.content).hexdigest()[:16]
        _write(self.directory / f"{media_id}-{_safe(document.filename)}", document.content)
        return media_id

    async def send(self, message: OutgoingMessage) -> str:
        rendered = message.rendered
        lines = [
            f"Kepada     : {message.recipient}",
            f"Keperluan  : {rendered.purpose.label}",
            f"ID outbox  : {message.outbox_id}",
        ]
        if message.media_id:
            lines.append(f"Lampiran   : {message.media_id}-{_safe(message.filename)}")
        if message.use_template:
            template = rendered.template
            lines.append(f"Templat    : {template.name} ({template.language})")
            lines += [f"  {{{{{n}}}}} = {value}" for n, value in enumerate(template.body, 1)]
        lines += ["", rendered.text, ""]
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        path = self.directory / f"{stamp}-{message.outbox_id}.txt"
        _write(path, "\n".join(lines).encode("utf-8"))
        log.info("whatsapp console: pesan %s ditulis ke %s", message.outbox_id, path)
        return f"console.{message.outbox_id}"

    async def aclose(self) -> None:
        return None


def _safe(name: str) -> str:
    """A file name from outside never touches the filesystem as it is."""
    return _SAFE.sub("_", name)[-80:] or "lampiran"


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temporary = path.with_name(path.name + ".part")
    with open(temporary, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.chmod(temporary, 0o600)
    os.replace(temporary, path)
