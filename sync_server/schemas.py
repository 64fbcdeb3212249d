"""JSON shapes of the HTTP API (pydantic models; they also feed the OpenAPI description)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from protocol.workflow import State

__all__ = [
    "EnrollRequest",
    "EnrollResponse",
    "EventResultOut",
    "PushResponse",
    "PullResponse",
    "HealthResponse",
    "ErrorResponse",
    "LoginRequest",
    "LoginResponse",
    "MeResponse",
    "QueueItem",
    "QueuePage",
    "ReasonsIn",
    "DecisionRequest",
    "DecisionResponse",
    "SignBatchRequest",
    "SignResult",
    "SignBatchResponse",
    "KKNumberEntry",
    "KKNumberEntered",
    "ClaimRequest",
    "ClaimOut",
    "DuplicateOther",
    "DuplicateFlagOut",
    "Page",
    "SiakEntryRequest",
    "SiakEntryOut",
    "SiakExport",
    "SiakPendingItem",
    "SiakPendingPage",
    "AuditRecordOut",
    "AuditPage",
    "AuditVerification",
]


class EnrollRequest(BaseModel):
    """What a counter sends once to enroll."""

    model_config = ConfigDict(
        extra="ignore",
        json_schema_extra={
            "examples": [
                {
                    "code": "K7QM-2XTA-9HVD",
                    "public_key": "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=",
                    "label": "Loket 1 Sekayu",
                }
            ]
        },
    )

    code: str = Field(min_length=1, max_length=64)
    """The one-time code as the admin gave it (``XXXX-XXXX-XXXX``; dashes and case ignored)."""
    public_key: str = Field(min_length=1, max_length=100)
    """The device's Ed25519 public key: standard base64 of its 32 raw bytes."""
    label: str = Field(default="", max_length=100)
    """A name for the terminal (e.g. "Loket 1 Sekayu"); the code's label when empty."""


class EnrollResponse(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "device_id": "dev-4c1f0a2b9e7d",
                    "kecamatan": "160601",
                    "server_public_key": "MGD7pHIRMdp3WRqZQR7lMrcCO5x/ogz1NbCyLtLpk3w=",
                    "server_time": "2026-11-25T02:00:00.000Z",
                    "scan_public_key": "mCuwjuryxxpTmRtztB0dbV1fq3tMBdD2AD/TmpwhLzM=",
                    "scan_key_signature": "zAI8jklLwjB7F/h5xGTOgAaaGKNiEI9VV0lecJyii0s3"
                    "I4FUs844LrGpkFBKXZPfeP9OaCWJ6iYtUgf28A4tAg==",
                }
            ]
        }
    )

    device_id: str
    """The device's id: ``X-KK-Device`` of its requests and ``device_id`` of its events."""
    kecamatan: str
    """The kecamatan code the device serves (from the code)."""
    server_public_key: str
    """The server's Ed25519 public key (base64 of 32 raw bytes): pin it."""
    server_time: str
    """The server clock (UTC), so the counter can correct its own before signing."""
    scan_public_key: str
    """The server's X25519 public key (base64) that scan keys are sealed for."""
    scan_key_signature: str
    """Ed25519 signature (base64) by ``server_public_key`` over
    ``KK-SCAN-KEY-V1\n<scan_public_key>``."""


class EventResultOut(BaseModel):
    seq: int
    status: Literal["applied", "refused"]
    code: str | None
    """Stable machine code of a refusal; ``null`` when applied."""
    message: str | None
    """Indonesian text for the operator; ``null`` when applied."""
    params: dict[str, Any]
    """Details of a refusal (e.g. ``codes`` and ``issues`` of ``application.not_ready``)."""


class PushResponse(BaseModel):
    acked_seq: int
    """Highest seq the server stores for this device (0 for none): everything up to it is
    safely stored and need not be sent again."""
    results: list[EventResultOut]
    """One per event of the request, in request order (duplicates with their stored
    outcome)."""


class PullResponse(BaseModel):
    events: list[dict[str, Any]]
    """Signed server events for this device (``protocol.server_events`` wire form), cursor
    ascending, every cursor greater than ``after``."""
    next_after: int
    """The last cursor returned, or ``after`` when none was: the next pull's ``after``."""
    more: bool
    """True when more events are waiting: pull again at once with ``after=next_after``."""


class HealthResponse(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"status": "ok", "server_time": "2026-11-25T03:12:45.120Z"}]
        }
    )
    status: Literal["ok"]
    server_time: str


class ErrorResponse(BaseModel):
    """Every error answer: RFC 9457 problem details (``application/problem+json``) with the
    stable ``code`` and any extra fields of the refusal (``seq``, ``retry_after``...)."""

    model_config = ConfigDict(extra="allow")

    type: str
    """``urn:kk-online:problem:<code>``."""
    title: str
    """The HTTP reason phrase."""
    status: int
    detail: str
    """Indonesian text for people."""
    code: str
    """Stable machine code; clients branch on it, never on the text."""


class LoginRequest(BaseModel):
    """A staff member's credentials."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"username": "sri.verif", "password": "kata-sandi-1"}]},
    )

    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class LoginResponse(BaseModel):
    """A session: send ``Authorization: Bearer <token>`` with every staff request."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "token": "q9V3x0pM2c7KJt1wH8sYd4rBn6LaEoZu5iGfXe0TbWk",
                    "expires_at": "2026-11-25T03:42:45.120Z",
                    "role": "verifikator",
                    "full_name": "Sri Wahyuni, S.Sos",
                }
            ]
        }
    )

    token: str
    """Opaque; shown once (the server keeps only its SHA-256)."""
    expires_at: str
    """UTC; slides to 30 minutes after each request, at most 12 hours after login."""
    role: str
    full_name: str


class MeResponse(BaseModel):
    """Who the token belongs to."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "user_id": "6f1c2a9e-3b1d-4c55-9a0e-7d2b8c4e1f00",
                    "username": "sri.verif",
                    "full_name": "Sri Wahyuni, S.Sos",
                    "role": "verifikator",
                    "role_label": "Verifikator/Sub Koord",
                    "expires_at": "2026-11-25T03:42:45.120Z",
                }
            ]
        }
    )

    user_id: str
    username: str
    full_name: str
    role: str
    role_label: str
    expires_at: str


class ClaimRequest(BaseModel):
    """Who takes the application's current step: the caller (no ``user_id``), a colleague of
    the caller's role, or (admin) any account of the step's role."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {},
                {"reassign": True},
                {"user_id": "6f1c2a9e-3b1d-4c55-9a0e-7d2b8c4e1f00", "reassign": True},
            ]
        },
    )

    user_id: str | None = Field(default=None, min_length=1, max_length=64)
    """The account to assign; the caller when omitted (an admin must name one)."""
    reassign: bool = False
    """Take the step over from whoever holds it (same role as the holder, or admin)."""


class ClaimOut(BaseModel):
    """Who holds an application's current step."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "application_id": "0b5f1a52-7a0e-4d3e-9a55-2f1c0c9e8a01",
                    "state": "submitted",
                    "user_id": "6f1c2a9e-3b1d-4c55-9a0e-7d2b8c4e1f00",
                    "username": "sri.verif",
                    "full_name": "Sri Wahyuni, S.Sos",
                    "role": "verifikator",
                    "claimed_at": "2026-11-25T03:12:45.120Z",
                    "assigned_by": "6f1c2a9e-3b1d-4c55-9a0e-7d2b8c4e1f00",
                }
            ]
        }
    )

    application_id: str
    state: str
    """The step (state) the claim is for; it ends when a decision moves the application."""
    user_id: str
    username: str
    full_name: str
    role: str
    claimed_at: str
    assigned_by: str
    """The account that made the claim: the holder, a colleague or an admin."""


class DuplicateOther(BaseModel):
    """The other record that carries the same NIK."""

    application_id: str
    kecamatan: str
    state: str
    """Its state now."""
    state_label: str
    state_at_flag: str
    """Its state when the flag was raised (``issued``/``archived``: an issued KK)."""
    kk_number: str
    """Its family's KK number (empty for a new family not yet numbered)."""
    member_name: str
    """The name that NIK carries there."""


class DuplicateFlagOut(BaseModel):
    """A member's NIK found, at submission, in another open application or in the current
    issued KK of another family. A flag informs the verifier; it blocks nothing."""

    nik: str
    member_name: str
    """The member's name in this application."""
    kind: Literal["open_application", "issued_kk"]
    flagged_at: str
    other: DuplicateOther


class ApplicationSummary(BaseModel):
    """What a list shows of an application."""

    application_id: str
    kecamatan: str
    applicant_name: str
    service_label: str
    state: str
    state_label: str


class QueueItem(ApplicationSummary):
    """One application waiting for the caller's step."""

    entered_at: str
    """Server time the application entered its current state (UTC)."""
    minutes_in_step: int
    target_minutes: int
    """The SOP's time target for this step ("Mutu Baku: Waktu")."""
    over_target: bool
    claimed_by: ClaimOut | None = None
    """Who works on it now; ``None`` when nobody has claimed it."""
    duplicate_flags: int
    """How many duplicate-NIK flags it carries (details in the application's read)."""


class Page(BaseModel):
    """What every list answers besides its items (:mod:`sync_server.api.pagination`)."""

    total: int
    """How many items the whole list has."""
    limit: int
    offset: int


class QueuePage(Page):
    """A page of a work queue, oldest first."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "items": [
                        {
                            "application_id": "0b5f1a52-7a0e-4d3e-9a55-2f1c0c9e8a01",
                            "kecamatan": "160601",
                            "applicant_name": "Ahmad Fauzi",
                            "service_label": "KK BARU: Membentuk Keluarga Baru",
                            "state": "submitted",
                            "state_label": "Diajukan ke verifikator",
                            "entered_at": "2026-11-25T03:02:10.004Z",
                            "minutes_in_step": 7,
                            "target_minutes": 5,
                            "over_target": True,
                            "claimed_by": None,
                            "duplicate_flags": 0,
                        }
                    ],
                    "total": 1,
                    "limit": 50,
                    "offset": 0,
                }
            ]
        }
    )

    items: list[QueueItem]


class ReasonsIn(BaseModel):
    """Why an application goes back: checklist item codes (``protocol.requirements``) and/or
    free text; a return or a TTE rejection needs at least one item or 5 characters of text."""

    model_config = ConfigDict(extra="forbid")

    items: list[str] = Field(default_factory=list, max_length=50)
    text: str = Field(default="", max_length=2000)


class DecisionRequest(BaseModel):
    """A central decision on one application, made in the state the caller saw."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"action": "verify", "expected_state": "submitted"},
                {
                    "action": "return",
                    "reasons": {"items": ["kk_lama"], "text": "Foto KK lama buram"},
                    "expected_state": "submitted",
                },
            ]
        },
    )

    action: Literal["verify", "approve", "sign", "return", "reject_tte"]
    reasons: ReasonsIn | None = None
    expected_state: State
    """The state shown to the caller when it chose; a different stored state is a conflict."""
    passphrase: SecretStr | None = Field(default=None, max_length=1024)
    """``sign`` only: the passphrase of the Kepala Dinas's TTE key; used for this request
    and never stored or logged (``POST /api/v1/tte/sign-batch`` signs many at once)."""


class DecisionResponse(BaseModel):
    """The recorded decision."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "application_id": "0b5f1a52-7a0e-4d3e-9a55-2f1c0c9e8a01",
                    "from_state": "submitted",
                    "to_state": "verified",
                    "action": "verify",
                    "at": "2026-11-25T03:12:45.120Z",
                }
            ]
        }
    )

    application_id: str
    from_state: str
    to_state: str
    action: str
    at: str
    """Server time of the decision (UTC)."""


class ChecklistItem(BaseModel):
    """One requirement of the application's checklist and whether it is met."""

    code: str
    label: str
    any_of: list[str]
    alternatives_label: str
    basis: str
    condition: str | None
    attached: bool
    """True when one of ``any_of`` is among the application's attached documents."""
    attached_documents: list[str]
    """The attached document codes that satisfy it (empty when missing)."""


class HistoryEntry(BaseModel):
    """One applied move (``application_events``): at the counter or a central decision."""

    actor_id: str
    role: str
    action: str
    from_state: str | None
    to_state: str
    reasons: dict[str, Any] | None
    device_id: str | None
    """The counter device that made the move; ``None`` for a central decision."""
    seq: int | None
    device_time: str
    server_time: str


class ScanSummary(BaseModel):
    """One document scan of an application, as the central views list it."""

    scan_id: str
    document: str
    """Requirement document code (``kk_lama``, ``buku_nikah``...)."""
    status: Literal["arriving", "complete"]
    """``arriving`` until every byte is here and verified."""
    bytes: int
    """Encrypted size."""
    received_bytes: int
    media_type: str | None
    """Known once complete (detected from the content)."""
    attached_at: str
    """Server time the ``scan.attached`` event was applied."""


class MessageSummary(BaseModel):
    """One WhatsApp message to the applicant (:mod:`sync_server.services.whatsapp`)."""

    message_id: str
    purpose: str
    purpose_label: str
    status: str
    """queued, sending, sent, delivered, read, failed or unknown ("perlu dicek")."""
    status_label: str
    reason: str
    """Why it failed, is waiting or needs checking (Indonesian); empty otherwise."""
    template: bool
    attempts: int
    created_at: str
    updated_at: str


class ApplicationDetail(BaseModel):
    """An application as the server stores it, for central staff review."""

    application_id: str
    kecamatan: str
    state: str
    state_label: str
    created_at: str
    updated_at: str
    data: dict[str, Any]
    """The stored snapshot (``Application.to_dict``) as of the last applied counter edit."""
    checklist: list[ChecklistItem] | None
    """Requirements with attached/missing; ``None`` if the stored snapshot no longer parses."""
    history: list[HistoryEntry]
    """Oldest first."""
    scans: list[ScanSummary]
    """The application's document scans, in the order attached."""
    messages: list[MessageSummary] = []
    """The WhatsApp messages to the applicant, oldest first, with their delivery status."""
    access_seq: int
    """The access-log row that records this read."""
    claimed_by: ClaimOut | None
    """Who works on the current step; ``None`` when nobody has claimed it."""
    duplicates: list[DuplicateFlagOut]
    """Duplicate-NIK flags raised at the latest submission (and by later submissions of
    the other applications), with the other record."""
    siak_entry: SiakEntryOut | None
    """That it was entered into SIAK (reference, who, when); ``None`` until recorded."""


class SignBatchRequest(BaseModel):
    """The Kepala Dinas signs a queue of approved applications with one passphrase."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "application_ids": ["0b5f1a52-7a0e-4d3e-9a55-2f1c0c9e8a11"],
                    "passphrase": "frasa sandi TTE",
                }
            ]
        },
    )

    application_ids: list[str] = Field(min_length=1, max_length=100)
    """Applications to sign, in order (each must be ``approved``); duplicates count once."""
    passphrase: SecretStr = Field(max_length=1024)
    """Passphrase of the TTE key: opens the key once for the batch; never stored or logged."""


class SignResult(BaseModel):
    """What happened to one application of a signing batch."""

    application_id: str
    status: Literal["signed", "refused"]
    kk_number: str | None = None
    verification_url: str | None = None
    """Where the KK's QR code points (signed only)."""
    superseded: int = 0
    """Earlier KKs of the same number now shown as superseded (signed only)."""
    code: str | None = None
    """Why it was refused (stable code), with ``detail`` in Indonesian and ``http_status``."""
    detail: str | None = None
    http_status: int | None = None


class SignBatchResponse(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "results": [
                        {
                            "application_id": "0b5f1a52-7a0e-4d3e-9a55-2f1c0c9e8a11",
                            "status": "signed",
                            "kk_number": "1606012511260001",
                            "verification_url": "https://kk.example.go.id/verifikasi/"
                            "Yx3q0v6l2mHk9dPz4sA1bQ",
                            "superseded": 0,
                        },
                        {
                            "application_id": "0b5f1a52-7a0e-4d3e-9a55-2f1c0c9e8a12",
                            "status": "refused",
                            "code": "kk_number.siak_missing",
                            "detail": "Nomor KK dari SIAK belum diisi.",
                            "http_status": 409,
                        },
                    ],
                    "signed": 1,
                    "refused": 1,
                }
            ]
        }
    )

    results: list[SignResult]
    signed: int
    refused: int


class KKNumberEntry(BaseModel):
    """The KK number SIAK issued for a new family, typed in by staff."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"kk_number": "1606012511260001"}]}
    )

    kk_number: str = Field(min_length=1, max_length=40)


class KKNumberEntered(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "application_id": "0b5f1a52-7a0e-4d3e-9a55-2f1c0c9e8a11",
                    "kk_number": "1606012511260001",
                }
            ]
        }
    )

    application_id: str
    kk_number: str


# -- SIAK ---------------------------------------------------------------------------------


class SiakEntryRequest(BaseModel):
    """SIAK's reference for the entered application (what SIAK shows after saving)."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"siak_reference": "SIAK-1606-000123"}]}
    )

    siak_reference: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9./_ -]+$")


class SiakEntryOut(BaseModel):
    """That an application was entered into SIAK."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "application_id": "0b5f1a52-7a0e-4d3e-9a55-2f1c0c9e8a01",
                    "reference": "SIAK-1606-000123",
                    "entered_by": "6f1c2a9e-3b1d-4c55-9a0e-7d2b8c4e1f00",
                    "username": "sri.verif",
                    "full_name": "Sri Wahyuni, S.Sos",
                    "entered_at": "2026-11-25T03:40:02.511Z",
                }
            ]
        }
    )

    application_id: str
    reference: str
    entered_by: str
    username: str
    full_name: str
    entered_at: str


class SiakCoded(BaseModel):
    """A coded KK element: SIAK's integer code and the label the KK prints."""

    kode: int
    label: str
    """Empty when the code list does not know the code."""


class SiakService(BaseModel):
    service_type: str
    sub_type: int
    peristiwa: str | None
    form_code: str
    """Position on F-1.02, e.g. ``A.1``."""
    label: str
    creates_family: bool
    """True when the family needs a new KK number."""


class SiakApplicant(BaseModel):
    nama: str
    nik: str
    whatsapp: str
    kk_number: str


class SiakAddress(BaseModel):
    alamat: str
    rt: str
    rw: str
    kode_pos: str
    desa_code: str
    desa: str
    kecamatan_code: str
    kecamatan: str
    kabupaten_code: str
    kabupaten: str
    provinsi_code: str
    provinsi: str


class SiakMember(BaseModel):
    """One member in KK order (columns 1-17 of the KK, plus parents' NIKs)."""

    no: int
    nik: str
    """Empty for a person who has none yet (a newborn)."""
    nama: str
    jenis_kelamin: SiakCoded
    tempat_lahir: str
    tanggal_lahir: str
    """``YYYY-MM-DD``."""
    agama: SiakCoded
    pendidikan: SiakCoded
    pekerjaan: SiakCoded
    golongan_darah: SiakCoded
    status_perkawinan: SiakCoded
    tanggal_perkawinan: str | None
    shdk: SiakCoded
    kewarganegaraan: SiakCoded
    no_paspor: str
    no_kitap: str
    nik_ayah: str
    nama_ayah: str
    nik_ibu: str
    nama_ibu: str
    disabilitas: SiakCoded | None


class SiakExport(BaseModel):
    """An approved application for entry into SIAK (``format`` kk-online/siak-export,
    ``version`` 1; the CSV form has one row per member, docs/workflow.md)."""

    format: Literal["kk-online/siak-export"]
    version: Literal[1]
    application_id: str
    state: str
    exported_at: str
    approved_at: str | None
    approved_by: str | None
    """The Kabid's name."""
    service: SiakService
    kk_number: str
    """The family's KK number; empty for a new family until it is allocated."""
    applicant: SiakApplicant
    address: SiakAddress
    members: list[SiakMember]


class SiakPendingItem(ApplicationSummary):
    """An approved application not yet recorded as entered into SIAK."""

    approved_at: str


class SiakPendingPage(Page):
    """Approved applications still to enter into SIAK, the longest waiting first."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "items": [
                        {
                            "application_id": "0b5f1a52-7a0e-4d3e-9a55-2f1c0c9e8a01",
                            "kecamatan": "160601",
                            "applicant_name": "Ahmad Fauzi",
                            "service_label": "KK BARU: Membentuk Keluarga Baru",
                            "state": "approved",
                            "state_label": "Diverifikasi Kabid",
                            "approved_at": "2026-11-25T03:20:00.000Z",
                        }
                    ],
                    "total": 1,
                    "limit": 50,
                    "offset": 0,
                }
            ]
        }
    )

    items: list[SiakPendingItem]


# -- audit --------------------------------------------------------------------------------


class AuditRecordOut(BaseModel):
    """One row of the hash-chained access log."""

    seq: int
    at: str
    actor_id: str
    role: str
    client_ip: str
    action: str
    application_id: str | None
    detail: str
    prev_hash: str
    hash: str


class AuditPage(Page):
    """Access-log rows, newest first."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "items": [
                        {
                            "seq": 2,
                            "at": "2026-11-25T03:12:45.120Z",
                            "actor_id": "6f1c2a9e-3b1d-4c55-9a0e-7d2b8c4e1f00",
                            "role": "verifikator",
                            "client_ip": "10.16.6.21",
                            "action": "application.decided",
                            "application_id": "0b5f1a52-7a0e-4d3e-9a55-2f1c0c9e8a01",
                            "detail": "verify: submitted -> verified",
                            "prev_hash": "6b86b273ff34fce19d6b804eff5a3f57"
                            "47ada4eaa22f1d49c01e52ddb7875b4b",
                            "hash": "d4735e3a265e16eee03f59718b9b5d03"
                            "019c07d8b6c51f90da3a666eec13ab35",
                        }
                    ],
                    "total": 2,
                    "limit": 50,
                    "offset": 0,
                }
            ]
        }
    )

    items: list[AuditRecordOut]


class AuditVerification(BaseModel):
    """The result of checking the whole access-log chain."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"intact": True, "rows": 1284, "first_bad_seq": None},
                {"intact": False, "rows": 1284, "first_bad_seq": 517},
            ]
        }
    )

    intact: bool
    rows: int
    first_bad_seq: int | None = None
    """The first row altered, or following a deleted one; ``None`` when intact."""
