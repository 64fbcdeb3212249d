"""The Cloud API's error codes: what each means for a message, and what people are told.

Decided by CODE only, never by the message text (Meta's own advice: titles change). The same
code may come back synchronously, in the HTTP answer to ``POST /messages``, or later in a
``failed`` status of the webhook; both paths read this table.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from sync_server.services.whatsapp.transport import Disposition

__all__ = ["classify"]

_D = Disposition
_KNOWN: Mapping[int, tuple[Disposition, str]] = MappingProxyType(
    {
        130429: (_D.RETRY, "Batas kecepatan kirim WhatsApp tercapai; dicoba lagi nanti."),
        131056: (_D.RETRY, "Terlalu banyak pesan ke nomor ini dalam waktu singkat; dicoba lagi."),
        4: (_D.RETRY, "Batas panggilan API WhatsApp tercapai; dicoba lagi nanti."),
        80007: (_D.RETRY, "Batas panggilan akun WhatsApp Business tercapai; dicoba lagi nanti."),
        1: (_D.RETRY, "Layanan WhatsApp sedang bermasalah; dicoba lagi nanti."),
        2: (_D.RETRY, "Layanan WhatsApp sedang tidak tersedia; dicoba lagi nanti."),
        131000: (_D.RETRY, "Layanan WhatsApp gagal memproses pesan; dicoba lagi nanti."),
        131047: (
            _D.USE_TEMPLATE,
            "Lebih dari 24 jam sejak pemohon terakhir menulis; dikirim sebagai templat resmi.",
        ),
        131026: (
            _D.FAILED,
            "Pesan tidak dapat diantar ke nomor ini (tidak terdaftar di WhatsApp atau "
            "aplikasinya terlalu lama). Hubungi pemohon lewat telepon atau loket.",
        ),
        131051: (_D.FAILED, "Jenis pesan tidak didukung WhatsApp."),
        131052: (_D.FAILED, "Berkas lampiran tidak dapat diunduh oleh WhatsApp."),
        131053: (_D.FAILED, "Berkas lampiran tidak dapat diunggah ke WhatsApp."),
        100: (_D.FAILED, "Permintaan ke WhatsApp tidak sah (parameter salah)."),
        132000: (_D.FAILED, "Jumlah parameter templat WhatsApp tidak sesuai."),
        132001: (_D.FAILED, "Templat WhatsApp tidak ada atau belum disetujui."),
        132018: (_D.FAILED, "Isi parameter templat WhatsApp tidak sah."),
        190: (
            _D.ALERT,
            "Token akses WhatsApp kedaluwarsa atau tidak sah: admin harus memperbarui "
            "KK_SERVER_WHATSAPP_ACCESS_TOKEN. Pengiriman dijeda.",
        ),
        0: (_D.ALERT, "WhatsApp menolak autentikasi server: admin harus memeriksa token."),
        3: (_D.ALERT, "Aplikasi Meta tidak punya izin mengirim pesan: admin harus memeriksa."),
        10: (_D.ALERT, "Izin aplikasi Meta dicabut: admin harus memeriksa."),
    }
)


def classify(code: int | None) -> tuple[Disposition, str]:
    """What to do after error ``code`` and the Indonesian reason shown to people."""
    if code is None:
        return _D.FAILED, "WhatsApp menolak pesan tanpa kode galat."
    if code in _KNOWN:
        return _KNOWN[code]
    if 200 <= code <= 299:  # Graph API permission errors
        return _D.ALERT, "Izin aplikasi Meta tidak cukup: admin harus memeriksa."
    return _D.FAILED, f"WhatsApp menolak pesan (kode {code})."
