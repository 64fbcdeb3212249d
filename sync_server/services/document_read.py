"""Documents of one application for central staff: the DRAF KK, the Biodata Penduduk and
the signed KK, each read recorded in the hash-chained access log.

The DRAF KK and the Biodata are rendered on request from the stored snapshot (watermarked
"DRAF", unsigned, never stored): the verifikator and the Kabid compare them with the scans in
SOP steps 3-4, and the Kepala Dinas sees what the TTE will sign. The number printed on a
draft is the one the KK will carry when it is already known (the family's own for a data
change, a SIAK number entered by staff, or the number of a signed KK); a new family's number
is allocated at signing, so its draft shows none.

Rendering runs inside the write transaction that appends the access-log row, so a file that
cannot be rendered leaves no record of a read that did not happen.
"""

from __future__ import annotations

import enum
import json
from datetime import datetime

from protocol.application import Application
from protocol.workflow import Role
from signing.biodata_pdf import render_biodata
from signing.kk_pdf import render_kk
from sync_server.clock import stamp
from sync_server.config import ServerConfig
from sync_server.errors import Refusal
from sync_server.services import access_log
from sync_server.services.archive import read_stored
from sync_server.services.kk_signing import official
from sync_server.storage import changelog as log_store
from sync_server.storage import kk_registry
from sync_server.storage.db import Connection, Database

__all__ = ["DocumentKind", "read_document", "known_kk_number"]


class DocumentKind(enum.StrEnum):
    """Which document of an application (the value is recorded in the access log)."""

    DRAFT_KK = "draf KK"
    BIODATA = "biodata penduduk"
    SIGNED_KK = "KK bertanda tangan"


def known_kk_number(conn: Connection, app: Application) -> str:
    """The number the application's KK carries or will carry, as far as known now."""
    assigned = kk_registry.assigned_number(conn, app.id)
    if assigned is not None:
        return assigned[0]
    if not app.service.creates_family:
        return app.kk_number
    return kk_registry.siak_entry(conn, app.id) or ""


def read_document(
    db: Database,
    config: ServerConfig,
    application_id: str,
    kind: DocumentKind,
    *,
    actor_id: str,
    role: Role,
    client_ip: str,
    now: datetime,
) -> bytes:
    """The PDF bytes of ``kind`` for ``application_id``, with the read logged.

    404 ``application.unknown`` (nothing logged); 404 ``document.not_signed`` for the signed
    KK of an application not signed yet.
    """
    with db.write() as conn:
        record = log_store.get_application(conn, application_id)
        if record is None:
            raise Refusal("application.unknown", status=404, application_id=application_id)
        app = Application.from_dict(json.loads(record.snapshot))
        if kind is DocumentKind.SIGNED_KK:
            document = kk_registry.document_of_application(conn, application_id)
            if document is None:
                raise Refusal("document.not_signed", status=404, application_id=application_id)
            data = read_stored(config.documents_dir, document.sha256)
        elif kind is DocumentKind.BIODATA:
            data = render_biodata(app, kk_number=known_kk_number(conn, app))
        else:
            data = render_kk(
                app,
                kk_number=known_kk_number(conn, app),
                issued_on=None,
                official=official(config),
                draft=True,
            )
        access_log.append(
            conn,
            at=stamp(now),
            actor_id=actor_id,
            role=role.value,
            client_ip=client_ip,
            action=access_log.DOCUMENT_READ,
            application_id=application_id,
            detail=kind.value,
        )
    return data
