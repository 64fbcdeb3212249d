"""SOP step 5 on the server: the Kepala Dinas signs approved applications' KKs (TTE).

The Kepala Dinas types the PKCS#12 passphrase once per batch; :func:`open_signer` opens the
key with it (:func:`signing.tte.load_demo_signer`) and the passphrase goes out of scope with
the request: it is never stored, logged or echoed. Then, per application and in one write
transaction each (:func:`sign_batch`):

1. :func:`sync_server.services.decisions.record_decision` judges and records ``sign``
   (``expected_state="approved"``: an application another Kepala Dinas session signed a
   moment ago is refused with ``decision.conflict``, never signed twice) with its audit row,
   access-log row and the ``application.decided`` feed event;
2. :func:`sync_server.services.kk_numbers.assign_kk_number` gives the KK its number (new
   family: the allocator; otherwise the family's own number);
3. the KK is rendered (:func:`signing.kk_pdf.render_kk`, QR code to
   ``<public_base_url>/verifikasi/<token>`` with a fresh unguessable token) and signed at
   PAdES B-LT (:func:`signing.tte.sign_kk`);
4. the signed PDF is stored content-addressed (:mod:`sync_server.storage.documents`), its
   row added to ``kk_documents``, earlier KKs of the same number marked superseded, and an
   ``application.kk_ready`` event tells the owning counter.

An application that cannot be signed (wrong state, no number, render failure) is refused on
its own and its transaction rolls back, leaving nothing (not even a number); the rest of the
batch goes on. Rendering and signing run inside the write transaction (~25 ms a KK), so the
number, the document and the decision commit together or not at all.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from protocol.application import Application
from protocol.errors import KKError, define_messages
from protocol.jurisdiction import office_date
from protocol.server_events import ServerEventKind
from protocol.workflow import Action, Role, State
from signing.kk_pdf import Official, render_kk
from sync_server.clock import stamp
from sync_server.config import ServerConfig
from sync_server.errors import Refusal, refusal_for
from sync_server.services import decisions, feed, kk_numbers
from sync_server.storage import changelog as log_store
from sync_server.storage import documents, kk_registry
from sync_server.storage.db import Connection, Database

if TYPE_CHECKING:  # pyhanko costs ~0.4 s to import: only a signing request pays for it
    from signing.tte import KKSigner

__all__ = [
    "sign_with_passphrase",
    "SignOutcome",
    "open_signer",
    "sign_batch",
    "verification_url",
    "official",
]

log = logging.getLogger("sync_server.tte")

define_messages(
    {
        "tte.not_configured": "TTE belum disiapkan di server pusat (KK_SERVER_TTE_PKI_DIR); "
        "hubungi admin Dinas.",
        "tte.passphrase_required": "Masukkan frasa sandi sertifikat TTE untuk menandatangani.",
        "document.not_signed": "KK permohonan {application_id} belum ditandatangani.",
    }
)

TOKEN_BYTES = 16
"""Random bytes of a verification token: 128 bits, so the tokens of real KKs cannot be
found by guessing, whatever the rate limit."""


@dataclass(frozen=True, slots=True)
class SignOutcome:
    """What happened to one application of a batch."""

    application_id: str
    kk_number: str | None = None
    sha256: str | None = None
    verification_url: str | None = None
    superseded: int = 0
    """Earlier KK documents of the same number this one replaced."""
    signed_at: str | None = None
    refusal: Refusal | None = None

    @property
    def signed(self) -> bool:
        return self.refusal is None


@contextmanager
def open_signer(config: ServerConfig, passphrase: str) -> Iterator[KKSigner]:
    """Open the Kepala Dinas's key for one batch (``with``: a token session is closed after).

    The key is the PKCS#12 of ``tte_pki_dir`` (``passphrase``: its passphrase) or, with
    ``tte_pkcs11_library`` set, the token's key (``passphrase``: the user PIN). Raises 503
    ``tte.not_configured`` without a configured PKI, 422 ``tte.passphrase_required`` for an
    empty passphrase, 422 ``tte.key_unreadable`` for a wrong one (nothing is signed then),
    503 ``tte.token_unavailable`` when the token is not there.
    """
    if config.tte_pki_dir is None:
        raise Refusal("tte.not_configured", status=503)
    if not passphrase:
        raise Refusal("tte.passphrase_required", status=422)
    if "\x00" in passphrase:  # OpenSSL and PKCS#11 take C strings: it cannot be the key's
        raise Refusal("tte.key_unreadable", status=422)
    from signing.tte import TTEError, load_demo_signer

    try:
        if config.tte_pkcs11_library is None:
            opened: AbstractContextManager[KKSigner] = nullcontext(
                load_demo_signer(config.tte_pki_dir, passphrase)
            )
        else:
            # Imported here: python-pkcs11 loads a native module only a token setup needs.
            from signing.tte_pkcs11 import demo_pkcs11_signer

            opened = demo_pkcs11_signer(
                config.tte_pkcs11_library,
                config.tte_pki_dir,
                token_label=config.tte_pkcs11_token,
                pin=passphrase,
                key_label=config.tte_pkcs11_key_label,
            )
        with opened as signer:
            yield signer
    except TTEError as exc:
        status = 422 if exc.code == "tte.key_unreadable" else 503
        raise Refusal(exc.code, status=status, message=exc.message) from None


def verification_url(config: ServerConfig, token: str) -> str:
    """The URL a KK's QR code carries: the public verification page of its token."""
    return f"{config.public_base_url.rstrip('/')}/verifikasi/{token}"


def official(config: ServerConfig) -> Official:
    """The Kepala Dinas as printed on KKs."""
    return Official(name=config.kepala_dinas_name, nip=config.kepala_dinas_nip)


def signer_common_name(signer: KKSigner) -> str:
    """The signing certificate's common name (shown on the verification page)."""
    cert = signer.signer.signing_cert
    if cert is None:
        return signer.signer_name
    return str(cert.subject.native.get("common_name", "")) or signer.signer_name


def sign_batch(
    db: Database,
    config: ServerConfig,
    signer: KKSigner,
    application_ids: Sequence[str],
    *,
    actor_id: str,
    actor_name: str,
    client_ip: str,
    clock: Callable[[], datetime],
    expected_state: State = State.APPROVED,
) -> list[SignOutcome]:
    """Sign each application in order (duplicates once); see the module docstring.

    ``expected_state`` is the state the Kepala Dinas saw (a single ``sign`` decision passes
    its own; anything but ``approved`` is then a conflict).
    """
    allocator = kk_numbers.make_allocator(config.kk_number_allocator)
    signer_name = signer_common_name(signer)
    outcomes = []
    for application_id in dict.fromkeys(application_ids):
        try:
            with db.write() as conn:
                outcome = _sign_one(
                    conn,
                    config,
                    signer,
                    allocator,
                    application_id,
                    actor_id=actor_id,
                    actor_name=actor_name,
                    signer_name=signer_name,
                    client_ip=client_ip,
                    now=clock(),
                    expected_state=expected_state,
                )
        except KKError as exc:
            refusal = refusal_for(exc)
            log.info("tte refused application=%s code=%s", application_id, refusal.code)
            outcome = SignOutcome(application_id, refusal=refusal)
        outcomes.append(outcome)
    return outcomes


def sign_with_passphrase(
    db: Database,
    config: ServerConfig,
    passphrase: str,
    application_ids: Sequence[str],
    *,
    actor_id: str,
    actor_name: str,
    client_ip: str,
    clock: Callable[[], datetime],
    expected_state: State = State.APPROVED,
) -> list[SignOutcome]:
    """Open the key with ``passphrase`` (the refusals of :func:`open_signer`: nothing is
    signed then), :func:`sign_batch` the applications and close the key. Blocking."""
    with open_signer(config, passphrase) as signer:
        return sign_batch(
            db,
            config,
            signer,
            application_ids,
            actor_id=actor_id,
            actor_name=actor_name,
            client_ip=client_ip,
            clock=clock,
            expected_state=expected_state,
        )


def _sign_one(
    conn: Connection,
    config: ServerConfig,
    signer: KKSigner,
    allocator: kk_numbers.KKNumberAllocator,
    application_id: str,
    *,
    actor_id: str,
    actor_name: str,
    signer_name: str,
    client_ip: str,
    now: datetime,
    expected_state: State,
) -> SignOutcome:
    decision = decisions.record_decision(
        conn,
        application_id=application_id,
        action=Action.SIGN,
        role=Role.KEPALA_DINAS,
        actor_id=actor_id,
        actor_name=actor_name,
        reasons=None,
        now=now,
        expected_state=expected_state,
        client_ip=client_ip,
    )
    record = log_store.get_application(conn, application_id)
    assert record is not None  # record_decision found it in this transaction
    app = Application.from_dict(json.loads(record.snapshot))
    number = kk_numbers.assign_kk_number(conn, allocator, app, now=now)
    token = secrets.token_urlsafe(TOKEN_BYTES)
    url = verification_url(config, token)
    issued_on = office_date(now)
    pdf = render_kk(
        app,
        kk_number=number.kk_number,
        issued_on=issued_on,
        official=official(config),
        verification_url=url,
    )
    from signing.tte import sign_kk

    signed = sign_kk(pdf, signer)
    digest = documents.put(config.documents_dir, signed)
    at = stamp(now)
    document_id = kk_registry.insert_document(
        conn,
        token=token,
        kk_number=number.kk_number,
        application_id=application_id,
        sha256=digest,
        size=len(signed),
        signer=signer_name,
        signed_at=at,
        issued_on=issued_on.isoformat(),
    )
    superseded = kk_registry.supersede_active(conn, number.kk_number, by=document_id, at=at)
    feed.append(
        conn,
        audience=decision.device_id,
        kind=ServerEventKind.KK_READY,
        application_id=application_id,
        body={
            "kk_number": number.kk_number,
            "document": {
                "sha256": digest,
                "size": len(signed),
                "media_type": "application/pdf",
                "verification_url": url,
                "signed_at": at,
            },
            "new_family": number.new_family,
        },
        now=now,
    )
    log.info(
        "tte signed application=%s document=%d sha256=%s superseded=%d",
        application_id,
        document_id,
        digest[:12],
        superseded,
    )
    return SignOutcome(application_id, number.kk_number, digest, url, superseded, at)
