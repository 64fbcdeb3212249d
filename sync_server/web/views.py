"""What the application page shows, shaped from :func:`sync_server.services.application_read.
read_application`'s answer: code values turned into their Indonesian labels, actors into
names. Presentation only; every rule stays in ``protocol`` and the services."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from protocol import codes
from protocol.requirements import reason_label
from protocol.wilayah import region
from protocol.workflow import Action, State
from sync_server.services.queues import service_label

__all__ = [
    "ClaimAction",
    "CLAIM_NOTICES",
    "member_rows",
    "address_line",
    "history_rows",
    "reason_labels",
    "service_of",
    "scan_rows",
]

_MEMBER_CODES = (
    ("jenis_kelamin", codes.JENIS_KELAMIN),
    ("shdk", codes.SHDK),
    ("agama", codes.AGAMA),
    ("pendidikan", codes.PENDIDIKAN),
    ("pekerjaan", codes.PEKERJAAN),
    ("status_perkawinan", codes.STATUS_PERKAWINAN),
)


def _label(code_list: codes.CodeList, value: Any) -> str:
    try:
        return code_list.label(int(value))
    except (KeyError, TypeError, ValueError):
        return "-" if value is None else str(value)


def member_rows(data: dict[str, Any]) -> list[dict[str, Any]]:
    """The family members with labels instead of code numbers."""
    rows = []
    for member in data.get("members") or []:
        if not isinstance(member, dict):
            continue
        row = {key: _label(code_list, member.get(key)) for key, code_list in _MEMBER_CODES}
        row.update(
            nama=member.get("nama") or "-",
            nik=member.get("nik") or "-",
            tempat_lahir=member.get("tempat_lahir") or "-",
            tanggal_lahir=member.get("tanggal_lahir") or "-",
            nama_ayah=member.get("nama_ayah") or "-",
            nama_ibu=member.get("nama_ibu") or "-",
        )
        rows.append(row)
    return rows


def address_line(data: dict[str, Any]) -> str:
    address = data.get("address") if isinstance(data.get("address"), dict) else {}
    desa = region(str(address.get("desa_code") or ""))
    parts = [
        address.get("alamat") or "",
        f"RT {address.get('rt')}/RW {address.get('rw')}" if address.get("rt") else "",
        f"Desa/Kel. {desa.name}" if desa else "",
        address.get("kode_pos") or "",
    ]
    return ", ".join(p for p in parts if p) or "-"


def service_of(data: dict[str, Any]) -> str:
    return service_label(data.get("service"))


def reason_labels(items: list[str] | tuple[str, ...]) -> list[str]:
    labels = []
    for item in items:
        try:
            labels.append(reason_label(item))
        except KeyError:
            labels.append(item)
    return labels


def _state_label(value: str | None) -> str:
    try:
        return State(value).label if value else "-"
    except ValueError:
        return str(value)


def history_rows(history: list[dict[str, Any]], names: dict[str, str]) -> list[dict[str, Any]]:
    """The application's trail, newest first, with names, labels and reasons."""
    rows = []
    for entry in reversed(history):
        reasons = entry.get("reasons") or {}
        try:
            action = Action(entry["action"]).label
        except ValueError:
            action = entry["action"]
        rows.append(
            {
                "at": entry["server_time"],
                "actor": names.get(entry["actor_id"], entry["actor_id"]),
                "role": entry["role"],
                "action": action,
                "from_state": _state_label(entry.get("from_state")),
                "to_state": _state_label(entry.get("to_state")),
                "reason_items": reason_labels(reasons.get("items") or []),
                "reason_text": reasons.get("text") or "",
                "where": "loket" if entry.get("device_id") else "pusat",
            }
        )
    return rows


def scan_rows(listed: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The application's scans with their document's label and how much has arrived."""
    rows = []
    for scan in listed:
        total = scan.get("bytes") or 0
        received = scan.get("received_bytes") or 0
        rows.append(
            {
                **scan,
                "label": reason_labels([scan.get("document") or ""])[0] or "Dokumen",
                "complete": scan.get("status") == "complete",
                "is_image": str(scan.get("media_type") or "").startswith("image/"),
                "percent": min(100, int(received * 100 / total)) if total else 0,
            }
        )
    return rows


class ClaimAction(StrEnum):
    """What the claim form asks."""

    TAKE = "ambil"
    TAKE_OVER = "ambil_alih"
    HAND_ON = "serahkan"
    RELEASE = "lepaskan"


# The notice shown after each action (``?klaim=<action>``): fixed texts, never echoed input.
CLAIM_NOTICES = {
    ClaimAction.TAKE: "Berkas ini sekarang Anda kerjakan; petugas lain tidak dapat memutuskannya.",
    ClaimAction.TAKE_OVER: "Berkas ini sudah Anda ambil alih.",
    ClaimAction.HAND_ON: "Berkas ini sudah diserahkan kepada rekan Anda.",
    ClaimAction.RELEASE: "Berkas ini sudah dilepaskan; petugas lain dapat mengambilnya.",
}
