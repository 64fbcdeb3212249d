"""Errors the counter store and its operator actions raise, on top of the domain's own.

Every one is a :class:`~protocol.errors.KKError` with a stable code and an Indonesian message,
so the counter's screens handle them exactly like workflow and validation errors::

    KKError (protocol.errors)
    ├── ValidationError, WorkflowError ...   the domain's own (submit when incomplete, an
    │                                        illegal transition, a missing reason)
    ├── ProtocolError
    │   └── PushResultError                  a push answer from the server contradicts the
    │                                        outbox (unknown seq, changed outcome, bad status)
    └── CounterError                         this counter cannot do what was asked
        ├── DeviceNotEnrolled                no device row yet: enrollment needs the network
        ├── DeviceAlreadyEnrolled            a second enrollment would fork the change log
        ├── DeviceKeyMismatch                the key file is not the enrolled device's key
        ├── OperatorNotPermitted             unknown or disabled operator account, or one of
        │                                    another kecamatan
        ├── ApplicationOutsideKecamatan      the family's address is in another kecamatan
        ├── ApplicationExists                create with an id that is already stored
        ├── ApplicationNotFound              an action on an id that is not stored
        ├── ApplicationTransferred           an action on an application the server moved
        │                                    to another device (read-only here)
        ├── StoreError                       the database file cannot be used safely
        ├── ScanError                        a scan cannot be attached or opened (type,
        │                                    size, locked data key, missing server key)
        ├── ExportError                      the signed KK PDF cannot be saved as a copy
        ├── ResendRefused                    a WhatsApp message cannot be re-sent (not
        │                                    failed nor "perlu dicek", already asked)
        └── InboxRefused                     a WhatsApp inbox document cannot be attached
"""

from __future__ import annotations

from protocol.errors import Issue, KKError, ProtocolError, define_messages, message_for

__all__ = [
    "CounterError",
    "DeviceNotEnrolled",
    "DeviceAlreadyEnrolled",
    "DeviceKeyMismatch",
    "OperatorNotPermitted",
    "ApplicationOutsideKecamatan",
    "ApplicationExists",
    "ApplicationNotFound",
    "ApplicationTransferred",
    "StoreError",
    "ScanError",
    "PushResultError",
    "ExportError",
    "ResendRefused",
    "InboxRefused",
]

define_messages(
    {
        "device.not_enrolled": "Perangkat loket ini belum didaftarkan ke server pusat. "
        "Pendaftaran perangkat memerlukan jaringan satu kali; setelah itu loket dapat "
        "bekerja tanpa jaringan.",
        "device.already_enrolled": "Perangkat loket ini sudah terdaftar sebagai {device_id}; "
        "pendaftaran ulang tidak diizinkan karena akan memutus catatan perubahan.",
        "device.key_mismatch": "Kunci perangkat tidak cocok dengan perangkat yang terdaftar "
        "({device_id}). Catatan tidak dibuat; hubungi admin.",
        "store.schema_too_new": "Basis data loket dibuat oleh versi aplikasi yang lebih baru "
        "(skema {found}, aplikasi ini mengenal sampai {known}). Perbarui aplikasi loket.",
        "store.schema_unknown": "Basis data loket tidak dikenali (versi skema {found}); "
        "berkas ini bukan buatan aplikasi loket atau rusak. Hubungi admin.",
        "application.transferred_away": "Permohonan {application_id} sudah dialihkan oleh "
        "admin Dinas ke perangkat {device_id}; di perangkat ini permohonan hanya dapat "
        "dilihat, tidak dapat diubah.",
        "store.wal_unavailable": "Basis data loket di {path} tidak dapat memakai mode WAL "
        "(mode sekarang: {mode}); simpan di disk lokal, bukan folder jaringan.",
        "outbox.unknown_seq": "Jawaban server menyebut catatan nomor {seq}, yang tidak ada "
        "di loket ini.",
        "outbox.result_conflict": "Jawaban server untuk catatan nomor {seq} berubah dari "
        '"{before}" menjadi "{after}"; jawaban tidak disimpan.',
        "outbox.bad_result": "Jawaban server untuk catatan nomor {seq} tidak sah: {detail}.",
        "scan.locked": "Berkas pindaian terkunci untuk operator ini: kunci berkas loket "
        "belum diambil dari server pusat. Kunci diambil dengan kata sandi Anda saat jaringan "
        "tersambung.",
        "scan.no_escrow": "Loket ini belum menyimpan salinan kunci berkas untuk server pusat, "
        "jadi kunci tidak dapat diambil dari server. Minta operator yang sudah pernah "
        "melampirkan berkas di loket ini masuk sekali.",
        "scan.recovered_key_wrong": "Kunci berkas dari server tidak cocok dengan loket ini; "
        "kunci tidak dipakai. Hubungi admin Dinas.",
        "scan.password_outdated": "Server pusat tidak menerima kata sandi ini (mungkin sudah "
        "diganti admin dan loket belum sinkron). Berkas pindaian tetap terkunci; sinkronkan "
        "(F5), lalu masuk lagi dengan kata sandi terbaru.",
        "scan.recovery_offline": "Tidak ada jaringan ke server pusat: berkas pindaian tetap "
        "terkunci. Kunci berkas diambil dari server setelah jaringan kembali; Anda akan "
        "diminta kata sandi sekali lagi saat melampirkan atau membuka berkas.",
        "scan.wrong_password": "Kata sandi tidak membuka kunci berkas pindaian.",
        "scan.server_key_missing": "Loket belum menerima kunci enkripsi server; sambungkan "
        "ke jaringan dan sinkronkan sekali sebelum melampirkan berkas.",
        "scan.not_found": "Berkas pindaian {scan_id} tidak ada di loket ini.",
        "scan.blob_missing": "Isi berkas pindaian {scan_id} hilang dari folder loket.",
        "scan.unknown_document": 'Jenis dokumen "{document}" tidak dikenal.',
        "scan.not_editable": "Berkas tidak dapat dilampirkan: permohonan berstatus {state}.",
        "export.not_downloaded": "PDF KK belum diunduh ke loket ini; tunggu sinkron berikutnya.",
        "export.folder": "Tidak dapat menyimpan ke folder {folder}: {detail}.",
        "inbox.attached_here": "Dokumen kotak masuk {item_id} sudah dilampirkan ke permohonan ini.",
        "download.mismatch": "Salinan KK bertanda tangan permohonan {application_id} di loket "
        "ini tidak cocok dengan yang ditandatangani; salinan dihapus dan diunduh ulang pada "
        "sinkronisasi berikutnya.",
    }
)


class CounterError(KKError):
    """The counter cannot do what was asked; nothing was written."""

    code = "counter.error"

    @classmethod
    def of(cls, code: str, **params: object) -> CounterError:
        """Build the error with the catalogue's message for ``code``."""
        return cls(message_for(code, **params), code=code)

    @classmethod
    def from_issue(cls, found: Issue) -> CounterError:
        """Raise a shared rule's refusal (:mod:`protocol.jurisdiction`) as this error."""
        return cls(found.message, code=found.code)


class DeviceNotEnrolled(CounterError):
    code = "device.not_enrolled"


class DeviceAlreadyEnrolled(CounterError):
    code = "device.already_enrolled"


class DeviceKeyMismatch(CounterError):
    code = "device.key_mismatch"


class OperatorNotPermitted(CounterError):
    code = "operator.not_registered"


class ApplicationOutsideKecamatan(CounterError):
    code = "application.wrong_kecamatan"


class ApplicationExists(CounterError):
    code = "application.duplicate"


class ApplicationNotFound(CounterError):
    code = "application.unknown"


class ApplicationTransferred(CounterError):
    code = "application.transferred_away"


class StoreError(CounterError):
    code = "store.error"


class ScanError(CounterError):
    code = "scan.error"


class ExportError(CounterError):
    code = "export.error"


class ResendRefused(CounterError):
    code = "outbox.not_resendable"


class InboxRefused(CounterError):
    code = "inbox.not_found"


class PushResultError(ProtocolError):
    """A push answer contradicts the outbox; none of that answer was recorded."""

    code = "outbox.bad_result"

    @classmethod
    def of(cls, code: str, **params: object) -> PushResultError:
        return cls(message_for(code, **params), code=code)
