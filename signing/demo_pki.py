"""A demo PKI for the Kepala Dinas's electronic signature (TTE), made by ``kk-tte demo-pki``.

Production uses a BSrE-issued chain (the trust anchor is configuration); this one exists so
the system can sign and verify KKs on a fresh machine. It creates, in one new directory::

    root-ca.pem              root CA certificate (the demo trust anchor)
    root-ca.key              its private key (0600)
    root-ca.crl.pem          CRL signed by the root (revokes nothing yet)
    intermediate-ca.pem      intermediate CA certificate, issued by the root
    intermediate-ca.key      its private key (0600)
    intermediate-ca.crl.pem  CRL signed by the intermediate
    kepala-dinas.pem         the Kepala Dinas signing certificate
    kepala-dinas.p12         its key + certificate + chain, passphrase-protected (0600)
    tsa.pem / tsa.key        the local timestamping authority (EKU timeStamping, critical)
    chain.pem                intermediate + root, for embedding as validation data

Every issued certificate names a CRL distribution point URL under ``crl_base_url``; the
default lies in the reserved ``.invalid`` domain, so nothing ever fetches it: validators get
the CRLs from the files (and, at PAdES B-LT, from inside the signed PDF). Keys are ECDSA
P-256, except the TSA's (RSA-2048: pyhanko's local timestamper signs with RSA only).
Private key files are created with mode 0600 from the start; nothing is overwritten.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from protocol.errors import KKError, define_messages, message_for

__all__ = [
    "DemoPKI",
    "PKIError",
    "create_demo_pki",
    "issue_crl",
    "renew_demo_crls",
    "FILES",
    "DEFAULT_CRL_BASE_URL",
]

define_messages(
    {
        "pki.dir_not_empty": "Direktori {path} sudah berisi berkas; PKI demo tidak ditimpa. "
        "Pilih direktori baru atau kosong.",
        "pki.passphrase_too_short": "Frasa sandi PKCS#12 minimal {min} karakter.",
        "pki.not_a_directory": "{path} bukan direktori.",
    }
)

DEFAULT_CRL_BASE_URL = "http://pki.kk-demo.invalid/crl"
MIN_PASSPHRASE_LENGTH = 8

FILES = {
    "root_cert": "root-ca.pem",
    "root_key": "root-ca.key",
    "root_crl": "root-ca.crl.pem",
    "intermediate_cert": "intermediate-ca.pem",
    "intermediate_key": "intermediate-ca.key",
    "intermediate_crl": "intermediate-ca.crl.pem",
    "signer_cert": "kepala-dinas.pem",
    "signer_p12": "kepala-dinas.p12",
    "tsa_cert": "tsa.pem",
    "tsa_key": "tsa.key",
    "chain": "chain.pem",
}
"""File names inside the PKI directory, by role."""

_SECRET = {"root_key", "intermediate_key", "signer_p12", "tsa_key"}
_ORG = "Pemerintah Kabupaten Musi Banyuasin"
_UNIT = "Dinas Kependudukan dan Pencatatan Sipil (DEMO)"


class PKIError(KKError):
    """The demo PKI cannot be created (``code`` says why)."""

    code = "pki.dir_not_empty"


@dataclass(frozen=True, slots=True)
class DemoPKI:
    """Where the files of a created demo PKI are."""

    directory: Path

    def path(self, role: str) -> Path:
        """The path of the file for ``role`` (a key of :data:`FILES`)."""
        return self.directory / FILES[role]


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "ID"),
            x509.NameAttribute(NameOID.STATE_OR_PROVINCE_NAME, "Sumatera Selatan"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, _ORG),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, _UNIT),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _key_usage(
    *, cert_sign: bool = False, signature: bool = False, nr: bool = False
) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=signature,
        content_commitment=nr,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _cdp(url: str) -> x509.CRLDistributionPoints:
    return x509.CRLDistributionPoints(
        [
            x509.DistributionPoint(
                full_name=[x509.UniformResourceIdentifier(url)],
                relative_name=None,
                reasons=None,
                crl_issuer=None,
            )
        ]
    )


def _issue(
    subject: x509.Name,
    public_key: ec.EllipticCurvePublicKey | rsa.RSAPublicKey,
    issuer_cert: x509.Certificate | None,
    issuer_key: ec.EllipticCurvePrivateKey,
    *,
    now: dt.datetime,
    days: int,
    ca_path_length: int | None,
    is_ca: bool,
    usage: x509.KeyUsage,
    eku: x509.ExtendedKeyUsage | None = None,
    crl_url: str | None = None,
) -> x509.Certificate:
    issuer_name = issuer_cert.subject if issuer_cert is not None else subject
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=is_ca, path_length=ca_path_length), critical=True)
        .add_extension(usage, critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
            critical=False,
        )
    )
    if eku is not None:
        builder = builder.add_extension(eku, critical=True)
    if crl_url is not None:
        builder = builder.add_extension(_cdp(crl_url), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def issue_crl(
    issuer_cert: x509.Certificate,
    issuer_key: ec.EllipticCurvePrivateKey,
    *,
    now: dt.datetime,
    days: int,
    revoked: Sequence[x509.Certificate] = (),
    number: int = 1,
) -> x509.CertificateRevocationList:
    """A CRL of ``issuer_cert`` listing ``revoked`` (key compromise), valid ``days`` days."""
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(issuer_cert.subject)
        .last_update(now - dt.timedelta(minutes=5))
        .next_update(now + dt.timedelta(days=days))
        .add_extension(x509.CRLNumber(number), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
            critical=False,
        )
    )
    for cert in revoked:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder()
            .serial_number(cert.serial_number)
            .revocation_date(now - dt.timedelta(minutes=1))
            .add_extension(x509.CRLReason(x509.ReasonFlags.key_compromise), critical=False)
            .build()
        )
    return builder.sign(issuer_key, hashes.SHA256())


_crl = issue_crl


def _pem_key(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _write_new(path: Path, data: bytes, *, secret: bool) -> None:
    """Create ``path`` (never replacing a file); 0600 from the first byte when ``secret``."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600 if secret else 0o644)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.chmod(path, 0o600 if secret else 0o644)  # the umask must not widen or narrow it


def create_demo_pki(
    directory: Path,
    passphrase: str,
    *,
    signer_name: str = "Kepala Dinas Dukcapil Kabupaten Musi Banyuasin (DEMO)",
    crl_base_url: str = DEFAULT_CRL_BASE_URL,
    now: dt.datetime | None = None,
    crl_days: int = 30,
    signer_days: int = 730,
) -> DemoPKI:
    """Create a demo PKI in ``directory`` (new or empty) and return where its files are.

    Raises :class:`PKIError` when the directory already holds files (nothing is written
    then) or the passphrase is shorter than :data:`MIN_PASSPHRASE_LENGTH`.
    """
    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise PKIError(
            message_for("pki.not_a_directory", path=directory), code="pki.not_a_directory"
        )
    if directory.is_dir() and any(directory.iterdir()):
        raise PKIError(message_for("pki.dir_not_empty", path=directory), code="pki.dir_not_empty")
    if len(passphrase) < MIN_PASSPHRASE_LENGTH:
        raise PKIError(
            message_for("pki.passphrase_too_short", min=MIN_PASSPHRASE_LENGTH),
            code="pki.passphrase_too_short",
        )
    now = now or dt.datetime.now(dt.UTC)
    base = crl_base_url.rstrip("/")
    root_crl_url, int_crl_url = f"{base}/root-ca.crl", f"{base}/intermediate-ca.crl"
    curve = ec.SECP256R1()

    root_key = ec.generate_private_key(curve)
    root = _issue(
        _name("KK Demo Root CA"), root_key.public_key(), None, root_key, now=now,
        days=3650, ca_path_length=1, is_ca=True, usage=_key_usage(cert_sign=True),
    )  # fmt: skip
    int_key = ec.generate_private_key(curve)
    intermediate = _issue(
        _name("KK Demo Intermediate CA"), int_key.public_key(), root, root_key, now=now,
        days=1825, ca_path_length=0, is_ca=True, usage=_key_usage(cert_sign=True),
        crl_url=root_crl_url,
    )  # fmt: skip
    signer_key = ec.generate_private_key(curve)
    signer = _issue(
        _name(signer_name), signer_key.public_key(), intermediate, int_key, now=now,
        days=signer_days, ca_path_length=None, is_ca=False,
        usage=_key_usage(signature=True, nr=True), crl_url=int_crl_url,
    )  # fmt: skip
    # RSA for the TSA: pyhanko's local (dummy) timestamper signs tokens with RSA only.
    tsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    tsa = _issue(
        _name("KK Demo Timestamping Authority"), tsa_key.public_key(), intermediate, int_key,
        now=now, days=1095, ca_path_length=None, is_ca=False,
        usage=_key_usage(signature=True, nr=True),
        eku=x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), crl_url=int_crl_url,
    )  # fmt: skip
    p12 = pkcs12.serialize_key_and_certificates(
        b"kepala-dinas",
        signer_key,
        signer,
        [intermediate, root],
        serialization.BestAvailableEncryption(passphrase.encode("utf-8")),
    )
    crl_pem = serialization.Encoding.PEM
    contents = {
        "root_cert": _pem(root),
        "root_key": _pem_key(root_key),
        "root_crl": _crl(root, root_key, now=now, days=crl_days).public_bytes(crl_pem),
        "intermediate_cert": _pem(intermediate),
        "intermediate_key": _pem_key(int_key),
        "intermediate_crl": _crl(intermediate, int_key, now=now, days=crl_days).public_bytes(
            crl_pem
        ),
        "signer_cert": _pem(signer),
        "signer_p12": p12,
        "tsa_cert": _pem(tsa),
        "tsa_key": _pem_key(tsa_key),
        "chain": _pem(intermediate) + _pem(root),
    }
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    for role, data in contents.items():
        _write_new(directory / FILES[role], data, secret=role in _SECRET)
    return DemoPKI(directory)


def renew_demo_crls(directory: Path, *, now: dt.datetime | None = None, days: int = 30) -> int:
    """Re-issue the root and intermediate CRLs of a demo PKI, valid ``days`` more days.

    A KK is signed with the CRLs found in the directory, and pyhanko refuses to sign with
    stale ones: a demo server older than the CRLs' 30 days would stop signing. Revoked
    entries are kept; each CRL number grows by one. Files are replaced atomically. Returns
    the new intermediate CRL number.
    """
    directory = Path(directory)
    now = now or dt.datetime.now(dt.UTC)
    number = 0
    for cert_role, key_role, crl_role in (
        ("root_cert", "root_key", "root_crl"),
        ("intermediate_cert", "intermediate_key", "intermediate_crl"),
    ):
        cert = x509.load_pem_x509_certificate((directory / FILES[cert_role]).read_bytes())
        key = serialization.load_pem_private_key((directory / FILES[key_role]).read_bytes(), None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise TypeError(f"{FILES[key_role]} is not an EC key")
        old = x509.load_pem_x509_crl((directory / FILES[crl_role]).read_bytes())
        previous = old.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
        number = previous + 1
        crl = issue_crl(cert, key, now=now, days=days, number=number)
        builder = x509.CertificateRevocationListBuilder(
            issuer_name=crl.issuer,
            last_update=crl.last_update_utc,
            next_update=crl.next_update_utc,
            extensions=list(crl.extensions),
            revoked_certificates=list(old),
        )
        renewed = builder.sign(key, hashes.SHA256())
        target = directory / FILES[crl_role]
        tmp = target.with_suffix(".tmp")
        tmp.unlink(missing_ok=True)
        _write_new(tmp, renewed.public_bytes(serialization.Encoding.PEM), secret=False)
        os.replace(tmp, target)
    return number
