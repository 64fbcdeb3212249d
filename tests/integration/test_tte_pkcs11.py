"""The Kepala Dinas's key on a PKCS#11 token (SoftHSM2): KKs signed on the token validate at
PAdES B-LT like the PKCS#12 ones, a wrong PIN signs nothing, a missing token or key says
so; and the server signs a batch on the token with the PIN typed by the Kepala Dinas.
"""

# The fixtures are shared with test_staff_decisions; tests name them as parameters.
# ruff: noqa: F811

from __future__ import annotations

import logging
from datetime import date
from pathlib import Path

import pytest

from protocol.application import Application
from protocol.workflow import Role
from signing.demo_pki import FILES
from signing.kk_pdf import Official, render_kk
from signing.tte import TTEError, sign_batch, verify_kk
from signing.tte_pkcs11 import demo_pkcs11_signer
from tests.factories import application_dict
from tests.integration.conftest import TTE_PASSPHRASE, tte_config
from tests.integration.test_staff_decisions import (  # noqa: F401  (fixtures)
    counter,
    operator,
    staff,
    tokens,
)
from tests.integration.test_tte_workflow import approved
from tests.integration.test_tte_workflow import sign_batch as http_sign_batch
from tests.support.softhsm import Token, make_token


@pytest.fixture(autouse=True)
def _quiet_pyhanko() -> None:
    logging.getLogger("pyhanko").setLevel(logging.ERROR)


@pytest.fixture(scope="session")
def token(tmp_path_factory: pytest.TempPathFactory, demo_pki: Path) -> Token:
    return make_token(tmp_path_factory.mktemp("softhsm"), demo_pki, TTE_PASSPHRASE)


def _kk(number: str) -> bytes:
    return render_kk(
        Application.from_dict(application_dict()),
        kk_number=number,
        issued_on=date(2026, 11, 25),
        official=Official("Kepala Dinas Uji", "197001011990031001"),
        verification_url="https://kk.mubakab.go.id/verifikasi/UJI",
    )


def test_kks_signed_on_the_token_validate_at_b_lt(token, demo_pki):
    with demo_pkcs11_signer(
        token.library, demo_pki, token_label=token.label, pin=token.pin, key_label=token.key_label
    ) as signer:
        signed = sign_batch([_kk("1606012511260001"), _kk("1606012511260002")], signer)

    for pdf in signed:
        verdict = verify_kk(pdf, [demo_pki / FILES["root_cert"]])
        assert verdict.valid, verdict.message
        assert "Kepala Dinas" in verdict.signer


def test_a_wrong_pin_or_a_missing_token_signs_nothing(token, demo_pki):
    cases = [
        ({"pin": "000000"}, "tte.key_unreadable"),
        ({"token_label": "tidak-ada"}, "tte.token_unavailable"),
        ({"key_label": "kunci-lain"}, "tte.token_unavailable"),
    ]
    for change, code in cases:
        settings = {"token_label": token.label, "pin": token.pin, "key_label": token.key_label}
        settings.update(change)
        with pytest.raises(TTEError) as caught:
            with demo_pkcs11_signer(token.library, demo_pki, **settings):
                pass
        assert caught.value.code == code, change
    with pytest.raises(TTEError) as caught:
        with demo_pkcs11_signer(Path("/tidak/ada.so"), demo_pki, token_label=token.label,
                                pin=token.pin, key_label=token.key_label):  # fmt: skip
            pass
    assert caught.value.code == "tte.token_unavailable"


@pytest.fixture
def server_config(tmp_path, demo_pki, token):
    """A server whose Kepala Dinas key is on the token (the PIN is typed per batch)."""
    return tte_config(
        tmp_path,
        demo_pki,
        tte_pkcs11_library=token.library,
        tte_pkcs11_token=token.label,
        tte_pkcs11_key_label=token.key_label,
    )


def test_the_server_signs_a_batch_on_the_token(
    server, client, tokens, counter, operator, demo_pki, token
):
    ids = [approved(counter, client, tokens, operator) for _ in range(2)]
    kadis = tokens[Role.KEPALA_DINAS]

    wrong = http_sign_batch(client, kadis, ids, TTE_PASSPHRASE)  # the PKCS#12 passphrase
    assert wrong.status_code == 422 and wrong.json()["code"] == "tte.key_unreadable"
    response = http_sign_batch(client, kadis, ids, token.pin)

    assert response.json()["signed"] == 2, response.text
    for app_id in ids:
        pdf = client.get(f"/api/v1/applications/{app_id}/kk.pdf", headers=kadis).content
        assert verify_kk(pdf, [demo_pki / FILES["root_cert"]]).valid
