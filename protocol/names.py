"""Names of residents, per Permendagri 73/2022 tentang Pencatatan Nama pada Dokumen Kependudukan.

The rules (docs/domain.md §6):

- Pasal 4 ayat (2): a name is easy to read, at most 60 letters INCLUDING spaces (huruf b) and
  at least two words (huruf c).
- Pasal 5 ayat (1): Latin letters; gelar pendidikan, adat and keagamaan may be written on the
  KK and KTP-el and may be abbreviated.
- Pasal 5 ayat (3): no abbreviation unless it cannot be read as something else (huruf a); no
  digits and no punctuation (huruf b); no gelar pendidikan/keagamaan on akta (huruf c).
- Pasal 7: documents issued before the regulation stay valid, so an existing one-word name is
  still legal; the two-word rule applies to NEW registrations (``new_registration``).

How titles are recognised, so that the dots and commas they need are not punctuation errors:

- A name is written as a KK prints it: ``[prefix titles] name words[, degree, degree ...]``,
  e.g. ``H. AHMAD FAUZI, S.T., M.SI`` or ``DR. IR. SITI AMINAH, M.PD``.
- Prefix titles come from a table (:data:`PREFIX_TITLES`): religious (H., HJ., K.H.),
  adat/nobility (R., RA., and the Palembang titles KGS., KMS., MGS., MSY. common in Musi
  Banyuasin) and academic/professional (PROF., DR., IR., DRS., ...). They count only at the
  start of the name. An office can add more with :attr:`NameRules.extra_prefix_titles`.
- Degrees are what follows the first comma. A degree is either in the table
  :data:`DEGREES` (compared without dots, so ``S.E.``, ``S.E`` and ``SE`` are one degree) or
  follows the Indonesian pattern "level letter(s), dot, field" (``S.PD.I``, ``A.MD.KEP``,
  ``SP.OG``, ``M.BIOMED``). Dotless abbreviations (``SE``, ``MM``) are degrees only after a
  comma, where a name word cannot stand; a dotted degree from the table typed at the end of
  the name without a comma is moved behind one by :func:`normalize_name`.
- Everything else is a name word: letters A-Z, plus apostrophes per
  :attr:`NameRules.apostrophe`. A short word ending in a dot (``M.``, ``MOH.``) or a lone
  letter (``M``) is an abbreviation: a warning (Pasal 5 ayat (3) huruf a), since only a person
  can judge whether it "is read as something else".

Known limits: a one-letter prefix title (``H.``, ``R.``) is always taken as a title, never as
an initial; titles written in full (HAJI, RADEN) are name words, as the KK prints them.
"""

from __future__ import annotations

import enum
import functools
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from protocol.errors import Issue, Severity, ValidationError, define_messages, issue

__all__ = [
    "TitleKind",
    "Title",
    "PREFIX_TITLES",
    "DEGREES",
    "NameRules",
    "DEFAULT_RULES",
    "NameParts",
    "normalize_name",
    "split_name",
    "check_name",
    "validate_name",
]

define_messages(
    {
        "name.empty": "Nama wajib diisi.",
        "name.too_long": "Nama terlalu panjang: {length} huruf termasuk spasi, paling banyak "
        "{maximum} (Permendagri 73/2022 Pasal 4 ayat (2) huruf b).",
        "name.too_few_words": "Nama harus terdiri dari paling sedikit {minimum} kata, tidak "
        "termasuk gelar; tertulis {count} kata (Permendagri 73/2022 Pasal 4 ayat (2) huruf c).",
        "name.digit": "Nama tidak boleh memuat angka: {chars} (Permendagri 73/2022 Pasal 5 "
        "ayat (3) huruf b).",
        "name.non_latin": "Nama harus ditulis dengan huruf Latin A-Z tanpa tanda diakritik; "
        "tidak boleh: {chars} (Permendagri 73/2022 Pasal 5 ayat (1)).",
        "name.punctuation": "Nama tidak boleh memuat tanda baca atau simbol: {chars}. Titik hanya "
        "untuk singkatan gelar dan koma hanya sebelum gelar di belakang nama (Permendagri "
        "73/2022 Pasal 5 ayat (3) huruf b).",
        "name.apostrophe": "Nama memuat tanda apostrof ('), misalnya MA'RUF. Permendagri 73/2022 "
        "tidak membolehkan tanda baca pada nama; pastikan penulisan sama dengan dokumen dasar "
        "(akta kelahiran, ijazah).",
        "name.abbreviated": "Nama memuat singkatan: {parts}. Permendagri 73/2022 Pasal 5 ayat (3) "
        "huruf a melarang nama disingkat kecuali tidak diartikan lain; tulis lengkap bila "
        "memungkinkan.",
    }
)


# -- Title tables --------------------------------------------------------------------------


class TitleKind(enum.StrEnum):
    """The kinds of gelar Pasal 5 ayat (1) allows on KK and KTP-el."""

    KEAGAMAAN = "keagamaan"
    ADAT = "adat"
    PENDIDIKAN = "pendidikan"
    """Academic degrees and professional titles (gelar profesi, UU 12/2012 Pasal 26)."""


@dataclass(frozen=True, slots=True)
class Title:
    """A title written before the name, e.g. ``H.`` (Haji)."""

    abbreviation: str
    """The usual printed form, upper case with its dots."""
    meaning: str
    kind: TitleKind
    variants: tuple[str, ...] = ()
    """Other accepted spellings, e.g. ``KH.`` and ``KH`` for ``K.H.``."""

    @property
    def forms(self) -> tuple[str, ...]:
        return (self.abbreviation, *self.variants)


_K, _A, _P = TitleKind.KEAGAMAAN, TitleKind.ADAT, TitleKind.PENDIDIKAN

# Dotless variants only where the letters cannot be a name word themselves; single letters
# (H, R) without a dot are never titles. Entries marked (uncertain) are common usage, not
# confirmed against a Dukcapil list.
PREFIX_TITLES: tuple[Title, ...] = (
    Title("H.", "Haji", _K),
    Title("HJ.", "Hajah", _K, ("HJ",)),
    Title("K.H.", "Kiai Haji", _K, ("KH.", "KH")),
    Title("TGK.", "Teungku (Aceh)", _K),
    Title("TGH.", "Tuan Guru Haji (NTB) (uncertain)", _K),
    Title("PDT.", "Pendeta", _K, ("PDT",)),
    Title("R.", "Raden", _A),
    Title("RA.", "Raden Ajeng / Raden Ayu", _A, ("R.A.",)),
    Title("RR.", "Raden Roro", _A, ("R.R.",)),
    Title("RM.", "Raden Mas", _A, ("R.M.",)),
    Title("KGS.", "Kiagus (Palembang)", _A, ("KGS",)),
    Title("KMS.", "Kemas (Palembang)", _A, ("KMS",)),
    Title("MGS.", "Masagus (Palembang)", _A, ("MGS",)),
    Title("MSY.", "Masayu (Palembang)", _A, ("MSY",)),
    Title("NYS.", "Nyimas (Palembang) (uncertain)", _A),
    Title("PROF.", "Profesor", _P, ("PROF",)),
    Title("DR.", "Doktor / dokter", _P, ("DR",)),
    Title("DRS.", "Doktorandus", _P, ("DRS",)),
    Title("DRA.", "Doktoranda", _P, ("DRA",)),
    Title("IR.", "Insinyur", _P, ("IR",)),
    Title("DRG.", "Dokter gigi", _P, ("DRG",)),
    Title("DRH.", "Dokter hewan", _P, ("DRH",)),
    Title("NS.", "Ners", _P),
    Title("APT.", "Apoteker", _P),
    Title("BD.", "Bidan (uncertain)", _P),
)

# Degrees written after the name, as the KK prints them: the gelar of Permenristekdikti
# 59/2018 (tata cara penulisan gelar) and older/foreign degrees, in their common abbreviated
# forms (not checked entry by entry against the regulation's annex). Not exhaustive: the
# pattern below catches the rest of the "S./M./A.MD. + field" family, and
# NameRules.extra_degrees adds local ones.
DEGREES: frozenset[str] = frozenset(
    {
        # Sarjana (S1) and sarjana terapan
        "S.AG", "S.AK", "S.ARS", "S.DS", "S.E.", "S.E.I", "S.FARM", "S.FIL", "S.GZ", "S.H.",
        "S.H.I", "S.HUM", "S.HUT", "S.I.KOM", "S.IN", "S.IP", "S.KED", "S.KEB", "S.KEP", "S.KG",
        "S.KH", "S.KM", "S.KOM", "S.M.", "S.P.", "S.PD", "S.PD.I", "S.PD.SD", "S.PI", "S.PSI",
        "S.PT", "S.SI", "S.SN", "S.SOS", "S.ST", "S.STP", "S.SY", "S.T.", "S.TH", "S.TH.I",
        "S.TP", "S.TR.KEB", "S.TR.KEP", "S.TR.KES", "S.TR.T",
        # Magister (S2)
        "M.A.", "M.AG", "M.AK", "M.AP", "M.ARS", "M.B.A", "M.BIOMED", "M.DS", "M.E.", "M.E.I",
        "M.ED", "M.ENG", "M.FARM", "M.GZ", "M.H.", "M.H.I", "M.HUM", "M.HUT", "M.I.KOM", "M.IP",
        "M.KED", "M.KEB", "M.KEP", "M.KES", "M.KM", "M.KN", "M.KOM", "M.M.", "M.P.", "M.PA",
        "M.PD", "M.PD.I", "M.PH", "M.PHIL", "M.PSI", "M.SC", "M.SI", "M.SN", "M.SOS", "M.STAT",
        "M.SY", "M.T.", "M.TH", "M.TR.KES",
        # Diploma (ahli pratama/muda/madya)
        "A.P.", "A.MA", "A.MA.PD", "A.MD", "A.MD.AK", "A.MD.FARM", "A.MD.GZ", "A.MD.KEB",
        "A.MD.KEP", "A.MD.KES", "A.MD.KOM", "A.MD.PAR", "A.MD.T",
        # Doctorate; "DR." also stands after the name in some records
        "DR.", "PH.D", "ED.D",
        # Spesialis (dokter spesialis)
        "SP.A", "SP.AN", "SP.B", "SP.BM", "SP.BS", "SP.F", "SP.JP", "SP.KG", "SP.KJ", "SP.KK",
        "SP.M", "SP.N", "SP.OG", "SP.OT", "SP.P", "SP.PA", "SP.PD", "SP.PK", "SP.RAD", "SP.S",
        "SP.THT", "SP.U",
        # Foreign and professional
        "B.A.", "B.ED", "B.ENG", "B.SC", "LL.B", "LL.M", "MBA", "MPA", "AK.", "CA",
    }
)  # fmt: skip

# "Level letters, dot, field[, dot, sub-field]": S.PD.I, A.MD.KEP, SP.OG, PH.D, M.BIOMED.
# At most two groups after the level, so "S.T.M.SI" (two degrees run together) is not one.
_DEGREE_RE = re.compile(r"(?:S|M|A|B|D|SP|PH|ED|LL)(?:\.[A-Z]{1,8}){1,2}\.?")
_DOTTED_SHAPE_RE = re.compile(r"[A-Z]+(?:\.[A-Z]+)*\.?")
_INNER_DOT_RE = re.compile(r"\.[A-Z]")

# Abbreviated name words: a short word with a dot (MUH., MOH., ABD., MOCH.: at most four
# letters, so a longer word ending in a dot is a stray full stop) or initials (M.A.).
_ABBREVIATION_RE = re.compile(r"[^\W\d_]{1,4}\.|(?:[^\W\d_]\.)+")


def _dotless(text: str) -> str:
    return text.replace(".", "")


_DEGREE_KEYS = frozenset(_dotless(d) for d in DEGREES)


# -- Rules ---------------------------------------------------------------------------------


def _upper_set(values: Iterable[str]) -> frozenset[str]:
    return frozenset(v.strip().upper() for v in values if v.strip())


@dataclass(frozen=True, slots=True)
class NameRules:
    """The tunable parts of the name rules; the defaults follow Permendagri 73/2022.

    Each ``Severity | None`` option reads the same way: ``Severity.ERROR`` rejects,
    ``Severity.WARNING`` lets the operator go on after giving a reason (an override),
    ``None`` accepts silently.
    """

    max_length: int = 60
    """Pasal 4 ayat (2) huruf b: letters including spaces."""
    min_words: int = 2
    """Pasal 4 ayat (2) huruf c, for new registrations; titles are not words."""
    apostrophe: Severity | None = Severity.WARNING
    """Apostrophes (MA'RUF, NU'MAN) are common in names, but Pasal 5 ayat (3) huruf b forbids
    punctuation and whether the apostrophe counts is uncertain; a warning until Dukcapil
    says otherwise."""
    abbreviation: Severity | None = Severity.WARNING
    """Abbreviated name words (M. RIDWAN, MOH. HATTA): allowed only when not read as something
    else (Pasal 5 ayat (3) huruf a), a judgement for a person."""
    too_long_existing: Severity | None = Severity.WARNING
    """An over-long name already on a document issued before the regulation stays valid
    (Pasal 7); for those (``new_registration=False``) the length rule is this severity.
    New registrations always get an error."""
    length_includes_titles: bool = True
    """Count the 60 characters over the whole printed name with titles and degrees, or
    (False) over the name words only. The regulation counts the name; whether titles
    belong to it is uncertain, the KK column holds the whole text."""
    single_letter_words: frozenset[str] = frozenset({"I"})
    """One-letter words that are not abbreviations (Balinese I as in I WAYAN)."""
    extra_prefix_titles: frozenset[str] = frozenset()
    """More title forms before the name, upper case as printed (e.g. ``T.`` for Teuku)."""
    extra_degrees: frozenset[str] = frozenset()
    """More degrees after the name, upper case as printed (e.g. ``SP.A(K)``)."""

    def __post_init__(self) -> None:
        for name in ("single_letter_words", "extra_prefix_titles", "extra_degrees"):
            object.__setattr__(self, name, _upper_set(getattr(self, name)))


DEFAULT_RULES = NameRules()


@functools.cache  # rules are frozen and few; names are checked thousands of times a minute
def _prefix_forms(rules: NameRules) -> frozenset[str]:
    return frozenset(f for t in PREFIX_TITLES for f in t.forms) | rules.extra_prefix_titles


@functools.cache
def _glueable_forms(forms: frozenset[str]) -> tuple[str, ...]:
    """Forms that can be typed glued to the next word ("H.AHMAD"), longest first."""
    return tuple(sorted((f for f in forms if f.endswith(".")), key=len, reverse=True))


def _is_degree(token: str, rules: NameRules) -> bool:
    """True for a degree after a comma (dotless forms included)."""
    if token in rules.extra_degrees:
        return True
    if not _DOTTED_SHAPE_RE.fullmatch(token):
        return False
    return _dotless(token) in _DEGREE_KEYS or _DEGREE_RE.fullmatch(token) is not None


def _is_known_dotted_degree(token: str, rules: NameRules) -> bool:
    """True for a degree that is unmistakable even without a comma before it (S.T., M.SI)."""
    if token in rules.extra_degrees:
        return "." in token.rstrip(".")
    return (
        _DOTTED_SHAPE_RE.fullmatch(token) is not None
        and _INNER_DOT_RE.search(token) is not None
        and _dotless(token) in _DEGREE_KEYS
    )


# -- Normalisation -------------------------------------------------------------------------

# Typographic apostrophes and look-alikes typed or pasted for ' (MA'RUF).
_APOSTROPHES = str.maketrans(dict.fromkeys("\u2018\u2019\u02bc\u02bb`\u00b4\u2032", "'"))
_SPACE_BEFORE_DOT = re.compile(r"\s+\.")


def _upper(text: str) -> str:
    # upper() can leave decomposed sequences that NFC recomposes (and vice versa); iterate to
    # a fixed point so that normalising twice changes nothing.
    for _ in range(4):
        changed = unicodedata.normalize("NFC", text.upper())
        if changed == text:
            break
        text = changed
    return text


def _clean(raw: str) -> str:
    """Upper case, NFC, one space between words, no invisible characters."""
    text = unicodedata.normalize("NFC", raw)
    # Control and format characters (zero-width spaces pasted from chat apps) are invisible
    # noise; whitespace of any kind becomes a plain space.
    text = "".join(
        " " if ch.isspace() else ch
        for ch in text
        if ch.isspace() or unicodedata.category(ch) not in ("Cc", "Cf")
    )
    text = _upper(text.translate(_APOSTROPHES))
    return " ".join(text.split())


def _split_leading_titles(tokens: list[str], rules: NameRules) -> list[str]:
    """Split prefix titles typed glued to what follows: DR.IR.SITI -> DR. IR. SITI."""
    forms = _prefix_forms(rules)
    glueable = _glueable_forms(forms)
    out: list[str] = []
    for index, token in enumerate(tokens):
        rest = token
        while rest not in forms:
            head = next((f for f in glueable if rest.startswith(f) and len(rest) > len(f)), None)
            if head is None:
                break
            out.append(head)
            rest = rest[len(head) :]
        out.append(rest)
        if rest not in forms:  # the leading run of titles ends here
            out.extend(tokens[index + 1 :])
            break
    return out


def _leading_title_count(tokens: list[str], forms: frozenset[str]) -> int:
    count = 0
    while count < len(tokens) and tokens[count] in forms:
        count += 1
    return count


def _normalize_degrees(segment: str, rules: NameRules) -> list[str]:
    """One comma segment as degree segments: "S. T." -> ["S.T."], "S.T. M.SI" -> two."""
    tokens = segment.split()
    if len(tokens) > 1 and all(_is_degree(t, rules) for t in tokens):
        return tokens
    compact = "".join(tokens)
    # Only table degrees are compacted: the pattern alone would glue two degrees into one.
    if len(tokens) > 1 and (
        compact in rules.extra_degrees or _is_known_dotted_degree(compact, rules)
    ):
        return [compact]
    return [segment]


def normalize_name(raw: str, *, rules: NameRules = DEFAULT_RULES) -> str:
    """The name as a KK prints it: ``h.ahmad  fauzi,s.t. ,m.si`` -> ``H. AHMAD FAUZI, S.T., M.SI``.

    Upper case, trimmed, single spaces; no space before a dot or comma and one after a comma;
    prefix titles glued to the name are split off; degrees typed with inner spaces are joined;
    table degrees typed after the name without a comma get one. Letters are never changed
    (JOSÉ stays JOSÉ, for :func:`check_name` to report), and normalising twice changes
    nothing.
    """
    text = _SPACE_BEFORE_DOT.sub(".", _clean(raw))
    head, *tail = (s.strip() for s in text.split(","))
    tokens = _split_leading_titles(head.split(), rules)
    titles = _leading_title_count(tokens, _prefix_forms(rules))
    # Degrees typed at the end without a comma move behind one, if a name word stays.
    cut = len(tokens)
    while cut - 1 > titles and _is_known_dotted_degree(tokens[cut - 1], rules):
        cut -= 1
    degrees = tokens[cut:]
    segments = [" ".join(tokens[:cut]), *degrees]
    for segment in tail:
        segments += _normalize_degrees(segment, rules)
    return ", ".join(segments).strip()


# -- Checking ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NameParts:
    """A normalised name taken apart: what is title, what is name, what is degree."""

    prefix_titles: tuple[str, ...]
    words: tuple[str, ...]
    """The name itself, including anything unrecognised before the first comma."""
    degrees: tuple[str, ...]
    stray: tuple[str, ...] = ()
    """Text after a comma that is not a degree (a punctuation error)."""

    @property
    def name_only(self) -> str:
        """The name without titles, e.g. for an akta (Pasal 5 ayat (3) huruf c)."""
        return " ".join(self.words)


def split_name(raw: str, *, rules: NameRules = DEFAULT_RULES) -> NameParts:
    """Normalise ``raw`` and take it apart into titles, name words and degrees."""
    text = normalize_name(raw, rules=rules)
    head, *tail = (s.strip() for s in text.split(","))
    tokens = head.split()
    titles = _leading_title_count(tokens, _prefix_forms(rules))
    degrees: list[str] = []
    stray: list[str] = []
    for segment in tail:
        for token in segment.split() or [""]:
            (degrees if token and _is_degree(token, rules) else stray).append(token)
    return NameParts(tuple(tokens[:titles]), tuple(tokens[titles:]), tuple(degrees), tuple(stray))


def _show(chars: Iterable[str]) -> str:
    """Characters for a message: quoted, combining marks on a dotted circle."""
    shown = []
    for ch in dict.fromkeys(chars):
        shown.append(f'"\u25cc{ch}"' if unicodedata.category(ch).startswith("M") else f'"{ch}"')
    return ", ".join(shown)


def check_name(
    raw: str,
    *,
    field: str = "nama",
    rules: NameRules = DEFAULT_RULES,
    new_registration: bool = True,
) -> tuple[str, list[Issue]]:
    """Normalise ``raw`` and report every rule it breaks; never raises for any text.

    ``new_registration`` is True when the name is recorded for the first time (a birth, a
    change of name); False for a name already on an earlier document, which keeps the
    one-word and length allowances of Pasal 7. Issues come in a fixed order: length, words,
    digits, letters, punctuation, apostrophe, abbreviation.
    """
    text = normalize_name(raw, rules=rules)
    if not text:
        return text, [issue("name.empty", field=field)]
    parts = split_name(text, rules=rules)
    found: list[Issue] = []

    length = len(text) if rules.length_includes_titles else len(parts.name_only)
    if length > rules.max_length:
        severity = Severity.ERROR if new_registration else rules.too_long_existing
        if severity is not None:
            found.append(
                issue(
                    "name.too_long",
                    field=field,
                    severity=severity,
                    length=length,
                    maximum=rules.max_length,
                )
            )

    words = [w for w in parts.words if any(ch.isalpha() for ch in w)]
    minimum = rules.min_words if new_registration else 1
    if len(words) < minimum:
        found.append(issue("name.too_few_words", field=field, minimum=minimum, count=len(words)))

    digits: list[str] = []
    non_latin: list[str] = []
    punctuation: list[str] = ["," for s in parts.stray]  # a comma not before a degree
    abbreviations: list[str] = []
    apostrophe = False
    for token in (*parts.words, *parts.stray):
        core = token
        if _ABBREVIATION_RE.fullmatch(token):
            abbreviations.append(token)
            core = token.replace(".", "")
        elif len(token) == 1 and "A" <= token <= "Z" and token not in rules.single_letter_words:
            abbreviations.append(token)
        for ch in core:
            if "A" <= ch <= "Z":
                continue
            if ch == "'":
                apostrophe = True
            elif ch.isdigit():
                digits.append(ch)
            elif ch.isalpha() or unicodedata.category(ch).startswith("M"):
                non_latin.append(ch)
            else:
                punctuation.append(ch)

    if digits:
        found.append(issue("name.digit", field=field, chars=_show(digits)))
    if non_latin:
        found.append(issue("name.non_latin", field=field, chars=_show(non_latin)))
    if punctuation:
        found.append(issue("name.punctuation", field=field, chars=_show(punctuation)))
    if apostrophe and rules.apostrophe is not None:
        found.append(issue("name.apostrophe", field=field, severity=rules.apostrophe))
    if abbreviations and rules.abbreviation is not None:
        found.append(
            issue(
                "name.abbreviated",
                field=field,
                severity=rules.abbreviation,
                parts=", ".join(dict.fromkeys(abbreviations)),
            )
        )
    return text, found


def validate_name(
    raw: str,
    *,
    field: str = "nama",
    rules: NameRules = DEFAULT_RULES,
    new_registration: bool = True,
) -> str:
    """The normalised name, or :class:`ValidationError` when any rule fails as an ERROR.

    The error carries every issue, errors first; warnings alone do not raise (use
    :func:`check_name` to see them).
    """
    text, found = check_name(raw, field=field, rules=rules, new_registration=new_registration)
    errors = [i for i in found if i.is_error]
    if errors:
        raise ValidationError(errors + [i for i in found if not i.is_error])
    return text
