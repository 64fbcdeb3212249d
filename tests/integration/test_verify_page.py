"""The public KK verification behind the QR code, on a real server: "Aktif", "Tidak aktif
(digantikan KK yang lebih baru)" and "Tidak ditemukan" as an Indonesian page and as JSON,
with the signer and date and no name, NIK or address; tokens, not KK numbers, so the
registry cannot be walked; rate-limited per client address.
"""

# The fixtures are shared with test_staff_decisions; tests name them as parameters.
# ruff: noqa: F811

from __future__ import annotations

import logging
from urllib.parse import urlsplit

import httpx
import pytest

from protocol.workflow import Role
from tests.factories import CHILD_NIK, HEAD_NIK
from tests.integration.conftest import tte_config
from tests.integration.test_staff_decisions import (  # noqa: F401  (fixtures)
    counter,
    operator,
    staff,
    tokens,
)
from tests.integration.test_tte_workflow import (
    DATA_CHANGE,
    DATA_CHANGE_DOCS,
    FAMILY_KK,
    LOST,
    LOST_DOCS,
    approved,
    sign_batch,
)
from tests.support.http import problem


@pytest.fixture(autouse=True)
def _quiet_pyhanko() -> None:
    logging.getLogger("pyhanko").setLevel(logging.ERROR)


@pytest.fixture
def server_config(tmp_path, demo_pki, request):
    """Indirect parameter: look-ups allowed per client address and minute."""
    return tte_config(tmp_path, demo_pki, verify_rate_per_minute=getattr(request, "param", 100))


def signed(client, tokens, counter, operator, **changes) -> dict:
    app_id = approved(counter, client, tokens, operator, **changes)
    [result] = sign_batch(client, tokens[Role.KEPALA_DINAS], [app_id]).json()["results"]
    assert result["status"] == "signed", result
    return result


def page_path(result: dict) -> str:
    path = urlsplit(result["verification_url"]).path
    assert path.startswith("/verifikasi/")
    return path


def json_path(result: dict) -> str:
    return "/api/v1/verify/" + page_path(result).rsplit("/", 1)[1]


def assert_no_personal_data(text: str) -> None:
    for secret in ("AHMAD", "Ahmad", "RINA", HEAD_NIK, CHILD_NIK, "Merdeka", "KAYU ARA"):
        assert secret not in text


def test_an_issued_kk_shows_aktif_with_signer_and_date(server, client, tokens, counter, operator):
    result = signed(client, tokens, counter, operator)
    number = result["kk_number"]

    page = client.get(page_path(result))
    data = client.get(json_path(result))

    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["referrer-policy"] == "no-referrer"
    assert page.headers["cache-control"] == "no-store"
    assert "default-src 'none'" in page.headers["content-security-policy"]
    html = page.text
    assert 'lang="id"' in html and "Verifikasi Kartu Keluarga" in html
    assert ">Aktif<" in html and "Ditandatangani oleh" in html
    assert "Kepala Dinas Dukcapil Kabupaten Musi Banyuasin" in html
    masked = number[:6] + "******" + number[-4:]
    assert masked in html and number not in html
    assert_no_personal_data(html)
    assert data.status_code == 200
    body = data.json()
    assert (body["status"], body["label"], body["kk_number"]) == ("aktif", "Aktif", masked)
    assert body["signed_at"].endswith("WIB") and body["issued_on"].count("-") == 2
    assert "Kepala Dinas" in body["signer"] and len(body["sha256"]) == 64
    assert_no_personal_data(data.text)


def test_a_superseded_kk_shows_tidak_aktif(server, client, tokens, counter, operator):
    first = signed(client, tokens, counter, operator, service=DATA_CHANGE,
                   attached_documents=DATA_CHANGE_DOCS, kk_number=FAMILY_KK)  # fmt: skip
    assert client.get(json_path(first)).json()["status"] == "aktif"
    second = signed(client, tokens, counter, operator, service=LOST,
                    attached_documents=LOST_DOCS, kk_number=FAMILY_KK)  # fmt: skip

    old_page, old = client.get(page_path(first)), client.get(json_path(first)).json()
    new = client.get(json_path(second)).json()

    assert "Tidak aktif (digantikan KK yang lebih baru)" in old_page.text
    assert (old["status"], old["label"]) == (
        "tidak_aktif",
        "Tidak aktif (digantikan KK yang lebih baru)",
    )
    assert old["superseded_on"] and new["status"] == "aktif"
    assert old["kk_number"] == new["kk_number"]


def test_unknown_tokens_and_kk_numbers_are_not_found(server, client, tokens, counter, operator):
    result = signed(client, tokens, counter, operator)
    token = page_path(result).rsplit("/", 1)[1]
    assert len(token) >= 22  # 128 random bits

    for guess in (result["kk_number"], token[:-1] + ("A" if token[-1] != "A" else "B"), "x"):
        page = client.get(f"/verifikasi/{guess}")
        assert page.status_code == 404 and "Tidak ditemukan" in page.text
        body = problem(client.get(f"/api/v1/verify/{guess}"), 404, "verify.not_found")
        assert body["verification"] == "tidak_ditemukan"
    escaped = client.get("/verifikasi/%3Cscript%3E")
    assert "<script>" not in escaped.text


@pytest.mark.parametrize("server_config", [4], indirect=True)
def test_look_ups_are_rate_limited_per_address(server, client):
    for _ in range(2):
        assert client.get("/verifikasi/AAAAAAAAAAAAAAAAAAAAAA").status_code == 404
        assert client.get("/api/v1/verify/AAAAAAAAAAAAAAAAAAAAAA").status_code == 404

    page = client.get("/verifikasi/AAAAAAAAAAAAAAAAAAAAAA")
    data = client.get("/api/v1/verify/AAAAAAAAAAAAAAAAAAAAAA")

    assert page.status_code == 429 and "Terlalu banyak pemeriksaan" in page.text
    assert int(page.headers["retry-after"]) >= 1
    body = problem(data, 429, "verify.throttled")
    assert data.headers["retry-after"] == str(body["retry_after"])
    # another address is not affected
    transport = httpx.HTTPTransport(local_address="127.0.0.2")
    with httpx.Client(base_url=server.base_url, transport=transport, timeout=30) as other:
        assert other.get("/api/v1/verify/AAAAAAAAAAAAAAAAAAAAAA").status_code == 404
