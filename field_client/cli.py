"""``kk-counter``: the kecamatan counter's command line.

The full-screen counter app arrives with its own issue; until then ``kk-counter check``
gives operators and trainers the same completeness and validation answers the app will
show, for an application written as a JSON file (format: docs/domain.md).
"""

from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path

import click

from protocol import workflow
from protocol.application import Application, field_label
from protocol.errors import Issue, ValidationError
from protocol.phone import normalize_whatsapp
from protocol.validation import checklist_of, readiness

HELP = """Aplikasi loket kecamatan layanan Kartu Keluarga online.

\b
Tersedia: "kk-counter check BERKAS.json" memeriksa satu permohonan (F-1.02,
anggota keluarga, dokumen persyaratan) dan menampilkan kesalahan, peringatan,
dokumen yang masih kurang, dan langkah berikutnya.
Belum tersedia pada versi ini: aplikasi layar penuh untuk operator (datang
bersama fitur aplikasi loket) dan sinkronisasi ke server pusat.
"""


@click.group(help=HELP, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="kk-online", message="kk-counter %(version)s")
def main() -> None:
    """Entry point of ``kk-counter``."""


@main.command(
    "check",
    help="Periksa permohonan KK dari berkas JSON. Kode keluar 0 bila semua siap diajukan, "
    "1 bila ada yang belum siap, 2 bila berkas tidak dapat dibaca.",
)
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--tanggal",
    "today",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="Tanggal pemeriksaan (TTTT-BB-HH); bawaan: hari ini.",
)
def check(files: tuple[Path, ...], today: object) -> None:
    """Check each application file and print a report in Indonesian."""
    day = today.date() if today is not None else date.today()  # type: ignore[attr-defined]
    worst = 0
    for path in files:
        worst = max(worst, _check_one(path, day))
        click.echo()
    sys.exit(worst)


def _check_one(path: Path, today: date) -> int:
    click.secho(f"== {path} ==", bold=True)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        click.secho(f"Berkas tidak dapat dibuka: {exc.strerror or exc}", fg="red")
        return 2
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        click.secho(f"Berkas bukan JSON yang sah: {exc}", fg="red")
        return 2
    if not isinstance(data, dict):
        click.secho("Berkas harus berisi satu objek permohonan.", fg="red")
        return 2
    try:
        app = Application.from_dict(data)
    except ValidationError as exc:
        click.secho("Isian permohonan belum lengkap atau salah bentuk:", fg="red")
        _print_issues(exc.issues)
        return 2

    report, missing = readiness(app, today=today)
    head = app.head
    try:
        whatsapp = normalize_whatsapp(app.applicant.whatsapp)
    except ValidationError:
        whatsapp = app.applicant.whatsapp
    click.echo(f"Permohonan : {app.service.label}")
    click.echo(f"Pemohon    : {app.applicant.nama} (WA {whatsapp})")
    click.echo(f"Kepala KK  : {head.nama if head else '-'}; {len(app.members)} anggota")
    if report.errors:
        click.secho(f"Kesalahan ({len(report.errors)}):", fg="red")
        _print_issues(report.errors)
    if report.warnings:
        click.secho(
            f"Peringatan ({len(report.warnings)}), betulkan atau beri alasan pengecualian:",
            fg="yellow",
        )
        _print_issues(report.warnings)
    if report.overridden:
        click.echo(f"Peringatan yang dikecualikan dengan alasan: {len(report.overridden)}")

    click.echo("Persyaratan:")
    for req in checklist_of(app, today=today).requirements:
        mark = "x" if req.is_satisfied_by(app.attached_documents) else " "
        click.echo(f"  [{mark}] {req.label}: {req.alternatives_label}")

    ready = report.ok and not missing
    if ready:
        click.secho("SIAP DIAJUKAN ke verifikator.", fg="green", bold=True)
        hidden = {workflow.Action.MARK_INCOMPLETE}
    else:
        if missing:
            click.secho(
                f"Belum lengkap: {len(missing)} persyaratan belum dilampirkan.", fg="yellow"
            )
        hidden = {workflow.Action.SUBMIT}
        if not missing:
            hidden.add(workflow.Action.MARK_INCOMPLETE)
    actions = workflow.allowed_actions(workflow.State.DRAFT, workflow.Role.OPERATOR)
    click.echo("Langkah berikutnya: " + ", ".join(a.label for a in actions if a not in hidden))
    return 0 if ready else 1


def _print_issues(issues: tuple[Issue, ...] | list[Issue]) -> None:
    for found in issues:
        where = f"{field_label(found.field)}: " if found.field else ""
        click.echo(f"  - {where}{found.message} ({found.code})")
