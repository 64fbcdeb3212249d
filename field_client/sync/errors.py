"""What can go wrong between a counter and the central server, with Indonesian messages.

::

    KKError (protocol.errors)
    └── SyncError                 sync.* : the counter could not finish a sync step
        ├── LinkDown              no usable answer from the server: no network, a timeout,
        │                         a cut mid-transfer, a gateway's 502/503/504, or a page that
        │                         is not the server's (a hotspot's login page). Retried.
        ├── ServerRefusal         the server answered and refused the whole request; code,
        │                         message and extra fields are the server's own
        │                         (sync_server/errors.py lists them)
        └── EnrollmentError       enrollment failed (enroll.* : the server's codes, plus
                                  enroll.no_network / enroll.bad_response /
                                  enroll.bad_server_url / enroll.data_dir_unusable
                                  from here)

Codes defined here are stable; clients branch on them, never on the text.
"""

from __future__ import annotations

from typing import Any

from protocol.errors import KKError, define_messages, message_for

__all__ = ["SyncError", "LinkDown", "ServerRefusal", "EnrollmentError"]

define_messages(
    {
        "sync.offline": "Tidak ada jaringan ke server pusat; data tetap tersimpan di loket "
        "dan akan dikirim otomatis.",
        "sync.server_unavailable": "Server pusat sedang tidak dapat melayani (HTTP {status}); "
        "data tetap tersimpan di loket dan akan dikirim otomatis.",
        "sync.bad_response": "Jawaban yang diterima bukan dari server pusat (HTTP {status}); "
        "jaringan mungkin meminta login (wifi/hotspot). Data tetap tersimpan di loket dan "
        "akan dikirim otomatis.",
        "sync.history_missing": "Server pusat meminta catatan mulai nomor {seq}, tetapi "
        "catatan itu tidak ada lagi di loket ini. Hubungi admin Dinas.",
        "sync.no_progress": "Jawaban server pusat tidak memajukan pengiriman (catatan nomor "
        "{seq}); pengiriman dicoba lagi nanti. Laporkan ke admin bila berulang.",
        "sync.document_changed": "KK bertanda tangan permohonan {application_id} yang "
        "diunduh tidak cocok dengan yang diumumkan server; diunduh ulang setelah sinkronisasi "
        "berikutnya.",
        "sync.bad_scan_status": "Server pusat tidak menjawab status berkas {scan_id}.",
        "sync.stopped": "{reason} Sinkronisasi loket ini dihentikan; catatan yang belum "
        "terkirim tetap tersimpan di loket.",
        "sync.internal_error": "Terjadi kesalahan di aplikasi loket saat sinkronisasi; data "
        "tetap aman di loket dan dicoba lagi otomatis. Laporkan ke admin bila berulang.",
        "enroll.no_network": "Pendaftaran perangkat memerlukan jaringan; periksa koneksi lalu "
        "coba lagi.",
        "enroll.bad_response": "Alamat {url} tidak menjawab sebagai server pusat KK (HTTP "
        "{status}); periksa alamat server lalu coba lagi.",
        "enroll.data_dir_unusable": "Folder data loket {path} tidak dapat dipakai ({reason}); "
        "periksa izin folder atau pilih folder lain dengan --data-dir.",
        "enroll.bad_server_url": 'Alamat server "{url}" tidak sah; tulis lengkap dengan '
        "http:// atau https://, misalnya https://nama-server-pusat.",
    }
)


class SyncError(KKError):
    """The counter could not finish a sync step; nothing local was lost."""

    code = "sync.error"

    @classmethod
    def of(cls, code: str, **params: Any) -> SyncError:
        """Build the error with the catalogue's message for ``code``."""
        return cls(message_for(code, **params), code=code)


class LinkDown(SyncError):
    """No usable answer: the request may or may not have reached the server, so whatever it
    carried is simply sent again later (the server is idempotent)."""

    code = "sync.offline"


class ServerRefusal(SyncError):
    """The server answered with a problem+json ``code``: it refused the whole
    request and changed nothing (the nonce excepted).

    ``status`` is the HTTP status, ``extra`` the other fields of the error body
    (``expected_seq``, ``acked_seq``, ``server_time``, ``retry_after``...).
    """

    code = "server.refusal"

    def __init__(
        self, code: str, message: str, *, status: int, extra: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message, code=code)
        self.status = status
        self.extra: dict[str, Any] = dict(extra or {})

    @property
    def retry_after(self) -> float | None:
        """Seconds the server asked to wait (``enroll.throttled``), if it said."""
        value = self.extra.get("retry_after")
        if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
            return float(value)
        return None


class EnrollmentError(SyncError):
    """Enrollment did not complete; the store does not claim an enrollment, so the operator
    can simply try again (with a new code when the server says so)."""

    code = "enroll.failed"

    def __init__(
        self,
        message: str,
        *,
        code: str,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, code=code)
        self.status = status
        self.retry_after = retry_after
