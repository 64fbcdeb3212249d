"""The SOP of the online Kartu Keluarga service as a state machine whose rules are data.

Source: SOP B-470/582/DUKCAPIL/2022 "Pelayanan Online Kartu Keluarga" (Disdukcapil Kabupaten
Musi Banyuasin, seven steps, 30 minutes in total) and ``docs/design.md`` §1.

Every allowed move is one row of :data:`TRANSITION_TABLE`::

    (from_state, action) -> (to_state, roles allowed, reason rule)

:func:`transition` is the only judge of a move, :func:`replay` checks a whole history with it
(the server uses that to verify a counter's log), and :func:`allowed_actions` lists what a role
may do next (for screens). Nothing here reads a clock or mutates its inputs: times are passed in.

Lifecycle::

    (none) --create--> draft --mark_incomplete--> incomplete
    draft | incomplete --submit--> submitted --verify--> verified --approve--> approved
    approved --sign--> signed --issue--> issued --archive--> archived
    submitted | verified --return--> returned --resubmit--> submitted
    approved --reject_tte--> tte_rejected --resubmit--> submitted
    draft | incomplete | returned | tte_rejected --withdraw--> withdrawn

Ownership (design.md §1): the counter owns ``draft``, ``incomplete``, ``returned`` and
``tte_rejected``; the centre owns ``submitted`` to ``signed``. Beyond the design:

* ``signed`` stays with the centre even though the operator issues it. The signed KK PDF exists
  only on the server, so the counter's ``issue`` is a request the server, being the authority,
  applies after sync; it edits no application data. The table also gives every state exactly one
  acting role, so a counter request on ``signed`` can never race a centre decision.
* ``issued`` belongs to the centre for the same reason: the server sends the KK by WhatsApp and
  builds the immutable archive package; the operator's ``archive`` only confirms step 6 is done.
* ``archived`` and ``withdrawn`` are terminal and owned by nobody: no side may edit them.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Any

from protocol.errors import (
    IllegalTransition,
    Issue,
    KKError,
    ReasonRequired,
    RoleNotPermitted,
    ValidationError,
    define_messages,
    issue,
    message_for,
)

__all__ = [
    "State",
    "Role",
    "Side",
    "Action",
    "ReasonRule",
    "Reasons",
    "TransitionRule",
    "TRANSITION_TABLE",
    "TERMINAL_STATES",
    "MIN_REASON_TEXT",
    "SopStep",
    "SOP_STEPS",
    "SOP_TOTAL_TARGET",
    "Transition",
    "StepTiming",
    "owner",
    "counter_may_edit",
    "is_terminal",
    "transition",
    "allowed_actions",
    "step_of",
    "step_timings",
    "replay",
    "default_is_known_item",
]

MIN_REASON_TEXT = 5
"""Fewest non-blank characters a free-text reason needs: enough to rule out "-", "ok" or "x"."""

define_messages(
    {
        "workflow.illegal_transition": 'Tindakan "{action}" tidak dapat dilakukan pada '
        'permohonan berstatus "{state}".',
        "workflow.role_not_permitted": '{role} tidak berwenang melakukan "{action}" pada '
        'permohonan berstatus "{state}". Yang berwenang: {allowed}.',
        "workflow.reason_required": 'Tindakan "{action}" memerlukan alasan: {rule}.',
        "workflow.reason_rule.items_or_text": "pilih minimal satu butir checklist atau tulis "
        "alasan minimal {min_chars} karakter",
        "workflow.reason_rule.items": "pilih minimal satu persyaratan yang belum lengkap",
        "workflow.reason_rule.text": "tulis alasan minimal {min_chars} karakter",
        "workflow.unknown_reason_item": 'Butir checklist "{item}" tidak dikenal.',
        "workflow.unknown_state": 'Status permohonan "{value}" tidak dikenal.',
        "workflow.unknown_action": 'Tindakan "{value}" tidak dikenal.',
        "workflow.unknown_role": 'Peran "{value}" tidak dikenal.',
        "workflow.empty_history": "Riwayat permohonan kosong: belum ada satu pun tindakan.",
        "workflow.history_from_mismatch": "Riwayat tidak sah pada catatan ke-{position}: "
        'tercatat dari status "{recorded}", padahal status saat itu "{actual}".',
        "workflow.history_to_mismatch": "Riwayat tidak sah pada catatan ke-{position}: "
        'tercatat menjadi "{recorded}", padahal tindakan "{action}" menghasilkan "{actual}".',
    }
)

_NO_STATE_LABEL = "Belum dibuat"


class State(enum.StrEnum):
    """Where an application is in the SOP."""

    DRAFT = "draft"
    INCOMPLETE = "incomplete"
    SUBMITTED = "submitted"
    VERIFIED = "verified"
    APPROVED = "approved"
    SIGNED = "signed"
    ISSUED = "issued"
    ARCHIVED = "archived"
    RETURNED = "returned"
    TTE_REJECTED = "tte_rejected"
    WITHDRAWN = "withdrawn"

    @property
    def label(self) -> str:
        """Indonesian name shown to operators and staff."""
        return _STATE_LABELS[self]


_STATE_LABELS: Mapping[State, str] = MappingProxyType(
    {
        State.DRAFT: "Draf",
        State.INCOMPLETE: "Belum lengkap",
        State.SUBMITTED: "Diajukan ke verifikator",
        State.VERIFIED: "Divalidasi Sub Koord",
        State.APPROVED: "Diverifikasi Kabid",
        State.SIGNED: "Sudah di-TTE",
        State.ISSUED: "Diterbitkan",
        State.ARCHIVED: "Diarsipkan",
        State.RETURNED: "Dikembalikan",
        State.TTE_REJECTED: "TTE ditolak",
        State.WITHDRAWN: "Dibatalkan",
    }
)


class Side(enum.StrEnum):
    """The two places an application lives: the kecamatan counter and the central office."""

    COUNTER = "counter"
    CENTRE = "centre"

    @property
    def label(self) -> str:
        return {"counter": "Loket kecamatan", "centre": "Dinas (pusat)"}[self.value]


class Role(enum.StrEnum):
    """Who acts. The applicant is no role: the operator records what the applicant brings."""

    OPERATOR = "operator"
    VERIFIKATOR = "verifikator"
    KABID = "kabid"
    KEPALA_DINAS = "kepala_dinas"
    ADMIN = "admin"
    """Manages accounts and devices only; takes no workflow action."""

    @property
    def label(self) -> str:
        return _ROLE_LABELS[self]

    @property
    def side(self) -> Side:
        """Where people in this role work."""
        return Side.COUNTER if self is Role.OPERATOR else Side.CENTRE


_ROLE_LABELS: Mapping[Role, str] = MappingProxyType(
    {
        Role.OPERATOR: "Operator Online SIAK",
        Role.VERIFIKATOR: "Verifikator/Sub Koord",
        Role.KABID: "Kabid",
        Role.KEPALA_DINAS: "Kepala Dinas",
        Role.ADMIN: "Admin",
    }
)


class Action(enum.StrEnum):
    """What a person does to an application. Wire values are the member values.

    Declared in the order screens offer them: the step forward before the step back.
    """

    CREATE = "create"
    EDIT = "edit"
    MARK_INCOMPLETE = "mark_incomplete"
    SUBMIT = "submit"
    VERIFY = "verify"
    APPROVE = "approve"
    SIGN = "sign"
    RETURN = "return"
    REJECT_TTE = "reject_tte"
    RESUBMIT = "resubmit"
    WITHDRAW = "withdraw"
    ISSUE = "issue"
    ARCHIVE = "archive"

    @property
    def label(self) -> str:
        return _ACTION_LABELS[self]


# The SOP calls the Sub Koord's step "validasi" and the Kabid's "verifikasi"; labels keep that.
_ACTION_LABELS: Mapping[Action, str] = MappingProxyType(
    {
        Action.CREATE: "Buat permohonan",
        Action.EDIT: "Ubah data permohonan",
        Action.MARK_INCOMPLETE: "Tandai belum lengkap",
        Action.SUBMIT: "Ajukan ke verifikator",
        Action.VERIFY: "Validasi berkas",
        Action.APPROVE: "Verifikasi dan setujui",
        Action.SIGN: "Tanda tangani (TTE)",
        Action.RETURN: "Kembalikan ke operator",
        Action.REJECT_TTE: "Tolak TTE",
        Action.RESUBMIT: "Ajukan ulang",
        Action.WITHDRAW: "Batalkan permohonan",
        Action.ISSUE: "Terbitkan KK",
        Action.ARCHIVE: "Arsipkan",
    }
)


class ReasonRule(enum.StrEnum):
    """What a move needs in :class:`Reasons`."""

    NONE = "none"
    """Nothing; reasons given anyway are kept as a note (their item codes are still checked)."""
    ITEMS_OR_TEXT = "items_or_text"
    """Returns and TTE rejections: at least one checklist item, or free text, or both."""
    ITEMS = "items"
    """Marking incomplete: the missing checklist items, which the WhatsApp notice lists."""
    TEXT = "text"
    """Withdrawal: the applicant's reason in words; there is no checklist item for it."""


@dataclass(frozen=True, slots=True)
class Reasons:
    """Why a move was made: checklist item codes and/or free text.

    ``text`` counts when it has at least :data:`MIN_REASON_TEXT` non-blank characters. Items are
    checklist codes (``protocol.requirements``); the operator reads their labels, and the free
    text says what the codes cannot (e.g. which page of a scan is unreadable).
    """

    items: tuple[str, ...] = ()
    text: str = ""

    def __post_init__(self) -> None:
        # Callers building from JSON pass lists; a frozen record must not hold a mutable one.
        if not isinstance(self.items, tuple):
            object.__setattr__(self, "items", tuple(self.items))

    @property
    def has_text(self) -> bool:
        return len(self.text.strip()) >= MIN_REASON_TEXT

    def to_dict(self) -> dict[str, Any]:
        """Wire form: JSON-safe and stable."""
        return {"items": list(self.items), "text": self.text}


@dataclass(frozen=True, slots=True)
class TransitionRule:
    """One row of the table: where an action leads, who may take it and what reason it needs."""

    to_state: State
    roles: frozenset[Role]
    reason: ReasonRule = ReasonRule.NONE


def _rule(to_state: State, *roles: Role, reason: ReasonRule = ReasonRule.NONE) -> TransitionRule:
    return TransitionRule(to_state, frozenset(roles), reason)


_S, _A, _R = State, Action, Role
_COUNTER_EDITABLE = (_S.DRAFT, _S.INCOMPLETE, _S.RETURNED, _S.TTE_REJECTED)

TRANSITION_TABLE: Mapping[tuple[State | None, Action], TransitionRule] = MappingProxyType(
    {
        (None, _A.CREATE): _rule(_S.DRAFT, _R.OPERATOR),
        **{(s, _A.EDIT): _rule(s, _R.OPERATOR) for s in _COUNTER_EDITABLE},
        (_S.DRAFT, _A.MARK_INCOMPLETE): _rule(_S.INCOMPLETE, _R.OPERATOR, reason=ReasonRule.ITEMS),
        (_S.DRAFT, _A.SUBMIT): _rule(_S.SUBMITTED, _R.OPERATOR),
        (_S.INCOMPLETE, _A.SUBMIT): _rule(_S.SUBMITTED, _R.OPERATOR),
        (_S.SUBMITTED, _A.VERIFY): _rule(_S.VERIFIED, _R.VERIFIKATOR),
        (_S.SUBMITTED, _A.RETURN): _rule(
            _S.RETURNED, _R.VERIFIKATOR, reason=ReasonRule.ITEMS_OR_TEXT
        ),
        (_S.VERIFIED, _A.APPROVE): _rule(_S.APPROVED, _R.KABID),
        (_S.VERIFIED, _A.RETURN): _rule(_S.RETURNED, _R.KABID, reason=ReasonRule.ITEMS_OR_TEXT),
        (_S.APPROVED, _A.SIGN): _rule(_S.SIGNED, _R.KEPALA_DINAS),
        (_S.APPROVED, _A.REJECT_TTE): _rule(
            _S.TTE_REJECTED, _R.KEPALA_DINAS, reason=ReasonRule.ITEMS_OR_TEXT
        ),
        (_S.RETURNED, _A.RESUBMIT): _rule(_S.SUBMITTED, _R.OPERATOR),
        (_S.TTE_REJECTED, _A.RESUBMIT): _rule(_S.SUBMITTED, _R.OPERATOR),
        **{
            (s, _A.WITHDRAW): _rule(_S.WITHDRAWN, _R.OPERATOR, reason=ReasonRule.TEXT)
            for s in _COUNTER_EDITABLE
        },
        (_S.SIGNED, _A.ISSUE): _rule(_S.ISSUED, _R.OPERATOR),
        (_S.ISSUED, _A.ARCHIVE): _rule(_S.ARCHIVED, _R.OPERATOR),
    }
)
"""Every allowed move. A (state, action) pair not in here is an illegal transition."""

TERMINAL_STATES: frozenset[State] = frozenset({State.ARCHIVED, State.WITHDRAWN})

_OWNERS: Mapping[State, Side | None] = MappingProxyType(
    {
        State.DRAFT: Side.COUNTER,
        State.INCOMPLETE: Side.COUNTER,
        State.RETURNED: Side.COUNTER,
        State.TTE_REJECTED: Side.COUNTER,
        State.SUBMITTED: Side.CENTRE,
        State.VERIFIED: Side.CENTRE,
        State.APPROVED: Side.CENTRE,
        State.SIGNED: Side.CENTRE,
        State.ISSUED: Side.CENTRE,
        State.ARCHIVED: None,
        State.WITHDRAWN: None,
    }
)


def owner(state: State) -> Side | None:
    """The side whose copy of the application is authoritative in ``state``.

    ``None`` for the terminal states: nobody may change them. See the module docstring for why
    ``signed`` and ``issued`` belong to the centre although the operator moves them on.
    """
    return _OWNERS[State(state)]


def counter_may_edit(state: State) -> bool:
    """True when the counter may change the application's data (the ``edit`` action)."""
    return (State(state), Action.EDIT) in TRANSITION_TABLE


def is_terminal(state: State) -> bool:
    """True when no action at all is possible from ``state``."""
    return State(state) in TERMINAL_STATES


def default_is_known_item(code: str) -> bool:
    """Whether ``code`` is a checklist item, as ``protocol.requirements`` defines them.

    Imported lazily so this module stands alone; until the checklist module exists any
    non-blank code is accepted, because refusing every code would block all returns.
    """
    try:
        from protocol.requirements import is_known_item
    except ModuleNotFoundError as exc:
        if exc.name != "protocol.requirements":
            raise
        return bool(code.strip())
    return bool(is_known_item(code))


def _state_label(state: State | None) -> str:
    return _NO_STATE_LABEL if state is None else state.label


def _parse(
    state: State | str | None, action: Action | str, role: Role | str
) -> tuple[State | None, Action, Role]:
    """Accept wire strings as well as members, so the server can feed decoded events directly."""
    issues: list[Issue] = []
    parsed_state: State | None = None
    if state is not None:
        try:
            parsed_state = State(state)
        except ValueError:
            issues.append(issue("workflow.unknown_state", field="state", value=state))
    try:
        parsed_action = Action(action)
    except ValueError:
        issues.append(issue("workflow.unknown_action", field="action", value=action))
    try:
        parsed_role = Role(role)
    except ValueError:
        issues.append(issue("workflow.unknown_role", field="role", value=role))
    if issues:
        raise ValidationError(issues)
    return parsed_state, parsed_action, parsed_role


def _check_reasons(
    action: Action,
    rule: ReasonRule,
    reasons: Reasons | None,
    is_known_item: Callable[[str], bool],
) -> None:
    reasons = reasons or Reasons()
    unknown = [
        issue("workflow.unknown_reason_item", field=f"reasons.items[{i}]", item=item)
        for i, item in enumerate(reasons.items)
        if not isinstance(item, str) or not is_known_item(item)
    ]
    if unknown:
        raise ValidationError(unknown)
    if rule is ReasonRule.ITEMS_OR_TEXT:
        enough = bool(reasons.items) or reasons.has_text
    elif rule is ReasonRule.ITEMS:
        enough = bool(reasons.items)
    elif rule is ReasonRule.TEXT:
        enough = reasons.has_text
    else:
        enough = True
    if not enough:
        text = message_for(
            "workflow.reason_required",
            action=action.label,
            rule=message_for(f"workflow.reason_rule.{rule.value}", min_chars=MIN_REASON_TEXT),
        )
        raise ReasonRequired(text, code="workflow.reason_required")


def transition(
    state: State | None,
    action: Action,
    role: Role,
    reasons: Reasons | None = None,
    *,
    is_known_item: Callable[[str], bool] = default_is_known_item,
) -> State:
    """Judge one move and return the state it leads to; ``state`` is ``None`` before ``create``.

    Checks, in order: the move exists from ``state`` (:class:`IllegalTransition`), ``role`` may
    take it (:class:`RoleNotPermitted`), every reason item is a known checklist code
    (:class:`ValidationError`, ``workflow.unknown_reason_item``) and the reasons the move needs
    are there (:class:`ReasonRequired`). Members or their wire strings are accepted; unknown
    strings raise :class:`ValidationError`.
    """
    state, action, role = _parse(state, action, role)
    rule = TRANSITION_TABLE.get((state, action))
    if rule is None:
        text = message_for(
            "workflow.illegal_transition", action=action.label, state=_state_label(state)
        )
        raise IllegalTransition(text, code="workflow.illegal_transition")
    if role not in rule.roles:
        allowed = ", ".join(r.label for r in Role if r in rule.roles)
        text = message_for(
            "workflow.role_not_permitted",
            role=role.label,
            action=action.label,
            state=_state_label(state),
            allowed=allowed,
        )
        raise RoleNotPermitted(text, code="workflow.role_not_permitted")
    _check_reasons(action, rule.reason, reasons, is_known_item)
    return rule.to_state


def allowed_actions(state: State | None, role: Role) -> tuple[Action, ...]:
    """The actions ``role`` may take on an application in ``state``, in :class:`Action` order."""
    state = None if state is None else State(state)
    role = Role(role)
    return tuple(
        action
        for action in Action
        if (rule := TRANSITION_TABLE.get((state, action))) is not None and role in rule.roles
    )


@dataclass(frozen=True, slots=True)
class SopStep:
    """One row of the SOP table with its time target ("Mutu Baku: Waktu")."""

    number: int
    actor_role: Role | None
    """``None`` for the applicant, who has no account."""
    label: str
    target: timedelta


SOP_STEPS: tuple[SopStep, ...] = (
    SopStep(1, None, "Pemohon mengisi F-1.02 dan mengirim persyaratan", timedelta(minutes=5)),
    SopStep(
        2,
        Role.OPERATOR,
        "Pemeriksaan kelengkapan dan pengajuan draf KK oleh Operator",
        timedelta(minutes=5),
    ),
    SopStep(
        3, Role.VERIFIKATOR, "Validasi berkas oleh Verifikator/Sub Koord", timedelta(minutes=5)
    ),
    SopStep(4, Role.KABID, "Verifikasi berkas oleh Kabid", timedelta(minutes=5)),
    SopStep(
        5,
        Role.KEPALA_DINAS,
        "Tanda tangan elektronik (TTE) oleh Kepala Dinas",
        timedelta(minutes=5),
    ),
    SopStep(
        6, Role.OPERATOR, "Penerbitan, pengiriman via WA, dan pengarsipan KK", timedelta(minutes=3)
    ),
    SopStep(7, None, "Pemohon menerima KK (PDF) melalui WA", timedelta(minutes=2)),
)

SOP_TOTAL_TARGET = timedelta(minutes=30)
"""The SOP's total ("30 menit, jika jaringan normal")."""

# Whose step it is while an application waits in a state; step 1 happens before ``draft``.
_STEP_OF_STATE: Mapping[State, int] = MappingProxyType(
    {
        State.DRAFT: 2,
        State.INCOMPLETE: 2,
        State.RETURNED: 2,
        State.TTE_REJECTED: 2,
        State.SUBMITTED: 3,
        State.VERIFIED: 4,
        State.APPROVED: 5,
        State.SIGNED: 6,
        State.ISSUED: 7,
    }
)


def step_of(state: State) -> SopStep | None:
    """The SOP step whose actor works on an application in ``state``; ``None`` when terminal."""
    number = _STEP_OF_STATE.get(State(state))
    return None if number is None else SOP_STEPS[number - 1]


@dataclass(frozen=True, slots=True)
class Transition:
    """A move that happened: the audit record the log and the timings are built from."""

    action: Action
    from_state: State | None
    to_state: State
    role: Role
    actor_id: str
    at: datetime
    reasons: Reasons | None = None


@dataclass(frozen=True, slots=True)
class StepTiming:
    """One stay of an application in one state, measured against its SOP step."""

    state: State
    step: SopStep | None
    entered_at: datetime
    left_at: datetime | None
    """``None`` while the application is still in ``state``."""
    duration: timedelta
    """Until ``left_at``, or until ``now`` for the current state; never negative."""

    @property
    def target(self) -> timedelta | None:
        return None if self.step is None else self.step.target

    @property
    def over_target(self) -> bool:
        return self.step is not None and self.duration > self.step.target


def step_timings(transitions: Sequence[Transition], *, now: datetime) -> list[StepTiming]:
    """Split a history (in the order it happened) into stays, one per state entered.

    Moves that keep the state (``edit``) do not start a new stay. The current state's stay
    runs until ``now``. Durations are clamped at zero because records from different device
    clocks can be slightly out of order; the legality of the history is :func:`replay`'s job.
    """
    stays: list[tuple[State, datetime]] = []
    for record in transitions:
        if not stays or record.to_state != stays[-1][0]:
            stays.append((State(record.to_state), record.at))
    timings = []
    for i, (state, entered) in enumerate(stays):
        left = stays[i + 1][1] if i + 1 < len(stays) else None
        end = now if left is None else left
        timings.append(
            StepTiming(
                state=state,
                step=step_of(state),
                entered_at=entered,
                left_at=left,
                duration=max(end - entered, timedelta(0)),
            )
        )
    return timings


def replay(
    transitions: Sequence[Transition],
    *,
    is_known_item: Callable[[str], bool] = default_is_known_item,
) -> State:
    """Check that a history is legal from its first ``create`` and return the final state.

    Each record must start where the previous one ended and lead where :func:`transition`
    says. Raises the first failure: the error of :func:`transition`, or
    :class:`IllegalTransition` with ``workflow.history_from_mismatch`` /
    ``workflow.history_to_mismatch`` when a record misstates its states, or
    :class:`ValidationError` ``workflow.empty_history``.
    """
    current: State | None = None
    for position, record in enumerate(transitions, start=1):
        if record.from_state != current:
            code = "workflow.history_from_mismatch"
            text = message_for(
                code,
                position=position,
                recorded=_state_label(record.from_state),
                actual=_state_label(current),
            )
            raise IllegalTransition(text, code=code)
        try:
            result = transition(
                current, record.action, record.role, record.reasons, is_known_item=is_known_item
            )
        except KKError as exc:
            exc.add_note(f"history record #{position} (actor {record.actor_id!r})")
            raise
        if record.to_state != result:
            code = "workflow.history_to_mismatch"
            text = message_for(
                code,
                position=position,
                recorded=_state_label(record.to_state),
                action=Action(record.action).label,
                actual=result.label,
            )
            raise IllegalTransition(text, code=code)
        current = result
    if current is None:
        raise ValidationError.single("workflow.empty_history")
    return current
