"""Who may act on which application, where and when: rules both the counter and the server
apply, so the counter refuses at once what the server would refuse after a sync, with the
same codes.

* Time: Musi Banyuasin keeps Western Indonesia Time (WIB, UTC+7, no daylight saving). "Today"
  for rules such as "birth date not in the future" is the office's date, not UTC's: between
  00:00 and 07:00 WIB they differ.
* Operators act only for the kecamatan their account is bound to, and only while active.
* An application is served by the counter of the kecamatan where the family lives
  (design.md §1: one kecamatan never sees another's applications).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from protocol.application import Application
from protocol.errors import Issue, define_messages, issue
from protocol.workflow import Role

__all__ = ["WIB", "office_date", "operator_refusal", "address_refusal"]

WIB = timezone(timedelta(hours=7), "WIB")

define_messages(
    {
        "operator.not_registered": "Akun operator {operator_id} tidak terdaftar; tindakan "
        "tidak dicatat. Sinkronkan daftar operator atau hubungi admin Dinas.",
        "operator.wrong_role": "Akun {operator_id} bukan akun operator loket; tindakan "
        "tidak dicatat.",
        "operator.disabled": "Akun operator {operator_id} sudah dinonaktifkan; tindakan "
        "tidak dicatat.",
        "operator.wrong_kecamatan": "Akun operator {operator_id} terdaftar untuk kecamatan "
        "{operator_kecamatan}, bukan kecamatan loket ini ({kecamatan}).",
        "application.duplicate": "Permohonan {application_id} sudah tercatat; tidak dibuat "
        "dua kali.",
        "application.unknown": "Permohonan {application_id} tidak tercatat.",
        "application.wrong_kecamatan": "Alamat permohonan ada di kecamatan "
        "{address_kecamatan}, bukan kecamatan loket ini ({kecamatan}). Permohonan dilayani di "
        "loket kecamatan tempat alamat keluarga.",
    }
)


def office_date(moment: datetime) -> date:
    """The calendar date in Musi Banyuasin at ``moment`` (an aware datetime)."""
    if moment.tzinfo is None:
        raise ValueError("moment must be timezone-aware")
    return moment.astimezone(WIB).date()


def operator_refusal(
    *,
    operator_id: str,
    role: Role | None,
    active: bool,
    operator_kecamatan: str | None,
    kecamatan: str,
) -> Issue | None:
    """Why this account may not act at a counter of ``kecamatan``; ``None`` when it may.

    ``role`` is ``None`` when no account with ``operator_id`` is known.
    """
    if role is None:
        return issue("operator.not_registered", operator_id=operator_id)
    if role is not Role.OPERATOR:
        return issue("operator.wrong_role", operator_id=operator_id)
    if not active:
        return issue("operator.disabled", operator_id=operator_id)
    if operator_kecamatan != kecamatan:
        return issue(
            "operator.wrong_kecamatan",
            operator_id=operator_id,
            operator_kecamatan=operator_kecamatan,
            kecamatan=kecamatan,
        )
    return None


def address_refusal(app: Application, kecamatan: str) -> Issue | None:
    """Why a counter of ``kecamatan`` may not hold ``app``; ``None`` when it may."""
    if app.address.kecamatan_code != kecamatan:
        return issue(
            "application.wrong_kecamatan",
            field="address.desa_code",
            address_kecamatan=app.address.kecamatan_code,
            kecamatan=kecamatan,
        )
    return None
