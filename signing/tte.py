"""The Kepala Dinas's electronic signature (TTE) on a KK: PAdES B-LT with pyhanko, offline.

Signing (:func:`sign_kk`) embeds, besides the CMS signature, a timestamp from the local
timestamping authority and the validation data (certificates and CRLs in the document
security store), so the signature can be checked years later without network: PAdES B-LT.

The key is held by a :class:`KKSigner`, made once per batch: loading a PKCS#12 costs a key
derivation (~50 ms) and the stock pyhanko signer re-parses the key for every signature, so
:class:`CachedKeySigner` keeps the parsed key. Production keeps the key on a PKCS#11 token
(BSrE); only :class:`KKSigner` construction changes (``pyhanko.sign.pkcs11.PKCS11Signer``
is a ``pyhanko`` ``Signer`` too), :func:`sign_kk` does not.

Verification (:func:`verify_kk`) is offline, against a trust anchor given as configuration
(a PEM path), with the validation data embedded in the file, and decides on pyhanko's
``bottom_line`` (which also catches content changed by a later incremental update), never
merely on "intact". Every failure has a stable code and an Indonesian reason.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from asn1crypto import cms, core
from asn1crypto import crl as asn1_crl
from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ec import ECDSA, EllipticCurvePrivateKey
from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from cryptography.hazmat.primitives.serialization import pkcs12
from pyhanko.keys import load_cert_from_pemder, load_certs_from_pemder
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields, general, signers
from pyhanko.sign.ades.report import AdESFailure, AdESIndeterminate
from pyhanko.sign.general import SigningError, get_pyca_cryptography_hash, simple_cms_attribute
from pyhanko.sign.timestamps import TimeStamper
from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper
from pyhanko.sign.validation import async_validate_pdf_signature
from pyhanko.sign.validation.dss import DocumentSecurityStore
from pyhanko.sign.validation.errors import NoDSSFoundError, SignatureValidationError
from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature
from pyhanko.sign.validation.status import PdfSignatureStatus
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.registry import SimpleCertificateStore

from protocol.errors import KKError, define_messages, message_for
from signing.demo_pki import FILES

__all__ = [
    "CachedKeySigner",
    "KKSigner",
    "LocalTimeStamper",
    "TTEError",
    "Verdict",
    "batch_validation",
    "load_pkcs12_signer",
    "sign_batch",
    "sign_batch_each",
    "sign_kk",
    "sign_kk_async",
    "verify_kk",
    "verify_kk_async",
]

define_messages(
    {
        "tte.trust_unreadable": "Sertifikat root (--trust) atau CRL (--crl) tidak dapat "
        "dibaca sebagai sertifikat PEM/DER: {detail}.",
        "tte.valid": "Tanda tangan elektronik sah: dokumen utuh, ditandatangani oleh "
        "{signer} pada {when}.",
        "tte.not_signed": "Dokumen tidak bertanda tangan elektronik.",
        "tte.modified": "Dokumen telah diubah setelah ditandatangani; isinya tidak dapat "
        "dipercaya.",
        "tte.untrusted": "Penandatangan tidak dipercaya: sertifikatnya tidak berasal dari "
        "otoritas sertifikat yang dikonfigurasi.",
        "tte.expired": "Sertifikat penandatangan sudah kedaluwarsa (atau belum berlaku).",
        "tte.revoked": "Sertifikat penandatangan telah dicabut.",
        "tte.revocation_unknown": "Status pencabutan sertifikat penandatangan tidak dapat "
        "diperiksa secara luring: data validasi (CRL) tidak ada atau sudah kedaluwarsa.",
        "tte.invalid": "Tanda tangan elektronik tidak sah ({detail}).",
        "tte.unreadable": "Berkas bukan PDF yang dapat dibaca: {detail}",
        "tte.key_unreadable": "Kunci TTE tidak dapat dibuka: frasa sandi salah atau berkas "
        "PKCS#12 rusak.",
        "tte.sign_failed": "Penandatanganan gagal: {detail}",
    }
)

FIELD_NAME = "TTE-KepalaDinas"


class TTEError(KKError):
    """Signing could not be done (``code``: ``tte.key_unreadable``, ``tte.sign_failed``)."""

    code = "tte.sign_failed"


# -- signing -----------------------------------------------------------------------------


class CachedKeySigner(signers.SimpleSigner):
    """A pyhanko signer that parses its private key once, not on every signature."""

    def __init__(
        self,
        signing_cert: asn1_x509.Certificate,
        private_key: EllipticCurvePrivateKey | RSAPrivateKey,
        cert_registry: SimpleCertificateStore,
    ) -> None:
        der = private_key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        super().__init__(signing_cert, asn1_keys.PrivateKeyInfo.load(der), cert_registry)
        self._key = private_key

    def sign_raw(self, data: bytes, digest_algorithm: str) -> bytes:
        """Sign ``data`` with the cached key (ECDSA, or RSA PKCS#1 v1.5)."""
        hash_algo = get_pyca_cryptography_hash(digest_algorithm)
        if isinstance(self._key, EllipticCurvePrivateKey):
            return self._key.sign(data, ECDSA(hash_algo))
        return self._key.sign(data, PKCS1v15(), hash_algo)


class LocalTimeStamper(DummyTimeStamper):
    """The local timestamping authority (the demo TSA certificate), no network.

    pyhanko's ``DummyTimeStamper`` with the RSA key parsed once instead of per token.
    Production uses ``pyhanko.sign.timestamps.HTTPTimeStamper`` against a real TSA.
    """

    def __init__(
        self,
        tsa_cert: asn1_x509.Certificate,
        tsa_key: RSAPrivateKey,
        certs_to_embed: Sequence[asn1_x509.Certificate] = (),
    ) -> None:
        der = tsa_key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        super().__init__(
            tsa_cert=tsa_cert,
            tsa_key=asn1_keys.PrivateKeyInfo.load(der),
            certs_to_embed=list(certs_to_embed),  # type: ignore[arg-type]
        )
        self._key = tsa_key

    def _sign_tst_info(
        self, tst_info_data: bytes, md_algorithm: str, when: dt.datetime
    ) -> tuple[bytes, cms.CMSAttributes]:
        md = hashes.Hash(get_pyca_cryptography_hash(md_algorithm))
        md.update(tst_info_data)
        signed_attrs = cms.CMSAttributes(
            [
                simple_cms_attribute("content_type", "tst_info"),
                simple_cms_attribute("signing_time", cms.Time({"utc_time": core.UTCTime(when)})),
                simple_cms_attribute(
                    "signing_certificate", general.as_signing_certificate(self.tsa_cert)
                ),
                simple_cms_attribute("message_digest", md.finalize()),
            ]
        )
        signature = self._key.sign(
            signed_attrs.dump(), PKCS1v15(), get_pyca_cryptography_hash(md_algorithm.upper())
        )
        return signature, signed_attrs


@dataclass(frozen=True)
class KKSigner:
    """Everything one batch of signatures needs, loaded once.

    ``signer`` holds the key (:class:`CachedKeySigner` from a PKCS#12 today; a pyhanko
    ``PKCS11Signer`` on a token later), ``validation_context`` the chain and CRLs embedded
    as validation data, ``timestamper`` the TSA (local in the demo, ``HTTPTimeStamper`` of
    a real TSA in production).
    """

    signer: signers.Signer
    validation_context: ValidationContext
    timestamper: TimeStamper
    signer_name: str = ""


def _asn1(cert: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


def load_crls(paths: Iterable[Path]) -> list[asn1_crl.CertificateList]:
    """CRLs from PEM or DER files, as pyhanko wants them."""
    found = []
    for path in paths:
        data = Path(path).read_bytes()
        pem = data.lstrip().startswith(b"-----")
        crl = x509.load_pem_x509_crl(data) if pem else x509.load_der_x509_crl(data)
        found.append(asn1_crl.CertificateList.load(crl.public_bytes(serialization.Encoding.DER)))
    return found


def load_pkcs12_signer(
    p12_path: Path,
    passphrase: str,
    *,
    trust_root: Path,
    crls: Sequence[Path],
    tsa_cert: Path,
    tsa_key: Path,
    other_certs: Sequence[Path] = (),
) -> KKSigner:
    """Open the Kepala Dinas's PKCS#12 once and return a :class:`KKSigner` for a batch.

    ``trust_root`` is the configured trust anchor (PEM); ``crls`` the current CRLs of the
    chain, embedded in every signed KK; ``tsa_cert``/``tsa_key`` the local timestamping
    authority. Raises :class:`TTEError` (``tte.key_unreadable``) on a wrong passphrase.
    """
    try:
        key, cert, chain = pkcs12.load_key_and_certificates(
            Path(p12_path).read_bytes(), passphrase.encode("utf-8")
        )
    except (ValueError, OSError) as exc:
        raise TTEError(message_for("tte.key_unreadable"), code="tte.key_unreadable") from exc
    if cert is None or not isinstance(key, EllipticCurvePrivateKey | RSAPrivateKey):
        raise TTEError(message_for("tte.key_unreadable"), code="tte.key_unreadable")
    others = [_asn1(c) for c in chain or ()]
    for path in other_certs:
        others.extend(load_certs_from_pemder([str(path)]))
    registry = SimpleCertificateStore()
    registry.register_multiple(others)
    context, timestamper = batch_validation(
        trust_root=trust_root, crls=crls, tsa_cert=tsa_cert, tsa_key=tsa_key, chain=others
    )
    return KKSigner(
        signer=CachedKeySigner(_asn1(cert), key, registry),
        validation_context=context,
        timestamper=timestamper,
        signer_name=cert.subject.rfc4514_string(),
    )


def batch_validation(
    *,
    trust_root: Path,
    crls: Sequence[Path],
    tsa_cert: Path,
    tsa_key: Path,
    chain: Sequence[asn1_x509.Certificate] = (),
) -> tuple[ValidationContext, LocalTimeStamper]:
    """What a :class:`KKSigner` needs besides the key, whatever holds the key (PKCS#12 or a
    PKCS#11 token): the validation context embedded at B-LT (trust anchor, ``chain``, the
    TSA certificate, the CRLs; no fetching) and the local timestamping authority."""
    root = load_cert_from_pemder(str(trust_root))
    tsa = load_cert_from_pemder(str(tsa_cert))
    tsa_private = serialization.load_pem_private_key(Path(tsa_key).read_bytes(), None)
    if not isinstance(tsa_private, RSAPrivateKey):
        raise TTEError(
            message_for("tte.sign_failed", detail="kunci TSA harus RSA"), code="tte.sign_failed"
        )
    context = ValidationContext(
        trust_roots=[root],
        other_certs=[*chain, tsa],
        crls=load_crls(crls),
        allow_fetching=False,
        revocation_mode="hard-fail",
    )
    return context, LocalTimeStamper(tsa, tsa_private, list(chain))


def load_demo_signer(pki_dir: Path, passphrase: str) -> KKSigner:
    """A :class:`KKSigner` from a directory made by ``kk-tte demo-pki``."""
    d = Path(pki_dir)
    return load_pkcs12_signer(
        d / FILES["signer_p12"],
        passphrase,
        trust_root=d / FILES["root_cert"],
        crls=[d / FILES["root_crl"], d / FILES["intermediate_crl"]],
        tsa_cert=d / FILES["tsa_cert"],
        tsa_key=d / FILES["tsa_key"],
    )


LEVELS = ("B-LT", "B-B")
"""PAdES levels :func:`sign_kk` makes: ``B-LT`` (issued KKs) and ``B-B`` (no timestamp and no
validation data; only for comparison in ``benchmarks/tte.py``)."""


async def sign_kk_async(pdf: bytes, signer: KKSigner, *, level: str = "B-LT") -> bytes:
    """Sign ``pdf`` at PAdES B-LT (await this inside an event loop).

    ``level="B-B"`` makes a bare signature (no timestamp, no validation data), which cannot
    be checked offline later: for benchmarks, never for an issued KK.
    """
    if level not in LEVELS:
        raise ValueError(f"unknown PAdES level {level!r}")
    full = level == "B-LT"
    meta = signers.PdfSignatureMetadata(
        field_name=FIELD_NAME,
        reason="Penerbitan Kartu Keluarga",
        location="Sekayu, Musi Banyuasin",
        subfilter=fields.SigSeedSubFilter.PADES,
        embed_validation_info=full,
        use_pades_lta=False,
        validation_context=signer.validation_context if full else None,
        md_algorithm="sha256",
    )
    try:
        writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
        out = await signers.async_sign_pdf(
            writer,
            meta,
            signer=signer.signer,
            timestamper=signer.timestamper if full else None,
        )
    except (SigningError, PdfError, ValueError) as exc:
        detail = str(exc) or type(exc).__name__
        raise TTEError(
            message_for("tte.sign_failed", detail=detail), code="tte.sign_failed"
        ) from exc
    return out.getvalue()


def sign_kk(pdf: bytes, signer: KKSigner, *, level: str = "B-LT") -> bytes:
    """Sign ``pdf`` (a rendered KK) at PAdES B-LT and return the signed file's bytes."""
    return asyncio.run(sign_kk_async(pdf, signer, level=level))


async def _sign_each(pdfs: Iterable[bytes], signer: KKSigner, level: str) -> list[bytes | TTEError]:
    results: list[bytes | TTEError] = []
    for pdf in pdfs:
        try:
            results.append(await sign_kk_async(pdf, signer, level=level))
        except TTEError as exc:
            results.append(exc)
    return results


def sign_batch_each(
    pdfs: Iterable[bytes], signer: KKSigner, *, level: str = "B-LT"
) -> list[bytes | TTEError]:
    """Sign a queue of KKs with one loaded key; a file that cannot be signed gives its
    :class:`TTEError` in its place and the rest are still signed (``kk-tte sign-batch``)."""
    return asyncio.run(_sign_each(pdfs, signer, level))


def sign_batch(pdfs: Iterable[bytes], signer: KKSigner, *, level: str = "B-LT") -> list[bytes]:
    """Sign a whole queue of KKs with one :class:`KKSigner`, in order.

    The key is loaded once, by whoever made ``signer`` (the Kepala Dinas enters the
    passphrase once for the queue), and one event loop serves the whole batch. All or
    nothing: raises the :class:`TTEError` of the first file that cannot be signed (its
    position in the queue added to the message); use :func:`sign_batch_each` to go on.
    """
    results = sign_batch_each(pdfs, signer, level=level)
    for index, result in enumerate(results, start=1):
        if isinstance(result, TTEError):
            raise TTEError(f"KK ke-{index}: {result.message}", code=result.code) from result
    return [r for r in results if isinstance(r, bytes)]


# -- verification ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Verdict:
    """The outcome of :func:`verify_kk`: ``code`` is ``tte.valid`` or the failure's code."""

    code: str
    message: str
    signer: str = ""
    signed_at: dt.datetime | None = None

    @property
    def valid(self) -> bool:
        return self.code == "tte.valid"


def _common_name(cert: asn1_x509.Certificate | None) -> str:
    if cert is None:
        return ""
    return str(cert.subject.native.get("common_name", "")) or cert.subject.human_friendly


def _verdict(code: str, **params: object) -> Verdict:
    return Verdict(code, message_for(code, **params))


_REVOKED = {
    AdESFailure.REVOKED,
    AdESIndeterminate.REVOKED_NO_POE,
    AdESIndeterminate.REVOKED_CA_NO_POE,
}
_EXPIRED = {
    AdESIndeterminate.EXPIRED,
    AdESIndeterminate.NOT_YET_VALID,
    AdESFailure.NOT_YET_VALID,
    AdESIndeterminate.OUT_OF_BOUNDS_NO_POE,
    AdESIndeterminate.OUT_OF_BOUNDS_NOT_REVOKED,
}


_UNTRUSTED = {AdESIndeterminate.NO_CERTIFICATE_CHAIN_FOUND}
_NO_REVOCATION_DATA = {
    # pyhanko reports a chain to a trusted root without usable CRLs as a general failure
    AdESIndeterminate.CERTIFICATE_CHAIN_GENERAL_FAILURE,
    AdESIndeterminate.TRY_LATER,
    AdESIndeterminate.REVOCATION_OUT_OF_BOUNDS_NO_POE,
}


_EXCUSED_BY_TIMESTAMP = {"tte.expired", "tte.revocation_unknown"}
"""What happened after signing and B-LT answers: the signer's certificate expired, or the
CRLs embedded at signing are past their next update (:func:`_at_signing_time`)."""


def _indic_name(status: PdfSignatureStatus) -> str:
    """pyhanko's sub-indication as a stable technical token (for support, not prose)."""
    indic = status.trust_problem_indic
    return f"kode teknis {indic.name}" if indic is not None else "sebab tidak diketahui"


def _classify(status: PdfSignatureStatus) -> str:
    """The code of what is wrong with a signature whose bottom line is false."""
    if not status.intact or not status.valid:
        return "tte.modified"
    if status.modification_level is not None and not status.docmdp_ok:
        return "tte.modified"
    indic = status.trust_problem_indic
    if status.revoked or indic in _REVOKED:
        return "tte.revoked"
    if indic in _EXPIRED:
        return "tte.expired"
    if indic in _UNTRUSTED:
        return "tte.untrusted"
    if indic in _NO_REVOCATION_DATA:
        return "tte.revocation_unknown"
    return "tte.invalid"


async def verify_kk_async(
    pdf: bytes,
    trust_roots: Sequence[Path],
    *,
    crls: Sequence[Path] = (),
    moment: dt.datetime | None = None,
) -> Verdict:
    """Check every signature of ``pdf`` offline against ``trust_roots`` (PEM paths).

    Validation data comes from the file itself (B-LT); nothing is fetched. ``moment``
    validates as of another time (default: now); a signer certificate that expired after
    signing is judged at the signature timestamp's time (:func:`_at_signing_time`);
    ``crls`` adds newer CRLs than the embedded ones (a certificate revoked after signing).
    The verdict follows pyhanko's ``bottom_line`` for every signature, and the whole file
    must be covered or changed only by validation-data updates.
    """
    try:
        reader = PdfFileReader(io.BytesIO(pdf), strict=False)
        embedded = reader.embedded_signatures
    except Exception as exc:  # any parse failure is "unreadable"
        return _verdict("tte.unreadable", detail=str(exc) or type(exc).__name__)
    if not embedded:
        return _verdict("tte.not_signed")
    try:
        roots = [c for p in trust_roots for c in load_certs_from_pemder([str(p)])]
        given_crls = load_crls(crls)
    except (OSError, ValueError, TypeError) as exc:
        return _verdict("tte.trust_unreadable", detail=str(exc) or type(exc).__name__)
    if not roots:
        return _verdict("tte.trust_unreadable", detail="tidak ada sertifikat")
    settings: dict[str, object] = {
        "trust_roots": roots,
        "allow_fetching": False,
        "revocation_mode": "hard-fail",
        "crls": given_crls,
    }
    if moment is not None:
        settings["moment"] = moment
    context = _context(reader, settings)
    last: Verdict | None = None
    for sig in embedded:
        try:
            status = await async_validate_pdf_signature(sig, context)
        except (SignatureValidationError, ValueError) as exc:  # malformed signature
            detail = str(exc) or type(exc).__name__
            return Verdict("tte.invalid", message_for("tte.invalid", detail=detail))
        signer = _common_name(status.signing_cert)
        when = status.timestamp_validity.timestamp if status.timestamp_validity else None
        when = when or status.signer_reported_dt
        if not status.bottom_line and _classify(status) in _EXCUSED_BY_TIMESTAMP:
            status = await _at_signing_time(sig, reader, settings, status)
        if not status.bottom_line:
            code = _classify(status)
            detail = {"detail": _indic_name(status)} if code == "tte.invalid" else {}
            return Verdict(code, message_for(code, **detail), signer, when)
        shown = when.strftime("%d-%m-%Y %H:%M:%S %Z") if when else "-"
        last = Verdict(
            "tte.valid", message_for("tte.valid", signer=signer, when=shown), signer, when
        )
    assert last is not None
    return last


def _context(reader: PdfFileReader, settings: dict[str, object]) -> ValidationContext:
    """The validation context of ``settings`` with the file's own validation data (DSS)."""
    try:
        return DocumentSecurityStore.read_dss(reader).as_validation_context(settings)
    except NoDSSFoundError:  # not B-LT: validate with what the CMS carries
        return ValidationContext(**settings)  # type: ignore[arg-type]


async def _at_signing_time(
    sig: EmbeddedPdfSignature,
    reader: PdfFileReader,
    settings: dict[str, object],
    status: PdfSignatureStatus,
) -> PdfSignatureStatus:
    """B-LT's point: validate as of the signature timestamp's time ``T``.

    Used when the signature fails *now* only because of time: the signer's certificate has
    expired since, or the CRLs embedded at signing are past their next update (with offline
    checking nothing fresher exists). The timestamp token must be intact and cryptographically
    valid; the whole signature, the timestamp's TSA chain included, is then validated as of
    ``T`` with the validation data embedded at signing. Valid then means valid now, so a KK
    does not turn invalid when the Kepala Dinas's certificate expires or a CRL ages.

    The residual trust is in the TSA key: a TSA key compromised later could backdate. PAdES
    B-LTA's archive timestamps, renewed before the TSA certificate or its algorithms weaken,
    close that (docs/security.md). Revocation is never excused this way: a signer shown
    revoked by the data at hand stays ``tte.revoked``.
    """
    stamp = status.timestamp_validity
    if stamp is None or not (stamp.intact and stamp.valid):
        return status
    try:
        past = await async_validate_pdf_signature(
            sig, _context(reader, {**settings, "moment": stamp.timestamp})
        )
    except (SignatureValidationError, ValueError):
        return status
    return past if past.bottom_line else status


def verify_kk(
    pdf: bytes,
    trust_roots: Sequence[Path],
    *,
    crls: Sequence[Path] = (),
    moment: dt.datetime | None = None,
) -> Verdict:
    """Synchronous :func:`verify_kk_async` (not inside a running event loop)."""
    return asyncio.run(verify_kk_async(pdf, trust_roots, crls=crls, moment=moment))
