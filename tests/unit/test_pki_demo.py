"""``kk-tte demo-pki``: a chain that validates offline, right key usages, protected secrets."""

from __future__ import annotations

import asyncio
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from asn1crypto import crl as asn1_crl
from asn1crypto import x509 as asn1_x509
from click.testing import CliRunner
from cryptography import x509
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, ExtensionOID
from pyhanko_certvalidator import CertificateValidator, ValidationContext

from signing.cli import main
from signing.demo_pki import DEFAULT_CRL_BASE_URL, FILES, PKIError, create_demo_pki

PASSPHRASE = "rahasia-demo-123"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("pki") / "demo"
    create_demo_pki(directory, PASSPHRASE)
    return directory


def _cert(pki: Path, role: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate((pki / FILES[role]).read_bytes())


def _crl(pki: Path, role: str) -> x509.CertificateRevocationList:
    return x509.load_pem_x509_crl((pki / FILES[role]).read_bytes())


def _asn1(cert: x509.Certificate) -> asn1_x509.Certificate:
    from cryptography.hazmat.primitives.serialization import Encoding

    return asn1_x509.Certificate.load(cert.public_bytes(Encoding.DER))


def test_chain_validates_offline_with_crls_and_key_usage(pki: Path) -> None:
    from cryptography.hazmat.primitives.serialization import Encoding

    root, inter = _cert(pki, "root_cert"), _cert(pki, "intermediate_cert")
    crls = [
        asn1_crl.CertificateList.load(_crl(pki, r).public_bytes(Encoding.DER))
        for r in ("root_crl", "intermediate_crl")
    ]
    context = ValidationContext(
        trust_roots=[_asn1(root)],
        other_certs=[_asn1(inter)],
        crls=crls,
        revocation_mode="hard-fail",
        allow_fetching=False,
    )
    signer = CertificateValidator(_asn1(_cert(pki, "signer_cert")), validation_context=context)
    path = asyncio.run(signer.async_validate_usage({"digital_signature", "non_repudiation"}))
    assert len(path) == 3
    tsa_context = ValidationContext(
        trust_roots=[_asn1(root)],
        other_certs=[_asn1(inter)],
        crls=crls,
        revocation_mode="hard-fail",
        allow_fetching=False,
    )
    tsa = CertificateValidator(_asn1(_cert(pki, "tsa_cert")), validation_context=tsa_context)
    asyncio.run(tsa.async_validate_usage(set(), extended_key_usage={"time_stamping"}))


def test_each_certificate_is_signed_by_its_issuer(pki: Path) -> None:
    root, inter = _cert(pki, "root_cert"), _cert(pki, "intermediate_cert")
    root.verify_directly_issued_by(root)
    inter.verify_directly_issued_by(root)
    _cert(pki, "signer_cert").verify_directly_issued_by(inter)
    _cert(pki, "tsa_cert").verify_directly_issued_by(inter)


def test_key_usages_and_constraints(pki: Path) -> None:
    signer = _cert(pki, "signer_cert")
    ku = signer.extensions.get_extension_for_class(x509.KeyUsage)
    assert ku.critical and ku.value.digital_signature and ku.value.content_commitment
    assert not ku.value.key_cert_sign
    assert not signer.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    tsa = _cert(pki, "tsa_cert").extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    assert tsa.critical and list(tsa.value) == [ExtendedKeyUsageOID.TIME_STAMPING]
    for role in ("root_cert", "intermediate_cert"):
        cert = _cert(pki, role)
        assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
        assert cert.extensions.get_extension_for_class(x509.KeyUsage).value.key_cert_sign


def test_issued_certificates_name_a_crl_distribution_point(pki: Path) -> None:
    expected = {
        "intermediate_cert": f"{DEFAULT_CRL_BASE_URL}/root-ca.crl",
        "signer_cert": f"{DEFAULT_CRL_BASE_URL}/intermediate-ca.crl",
        "tsa_cert": f"{DEFAULT_CRL_BASE_URL}/intermediate-ca.crl",
    }
    for role, url in expected.items():
        cdp = _cert(pki, role).extensions.get_extension_for_oid(
            ExtensionOID.CRL_DISTRIBUTION_POINTS
        )
        assert [n.value for p in cdp.value for n in p.full_name] == [url]


def test_crls_are_signed_by_their_issuers(pki: Path) -> None:
    root, inter = _cert(pki, "root_cert"), _cert(pki, "intermediate_cert")
    root_crl, inter_crl = _crl(pki, "root_crl"), _crl(pki, "intermediate_crl")
    assert root_crl.is_signature_valid(root.public_key())
    assert inter_crl.is_signature_valid(inter.public_key())
    assert not inter_crl.is_signature_valid(root.public_key())
    assert root_crl.issuer == root.subject and inter_crl.issuer == inter.subject
    assert len(root_crl) == 0 and len(inter_crl) == 0


def test_pkcs12_opens_only_with_the_passphrase(pki: Path) -> None:
    data = (pki / FILES["signer_p12"]).read_bytes()
    key, cert, chain = pkcs12.load_key_and_certificates(data, PASSPHRASE.encode())
    assert key is not None and cert == _cert(pki, "signer_cert")
    assert chain == [_cert(pki, "intermediate_cert"), _cert(pki, "root_cert")]
    for wrong in (b"salah-sandi-123", None):
        with pytest.raises(ValueError):
            pkcs12.load_key_and_certificates(data, wrong)


def test_private_keys_are_owner_only(pki: Path) -> None:
    for role, name in FILES.items():
        mode = stat.S_IMODE((pki / name).stat().st_mode)
        secret = role.endswith("_key") or role == "signer_p12"
        assert mode == (0o600 if secret else 0o644), (name, oct(mode))
    for name in FILES.values():
        if not name.endswith((".key", ".p12")):
            assert b"PRIVATE KEY" not in (pki / name).read_bytes()


def test_never_overwrites_and_writes_nothing_on_refusal(pki: Path, tmp_path: Path) -> None:
    before = {p.name: p.read_bytes() for p in pki.iterdir()}
    with pytest.raises(PKIError) as caught:
        create_demo_pki(pki, PASSPHRASE)
    assert caught.value.code == "pki.dir_not_empty"
    assert {p.name: p.read_bytes() for p in pki.iterdir()} == before
    other = tmp_path / "lain"
    other.mkdir()
    (other / "catatan.txt").write_text("milik orang lain")
    with pytest.raises(PKIError):
        create_demo_pki(other, PASSPHRASE)
    assert [p.name for p in other.iterdir()] == ["catatan.txt"]


def test_short_passphrase_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PKIError) as caught:
        create_demo_pki(tmp_path / "pki", "pendek")
    assert caught.value.code == "pki.passphrase_too_short"
    assert not (tmp_path / "pki").exists()


def test_cli_prompts_twice_and_speaks_indonesian(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["demo-pki", str(tmp_path / "pki")], input=f"{PASSPHRASE}\n{PASSPHRASE}\n"
    )
    assert result.exit_code == 0, result.output
    assert "PKI demo dibuat di" in result.output and "kepala-dinas.p12" in result.output
    again = CliRunner().invoke(
        main, ["demo-pki", str(tmp_path / "pki"), "--passphrase-stdin"], input=f"{PASSPHRASE}\n"
    )
    assert again.exit_code == 1
    assert "Galat:" in again.output and "tidak ditimpa" in again.output


def test_installed_script_reads_the_passphrase_from_stdin(tmp_path: Path) -> None:
    script = Path(sys.executable).parent / "kk-tte"
    result = subprocess.run(
        [str(script), "demo-pki", str(tmp_path / "pki"), "--passphrase-stdin"],
        input=f"{PASSPHRASE}\n",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    data = (tmp_path / "pki" / FILES["signer_p12"]).read_bytes()
    assert pkcs12.load_key_and_certificates(data, PASSPHRASE.encode())[0] is not None


def test_issue_crl_revokes_a_certificate(pki: Path) -> None:
    import datetime as dt

    from cryptography.hazmat.primitives import serialization

    from signing.demo_pki import issue_crl

    inter = _cert(pki, "intermediate_cert")
    key = serialization.load_pem_private_key((pki / FILES["intermediate_key"]).read_bytes(), None)
    signer = _cert(pki, "signer_cert")
    crl = issue_crl(inter, key, now=dt.datetime.now(dt.UTC), days=7, revoked=[signer], number=2)
    assert crl.is_signature_valid(inter.public_key())
    entry = crl.get_revoked_certificate_by_serial_number(signer.serial_number)
    assert entry is not None
    assert entry.extensions.get_extension_for_class(x509.CRLReason).value.reason == (
        x509.ReasonFlags.key_compromise
    )
    assert (
        crl.get_revoked_certificate_by_serial_number(_cert(pki, "tsa_cert").serial_number) is None
    )


def test_signer_validity_is_configurable(tmp_path: Path) -> None:
    create_demo_pki(tmp_path / "pki", PASSPHRASE, signer_days=1)
    cert = _cert(tmp_path / "pki", "signer_cert")
    span = cert.not_valid_after_utc - cert.not_valid_before_utc
    assert span.days == 1
