"""The SOP state machine: table, typed refusals, reasons, timings, replay, properties."""

from __future__ import annotations

import re
import sys
import types
from dataclasses import FrozenInstanceError
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol.errors import (
    IllegalTransition,
    ReasonRequired,
    RoleNotPermitted,
    ValidationError,
    WorkflowError,
    all_message_codes,
    message_for,
)
from protocol.workflow import (
    MIN_REASON_TEXT,
    SOP_STEPS,
    SOP_TOTAL_TARGET,
    TERMINAL_STATES,
    TRANSITION_TABLE,
    Action,
    ReasonRule,
    Reasons,
    Role,
    Side,
    State,
    Transition,
    allowed_actions,
    counter_may_edit,
    default_is_known_item,
    is_terminal,
    owner,
    replay,
    step_of,
    step_timings,
    transition,
)

KNOWN_ITEMS = ("f102", "ktp_el", "akta_kelahiran", "buku_nikah")
known = frozenset(KNOWN_ITEMS).__contains__

S, A, R = State, Action, Role
T0 = datetime(2024, 3, 4, 8, 0, tzinfo=UTC)

# The spec (design.md §1 and the brief), written out independently of the module's table.
EXPECTED_TABLE = {
    (None, A.CREATE): (S.DRAFT, {R.OPERATOR}, ReasonRule.NONE),
    (S.DRAFT, A.EDIT): (S.DRAFT, {R.OPERATOR}, ReasonRule.NONE),
    (S.INCOMPLETE, A.EDIT): (S.INCOMPLETE, {R.OPERATOR}, ReasonRule.NONE),
    (S.RETURNED, A.EDIT): (S.RETURNED, {R.OPERATOR}, ReasonRule.NONE),
    (S.TTE_REJECTED, A.EDIT): (S.TTE_REJECTED, {R.OPERATOR}, ReasonRule.NONE),
    (S.DRAFT, A.MARK_INCOMPLETE): (S.INCOMPLETE, {R.OPERATOR}, ReasonRule.ITEMS),
    (S.DRAFT, A.SUBMIT): (S.SUBMITTED, {R.OPERATOR}, ReasonRule.NONE),
    (S.INCOMPLETE, A.SUBMIT): (S.SUBMITTED, {R.OPERATOR}, ReasonRule.NONE),
    (S.SUBMITTED, A.VERIFY): (S.VERIFIED, {R.VERIFIKATOR}, ReasonRule.NONE),
    (S.SUBMITTED, A.RETURN): (S.RETURNED, {R.VERIFIKATOR}, ReasonRule.ITEMS_OR_TEXT),
    (S.VERIFIED, A.APPROVE): (S.APPROVED, {R.KABID}, ReasonRule.NONE),
    (S.VERIFIED, A.RETURN): (S.RETURNED, {R.KABID}, ReasonRule.ITEMS_OR_TEXT),
    (S.APPROVED, A.SIGN): (S.SIGNED, {R.KEPALA_DINAS}, ReasonRule.NONE),
    (S.APPROVED, A.REJECT_TTE): (S.TTE_REJECTED, {R.KEPALA_DINAS}, ReasonRule.ITEMS_OR_TEXT),
    (S.RETURNED, A.RESUBMIT): (S.SUBMITTED, {R.OPERATOR}, ReasonRule.NONE),
    (S.TTE_REJECTED, A.RESUBMIT): (S.SUBMITTED, {R.OPERATOR}, ReasonRule.NONE),
    (S.DRAFT, A.WITHDRAW): (S.WITHDRAWN, {R.OPERATOR}, ReasonRule.TEXT),
    (S.INCOMPLETE, A.WITHDRAW): (S.WITHDRAWN, {R.OPERATOR}, ReasonRule.TEXT),
    (S.RETURNED, A.WITHDRAW): (S.WITHDRAWN, {R.OPERATOR}, ReasonRule.TEXT),
    (S.TTE_REJECTED, A.WITHDRAW): (S.WITHDRAWN, {R.OPERATOR}, ReasonRule.TEXT),
    (S.SIGNED, A.ISSUE): (S.ISSUED, {R.OPERATOR}, ReasonRule.NONE),
    (S.ISSUED, A.ARCHIVE): (S.ARCHIVED, {R.OPERATOR}, ReasonRule.NONE),
}

ALL_STATES: tuple[State | None, ...] = (None, *State)
# Satisfies every reason rule, so tests of roles and states are not blocked by reasons.
GOOD_REASONS = Reasons(items=("ktp_el",), text="Scan KTP-el buram, mohon kirim ulang.")


def move(state, action, role, reasons=None):
    return transition(state, action, role, reasons, is_known_item=known)


def legal_moves(state: State | None) -> list[tuple[Action, Role]]:
    return [(a, r) for a in Action for r in Role if a in allowed_actions(state, r)]


# --- the table --------------------------------------------------------------------------------


def test_table_is_exactly_the_spec():
    actual = {
        key: (rule.to_state, set(rule.roles), rule.reason) for key, rule in TRANSITION_TABLE.items()
    }
    assert actual == EXPECTED_TABLE


def test_table_is_read_only():
    with pytest.raises(TypeError):
        TRANSITION_TABLE[(S.ARCHIVED, A.EDIT)] = TRANSITION_TABLE[(S.DRAFT, A.EDIT)]  # type: ignore[index]


@pytest.mark.parametrize(("key", "expected"), EXPECTED_TABLE.items(), ids=str)
def test_every_row_moves_for_its_roles_and_refuses_the_others(key, expected):
    state, action = key
    to_state, roles, _ = expected
    for role in Role:
        if role in roles:
            assert move(state, action, role, GOOD_REASONS) is to_state
        else:
            with pytest.raises(RoleNotPermitted) as err:
                move(state, action, role, GOOD_REASONS)
            assert err.value.code == "workflow.role_not_permitted"


OUTSIDE_TABLE = [(s, a) for s in ALL_STATES for a in Action if (s, a) not in EXPECTED_TABLE]


@pytest.mark.parametrize(("state", "action"), OUTSIDE_TABLE, ids=str)
def test_pairs_outside_the_table_are_illegal_for_every_role(state, action):
    for role in Role:
        with pytest.raises(IllegalTransition) as err:
            move(state, action, role, GOOD_REASONS)
        assert err.value.code == "workflow.illegal_transition"


@pytest.mark.parametrize(
    ("state", "action", "role", "error", "code"),
    [
        (S.SUBMITTED, A.VERIFY, R.OPERATOR, RoleNotPermitted, "workflow.role_not_permitted"),
        (S.SUBMITTED, A.APPROVE, R.KABID, IllegalTransition, "workflow.illegal_transition"),
        (S.SUBMITTED, A.RETURN, R.KABID, RoleNotPermitted, "workflow.role_not_permitted"),
        (S.VERIFIED, A.SIGN, R.KEPALA_DINAS, IllegalTransition, "workflow.illegal_transition"),
        (S.SUBMITTED, A.EDIT, R.OPERATOR, IllegalTransition, "workflow.illegal_transition"),
        (S.SUBMITTED, A.WITHDRAW, R.OPERATOR, IllegalTransition, "workflow.illegal_transition"),
        (S.SIGNED, A.EDIT, R.OPERATOR, IllegalTransition, "workflow.illegal_transition"),
        (S.APPROVED, A.SIGN, R.KABID, RoleNotPermitted, "workflow.role_not_permitted"),
        (S.SIGNED, A.ISSUE, R.ADMIN, RoleNotPermitted, "workflow.role_not_permitted"),
        (S.DRAFT, A.CREATE, R.OPERATOR, IllegalTransition, "workflow.illegal_transition"),
        (None, A.SUBMIT, R.OPERATOR, IllegalTransition, "workflow.illegal_transition"),
        (S.ARCHIVED, A.EDIT, R.OPERATOR, IllegalTransition, "workflow.illegal_transition"),
        (S.ARCHIVED, A.ARCHIVE, R.OPERATOR, IllegalTransition, "workflow.illegal_transition"),
        (S.WITHDRAWN, A.RESUBMIT, R.OPERATOR, IllegalTransition, "workflow.illegal_transition"),
        (S.WITHDRAWN, A.WITHDRAW, R.OPERATOR, IllegalTransition, "workflow.illegal_transition"),
    ],
)
def test_named_refusals(state, action, role, error, code):
    with pytest.raises(error) as err:
        move(state, action, role, GOOD_REASONS)
    assert err.value.code == code
    assert isinstance(err.value, WorkflowError)


def test_illegal_transition_message_names_action_and_state_in_indonesian():
    with pytest.raises(IllegalTransition) as err:
        move(S.VERIFIED, A.SIGN, R.KEPALA_DINAS)
    assert err.value.message == (
        'Tindakan "Tanda tangani (TTE)" tidak dapat dilakukan pada permohonan berstatus '
        '"Divalidasi Sub Koord".'
    )
    assert str(err.value) == err.value.message


def test_illegal_transition_before_create_says_so():
    with pytest.raises(IllegalTransition) as err:
        move(None, A.SUBMIT, R.OPERATOR)
    assert "Belum dibuat" in err.value.message


def test_role_message_names_the_role_and_who_may():
    with pytest.raises(RoleNotPermitted) as err:
        move(S.SUBMITTED, A.VERIFY, R.OPERATOR)
    assert "Operator Online SIAK" in err.value.message
    assert "Validasi berkas" in err.value.message
    assert "Yang berwenang: Verifikator/Sub Koord" in err.value.message


def test_admin_takes_no_workflow_action():
    for state in ALL_STATES:
        assert allowed_actions(state, R.ADMIN) == ()


def test_wire_strings_are_accepted():
    assert transition("draft", "submit", "operator") is S.SUBMITTED
    assert move("submitted", "return", "verifikator", GOOD_REASONS) is S.RETURNED


def test_unknown_wire_strings_are_validation_errors_listing_each():
    with pytest.raises(ValidationError) as err:
        transition("lost", "fly", "janitor")  # type: ignore[arg-type]
    codes = [i.code for i in err.value.issues]
    assert codes == ["workflow.unknown_state", "workflow.unknown_action", "workflow.unknown_role"]
    assert [i.field for i in err.value.issues] == ["state", "action", "role"]


def test_transition_mutates_nothing():
    reasons = Reasons(items=("f102",), text="kurang lengkap")
    before = (reasons.items, reasons.text)
    move(S.SUBMITTED, A.RETURN, R.VERIFIKATOR, reasons)
    assert (reasons.items, reasons.text) == before


# --- reasons ----------------------------------------------------------------------------------

RETURNING = [
    (S.SUBMITTED, A.RETURN, R.VERIFIKATOR),
    (S.VERIFIED, A.RETURN, R.KABID),
    (S.APPROVED, A.REJECT_TTE, R.KEPALA_DINAS),
]


@pytest.mark.parametrize(("state", "action", "role"), RETURNING)
@pytest.mark.parametrize(
    "reasons",
    [
        Reasons(items=("ktp_el",)),
        Reasons(text="Foto KTP-el tidak terbaca"),
        Reasons(items=("ktp_el", "f102"), text="ok"),
        Reasons(text="x" * MIN_REASON_TEXT),
    ],
    ids=["item", "text", "items+short-text", "minimal-text"],
)
def test_returns_accept_items_or_text(state, action, role, reasons):
    assert move(state, action, role, reasons) is EXPECTED_TABLE[(state, action)][0]


@pytest.mark.parametrize(("state", "action", "role"), RETURNING)
@pytest.mark.parametrize(
    "reasons",
    [None, Reasons(), Reasons(text="ok"), Reasons(text="   ab    "), Reasons(text=" " * 20)],
    ids=["none", "empty", "short", "short-padded", "blank"],
)
def test_returns_without_enough_reason_are_refused(state, action, role, reasons):
    with pytest.raises(ReasonRequired) as err:
        move(state, action, role, reasons)
    assert err.value.code == "workflow.reason_required"
    assert "butir checklist" in err.value.message
    assert str(MIN_REASON_TEXT) in err.value.message


def test_mark_incomplete_needs_the_missing_items():
    assert move(S.DRAFT, A.MARK_INCOMPLETE, R.OPERATOR, Reasons(items=("f102",))) is S.INCOMPLETE
    for reasons in (None, Reasons(text="dokumen belum dikirim semua")):
        with pytest.raises(ReasonRequired) as err:
            move(S.DRAFT, A.MARK_INCOMPLETE, R.OPERATOR, reasons)
        assert "persyaratan yang belum lengkap" in err.value.message


def test_withdraw_needs_text():
    reasons = Reasons(text="Pemohon membatalkan permohonan")
    for state in (S.DRAFT, S.INCOMPLETE, S.RETURNED, S.TTE_REJECTED):
        assert move(state, A.WITHDRAW, R.OPERATOR, reasons) is S.WITHDRAWN
    for reasons in (None, Reasons(items=("f102",)), Reasons(text="btl")):
        with pytest.raises(ReasonRequired) as err:
            move(S.DRAFT, A.WITHDRAW, R.OPERATOR, reasons)
        assert "Batalkan permohonan" in err.value.message


def test_unknown_reason_items_are_all_reported():
    reasons = Reasons(items=("ktp_el", "nonsense", "", "f102", "x"), text="alasan panjang")
    with pytest.raises(ValidationError) as err:
        move(S.SUBMITTED, A.RETURN, R.VERIFIKATOR, reasons)
    assert err.value.code == "workflow.unknown_reason_item"
    assert [i.field for i in err.value.issues] == [
        "reasons.items[1]",
        "reasons.items[2]",
        "reasons.items[4]",
    ]
    assert 'Butir checklist "nonsense" tidak dikenal.' == err.value.issues[0].message


def test_reason_items_are_checked_even_when_no_reason_is_needed():
    with pytest.raises(ValidationError):
        move(S.DRAFT, A.SUBMIT, R.OPERATOR, Reasons(items=("nonsense",)))
    assert move(S.DRAFT, A.SUBMIT, R.OPERATOR, Reasons(text="catatan")) is S.SUBMITTED


def test_reasons_are_frozen_and_hold_tuples():
    reasons = Reasons(items=["f102"], text="x")  # type: ignore[arg-type]
    assert reasons.items == ("f102",)
    assert reasons.to_dict() == {"items": ["f102"], "text": "x"}
    with pytest.raises(FrozenInstanceError):
        reasons.text = "y"  # type: ignore[misc]


def test_default_predicate_uses_the_checklist_module_when_present(monkeypatch):
    fake = types.ModuleType("protocol.requirements")
    fake.is_known_item = lambda code: code == "f102"  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "protocol.requirements", fake)
    assert default_is_known_item("f102") is True
    assert default_is_known_item("other") is False
    with pytest.raises(ValidationError):
        transition(S.SUBMITTED, A.RETURN, R.VERIFIKATOR, Reasons(items=("other",)))


def test_default_predicate_accepts_non_blank_codes_without_the_checklist_module(monkeypatch):
    monkeypatch.setitem(sys.modules, "protocol.requirements", None)
    assert default_is_known_item("f102") is True
    assert default_is_known_item("  ") is False


# --- ownership and actions for screens ---------------------------------------------------------


def test_owner_and_editing():
    counter = {S.DRAFT, S.INCOMPLETE, S.RETURNED, S.TTE_REJECTED}
    centre = {S.SUBMITTED, S.VERIFIED, S.APPROVED, S.SIGNED, S.ISSUED}
    for state in State:
        expected = Side.COUNTER if state in counter else Side.CENTRE if state in centre else None
        assert owner(state) is expected, state
        assert counter_may_edit(state) is (state in counter)
        assert is_terminal(state) is (state in {S.ARCHIVED, S.WITHDRAWN})
    assert TERMINAL_STATES == {S.ARCHIVED, S.WITHDRAWN}


def test_every_state_has_exactly_one_acting_role_so_sides_never_race():
    for state in ALL_STATES:
        acting = {r for r in Role if allowed_actions(state, r)}
        assert len(acting) == (0 if state in TERMINAL_STATES else 1), state


def test_counter_acts_only_where_the_counter_owns_or_on_step_six():
    for state in State:
        if allowed_actions(state, R.OPERATOR):
            assert owner(state) is Side.COUNTER or state in {S.SIGNED, S.ISSUED}
        for role in (R.VERIFIKATOR, R.KABID, R.KEPALA_DINAS):
            if allowed_actions(state, role):
                assert owner(state) is Side.CENTRE


@pytest.mark.parametrize(
    ("state", "role", "expected"),
    [
        (None, R.OPERATOR, (A.CREATE,)),
        (S.DRAFT, R.OPERATOR, (A.EDIT, A.MARK_INCOMPLETE, A.SUBMIT, A.WITHDRAW)),
        (S.INCOMPLETE, R.OPERATOR, (A.EDIT, A.SUBMIT, A.WITHDRAW)),
        (S.SUBMITTED, R.VERIFIKATOR, (A.VERIFY, A.RETURN)),
        (S.SUBMITTED, R.KABID, ()),
        (S.SUBMITTED, R.OPERATOR, ()),
        (S.VERIFIED, R.KABID, (A.APPROVE, A.RETURN)),
        (S.APPROVED, R.KEPALA_DINAS, (A.SIGN, A.REJECT_TTE)),
        (S.RETURNED, R.OPERATOR, (A.EDIT, A.RESUBMIT, A.WITHDRAW)),
        (S.TTE_REJECTED, R.OPERATOR, (A.EDIT, A.RESUBMIT, A.WITHDRAW)),
        (S.SIGNED, R.OPERATOR, (A.ISSUE,)),
        (S.ISSUED, R.OPERATOR, (A.ARCHIVE,)),
        (S.ARCHIVED, R.OPERATOR, ()),
        (S.WITHDRAWN, R.OPERATOR, ()),
    ],
)
def test_allowed_actions(state, role, expected):
    assert allowed_actions(state, role) == expected


@pytest.mark.parametrize("state", ALL_STATES, ids=str)
def test_allowed_actions_agree_with_transition(state):
    for role in Role:
        for action in Action:
            try:
                move(state, action, role, GOOD_REASONS)
            except WorkflowError:
                assert action not in allowed_actions(state, role)
            else:
                assert action in allowed_actions(state, role)


# --- labels and messages -----------------------------------------------------------------------


def test_state_and_role_labels():
    assert {s: s.label for s in State} == {
        S.DRAFT: "Draf",
        S.INCOMPLETE: "Belum lengkap",
        S.SUBMITTED: "Diajukan ke verifikator",
        S.VERIFIED: "Divalidasi Sub Koord",
        S.APPROVED: "Diverifikasi Kabid",
        S.SIGNED: "Sudah di-TTE",
        S.ISSUED: "Diterbitkan",
        S.ARCHIVED: "Diarsipkan",
        S.RETURNED: "Dikembalikan",
        S.TTE_REJECTED: "TTE ditolak",
        S.WITHDRAWN: "Dibatalkan",
    }
    assert {r: r.label for r in Role} == {
        R.OPERATOR: "Operator Online SIAK",
        R.VERIFIKATOR: "Verifikator/Sub Koord",
        R.KABID: "Kabid",
        R.KEPALA_DINAS: "Kepala Dinas",
        R.ADMIN: "Admin",
    }


ENGLISH = re.compile(r"\b(the|submit|verify|approve|sign|return|withdraw|issue|archive|edit)\b")


@pytest.mark.parametrize("enum", [State, Role, Action, Side])
def test_labels_are_non_empty_unique_and_not_english(enum):
    labels = [member.label for member in enum]
    assert all(label.strip() for label in labels)
    assert len(set(labels)) == len(labels)
    for label in labels:
        assert not ENGLISH.search(label.lower()), label


def test_return_action_wire_value():
    assert Action.RETURN == "return"
    assert Action("return") is Action.RETURN


def test_message_codes_are_registered_and_well_formed():
    codes = {c for c in all_message_codes() if c.startswith("workflow.")}
    assert {
        "workflow.illegal_transition",
        "workflow.role_not_permitted",
        "workflow.reason_required",
        "workflow.unknown_reason_item",
        "workflow.history_from_mismatch",
        "workflow.history_to_mismatch",
        "workflow.empty_history",
    } <= codes
    for rule in ReasonRule:
        if rule is not ReasonRule.NONE:
            assert f"workflow.reason_rule.{rule.value}" in codes
    pattern = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$")
    assert all(pattern.match(c) for c in codes)
    params = {
        "action": "a", "state": "s", "role": "r", "allowed": "x", "rule": "y", "min_chars": 5,
        "item": "i", "value": "v", "position": 1, "recorded": "p", "actual": "q",
    }  # fmt: skip
    for code in codes:
        assert message_for(code, **params).strip()


# --- SOP steps and timings --------------------------------------------------------------------


def test_sop_steps_match_the_sop():
    assert [s.number for s in SOP_STEPS] == [1, 2, 3, 4, 5, 6, 7]
    assert [s.actor_role for s in SOP_STEPS] == [
        None, R.OPERATOR, R.VERIFIKATOR, R.KABID, R.KEPALA_DINAS, R.OPERATOR, None,
    ]  # fmt: skip
    assert [s.target for s in SOP_STEPS] == [timedelta(minutes=m) for m in (5, 5, 5, 5, 5, 3, 2)]
    assert sum((s.target for s in SOP_STEPS), timedelta()) == SOP_TOTAL_TARGET
    assert SOP_TOTAL_TARGET == timedelta(minutes=30)
    assert all(s.label.strip() for s in SOP_STEPS)


@pytest.mark.parametrize(
    ("state", "number"),
    [
        (S.DRAFT, 2),
        (S.INCOMPLETE, 2),
        (S.RETURNED, 2),
        (S.TTE_REJECTED, 2),
        (S.SUBMITTED, 3),
        (S.VERIFIED, 4),
        (S.APPROVED, 5),
        (S.SIGNED, 6),
        (S.ISSUED, 7),
        (S.ARCHIVED, None),
        (S.WITHDRAWN, None),
    ],
)
def test_step_of(state, number):
    step = step_of(state)
    assert (None if step is None else step.number) == number


def test_the_acting_role_of_each_state_is_its_steps_actor():
    for state in State:
        step = step_of(state)
        acting = {r for r in Role if allowed_actions(state, r)}
        if state is S.ISSUED:
            # Step 7 is the applicant's; the operator only closes the file meanwhile.
            assert step.actor_role is None and acting == {R.OPERATOR}
        elif step is not None:
            assert acting == {step.actor_role}


def record(action, from_state, to_state, role, minutes, reasons=None):
    return Transition(
        action, from_state, to_state, role, f"{role}-1", T0 + timedelta(minutes=minutes), reasons
    )


HISTORY = [
    record(A.CREATE, None, S.DRAFT, R.OPERATOR, 0),
    record(A.EDIT, S.DRAFT, S.DRAFT, R.OPERATOR, 2),
    record(A.SUBMIT, S.DRAFT, S.SUBMITTED, R.OPERATOR, 4),
    record(A.RETURN, S.SUBMITTED, S.RETURNED, R.VERIFIKATOR, 12, GOOD_REASONS),
    record(A.RESUBMIT, S.RETURNED, S.SUBMITTED, R.OPERATOR, 15),
    record(A.VERIFY, S.SUBMITTED, S.VERIFIED, R.VERIFIKATOR, 18),
    record(A.APPROVE, S.VERIFIED, S.APPROVED, R.KABID, 20),
]


def test_step_timings_with_over_target_flags():
    now = T0 + timedelta(minutes=27)
    timings = step_timings(HISTORY, now=now)
    assert [(t.state, t.step.number, t.duration, t.over_target) for t in timings] == [
        (S.DRAFT, 2, timedelta(minutes=4), False),  # the edit does not start a new stay
        (S.SUBMITTED, 3, timedelta(minutes=8), True),
        (S.RETURNED, 2, timedelta(minutes=3), False),
        (S.SUBMITTED, 3, timedelta(minutes=3), False),
        (S.VERIFIED, 4, timedelta(minutes=2), False),
        (S.APPROVED, 5, timedelta(minutes=7), True),  # still waiting for TTE at `now`
    ]
    assert timings[0].entered_at == T0 and timings[0].left_at == T0 + timedelta(minutes=4)
    assert timings[-1].left_at is None
    assert timings[1].target == timedelta(minutes=5)


def test_step_timings_exactly_on_target_is_not_over():
    timings = step_timings(HISTORY[:1], now=T0 + timedelta(minutes=5))
    assert timings[0].duration == timedelta(minutes=5) and not timings[0].over_target


def test_step_timings_of_terminal_state_have_no_target():
    history = [
        record(A.CREATE, None, S.DRAFT, R.OPERATOR, 0),
        record(A.WITHDRAW, S.DRAFT, S.WITHDRAWN, R.OPERATOR, 1, GOOD_REASONS),
    ]
    last = step_timings(history, now=T0 + timedelta(days=30))[-1]
    assert last.state is S.WITHDRAWN and last.step is None and last.target is None
    assert not last.over_target


def test_step_timings_clamp_clock_skew_and_handle_empty():
    history = [
        record(A.CREATE, None, S.DRAFT, R.OPERATOR, 10),
        record(A.SUBMIT, S.DRAFT, S.SUBMITTED, R.OPERATOR, 9),
    ]
    assert step_timings(history, now=T0 + timedelta(minutes=10))[0].duration == timedelta(0)
    assert step_timings([], now=T0) == []


# --- replay -----------------------------------------------------------------------------------


def test_replay_returns_the_last_state():
    assert replay(HISTORY, is_known_item=known) is S.APPROVED


def test_replay_refuses_an_empty_history():
    with pytest.raises(ValidationError) as err:
        replay([])
    assert err.value.code == "workflow.empty_history"


def test_replay_refuses_a_skipped_role():
    history = [*HISTORY[:3], record(A.APPROVE, S.SUBMITTED, S.APPROVED, R.KABID, 6)]
    with pytest.raises(IllegalTransition) as err:
        replay(history, is_known_item=known)
    assert err.value.code == "workflow.illegal_transition"
    assert any("#4" in note for note in err.value.__notes__)


def test_replay_refuses_the_wrong_role():
    history = [*HISTORY[:3], record(A.VERIFY, S.SUBMITTED, S.VERIFIED, R.OPERATOR, 6)]
    with pytest.raises(RoleNotPermitted):
        replay(history, is_known_item=known)


def test_replay_refuses_a_missing_reason():
    history = [*HISTORY[:3], record(A.RETURN, S.SUBMITTED, S.RETURNED, R.VERIFIKATOR, 6)]
    with pytest.raises(ReasonRequired):
        replay(history, is_known_item=known)


def test_replay_refuses_a_record_that_misstates_where_it_started():
    history = [*HISTORY[:3], record(A.VERIFY, S.DRAFT, S.VERIFIED, R.VERIFIKATOR, 6)]
    with pytest.raises(IllegalTransition) as err:
        replay(history, is_known_item=known)
    assert err.value.code == "workflow.history_from_mismatch"
    assert "catatan ke-4" in err.value.message and '"Draf"' in err.value.message


def test_replay_refuses_a_record_that_misstates_where_it_led():
    history = [*HISTORY[:3], record(A.VERIFY, S.SUBMITTED, S.SIGNED, R.VERIFIKATOR, 6)]
    with pytest.raises(IllegalTransition) as err:
        replay(history, is_known_item=known)
    assert err.value.code == "workflow.history_to_mismatch"
    assert '"Sudah di-TTE"' in err.value.message and '"Divalidasi Sub Koord"' in err.value.message


# --- properties -------------------------------------------------------------------------------

moves = st.tuples(st.sampled_from(list(Action)), st.sampled_from(list(Role)))
reasons_strategy = st.none() | st.builds(
    Reasons,
    items=st.lists(st.sampled_from([*KNOWN_ITEMS, "unknown", ""]), max_size=3).map(tuple),
    text=st.text(max_size=12),
)


def _walk(data, steps: int) -> list[Transition]:
    """A legal history: each step is drawn from the moves allowed in the current state."""
    history: list[Transition] = []
    state: State | None = None
    at = T0
    for _ in range(steps):
        options = legal_moves(state)
        if not options:
            break
        action, role = data.draw(st.sampled_from(options))
        at += data.draw(st.integers(0, 600).map(lambda s: timedelta(seconds=s)))
        reasons = GOOD_REASONS
        to_state = move(state, action, role, reasons)
        history.append(Transition(action, state, to_state, role, "actor", at, reasons))
        state = to_state
    return history


@settings(max_examples=300)
@given(st.data(), st.integers(5, 60))
def test_property_signed_only_after_each_central_role_in_order(data, steps):
    state: State | None = None
    done: list[tuple[Action, Role]] = []
    for _ in range(steps):
        # Mix arbitrary attempts (mostly refused) with allowed moves other than withdraw, so
        # that many walks get as far as the TTE, some through returns and rejections.
        onward = [m for m in legal_moves(state) if m[0] is not A.WITHDRAW]
        if onward and data.draw(st.integers(0, 3)):
            action, role = data.draw(st.sampled_from(onward))
        else:
            action, role = data.draw(moves)
        if action not in allowed_actions(state, role):
            with pytest.raises(WorkflowError):
                move(state, action, role, GOOD_REASONS)
            continue
        state = move(state, action, role, GOOD_REASONS)
        done.append((action, role))
        if state is S.SIGNED:
            last_submit = max(i for i, (a, _) in enumerate(done) if a in (A.SUBMIT, A.RESUBMIT))
            since = iter(done[last_submit + 1 :])
            required = [(A.VERIFY, R.VERIFIKATOR), (A.APPROVE, R.KABID), (A.SIGN, R.KEPALA_DINAS)]
            assert all(step in since for step in required)  # in order: `in` consumes `since`


@given(
    st.sampled_from(ALL_STATES) | st.text(max_size=8),
    st.sampled_from(list(Action)) | st.text(max_size=8),
    st.sampled_from(list(Role)) | st.text(max_size=8),
    reasons_strategy,
)
def test_property_transition_stays_in_the_table_or_raises_a_domain_error(
    state, action, role, reasons
):
    try:
        result = move(state, action, role, reasons)
    except (WorkflowError, ValidationError):
        return
    key = (None if state is None else State(state), Action(action))
    assert result is TRANSITION_TABLE[key].to_state
    assert Role(role) in TRANSITION_TABLE[key].roles


@given(st.data(), st.integers(1, 40))
def test_property_replay_of_a_legal_history_returns_its_last_state(data, steps):
    history = _walk(data, steps)
    assert replay(history, is_known_item=known) is history[-1].to_state
    now = history[-1].at + timedelta(minutes=1)
    timings = step_timings(history, now=now)
    assert timings[-1].state is history[-1].to_state
    assert sum((t.duration for t in timings), timedelta()) == now - history[0].at
