"""The pull direction against a REAL server (uvicorn on loopback) and real counter files:
the signed per-device feed, its producers (operator accounts, central decisions, transfers)
and the counter applying it (:meth:`Store.apply_server_events`).

Each counter here is a real :class:`Store` file enrolled with a real device key; it pulls
with signed HTTP requests, exactly as the sync engine does, and applies the page.
"""

from __future__ import annotations

import gzip
import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from field_client import schema as counter_schema
from field_client.actions import Counter
from field_client.errors import ApplicationTransferred, OperatorNotPermitted
from field_client.store import Device, Store
from protocol.application import Application
from protocol.canonical import canonical_json
from protocol.errors import (
    IllegalTransition,
    ReasonRequired,
    RoleNotPermitted,
    SignatureInvalid,
    ValidationError,
)
from protocol.events import GENESIS_HASH, EventKind
from protocol.server_events import ServerEvent, ServerEventKind
from protocol.workflow import Action, Reasons, Role, State
from signing.events import build_event, sign_event, verify_server_event
from signing.keys import generate_key, public_key_b64, save_private_key
from signing.requests import sign_request
from sync_server.cli import main as kk_server
from sync_server.clock import utc_now
from sync_server.config import ServerConfig
from sync_server.context import open_context
from sync_server.errors import Refusal
from sync_server.services import accounts, enrollment, feed
from sync_server.services.decisions import record_decision
from sync_server.storage import db as server_db
from tests.factories import application_dict
from tests.integration.conftest import (
    LAIS,
    OPERATOR_PASSWORD,
    SEKAYU,
    EnrolledDevice,
    RunningServer,
    add_operator,
    enroll_device,
    push,
    table_count,
)

PULL_PATH = "/api/v1/sync/pull"
RETURN_REASONS = Reasons(items=("kk_lama",), text="Foto KK lama buram, mohon pindai ulang")


# -- a counter terminal: an enrolled device with its own store file -------------------------


@dataclass
class Terminal:
    device: EnrolledDevice
    store: Store
    counter: Counter

    @property
    def device_id(self) -> str:
        return self.device.device_id

    def pull(self, client: httpx.Client, *, limit: int = 200) -> int:
        """Pull and apply until the server has nothing more; returns how many applied."""
        applied = 0
        while True:
            page = pull_page(client, self.device, after=self.store.pull_cursor(), limit=limit)
            applied += self.store.apply_server_events(page["events"])
            if not page["more"]:
                return applied

    def push(self, client: httpx.Client) -> list[dict[str, Any]]:
        """Push the whole outbox, record the answer, return the results."""
        events = [e.to_wire() for e in self.store.pending_events()]
        response = push(client, self.device, events)
        assert response.status_code == 200, response.text
        answer = response.json()
        self.store.record_push_result(answer["acked_seq"], answer["results"])
        return answer["results"]


def open_terminal(
    server: RunningServer, client: httpx.Client, path: Path, kecamatan: str = SEKAYU
) -> Terminal:
    """A counter terminal: a newly enrolled device with its own store file at ``path``."""
    device = enroll_device(server, client, kecamatan)
    store = Store.open(path)
    store.record_enrollment(
        Device(
            device_id=device.device_id,
            kecamatan=device.kecamatan,
            server_url=server.base_url,
            server_public_key=device.server_public_key,
            public_key=public_key_b64(device.key),
            enrolled_at="2026-11-24T02:00:00.000Z",
        )
    )
    return Terminal(device, store, Counter(store, device.key))


@pytest.fixture
def terminals(server, client, tmp_path) -> Iterator[Any]:
    opened: list[Terminal] = []

    def make(kecamatan: str = SEKAYU) -> Terminal:
        terminal = open_terminal(server, client, tmp_path / f"counter-{len(opened)}.db", kecamatan)
        opened.append(terminal)
        return terminal

    yield make
    for terminal in opened:
        terminal.store.close()


def signed_get(
    client: httpx.Client, device: EnrolledDevice, target: str, **headers: str
) -> httpx.Response:
    signed = sign_request(device.key, device.device_id, "GET", target, b"", now=datetime.now(UTC))
    return client.get(target, headers={**signed, **headers})


def pull_page(
    client: httpx.Client, device: EnrolledDevice, *, after: int = 0, limit: int = 200
) -> dict[str, Any]:
    response = signed_get(client, device, f"{PULL_PATH}?after={after}&limit={limit}")
    assert response.status_code == 200, response.text
    return response.json()


def add_staff(server: RunningServer, username: str, role: str) -> str:
    return add_operator(server, username, None, role=role, full_name=username.title())


def kk(server: RunningServer, *args: str, input: str | None = None) -> Any:
    result = CliRunner().invoke(
        kk_server, ["--data-dir", str(server.config.data_dir), *args], input=input
    )
    assert "Traceback" not in result.output
    return result


def server_app(server: RunningServer, app_id: str) -> dict[str, Any]:
    with server.db.read() as conn:
        row = conn.execute(
            "SELECT state, owner_device_id FROM applications WHERE application_id = ?", (app_id,)
        ).fetchone()
    return dict(row)


def submitted_application(terminal: Terminal, client: httpx.Client, operator_id: str) -> str:
    """Pull the operator account, then create, submit and push an application."""
    terminal.pull(client)
    app = Application.from_dict(application_dict())
    terminal.counter.create_application(app, operator_id=operator_id)
    terminal.counter.submit(app.id, operator_id=operator_id)
    assert [r["status"] for r in terminal.push(client)] == ["applied", "applied"]
    return app.id


# -- operator accounts ----------------------------------------------------------------------


def test_operator_accounts_reach_the_counter_and_log_in_offline(server, client, terminals):
    budi = add_operator(server, "budi")  # before the device enrolls: in its first page
    sari = add_operator(server, "sari", full_name="Sari Dewi")
    accounts.disable_user(server.db, "sari", now=utc_now())
    add_operator(server, "lais.op", LAIS)  # another kecamatan: never sent to Sekayu
    add_staff(server, "verif", "verifikator")  # staff: never sent to counters
    counter = terminals()
    created = kk(
        server,
        *("user", "add", "--role", "operator", "--kecamatan", SEKAYU),
        *("--username", "wati", "--name", "Wati Lestari", "--password-stdin"),
        input=OPERATOR_PASSWORD + "\n",
    )
    assert created.exit_code == 0, created.output

    assert counter.pull(client) == 3
    assert counter.store.authenticate("budi", OPERATOR_PASSWORD).id == budi
    assert counter.store.authenticate("wati", OPERATOR_PASSWORD).full_name == "Wati Lestari"
    assert counter.store.authenticate("sari", OPERATOR_PASSWORD) is None
    assert counter.store.operator(sari).active is False
    assert counter.store.authenticate("lais.op", OPERATOR_PASSWORD) is None
    assert counter.store.authenticate("verif", OPERATOR_PASSWORD) is None
    cursor = counter.store.pull_cursor()
    assert counter.pull(client) == 0 and counter.store.pull_cursor() == cursor

    disabled = kk(server, "user", "disable", "budi")
    assert disabled.exit_code == 0, disabled.output
    assert counter.pull(client) == 1
    assert counter.store.authenticate("budi", OPERATOR_PASSWORD) is None
    assert counter.store.operator(budi).active is False
    with pytest.raises(OperatorNotPermitted):
        counter.counter.create_application(
            Application.from_dict(application_dict()), operator_id=budi
        )


# -- central decisions ----------------------------------------------------------------------


def test_a_return_reaches_the_counter_with_reasons_and_the_resubmission_is_accepted(
    server, client, terminals
):
    operator = add_operator(server)
    verifikator = add_staff(server, "sri", "verifikator")
    counter = terminals()
    app_id = submitted_application(counter, client, operator)

    returned = record_decision(
        server.db,
        application_id=app_id,
        action=Action.RETURN,
        role=Role.VERIFIKATOR,
        actor_id=verifikator,
        actor_name="Sri Wahyuni, S.Sos",
        reasons=RETURN_REASONS,
        now=utc_now(),
    )
    assert returned.device_id == counter.device_id and returned.to_state is State.RETURNED
    assert server_app(server, app_id)["state"] == "returned"
    with server.db.read() as conn:
        trail = conn.execute(
            "SELECT device_id, seq, actor_id, role, action, reasons FROM application_events "
            "WHERE application_id = ? ORDER BY id",
            (app_id,),
        ).fetchall()
    assert dict(trail[-1]) == {
        "device_id": None,
        "seq": None,
        "actor_id": verifikator,
        "role": "verifikator",
        "action": "return",
        "reasons": json.dumps(RETURN_REASONS.to_dict(), ensure_ascii=False),
    }

    assert counter.pull(client) == 2  # the decision, and the WhatsApp notice queued
    assert counter.store.get_application(app_id).state is State.RETURNED
    assert [m.status for m in counter.store.message_statuses(app_id)] == ["queued"]
    [decision] = counter.store.decisions(app_id)
    assert (decision.action, decision.role, decision.actor_name) == (
        Action.RETURN,
        Role.VERIFIKATOR,
        "Sri Wahyuni, S.Sos",
    )
    assert decision.reasons == RETURN_REASONS
    assert (decision.from_state, decision.to_state) == (State.SUBMITTED, State.RETURNED)

    counter.counter.resubmit(app_id, operator_id=operator)
    assert [r["status"] for r in counter.push(client)] == ["applied"]
    assert server_app(server, app_id)["state"] == "submitted"

    record_decision(
        server.db,
        application_id=app_id,
        action="verify",
        role="verifikator",
        actor_id=verifikator,
        actor_name="Sri Wahyuni, S.Sos",
        reasons=None,
        now=utc_now(),
    )
    assert counter.pull(client) == 1
    assert counter.store.get_application(app_id).state is State.VERIFIED
    assert [d.action for d in counter.store.decisions(app_id)] == [Action.RETURN, Action.VERIFY]


def test_a_decision_the_rules_refuse_writes_nothing(server, client, terminals):
    operator = add_operator(server)
    verifikator = add_staff(server, "sri", "verifikator")
    kabid = add_staff(server, "kabid", "kabid")
    counter = terminals()
    app_id = submitted_application(counter, client, operator)
    before = {t: table_count(server, t) for t in ("feed", "application_events")}

    def decide(action: str, role: str, actor: str, reasons: Reasons | None = None) -> None:
        record_decision(
            server.db,
            application_id=app_id,
            action=action,
            role=role,
            actor_id=actor,
            actor_name="Siapa Saja",
            reasons=reasons,
            now=utc_now(),
        )

    with pytest.raises(IllegalTransition):
        decide("approve", "kabid", kabid)  # the verifier has not validated it yet
    with pytest.raises(RoleNotPermitted):
        decide("verify", "kabid", kabid)
    with pytest.raises(ReasonRequired):
        decide("return", "verifikator", verifikator, Reasons())
    with pytest.raises(ValidationError) as unknown_item:
        decide("return", "verifikator", verifikator, Reasons(items=("surat_sakti",)))
    assert unknown_item.value.code == "workflow.unknown_reason_item"
    for actor, code in [(kabid, "decision.actor_wrong_role"), ("usr-0", "decision.actor_unknown")]:
        with pytest.raises(Refusal) as refused:
            decide("verify", "verifikator", actor)
        assert refused.value.code == code
    with pytest.raises(Refusal) as refused:
        record_decision(
            server.db,
            application_id="7c1d2e3f-4a5b-4c6d-8e9f-0a1b2c3d4e5f",
            action="verify",
            role="verifikator",
            actor_id=verifikator,
            actor_name="Sri",
            reasons=None,
            now=utc_now(),
        )
    assert refused.value.code == "application.unknown"

    assert {t: table_count(server, t) for t in before} == before
    assert server_app(server, app_id)["state"] == "submitted"
    # Inside the caller's own transaction, which a later failure rolls back whole.
    with pytest.raises(RuntimeError), server.db.write() as conn:
        decide_in = record_decision(
            conn,
            application_id=app_id,
            action="verify",
            role="verifikator",
            actor_id=verifikator,
            actor_name="Sri",
            reasons=None,
            now=utc_now(),
        )
        assert decide_in.to_state is State.VERIFIED
        raise RuntimeError("the caller's next step failed")
    assert {t: table_count(server, t) for t in before} == before
    assert counter.pull(client) == 0  # no decision leaked to the counter


# -- forged, misdirected and repeated events ------------------------------------------------


def test_forged_or_misdirected_events_are_refused_and_nothing_is_applied(server, client, terminals):
    add_operator(server, "budi")
    mine, other = terminals(), terminals()
    page = pull_page(client, mine.device)
    assert [e["kind"] for e in page["events"]] == ["operator.upsert"]
    genuine = page["events"][0]

    def nothing_applied() -> None:
        assert mine.store.pull_cursor() == 0
        assert mine.store.db.execute("SELECT count(*) FROM operators").fetchone()[0] == 0

    forged = sign_event(
        ServerEvent(
            cursor=genuine["cursor"] + 1,
            audience=mine.device_id,
            kind=ServerEventKind.OPERATOR_UPSERT,
            application_id=None,
            created_at=genuine["created_at"],
            body={**genuine["body"], "operator_id": "usr-mallory", "username": "mallory"},
        ),
        generate_key(),  # not the server's key
    )
    with pytest.raises(SignatureInvalid) as err:
        mine.store.apply_server_events([genuine, forged.to_wire()])
    assert err.value.code == "signature.server_invalid"
    nothing_applied()

    tampered = {**genuine, "body": {**genuine["body"], "active": False}}
    with pytest.raises(SignatureInvalid):
        mine.store.apply_server_events([tampered])
    nothing_applied()

    theirs = pull_page(client, other.device)["events"]
    with pytest.raises(ValidationError) as err:
        mine.store.apply_server_events(theirs)
    assert err.value.code == "server_event.wrong_audience"
    nothing_applied()

    # The answer to a pull was lost: the same pull again gets the same signed events.
    assert pull_page(client, mine.device) == page
    assert mine.store.apply_server_events(page["events"]) == 1
    cursor = mine.store.pull_cursor()
    assert cursor == genuine["cursor"]
    # Applying a page again is impossible: cursors must increase. Nothing changes.
    with pytest.raises(ValidationError) as err:
        mine.store.apply_server_events(page["events"])
    assert err.value.code == "server_event.cursor_not_increasing"
    assert mine.store.pull_cursor() == cursor
    assert pull_page(client, mine.device, after=cursor)["events"] == []


# -- the endpoint: paging, parameters, compression ------------------------------------------


def test_the_feed_pages_by_cursor_and_carries_kk_and_message_status(server, client, terminals):
    operator = add_operator(server)
    mine, other = terminals(), terminals()
    mine.pull(client)
    app = Application.from_dict(application_dict())
    mine.counter.create_application(app, operator_id=operator)
    with server.db.write() as conn:
        for n in range(3):  # interleaved with another device's events
            for device in (mine, other):
                feed.append(
                    conn,
                    audience=device.device_id,
                    kind=ServerEventKind.MESSAGE_STATUS,
                    application_id=app.id,
                    body={
                        "message_id": f"msg-{n}",
                        "status": "delivered",
                        "at": "2026-11-25T09:00:00.000Z",
                    },
                    now=utc_now(),
                )
        feed.append(
            conn,
            audience=mine.device_id,
            kind=ServerEventKind.KK_READY,
            application_id=app.id,
            body={"kk_number": "1606012511260001", "document": {"sha256": "ab" * 32}},
            now=utc_now(),
        )
    start = mine.store.pull_cursor()

    pages, after = [], start
    while True:
        page = pull_page(client, mine.device, after=after, limit=2)
        pages.append(page)
        cursors = [e["cursor"] for e in page["events"]]
        assert cursors == sorted(cursors) and all(c > after for c in cursors)
        assert {e["audience"] for e in page["events"]} == {mine.device_id}
        assert page["next_after"] == (cursors[-1] if cursors else after)
        after = page["next_after"]
        if not page["more"]:
            break
    assert [len(p["events"]) for p in pages] == [2, 2]
    assert [p["more"] for p in pages] == [True, False]

    assert mine.pull(client, limit=2) == 4
    statuses = mine.store.message_statuses(app.id)
    assert [(m.message_id, m.status) for m in statuses] == [
        ("msg-0", "delivered"),
        ("msg-1", "delivered"),
        ("msg-2", "delivered"),
    ]
    document = mine.store.kk_document(app.id)
    assert (document.kk_number, document.document) == ("1606012511260001", {"sha256": "ab" * 32})
    assert [s.id for s in mine.store.search_applications("1606 0125 1126 0001")] == [app.id]


def test_bad_pull_parameters_are_refused_with_a_code(server, client, terminals):
    mine = terminals()
    for query, name in [
        ("after=-1", "after"),
        ("after=abc", "after"),
        ("after=1.5", "after"),
        ("after=1&after=2", "after"),
        ("limit=0", "limit"),
        ("limit=501", "limit"),
        ("limit=x", "limit"),
    ]:
        response = signed_get(client, mine.device, f"{PULL_PATH}?{query}")
        assert response.status_code == 400, query
        error = response.json()
        assert (error["code"], error["name"]) == ("pull.bad_parameter", name), query
        assert error["detail"].startswith(f'Parameter "{name}" tidak sah')
    response = signed_get(client, mine.device, f"{PULL_PATH}?after=999999")
    assert response.status_code == 409
    assert response.json()["code"] == "pull.cursor_ahead"
    assert client.get(PULL_PATH).json()["code"] == "request.unsigned"
    default = signed_get(client, mine.device, PULL_PATH)
    assert default.json() == {"events": [], "next_after": 0, "more": False}


def test_pull_answers_are_gzipped_for_clients_that_accept_it(server, client, terminals):
    for n in range(4):
        add_operator(server, f"operator{n}")
    mine = terminals()
    target = f"{PULL_PATH}?after=0&limit=200"

    def fetch(accept: str) -> tuple[httpx.Response, bytes]:
        signed = sign_request(mine.device.key, mine.device.device_id, "GET", target, b"",
                              now=datetime.now(UTC))  # fmt: skip
        with client.stream("GET", target, headers={**signed, "Accept-Encoding": accept}) as r:
            return r, b"".join(r.iter_raw())

    zipped, raw_zipped = fetch("gzip, deflate")
    plain, raw_plain = fetch("identity")
    assert zipped.headers["content-encoding"] == "gzip"
    assert "content-encoding" not in plain.headers
    assert json.loads(gzip.decompress(raw_zipped)) == json.loads(raw_plain)
    assert len(json.loads(raw_plain)["events"]) == 4
    assert len(raw_zipped) < len(raw_plain) / 2
    refused, _ = fetch("gzip;q=0, identity")
    assert "content-encoding" not in refused.headers


# -- transfers ------------------------------------------------------------------------------


def test_a_transfer_moves_an_application_between_devices_of_one_kecamatan(
    server, client, terminals
):
    operator = add_operator(server)
    old, new, lais = terminals(), terminals(), terminals(LAIS)
    old.pull(client), new.pull(client)
    app = Application.from_dict(application_dict())
    old.counter.create_application(app, operator_id=operator)
    assert [r["status"] for r in old.push(client)] == ["applied"]
    # Made offline before the old device hears of the transfer: refused when it arrives.
    old.counter.edit_application(
        Application.from_dict(application_dict(attached_documents=["f102", "buku_nikah"])),
        operator_id=operator,
    )

    for target, text in [
        (lais.device_id, "kecamatan yang sama"),
        ("dev-160601-nope", "tidak ditemukan"),
        (old.device_id, "sudah dipegang perangkat"),
    ]:
        refused = kk(server, "application", "transfer", app.id, "--to", target)
        assert refused.exit_code == 1 and refused.stderr.startswith("Galat: "), refused.output
        assert text in refused.stderr
    revoked = enroll_device(server, client)
    enrollment.revoke_device(server.db, revoked.device_id, now=utc_now())
    refused = kk(server, "application", "transfer", app.id, "--to", revoked.device_id)
    assert refused.exit_code == 1 and "dicabut" in refused.stderr

    moved = kk(server, "application", "transfer", app.id, "--to", new.device_id)
    assert moved.exit_code == 0, moved.output
    assert server_app(server, app.id) == {"state": "draft", "owner_device_id": new.device_id}

    assert old.pull(client) == 1
    assert old.store.get_application(app.id).transferred_to == new.device_id
    with pytest.raises(ApplicationTransferred) as err:
        old.counter.submit(app.id, operator_id=operator)
    assert err.value.code == "application.transferred_away"
    [result] = old.push(client)  # the edit made before the pull
    assert (result["status"], result["code"]) == ("refused", "application.not_owner")

    assert new.pull(client) == 1
    held = new.store.get_application(app.id)
    assert (held.state, held.read_only, held.application.to_dict()) == (
        State.DRAFT,
        False,
        app.to_dict(),
    )
    new.counter.submit(app.id, operator_id=operator)
    assert [r["status"] for r in new.push(client)] == ["applied"]
    assert server_app(server, app.id) == {"state": "submitted", "owner_device_id": new.device_id}

    refused = kk(server, "application", "transfer", app.id, "--to", old.device_id)
    assert refused.exit_code == 1 and "Diajukan ke verifikator" in refused.stderr
    assert lais.pull(client) == 0  # the other kecamatan heard nothing of it


def test_a_transferred_application_carries_its_decisions_and_can_come_back(
    server, client, terminals
):
    operator = add_operator(server)
    verifikator = add_staff(server, "sri", "verifikator")
    first, second = terminals(), terminals()
    app_id = submitted_application(first, client, operator)
    record_decision(
        server.db,
        application_id=app_id,
        action="return",
        role="verifikator",
        actor_id=verifikator,
        actor_name="Sri Wahyuni",
        reasons=RETURN_REASONS,
        now=utc_now(),
    )
    first.pull(client)
    assert kk(server, "application", "transfer", app_id, "--to", second.device_id).exit_code == 0
    second.pull(client)
    assert second.store.get_application(app_id).state is State.RETURNED
    [decision] = second.store.decisions(app_id)
    assert (decision.actor_name, decision.reasons) == ("Sri Wahyuni", RETURN_REASONS)

    assert kk(server, "application", "transfer", app_id, "--to", first.device_id).exit_code == 0
    first.pull(client)
    assert first.store.get_application(app_id).read_only is False
    assert len(first.store.decisions(app_id)) == 1  # seen before: not doubled
    first.counter.resubmit(app_id, operator_id=operator)
    assert [r["status"] for r in first.push(client)] == ["applied"]


# -- schema migrations ----------------------------------------------------------------------


def _version_1_counter_file(path: Path, device: EnrolledDevice, operator_id: str) -> str:
    """A counter file exactly as version 1 of the application wrote it, with one event."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    for statement in counter_schema._SCHEMA_V1:
        conn.execute(statement)
    conn.execute("INSERT INTO meta (key, value) VALUES ('schema_version', '1')")
    conn.execute(
        "INSERT INTO device VALUES (1, ?, ?, 'http://x', ?, ?, '2026-11-24T02:00:00.000Z')",
        (device.device_id, device.kecamatan, device.server_public_key, public_key_b64(device.key)),
    )
    data = application_dict()
    event = build_event(
        key=device.key,
        device_id=device.device_id,
        operator_id=operator_id,
        previous_seq=0,
        previous_hash=GENESIS_HASH,
        kind=EventKind.APPLICATION_CREATED,
        application_id=data["id"],
        body={"application": data},
        at=datetime.now(UTC),
    )
    conn.execute(
        "INSERT INTO applications VALUES"
        " (?, 'draft', ?, '', 'Ahmad Fauzi', 'ahmad fauzi', ?, ?, 1)",
        (data["id"], json.dumps(data), event.created_at, event.created_at),
    )
    conn.execute(
        "INSERT INTO outbox (seq, hash, prev_hash, kind, application_id, operator_id, created_at,"
        " wire) VALUES (1, ?, ?, ?, ?, ?, ?, ?)",
        (
            event.hash(),
            event.prev_hash,
            event.kind.value,
            data["id"],
            operator_id,
            event.created_at,
            canonical_json(event.to_wire()).decode(),
        ),
    )
    conn.close()
    return data["id"]


def test_a_version_1_counter_file_is_migrated_and_then_pulls(server, client, tmp_path):
    operator = add_operator(server)
    device = enroll_device(server, client)
    path = tmp_path / "v1.db"
    app_id = _version_1_counter_file(path, device, operator)

    with Store.open(path) as store:
        version = store.db.execute("SELECT value FROM meta WHERE key = 'schema_version'")
        assert version.fetchone() == (str(counter_schema.SCHEMA_VERSION),)
        assert store.pull_cursor() == 0
        held = store.get_application(app_id)
        assert (held.state, held.last_seq, held.read_only) == (State.DRAFT, 1, False)
        terminal = Terminal(device, store, Counter(store, device.key))
        assert terminal.pull(client) == 1  # the operator account
        assert store.authenticate("budi", OPERATOR_PASSWORD).id == operator
        terminal.counter.submit(app_id, operator_id=operator)
        assert [e.seq for e in store.pending_events()] == [1, 2]  # the chain goes on
        assert [r["status"] for r in terminal.push(client)] == ["applied", "applied"]
    with Store.open(path) as again:  # opening a current file migrates nothing
        assert again.pull_cursor() > 0


def test_a_version_1_server_database_is_migrated_and_old_devices_get_their_operators(
    tmp_path,
):
    config = ServerConfig(data_dir=tmp_path / "server")
    config.data_dir.mkdir()
    key = generate_key()
    save_private_key(key, config.key_path)
    device_key = public_key_b64(generate_key())
    conn = sqlite3.connect(config.db_path, isolation_level=None)
    for statement in server_db._SCHEMA_V1:
        conn.execute(statement)
    conn.execute(
        "INSERT INTO devices VALUES ('dev-1', '160601', '', ?, '2026-01-01T00:00:00.000Z', "
        "'', NULL)",
        (device_key,),
    )
    conn.execute(
        "INSERT INTO users VALUES ('usr-1', 'budi', 'Budi Santoso', 'operator', '160601', "
        "'scrypt$15$8$1$c2FsdA==$aGFzaA==', '2026-01-01T00:00:00.000Z', NULL)"
    )
    conn.execute(
        "INSERT INTO applications VALUES ('a', 'dev-1', '160601', 'draft', '{}', 't', 't')"
    )
    conn.execute(
        "INSERT INTO application_events (application_id, device_id, seq, actor_id, role, "
        "action, from_state, to_state, reasons, device_time, server_time) "
        "VALUES ('a', 'dev-1', 1, 'usr-1', 'operator', 'create', NULL, 'draft', NULL, 't', 't')"
    )
    conn.execute("PRAGMA user_version = 1")
    conn.close()

    context = open_context(config)
    db = context.db
    assert db.schema_version() == server_db.SCHEMA_VERSION
    with db.read() as check:
        rows = [dict(r) for r in check.execute("SELECT device_id, seq FROM application_events")]
        assert rows == [{"device_id": "dev-1", "seq": 1}]
        [wire] = [json.loads(r["wire"]) for r in check.execute("SELECT wire FROM feed")]
    event = ServerEvent.from_wire(wire, audience="dev-1", after_cursor=0)
    verify_server_event(event, key.public_key())
    assert (event.kind, event.body["username"]) == (ServerEventKind.OPERATOR_UPSERT, "budi")
    with db.write() as write:  # a central decision: no device, no seq
        write.execute(
            "INSERT INTO application_events (application_id, device_id, seq, actor_id, role, "
            "action, from_state, to_state, reasons, device_time, server_time) "
            "VALUES ('a', NULL, NULL, 'usr-2', 'verifikator', 'verify', 'submitted', "
            "'verified', NULL, 't', 't')"
        )
    open_context(config)  # already current: nothing is seeded twice
    assert table_count_of(db, "feed") == 1


def table_count_of(db: server_db.Database, table: str) -> int:
    with db.read() as conn:
        return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # noqa: S608
