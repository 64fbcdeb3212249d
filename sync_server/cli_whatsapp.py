"""``kk-server whatsapp``: the admin's view of messages to applicants and documents from them.

::

    kk-server whatsapp outbox [--status failed|unknown|queued|...] [--limit 50]
    kk-server whatsapp resend MESSAGE_ID        a failed or "perlu dicek" message, as a new one
    kk-server whatsapp alerts [--limit 20]      e.g. an expired access token
    kk-server whatsapp inbox [--kecamatan 160601]   without: the central inbox
    kk-server whatsapp attach ITEM_ID APPLICATION_ID

No message text, name or NIK is printed; numbers are shown masked.
"""

from __future__ import annotations

import click

from protocol.whatsapp import DeliveryStatus
from sync_server.cli import _db, _Group, _local, _table
from sync_server.clock import utc_now
from sync_server.services.whatsapp import inbound, outbox
from sync_server.storage import inbox as inbox_store
from sync_server.storage import outbox as outbox_store

__all__ = ["whatsapp"]


def _masked(number: str) -> str:
    return number[:5] + "****" + number[-3:] if len(number) > 8 else "****"


@click.group("whatsapp", cls=_Group, help="Pesan WhatsApp ke pemohon dan dokumen dari pemohon.")
def whatsapp() -> None:
    """WhatsApp."""


@whatsapp.command("outbox", help="Pesan ke pemohon, terbaru lebih dulu.")
@click.option("--status", type=click.Choice([s.value for s in DeliveryStatus]), default=None)
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True)
@click.pass_context
def outbox_list(ctx: click.Context, status: str | None, limit: int) -> None:
    with _db(ctx).read() as conn:
        where = "WHERE status = ?" if status else ""
        ids = conn.execute(
            f"SELECT id FROM whatsapp_outbox {where} ORDER BY created_at DESC LIMIT ?",
            (status, limit) if status else (limit,),
        ).fetchall()
        rows = [outbox_store.get(conn, r["id"]) for r in ids]
    if not rows:
        click.echo("Belum ada pesan.")
        return
    _table(
        ["DIBUAT", "ID", "PERMOHONAN", "KEPERLUAN", "STATUS", "KE", "ALASAN"],
        [
            [
                _local(r.created_at),
                r.id,
                r.params.get("reference", ""),
                r.purpose.value,
                r.status.label,
                _masked(r.recipient),
                r.reason[:60],
            ]
            for r in rows
            if r is not None
        ],
    )


@whatsapp.command("resend", help="Kirim ulang pesan yang gagal atau perlu dicek (pesan baru).")
@click.argument("message_id")
@click.pass_context
def resend(ctx: click.Context, message_id: str) -> None:
    with _db(ctx).write() as conn:
        row = outbox.resend(conn, message_id, now=utc_now())
    click.echo(f"Pesan baru {row.id} masuk antrean ({row.status.label}).")


@whatsapp.command("alerts", help="Peringatan untuk admin, terbaru lebih dulu.")
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True)
@click.pass_context
def alerts(ctx: click.Context, limit: int) -> None:
    with _db(ctx).read() as conn:
        found = outbox_store.list_alerts(conn, limit=limit)
    if not found:
        click.echo("Tidak ada peringatan.")
        return
    _table(
        ["WAKTU", "SUMBER", "KODE", "KETERANGAN"],
        [[_local(a.at), a.source, a.code, a.detail] for a in found],
    )


@whatsapp.command("inbox", help="Dokumen dari pemohon (tanpa --kecamatan: kotak masuk pusat).")
@click.option("--kecamatan", default=None, help="Kode kecamatan, mis. 160601.")
@click.pass_context
def inbox(ctx: click.Context, kecamatan: str | None) -> None:
    with _db(ctx).read() as conn:
        items = inbox_store.of_kecamatan(conn, kecamatan)
    if not items:
        click.echo("Kotak masuk kosong.")
        return
    _table(
        ["ID", "DITERIMA", "DARI", "STATUS", "JENIS", "BYTE", "PERMOHONAN", "KETERANGAN"],
        [
            [
                str(i.id),
                _local(i.received_at),
                _masked(i.sender),
                i.status,
                i.media_type or "-",
                str(i.size or "-"),
                i.attached_to or i.application_id or "-",
                i.reason[:50],
            ]
            for i in items
        ],
    )


@whatsapp.command("attach", help="Lampirkan dokumen kotak masuk ke permohonan.")
@click.argument("item_id", type=int)
@click.argument("application_id")
@click.pass_context
def attach(ctx: click.Context, item_id: int, application_id: str) -> None:
    item = inbound.attach(_db(ctx), item_id, application_id, actor_id="admin-cli", now=utc_now())
    click.echo(f"Dokumen {item.id} dilampirkan ke permohonan {item.attached_to}.")
