"""From what an operator typed to an :class:`~protocol.application.Application`, and back.

The screens of the new-application flow hold raw text and pick-list choices; this module
(no Textual here) turns them into the protocol's model, and splits the issues that
:func:`protocol.validation.validate` finds by the field they point at, so each one can be
shown under its own input while the operator types.

A draft may be incomplete for a long time: every function here accepts half-filled values
and never raises on them; what is wrong becomes an :class:`~protocol.errors.Issue`.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

from protocol.application import Address, Applicant, Application, Member, Override
from protocol.errors import Issue, ValidationError, define_messages, issue
from protocol.names import normalize_name
from protocol.services import ServiceRequest, parse_service
from protocol.validation import ValidationReport, validate

__all__ = [
    "DATE_HINT",
    "PADDED_FIELDS",
    "MEMBER_CODED_FIELDS",
    "MEMBER_DATE_FIELDS",
    "MEMBER_TEXT_FIELDS",
    "ApplicationDraft",
    "format_date",
    "issues_by_field",
    "member_from_values",
    "member_values",
    "new_application_id",
    "pad_rt_rw",
    "parse_date",
    "shape_issues",
]

define_messages(
    {
        "draft.invalid_date": "Tanggal ditulis HH-BB-TTTT, misalnya 17-08-1990.",
        "draft.service_missing": "Pilih jenis dan sub jenis permohonan.",
        "draft.choice_missing": "{title} belum dipilih.",
    }
)

DATE_HINT = "HH-BB-TTTT"
"""How dates are typed at the counter (the order a KK prints them)."""

MEMBER_TEXT_FIELDS: tuple[str, ...] = (
    "nama",
    "nik",
    "tempat_lahir",
    "no_paspor",
    "no_kitap",
    "nama_ayah",
    "nik_ayah",
    "nama_ibu",
    "nik_ibu",
)
MEMBER_DATE_FIELDS: tuple[str, ...] = ("tanggal_lahir", "tanggal_perkawinan")
MEMBER_CODED_FIELDS: tuple[str, ...] = (
    "jenis_kelamin",
    "agama",
    "pendidikan",
    "pekerjaan",
    "golongan_darah",
    "status_perkawinan",
    "shdk",
    "kewarganegaraan",
    "disabilitas",
)
"""Member fields chosen from a :data:`protocol.codes.CODE_LISTS` pick-list (same names)."""

_STAND_IN = parse_service("BARU", 1)
"""The service validated against until the operator chooses one."""

_DATE = re.compile(r"^\s*(\d{1,2})[-/. ](\d{1,2})[-/. ](\d{4})\s*$")
_ISO = re.compile(r"^\s*(\d{4})-(\d{2})-(\d{2})\s*$")


def new_application_id() -> str:
    """A fresh application id (a UUID4, as the event format requires)."""
    return str(uuid.uuid4())


def parse_date(text: str) -> date | None:
    """``17-08-1990`` (also with ``/`` or ``.``, or ISO ``1990-08-17``) -> a date;
    ``None`` when the text is not a real date."""
    found = _DATE.match(text)
    try:
        if found:
            day, month, year = (int(g) for g in found.groups())
            return date(year, month, day)
        found = _ISO.match(text)
        if found:
            return date.fromisoformat(found.group(0).strip())
    except ValueError:
        return None
    return None


def format_date(value: date | None) -> str:
    """A date as typed at the counter (``17-08-1990``); empty for ``None`` or the parser's
    placeholder for a missing date."""
    if value is None or value == date.min:
        return ""
    return value.strftime("%d-%m-%Y")


def member_values(member: Member) -> dict[str, str | int | None]:
    """A member as form values: text for text and date fields, codes for pick-lists."""
    values: dict[str, str | int | None] = {
        name: getattr(member, name) for name in (*MEMBER_TEXT_FIELDS, *MEMBER_CODED_FIELDS)
    }
    for name in MEMBER_DATE_FIELDS:
        values[name] = format_date(getattr(member, name))
    for name in MEMBER_CODED_FIELDS:
        if values[name] == 0:
            values[name] = None  # not chosen yet
    return values


PADDED_FIELDS = ("address.rt", "address.rw")
"""Fields written with three digits, as the KK prints them (RT 003/RW 001)."""


def pad_rt_rw(value: str) -> str:
    """An RT or RW of 1-3 digits as the KK prints it ("3" -> "003"); anything else as it
    is, for validation to name (protocol accepts 1-3 digits, so "003" passes everywhere)."""
    value = value.strip()
    return value.zfill(3) if value.isdigit() and len(value) <= 3 else value


def member_from_values(values: Mapping[str, str | int | None]) -> tuple[Member, list[Issue]]:
    """A member from form values, plus the issues only the form can see (dates that are
    not dates). A date not typed yet becomes ``date.min``/``None`` and an unchosen code 0,
    which :func:`validate` reports in its own words."""
    issues: list[Issue] = []

    def text(name: str) -> str:
        raw = values.get(name)
        return str(raw).strip() if raw is not None else ""

    def code(name: str) -> int:
        raw = values.get(name)
        return raw if isinstance(raw, int) and not isinstance(raw, bool) else 0

    dates: dict[str, date | None] = {}
    for name in MEMBER_DATE_FIELDS:
        raw = text(name)
        dates[name] = parse_date(raw) if raw else None
        if raw and dates[name] is None:
            issues.append(issue("draft.invalid_date", field=name))
    disabilitas = values.get("disabilitas")
    member = Member(
        nama=normalize_name(text("nama")),
        nik=text("nik").replace(" ", ""),
        jenis_kelamin=code("jenis_kelamin"),
        tempat_lahir=text("tempat_lahir").upper(),
        tanggal_lahir=dates["tanggal_lahir"] or date.min,
        agama=code("agama"),
        pendidikan=code("pendidikan"),
        pekerjaan=code("pekerjaan"),
        golongan_darah=code("golongan_darah"),
        status_perkawinan=code("status_perkawinan"),
        shdk=code("shdk"),
        kewarganegaraan=code("kewarganegaraan"),
        nama_ayah=normalize_name(text("nama_ayah")),
        nama_ibu=normalize_name(text("nama_ibu")),
        tanggal_perkawinan=dates["tanggal_perkawinan"],
        no_paspor=text("no_paspor").upper(),
        no_kitap=text("no_kitap").upper(),
        nik_ayah=text("nik_ayah").replace(" ", ""),
        nik_ibu=text("nik_ibu").replace(" ", ""),
        disabilitas=disabilitas if isinstance(disabilitas, int) and disabilitas > 0 else None,
    )
    return member, issues


def issues_by_field(issues: Iterable[Issue], prefix: str = "") -> dict[str, list[Issue]]:
    """Issues grouped by field, keeping only those under ``prefix`` (which is removed):
    ``issues_by_field(found, "members[1].")`` gives ``{"nik": [...], ...}``."""
    grouped: dict[str, list[Issue]] = {}
    for found in issues:
        if prefix and not found.field.startswith(prefix):
            continue
        grouped.setdefault(found.field.removeprefix(prefix), []).append(found)
    return grouped


@dataclass
class ApplicationDraft:
    """An application while the operator fills it in: mutable, possibly incomplete.

    ``text`` holds the typed values by field path (``applicant.nama``, ``address.rt``...);
    the service is chosen from pick-lists. :meth:`application` builds the protocol's model
    for validation and saving.
    """

    id: str = field(default_factory=new_application_id)
    service_type: str | None = None
    sub_type: int | None = None
    peristiwa: str | None = None
    text: dict[str, str] = field(default_factory=dict)
    members: list[Member] = field(default_factory=list)
    attached_documents: set[str] = field(default_factory=set)
    overrides: list[Override] = field(default_factory=list)

    @classmethod
    def of(cls, app: Application) -> ApplicationDraft:
        """The draft of a stored application, to edit it."""
        service = app.service.to_dict()
        return cls(
            id=app.id,
            service_type=str(service["service_type"]),
            sub_type=int(str(service["sub_type"])),
            peristiwa=app.service.peristiwa.value if app.service.peristiwa else None,
            text={
                "applicant.nama": app.applicant.nama,
                "applicant.nik": app.applicant.nik,
                "applicant.whatsapp": app.applicant.whatsapp,
                "applicant.kk_number": app.applicant.kk_number,
                "kk_number": app.kk_number,
                "address.alamat": app.address.alamat,
                "address.rt": app.address.rt,
                "address.rw": app.address.rw,
                "address.desa_code": app.address.desa_code,
                "address.kode_pos": app.address.kode_pos,
            },
            members=list(app.members),
            attached_documents=set(app.attached_documents),
            overrides=list(app.overrides),
        )

    def service(self) -> tuple[ServiceRequest | None, list[Issue]]:
        """The chosen service, or ``None`` with why not."""
        if not self.service_type or self.sub_type is None:
            return None, [issue("draft.service_missing", field="service.sub_type")]
        try:
            return parse_service(self.service_type, self.sub_type, self.peristiwa), []
        except ValidationError as exc:
            return None, list(exc.issues)

    def application(self) -> tuple[Application | None, list[Issue]]:
        """The model of this draft (``None`` until a service is chosen), plus the issues
        only the draft can see."""
        service, issues = self.service()
        return (None if service is None else self._build(service)), issues

    def _build(self, service: ServiceRequest) -> Application:
        t = self.text
        return Application(
            id=self.id,
            service=service,
            applicant=Applicant(
                nama=" ".join(t.get("applicant.nama", "").split()),
                nik=t.get("applicant.nik", "").replace(" ", ""),
                whatsapp=t.get("applicant.whatsapp", "").strip(),
                kk_number=t.get("applicant.kk_number", "").replace(" ", ""),
            ),
            address=Address(
                alamat=" ".join(t.get("address.alamat", "").split()),
                rt=t.get("address.rt", "").strip(),
                rw=t.get("address.rw", "").strip(),
                desa_code=t.get("address.desa_code", "").strip(),
                kode_pos=t.get("address.kode_pos", "").strip(),
            ),
            members=tuple(self.members),
            kk_number=t.get("kk_number", "").replace(" ", ""),
            attached_documents=frozenset(self.attached_documents),
            overrides=tuple(self.overrides),
        )

    def check(self, *, today: date) -> tuple[Application | None, list[Issue], ValidationReport]:
        """Build and validate: the model, every open issue (draft's and content's), and
        the report (for the warnings already overridden).

        Before a service is chosen the rest is still checked, against a stand-in service,
        so the operator sees a wrong NIK at once; rules that depend on the service (the KK
        number's) wait for the choice.
        """
        service, issues = self.service()
        app = self._build(service or _STAND_IN)
        report = validate(app, today=today)
        found = [*issues, *(_unchosen(i, app) for i in report.issues)]
        if service is None:
            found = [i for i in found if not i.field.startswith("kk_number")]
            return None, found, report
        return app, found, report

    def with_member(self, index: int | None, member: Member) -> list[Member]:
        """The member list with ``member`` replacing ``index`` (``None``: appended)."""
        members = list(self.members)
        if index is None:
            members.append(member)
        else:
            members[index] = member
        return members

    def override(self, found: Issue, reason: str, operator_id: str) -> None:
        """Accept a warning with a reason (replacing an earlier override of it)."""
        kept = [o for o in self.overrides if not o.matches(found)]
        self.overrides = [
            *kept,
            Override(code=found.code, field=found.field, reason=reason, operator_id=operator_id),
        ]

    def drop_override(self, found: Issue) -> None:
        """Take an override back: the warning is open again."""
        self.overrides = [o for o in self.overrides if not o.matches(found)]


def _unchosen(found: Issue, app: Application) -> Issue:
    """A pick-list not chosen yet reads "Agama belum dipilih.", not "Kode Agama "0" tidak
    dikenal." (the form stores 0 for "not chosen")."""
    if found.code == "code.unknown" and found.params.get("value") == 0:
        return issue("draft.choice_missing", field=found.field, title=found.params["title"])
    if found.code == "address.outside_muba" and not app.address.desa_code:
        return issue("draft.choice_missing", field=found.field, title="Desa/Kelurahan")
    return found


def shape_issues(app: Application) -> Sequence[Issue]:
    """What the wire format refuses (required fields left empty...): a draft must pass
    this to be saved, because the server parses the same body."""
    try:
        Application.from_dict(app.to_dict())
    except ValidationError as exc:
        return exc.issues
    return ()
