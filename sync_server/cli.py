"""``kk-server``: the central server's command line."""

from __future__ import annotations

import click

HELP = """Server pusat layanan Kartu Keluarga online Disdukcapil Kabupaten Musi Banyuasin.

\b
Belum tersedia pada versi ini: server sinkronisasi (menerima log perubahan
bertanda tangan dari loket kecamatan), pendaftaran perangkat dan akun operator
datang bersama fitur sinkronisasi; langkah verifikator, Kabid dan Kepala Dinas
datang bersama fitur alur kerja pusat.
"""


@click.group(help=HELP, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="kk-online", message="kk-server %(version)s")
def main() -> None:
    """Entry point of ``kk-server``."""
