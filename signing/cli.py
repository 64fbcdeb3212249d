"""``kk-tte``: electronic signature (TTE) of the KK PDF."""

from __future__ import annotations

import click

HELP = """Tanda tangan elektronik (TTE) Kartu Keluarga oleh Kepala Dinas.

\b
Belum tersedia pada versi ini: pembuatan PKI demo (demo-pki), penandatanganan
PAdES dan verifikasi PDF Kartu Keluarga datang bersama fitur dokumen KK dan TTE.
"""


@click.group(help=HELP, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="kk-online", message="kk-tte %(version)s")
def main() -> None:
    """Entry point of ``kk-tte``."""
