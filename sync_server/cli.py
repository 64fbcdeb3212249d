"""``kk-server``: the central server's command line (Indonesian help and output).

::

    kk-server [--data-dir DIR] init
    kk-server [--data-dir DIR] serve [--host 127.0.0.1] [--port 8000]
    kk-server [--data-dir DIR] device enroll-code --kecamatan 160601 [--ttl-hours 24] [--label L]
    kk-server [--data-dir DIR] device list
    kk-server [--data-dir DIR] device revoke DEVICE_ID
    kk-server [--data-dir DIR] user add --role operator --kecamatan 160601 --username budi \\
                                        --name "Budi Santoso" [--password-stdin]
    kk-server [--data-dir DIR] user list
    kk-server [--data-dir DIR] user disable USERNAME
    kk-server [--data-dir DIR] user set-password USERNAME [--password-stdin]
    kk-server [--data-dir DIR] application transfer APPLICATION_ID --to DEVICE_ID
    kk-server [--data-dir DIR] refusals [--limit 50]
    kk-server [--data-dir DIR] audit verify
    kk-server [--data-dir DIR] whatsapp outbox|resend|alerts|inbox|attach  (cli_whatsapp)

``--data-dir`` defaults to ``KK_SERVER_DATA_DIR`` or ``var/server``. A refused command prints
one Indonesian line starting with "Galat:" on stderr and exits 1; never a traceback.
``audit verify`` exits 2 when the access log's chain is broken.
"""

from __future__ import annotations

import logging
import sqlite3
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import click

from protocol.errors import KKError
from protocol.events import parse_timestamp
from protocol.workflow import Role
from signing.keys import fingerprint, load_public_key_b64
from sync_server.clock import WIB, utc_now
from sync_server.config import ServerConfig
from sync_server.context import database, init_data_dir, migrate, open_context
from sync_server.errors import Refusal
from sync_server.services import access_log, accounts, enrollment, transfers
from sync_server.services.wilayah import kecamatan_name
from sync_server.storage import audit
from sync_server.storage.db import Database

HELP = """Server pusat layanan Kartu Keluarga online Disdukcapil Kabupaten Musi Banyuasin.

\b
Menerima log perubahan bertanda tangan dari loket kecamatan (sinkronisasi),
mendaftarkan perangkat loket dan mengelola akun operator dan staf.
Mulai: "kk-server init", lalu "kk-server serve".

\b
Loket menarik kiriman server bertanda tangan (akun operator, keputusan pusat,
pengalihan permohonan, KK bertanda tangan) dan mengirim berkas pindaian
terenkripsi yang dapat dilanjutkan setelah jaringan putus. Belum tersedia pada
versi ini: layar verifikator, Kabid dan Kepala Dinas datang bersama fitur alur
kerja pusat.
"""

_ROLE_CHOICES = ", ".join(r.value for r in Role)


class _Group(click.Group):
    """Turns refusals and storage failures into one Indonesian line and exit code 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except KKError as exc:
            _fail(exc.message)
        except sqlite3.Error as exc:
            _fail(f"Basis data server tidak dapat dipakai: {exc}.")
        except OSError as exc:
            _fail(f"Berkas server tidak dapat dipakai: {exc.strerror or exc} ({exc.filename}).")


def _fail(message: str) -> None:
    click.secho(f"Galat: {message}", fg="red", err=True)
    sys.exit(1)


@click.group(cls=_Group, help=HELP, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="kk-online", message="kk-server %(version)s")
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="KK_SERVER_DATA_DIR",
    default=Path("var/server"),
    show_default=True,
    help="Direktori data server (server.db dan server_key.pem).",
)
@click.pass_context
def main(ctx: click.Context, data_dir: Path) -> None:
    """Entry point of ``kk-server``."""
    ctx.obj = ServerConfig(data_dir=data_dir)


def _config(ctx: click.Context) -> ServerConfig:
    return ctx.find_root().obj


def _db(ctx: click.Context) -> Database:
    config = _config(ctx)
    if not config.db_path.exists():
        raise Refusal("server.not_initialized", path=config.data_dir)
    db = database(config)
    migrate(db)
    return db


def _local(text: str | None) -> str:
    """A stored UTC time as the office reads it."""
    moment = parse_timestamp(text) if text else None
    return moment.astimezone(WIB).strftime("%Y-%m-%d %H:%M WIB") if moment else "-"


def _table(headers: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    click.echo("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip())
    for row in rows:
        click.echo("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


# -- init and serve -----------------------------------------------------------------------


@main.command("init", help="Siapkan direktori data: basis data dan kunci server. Aman diulang.")
@click.pass_context
def init(ctx: click.Context) -> None:
    config = _config(ctx)
    report = init_data_dir(config)
    click.echo(f"Direktori data : {config.data_dir.resolve()}")
    click.echo(f"Basis data     : {config.db_path.name} (skema versi {report.schema_version})")
    state = "dibuat" if report.key_created else "sudah ada, tidak diubah"
    click.echo(f"Kunci server   : {config.key_path.name} ({state})")
    click.echo(f"Sidik jari     : {fingerprint(load_public_key_b64(report.server_public_key))}")
    click.secho("Server siap dijalankan: kk-server serve", fg="green")


@main.command("serve", help="Jalankan server sinkronisasi (HTTP).")
@click.option("--host", default=None, help="Alamat yang didengarkan. [bawaan: 127.0.0.1]")
@click.option("--port", type=int, default=None, help="Port TCP. [bawaan: 8000]")
@click.pass_context
def serve(ctx: click.Context, host: str | None, port: int | None) -> None:
    import uvicorn

    from sync_server.app import create_app

    base = _config(ctx)
    config = base.model_copy(
        update={"host": host or base.host, "port": port if port is not None else base.port}
    )
    open_context(config)  # fail here, in Indonesian, rather than inside uvicorn's start-up
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    click.echo(f"Server pusat mendengarkan di http://{config.host}:{config.port}")
    uvicorn.run(
        create_app(config),
        host=config.host,
        port=config.port,
        proxy_headers=bool(config.trusted_proxies),
        forwarded_allow_ips=",".join(config.trusted_proxies) or None,
        log_level="info",
    )


# -- devices ------------------------------------------------------------------------------


@main.group("device", cls=_Group, help="Perangkat loket kecamatan.")
def device() -> None:
    """Devices."""


@device.command("enroll-code", help="Buat kode pendaftaran sekali pakai untuk satu perangkat.")
@click.option("--kecamatan", required=True, help="Kode kecamatan Musi Banyuasin, mis. 160601.")
@click.option(
    "--ttl-hours",
    type=click.IntRange(1, 24 * 30),
    default=24,
    show_default=True,
    help="Masa berlaku kode dalam jam.",
)
@click.option("--label", default="", help="Nama perangkat, mis. 'Loket 1 Sekayu'.")
@click.pass_context
def enroll_code(ctx: click.Context, kecamatan: str, ttl_hours: int, label: str) -> None:
    issued = enrollment.issue_code(
        _db(ctx), kecamatan=kecamatan, ttl=timedelta(hours=ttl_hours), label=label, now=utc_now()
    )
    click.echo(f"Kode pendaftaran : {issued.code}")
    click.echo(f"Kecamatan        : {issued.kecamatan} {kecamatan_name(issued.kecamatan)}")
    if issued.label:
        click.echo(f"Label            : {issued.label}")
    click.echo(f"Berlaku sampai   : {issued.expires_at.astimezone(WIB):%Y-%m-%d %H:%M} WIB")
    click.echo("Kode hanya ditampilkan sekali dan hanya untuk satu perangkat.")


@device.command("list", help="Daftar perangkat terdaftar.")
@click.pass_context
def device_list(ctx: click.Context) -> None:
    found = enrollment.list_devices(_db(ctx))
    if not found:
        click.echo("Belum ada perangkat terdaftar.")
        return
    _table(
        ["ID PERANGKAT", "KECAMATAN", "LABEL", "TERDAFTAR", "STATUS", "SIDIK JARI"],
        [
            [
                d.device_id,
                f"{d.kecamatan} {kecamatan_name(d.kecamatan)}",
                d.label or "-",
                _local(d.enrolled_at),
                f"dicabut {_local(d.revoked_at)}" if d.is_revoked else "aktif",
                fingerprint(d.verifying_key()),
            ]
            for d in found
        ],
    )


@device.command("revoke", help="Cabut perangkat: semua permintaannya ditolak sejak itu.")
@click.argument("device_id")
@click.pass_context
def device_revoke(ctx: click.Context, device_id: str) -> None:
    found, changed = enrollment.revoke_device(_db(ctx), device_id, now=utc_now())
    if changed:
        click.echo(f"Perangkat {found.device_id} dicabut.")
    else:
        click.echo(f"Perangkat {found.device_id} sudah dicabut sejak {_local(found.revoked_at)}.")


# -- users --------------------------------------------------------------------------------


@main.group("user", cls=_Group, help="Akun operator dan staf.")
def user() -> None:
    """Users."""


def _new_password(from_stdin: bool, prompt: str) -> str:
    """One line of standard input, or the password asked twice without echo."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    password = click.prompt(prompt, hide_input=True, default="", show_default=False)
    accounts.check_password(password)
    again = click.prompt("Ulangi kata sandi", hide_input=True, default="", show_default=False)
    if again != password:
        raise Refusal("user.password_mismatch")
    return password


@user.command("add", help="Tambah akun. Kata sandi ditanyakan tanpa ditampilkan.")
@click.option("--role", required=True, help=f"Peran: {_ROLE_CHOICES}.")
@click.option("--kecamatan", default=None, help="Kode kecamatan; wajib untuk operator saja.")
@click.option("--username", required=True, help="Nama pengguna untuk masuk, mis. budi.")
@click.option("--name", "full_name", required=True, help="Nama lengkap.")
@click.option(
    "--password-stdin", is_flag=True, help="Baca kata sandi dari masukan standar (satu baris)."
)
@click.pass_context
def user_add(
    ctx: click.Context,
    role: str,
    kecamatan: str | None,
    username: str,
    full_name: str,
    password_stdin: bool,
) -> None:
    db = _db(ctx)
    accounts.check_new_user(
        db, username=username, full_name=full_name, role=role, kecamatan=kecamatan
    )
    password = _new_password(password_stdin, "Kata sandi")
    created = accounts.add_user(
        db,
        username=username,
        full_name=full_name,
        role=role,
        kecamatan=kecamatan,
        password=password,
        now=utc_now(),
    )
    where = (
        f", kecamatan {created.kecamatan} {kecamatan_name(created.kecamatan)}"
        if created.kecamatan
        else ""
    )
    click.echo(
        f"Akun {created.username} ({created.role.label}{where}) dibuat dengan ID {created.user_id}."
    )


@user.command("list", help="Daftar akun.")
@click.pass_context
def user_list(ctx: click.Context) -> None:
    found = accounts.list_users(_db(ctx))
    if not found:
        click.echo("Belum ada akun.")
        return
    _table(
        ["ID", "NAMA PENGGUNA", "NAMA LENGKAP", "PERAN", "KECAMATAN", "STATUS"],
        [
            [
                u.user_id,
                u.username,
                u.full_name,
                u.role.value,
                f"{u.kecamatan} {kecamatan_name(u.kecamatan)}" if u.kecamatan else "-",
                "aktif" if u.is_active else f"nonaktif {_local(u.disabled_at)}",
            ]
            for u in found
        ],
    )


@user.command("disable", help="Nonaktifkan akun; tindakannya sejak itu ditolak server.")
@click.argument("username")
@click.pass_context
def user_disable(ctx: click.Context, username: str) -> None:
    found, changed = accounts.disable_user(_db(ctx), username, now=utc_now())
    if changed:
        click.echo(f"Akun {found.username} dinonaktifkan.")
    else:
        click.echo(f"Akun {found.username} sudah nonaktif sejak {_local(found.disabled_at)}.")


@user.command(
    "set-password",
    help="Atur ulang kata sandi akun; sesi stafnya berakhir, loket menerima sandi baru saat "
    "sinkronisasi berikutnya. Kata sandi ditanyakan tanpa ditampilkan.",
)
@click.argument("username")
@click.option(
    "--password-stdin", is_flag=True, help="Baca kata sandi dari masukan standar (satu baris)."
)
@click.pass_context
def user_set_password(ctx: click.Context, username: str, password_stdin: bool) -> None:
    db = _db(ctx)
    accounts.check_resettable(db, username)  # before asking for anything
    password = _new_password(password_stdin, "Kata sandi baru")
    done = accounts.set_password(
        db,
        username,
        password,
        actor=None,
        client_ip=accounts.CLI_ACTOR,
        now=utc_now(),
    )
    click.echo(f"Kata sandi akun {done.user.username} diatur ulang.")
    if done.sessions_ended:
        click.echo(
            f"{done.sessions_ended} sesi staf akun ini diakhiri; masuk lagi dengan sandi baru."
        )
    if done.user.role is Role.OPERATOR:
        click.echo(
            f"{done.counters_told} perangkat loket kecamatan {done.user.kecamatan} menerima sandi "
            "baru pada sinkronisasi berikutnya; sampai itu loket masih menerima sandi lama."
        )


# -- applications -------------------------------------------------------------------------


@main.group("application", cls=_Group, help="Permohonan KK.")
def application() -> None:
    """Applications."""


@application.command(
    "transfer",
    help="Alihkan permohonan yang sedang dipegang loket ke perangkat lain di kecamatan yang "
    "sama. Perangkat lama tidak dapat lagi mengubahnya.",
)
@click.argument("application_id")
@click.option("--to", "to_device_id", required=True, help="ID perangkat tujuan.")
@click.pass_context
def application_transfer(ctx: click.Context, application_id: str, to_device_id: str) -> None:
    moved = transfers.transfer_application(
        _db(ctx), application_id, to_device_id=to_device_id, now=utc_now()
    )
    click.echo(
        f"Permohonan {moved.application_id} ({moved.state.label}) dialihkan dari perangkat "
        f"{moved.from_device_id} ke {moved.to_device_id}."
    )
    click.echo("Kedua perangkat menerima pemberitahuan pada sinkronisasi berikutnya.")


# -- refusals -----------------------------------------------------------------------------


@main.command("refusals", help="Permintaan yang ditolak server, terbaru lebih dulu.")
@click.option("--limit", type=click.IntRange(1, 10_000), default=50, show_default=True)
@click.pass_context
def refusals(ctx: click.Context, limit: int) -> None:
    with _db(ctx).read() as conn:
        found = audit.list_refusals(conn, limit=limit)
        forks = audit.list_forks(conn, limit=limit)
    if not found and not forks:
        click.echo("Belum ada permintaan yang ditolak.")
        return
    if found:
        _table(
            ["WAKTU", "KODE", "HTTP", "PERANGKAT", "NOMOR", "ALAMAT IP", "JALUR"],
            [
                [
                    _local(r.at),
                    r.code,
                    str(r.status),
                    r.device_id or "-",
                    str(r.seq) if r.seq is not None else "-",
                    r.client_ip,
                    f"{r.method} {r.path}",
                ]
                for r in found
            ],
        )
    if forks:
        click.echo()
        click.secho("Riwayat bercabang (perlu diperiksa):", fg="yellow")
        _table(
            ["WAKTU", "PERANGKAT", "NOMOR", "HASH TERSIMPAN", "HASH DITERIMA"],
            [
                [
                    _local(f.detected_at),
                    f.device_id,
                    str(f.seq),
                    f.stored_hash[:16],
                    f.received_hash[:16],
                ]  # fmt: skip
                for f in forks
            ],
        )


# -- audit --------------------------------------------------------------------------------


@main.group("audit", cls=_Group, help="Jejak audit akses data pribadi dan keputusan pusat.")
def audit_group() -> None:
    """The hash-chained access log."""


@audit_group.command(
    "verify",
    help="Periksa rantai hash jejak audit dari catatan pertama. Keluar 0 bila utuh, 2 bila "
    "ada catatan yang diubah, dihapus atau disisipkan (nomor catatan pertama yang salah "
    "disebutkan).",
)
@click.pass_context
def audit_verify(ctx: click.Context) -> None:
    report = access_log.check_chain(_db(ctx))
    if report.intact:
        click.echo(f"Jejak audit utuh: {report.rows} catatan, rantai hash cocok.")
        return
    click.secho(
        f"Jejak audit RUSAK mulai catatan nomor {report.first_bad_seq} (dari {report.rows} "
        "catatan): catatan itu diubah, atau catatan sebelumnya dihapus. Simpan salinan "
        "server.db dan laporkan ke admin Dinas.",
        fg="red",
        err=True,
    )
    sys.exit(2)


# -- whatsapp (its own module: the commands of one feature together) ---------------------

from sync_server.cli_whatsapp import whatsapp as _whatsapp  # noqa: E402  (needs the helpers above)

main.add_command(_whatsapp)
