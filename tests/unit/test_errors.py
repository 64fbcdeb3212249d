from __future__ import annotations

import importlib
import pkgutil
import re

import pytest

import protocol
from protocol.errors import (
    IllegalTransition,
    Issue,
    KKError,
    ReasonRequired,
    RoleNotPermitted,
    Severity,
    ValidationError,
    WorkflowError,
    all_message_codes,
    define_messages,
    issue,
)


def _import_all_protocol_modules() -> None:
    for info in pkgutil.iter_modules(protocol.__path__):
        importlib.import_module(f"protocol.{info.name}")


def test_every_code_has_an_indonesian_message():
    _import_all_protocol_modules()
    codes = all_message_codes()
    assert len(codes) > 50
    for code in codes:
        assert re.fullmatch(r"[a-z][a-z0-9_]*(\.[a-z0-9_]+)+", code)
    # Spot-check that messages read as Indonesian, not English placeholders.
    text = " ".join(issue_text for issue_text in _messages(codes))
    assert "harus" in text and "tidak" in text
    assert " must " not in text and " invalid " not in text


def _messages(codes: frozenset[str]) -> list[str]:
    from protocol.errors import _MESSAGES  # the catalogue itself, read-only here

    return [_MESSAGES[c] for c in codes]


def test_a_code_cannot_get_two_different_texts():
    define_messages({"test.once": "Satu."})
    define_messages({"test.once": "Satu."})  # same text again is harmless
    with pytest.raises(ValueError):
        define_messages({"test.once": "Dua."})
    with pytest.raises(ValueError):
        define_messages({"NotACode": "x"})


def test_validation_error_keeps_every_issue_and_the_first_code():
    define_messages({"test.a": "A {x}.", "test.b": "B."})
    err = ValidationError([issue("test.a", field="f", x=1), issue("test.b")])
    assert err.code == "test.a"
    assert err.message == "A 1. (dan 1 masalah lain)"
    assert [i.code for i in err.issues] == ["test.a", "test.b"]
    assert isinstance(err, KKError)
    with pytest.raises(ValueError):
        ValidationError([])


def test_issue_wire_form_is_json_safe():
    define_messages({"test.c": "C {when}."})
    from datetime import date

    found = issue(
        "test.c", field="members[0].nik", severity=Severity.WARNING, when=date(2020, 1, 2)
    )
    assert found.to_dict() == {
        "code": "test.c",
        "message": "C 2020-01-02.",
        "field": "members[0].nik",
        "severity": "warning",
        "params": {"when": "2020-01-02"},
    }
    assert not found.is_error
    assert Issue("x.y", "m").is_error


def test_workflow_errors_share_one_base_with_stable_codes():
    for cls, code in (
        (IllegalTransition, "workflow.illegal_transition"),
        (RoleNotPermitted, "workflow.role_not_permitted"),
        (ReasonRequired, "workflow.reason_required"),
    ):
        err = cls("pesan")
        assert isinstance(err, WorkflowError) and isinstance(err, KKError)
        assert err.code == code
