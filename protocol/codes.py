"""The SIAK code lists of a Kartu Keluarga, as data.

Every coded element of a KK member (jenis kelamin, agama, pendidikan, pekerjaan, status
perkawinan, SHDK, golongan darah, disabilitas, kewarganegaraan) travels as the SIAK integer
code and is printed with the label below, in upper case as the KK prints it.

Sources: the SIAK code order as replicated in OpenSID and other public code (docs/domain.md
§3); Permendagri 118/2017 (KK blangko, kept by Permendagri 109/2019) for the split status
perkawinan. Where the numbering is ours rather than SIAK's, the list says so; the export to
SIAK must map labels, not trust those numbers.

Each :class:`CodeList` validates its field the same way (:meth:`CodeList.check`, message code
``code.unknown``) and can read values typed by people (:meth:`CodeList.find`), e.g. when
importing an old spreadsheet.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from protocol.errors import Issue, define_messages, issue

__all__ = [
    "Code",
    "CodeList",
    "CODE_LISTS",
    "JENIS_KELAMIN",
    "AGAMA",
    "PENDIDIKAN",
    "PEKERJAAN",
    "STATUS_PERKAWINAN",
    "SHDK",
    "GOLONGAN_DARAH",
    "DISABILITAS",
    "KEWARGANEGARAAN",
    "LAKI_LAKI",
    "PEREMPUAN",
    "SHDK_KEPALA_KELUARGA",
    "SHDK_SUAMI",
    "SHDK_ISTRI",
    "SHDK_ANAK",
    "SHDK_MENANTU",
    "SHDK_CUCU",
    "SHDK_ORANG_TUA",
    "SHDK_MERTUA",
    "SHDK_FAMILI_LAIN",
    "SHDK_PEMBANTU",
    "SHDK_LAINNYA",
    "WNI",
    "WNA",
    "BELUM_KAWIN",
    "KAWIN",
    "CERAI_HIDUP",
    "CERAI_MATI",
    "KAWIN_TERCATAT",
    "KAWIN_BELUM_TERCATAT",
    "CERAI_HIDUP_TERCATAT",
    "CERAI_HIDUP_BELUM_TERCATAT",
    "GOLDAR_TIDAK_TAHU",
    "STATUS_PERKAWINAN_NEW_ENTRY",
    "is_married",
    "was_married",
    "is_unrecorded",
    "legacy_code",
    "check_status_perkawinan",
]

define_messages(
    {
        "code.unknown": 'Kode {title} "{value}" tidak dikenal.',
        "code.status_perkawinan_legacy": "Status perkawinan {label} tidak dipakai lagi untuk "
        "data baru sejak Permendagri 118/2017; pilih {choices}.",
    }
)


@dataclass(frozen=True, slots=True)
class Code:
    """One entry of a code list: the SIAK integer and the label a KK prints."""

    code: int
    label: str
    aliases: tuple[str, ...] = ()
    """Other spellings people type (``KATOLIK`` for ``KATHOLIK``); only :meth:`CodeList.find`
    reads them, the KK always prints :attr:`label`."""


def _key(text: str) -> str:
    """Matching key for typed text: case- and whitespace-insensitive."""
    return "".join(text.split()).upper()


class CodeList:
    """An ordered, immutable list of :class:`Code` entries for one KK element."""

    __slots__ = ("name", "title", "_entries", "_by_code", "_by_key")

    def __init__(self, name: str, title: str, entries: Iterable[Code]) -> None:
        self.name = name
        """Machine name, e.g. ``agama``; the key in :data:`CODE_LISTS`."""
        self.title = title
        """Indonesian name of the element, used in messages, e.g. ``Agama``."""
        self._entries: tuple[Code, ...] = tuple(entries)
        self._by_code: dict[int, Code] = {}
        self._by_key: dict[str, Code] = {}
        for entry in self._entries:
            if isinstance(entry.code, bool) or not isinstance(entry.code, int) or entry.code < 1:
                raise ValueError(f"{name}: code {entry.code!r} must be a positive integer")
            if entry.code in self._by_code:
                raise ValueError(f"{name}: code {entry.code} listed twice")
            if entry.label != entry.label.strip().upper():
                raise ValueError(f"{name}: label {entry.label!r} must be trimmed upper case")
            self._by_code[entry.code] = entry
            for text in (entry.label, *entry.aliases):
                key = _key(text)
                if key in self._by_key:
                    raise ValueError(f"{name}: {text!r} matches two entries")
                self._by_key[key] = entry

    def __repr__(self) -> str:
        return f"CodeList({self.name!r}, {len(self)} entries)"

    def __contains__(self, code: object) -> bool:
        # bool is an int in Python; True must not pass for code 1.
        return isinstance(code, int) and not isinstance(code, bool) and code in self._by_code

    def __iter__(self) -> Iterator[Code]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, code: int) -> Code:
        """The entry for ``code``; raises :class:`KeyError` when the list has no such code."""
        if code not in self:
            raise KeyError(f"{self.name}: unknown code {code!r}")
        return self._by_code[code]

    def label(self, code: int) -> str:
        """The label a KK prints for ``code``; raises :class:`KeyError` when unknown."""
        return self.get(code).label

    def find(self, text: str) -> Code | None:
        """The entry whose label or alias matches ``text`` ignoring case and spaces.

        Meant for data typed by people (``"Katolik"``, ``"laki - laki"``); returns ``None``
        when nothing matches, so the caller decides how to report it.
        """
        if not isinstance(text, str):
            return None
        return self._by_key.get(_key(text))

    def codes(self) -> tuple[int, ...]:
        """All codes in list order."""
        return tuple(e.code for e in self._entries)

    def check(self, code: object, *, field: str) -> list[Issue]:
        """Empty when ``code`` is in the list, else one ``code.unknown`` error on ``field``."""
        if code in self:
            return []
        shown = "(kosong)" if code is None else code
        return [issue("code.unknown", field=field, title=self.title, value=shown, list=self.name)]


def _numbered(*labels: str) -> tuple[Code, ...]:
    """Entries numbered 1, 2, ... in the order given (the SIAK order)."""
    return tuple(Code(i, label) for i, label in enumerate(labels, start=1))


# -- Jenis kelamin -------------------------------------------------------------------------

LAKI_LAKI = 1
PEREMPUAN = 2

JENIS_KELAMIN = CodeList(
    "jenis_kelamin",
    "Jenis Kelamin",
    (
        Code(LAKI_LAKI, "LAKI-LAKI", ("LAKI LAKI", "L", "PRIA")),
        Code(PEREMPUAN, "PEREMPUAN", ("P", "WANITA")),
    ),
)

# -- Agama ---------------------------------------------------------------------------------

# 7 is printed for penghayat kepercayaan since the MK ruling 97/PUU-XIV/2016 (KK wording
# uncertain); OpenSID labels the same code "KEPERCAYAAN TERHADAP TUHAN YME / LAINNYA".
AGAMA = CodeList(
    "agama",
    "Agama",
    (
        Code(1, "ISLAM"),
        Code(2, "KRISTEN", ("PROTESTAN", "KRISTEN PROTESTAN")),
        Code(3, "KATHOLIK", ("KATOLIK", "KRISTEN KATOLIK", "KRISTEN KATHOLIK")),
        Code(4, "HINDU"),
        Code(5, "BUDHA", ("BUDDHA",)),
        Code(6, "KHONGHUCU", ("KONGHUCU",)),
        Code(
            7,
            "KEPERCAYAAN TERHADAP TUHAN YME",
            (
                "KEPERCAYAAN TERHADAP TUHAN YANG MAHA ESA",
                "KEPERCAYAAN TERHADAP TUHAN YME / LAINNYA",
                "PENGHAYAT KEPERCAYAAN",
            ),
        ),
    ),
)

# -- Pendidikan (dalam KK) -----------------------------------------------------------------

PENDIDIKAN = CodeList(
    "pendidikan",
    "Pendidikan",
    (
        Code(1, "TIDAK/BELUM SEKOLAH"),
        Code(2, "BELUM TAMAT SD/SEDERAJAT"),
        Code(3, "TAMAT SD/SEDERAJAT"),
        Code(4, "SLTP/SEDERAJAT", ("SMP/SEDERAJAT",)),
        Code(5, "SLTA/SEDERAJAT", ("SMA/SEDERAJAT",)),
        Code(6, "DIPLOMA I/II"),
        Code(7, "AKADEMI/DIPLOMA III/S. MUDA"),
        Code(8, "DIPLOMA IV/STRATA I"),
        Code(9, "STRATA II"),
        Code(10, "STRATA III"),
    ),
)

# -- Jenis pekerjaan -----------------------------------------------------------------------

# 88 named occupations in SIAK order plus LAINNYA (89 per OpenSID; SIAK's number for it is
# uncertain). Some older lists (SIDeKa) omit KARYAWAN BUMD and shift every later number: do not
# import numbers from them, match labels with find() instead.
_PEKERJAAN_LABELS = (
    "BELUM/TIDAK BEKERJA",
    "MENGURUS RUMAH TANGGA",
    "PELAJAR/MAHASISWA",
    "PENSIUNAN",
    "PEGAWAI NEGERI SIPIL (PNS)",
    "TENTARA NASIONAL INDONESIA (TNI)",
    "KEPOLISIAN RI (POLRI)",
    "PERDAGANGAN",
    "PETANI/PEKEBUN",
    "PETERNAK",
    "NELAYAN/PERIKANAN",
    "INDUSTRI",
    "KONSTRUKSI",
    "TRANSPORTASI",
    "KARYAWAN SWASTA",
    "KARYAWAN BUMN",
    "KARYAWAN BUMD",
    "KARYAWAN HONORER",
    "BURUH HARIAN LEPAS",
    "BURUH TANI/PERKEBUNAN",
    "BURUH NELAYAN/PERIKANAN",
    "BURUH PETERNAKAN",
    "PEMBANTU RUMAH TANGGA",
    "TUKANG CUKUR",
    "TUKANG LISTRIK",
    "TUKANG BATU",
    "TUKANG KAYU",
    "TUKANG SOL SEPATU",
    "TUKANG LAS/PANDAI BESI",
    "TUKANG JAHIT",
    "TUKANG GIGI",
    "PENATA RIAS",
    "PENATA BUSANA",
    "PENATA RAMBUT",
    "MEKANIK",
    "SENIMAN",
    "TABIB",
    "PARAJI",
    "PERANCANG BUSANA",
    "PENTERJEMAH",
    "IMAM MASJID",
    "PENDETA",
    "PASTOR",
    "WARTAWAN",
    "USTADZ/MUBALIGH",
    "JURU MASAK",
    "PROMOTOR ACARA",
    "ANGGOTA DPR-RI",
    "ANGGOTA DPD",
    "ANGGOTA BPK",
    "PRESIDEN",
    "WAKIL PRESIDEN",
    "ANGGOTA MAHKAMAH KONSTITUSI",
    "ANGGOTA KABINET/KEMENTERIAN",
    "DUTA BESAR",
    "GUBERNUR",
    "WAKIL GUBERNUR",
    "BUPATI",
    "WAKIL BUPATI",
    "WALIKOTA",
    "WAKIL WALIKOTA",
    "ANGGOTA DPRD PROVINSI",
    "ANGGOTA DPRD KABUPATEN/KOTA",
    "DOSEN",
    "GURU",
    "PILOT",
    "PENGACARA",
    "NOTARIS",
    "ARSITEK",
    "AKUNTAN",
    "KONSULTAN",
    "DOKTER",
    "BIDAN",
    "PERAWAT",
    "APOTEKER",
    "PSIKIATER/PSIKOLOG",
    "PENYIAR TELEVISI",
    "PENYIAR RADIO",
    "PELAUT",
    "PENELITI",
    "SOPIR",
    "PIALANG",
    "PARANORMAL",
    "PEDAGANG",
    "PERANGKAT DESA",
    "KEPALA DESA",
    "BIARAWATI",
    "WIRASWASTA",
    "LAINNYA",
)

# Short forms people type for the labels that carry an abbreviation in brackets, and the
# standard spellings (KBBI) of labels SIAK spells otherwise.
_PEKERJAAN_ALIASES: Mapping[int, tuple[str, ...]] = {
    5: ("PNS", "PEGAWAI NEGERI SIPIL"),
    6: ("TNI", "TENTARA NASIONAL INDONESIA"),
    7: ("POLRI", "KEPOLISIAN RI", "KEPOLISIAN REPUBLIK INDONESIA"),
    40: ("PENERJEMAH",),
    45: ("USTAZ/MUBALIGH",),
    48: ("ANGGOTA DPR RI", "ANGGOTA DPR"),
}

PEKERJAAN = CodeList(
    "pekerjaan",
    "Jenis Pekerjaan",
    (
        Code(i, label, _PEKERJAAN_ALIASES.get(i, ()))
        for i, label in enumerate(_PEKERJAAN_LABELS, start=1)
    ),
)

# -- Status perkawinan ---------------------------------------------------------------------

# Classic SIAK codes 1-4. Since Permendagri 118/2017 the KK distinguishes recorded from
# unrecorded marriages and divorces; 5-8 are OUR numbering for those values: SIAK's numeric
# codes for them are uncertain, so exports must map by label. KTP-el still prints "KAWIN".
BELUM_KAWIN = 1
KAWIN = 2
CERAI_HIDUP = 3
CERAI_MATI = 4
KAWIN_TERCATAT = 5
KAWIN_BELUM_TERCATAT = 6
CERAI_HIDUP_TERCATAT = 7
CERAI_HIDUP_BELUM_TERCATAT = 8

STATUS_PERKAWINAN = CodeList(
    "status_perkawinan",
    "Status Perkawinan",
    (
        Code(BELUM_KAWIN, "BELUM KAWIN"),
        Code(KAWIN, "KAWIN"),
        Code(CERAI_HIDUP, "CERAI HIDUP"),
        Code(CERAI_MATI, "CERAI MATI"),
        Code(KAWIN_TERCATAT, "KAWIN TERCATAT"),
        Code(KAWIN_BELUM_TERCATAT, "KAWIN BELUM TERCATAT"),
        Code(CERAI_HIDUP_TERCATAT, "CERAI HIDUP TERCATAT"),
        Code(CERAI_HIDUP_BELUM_TERCATAT, "CERAI HIDUP BELUM TERCATAT"),
    ),
)

STATUS_PERKAWINAN_NEW_ENTRY: frozenset[int] = frozenset(
    {
        BELUM_KAWIN,
        CERAI_MATI,
        KAWIN_TERCATAT,
        KAWIN_BELUM_TERCATAT,
        CERAI_HIDUP_TERCATAT,
        CERAI_HIDUP_BELUM_TERCATAT,
    }
)
"""Values accepted when a status is entered or changed now (the KK values since Permendagri
118/2017). The classic KAWIN and CERAI HIDUP stay valid for data copied unchanged from an old
KK. An office that still enters the classic values may replace this setting (or pass
``accepted=`` to :func:`check_status_perkawinan`)."""

_MARRIED = frozenset({KAWIN, KAWIN_TERCATAT, KAWIN_BELUM_TERCATAT})
# Unrecorded marriage/divorce needs the SPTJM F-1.05 (Permendagri 108/2019 Pasal 10 ayat 2).
_UNRECORDED = frozenset({KAWIN_BELUM_TERCATAT, CERAI_HIDUP_BELUM_TERCATAT})
_LEGACY = {
    KAWIN_TERCATAT: KAWIN,
    KAWIN_BELUM_TERCATAT: KAWIN,
    CERAI_HIDUP_TERCATAT: CERAI_HIDUP,
    CERAI_HIDUP_BELUM_TERCATAT: CERAI_HIDUP,
}
# What replaces a classic value in new entries, for the message.
_SPLIT = {
    KAWIN: (KAWIN_TERCATAT, KAWIN_BELUM_TERCATAT),
    CERAI_HIDUP: (CERAI_HIDUP_TERCATAT, CERAI_HIDUP_BELUM_TERCATAT),
}


def is_married(code: int) -> bool:
    """True for KAWIN, KAWIN TERCATAT and KAWIN BELUM TERCATAT.

    Unknown codes answer False (they are reported by :meth:`CodeList.check`), so cross-field
    rules can ask without checking first.
    """
    return code in STATUS_PERKAWINAN and code in _MARRIED


def was_married(code: int) -> bool:
    """True for every known status except BELUM KAWIN (married now or before)."""
    return code in STATUS_PERKAWINAN and code != BELUM_KAWIN


def is_unrecorded(code: int) -> bool:
    """True when the marriage or divorce is not recorded: the SPTJM F-1.05 is required."""
    return code in STATUS_PERKAWINAN and code in _UNRECORDED


def legacy_code(code: int) -> int:
    """The classic SIAK code 1-4 for ``code`` (for KTP-el and exports to the old scheme).

    Raises :class:`KeyError` for an unknown code.
    """
    STATUS_PERKAWINAN.get(code)
    return _LEGACY.get(code, code)


def check_status_perkawinan(
    code: object,
    *,
    field: str,
    new_entry: bool = True,
    accepted: Iterable[int] | None = None,
) -> list[Issue]:
    """Check a status perkawinan; a new entry must use a value of the current KK.

    ``accepted`` defaults to :data:`STATUS_PERKAWINAN_NEW_ENTRY` (read at call time, so the
    module setting can be changed). ``new_entry=False`` (data copied unchanged from an old KK)
    accepts every known code.
    """
    found = STATUS_PERKAWINAN.check(code, field=field)
    if found or not new_entry or not isinstance(code, int):
        return found
    allowed = frozenset(STATUS_PERKAWINAN_NEW_ENTRY if accepted is None else accepted)
    if code in allowed:
        return []
    choices = [c for c in _SPLIT.get(code, ()) if c in allowed] or sorted(allowed)
    return [
        issue(
            "code.status_perkawinan_legacy",
            field=field,
            label=STATUS_PERKAWINAN.label(code),
            choices=" atau ".join(STATUS_PERKAWINAN.label(c) for c in choices),
            value=code,
        )
    ]


# -- Status hubungan dalam keluarga (SHDK) -------------------------------------------------

SHDK_KEPALA_KELUARGA = 1
SHDK_SUAMI = 2
SHDK_ISTRI = 3
SHDK_ANAK = 4
SHDK_MENANTU = 5
SHDK_CUCU = 6
SHDK_ORANG_TUA = 7
SHDK_MERTUA = 8
SHDK_FAMILI_LAIN = 9
SHDK_PEMBANTU = 10
SHDK_LAINNYA = 11

SHDK = CodeList(
    "shdk",
    "Status Hubungan Dalam Keluarga",
    (
        Code(SHDK_KEPALA_KELUARGA, "KEPALA KELUARGA"),
        Code(SHDK_SUAMI, "SUAMI"),
        Code(SHDK_ISTRI, "ISTRI", ("ISTERI",)),
        Code(SHDK_ANAK, "ANAK"),
        Code(SHDK_MENANTU, "MENANTU"),
        Code(SHDK_CUCU, "CUCU"),
        Code(SHDK_ORANG_TUA, "ORANG TUA"),
        Code(SHDK_MERTUA, "MERTUA"),
        Code(SHDK_FAMILI_LAIN, "FAMILI LAIN", ("FAMILY LAIN",)),
        Code(SHDK_PEMBANTU, "PEMBANTU"),
        Code(SHDK_LAINNYA, "LAINNYA"),
    ),
)

# -- Golongan darah ------------------------------------------------------------------------

# Order per SIAK seeds; a KK prints TIDAK TAHU when the blood type is unknown (uncertain).
GOLDAR_TIDAK_TAHU = 13

GOLONGAN_DARAH = CodeList(
    "golongan_darah",
    "Golongan Darah",
    (
        *_numbered("A", "B", "AB", "O", "A+", "A-", "B+", "B-", "AB+", "AB-", "O+", "O-"),
        Code(GOLDAR_TIDAK_TAHU, "TIDAK TAHU", ("TIDAK DIKETAHUI",)),
    ),
)

# -- Penyandang disabilitas ----------------------------------------------------------------

# SIAK/F-1.01 "penyandang cacat" codes. Having no disability is None in the member model,
# not a code (OpenSID's 7 TIDAK CACAT is deliberately absent). UU 8/2016 speaks of
# "disabilitas"; whether SIAK relabelled these entries is uncertain, so the newer wording is
# accepted as an alias only.
DISABILITAS = CodeList(
    "disabilitas",
    "Penyandang Disabilitas",
    (
        Code(1, "CACAT FISIK", ("DISABILITAS FISIK",)),
        Code(2, "CACAT NETRA/BUTA", ("DISABILITAS NETRA/BUTA", "DISABILITAS NETRA")),
        Code(3, "CACAT RUNGU/WICARA", ("DISABILITAS RUNGU/WICARA",)),
        Code(4, "CACAT MENTAL/JIWA", ("DISABILITAS MENTAL/JIWA", "DISABILITAS MENTAL")),
        Code(5, "CACAT FISIK DAN MENTAL", ("DISABILITAS FISIK DAN MENTAL",)),
        Code(6, "CACAT LAINNYA", ("DISABILITAS LAINNYA",)),
    ),
)

# -- Kewarganegaraan -----------------------------------------------------------------------

WNI = 1
WNA = 2

KEWARGANEGARAAN = CodeList(
    "kewarganegaraan",
    "Kewarganegaraan",
    (
        Code(WNI, "WNI", ("WARGA NEGARA INDONESIA",)),
        Code(WNA, "WNA", ("WARGA NEGARA ASING",)),
    ),
)

# -- Index ---------------------------------------------------------------------------------

CODE_LISTS: Mapping[str, CodeList] = MappingProxyType(
    {
        c.name: c
        for c in (
            JENIS_KELAMIN,
            AGAMA,
            PENDIDIKAN,
            PEKERJAAN,
            STATUS_PERKAWINAN,
            SHDK,
            GOLONGAN_DARAH,
            DISABILITAS,
            KEWARGANEGARAAN,
        )
    }
)
"""Every code list by its machine name."""
