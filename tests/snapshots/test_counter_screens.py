"""Snapshots (SVG) of the counter's main screens at 80x24, the size of the kecamatan PCs.

A change to a screen's layout shows up here as a failing snapshot with a visual diff;
accept an intended change with ``make test-snapshot-update``.

The counter is real (SQLite store, device key, operator account, applications recorded by
:class:`~field_client.actions.Counter`) but its clock is fixed and its sync engine never
starts a round, so the screens are the same on every run: this counter is offline and has
never synced, which is what its status line says.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

import pytest

from field_client.actions import Counter
from field_client.app import make_counter_app
from field_client.screens import InboxScreen, MemberFormScreen
from field_client.store import (
    Decision,
    Device,
    InboxDocument,
    KKDocument,
    MessageStatus,
    Operator,
    Store,
)
from field_client.sync import SyncEngine
from protocol.application import Application
from protocol.events import format_timestamp
from protocol.workflow import Action, Reasons, Role, State
from signing.keys import generate_key, load_private_key, public_key_b64, save_private_key
from signing.passwords import hash_password
from signing.scan_cipher import encrypt_scan
from signing.sealed_box import load_box_public_b64
from tests.factories import application_dict, member_dict
from tests.support.counter_ui import SIZE, counter_config, log_in, open_application, until

NOW = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)  # 10:00 WIB
PASSWORD = "rahasia-loket-1"
OPERATOR_ID = "usr-000000000001"


class IdleEngine(SyncEngine):
    """A sync engine that never starts a round: a counter without network, frozen in time."""

    async def run_forever(self) -> None:
        await asyncio.Event().wait()


@pytest.fixture(autouse=True)
def office_timezone(monkeypatch):
    """Times on screen are local; the office is in WIB."""
    monkeypatch.setenv("TZ", "Asia/Jakarta")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def _stamp(minutes: int) -> str:
    return format_timestamp(NOW - timedelta(minutes=minutes))


@pytest.fixture
def counter_app(tmp_path):
    """An enrolled Sekayu counter with one operator and three applications."""
    config = counter_config(tmp_path / "counter")
    config.data_dir.mkdir(parents=True)
    key, server_key = generate_key(), generate_key()
    save_private_key(key, config.key_path)
    with Store.open(config.db_path) as store:
        store.record_enrollment(
            Device(
                device_id="dev-160601-0000000001",
                kecamatan="160601",
                server_url="http://127.0.0.1:9",
                server_public_key=public_key_b64(server_key),
                public_key=public_key_b64(key),
                enrolled_at=_stamp(600),
            )
        )
        store.upsert_operators(
            [
                Operator(
                    id=OPERATOR_ID,
                    username="siti",
                    full_name="Siti Rahma",
                    kecamatan="160601",
                    password_hash=hash_password(PASSWORD),
                    active=True,
                    updated_at=_stamp(600),
                )
            ]
        )
        moments = iter([NOW - timedelta(minutes=m) for m in (300, 290, 280, 120)])
        counter = Counter(store, key, now=lambda: next(moments))
        returned = _application("0b5f1a52-7a0e-4d3e-9a55-000000000001", "Ahmad Fauzi")
        counter.create_application(returned, operator_id=OPERATOR_ID)
        counter.submit(returned.id, operator_id=OPERATOR_ID)
        with store.transaction() as tx:
            tx.add_decision(
                Decision(
                    cursor=1,
                    application_id=returned.id,
                    action=Action.RETURN,
                    from_state=State.SUBMITTED,
                    to_state=State.RETURNED,
                    role=Role.VERIFIKATOR,
                    actor_id="usr-000000000009",
                    actor_name="Sri Wahyuni, S.Sos",
                    reasons=Reasons(("kk_lama",), "Foto KK lama buram, mohon pindai ulang"),
                    at=_stamp(250),
                )
            )
            tx.set_server_state(returned.id, State.RETURNED, at=_stamp(250))
        for app_id, name in (
            ("0b5f1a52-7a0e-4d3e-9a55-000000000002", "Siti Nurhaliza"),
            ("0b5f1a52-7a0e-4d3e-9a55-000000000003", "Joko Susilo"),
        ):
            counter.create_application(_application(app_id, name), operator_id=OPERATOR_ID)
    return make_counter_app(config, engine_factory=lambda c: IdleEngine(c), clock=lambda: NOW)


def _application(app_id: str, name: str) -> Application:
    return Application.from_dict(
        application_dict(
            id=app_id,
            applicant={"nama": name, "nik": "1606011403950002", "whatsapp": "0812 7788 1234"},
            members=[member_dict(0), member_dict(1), member_dict(2)],
        )
    )


async def _logged_in(pilot) -> None:
    await log_in(pilot, "siti", PASSWORD)
    await pilot.pause()


def test_login(snap_compare, counter_app):
    assert snap_compare(counter_app, terminal_size=SIZE)


def test_dashboard(snap_compare, counter_app):
    assert snap_compare(counter_app, terminal_size=SIZE, run_before=_logged_in)


def test_new_application_form(snap_compare, counter_app):
    async def new_application(pilot) -> None:
        await _logged_in(pilot)
        await pilot.press("f2")
        await pilot.pause()

    assert snap_compare(counter_app, terminal_size=SIZE, run_before=new_application)


def test_member_form_of_a_stored_member(snap_compare, counter_app):
    async def member(pilot) -> None:
        await _logged_in(pilot)
        await open_application(pilot, "0b5f1a52-7a0e-4d3e-9a55-000000000002")
        await pilot.press("e")
        await pilot.pause()
        pilot.app.screen.query_one("#members").focus()
        await pilot.press("down", "enter")  # the wife
        await until(pilot, lambda: isinstance(pilot.app.screen, MemberFormScreen))
        await pilot.pause()

    assert snap_compare(counter_app, terminal_size=SIZE, run_before=member)


def test_returned_application_with_reasons_and_timeline(snap_compare, counter_app):
    async def returned(pilot) -> None:
        await _logged_in(pilot)
        await open_application(pilot, "0b5f1a52-7a0e-4d3e-9a55-000000000001")
        await pilot.pause()

    assert snap_compare(counter_app, terminal_size=SIZE, run_before=returned)


def test_confirmation_before_cancelling_an_application(snap_compare, counter_app):
    async def withdraw(pilot) -> None:
        await _logged_in(pilot)
        await open_application(pilot, "0b5f1a52-7a0e-4d3e-9a55-000000000003")
        await pilot.press("b", *"pemohon pindah ke luar kota", "enter")
        await pilot.pause()

    assert snap_compare(counter_app, terminal_size=SIZE, run_before=withdraw)


SITI_ID = "0b5f1a52-7a0e-4d3e-9a55-000000000002"
ISSUED_ID = "0b5f1a52-7a0e-4d3e-9a55-000000000004"
SCAN_ID = "5" * 64


def _decide(tx, cursor: int, move: tuple[Action, State, State, Role, str, int]) -> None:
    """Record a staff decision on Rina's application as the pull feed would."""
    action, old, new, role, name, minutes = move
    tx.add_decision(
        Decision(
            cursor=cursor,
            application_id=ISSUED_ID,
            action=action,
            from_state=old,
            to_state=new,
            role=role,
            actor_id=f"usr-0000000000{cursor}",
            actor_name=name,
            reasons=Reasons(("kk_lama",), "Foto KK lama buram")
            if action is Action.RETURN
            else None,
            at=_stamp(minutes),
        )
    )
    tx.set_server_state(ISSUED_ID, new, at=_stamp(minutes))


def _add_issued_application(config) -> None:
    """Rina's file went the whole way: returned once, resubmitted, verified, approved,
    signed (the KK PDF downloaded here), issued; the KK message failed to reach her."""
    key = load_private_key(config.key_path)
    with Store.open(config.db_path) as store:
        moments = iter([NOW - timedelta(minutes=m) for m in (400, 390, 330, 100)])
        counter = Counter(store, key, now=lambda: next(moments))
        counter.create_application(_application(ISSUED_ID, "Rina Marlina"), operator_id=OPERATOR_ID)
        counter.submit(ISSUED_ID, operator_id=OPERATOR_ID)
        with store.transaction() as tx:
            _decide(tx, 11, (Action.RETURN, State.SUBMITTED, State.RETURNED, Role.VERIFIKATOR,
                             "Sri Wahyuni", 360))  # fmt: skip
            tx.record_message_status(
                MessageStatus("wamid.RET1", ISSUED_ID, "read", _stamp(355), 12, "returned")
            )
        counter.resubmit(ISSUED_ID, operator_id=OPERATOR_ID)
        with store.transaction() as tx:
            for cursor, move in enumerate(
                [
                    (
                        Action.VERIFY,
                        State.SUBMITTED,
                        State.VERIFIED,
                        Role.VERIFIKATOR,
                        "Sri Wahyuni",
                        300,
                    ),
                    (
                        Action.APPROVE,
                        State.VERIFIED,
                        State.APPROVED,
                        Role.KABID,
                        "Hendra Gunawan",
                        240,
                    ),
                    (
                        Action.SIGN,
                        State.APPROVED,
                        State.SIGNED,
                        Role.KEPALA_DINAS,
                        "Dr. H. Apriyadi",
                        180,
                    ),
                ],  # fmt: skip
                start=13,
            ):
                _decide(tx, cursor, move)
            document = KKDocument(
                ISSUED_ID,
                "1606012011260001",
                {"sha256": SCAN_ID, "size": 64_512, "signed_at": _stamp(180)},
                cursor=16,
                at=_stamp(180),
            )
            tx.record_kk_document(document)
        store.unlock_scans(OPERATOR_ID, PASSWORD, at=_stamp(170))
        # As the downloader leaves it: the copy the server sealed for this counter's key.
        public = load_box_public_b64(store.device_box_public())
        store.document_folder.write(SCAN_ID, encrypt_scan(b"%PDF-1.7 KK", public).blob)
        store.mark_document_downloaded(document, at=_stamp(170))
        counter.issue(ISSUED_ID, operator_id=OPERATOR_ID)
        with store.transaction() as tx:
            tx.record_message_status(
                MessageStatus(
                    "wamid.KK1",
                    ISSUED_ID,
                    "failed",
                    _stamp(95),
                    17,
                    "kk_issued",
                    "Nomor tidak terdaftar di WhatsApp",
                )
            )


def test_issued_application_with_whatsapp_statuses_and_the_signed_kk(snap_compare, counter_app):
    _add_issued_application(counter_app.config)

    async def issued(pilot) -> None:
        await _logged_in(pilot)
        await open_application(pilot, ISSUED_ID)
        await pilot.pause()

    assert snap_compare(counter_app, terminal_size=SIZE, run_before=issued)


def _fill_inbox(config) -> None:
    """Four documents sent to the office number: one from Siti (her application found by
    the server), one from an unknown number, one already attached to Joko's application,
    one another counter of the kecamatan attached (the server said so)."""
    key = load_private_key(config.key_path)
    with Store.open(config.db_path) as store:
        with store.transaction() as tx:
            for item_id, sender, media, size, app_id, minutes in (
                (11, "+6281277881234", "image/jpeg", 412_331, SITI_ID, 95),
                (12, "+6285266001122", "application/pdf", 1_284_002, None, 50),
                (13, "+6281377009988", "image/png", 88_120, None, 20),
                (14, "+6282177001234", "application/pdf", 240_511, None, 15),
            ):  # fmt: skip
                tx.record_inbox_document(
                    InboxDocument(
                        item_id,
                        f"{item_id:064x}",
                        media,
                        size,
                        sender,
                        app_id,
                        _stamp(minutes),
                        item_id,
                    )  # fmt: skip
                )
            tx.record_inbox_attached(14, "0b5f1a52-7a0e-4d3e-9a55-0000000000ff", _stamp(5))
        counter = Counter(store, key, now=lambda: NOW - timedelta(minutes=10))
        counter.attach_inbox_document(
            "0b5f1a52-7a0e-4d3e-9a55-000000000003", 13, operator_id=OPERATOR_ID
        )


def test_whatsapp_inbox_with_documents(snap_compare, counter_app):
    _fill_inbox(counter_app.config)

    async def inbox(pilot) -> None:
        await _logged_in(pilot)
        await pilot.press("f6")
        await until(pilot, lambda: isinstance(pilot.app.screen, InboxScreen))
        await pilot.pause()

    assert snap_compare(counter_app, terminal_size=SIZE, run_before=inbox)
