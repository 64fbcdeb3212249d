"""TTE: PAdES B-LT signing of a KK and offline verification, judged on pyhanko's bottom line
and cross-checked with poppler's ``pdfsig`` (needs ``poppler-utils`` and ``libnss3-tools``:
``make system-deps``; the tests fail, never skip, without them).
"""

from __future__ import annotations

import datetime as dt
import io
import logging
import shutil
import subprocess
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.sign.validation.dss import DocumentSecurityStore
from pyhanko_certvalidator import ValidationContext
from pypdf import PdfReader

from protocol.application import Application
from signing.cli import EXIT_CODES, main
from signing.demo_pki import FILES, create_demo_pki, issue_crl, renew_demo_crls
from signing.kk_pdf import Official, render_kk
from signing.tte import TTEError, load_demo_signer, sign_kk, verify_kk
from tests.factories import application_dict

PASSPHRASE = "rahasia-demo-123"


@pytest.fixture(autouse=True)
def _quiet_pyhanko() -> None:
    logging.getLogger("pyhanko").setLevel(logging.ERROR)


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} tidak terpasang: jalankan `make system-deps`")
    return found


def _kk() -> bytes:
    return render_kk(
        Application.from_dict(application_dict()),
        kk_number="1606010203040005",
        issued_on=date(2025, 11, 25),
        official=Official("Drs. H. Contoh Pejabat, M.Si", "197001011990031001"),
        verification_url="https://kk.example.go.id/v/3f2a9c",
    )


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("tte") / "pki"
    create_demo_pki(directory, PASSPHRASE)
    return directory


@pytest.fixture(scope="module")
def signed(pki: Path) -> bytes:
    logging.getLogger("pyhanko").setLevel(logging.ERROR)
    return sign_kk(_kk(), load_demo_signer(pki, PASSPHRASE))


def _root(pki: Path) -> list[Path]:
    return [pki / FILES["root_cert"]]


def test_signed_kk_validates_with_pyhanko_at_b_lt(pki: Path, signed: bytes) -> None:
    reader = PdfFileReader(io.BytesIO(signed))
    (sig,) = reader.embedded_signatures
    dss = DocumentSecurityStore.read_dss(reader)
    assert len(list(dss.crls)) >= 2 and len(list(dss.load_certs())) >= 3  # B-LT data
    root = x509.load_pem_x509_certificate((pki / FILES["root_cert"]).read_bytes())
    from asn1crypto import x509 as asn1_x509

    anchor = asn1_x509.Certificate.load(root.public_bytes(serialization.Encoding.DER))
    context = dss.as_validation_context(
        {"trust_roots": [anchor], "allow_fetching": False, "revocation_mode": "hard-fail"}
    )
    status = validate_pdf_signature(sig, context)
    assert status.bottom_line and status.intact and status.valid and status.trusted
    assert status.timestamp_validity is not None and status.timestamp_validity.trusted
    only_root = ValidationContext(trust_roots=[anchor], allow_fetching=False)
    assert validate_pdf_signature(sig, only_root).intact
    verdict = verify_kk(signed, _root(pki))
    assert verdict.valid and verdict.code == "tte.valid"
    assert "Kepala Dinas" in verdict.signer and verdict.signed_at is not None
    assert len(signed) <= 150 * 1024
    text = PdfReader(io.BytesIO(signed)).pages[0].extract_text()
    assert "KARTU KELUARGA" in text  # the signed file is still the KK


def test_a_flipped_byte_fails(pki: Path, signed: bytes) -> None:
    start = signed.index(b"stream", len(signed) // 4)
    data = bytearray(signed)
    data[start + 40] ^= 0x01
    verdict = verify_kk(bytes(data), _root(pki))
    assert not verdict.valid and verdict.code == "tte.modified"


def test_an_incremental_update_changing_page_content_fails(pki: Path, signed: bytes) -> None:
    writer = IncrementalPdfFileWriter(io.BytesIO(signed))
    stream = generic.StreamObject(stream_data=b"0 0 1 rg 100 100 300 200 re f")
    writer.add_stream_to_page(0, writer.add_object(stream))
    out = io.BytesIO()
    writer.write(out)
    tampered = out.getvalue()
    (sig,) = PdfFileReader(io.BytesIO(tampered)).embedded_signatures
    reader = PdfFileReader(io.BytesIO(tampered))
    root_der = x509.load_pem_x509_certificate((pki / FILES["root_cert"]).read_bytes()).public_bytes(
        serialization.Encoding.DER
    )
    from asn1crypto import x509 as asn1_x509

    context = DocumentSecurityStore.read_dss(reader).as_validation_context(
        {"trust_roots": [asn1_x509.Certificate.load(root_der)], "allow_fetching": False}
    )
    status = validate_pdf_signature(sig, context)
    assert status.intact and status.valid  # the signed bytes are untouched...
    assert not status.bottom_line  # ...but the page changed after signing
    verdict = verify_kk(tampered, _root(pki))
    assert verdict.code == "tte.modified"


def test_untrusted_root_fails(tmp_path: Path, signed: bytes) -> None:
    other = tmp_path / "lain"
    create_demo_pki(other, PASSPHRASE)
    assert verify_kk(signed, _root(other)).code == "tte.untrusted"


def test_revoked_certificate_fails(pki: Path, signed: bytes, tmp_path: Path) -> None:
    inter = x509.load_pem_x509_certificate((pki / FILES["intermediate_cert"]).read_bytes())
    key = serialization.load_pem_private_key((pki / FILES["intermediate_key"]).read_bytes(), None)
    signer = x509.load_pem_x509_certificate((pki / FILES["signer_cert"]).read_bytes())
    crl = issue_crl(inter, key, now=dt.datetime.now(dt.UTC), days=30, revoked=[signer], number=2)  # type: ignore[arg-type]
    path = tmp_path / "intermediate-baru.crl.pem"
    path.write_bytes(crl.public_bytes(serialization.Encoding.PEM))
    assert verify_kk(signed, _root(pki), crls=[path]).code == "tte.revoked"
    pdf = tmp_path / "kk.pdf"
    pdf.write_bytes(signed)
    result = CliRunner().invoke(
        main, ["verify", str(pdf), "--trust", str(_root(pki)[0]), "--crl", str(path)]
    )
    assert result.exit_code == EXIT_CODES["tte.revoked"] == 6
    assert "dicabut" in result.output and "tte.revoked" in result.output


def test_a_b_lt_kk_outlives_its_signer_certificate_and_crls(tmp_path: Path) -> None:
    """B-LT validates as of the signature timestamp: a KK signed while the certificate was
    valid stays valid after it expired and after the embedded CRLs went stale (offline),
    while a bare B-B signature, with no proof of when it was made, is then expired."""
    short = tmp_path / "pendek"
    create_demo_pki(short, PASSPHRASE, signer_days=1, crl_days=7)
    signer = load_demo_signer(short, PASSPHRASE)
    signed, bare = sign_kk(_kk(), signer), sign_kk(_kk(), signer, level="B-B")
    crls = [short / FILES["root_crl"], short / FILES["intermediate_crl"]]
    assert verify_kk(signed, _root(short)).valid
    assert verify_kk(bare, _root(short), crls=crls).valid
    now = dt.datetime.now(dt.UTC)
    for days in (2, 30, 1000):  # certificate expired; CRLs stale; years later
        verdict = verify_kk(signed, _root(short), moment=now + dt.timedelta(days=days))
        assert verdict.valid, (days, verdict.code)
        assert verdict.signed_at is not None and verdict.signed_at < now + dt.timedelta(hours=1)
    verdict = verify_kk(bare, _root(short), crls=crls, moment=now + dt.timedelta(days=2))
    assert verdict.code == "tte.expired" and "kedaluwarsa" in verdict.message
    # never excused: a change, or a signer revoked by the data at hand
    data = bytearray(signed)
    data[signed.index(b"stream", len(signed) // 4) + 40] ^= 0x01
    later = now + dt.timedelta(days=30)
    assert verify_kk(bytes(data), _root(short), moment=later).code == "tte.modified"


def test_signing_with_an_expired_certificate_is_refused(tmp_path: Path) -> None:
    old = tmp_path / "lama"
    three_days_ago = dt.datetime.now(dt.UTC) - dt.timedelta(days=3)
    create_demo_pki(old, PASSPHRASE, signer_days=1, now=three_days_ago)
    with pytest.raises(TTEError) as caught:
        sign_kk(_kk(), load_demo_signer(old, PASSPHRASE))
    assert caught.value.code == "tte.sign_failed"


def test_unsigned_pdf_and_garbage(pki: Path) -> None:
    assert verify_kk(_kk(), _root(pki)).code == "tte.not_signed"
    assert verify_kk(b"bukan pdf", _root(pki)).code == "tte.unreadable"


def test_wrong_passphrase_is_refused(pki: Path) -> None:
    with pytest.raises(TTEError) as caught:
        load_demo_signer(pki, "salah-sandi-123")
    assert caught.value.code == "tte.key_unreadable"


def test_the_key_is_parsed_once_per_batch(pki: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    signer = load_demo_signer(pki, PASSPHRASE)
    from pyhanko.sign.signers import pdf_cms

    def refuse(*_a: object, **_k: object) -> None:
        raise AssertionError("key parsed again")

    monkeypatch.setattr(pdf_cms.serialization, "load_der_private_key", refuse)
    pdf = _kk()
    for _ in range(2):
        assert verify_kk(sign_kk(pdf, signer), _root(pki)).valid


def test_cli_verify_exit_codes(pki: Path, signed: bytes, tmp_path: Path) -> None:
    good = tmp_path / "kk.pdf"
    good.write_bytes(signed)
    ok = CliRunner().invoke(main, ["verify", str(good), "--trust", str(_root(pki)[0])])
    assert ok.exit_code == 0 and "SAH" in ok.output and "tte.valid" in ok.output
    unsigned = tmp_path / "draf.pdf"
    unsigned.write_bytes(_kk())
    bad = CliRunner().invoke(main, ["verify", str(unsigned), "--trust", str(_root(pki)[0])])
    assert bad.exit_code == 7 and "tidak bertanda tangan" in bad.output
    assert len(set(EXIT_CODES.values())) == len(EXIT_CODES)


def test_cli_sample_makes_a_signed_kk(tmp_path: Path) -> None:
    pki_dir = tmp_path / "pki"
    out = tmp_path / "contoh.pdf"
    result = CliRunner().invoke(
        main,
        ["sample", str(out), "--pki", str(pki_dir), "--passphrase-stdin"],
        input=f"{PASSPHRASE}\n",
    )
    assert result.exit_code == 0, result.output
    assert verify_kk(out.read_bytes(), [pki_dir / FILES["root_cert"]]).valid
    assert "KARTU KELUARGA" in PdfReader(str(out)).pages[0].extract_text()


def test_pdfsig_independently_accepts_the_signature(
    pki: Path, signed: bytes, tmp_path: Path
) -> None:
    certutil, pdfsig = _tool("certutil"), _tool("pdfsig")
    nss = tmp_path / "nss"
    nss.mkdir()
    subprocess.run([certutil, "-N", "-d", f"sql:{nss}", "--empty-password"], check=True, timeout=30)
    subprocess.run(
        [certutil, "-A", "-d", f"sql:{nss}", "-n", "kk-demo-root", "-t", "CT,C,C", "-i"]
        + [str(_root(pki)[0])],
        check=True,
        timeout=30,
    )
    pdf = tmp_path / "kk.pdf"
    pdf.write_bytes(signed)
    result = subprocess.run(
        [pdfsig, "-nssdir", f"sql:{nss}", str(pdf)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert "Signature is Valid" in result.stdout, result.stdout + result.stderr
    assert "Certificate is Trusted" in result.stdout
    assert "Kepala Dinas" in result.stdout
    data = bytearray(signed)
    data[signed.index(b"stream", len(signed) // 4) + 40] ^= 0x01
    pdf.write_bytes(bytes(data))
    broken = subprocess.run(
        [pdfsig, "-nssdir", f"sql:{nss}", str(pdf)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert "Signature is Valid" not in broken.stdout


def test_a_b_b_signature_without_validation_data_is_judged_too(pki: Path) -> None:
    from pyhanko.sign import signers

    signer = load_demo_signer(pki, PASSPHRASE)
    meta = signers.PdfSignatureMetadata(field_name="TTE")
    out = signers.sign_pdf(IncrementalPdfFileWriter(io.BytesIO(_kk())), meta, signer.signer)
    verdict = verify_kk(out.getvalue(), _root(pki))
    assert verdict.code == "tte.revocation_unknown"  # no CRLs in the file, none fetched


def test_an_unreadable_trust_file_is_a_clear_error_not_a_traceback(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    bad = tmp_path / "bukan-sertifikat.pem"
    bad.write_text("ini bukan sertifikat")
    pdf = tmp_path / "kosong.pdf"
    pdf.write_bytes(b"%PDF-1.4\n")
    kk_tte = str(Path(sys.executable).parent / "kk-tte")
    for trust in (str(bad), "/dev/null"):
        result = subprocess.run(
            [kk_tte, "verify", str(pdf), "--trust", trust],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert "Traceback" not in result.stdout + result.stderr
        assert result.returncode in (9, 11)


def test_renewed_crls_let_an_old_demo_pki_sign_again(tmp_path: Path) -> None:
    old = tmp_path / "lama"
    create_demo_pki(old, PASSPHRASE, now=dt.datetime.now(dt.UTC) - dt.timedelta(days=40))
    with pytest.raises(TTEError):  # the CRLs of 40 days ago are stale: no signing
        sign_kk(_kk(), load_demo_signer(old, PASSPHRASE))
    # an entry listed by the old CRL survives renewal (a serial no demo certificate has)
    inter = x509.load_pem_x509_certificate((old / FILES["intermediate_cert"]).read_bytes())
    key = serialization.load_pem_private_key((old / FILES["intermediate_key"]).read_bytes(), None)
    gone = x509.load_pem_x509_certificate((old / FILES["root_cert"]).read_bytes())
    listed = issue_crl(inter, key, now=dt.datetime.now(dt.UTC) - dt.timedelta(days=39),
                       days=1, revoked=[gone], number=7)  # type: ignore[arg-type]  # fmt: skip
    (old / FILES["intermediate_crl"]).write_bytes(listed.public_bytes(serialization.Encoding.PEM))

    assert renew_demo_crls(old) == 8

    crl = x509.load_pem_x509_crl((old / FILES["intermediate_crl"]).read_bytes())
    assert crl.get_revoked_certificate_by_serial_number(gone.serial_number) is not None
    assert crl.next_update_utc > dt.datetime.now(dt.UTC) + dt.timedelta(days=29)
    assert crl.is_signature_valid(inter.public_key())
    signed = sign_kk(_kk(), load_demo_signer(old, PASSPHRASE))
    assert verify_kk(signed, _root(old)).valid
