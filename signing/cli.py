"""``kk-tte``: electronic signature (TTE) of the KK PDF."""

from __future__ import annotations

import logging
import secrets
import sys
import tempfile
from datetime import date
from pathlib import Path

import click

from protocol.errors import KKError
from signing.demo_pki import DEFAULT_CRL_BASE_URL, FILES, PKIError, create_demo_pki

EXIT_CODES = {
    "tte.valid": 0,
    "tte.modified": 3,
    "tte.untrusted": 4,
    "tte.expired": 5,
    "tte.revoked": 6,
    "tte.not_signed": 7,
    "tte.invalid": 8,
    "tte.unreadable": 9,
    "tte.revocation_unknown": 10,
    "tte.trust_unreadable": 11,
}
"""Exit status of ``kk-tte verify`` per verdict code (stable; 1 and 2 are click's own)."""

HELP = """Tanda tangan elektronik (TTE) Kartu Keluarga oleh Kepala Dinas.

PAdES B-LT dengan PKI demo (demo-pki), penandatanganan antrean sekaligus dengan satu
kali frasa sandi (sign-batch), pemeriksaan luring (verify) dan contoh KK bertanda tangan
(sample).

\b
Halaman verifikasi kode QR: /verifikasi/<kode> di server pusat (kk-server).
Kunci pada token PKCS#11: dipakai server pusat (KK_SERVER_TTE_PKCS11_LIBRARY).
Belum tersedia pada versi ini: sign-batch dari baris perintah dengan token PKCS#11.
"""

_DESCRIPTIONS = {
    "root_cert": "sertifikat Root CA (jangkar kepercayaan demo)",
    "root_key": "kunci privat Root CA (rahasia)",
    "root_crl": "CRL Root CA",
    "intermediate_cert": "sertifikat Intermediate CA",
    "intermediate_key": "kunci privat Intermediate CA (rahasia)",
    "intermediate_crl": "CRL Intermediate CA",
    "signer_cert": "sertifikat penandatangan Kepala Dinas",
    "signer_p12": "kunci + sertifikat Kepala Dinas, PKCS#12 berfrasa sandi (rahasia)",
    "tsa_cert": "sertifikat otoritas stempel waktu (TSA)",
    "tsa_key": "kunci privat TSA (rahasia)",
    "chain": "rantai sertifikat (intermediate + root)",
}


@click.group(help=HELP, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="kk-online", message="kk-tte %(version)s")
def main() -> None:
    """Entry point of ``kk-tte``."""


@main.command(
    "renew-crl",
    help="Perbarui CRL Root dan Intermediate CA PKI demo di DIR (berlaku 30 hari lagi); "
    "penandatanganan memerlukan CRL yang belum kedaluwarsa.",
)
@click.argument("directory", metavar="DIR", type=click.Path(file_okay=False, path_type=Path))
def renew_crl(directory: Path) -> None:
    """Renew the demo CRLs (see :func:`signing.demo_pki.renew_demo_crls`)."""
    from signing.demo_pki import renew_demo_crls

    try:
        number = renew_demo_crls(directory)
    except (OSError, ValueError, TypeError) as exc:
        click.secho(f"Galat: CRL tidak dapat diperbarui: {exc}", fg="red", err=True)
        sys.exit(1)
    click.echo(f"CRL PKI demo di {directory} diperbarui (nomor {number}, berlaku 30 hari).")


@main.command(
    "demo-pki",
    help="Buat PKI demo di direktori DIR (baru atau kosong): Root CA, Intermediate CA, "
    "sertifikat TTE Kepala Dinas (PKCS#12 berfrasa sandi), sertifikat stempel waktu dan "
    "CRL. Hanya untuk uji coba; di produksi dipakai rantai sertifikat BSrE.",
)
@click.argument("directory", metavar="DIR", type=click.Path(path_type=Path))
@click.option(
    "--passphrase-stdin",
    is_flag=True,
    help="Baca frasa sandi PKCS#12 dari baris pertama masukan standar (tanpa prompt).",
)
@click.option(
    "--nama",
    default="Kepala Dinas Dukcapil Kabupaten Musi Banyuasin (DEMO)",
    show_default=True,
    help="Nama (CN) pada sertifikat penandatangan.",
)
@click.option(
    "--crl-url",
    default=DEFAULT_CRL_BASE_URL,
    show_default=True,
    help="Alamat dasar titik distribusi CRL yang dicantumkan di sertifikat (tidak diunduh).",
)
def demo_pki(directory: Path, passphrase_stdin: bool, nama: str, crl_url: str) -> None:
    """Create the demo PKI (see :func:`signing.demo_pki.create_demo_pki`)."""
    if passphrase_stdin:
        passphrase = sys.stdin.readline().rstrip("\r\n")
    else:
        passphrase = click.prompt(
            "Frasa sandi PKCS#12 Kepala Dinas",
            hide_input=True,
            confirmation_prompt="Ulangi frasa sandi",
        )
    try:
        pki = create_demo_pki(directory, passphrase, signer_name=nama, crl_base_url=crl_url)
    except PKIError as exc:
        click.secho(f"Galat: {exc.message} ({exc.code})", fg="red", err=True)
        sys.exit(1)
    click.echo(f"PKI demo dibuat di {pki.directory}:")
    for role, name in FILES.items():
        click.echo(f"  {name:<24} {_DESCRIPTIONS[role]}")
    click.echo(
        "Peringatan: hanya untuk uji coba, bukan sertifikat BSrE. Jangan simpan kunci privat "
        "di repositori."
    )


@main.command(
    "verify",
    help="Periksa tanda tangan elektronik FILE.pdf secara luring terhadap jangkar "
    "kepercayaan (--trust, sertifikat root PEM). Kode keluar: 0 sah, 3 diubah setelah "
    "ditandatangani, 4 penandatangan tidak dipercaya, 5 sertifikat kedaluwarsa, 6 sertifikat "
    "dicabut, 7 tidak bertanda tangan, 8 tidak sah (lainnya), 9 berkas tidak terbaca, "
    "10 status pencabutan tidak dapat diperiksa, 11 sertifikat root atau CRL tidak terbaca.",
)
@click.argument(
    "file", metavar="FILE.pdf", type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option(
    "--trust",
    "trust",
    multiple=True,
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Sertifikat root (PEM) yang dipercaya; boleh diulang.",
)
@click.option(
    "--crl",
    "crls",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="CRL yang lebih baru dari yang tertanam di PDF; boleh diulang.",
)
def verify(file: Path, trust: tuple[Path, ...], crls: tuple[Path, ...]) -> None:
    """Verify a signed KK offline; exit with :data:`EXIT_CODES` of the verdict."""
    from signing.tte import verify_kk

    logging.getLogger("pyhanko").setLevel(logging.ERROR)
    logging.getLogger("pyhanko_certvalidator").setLevel(logging.ERROR)
    verdict = verify_kk(file.read_bytes(), list(trust), crls=list(crls))
    if verdict.valid:
        click.secho(f"SAH: {verdict.message} ({verdict.code})", fg="green")
    else:
        click.secho(f"TIDAK SAH: {verdict.message} ({verdict.code})", fg="red", err=True)
    sys.exit(EXIT_CODES[verdict.code])


@main.command(
    "sample",
    help="Buat contoh KK dari data demo, tandatangani (PAdES B-LT) dan simpan ke OUT.pdf. "
    "Tanpa --pki dibuat PKI demo sementara; dengan --pki DIR dipakai PKI di DIR (dibuat "
    "bila DIR belum ada atau kosong).",
)
@click.argument("out", metavar="OUT.pdf", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--pki", "pki_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--passphrase-stdin",
    is_flag=True,
    help="Baca frasa sandi PKCS#12 dari baris pertama masukan standar (tanpa prompt).",
)
def sample(out: Path, pki_dir: Path | None, passphrase_stdin: bool) -> None:
    """Render and sign the demo family's KK."""
    from protocol.application import Application
    from signing.kk_pdf import Official, render_kk
    from signing.samples import SAMPLE_APPLICATION
    from signing.tte import load_demo_signer, sign_kk

    logging.getLogger("pyhanko").setLevel(logging.ERROR)
    with tempfile.TemporaryDirectory(prefix="kk-pki-") as scratch:
        if pki_dir is None:
            pki_dir = Path(scratch) / "pki"
            passphrase = secrets.token_urlsafe(16)
        elif passphrase_stdin:
            passphrase = sys.stdin.readline().rstrip("\r\n")
        else:
            passphrase = click.prompt("Frasa sandi PKCS#12 Kepala Dinas", hide_input=True)
        try:
            if not (pki_dir / FILES["signer_p12"]).exists():
                create_demo_pki(pki_dir, passphrase)
            signer = load_demo_signer(pki_dir, passphrase)
            pdf = render_kk(
                Application.from_dict(SAMPLE_APPLICATION),
                kk_number="1606012511250001",
                issued_on=date.today(),
                official=Official("Drs. H. Contoh Pejabat, M.Si. (DEMO)", "197001011990031001"),
                verification_url="https://kk.mubakab.go.id/verifikasi/CONTOH",
            )
            signed = sign_kk(pdf, signer)
        except KKError as exc:
            click.secho(f"Galat: {exc.message} ({exc.code})", fg="red", err=True)
            sys.exit(1)
    out.write_bytes(signed)
    click.echo(f"Contoh KK bertanda tangan disimpan di {out} ({len(signed)} bita).")


@main.command(
    "sign-batch",
    help="Tandatangani (PAdES B-LT) sekaligus semua KK IN.pdf dengan kunci Kepala Dinas dari "
    "PKI di --pki DIR; frasa sandi diminta satu kali untuk seluruh antrean. Hasil disimpan "
    "sebagai OUT_DIR/<nama>.pdf. Berkas yang gagal dilaporkan dan sisanya tetap "
    "ditandatangani; kode keluar 1 bila ada yang gagal.",
)
@click.option(
    "--pki",
    "pki_dir",
    required=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Direktori PKI (dibuat dengan demo-pki).",
)
@click.option(
    "--passphrase-stdin",
    is_flag=True,
    help="Baca frasa sandi PKCS#12 dari baris pertama masukan standar (tanpa prompt).",
)
@click.argument("out_dir", metavar="OUT_DIR", type=click.Path(file_okay=False, path_type=Path))
@click.argument(
    "inputs",
    metavar="IN.pdf...",
    nargs=-1,
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
)
def sign_batch_command(
    pki_dir: Path, passphrase_stdin: bool, out_dir: Path, inputs: tuple[Path, ...]
) -> None:
    """Sign a queue of KK PDFs with one passphrase entry."""
    from signing.tte import TTEError, load_demo_signer, sign_batch_each

    logging.getLogger("pyhanko").setLevel(logging.ERROR)
    names = [p.stem for p in inputs]
    if len(set(names)) != len(names):
        click.secho(
            "Galat: beberapa berkas masukan bernama sama; hasilnya akan saling menimpa.",
            fg="red",
            err=True,
        )
        sys.exit(2)
    if passphrase_stdin:
        passphrase = sys.stdin.readline().rstrip("\r\n")
    else:
        passphrase = click.prompt("Frasa sandi PKCS#12 Kepala Dinas", hide_input=True)
    try:
        signer = load_demo_signer(pki_dir, passphrase)
    except KKError as exc:
        click.secho(f"Galat: {exc.message} ({exc.code})", fg="red", err=True)
        sys.exit(1)
    failures: dict[Path, str] = {}
    readable: list[Path] = []
    pdfs: list[bytes] = []
    for path in inputs:
        try:
            pdfs.append(path.read_bytes())
            readable.append(path)
        except OSError as exc:
            failures[path] = f"berkas tidak dapat dibaca: {exc.strerror or exc}"
    out_dir.mkdir(parents=True, exist_ok=True)
    signed = 0
    for path, result in zip(readable, sign_batch_each(pdfs, signer), strict=True):
        if isinstance(result, TTEError):
            failures[path] = f"{result.message} ({result.code})"
            continue
        target = out_dir / f"{path.stem}.pdf"
        try:
            target.write_bytes(result)
        except OSError as exc:
            failures[path] = f"hasil tidak dapat disimpan di {target}: {exc.strerror or exc}"
            continue
        signed += 1
        click.echo(f"  DITANDATANGANI {path} -> {target}")
    for path, reason in failures.items():
        click.secho(f"  GAGAL {path}: {reason}", fg="red", err=True)
    click.echo(f"{signed} dari {len(inputs)} KK ditandatangani; {len(failures)} gagal.")
    sys.exit(1 if failures else 0)
