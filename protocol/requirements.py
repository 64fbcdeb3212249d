"""Requirement checklists: which documents each KK service needs, and what is still missing.

The SOP (B-470/582/DUKCAPIL/2022, step 2) has the operator check the file against a
"checklist persyaratan"; every later step may return it with reasons. This module answers
both needs:

- :func:`checklist_for` gives the :class:`Checklist` for a service (form F-1.02 section II),
  shaped by :class:`ChecklistFacts` that the caller derives from the application (e.g. a
  foreign member needs a KITAP) and by a :class:`RequirementPolicy` for the rules that are
  local practice or not confirmed against the regulation;
- :meth:`Checklist.missing_issues` lists what is missing as :class:`~protocol.errors.Issue`
  values (code ``requirement.missing``), the text of the WhatsApp notice;
- :func:`is_known_item` / :func:`reason_label` validate and name the item codes staff cite
  when they return an application: requirement codes, document codes and
  :data:`RETURN_REASONS`.

The tables themselves are data in :mod:`protocol.requirement_rules`, with the regulation
article on every rule. A requirement is satisfied when *any one* of its documents is attached
("buku nikah atau SPTJM"). Every checklist starts with the F-1.02 signed by the applicant.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, fields
from typing import Any

from protocol.errors import Issue, ValidationError, define_messages, issue
from protocol.requirement_rules import (
    COMMON_RULES,
    DOCUMENTS,
    HEAD_RULES,
    REQUIREMENT_LABELS,
    RETURN_REASONS,
    SERVICE_RULES,
    Document,
    Rule,
    rule_key,
)
from protocol.services import ServiceRequest

__all__ = [
    "Document",
    "DOCUMENTS",
    "REQUIREMENT_LABELS",
    "RETURN_REASONS",
    "Requirement",
    "ChecklistFacts",
    "NO_FACTS",
    "RequirementPolicy",
    "DEFAULT_POLICY",
    "Checklist",
    "checklist_for",
    "is_known_item",
    "reason_label",
]

define_messages(
    {
        "requirement.missing": "Persyaratan belum dilampirkan: {label}.",
    }
)


def _join_alternatives(labels: list[str]) -> str:
    """Indonesian enumeration: ``A``, ``A atau B``, ``A, B, atau C``."""
    if len(labels) <= 2:
        return " atau ".join(labels)
    return f"{', '.join(labels[:-1])}, atau {labels[-1]}"


@dataclass(frozen=True, slots=True)
class Requirement:
    """One line of a checklist: a need that any one of several documents satisfies."""

    code: str
    """Stable id, a key of :data:`REQUIREMENT_LABELS`, e.g. ``bukti_perkawinan``."""
    label: str
    """Indonesian name of the requirement for this service, e.g. "KK yang ditumpangi"."""
    any_of: tuple[str, ...]
    """Document codes (:data:`DOCUMENTS`); attaching any one of them satisfies it."""
    basis: str
    """The regulation article it rests on (or "Praktik setempat" for local practice)."""
    condition: str | None = None
    """Indonesian: why it applies to this application; ``None`` when it always applies."""

    @property
    def documents(self) -> tuple[Document, ...]:
        return tuple(DOCUMENTS[c] for c in self.any_of)

    @property
    def alternatives_label(self) -> str:
        """The accepted documents in words, e.g. "Buku Nikah/... atau SPTJM ... (F-1.05)"."""
        return _join_alternatives([d.display for d in self.documents])

    def is_satisfied_by(self, attached: Collection[str]) -> bool:
        """True when any of the accepted documents is among ``attached``."""
        return any(code in attached for code in self.any_of)

    def to_dict(self) -> dict[str, Any]:
        """Wire form: JSON-safe and stable."""
        return {
            "code": self.code,
            "label": self.label,
            "any_of": list(self.any_of),
            "alternatives_label": self.alternatives_label,
            "basis": self.basis,
            "condition": self.condition,
        }


@dataclass(frozen=True, slots=True)
class ChecklistFacts:
    """What the caller knows about the application that changes the documents it needs.

    The caller derives these from the application (members of the KK to be issued, their
    marital status and citizenship). All default to ``False``: with no facts, the checklist
    is the regulation's general one.
    """

    has_wna_member: bool = False
    """The KK to be issued lists an Orang Asing (kewarganegaraan WNA): their kartu izin tinggal
    tetap is needed (Perpres 96/2018 Ps. 11, 13), and the passport if the policy says so."""
    recorded_marriage: bool = False
    """A marital status this application records (every member of a new KK; for a data change,
    the members whose status changes) is KAWIN TERCATAT, CERAI HIDUP TERCATAT or CERAI MATI: the
    buku nikah / akta perceraian is needed. Used by membentuk keluarga baru, pisah KK and the
    Peristiwa Penting perkawinan/perceraian."""
    unrecorded_marriage: bool = False
    """Such a status is KAWIN BELUM TERCATAT or CERAI HIDUP BELUM TERCATAT: the SPTJM (F-1.05)
    is needed (Permendagri 108/2019 Ps. 10 ayat (2)). When neither this nor
    ``recorded_marriage`` is set, a marital proof accepts the deed *or* the SPTJM."""
    naturalized_member: bool = False
    """A member of a new KK was a foreign citizen and is now WNI (pewarganegaraan or change of
    status): the Keppres/Kepmen is needed (Perpres 96/2018 Ps. 11 huruf e)."""
    child_joins_without_parent: bool = False
    """A child (under 17, never married) is added to a KK in which neither parent is listed,
    e.g. numpang with relatives: the custody letter from the parents/guardian is needed
    (F-1.02 section III; policy ``require_custody_letter``)."""


NO_FACTS = ChecklistFacts()
"""Facts of an application with nothing special: the general checklist."""


@dataclass(frozen=True, slots=True)
class RequirementPolicy:
    """Switches for the rules that are local practice or not confirmed in the regulation.

    Defaults follow the regulation as domain.md §5 reads it, plus the local practice the
    Dinas is most likely to keep; each field says which. The Dinas may change them.
    """

    require_acceptance_statement: bool = True
    """Menumpang dalam KK: the host family's "surat pernyataan bersedia menerima sebagai
    anggota keluarga". Local practice (another F-1.02 version lists it), not Perpres 96/2018."""
    require_ktp_el_for_hilang_rusak: bool = True
    """KK hilang/rusak: the KTP-el (Perpres 96/2018 Ps. 13 huruf b as quoted by Dukcapil pages)."""
    accept_statement_for_lost_kk: bool = False
    """KK hilang: accept the "surat pernyataan penyebab hilang atau rusak" in place of the police
    letter. Some Dinas do; Ps. 13 names the police letter only."""
    require_statement_of_cause: bool = False
    """KK hilang/rusak: also require the "surat pernyataan penyebab hilang atau rusak", which
    F-1.02 lists without saying when it is needed."""
    accept_perwakilan_letter_for_ln: bool = True
    """WNI dari LN: accept the surat keterangan pindah from the Perwakilan RI as well as the
    Disdukcapil's surat keterangan pindah luar negeri (both on F-1.02; judgement)."""
    travel_document_for_wni_dari_ln: bool = True
    """WNI dari LN: require the passport (F-1.02 lists "dokumen perjalanan"; Ps. 11 does not)."""
    travel_document_for_wna: bool = False
    """Orang Asing member: require the passport too (KK column 14; not in Ps. 11/13)."""
    kitap_for_data_change: bool = True
    """Orang Asing member, KK perubahan data: require the KITAP (KK column 15; not in Ps. 12)."""
    require_custody_letter: bool = True
    """Child added without a parent: require the custody letter (F-1.02 section III)."""
    kk_lama_for_new_family: bool = False
    """Membentuk keluarga baru: require the KK the couple leaves (local practice elsewhere;
    not in Perpres 96/2018 Ps. 11)."""


DEFAULT_POLICY = RequirementPolicy()

_FACT_NAMES = frozenset(f.name for f in fields(ChecklistFacts))
_POLICY_NAMES = frozenset(f.name for f in fields(RequirementPolicy))


@dataclass(frozen=True, slots=True)
class Checklist:
    """The requirements of one service for one application, in the order to check them."""

    service: ServiceRequest
    requirements: tuple[Requirement, ...]

    def missing(self, attached: Collection[str]) -> tuple[Requirement, ...]:
        """Requirements none of whose documents is in ``attached`` (document codes).

        Unknown codes in ``attached`` satisfy nothing; they are not an error here.
        """
        attached = _as_codes(attached)
        return tuple(r for r in self.requirements if not r.is_satisfied_by(attached))

    def is_complete(self, attached: Collection[str]) -> bool:
        """True when every requirement is satisfied by ``attached``."""
        return not self.missing(attached)

    def missing_issues(self, attached: Collection[str]) -> list[Issue]:
        """One ``requirement.missing`` error per missing requirement.

        ``field`` is ``checklist.<requirement code>``; ``params`` carry ``requirement`` (the
        code), ``label`` (the accepted documents in words, used by the message),
        ``requirement_label`` and ``documents`` (the accepted codes, comma-separated).
        """
        return [
            issue(
                "requirement.missing",
                field=f"checklist.{r.code}",
                requirement=r.code,
                label=r.alternatives_label,
                requirement_label=r.label,
                documents=",".join(r.any_of),
            )
            for r in self.missing(attached)
        ]

    def item_codes(self) -> frozenset[str]:
        """Codes staff may cite for this checklist: its requirements and their documents.

        :data:`RETURN_REASONS` apply to every application and are not included.
        """
        return frozenset(r.code for r in self.requirements) | self.document_codes()

    def document_codes(self) -> frozenset[str]:
        """Every document code some requirement of this checklist accepts."""
        return frozenset(c for r in self.requirements for c in r.any_of)

    def requirement(self, code: str) -> Requirement:
        """The requirement with ``code``; raises ``KeyError`` when the checklist has none."""
        for r in self.requirements:
            if r.code == code:
                return r
        raise KeyError(code)

    def to_dict(self) -> dict[str, Any]:
        """Wire form: JSON-safe and stable."""
        return {
            "service": self.service.to_dict(),
            "requirements": [r.to_dict() for r in self.requirements],
        }


def checklist_for(
    service: ServiceRequest,
    facts: ChecklistFacts = NO_FACTS,
    policy: RequirementPolicy = DEFAULT_POLICY,
) -> Checklist:
    """The checklist for ``service``, shaped by ``facts`` and ``policy``.

    Raises :class:`ValidationError` (codes from :mod:`protocol.services`) when a Peristiwa
    Penting request names no event, or another sub-type names one.
    """
    key = _key(service)
    try:
        specific = SERVICE_RULES[key]
    except KeyError:  # a sub-type added to services.py without a table: a programming error
        raise LookupError(f"no requirement rules for service {key!r}") from None
    common = (rule for scope, rule in COMMON_RULES if service.service_type in scope)
    chosen: dict[str, Requirement] = {}
    for rule in (*HEAD_RULES, *specific, *common):
        if not _applies(rule, facts, policy):
            continue
        req = _requirement(rule)
        earlier = chosen.get(req.code)
        if earlier is None:
            chosen[req.code] = req
        elif earlier.any_of != req.any_of:
            # Two rules for one code must be exclusive or ask for the same thing; anything
            # else would hide one of them, so it is a bug in the table.
            raise LookupError(f"conflicting rules for {req.code!r} in {key!r}")
    return Checklist(service, tuple(chosen.values()))


def is_known_item(code: str) -> bool:
    """True for every requirement code, document code and return reason code."""
    return code in REQUIREMENT_LABELS or code in DOCUMENTS or code in RETURN_REASONS


def reason_label(code: str) -> str:
    """Indonesian label of a checklist item code; raises ``KeyError`` for an unknown code."""
    if code in RETURN_REASONS:
        return RETURN_REASONS[code]
    if code in REQUIREMENT_LABELS:
        return REQUIREMENT_LABELS[code]
    return DOCUMENTS[code].display


# -- internals -----------------------------------------------------------------------------------


def _key(service: ServiceRequest) -> str:
    is_event_service = service.sub_type.key == "peristiwa_penting"
    if is_event_service and service.peristiwa is None:
        raise ValidationError.single("service.peristiwa_required", field="service.peristiwa")
    if not is_event_service and service.peristiwa is not None:
        raise ValidationError.single("service.peristiwa_not_applicable", field="service.peristiwa")
    return rule_key(service.sub_type.key, service.peristiwa)


def _applies(rule: Rule, facts: ChecklistFacts, policy: RequirementPolicy) -> bool:
    return all(_condition_holds(name, facts, policy) for name in rule.when)


def _condition_holds(name: str, facts: ChecklistFacts, policy: RequirementPolicy) -> bool:
    negate = name.startswith("not:")
    name = name.removeprefix("not:")
    if name.startswith("policy."):
        flag = name.removeprefix("policy.")
        if flag not in _POLICY_NAMES:
            raise LookupError(f"unknown policy flag {flag!r} in a requirement rule")
        value = getattr(policy, flag)
    else:
        if name not in _FACT_NAMES:
            raise LookupError(f"unknown fact {name!r} in a requirement rule")
        value = getattr(facts, name)
    return bool(value) != negate


def _requirement(rule: Rule) -> Requirement:
    return Requirement(
        code=rule.code,
        label=rule.label or REQUIREMENT_LABELS[rule.code],
        any_of=rule.any_of,
        basis=rule.basis,
        condition=rule.condition,
    )


def _as_codes(attached: Collection[str]) -> Collection[str]:
    # A bare string is a Collection[str] too, and "kk_lama" in "kk_lama_x" would be True.
    if isinstance(attached, str):
        raise TypeError("attached must be a collection of document codes, not one string")
    return attached if isinstance(attached, set | frozenset) else frozenset(attached)
