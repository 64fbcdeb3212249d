"""Is this application right, and is it complete?

:func:`validate` applies every content rule to an :class:`~protocol.application.Application`
(identity numbers, names, code lists, address, cross-field rules) and
:func:`missing_documents` answers "what is still missing?" from the requirement checklist.
Both return :class:`~protocol.errors.Issue` lists, so the counter can show everything at
once while the operator types, and the server can refuse a submission with the same codes.

Errors block submission. Warnings are judgements (a NIK whose date disagrees with the
recorded birth date, a very young parent...): the operator may go on after recording an
:class:`~protocol.application.Override` with a reason.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date

from protocol import codes, names, wilayah
from protocol.application import Application, Member
from protocol.errors import Issue, Severity, ValidationError, define_messages, issue
from protocol.identity import ParsedNik, nik_mismatches, parse_kk_number, parse_nik
from protocol.phone import normalize_whatsapp
from protocol.requirements import (
    DEFAULT_POLICY,
    Checklist,
    ChecklistFacts,
    RequirementPolicy,
    checklist_for,
)
from protocol.services import PeristiwaPenting, ServiceType

__all__ = [
    "ValidationOptions",
    "ValidationReport",
    "validate",
    "checklist_facts",
    "checklist_of",
    "missing_documents",
    "readiness",
]

define_messages(
    {
        "family.empty": "Keluarga belum memiliki anggota.",
        "family.no_head": "Harus ada tepat satu Kepala Keluarga; belum ada.",
        "family.multiple_heads": "Harus ada tepat satu Kepala Keluarga; tercatat {count}.",
        "family.duplicate_nik": "NIK {nik} tercatat lebih dari sekali dalam keluarga ini.",
        "family.head_minor": "Kepala Keluarga berumur {age} tahun dan belum pernah kawin. "
        "Kepala Keluarga lazimnya berumur 17 tahun atau sudah/pernah kawin.",
        "family.too_large": "Satu KK paling banyak {max} anggota.",
        "member.nik_missing": "Anggota ini belum memiliki NIK. NIK akan diterbitkan saat "
        "biodata dicatat di SIAK; pastikan memang belum pernah ada NIK.",
        "member.birth_date_future": "Tanggal lahir {value} ada di masa depan.",
        "member.birth_date_too_old": "Tanggal lahir {value} berarti umur lebih dari {max} tahun.",
        "member.spouse_not_married": "Status hubungan {shdk} memerlukan status perkawinan "
        "KAWIN, bukan {status}.",
        "member.spouse_sex": "{shdk} biasanya berjenis kelamin {expected}. Periksa kembali.",
        "member.marriage_date_without_marriage": "Tanggal perkawinan hanya diisi untuk yang "
        "sudah atau pernah kawin.",
        "member.marriage_date_missing": "Tanggal perkawinan belum diisi untuk status {status}.",
        "member.marriage_date_future": "Tanggal perkawinan {value} ada di masa depan.",
        "member.marriage_before_birth": "Tanggal perkawinan {value} sebelum tanggal lahir.",
        "member.child_older_than_parent": "Anak lahir {child} tidak mungkin lebih dulu dari "
        "{parent_role} yang lahir {parent}.",
        "member.parent_too_young": "Selisih umur dengan {parent_role} hanya {years} tahun. "
        "Periksa kembali tanggal lahir.",
        "member.parent_sex": "NIK {parent_role} menunjuk anggota berjenis kelamin {sex}.",
        "member.wna_document_missing": "Anggota WNA harus memiliki nomor paspor atau KITAP.",
        "member.parent_nik_self": "NIK {parent_role} sama dengan NIK anggota itu sendiri.",
        "address.outside_muba": "Desa/Kelurahan {region} bukan wilayah Kabupaten Musi Banyuasin.",
        "address.invalid_rt_rw": "{label} harus berupa angka 1-3 digit, misalnya 001.",
        "address.invalid_postcode": "Kode pos harus 5 digit angka.",
        "application.kk_number_required": "Nomor KK keluarga wajib diisi untuk {service}.",
        "application.kk_number_not_applicable": "KK baru mendapat nomor baru dari pusat; "
        "kosongkan Nomor KK keluarga.",
        "override.reason_too_short": "Alasan pengecualian harus jelas (minimal {min} karakter).",
    }
)


@dataclass(frozen=True, slots=True)
class ValidationOptions:
    """Judgements that the office may tune (documented in docs/domain.md)."""

    name_rules: names.NameRules = names.DEFAULT_RULES
    max_age_years: int = 130
    """Older birth dates are almost certainly typing errors."""
    min_parent_gap_years: int = 12
    """A parent younger than this at the child's birth is a warning, not an error."""
    max_members: int = 30
    """A KK has room for 10 rows per page; larger families continue on the next page, but a
    family this large is far more likely a data-entry error (two KKs merged)."""
    min_override_reason: int = 10
    requirement_policy: RequirementPolicy = DEFAULT_POLICY
    """The office's choices on uncertain document requirements."""


DEFAULT_OPTIONS = ValidationOptions()


@dataclass(frozen=True, slots=True)
class ValidationReport:
    """Everything :func:`validate` found, split the way a UI needs it."""

    issues: tuple[Issue, ...]
    overridden: tuple[Issue, ...]
    """Warnings the operator accepted with a reason."""

    @property
    def errors(self) -> tuple[Issue, ...]:
        return tuple(i for i in self.issues if i.severity is Severity.ERROR)

    @property
    def warnings(self) -> tuple[Issue, ...]:
        """Warnings still waiting for a correction or an override."""
        return tuple(i for i in self.issues if i.severity is Severity.WARNING)

    @property
    def ok(self) -> bool:
        """True when nothing blocks: no errors and every warning overridden."""
        return not self.issues

    def raise_if_blocking(self) -> None:
        if self.issues:
            raise ValidationError(self.issues)


def validate(
    app: Application, *, today: date, options: ValidationOptions = DEFAULT_OPTIONS
) -> ValidationReport:
    """Apply every content rule to ``app`` as of ``today``."""
    found: list[Issue] = []
    found += _applicant_issues(app, today, options)
    found += _address_issues(app)
    parsed: dict[int, ParsedNik] = {}
    # A birth registration adds a child who has no NIK yet: that is the point, not a doubt.
    births = app.service.peristiwa is PeristiwaPenting.KELAHIRAN
    for index, member in enumerate(app.members):
        found += _member_issues(index, member, today, options, parsed, births)
    found += _family_issues(app, today, options, parsed)
    return _apply_overrides(app, found, options)


def checklist_facts(app: Application, *, today: date) -> ChecklistFacts:
    """Derive what the requirement checklist needs to know from the family data.

    The model does not say which members a data change touches, so every member counts: a
    family with a recorded marriage is asked for its buku nikah when the service needs one.
    ``naturalized_member`` has no element in the member data (F-1.01 records the current
    citizenship only) and stays unset; staff ask for the Keppres when they see the case.
    """
    members = app.members
    niks = {m.nik for m in members if m.nik}
    parent_names = {m.nama.upper() for m in members}

    def without_parent(m: Member) -> bool:
        if m.shdk == codes.SHDK_KEPALA_KELUARGA or codes.was_married(m.status_perkawinan):
            return False
        if _years_between(m.tanggal_lahir, today) >= 17:
            return False
        parents_listed = (m.nik_ayah and m.nik_ayah in niks) or (m.nik_ibu and m.nik_ibu in niks)
        named_listed = m.nama_ayah.upper() in parent_names or m.nama_ibu.upper() in parent_names
        return not (parents_listed or named_listed)

    return ChecklistFacts(
        has_wna_member=any(m.kewarganegaraan == codes.WNA for m in members),
        recorded_marriage=any(
            codes.was_married(m.status_perkawinan) and not codes.is_unrecorded(m.status_perkawinan)
            for m in members
        ),
        unrecorded_marriage=any(codes.is_unrecorded(m.status_perkawinan) for m in members),
        child_joins_without_parent=any(without_parent(m) for m in members),
    )


def checklist_of(
    app: Application, *, today: date, options: ValidationOptions = DEFAULT_OPTIONS
) -> Checklist:
    """The requirement checklist for this application's service and family."""
    return checklist_for(app.service, checklist_facts(app, today=today), options.requirement_policy)


def missing_documents(
    app: Application, *, today: date, options: ValidationOptions = DEFAULT_OPTIONS
) -> list[Issue]:
    """What is still missing for this application: one issue per unmet requirement."""
    return checklist_of(app, today=today, options=options).missing_issues(app.attached_documents)


def readiness(
    app: Application, *, today: date, options: ValidationOptions = DEFAULT_OPTIONS
) -> tuple[ValidationReport, list[Issue]]:
    """Both answers a submit needs: content problems and missing documents."""
    return (
        validate(app, today=today, options=options),
        missing_documents(app, today=today, options=options),
    )


# -- rule groups ------------------------------------------------------------------------


def _applicant_issues(app: Application, today: date, options: ValidationOptions) -> list[Issue]:
    out: list[Issue] = []
    _, name_issues = names.check_name(
        app.applicant.nama,
        field="applicant.nama",
        rules=options.name_rules,
        new_registration=False,
    )
    out += name_issues
    out += _catch(lambda: parse_nik(app.applicant.nik, today=today, field="applicant.nik"))
    out += _catch(lambda: normalize_whatsapp(app.applicant.whatsapp, field="applicant.whatsapp"))
    if app.applicant.kk_number:
        out += _catch(
            lambda: parse_kk_number(
                app.applicant.kk_number, today=today, field="applicant.kk_number"
            )
        )
    keeps_number = app.service.service_type is not ServiceType.BARU
    if keeps_number and not app.kk_number:
        out.append(
            issue("application.kk_number_required", field="kk_number", service=app.service.label)
        )
    elif app.kk_number and not keeps_number:
        out.append(issue("application.kk_number_not_applicable", field="kk_number"))
    elif app.kk_number:
        out += _catch(lambda: parse_kk_number(app.kk_number, today=today, field="kk_number"))
    return out


def _address_issues(app: Application) -> list[Issue]:
    a = app.address
    out: list[Issue] = []
    desa = wilayah.region(a.desa_code)
    if (
        desa is None
        or desa.level is not wilayah.Level.DESA
        or not a.desa_code.startswith(wilayah.MUBA_CODE)
    ):
        out.append(issue("address.outside_muba", field="address.desa_code", region=a.desa_code))
    for key, label in (("rt", "RT"), ("rw", "RW")):
        value = getattr(a, key)
        if not (value.isdigit() and 1 <= len(value) <= 3):
            out.append(issue("address.invalid_rt_rw", field=f"address.{key}", label=label))
    if a.kode_pos and not (a.kode_pos.isdigit() and len(a.kode_pos) == 5):
        out.append(issue("address.invalid_postcode", field="address.kode_pos"))
    return out


_CODED_FIELDS: tuple[tuple[str, codes.CodeList], ...] = (
    ("jenis_kelamin", codes.JENIS_KELAMIN),
    ("agama", codes.AGAMA),
    ("pendidikan", codes.PENDIDIKAN),
    ("pekerjaan", codes.PEKERJAAN),
    ("golongan_darah", codes.GOLONGAN_DARAH),
    ("shdk", codes.SHDK),
    ("kewarganegaraan", codes.KEWARGANEGARAAN),
)


def _member_issues(
    index: int,
    m: Member,
    today: date,
    options: ValidationOptions,
    parsed: dict[int, ParsedNik],
    births: bool,
) -> list[Issue]:
    p = f"members[{index}]"
    out: list[Issue] = []
    for key, code_list in _CODED_FIELDS:
        out += code_list.check(getattr(m, key), field=f"{p}.{key}")
    # Someone entered for the first time must get a current KK value (tercatat/belum
    # tercatat); data copied from an old KK may keep the classic KAWIN / CERAI HIDUP.
    out += codes.check_status_perkawinan(
        m.status_perkawinan, field=f"{p}.status_perkawinan", new_entry=not m.nik
    )
    if m.disabilitas is not None:
        out += codes.DISABILITAS.check(m.disabilitas, field=f"{p}.disabilitas")

    # A member with a NIK already exists in the population register: Permendagri 73/2022
    # applies its two-word rule only to new registrations (older names stay legal).
    new_person = not m.nik
    _, name_issues = names.check_name(
        m.nama, field=f"{p}.nama", rules=options.name_rules, new_registration=new_person
    )
    out += name_issues
    for key in ("nama_ayah", "nama_ibu"):
        if getattr(m, key):
            _, parent_name_issues = names.check_name(
                getattr(m, key),
                field=f"{p}.{key}",
                rules=options.name_rules,
                new_registration=False,
            )
            out += parent_name_issues

    if m.nik:
        try:
            nik = parse_nik(m.nik, today=today, field=f"{p}.nik")
        except ValidationError as exc:
            out += exc.issues
        else:
            parsed[index] = nik
            out += nik_mismatches(
                nik, birth_date=m.tanggal_lahir, sex=m.jenis_kelamin, field=f"{p}.nik"
            )
    elif not (births and _years_between(m.tanggal_lahir, today) < 18):
        out.append(issue("member.nik_missing", field=f"{p}.nik", severity=Severity.WARNING))
    for key, label in (("nik_ayah", "ayah"), ("nik_ibu", "ibu")):
        value = getattr(m, key)
        if not value:
            continue
        if value == m.nik:
            out.append(issue("member.parent_nik_self", field=f"{p}.{key}", parent_role=label))
        else:
            out += _catch(lambda v=value, k=key: parse_nik(v, today=today, field=f"{p}.{k}"))

    if m.tanggal_lahir > today:
        out.append(
            issue(
                "member.birth_date_future", field=f"{p}.tanggal_lahir", value=_dmy(m.tanggal_lahir)
            )
        )
    elif _years_between(m.tanggal_lahir, today) > options.max_age_years:
        out.append(
            issue(
                "member.birth_date_too_old",
                field=f"{p}.tanggal_lahir",
                value=_dmy(m.tanggal_lahir),
                max=options.max_age_years,
            )
        )
    out += _marriage_issues(p, m, today)
    if m.kewarganegaraan == codes.WNA and not (m.no_paspor or m.no_kitap):
        out.append(issue("member.wna_document_missing", field=f"{p}.no_kitap"))
    return out


def _marriage_issues(p: str, m: Member, today: date) -> list[Issue]:
    out: list[Issue] = []
    status = m.status_perkawinan
    if status not in codes.STATUS_PERKAWINAN:
        return out  # already reported as an unknown code
    if m.shdk in (codes.SHDK_SUAMI, codes.SHDK_ISTRI):
        shdk_label = codes.SHDK.label(m.shdk)
        if not codes.is_married(status):
            out.append(
                issue(
                    "member.spouse_not_married",
                    field=f"{p}.status_perkawinan",
                    shdk=shdk_label,
                    status=codes.STATUS_PERKAWINAN.label(status),
                )
            )
        expected = codes.LAKI_LAKI if m.shdk == codes.SHDK_SUAMI else codes.PEREMPUAN
        if m.jenis_kelamin in codes.JENIS_KELAMIN and m.jenis_kelamin != expected:
            out.append(
                issue(
                    "member.spouse_sex",
                    field=f"{p}.jenis_kelamin",
                    severity=Severity.WARNING,
                    shdk=shdk_label,
                    expected=codes.JENIS_KELAMIN.label(expected),
                )
            )
    if m.tanggal_perkawinan is not None:
        if not codes.was_married(status):
            out.append(
                issue("member.marriage_date_without_marriage", field=f"{p}.tanggal_perkawinan")
            )
        elif m.tanggal_perkawinan > today:
            out.append(
                issue(
                    "member.marriage_date_future",
                    field=f"{p}.tanggal_perkawinan",
                    value=_dmy(m.tanggal_perkawinan),
                )
            )
        elif m.tanggal_perkawinan < m.tanggal_lahir:
            out.append(
                issue(
                    "member.marriage_before_birth",
                    field=f"{p}.tanggal_perkawinan",
                    value=_dmy(m.tanggal_perkawinan),
                )
            )
    elif codes.is_married(status) and not codes.is_unrecorded(status):
        # A recorded marriage has a date on the buku nikah; KK column 11 prints it.
        out.append(
            issue(
                "member.marriage_date_missing",
                field=f"{p}.tanggal_perkawinan",
                severity=Severity.WARNING,
                status=codes.STATUS_PERKAWINAN.label(status),
            )
        )
    return out


def _family_issues(
    app: Application, today: date, options: ValidationOptions, parsed: dict[int, ParsedNik]
) -> list[Issue]:
    members = app.members
    out: list[Issue] = []
    if not members:
        return [issue("family.empty", field="members")]
    if len(members) > options.max_members:
        out.append(issue("family.too_large", field="members", max=options.max_members))
    heads = [i for i, m in enumerate(members) if m.shdk == codes.SHDK_KEPALA_KELUARGA]
    if not heads:
        out.append(issue("family.no_head", field="members"))
    elif len(heads) > 1:
        out.append(issue("family.multiple_heads", field="members", count=len(heads)))
    else:
        head = members[heads[0]]
        age = _years_between(head.tanggal_lahir, today)
        if 0 <= age < 17 and not codes.was_married(head.status_perkawinan):
            out.append(
                issue(
                    "family.head_minor",
                    field=f"members[{heads[0]}].tanggal_lahir",
                    severity=Severity.WARNING,
                    age=age,
                )
            )

    counts = Counter(m.nik for m in members if m.nik)
    for nik, n in counts.items():
        if n > 1:
            dup = [i for i, m in enumerate(members) if m.nik == nik][1:]
            out += [issue("family.duplicate_nik", field=f"members[{i}].nik", nik=nik) for i in dup]

    by_nik = {m.nik: m for m in members if m.nik and counts[m.nik] == 1}
    for index, child in enumerate(members):
        for key, role, sex in (
            ("nik_ayah", "ayah", codes.LAKI_LAKI),
            ("nik_ibu", "ibu", codes.PEREMPUAN),
        ):
            parent = by_nik.get(getattr(child, key))
            if parent is None or parent is child:
                continue
            out += _parent_child_issues(index, child, key, role, sex, parent, options)
    return out


def _parent_child_issues(
    index: int,
    child: Member,
    key: str,
    role: str,
    sex: int,
    parent: Member,
    options: ValidationOptions,
) -> list[Issue]:
    p = f"members[{index}]"
    out: list[Issue] = []
    if child.tanggal_lahir <= parent.tanggal_lahir:
        out.append(
            issue(
                "member.child_older_than_parent",
                field=f"{p}.tanggal_lahir",
                child=_dmy(child.tanggal_lahir),
                parent_role=role,
                parent=_dmy(parent.tanggal_lahir),
            )
        )
    else:
        gap = _years_between(parent.tanggal_lahir, child.tanggal_lahir)
        if gap < options.min_parent_gap_years:
            out.append(
                issue(
                    "member.parent_too_young",
                    field=f"{p}.tanggal_lahir",
                    severity=Severity.WARNING,
                    parent_role=role,
                    years=gap,
                )
            )
    if parent.jenis_kelamin in codes.JENIS_KELAMIN and parent.jenis_kelamin != sex:
        out.append(
            issue(
                "member.parent_sex",
                field=f"{p}.{key}",
                severity=Severity.WARNING,
                parent_role=role,
                sex=codes.JENIS_KELAMIN.label(parent.jenis_kelamin),
            )
        )
    return out


def _apply_overrides(
    app: Application, found: Iterable[Issue], options: ValidationOptions
) -> ValidationReport:
    """Move overridden warnings aside; an override never silences an error."""
    open_issues: list[Issue] = []
    overridden: list[Issue] = []
    for item in found:
        match = next(
            (
                i
                for i, o in enumerate(app.overrides)
                if o.matches(item) and len(o.reason.strip()) >= options.min_override_reason
            ),
            None,
        )
        if item.severity is Severity.WARNING and match is not None:
            overridden.append(item)
        else:
            open_issues.append(item)
    # A stale override (the data was corrected since) is kept and simply matches nothing.
    open_issues += [
        issue(
            "override.reason_too_short",
            field=f"overrides[{i}].reason",
            min=options.min_override_reason,
        )
        for i, o in enumerate(app.overrides)
        if len(o.reason.strip()) < options.min_override_reason
    ]
    return ValidationReport(tuple(open_issues), tuple(overridden))


# -- small helpers ----------------------------------------------------------------------


def _catch(fn: Callable[[], object]) -> list[Issue]:
    try:
        fn()
    except ValidationError as exc:
        return list(exc.issues)
    return []


def _years_between(start: date, end: date) -> int:
    """Whole years from ``start`` to ``end`` (age on ``end``)."""
    years = end.year - start.year
    if (end.month, end.day) < (start.month, start.day):
        years -= 1
    return years


def _dmy(value: date) -> str:
    """Dates as a KK prints them: dd-mm-yyyy."""
    return value.strftime("%d-%m-%Y")
