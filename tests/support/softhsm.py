"""A SoftHSM2 token holding the demo Kepala Dinas key and certificate, for PKCS#11 tests.

SoftHSM2 (Debian ``softhsm2``, installed by ``make system-deps``) reads ``SOFTHSM2_CONF``
when the library is initialised, and python-pkcs11 initialises it once per process: so one
token directory serves the whole test session (:func:`make_token`, called from a
session-scoped fixture).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from signing.demo_pki import FILES

LIBRARY_CANDIDATES = (
    Path("/usr/lib/softhsm/libsofthsm2.so"),
    Path("/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so"),
    Path("/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so"),
)
TOKEN_LABEL = "kk-tte-uji"
KEY_LABEL = "kepala-dinas"
USER_PIN = "246810"
SO_PIN = "13579111"


@dataclass(frozen=True)
class Token:
    library: Path
    label: str
    key_label: str
    pin: str


def library() -> Path:
    found = next((p for p in LIBRARY_CANDIDATES if p.is_file()), None)
    if found is None or shutil.which("softhsm2-util") is None:
        pytest.fail("SoftHSM2 tidak terpasang: jalankan `make system-deps`")
    return found


def make_token(directory: Path, pki: Path, p12_passphrase: str) -> Token:
    """Initialise a token in ``directory`` and import the demo signer's key and certificate."""
    import pkcs11
    from pkcs11.util.x509 import decode_x509_certificate

    lib_path = library()
    tokens = directory / "tokens"
    tokens.mkdir(parents=True)
    conf = directory / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {tokens}\nobjectstore.backend = file\n")
    os.environ["SOFTHSM2_CONF"] = str(conf)  # before the library is first initialised
    util = shutil.which("softhsm2-util")
    assert util is not None

    def run(*args: str) -> None:
        subprocess.run([util, *args], check=True, capture_output=True, timeout=60)

    run("--init-token", "--free", "--label", TOKEN_LABEL, "--pin", USER_PIN, "--so-pin", SO_PIN)
    key, cert, _ = pkcs12.load_key_and_certificates(
        (pki / FILES["signer_p12"]).read_bytes(), p12_passphrase.encode()
    )
    assert key is not None and cert is not None
    pem = directory / "key.pem"
    pem.touch(mode=0o600)
    pem.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    try:
        run("--import", str(pem), "--token", TOKEN_LABEL, "--label", KEY_LABEL, "--id", "01",
            "--pin", USER_PIN)  # fmt: skip
    finally:
        pem.unlink()  # the key lives on the token only
    token = pkcs11.lib(str(lib_path)).get_token(token_label=TOKEN_LABEL)
    with token.open(rw=True, user_pin=USER_PIN) as session:
        attributes = decode_x509_certificate(cert.public_bytes(serialization.Encoding.DER))
        attributes.update(
            {
                pkcs11.Attribute.TOKEN: True,
                pkcs11.Attribute.LABEL: KEY_LABEL,
                pkcs11.Attribute.ID: b"\x01",
            }
        )
        session.create_object(attributes)
    return Token(lib_path, TOKEN_LABEL, KEY_LABEL, USER_PIN)
