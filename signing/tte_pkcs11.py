"""The Kepala Dinas's key on a PKCS#11 token (the production path: a BSrE token or HSM).

The key never leaves the token: pyhanko's ``PKCS11Signer`` asks the token to sign each
digest, so the :class:`~signing.tte.KKSigner` it yields is used by :func:`signing.tte.sign_kk`
and :func:`signing.tte.sign_batch` exactly like the PKCS#12 one. What changes:

* the secret typed per batch is the token's user PIN instead of the PKCS#12 passphrase;
* a session is open for the batch and must be closed after it, so :func:`pkcs11_signer` is
  a context manager (log in once, sign the whole queue, log out);
* the signing certificate is read from the token (``cert_label``, by default the key's
  label), the CA chain from files (``chain``): tokens often hold only the end certificate.

Tested with SoftHSM2 (Debian ``softhsm2``, ``/usr/lib/softhsm/libsofthsm2.so``) in
``tests/integration/test_tte_pkcs11.py``. Token-specific notes: a wrong PIN is
``tte.key_unreadable`` like a wrong passphrase (tokens lock after a few wrong PINs: that
count is the token's, not ours); a missing token, key or library is
``tte.token_unavailable``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from pkcs11 import exceptions as p11
from pyhanko.config.pkcs11 import TokenCriteria
from pyhanko.keys import load_certs_from_pemder
from pyhanko.sign.general import SigningError
from pyhanko.sign.pkcs11 import PKCS11Signer, open_pkcs11_session

from protocol.errors import define_messages, message_for
from signing.demo_pki import FILES
from signing.tte import KKSigner, TTEError, batch_validation

__all__ = ["pkcs11_signer", "demo_pkcs11_signer"]

define_messages(
    {
        "tte.token_unavailable": "Token TTE tidak dapat dipakai: {detail}.",
    }
)

_WRONG_PIN = (p11.PinIncorrect, p11.PinInvalid, p11.PinLenRange, p11.PinExpired, p11.PinLocked)


def _unavailable(detail: str) -> TTEError:
    return TTEError(
        message_for("tte.token_unavailable", detail=detail), code="tte.token_unavailable"
    )


@contextmanager
def pkcs11_signer(
    library: Path,
    *,
    token_label: str,
    pin: str,
    key_label: str,
    trust_root: Path,
    crls: Sequence[Path],
    tsa_cert: Path,
    tsa_key: Path,
    chain: Sequence[Path] = (),
    cert_label: str | None = None,
    raw_mechanism: bool = True,
) -> Iterator[KKSigner]:
    """Log in to the token ``token_label`` of the PKCS#11 ``library`` for one batch.

    Yields a :class:`KKSigner` whose key is the token's ``key_label``; the session is
    closed when the block ends. ``raw_mechanism``: hash on the host and have the token sign
    the digest (``CKM_ECDSA``); SoftHSM2 and many smart-card tokens offer no combined
    ``CKM_ECDSA_SHA256``. Raises :class:`TTEError`: ``tte.key_unreadable`` for a wrong
    PIN, ``tte.token_unavailable`` when the library, token, key or certificate is missing.
    """
    if not Path(library).is_file():
        raise _unavailable(f"pustaka PKCS#11 {library} tidak ada")
    try:
        session = open_pkcs11_session(
            str(library), token_criteria=TokenCriteria(label=token_label), user_pin=pin
        )
    except _WRONG_PIN as exc:
        raise TTEError(message_for("tte.key_unreadable"), code="tte.key_unreadable") from exc
    except (p11.PKCS11Error, SigningError, OSError) as exc:
        raise _unavailable(f"token {token_label!r} tidak ditemukan ({type(exc).__name__})") from exc
    try:
        ca_chain = [c for path in chain for c in load_certs_from_pemder([str(path)])]
        signer = PKCS11Signer(
            session,
            key_label=key_label,
            cert_label=cert_label or key_label,
            ca_chain=ca_chain,
            use_raw_mechanism=raw_mechanism,
        )
        try:
            cert = signer.signing_cert  # fetched from the token now, not mid-batch
        except (p11.PKCS11Error, SigningError) as exc:
            raise _unavailable(f"kunci/sertifikat {key_label!r} tidak ada di token") from exc
        context, timestamper = batch_validation(
            trust_root=trust_root, crls=crls, tsa_cert=tsa_cert, tsa_key=tsa_key, chain=ca_chain
        )
        yield KKSigner(
            signer=signer,
            validation_context=context,
            timestamper=timestamper,
            signer_name=cert.subject.human_friendly,
        )
    finally:
        session.close()


@contextmanager
def demo_pkcs11_signer(
    library: Path, pki_dir: Path, *, token_label: str, pin: str, key_label: str
) -> Iterator[KKSigner]:
    """:func:`pkcs11_signer` with the chain, CRLs and TSA of a ``kk-tte demo-pki`` directory
    (the Kepala Dinas's key and certificate imported into the token)."""
    d = Path(pki_dir)
    with pkcs11_signer(
        library,
        token_label=token_label,
        pin=pin,
        key_label=key_label,
        trust_root=d / FILES["root_cert"],
        crls=[d / FILES["root_crl"], d / FILES["intermediate_crl"]],
        tsa_cert=d / FILES["tsa_cert"],
        tsa_key=d / FILES["tsa_key"],
        chain=[d / FILES["chain"]],
    ) as signer:
        yield signer
