"""The public verification of a KK (the QR code's page): is this KK the current one?

A signed KK's QR code carries ``<public_base_url>/verifikasi/<token>``; the token is 128
random bits (:data:`sync_server.services.kk_signing.TOKEN_BYTES`), not the KK number, so
nobody can walk the registry by counting numbers. A look-up answers one of:

* ``aktif``: this is the current KK of its number;
* ``tidak_aktif``: a newer KK of the same number was signed since (data change, lost or
  damaged card): "Tidak aktif (digantikan KK yang lebih baru)";
* ``tidak_ditemukan``: no KK was signed with this token (also for a malformed token).

It shows only what a holder of the paper needs to match it: the status, the KK number with
its middle digits masked, the issue date, the signer (the certificate's name) and the
signing time, and the document's SHA-256 (to compare with a PDF). No name, NIK or address.
Look-ups are throttled per client address (:class:`EnrollmentThrottle` with
``verify.throttled``), whatever their result.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from datetime import date

from protocol.errors import define_messages
from protocol.events import parse_timestamp
from protocol.jurisdiction import WIB
from sync_server.storage import kk_registry
from sync_server.storage.db import Database

__all__ = ["Status", "Verification", "look_up", "mask_kk_number"]

define_messages(
    {
        "verify.throttled": "Terlalu banyak pemeriksaan KK dari alamat ini. Coba lagi dalam "
        "{retry_after} detik.",
        "verify.not_found": "Tidak ditemukan: tidak ada KK yang diterbitkan dengan kode ini.",
    }
)

_TOKEN = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


class Status(enum.StrEnum):
    """The answer of a look-up."""

    AKTIF = "aktif"
    TIDAK_AKTIF = "tidak_aktif"
    TIDAK_DITEMUKAN = "tidak_ditemukan"

    @property
    def label(self) -> str:
        return {
            "aktif": "Aktif",
            "tidak_aktif": "Tidak aktif (digantikan KK yang lebih baru)",
            "tidak_ditemukan": "Tidak ditemukan",
        }[self.value]


@dataclass(frozen=True, slots=True)
class Verification:
    """What the public may see of one KK."""

    status: Status
    kk_number_masked: str = ""
    issued_on: str = ""
    """Dikeluarkan tanggal, dd-mm-yyyy."""
    signer: str = ""
    signed_at: str = ""
    """dd-mm-yyyy HH:MM WIB."""
    superseded_on: str = ""
    """When a newer KK replaced it (dd-mm-yyyy), for ``tidak_aktif``."""
    sha256: str = ""

    def to_dict(self) -> dict[str, str]:
        return {
            "status": self.status.value,
            "label": self.status.label,
            "kk_number": self.kk_number_masked,
            "issued_on": self.issued_on,
            "signer": self.signer,
            "signed_at": self.signed_at,
            "superseded_on": self.superseded_on,
            "sha256": self.sha256,
        }


def mask_kk_number(number: str) -> str:
    """``160601******0001``: the kecamatan code and serial stay, the date is hidden."""
    return number[:6] + "*" * (len(number) - 10) + number[-4:] if len(number) == 16 else ""


def _wib(stamp: str, *, with_time: bool) -> str:
    moment = parse_timestamp(stamp)
    if moment is None:
        return ""
    return moment.astimezone(WIB).strftime("%d-%m-%Y %H:%M WIB" if with_time else "%d-%m-%Y")


def look_up(db: Database, token: str) -> Verification:
    """The public status of the KK signed with ``token``."""
    if not _TOKEN.match(token):
        return Verification(Status.TIDAK_DITEMUKAN)
    with db.read() as conn:
        document = kk_registry.document_by_token(conn, token)
    if document is None:
        return Verification(Status.TIDAK_DITEMUKAN)
    return Verification(
        status=Status.AKTIF if document.active else Status.TIDAK_AKTIF,
        kk_number_masked=mask_kk_number(document.kk_number),
        issued_on=date.fromisoformat(document.issued_on).strftime("%d-%m-%Y"),
        signer=document.signer,
        signed_at=_wib(document.signed_at, with_time=True),
        superseded_on=_wib(document.superseded_at, with_time=False)
        if document.superseded_at
        else "",
        sha256=document.sha256,
    )
