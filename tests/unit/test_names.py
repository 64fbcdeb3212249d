from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocol.errors import Severity, ValidationError, all_message_codes
from protocol.names import (
    DEFAULT_RULES,
    DEGREES,
    PREFIX_TITLES,
    NameRules,
    check_name,
    normalize_name,
    split_name,
    validate_name,
)


def codes_of(raw: str, **kwargs: object) -> list[str]:
    return [i.code for i in check_name(raw, **kwargs)[1]]  # type: ignore[arg-type]


# -- plain names and normalisation --------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "AHMAD FAUZI",
        "SITI AMINAH",
        "RINA MARLINA",
        "MUHAMMAD RIZKY RAMADHAN",
        "I WAYAN SUDARTA",  # Balinese I is a word, not an abbreviation
        "NI LUH PUTU ARIANI",
        "LIE BOEN HONG",
    ],
)
def test_plain_names_pass(name: str):
    assert check_name(name) == (name, [])
    assert validate_name(name) == name


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("ahmad fauzi", "AHMAD FAUZI"),
        ("  Siti   Aminah  ", "SITI AMINAH"),
        ("rina\tmarlina\n", "RINA MARLINA"),
        ("h.ahmad  fauzi,s.t. ,m.si", "H. AHMAD FAUZI, S.T., M.SI"),
        ("H . Ahmad Fauzi , S.T. , M.Si", "H. AHMAD FAUZI, S.T., M.SI"),
        ("dr.ir.siti aminah m.pd", "DR. IR. SITI AMINAH, M.PD"),
        ("K.H.Ahmad Dahlan", "K.H. AHMAD DAHLAN"),
        ("Ahmad Fauzi S.T. M.Si", "AHMAD FAUZI, S.T., M.SI"),
        ("Ahmad Fauzi, S. T., M. Pd", "AHMAD FAUZI, S.T., M.PD"),
        ("Ahmad Fauzi, S.T. M.Si", "AHMAD FAUZI, S.T., M.SI"),
        ("Ma\u2019ruf Amin", "MA'RUF AMIN"),
        ("AHMAD\u200b FAUZI", "AHMAD FAUZI"),
        ("jos\u0065\u0301 rizal", "JOS\u00c9 RIZAL"),  # composed, not changed to E
        ("", ""),
        ("   ", ""),
    ],
)
def test_normalize_name_prints_like_a_kk(raw: str, expected: str):
    assert normalize_name(raw) == expected


def test_a_degree_alone_is_not_moved_behind_a_comma():
    # Without a name word before it there is nothing to put a comma after.
    assert normalize_name("h. s.t.") == "H. S.T."


# -- titles --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "H. AHMAD FAUZI, S.T., M.SI",
        "DR. IR. SITI AMINAH, M.PD",
        "PROF. DR. H. AHMAD SYAFII, S.H., M.H.",
        "HJ. NURHAYATI SARI",
        "K.H. AHMAD DAHLAN",
        "KH. HASYIM ASYARI",
        "DRS. SUPARMAN HADI",
        "DRA. SRI WAHYUNI",
        "KGS. ABDUL ROZAK",
        "MGS. AHMAD FIKRI, S.E., M.M.",
        "R.A. KARTINI DJOJOADHININGRAT",
        "NS. SITI AISYAH, S.KEP",
        "RINA MARLINA, A.MD.KEB",
        "DEWI LESTARI, S.PD.I",
        "BUDI SANTOSO, SE, MM",
        "ANDI WIJAYA, PH.D",
        "RUDI HARTONO, S.KOM",
        "YULIANA PUTRI, S.TR.KES",
        "HENDRA GUNAWAN, SP.OG",
    ],
)
def test_titles_before_and_degrees_after_the_name_are_accepted(name: str):
    assert check_name(name) == (name, [])


def test_words_are_counted_without_titles():
    parts = split_name("prof. dr. h. ahmad, s.h., m.h.")
    assert parts.prefix_titles == ("PROF.", "DR.", "H.")
    assert parts.words == ("AHMAD",)
    assert parts.degrees == ("S.H.", "M.H.")
    assert parts.name_only == "AHMAD"
    assert codes_of("H. AHMAD") == ["name.too_few_words"]
    assert codes_of("H. AHMAD", new_registration=False) == []
    # HJ. NURHAYATI: one word of name, legal on an existing document.
    assert check_name("Hj. Nurhayati", new_registration=False) == ("HJ. NURHAYATI", [])


def test_title_tables_are_well_formed():
    forms = [f for t in PREFIX_TITLES for f in t.forms]
    assert len(forms) == len(set(forms))
    assert all(f == f.upper() and " " not in f for f in forms)
    assert all(d == d.upper() and " " not in d and "," not in d for d in DEGREES)
    assert {"S.PD", "S.T.", "S.KOM", "S.H.", "M.SI", "M.PD", "A.MD", "PH.D", "S.E."} <= DEGREES


def test_titles_in_full_are_name_words():
    # HAJI written out is part of the name as printed.
    assert check_name("HAJI AHMAD") == ("HAJI AHMAD", [])


def test_office_can_add_titles_and_degrees():
    rules = NameRules(extra_prefix_titles=frozenset({"t."}), extra_degrees=frozenset({"Sp.A(K)"}))
    assert codes_of("T. MUHAMMAD DAUD") == ["name.abbreviated"]
    assert check_name("t.muhammad daud", rules=rules) == ("T. MUHAMMAD DAUD", [])
    assert check_name("HENDRA GUNAWAN, SP.A(K)", rules=rules) == ("HENDRA GUNAWAN, SP.A(K)", [])
    assert "name.punctuation" in codes_of("HENDRA GUNAWAN, SP.A(K)")


# -- length --------------------------------------------------------------------------------


def _name_of_length(n: int) -> str:
    name = "MUHAMMAD " + "A" * (n - len("MUHAMMAD "))
    assert len(name) == n
    return name


def test_sixty_characters_including_spaces_is_the_limit():
    assert check_name(_name_of_length(60))[1] == []
    [found] = check_name(_name_of_length(61))[1]
    assert found.code == "name.too_long"
    assert found.severity is Severity.ERROR
    assert found.params == {"length": 61, "maximum": 60}
    assert "61" in found.message and "60" in found.message


def test_length_is_counted_after_normalisation():
    assert check_name("  " + _name_of_length(60).replace(" ", "    ") + "  ")[1] == []


def test_length_counts_titles_unless_configured():
    name = "H. " + _name_of_length(58)
    assert codes_of(name) == ["name.too_long"]
    assert codes_of(name, rules=NameRules(length_includes_titles=False)) == []


def test_an_existing_overlong_name_is_a_warning_only():
    [found] = check_name(_name_of_length(65), new_registration=False)[1]
    assert (found.code, found.severity) == ("name.too_long", Severity.WARNING)
    strict = NameRules(too_long_existing=Severity.ERROR)
    assert check_name(_name_of_length(65), new_registration=False, rules=strict)[1][0].is_error


# -- words ---------------------------------------------------------------------------------


def test_one_word_name_is_refused_for_new_registrations_only():
    [found] = check_name("Suparman")[1]
    assert found.code == "name.too_few_words"
    assert found.severity is Severity.ERROR
    assert found.message == (
        "Nama harus terdiri dari paling sedikit 2 kata, tidak termasuk gelar; tertulis 1 kata "
        "(Permendagri 73/2022 Pasal 4 ayat (2) huruf c)."
    )
    assert check_name("Suparman", new_registration=False) == ("SUPARMAN", [])
    assert check_name("Suparman", rules=NameRules(min_words=1)) == ("SUPARMAN", [])


def test_a_name_of_titles_only_has_no_name_even_when_existing():
    assert codes_of("H.", new_registration=False) == ["name.too_few_words"]
    assert codes_of("") == ["name.empty"]
    assert codes_of(" \t ", new_registration=False) == ["name.empty"]


# -- characters ----------------------------------------------------------------------------


def test_digits_are_refused():
    _, found = check_name("AHMAD FAUZI 2")
    assert [i.code for i in found] == ["name.digit"]
    assert found[0].params["chars"] == '"2"'
    assert codes_of("ST4LIN ANWAR") == ["name.digit"]


@pytest.mark.parametrize(
    ("raw", "chars"),
    [
        ("AHMAD @FAUZI", '"@"'),
        ("AHMAD / FAUZI", '"/"'),
        ("SITI-AMINAH RAHAYU", '"-"'),
        ("AHMAD (FAUZI)", '"(", ")"'),
        ("AHMAD FAUZI.", '"."'),  # a full stop after a whole word is not an abbreviation
        ("AHMAD FAU.ZI", '"."'),
        ("FAUZI, AHMAD", '","'),  # a comma not before a degree
        ("AHMAD FAUZI,", '","'),
    ],
)
def test_punctuation_outside_titles_is_refused(raw: str, chars: str):
    found = [i for i in check_name(raw)[1] if i.code == "name.punctuation"]
    assert len(found) == 1
    assert found[0].params["chars"] == chars
    assert found[0].is_error
    assert "tanda baca" in found[0].message


@pytest.mark.parametrize(
    ("raw", "chars"),
    [
        ("JOSÉ RIZAL", '"É"'),
        ("ÇAĞLAR YILMAZ", '"Ç", "Ğ"'),
        ("محمد علي", '"م", "ح", "د", "ع", "ل", "ي"'),
        ("王 小明", '"王", "小", "明"'),
    ],
)
def test_letters_outside_latin_a_z_are_refused(raw: str, chars: str):
    [found] = check_name(raw)[1]
    assert found.code == "name.non_latin"
    assert found.params["chars"] == chars
    assert "huruf Latin" in found.message


def test_a_lone_combining_mark_is_shown_on_a_dotted_circle():
    [found] = check_name("AHMAD FAUZI \u0301")[1]
    assert found.code == "name.non_latin"
    assert found.params["chars"] == '"\u25cc\u0301"'


def test_every_problem_is_reported_at_once_in_a_fixed_order():
    assert codes_of("ahmad2 josé@ ma'ruf m.") == [
        "name.digit",
        "name.non_latin",
        "name.punctuation",
        "name.apostrophe",
        "name.abbreviated",
    ]


# -- apostrophe and abbreviation options ---------------------------------------------------


def test_apostrophe_is_a_warning_by_default():
    name, [found] = check_name("ma'ruf amin")
    assert name == "MA'RUF AMIN"
    assert (found.code, found.severity) == ("name.apostrophe", Severity.WARNING)
    assert validate_name("ma'ruf amin") == "MA'RUF AMIN"


def test_apostrophe_options():
    reject = NameRules(apostrophe=Severity.ERROR)
    [found] = check_name("MA'RUF AMIN", rules=reject)[1]
    assert found.is_error
    with pytest.raises(ValidationError) as err:
        validate_name("MA'RUF AMIN", rules=reject)
    assert err.value.code == "name.apostrophe"
    assert check_name("MA'RUF AMIN", rules=NameRules(apostrophe=None))[1] == []


@pytest.mark.parametrize(
    ("raw", "parts"),
    [
        ("M. RIDWAN SAPUTRA", "M."),
        ("MOH. HATTA", "MOH."),
        ("KGS. M. NOVAL", "M."),
        ("AHMAD M.A. RIDWAN", "M.A."),
        ("M RIDWAN", "M"),
    ],
)
def test_abbreviated_name_words_are_a_warning(raw: str, parts: str):
    [found] = check_name(raw)[1]
    assert (found.code, found.severity) == ("name.abbreviated", Severity.WARNING)
    assert found.params["parts"] == parts
    assert "disingkat" in found.message


def test_abbreviation_option():
    assert check_name("M. RIDWAN", rules=NameRules(abbreviation=None))[1] == []
    assert check_name("M. RIDWAN", rules=NameRules(abbreviation=Severity.ERROR))[1][0].is_error
    assert codes_of("I KETUT", rules=NameRules(single_letter_words=frozenset())) == [
        "name.abbreviated"
    ]


# -- validate_name -------------------------------------------------------------------------


def test_validate_name_raises_with_every_issue_errors_first():
    with pytest.raises(ValidationError) as err:
        validate_name("m. ridwan 2", field="members[0].nama")
    assert [i.code for i in err.value.issues] == ["name.digit", "name.abbreviated"]
    assert all(i.field == "members[0].nama" for i in err.value.issues)
    assert err.value.code == "name.digit"


def test_validate_name_passes_warnings_and_returns_the_normalised_name():
    assert validate_name("m. ridwan") == "M. RIDWAN"
    assert validate_name("suparman", new_registration=False) == "SUPARMAN"


def test_issues_name_the_field():
    [found] = check_name("X", field="applicant.nama", new_registration=False)[1]
    assert found.field == "applicant.nama"


def test_message_codes_are_registered():
    assert {
        "name.empty",
        "name.too_long",
        "name.too_few_words",
        "name.digit",
        "name.punctuation",
        "name.non_latin",
        "name.apostrophe",
        "name.abbreviated",
    } <= all_message_codes()


def test_default_rules_follow_the_regulation():
    assert DEFAULT_RULES.max_length == 60
    assert DEFAULT_RULES.min_words == 2
    assert DEFAULT_RULES.apostrophe is Severity.WARNING


# -- properties ----------------------------------------------------------------------------

_NAMEISH = st.lists(
    st.sampled_from(
        [
            "ahmad",
            "SITI",
            " ",
            "  ",
            ".",
            ",",
            "'",
            "-",
            "h.",
            "HJ.",
            "K.H.",
            "dr.",
            "s.t.",
            "M.Si",
            "S. Pd",
            "é",
            "\u0301",
            "\u200b",
            "\t",
            "7",
            "محمد",
        ]
    ),
    max_size=25,
).map("".join)


@given(st.one_of(st.text(), _NAMEISH))
def test_normalize_name_is_idempotent(raw: str):
    once = normalize_name(raw)
    assert normalize_name(once) == once


@given(st.one_of(st.text(), _NAMEISH), st.booleans())
def test_check_name_never_raises_and_returns_the_normalised_name(raw: str, new: bool):
    name, found = check_name(raw, new_registration=new)
    assert name == normalize_name(raw)
    assert len({i.code for i in found}) == len(found)  # each rule reported once
    if not name:
        assert [i.code for i in found] == ["name.empty"]
