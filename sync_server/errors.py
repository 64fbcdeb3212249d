"""Refusals of the central server: every code it answers with, and its Indonesian text.

The server adds one exception to the domain's tree (:mod:`protocol.errors`)::

    KKError (protocol.errors)
    ├── ValidationError, WorkflowError ...  the domain's own; an event that breaks them is
    │                                       stored as "refused" with their code (ingest)
    ├── ProtocolError
    │   ├── ChainError                      event.seq_gap / event.chain_broken / event.forked
    │   └── SignatureInvalid                signature.invalid (events)
    └── Refusal                             the server refuses a request or an admin command;
                                            carries the HTTP status and extra JSON fields

The API turns every :class:`Refusal` into a problem+json body (``code``, ``detail``, extra) with its
``status`` (:mod:`sync_server.api.errors`); the CLI prints its message and exits 1.

Codes, grouped by where they arise (HTTP status in brackets):

* enrollment: ``enroll.code_unknown`` [400], ``enroll.code_expired`` [410],
  ``enroll.code_used`` [409], ``enroll.throttled`` [429], ``enroll.key_in_use`` [409],
  ``key.invalid`` [400] (:mod:`signing.keys`)
* signed requests: ``request.unsigned`` [401], ``device.unknown`` [401],
  ``device.revoked`` [403], ``request.bad_signature`` [401], ``request.clock_skew`` [401],
  ``request.replayed`` [401]
* request bodies: ``request.too_large`` [413], ``request.unsupported_encoding`` [415],
  ``request.bad_gzip`` [400], ``request.malformed_json`` [400], ``request.invalid_body``
  [400], ``push.malformed`` [400], ``push.too_many_events`` [413], ``push.unordered`` [400]
* events of a push (the whole batch is refused): ``event.*`` from
  :meth:`protocol.events.ChangeEvent.from_wire` [400], ``event.wrong_device`` [403],
  ``signature.invalid`` [400], ``event.seq_gap`` / ``event.chain_broken`` /
  ``event.forked`` [409]
* refusals of one event, stored and acknowledged (HTTP 200, status ``refused``):
  ``operator.not_registered``, ``operator.wrong_role``, ``operator.disabled``,
  ``operator.wrong_kecamatan``, ``application.duplicate``, ``application.wrong_kecamatan``,
  ``application.unknown``, ``application.not_owner``, ``application.not_ready`` and the
  workflow's own codes (``workflow.*``)
* pull: ``pull.bad_parameter`` [400], ``pull.cursor_ahead`` [409]
* scans (:mod:`sync_server.services.scans`): ``scan.unknown`` [404], ``scan.not_yours``
  [403], ``scan.offset_mismatch`` [409], ``scan.checksum_mismatch`` / ``scan.beyond_length``
  / ``scan.bad_header`` / ``scan.bad_parameter`` [400], ``scan.hash_mismatch`` /
  ``scan.unreadable`` / ``scan.bad_type`` [422], ``scan.not_complete`` [409]; refusals of a
  ``scan.attached`` event: ``scan.not_editable``, ``scan.too_large``,
  ``scan.application_too_large``, ``scan.size_conflict``, ``scan.not_yours``
* central decisions (:mod:`sync_server.services.decisions`): ``application.unknown`` [404],
  ``decision.*`` [403/400], ``decision.conflict`` [409] and the workflow's own errors
  (over HTTP, :mod:`sync_server.api.routes.decisions`: ``workflow.illegal_transition``
  [409], ``workflow.role_not_permitted`` [403], ``workflow.reason_required`` and
  ``workflow.unknown_reason_item`` [422])
* claims (:mod:`sync_server.services.claims`): ``claim.held`` / ``claim.held_by_other`` /
  ``claim.not_claimable`` [409], ``claim.not_your_step`` [403], ``claim.assignee_*`` [422]
* WhatsApp webhook (:mod:`sync_server.services.whatsapp.webhook`):
  ``whatsapp.verify_refused`` [403], ``whatsapp.bad_signature`` [401],
  ``whatsapp.malformed`` [400]
* admin commands: ``kecamatan.not_muba``, ``user.*``, ``device.not_found``,
  ``server.not_initialized``, ``application.unknown`` and ``transfer.*``
* SIAK (:mod:`sync_server.services.siak`): ``siak.not_approved``,
  ``siak.already_entered``, ``siak.unreadable`` [409]
* anything else: ``http.not_found`` [404], ``http.method_not_allowed`` [405], ``http.error``,
  ``server.internal`` [500], ``server.unhealthy`` [503] (``/healthz``)
"""

from __future__ import annotations

from typing import Any

import signing.requests  # noqa: F401  (defines request.bad_signature)
from protocol.errors import (
    IllegalTransition,
    KKError,
    ReasonRequired,
    RoleNotPermitted,
    ValidationError,
    define_messages,
    message_for,
)

__all__ = ["Refusal", "refusal_for"]

define_messages(
    {
        # enrollment
        "enroll.code_unknown": "Kode pendaftaran perangkat tidak dikenal. Periksa kembali "
        "kode dari admin Dinas.",
        "enroll.code_expired": "Kode pendaftaran perangkat sudah kedaluwarsa; minta kode "
        "baru kepada admin Dinas.",
        "enroll.code_used": "Kode pendaftaran perangkat sudah dipakai; satu kode hanya untuk "
        "satu perangkat.",
        "enroll.throttled": "Terlalu banyak percobaan pendaftaran yang gagal dari alamat ini. "
        "Coba lagi dalam {retry_after} detik.",
        "enroll.key_in_use": "Kunci publik ini sudah dipakai perangkat lain; buat kunci baru.",
        # signed requests
        "request.unsigned": "Permintaan tidak bertanda tangan perangkat yang sah: header "
        "{header} tidak ada atau salah bentuk.",
        "device.unknown": "Perangkat {device_id} tidak terdaftar di server pusat.",
        "device.revoked": "Perangkat {device_id} sudah dicabut oleh admin Dinas; loket ini "
        "tidak dapat lagi mengirim atau menerima data. Hubungi admin Dinas.",
        "request.clock_skew": "Jam perangkat berbeda lebih dari {window_minutes} menit dari jam "
        "server ({server_time}); sesuaikan jam lalu kirim ulang.",
        "request.replayed": "Permintaan ini sudah pernah diterima (nonce terpakai); "
        "permintaan ulang ditolak.",
        # request bodies
        "request.too_large": "Isi permintaan terlalu besar (paling banyak {max} byte).",
        "request.unsupported_encoding": 'Pengodean isi "{encoding}" tidak didukung; '
        "gunakan gzip atau tanpa pengodean.",
        "request.bad_gzip": "Isi permintaan bukan data gzip yang utuh.",
        "request.malformed_json": "Isi permintaan bukan JSON yang sah.",
        "request.invalid_body": "Isi permintaan tidak sesuai format: {detail}.",
        "push.malformed": 'Isi kiriman harus berupa {{"events": [...]}}.',
        "push.too_many_events": "Terlalu banyak catatan dalam satu kiriman ({count}, paling "
        "banyak {max}).",
        "push.unordered": "Catatan dalam satu kiriman harus urut naik menurut nomor; nomor "
        "{seq} datang setelah {previous}.",
        # events of a push
        "event.wrong_device": "Catatan nomor {seq} milik perangkat {event_device}, bukan "
        "perangkat pengirim {device_id}.",
        # refusals of one event (stored, acknowledged, shown to the operator on pull)
        "application.not_owner": "Permohonan {application_id} dipegang perangkat lain; "
        "perangkat ini tidak boleh mengubahnya.",
        "application.not_ready": "Permohonan belum siap diajukan: {count} masalah ({codes}).",
        # pull
        "pull.bad_parameter": 'Parameter "{name}" tidak sah: {detail}.',
        "pull.cursor_ahead": "Posisi kiriman yang diminta ({after}) melewati posisi terakhir "
        "server ({latest}); server mungkin dipulihkan dari cadangan. Hubungi admin Dinas.",
        # central decisions
        "decision.counter_role": "{role} bertindak lewat sinkronisasi loket, bukan sebagai "
        "keputusan pusat.",
        "decision.actor_unknown": "Akun {actor_id} tidak terdaftar; keputusan tidak dicatat.",
        "decision.actor_disabled": "Akun {username} sudah dinonaktifkan; keputusan tidak dicatat.",
        "decision.actor_wrong_role": "Akun {username} berperan {actual}, bukan {role}; "
        "keputusan tidak dicatat.",
        "decision.actor_name_required": "Nama pengambil keputusan wajib diisi.",
        "decision.conflict": 'Permohonan {application_id} sekarang berstatus "{state}", '
        'bukan "{expected}" seperti yang Anda lihat: petugas lain sudah memutuskannya lebih '
        "dulu. Keputusan Anda tidak dicatat; muat ulang permohonan lalu putuskan lagi.",
        # transfers
        "transfer.not_at_counter": 'Permohonan {application_id} berstatus "{state}"; hanya '
        "permohonan yang sedang dipegang loket (draf, belum lengkap, dikembalikan, TTE "
        "ditolak) yang dapat dialihkan ke perangkat lain.",
        "transfer.device_revoked": "Perangkat {device_id} sudah dicabut; permohonan tidak "
        "dapat dialihkan ke sana.",
        "transfer.wrong_kecamatan": "Perangkat {device_id} melayani kecamatan "
        "{device_kecamatan}, sedangkan permohonan milik kecamatan {kecamatan}. Permohonan "
        "hanya dapat dialihkan ke perangkat kecamatan yang sama.",
        "transfer.same_device": "Permohonan sudah dipegang perangkat {device_id}.",
        # admin commands
        "kecamatan.not_muba": 'Kecamatan "{value}" bukan kecamatan di Kabupaten Musi Banyuasin.',
        "user.invalid_role": 'Peran "{value}" tidak dikenal; pilih salah satu: {choices}.',
        "user.kecamatan_required": "Akun operator wajib terikat pada satu kecamatan (--kecamatan).",
        "user.kecamatan_not_allowed": "Hanya akun operator yang terikat pada kecamatan; "
        "peran {role} bekerja di Dinas (pusat).",
        "user.invalid_username": 'Nama pengguna "{value}" tidak sah: 3-32 karakter huruf kecil, '
        "angka, titik, garis bawah atau tanda hubung, diawali huruf atau angka.",
        "user.invalid_name": "Nama lengkap wajib diisi (paling banyak {max} karakter).",
        "user.password_too_short": "Kata sandi minimal {min} karakter.",
        "user.password_mismatch": "Kedua kata sandi tidak sama.",
        "user.exists": 'Nama pengguna "{username}" sudah dipakai.',
        "user.not_found": 'Pengguna "{username}" tidak ditemukan.',
        "user.disabled_password": "Akun {username} sudah dinonaktifkan; kata sandinya tidak "
        "dapat diatur ulang.",
        "device.not_found": 'Perangkat "{device_id}" tidak ditemukan.',
        "server.not_initialized": "Server belum disiapkan di {path}: jalankan "
        '"kk-server init" terlebih dahulu.',
        # anything else
        "http.not_found": "Alamat tidak ditemukan.",
        "http.method_not_allowed": "Metode HTTP ini tidak didukung untuk alamat ini.",
        "http.error": "Permintaan tidak dapat dilayani (HTTP {status}).",
        "server.internal": "Terjadi kesalahan di server pusat; coba lagi nanti.",
        "server.unhealthy": "Server pusat berjalan tetapi basis datanya tidak dapat dibaca.",
    }
)


class Refusal(KKError):
    """The server refuses a request or an admin command; nothing was changed.

    ``status`` is the HTTP status the API answers with; ``extra`` holds the additional JSON
    fields of the error body (``seq``, ``expected_seq``, ``server_time``...). ``params`` fill
    the catalogue message; ``message`` overrides it (for errors relayed from the domain).
    """

    code = "server.refusal"

    def __init__(
        self,
        code: str,
        *,
        status: int = 400,
        message: str | None = None,
        extra: dict[str, Any] | None = None,
        **params: Any,
    ) -> None:
        super().__init__(message if message is not None else message_for(code, **params), code=code)
        self.status = status
        self.params = params
        self.extra: dict[str, Any] = dict(extra or {})


def refusal_for(exc: KKError) -> Refusal:
    """The HTTP refusal of a domain error raised while judging a staff action.

    Workflow errors keep their code: wrong state 409, wrong role 403, missing reasons 422,
    invalid input (with its ``issues``) 422; a :class:`Refusal` passes through; anything
    else is 400.
    """
    if isinstance(exc, Refusal):
        return exc
    if isinstance(exc, IllegalTransition):
        return Refusal(exc.code, status=409, message=exc.message)
    if isinstance(exc, RoleNotPermitted):
        return Refusal(exc.code, status=403, message=exc.message)
    if isinstance(exc, ReasonRequired):
        return Refusal(exc.code, status=422, message=exc.message)
    if isinstance(exc, ValidationError):
        issues = [i.to_dict() for i in exc.issues]
        return Refusal(exc.code, status=422, message=exc.message, extra={"issues": issues})
    return Refusal(exc.code, status=400, message=exc.message)
