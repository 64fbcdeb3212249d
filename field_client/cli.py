"""``kk-counter``: the kecamatan counter's command line.

::

    kk-counter check BERKAS.json [--tanggal TTTT-BB-HH]
    kk-counter enroll --server URL --code KODE [--data-dir var/counter] [--label "Loket 1"]
    kk-counter sync [--once] [--data-dir var/counter] [-v]
    kk-counter app [--server URL] [--data-dir var/counter] [-v]

``app`` starts the full-screen counter app (:mod:`field_client.app`): enrollment on first
start, operator login, the dashboard. ``kk-counter check`` gives operators and trainers the
same completeness and validation answers the app shows, for an application written as a
JSON file (format: docs/domain.md). ``enroll``
registers this terminal with the central server (the one step that needs the network);
``sync`` runs the sync engine (:mod:`field_client.sync`), once or until Ctrl-C.
``--data-dir`` defaults to ``KK_COUNTER_DATA_DIR`` or ``var/counter``. A failure prints one
Indonesian line starting with "Galat:" on stderr and exits 1; never a traceback.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import click

from field_client.config import CounterConfig
from protocol import workflow
from protocol.application import Application, field_label
from protocol.errors import Issue, KKError, ValidationError
from protocol.phone import normalize_whatsapp
from protocol.validation import checklist_of, readiness

if TYPE_CHECKING:  # the store and actions load sqlite-utils: keep --help fast
    from field_client.actions import Counter
    from field_client.store import Store

HELP = """Aplikasi loket kecamatan layanan Kartu Keluarga online.

\b
Tersedia: "kk-counter check BERKAS.json" memeriksa satu permohonan (F-1.02,
anggota keluarga, dokumen persyaratan) dan menampilkan kesalahan, peringatan,
dokumen yang masih kurang, dan langkah berikutnya.
"kk-counter enroll --server URL --code KODE" mendaftarkan perangkat loket ke
server pusat (satu kali, memerlukan jaringan); "kk-counter sync" mengirim
catatan loket ke server pusat dan mengambil kiriman server.

\b
Belum tersedia pada versi ini: aplikasi layar penuh untuk operator (datang
bersama fitur aplikasi loket).
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


# -- enrollment and sync ----------------------------------------------------------------

_DATA_DIR = click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder data loket (bawaan: KK_COUNTER_DATA_DIR atau var/counter).",
)


def _config(data_dir: Path | None) -> CounterConfig:
    return CounterConfig(data_dir=data_dir) if data_dir is not None else CounterConfig()


def _fail(exc: KKError) -> None:
    click.secho(f"Galat: {exc.message} ({exc.code})", fg="red", err=True)
    sys.exit(1)


def _quiet_logs(verbose: bool) -> None:
    # The engine logs in English for developers; operators read the Indonesian status.
    logging.basicConfig(
        level=logging.INFO if verbose else logging.CRITICAL,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


@main.command(
    "enroll",
    help="Daftarkan perangkat loket ini ke server pusat dengan kode sekali pakai dari "
    "admin Dinas. Hanya langkah ini yang memerlukan jaringan; setelah itu loket dapat "
    "bekerja tanpa jaringan.",
)
@click.option("--server", "server_url", required=True, help="Alamat server pusat (https://...).")
@click.option("--code", required=True, help="Kode pendaftaran XXXX-XXXX-XXXX dari admin Dinas.")
@click.option("--label", default="", help='Nama perangkat, misalnya "Loket 1 Sekayu".')
@_DATA_DIR
@click.option("-v", "--verbose", is_flag=True, help="Tampilkan catatan teknis (log).")
def enroll(server_url: str, code: str, label: str, data_dir: Path | None, verbose: bool) -> None:
    """Enroll this counter (field_client.sync.enroll)."""
    from field_client.sync.enroll import enroll_device

    _quiet_logs(verbose)
    config = _config(data_dir)
    try:
        done = asyncio.run(enroll_device(config, server_url=server_url, code=code, label=label))
    except KKError as exc:
        _fail(exc)
        return
    device = done.device
    click.secho("Perangkat loket berhasil didaftarkan.", fg="green", bold=True)
    click.echo(f"ID perangkat          : {device.device_id}")
    click.echo(f"Kecamatan             : {device.kecamatan}")
    click.echo(f"Server pusat          : {device.server_url}")
    click.echo(f"Sidik kunci perangkat : {done.device_fingerprint}")
    click.echo(f"Sidik kunci server    : {done.server_fingerprint}")
    click.echo("Cocokkan kedua sidik kunci dengan yang terlihat oleh admin Dinas.")
    if abs(done.clock_offset_s) > 60:
        click.secho(
            f"Peringatan: jam perangkat berbeda {abs(done.clock_offset_s) / 60:.0f} menit dari "
            "jam server pusat. Sinkronisasi tetap berjalan, tetapi sebaiknya jam dibetulkan.",
            fg="yellow",
        )


@main.command(
    "sync",
    help="Kirim catatan loket ke server pusat dan ambil kiriman server. Tanpa --once "
    "berjalan terus (hentikan dengan Ctrl-C); kode keluar --once: 0 bila semua terkirim, "
    "1 bila belum.",
)
@click.option("--once", is_flag=True, help="Satu putaran saja, lalu selesai.")
@_DATA_DIR
@click.option("-v", "--verbose", is_flag=True, help="Tampilkan catatan teknis (log).")
def sync(once: bool, data_dir: Path | None, verbose: bool) -> None:
    """Run the sync engine once or until interrupted."""
    _quiet_logs(verbose)
    config = _config(data_dir)
    try:
        ok = asyncio.run(_sync(config, once=once))
    except KeyboardInterrupt:
        click.echo("Sinkronisasi dihentikan.")
        return
    sys.exit(0 if ok else 1)


async def _sync(config: CounterConfig, *, once: bool) -> bool:
    from field_client.sync.engine import SyncEngine, SyncStatus

    shown: list[tuple[str, str | None]] = []

    def show(status: SyncStatus) -> None:
        line = (status.describe(), status.last_error)
        if status.syncing or (shown and shown[-1] == line):
            return  # one line per outcome, not per status field that moved
        shown.append(line)
        click.echo(status.describe())
        if status.last_error:
            click.secho(f"  {status.last_error} ({status.last_error_code})", fg="yellow")

    async with SyncEngine(config) as engine:
        if once:
            status = await engine.run_once()
            show(status)
            return status.last_error is None and status.pending_events == 0
        engine.subscribe(show)
        await engine.run_forever()
        return not engine.status.device_revoked


# -- applications and status -------------------------------------------------------------


@main.group("application", help="Permohonan KK di loket ini.")
def application() -> None:
    """Applications kept by this counter."""


@application.command(
    "import",
    help="Catat permohonan dari berkas JSON (format: docs/domain.md) sebagai operator yang "
    "masuk dengan kata sandinya (tanpa jaringan). Dengan --submit, permohonan yang lengkap "
    "langsung diajukan ke verifikator.",
)
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--operator", "username", required=True, help="Nama pengguna operator.")
@click.option("--password-stdin", is_flag=True, help="Baca kata sandi dari masukan standar.")
@click.option("--submit", is_flag=True, help="Ajukan permohonan yang sudah lengkap.")
@_DATA_DIR
def import_applications(
    files: tuple[Path, ...],
    username: str,
    password_stdin: bool,
    submit: bool,
    data_dir: Path | None,
) -> None:
    """Create (and optionally submit) applications from JSON files, as one operator."""
    from field_client.actions import Counter
    from field_client.store import Store
    from signing.keys import load_private_key

    config = _config(data_dir)
    password = (
        sys.stdin.readline().rstrip("\n")
        if password_stdin
        else click.prompt("Kata sandi", hide_input=True)
    )
    try:
        key = load_private_key(config.key_path)
        with Store.open(config.db_path) as store:
            operator = store.authenticate(username, password)
            if operator is None:
                click.secho("Galat: nama pengguna atau kata sandi salah.", fg="red", err=True)
                sys.exit(1)
            counter = Counter(store, key)
            failed = sum(
                not _import_one(counter, store, path, operator.id, submit) for path in files
            )
    except KKError as exc:
        _fail(exc)
        return
    sys.exit(1 if failed else 0)


def _import_one(counter: Counter, store: Store, path: Path, operator_id: str, submit: bool) -> bool:
    try:
        app = Application.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        click.secho(f"{path}: berkas tidak dapat dibaca ({exc})", fg="red")
        return False
    except ValidationError as exc:
        click.secho(f"{path}: {exc.message} ({exc.code})", fg="red")
        return False
    try:
        if store.get_application(app.id) is None:
            counter.create_application(app, operator_id=operator_id)
            click.echo(f"{path}: dicatat sebagai draf ({app.service.label}).")
        else:
            click.echo(f"{path}: sudah ada di loket ini; tidak dicatat dua kali.")
        if submit and store.get_application(app.id).state is workflow.State.DRAFT:
            counter.submit(app.id, operator_id=operator_id)
            click.echo(f"{path}: diajukan ke verifikator.")
    except ValidationError as exc:
        click.secho(f"{path}: belum dapat diajukan ({len(exc.issues)} masalah):", fg="yellow")
        _print_issues(exc.issues)
    except KKError as exc:
        click.secho(f"{path}: {exc.message} ({exc.code})", fg="red")
        return False
    return True


@main.command("status", help="Ringkasan loket: permohonan per status dan antrean kirim.")
@_DATA_DIR
def status(data_dir: Path | None) -> None:
    """Counts per state and the outbox, from the local store only (works offline)."""
    from field_client.store import Store

    config = _config(data_dir)
    try:
        with Store.open(config.db_path) as store:
            device = store.device()
            counts = store.count_by_state()
            outbox = store.outbox_counts()
    except KKError as exc:
        _fail(exc)
        return
    if device is None:
        click.echo("Perangkat belum didaftarkan (kk-counter enroll).")
    else:
        click.echo(f"Perangkat {device.device_id}, kecamatan {device.kecamatan}")
    click.echo("Permohonan per status:")
    for state, n in counts.items():
        if n:
            click.echo(f"  {state.label:<26} {n}")
    click.echo("Catatan perubahan: " + ", ".join(f"{s.value} {n}" for s, n in outbox.items()))


DEMO_SERVER_URL = "http://127.0.0.1:8765"
"""Where ``make run`` serves the demo central server (scripts/run_system.py)."""


@main.command(
    "app",
    help="Buka aplikasi loket layar penuh: pendaftaran perangkat (sekali, memerlukan "
    "jaringan), masuk operator tanpa jaringan, dasbor, permohonan baru, pengembalian, "
    "penerbitan dan riwayat, dengan status sinkronisasi. Tombol: F1.",
)
@click.option(
    "--server",
    "server_url",
    default=None,
    help="Alamat server pusat yang diisikan di layar pendaftaran (bawaan: KK_COUNTER_SERVER_URL).",
)
@click.option(
    "--demo",
    is_flag=True,
    help=f"Pakai loket demo dari `make run` (var/counter, server {DEMO_SERVER_URL}); "
    "akun operator demo: operator.sekayu / sekayu-demo-2026.",
)
@_DATA_DIR
@click.option("-v", "--verbose", is_flag=True, help="Catatan teknis lebih rinci di counter.log.")
def app(server_url: str | None, demo: bool, data_dir: Path | None, verbose: bool) -> None:
    """Run the Textual counter app (field_client.app)."""
    from field_client.app import make_counter_app

    config = app_config(server_url=server_url, data_dir=data_dir, demo=demo)
    _log_to_file(config, verbose)
    app = make_counter_app(config)
    app.run()
    if app.return_code:
        sys.exit(app.return_code)


def app_config(*, server_url: str | None, data_dir: Path | None, demo: bool) -> CounterConfig:
    """The app's settings: environment, then ``--demo`` (make run's counter and server),
    then the explicit options, which win."""
    config = _config(data_dir if data_dir is not None else (Path("var/counter") if demo else None))
    if demo and not server_url:
        server_url = DEMO_SERVER_URL
    if server_url:
        config = config.model_copy(update={"server_url": server_url})
    return config


def _log_to_file(config: CounterConfig, verbose: bool) -> None:
    # Anything written to stderr would tear the full-screen display: log to a file in the
    # data directory instead (created 0700, as enrollment would).
    config.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    logging.basicConfig(
        filename=config.data_dir / "counter.log",
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
