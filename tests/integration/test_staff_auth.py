"""Staff login, roles and the work queue, on a real uvicorn server with a real SQLite file.

The role matrix is generated from the application's routes: a new ``/api/v1`` endpoint
without an entry in :data:`EXPECTED` fails :func:`test_role_matrix_covers_every_route`.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from protocol.events import EventKind
from protocol.workflow import Action, Role
from signing.requests import sign_request
from sync_server.app import create_app
from sync_server.clock import stamp, utc_now
from sync_server.services import accounts, decisions
from sync_server.services.staff_auth import token_hash
from tests.factories import application_dict
from tests.integration.conftest import (
    OPERATOR_PASSWORD,
    DeviceLog,
    EnrolledDevice,
    RunningServer,
    add_operator,
    encode_push,
    enroll_device,
    push,
)

LOGIN = "/api/v1/auth/login"
ME = "/api/v1/auth/me"
LOGOUT = "/api/v1/auth/logout"
QUEUE = "/api/v1/queue"
DECISIONS = "/api/v1/applications/{application_id}/decisions"
APPLICATION = "/api/v1/applications/{application_id}"
CLAIM = "/api/v1/applications/{application_id}/claim"
SIAK_EXPORT = "/api/v1/applications/{application_id}/siak-export"
SIAK_ENTRY = "/api/v1/applications/{application_id}/siak-entry"
CENTRAL = (Role.VERIFIKATOR, Role.KABID, Role.KEPALA_DINAS)
STAFF = {
    Role.VERIFIKATOR: "sri.verif",
    Role.KABID: "hendra.kabid",
    Role.KEPALA_DINAS: "kadis",
    Role.ADMIN: "admin",
}


@pytest.fixture
def staff(server: RunningServer) -> dict[Role, str]:
    """One account per staff role (password :data:`OPERATOR_PASSWORD`); username by role."""
    ids = {}
    for role, username in STAFF.items():
        ids[role] = add_operator(
            server, username, kecamatan=None, role=role.value, full_name=f"Staf {role.label}"
        )
    return ids


def _login(client: httpx.Client, username: str, password: str = OPERATOR_PASSWORD, **kw: Any):
    return client.post(LOGIN, json={"username": username, "password": password}, **kw)


def _token(client: httpx.Client, role: Role) -> str:
    response = _login(client, STAFF[role])
    assert response.status_code == 200, response.text
    return response.json()["token"]


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# -- login ----------------------------------------------------------------------------------


def test_login_returns_a_token_stored_only_as_its_hash(server, client, staff):
    response = _login(client, "sri.verif")

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["role"] == "verifikator"
    assert body["full_name"] == "Staf Verifikator/Sub Koord"
    expires = datetime.fromisoformat(body["expires_at"].replace("Z", "+00:00"))
    assert timedelta(minutes=29) < expires - datetime.now(UTC) <= timedelta(minutes=30)
    with server.db.read() as conn:
        rows = [dict(r) for r in conn.execute("SELECT * FROM staff_sessions")]
    assert [r["token_hash"] for r in rows] == [token_hash(body["token"])]
    assert body["token"] not in str(rows)

    me = client.get(ME, headers=_bearer(body["token"]))
    assert me.status_code == 200, me.text
    assert me.json()["username"] == "sri.verif"
    assert me.json()["role_label"] == "Verifikator/Sub Koord"


def test_wrong_password_and_unknown_user_get_the_same_answer(client, staff):
    wrong = _login(client, "kadis", "salah-sekali")
    unknown = _login(client, "tidak.ada", "salah-sekali")

    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()
    assert wrong.json()["code"] == "auth.invalid_credentials"
    assert wrong.json()["detail"] == "Nama pengguna atau kata sandi salah."


def test_operator_is_refused_with_a_clear_code(server, client):
    add_operator(server, "budi")

    response = _login(client, "budi")

    assert response.status_code == 403
    assert response.json()["code"] == "auth.operator_at_counter"
    assert "loket" in response.json()["detail"]


def test_disabled_account_cannot_log_in_and_its_token_dies_at_once(server, client, staff):
    token = _token(client, Role.KABID)
    assert client.get(ME, headers=_bearer(token)).status_code == 200

    accounts.disable_user(server.db, "hendra.kabid", now=utc_now())

    dead = client.get(ME, headers=_bearer(token))
    assert dead.status_code == 401
    assert dead.json()["code"] == "auth.token_invalid"
    again = _login(client, "hendra.kabid")
    assert again.status_code == 403
    assert again.json()["code"] == "auth.account_disabled"


def test_disabled_in_the_database_directly_also_stops_a_live_token(server, client, staff):
    token = _token(client, Role.KABID)
    with server.db.write() as conn:  # e.g. another process that does not end sessions
        conn.execute("UPDATE users SET disabled_at = 'x' WHERE username = 'hendra.kabid'")

    dead = client.get(ME, headers=_bearer(token))

    assert dead.status_code == 401
    assert dead.json()["code"] == "auth.account_disabled"


def test_expired_token_is_refused(server, client, staff):
    token = _token(client, Role.VERIFIKATOR)
    past = stamp(utc_now() - timedelta(seconds=1))
    with server.db.write() as conn:
        conn.execute("UPDATE staff_sessions SET expires_at = ?", (past,))

    response = client.get(ME, headers=_bearer(token))

    assert response.status_code == 401
    assert response.json()["code"] == "auth.token_expired"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_expiry_slides_with_use(server, client, staff):
    token = _token(client, Role.VERIFIKATOR)
    soon = stamp(utc_now() + timedelta(minutes=5))
    with server.db.write() as conn:
        conn.execute("UPDATE staff_sessions SET expires_at = ?", (soon,))

    me = client.get(ME, headers=_bearer(token))

    assert me.status_code == 200
    with server.db.read() as conn:
        expires = conn.execute("SELECT expires_at FROM staff_sessions").fetchone()[0]
    assert expires > stamp(utc_now() + timedelta(minutes=29))
    assert me.json()["expires_at"] == expires


def test_logout_ends_the_session(server, client, staff):
    token = _token(client, Role.KEPALA_DINAS)

    assert client.post(LOGOUT, headers=_bearer(token)).status_code == 204

    response = client.get(ME, headers=_bearer(token))
    assert response.status_code == 401
    assert response.json()["code"] == "auth.token_invalid"


def test_malformed_bearer_and_missing_token(client, staff):
    missing = client.get(ME)
    assert missing.status_code == 401
    assert missing.json()["code"] == "auth.token_missing"
    for header in ("Basic abc", "Bearer", "Bearer " + "x" * 300, "Bearer kurang"):
        response = client.get(ME, headers={"Authorization": header})
        assert response.status_code == 401, header
        assert response.json()["code"] == "auth.token_invalid"


# -- throttle -------------------------------------------------------------------------------


def _unblock(server: RunningServer) -> None:
    """Let the current wait pass without sleeping."""
    with server.db.write() as conn:
        conn.execute(
            "UPDATE login_failures SET blocked_until = ?",
            (stamp(utc_now() - timedelta(milliseconds=1)),),
        )


def test_throttle_grows_and_never_locks_out_another_address(server, client, staff):
    waits = []
    for _ in range(8):
        assert _login(client, "kadis", "tebakan-salah").status_code == 401
        blocked = _login(client, "kadis")  # even the right password waits
        assert blocked.status_code == 429
        assert blocked.json()["code"] == "auth.throttled"
        assert blocked.headers["Retry-After"] == str(blocked.json()["retry_after"])
        waits.append(blocked.json()["retry_after"])
        _unblock(server)
    assert waits == [1, 2, 4, 8, 16, 32, 60, 60]

    # Another address (127.0.0.2 is loopback too) logs the Kepala Dinas in at once.
    transport = httpx.HTTPTransport(local_address="127.0.0.2")
    with httpx.Client(base_url=server.base_url, transport=transport, timeout=30) as other:
        assert _login(other, "kadis").status_code == 200
    # And another account from the first address is unaffected.
    assert _login(client, "hendra.kabid").status_code == 200

    # A success clears the count for that address.
    _unblock(server)
    assert _login(client, "kadis").status_code == 200
    assert _login(client, "kadis", "tebakan-salah").status_code == 401
    assert _login(client, "kadis").json()["retry_after"] == 1


# -- role matrix ----------------------------------------------------------------------------

UNKNOWN_APPLICATION = "00000000-0000-4000-8000-000000000000"
ALL_STAFF = (Role.VERIFIKATOR, Role.KABID, Role.KEPALA_DINAS, Role.ADMIN)
EXEMPT = {
    ("GET", "/api/v1/health"),
    ("POST", "/api/v1/devices/enroll"),
    ("POST", LOGIN),
    ("GET", "/api/v1/verify/{token}"),  # public: anyone holding a KK checks its QR code
    # Meta calls these: the verify token and the body's HMAC (test_whatsapp_webhook)
    ("GET", "/api/v1/whatsapp/webhook"),
    ("POST", "/api/v1/whatsapp/webhook"),
}


def _staff_only(ok: int, *allowed: Role) -> dict[str, int]:
    cells = {"none": 401, "device": 401}
    cells.update({role.value: ok if role in allowed else 403 for role in ALL_STAFF})
    return cells


def _device_only(ok: int) -> dict[str, int]:
    return {"none": 401, "device": ok, **{role.value: 401 for role in ALL_STAFF}}


EXPECTED: dict[tuple[str, str], dict[str, int]] = {
    ("POST", "/api/v1/sync/push"): _device_only(200),
    ("GET", "/api/v1/sync/pull"): _device_only(200),
    ("GET", ME): _staff_only(200, *ALL_STAFF),
    ("POST", LOGOUT): _staff_only(204, *ALL_STAFF),
    ("GET", QUEUE): _staff_only(200, Role.VERIFIKATOR, Role.KABID, Role.KEPALA_DINAS),
    # An empty body: the role is checked first, then the body (400 request.invalid_body).
    ("POST", DECISIONS): _staff_only(400, Role.VERIFIKATOR, Role.KABID, Role.KEPALA_DINAS),
    ("GET", APPLICATION): _staff_only(404, Role.VERIFIKATOR, Role.KABID, Role.KEPALA_DINAS),
    ("POST", "/api/v1/tte/sign-batch"): _staff_only(400, Role.KEPALA_DINAS),
    ("PUT", APPLICATION + "/kk-number"): _staff_only(400, Role.VERIFIKATOR, Role.KABID),
    **{
        ("GET", APPLICATION + document): _staff_only(
            404, Role.VERIFIKATOR, Role.KABID, Role.KEPALA_DINAS
        )
        for document in ("/draft-kk.pdf", "/biodata.pdf", "/kk.pdf", "/archive.zip")
    },
    ("GET", "/api/v1/sync/scans/key"): _device_only(200),
    # A gzip body is not the JSON the recovery wants: authenticated, then 400.
    ("POST", "/api/v1/sync/scans/key/recover"): _device_only(400),
    # Empty bodies / no offset: authenticated, then refused as malformed.
    ("POST", "/api/v1/sync/scans/status"): _device_only(400),
    ("PATCH", "/api/v1/sync/scans/{scan_id}"): _device_only(400),
    ("GET", "/api/v1/sync/documents/{application_id}"): _device_only(400),
    ("PUT", "/api/v1/sync/documents/box-key"): _device_only(400),
    ("GET", APPLICATION + "/scans/{scan_id}"): _staff_only(
        404, Role.VERIFIKATOR, Role.KABID, Role.KEPALA_DINAS
    ),
    # Claims: the step's role or an admin (which step is judged per application, so an
    # unknown one is 404 for every staff role).
    ("POST", CLAIM): _staff_only(404, *ALL_STAFF),
    ("DELETE", CLAIM): _staff_only(404, *ALL_STAFF),
    # SIAK: the staff who read applications; the admin reads no personal data.
    ("GET", SIAK_EXPORT): _staff_only(404, *CENTRAL),
    ("POST", SIAK_ENTRY): _staff_only(400, *CENTRAL),
    ("GET", "/api/v1/siak/pending"): _staff_only(200, *CENTRAL),
    # The access log: the admin only.
    ("GET", "/api/v1/admin/audit"): _staff_only(200, Role.ADMIN),
    ("GET", "/api/v1/admin/audit/verify"): _staff_only(200, Role.ADMIN),
}
"""Every /api/v1 route (except :data:`EXEMPT`) × caller → expected status."""


def _walk(routes: Any, prefix: str = "") -> Iterator[tuple[str, str]]:
    for route in routes:
        path = getattr(route, "path", None)
        if path is not None:
            for method in getattr(route, "methods", None) or ():
                if method != "HEAD":
                    yield method, prefix + path
        elif hasattr(route, "original_router"):  # FastAPI >= 0.165 keeps included routers
            yield from _walk(route.original_router.routes, prefix + route.include_context.prefix)


def api_routes() -> set[tuple[str, str]]:
    return {(m, p) for m, p in _walk(create_app().routes) if p.startswith("/api/v1")}


def test_role_matrix_covers_every_route():
    routes = api_routes()
    assert EXEMPT <= routes
    assert routes - EXEMPT == set(EXPECTED), "add the new endpoint to EXPECTED"


def _device_headers(device: EnrolledDevice, method: str, path: str, body: bytes) -> dict:
    headers = sign_request(device.key, device.device_id, method, path, body, now=datetime.now(UTC))
    if body:
        headers.update({"Content-Type": "application/json", "Content-Encoding": "gzip"})
    return headers


@pytest.mark.parametrize("method,path", sorted(EXPECTED))
def test_role_matrix(server, client, staff, method, path):
    # A well-formed scan id: httpx would escape the braces of "{scan_id}", which the device
    # signed unescaped.
    url = path.replace("{scan_id}", "0" * 64)
    if path.startswith("/api/v1/sync"):  # the device signs the target as sent
        url = url.replace("{application_id}", application_dict()["id"])
    url = url.replace("{application_id}", UNKNOWN_APPLICATION)
    device = enroll_device(server, client)
    body = encode_push([]) if method == "POST" and path.startswith("/api/v1/sync") else b""
    callers: dict[str, dict[str, str]] = {
        "none": {},
        "device": _device_headers(device, method, url, body),
    }
    for role in ALL_STAFF:
        callers[role.value] = _bearer(_token(client, role))

    seen = {}
    for caller, headers in callers.items():
        response = client.request(method, url, headers=headers, content=body)
        seen[caller] = response.status_code
        if caller not in ("none", "device") and response.status_code == 401:
            assert response.json()["code"] == "request.unsigned"  # token ignored
        if caller == "device" and response.status_code == 401:
            assert response.json()["code"] == "auth.token_missing"  # signature ignored
    assert seen == EXPECTED[(method, path)]


def test_admin_queue_refusal_names_the_role(client, staff):
    response = client.get(QUEUE, headers=_bearer(_token(client, Role.ADMIN)))
    assert response.status_code == 403
    assert response.json()["code"] == "auth.forbidden_role"
    assert "Admin" in response.json()["detail"]


# -- queue ----------------------------------------------------------------------------------


def _submitted(server: RunningServer, client: httpx.Client, n: int) -> list[str]:
    device = enroll_device(server, client)
    log = DeviceLog(device, add_operator(server, "budi"))
    ids = []
    for i in range(n):
        app = application_dict(id=f"0b5f1a52-7a0e-4d3e-9a55-2f1c0c9e8a{i:02d}")
        log.create(app)
        log.append(EventKind.SUBMITTED, app["id"])
        ids.append(app["id"])
    response = push(client, device, log.wire())
    assert response.status_code == 200, response.text
    assert {r["status"] for r in response.json()["results"]} == {"applied"}
    return ids


def test_queue_shows_what_waits_for_each_role(server, client, staff):
    first, second = _submitted(server, client, 2)
    ten_minutes_ago = stamp(utc_now() - timedelta(minutes=10))
    with server.db.write() as conn:
        conn.execute(
            "UPDATE application_events SET server_time = ? "
            "WHERE application_id = ? AND to_state = 'submitted'",
            (ten_minutes_ago, second),
        )
    verif = _bearer(_token(client, Role.VERIFIKATOR))

    page = client.get(QUEUE, headers=verif).json()

    assert (page["total"], page["limit"], page["offset"]) == (2, 50, 0)
    assert [i["application_id"] for i in page["items"]] == [second, first]  # oldest first
    old, new = page["items"]
    assert old["kecamatan"] == "160601"
    assert old["applicant_name"] == "Ahmad Fauzi"
    assert old["service_label"].startswith("KK ")
    assert (old["state"], old["entered_at"]) == ("submitted", ten_minutes_ago)
    assert (old["minutes_in_step"], old["target_minutes"], old["over_target"]) == (10, 5, True)
    assert (new["minutes_in_step"], new["over_target"]) == (0, False)

    one = client.get(QUEUE, params={"limit": 1, "offset": 1}, headers=verif).json()
    assert [i["application_id"] for i in one["items"]] == [first]
    for bad in ({"limit": 0}, {"limit": 201}, {"offset": -1}, {"limit": "x"}):
        refused = client.get(QUEUE, params=bad, headers=verif)
        assert refused.status_code == 400, bad
        assert refused.json()["code"] == "request.invalid_body"

    kabid = _bearer(_token(client, Role.KABID))
    assert client.get(QUEUE, headers=kabid).json()["total"] == 0
    decisions.record_decision(
        server.db,
        application_id=first,
        action=Action.VERIFY,
        role=Role.VERIFIKATOR,
        actor_id=staff[Role.VERIFIKATOR],
        actor_name="Staf Verifikator/Sub Koord",
        reasons=None,
        now=utc_now(),
    )
    kabid_page = client.get(QUEUE, headers=kabid).json()
    assert [i["application_id"] for i in kabid_page["items"]] == [first]
    assert kabid_page["items"][0]["state"] == "verified"
    assert client.get(QUEUE, headers=verif).json()["total"] == 1
    kadis = _bearer(_token(client, Role.KEPALA_DINAS))
    assert client.get(QUEUE, headers=kadis).json() == {
        "items": [],
        "total": 0,
        "limit": 50,
        "offset": 0,
    }
