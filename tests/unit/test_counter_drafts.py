"""What the counter's forms make of typed values (field_client.drafts)."""

from __future__ import annotations

from datetime import date

import pytest

from field_client.drafts import (
    ApplicationDraft,
    issues_by_field,
    member_from_values,
    member_values,
    parse_date,
    shape_issues,
)
from protocol.application import Application
from tests.factories import application_dict

TODAY = date(2026, 11, 25)


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("17-08-1990", date(1990, 8, 17)),
        ("1/2/2001", date(2001, 2, 1)),
        ("17.08.1990", date(1990, 8, 17)),
        ("1990-08-17", date(1990, 8, 17)),
        ("31-02-2000", None),
        ("17-08-90", None),
        ("", None),
        ("kemarin", None),
    ],
)
def test_dates_are_read_as_the_counter_types_them(typed, expected):
    assert parse_date(typed) == expected


def test_a_stored_application_survives_the_form_unchanged():
    app = Application.from_dict(application_dict())
    draft = ApplicationDraft.of(app)
    assert draft.application() == (app, [])
    for member in app.members:
        assert member_from_values(member_values(member)) == (member, [])


def test_typed_member_values_are_normalised_and_bad_dates_reported():
    member, issues = member_from_values(
        {"nama": " ahmad   fauzi ", "nik": "1606 0114 0395 0002", "tanggal_lahir": "14-13-1995"}
    )
    assert member.nama == "AHMAD FAUZI"
    assert member.nik == "1606011403950002"
    assert member.tanggal_lahir == date.min and member.agama == 0
    assert [(i.code, i.field) for i in issues] == [("draft.invalid_date", "tanggal_lahir")]


def test_before_a_service_is_chosen_the_rest_is_still_checked():
    draft = ApplicationDraft(text={"applicant.nik": "123"})
    app, issues, _ = draft.check(today=TODAY)
    assert app is None
    fields = issues_by_field(issues)
    assert fields["service.sub_type"][0].code == "draft.service_missing"
    assert fields["applicant.nik"][0].code == "nik.not_16_digits"


def test_an_override_replaces_the_earlier_one_for_the_same_warning():
    app = Application.from_dict(application_dict())
    draft = ApplicationDraft.of(app)
    draft.members[0] = member_from_values(
        {**member_values(app.members[0]), "tanggal_lahir": "15-03-1995"}
    )[0]
    _, issues, _ = draft.check(today=TODAY)
    (warning,) = [i for i in issues if i.severity.value == "warning"]
    draft.override(warning, "akta kelahiran menyebut tanggal 15", "op-1")
    draft.override(warning, "akta kelahiran asli menyebut tanggal 15", "op-1")
    _, issues, report = draft.check(today=TODAY)
    assert issues == [] and report.overridden == (warning,)
    assert len(draft.overrides) == 1
    draft.drop_override(warning)
    assert draft.check(today=TODAY)[1] == [warning]


def test_a_draft_needs_only_what_the_wire_format_requires():
    draft = ApplicationDraft(service_type="BARU", sub_type=1)
    app, _ = draft.application()
    assert app is not None
    assert {i.field for i in shape_issues(app)} == {
        "applicant.nama",
        "applicant.nik",
        "applicant.whatsapp",
        "address.alamat",
        "address.rt",
        "address.rw",
        "address.desa_code",
    }


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [(42, "42 dtk"), (5 * 60, "5 mnt"), (83 * 60, "1 j 23 mnt"), (26 * 3600 + 60, "1 hr 2 j")],
)
def test_durations_read_as_an_operator_says_them(seconds, shown):
    from datetime import timedelta

    from field_client.timeline import format_duration

    assert format_duration(timedelta(seconds=seconds)) == shown
