"""The requirement tables behind :mod:`protocol.requirements`: documents, items, rules.

Everything here is data. :func:`protocol.requirements.checklist_for` reads it; nothing else
should. Sources:

- Perpres 96/2018 Ps. 11 (KK baru), Ps. 12 (KK karena perubahan data), Ps. 13 (KK hilang/rusak);
- Permendagri 108/2019 Ps. 10 (KK baru: SPTJM, penggantian kepala keluarga, pisah KK) and
  Ps. 15 (perubahan elemen data);
- Permendagri 109/2019, form F-1.02 section III "Persyaratan yang dilampirkan" (document
  labels are copied from that list where the form names the document) and section IV;
- SOP B-470/582/DUKCAPIL/2022 (Disdukcapil Musi Banyuasin, pelayanan online KK): F-1.02
  signed by the applicant, scans of the *original* documents.

Uncertain (not confirmed against the regulation text; see the shared domain.md §5): the *ayat*
numbering inside Perpres 96/2018 Ps. 11 and 13 (WNI vs Orang Asing), the form numbers F-1.05
and F-1.06, and every rule whose ``when`` names a ``policy.`` flag: those are local practice
or readings of the form, and :class:`protocol.requirements.RequirementPolicy` can switch them.

A :class:`Rule` applies when every name in its ``when`` is true. A name is a field of
``ChecklistFacts``, or ``policy.<field>`` of ``RequirementPolicy``; ``not:`` negates it.
Several rules may share a requirement code when they are alternatives under different
conditions (e.g. the marriage proof with or without the SPTJM): at most one of them may
apply, unless they ask for the same documents (then the first one is kept).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from protocol.services import PeristiwaPenting, ServiceType

__all__ = [
    "Document",
    "DOCUMENTS",
    "REQUIREMENT_LABELS",
    "RETURN_REASONS",
    "Rule",
    "HEAD_RULES",
    "SERVICE_RULES",
    "COMMON_RULES",
    "rule_key",
]


@dataclass(frozen=True, slots=True)
class Document:
    """One kind of document an applicant can attach (as a photo or PDF of the original)."""

    code: str
    """Stable snake_case id; the value stored in ``Application.attached_documents``."""
    label: str
    """Indonesian name, as F-1.02 section III prints it where the form lists the document."""
    form: str | None = None
    """Official form number when the document is a form, e.g. ``F-1.05``."""

    @property
    def display(self) -> str:
        """Label with the form number, e.g. ``SPTJM ... Belum Tercatat (F-1.05)``."""
        return f"{self.label} ({self.form})" if self.form else self.label


_DOCUMENT_LIST: tuple[Document, ...] = (
    Document("f102", "Formulir Pendaftaran Peristiwa Kependudukan", "F-1.02"),
    # -- F-1.02 section III, in the form's order ---------------------------------------------
    # The form has one box "KK Lama/KK Rusak"; they are two codes here because they prove
    # different things (the current KK vs. the damaged card that is being replaced).
    Document("kk_lama", "KK Lama"),
    Document("kk_rusak", "KK Rusak"),
    Document("buku_nikah", "Buku Nikah/Kutipan Akta Perkawinan"),
    Document("akta_cerai", "Kutipan Akta Perceraian"),
    Document("surat_pindah", "Surat Keterangan Pindah"),
    Document("surat_pindah_ln", "Surat Keterangan Pindah Luar Negeri"),
    Document("dokumen_perjalanan", "Dokumen Perjalanan"),
    Document("surat_hilang_polisi", "Surat Keterangan Hilang dari Kepolisian"),
    Document(
        "bukti_peristiwa",
        "Surat Keterangan/Bukti Perubahan Peristiwa Kependudukan dan Peristiwa Penting",
    ),
    # F-1.05 per Dukcapil pages (domain.md §1); the number is not confirmed in the regulation.
    Document("sptjm_f105", "SPTJM Perkawinan/Perceraian Belum Tercatat", "F-1.05"),
    Document("akta_kematian", "Akta Kematian"),
    Document(
        "surat_pernyataan_hilang_rusak", "Surat Pernyataan Penyebab Terjadinya Hilang atau Rusak"
    ),
    Document("surat_pindah_perwakilan_ri", "Surat Keterangan Pindah dari Perwakilan RI"),
    Document("surat_kuasa_pengasuhan", "Surat Kuasa Pengasuhan Anak dari Orang Tua/Wali"),
    Document("kitap", "Kartu Izin Tinggal Tetap"),
    # -- F-1.02 section IV "Melampirkan" ----------------------------------------------------
    # F-1.06 per Dukcapil pages; domain.md marks the number uncertain.
    Document("f106", "Formulir Perubahan Data", "F-1.06"),
    Document("bukti_perubahan_data", "Bukti Perubahan Data"),
    # -- Named by Perpres 96/2018 / Permendagri 108/2019 but not on F-1.02 ------------------
    Document("ktp_el", "KTP-el"),
    Document("surat_keterangan_lahir", "Surat Keterangan Kelahiran"),
    Document("akta_kelahiran", "Kutipan Akta Kelahiran"),
    Document("surat_keterangan_kematian", "Surat Keterangan Kematian"),
    Document("surat_pengganti_identitas", "Surat Keterangan Pengganti Tanda Identitas"),
    Document(
        "keppres_kewarganegaraan",
        "Petikan Keputusan Presiden tentang Pewarganegaraan dan Berita Acara Pengucapan "
        "Sumpah/Pernyataan Janji Setia",
    ),
    Document(
        "kepmen_kewarganegaraan",
        "Petikan Keputusan Menteri Hukum tentang Perubahan Status Kewarganegaraan",
    ),
    # Court decisions and the civil-registry deeds that record the later Peristiwa Penting
    # (UU 23/2006 Ps. 47-52): the KK is updated from whichever of them the family holds.
    Document("putusan_pengadilan", "Salinan Putusan/Penetapan Pengadilan"),
    Document(
        "akta_catatan_pinggir",
        "Kutipan Akta Pencatatan Sipil yang Baru atau yang Memuat Catatan Pinggir",
    ),
    # -- Local practice (uncertain): another F-1.02 implementation lists it -----------------
    Document(
        "surat_pernyataan_menerima", "Surat Pernyataan Bersedia Menerima sebagai Anggota Keluarga"
    ),
)

DOCUMENTS: Mapping[str, Document] = MappingProxyType({d.code: d for d in _DOCUMENT_LIST})
"""Every document an applicant can attach, by code, in F-1.02 order."""


REQUIREMENT_LABELS: Mapping[str, str] = MappingProxyType(
    {
        "formulir_f102": "Formulir F-1.02 yang telah diisi dan ditandatangani pemohon",
        "kk_lama": "KK lama",
        "bukti_perkawinan": "Bukti status perkawinan",
        "bukti_perceraian": "Bukti perceraian",
        "sptjm_belum_tercatat": "SPTJM perkawinan/perceraian belum tercatat",
        "bukti_kematian": "Bukti kematian",
        "ktp_el": "KTP-el",
        "bukti_pindah": "Surat keterangan pindah",
        "bukti_pindah_luar_negeri": "Surat keterangan pindah dari luar negeri",
        "dokumen_perjalanan": "Dokumen perjalanan (paspor)",
        "surat_pengganti_identitas": "Surat keterangan pengganti tanda identitas",
        "bukti_kewarganegaraan": "Bukti perolehan kewarganegaraan Indonesia",
        "izin_tinggal_tetap": "Kartu izin tinggal tetap anggota keluarga Orang Asing",
        "kuasa_pengasuhan": "Surat kuasa pengasuhan anak dari orang tua/wali",
        "pernyataan_menerima": "Surat pernyataan bersedia menerima sebagai anggota keluarga",
        "bukti_kelahiran": "Bukti kelahiran",
        "bukti_peristiwa_penting": "Bukti peristiwa penting",
        "formulir_f106": "Formulir perubahan data (F-1.06)",
        "bukti_perubahan_data": "Bukti perubahan data",
        "bukti_kehilangan": "Surat keterangan hilang dari kepolisian",
        "kk_rusak": "KK yang rusak",
        "pernyataan_penyebab": "Surat pernyataan penyebab hilang atau rusak",
    }
)
"""Every requirement code with its general Indonesian label (a checklist may word it more
precisely for the service, e.g. "KK yang ditumpangi"). Codes are stable API: returns cite them."""


RETURN_REASONS: Mapping[str, str] = MappingProxyType(
    {
        # SOP steps 3-5 return a file for the data as well as for missing documents.
        "data_tidak_sesuai": "Data pada draf KK tidak sesuai dengan dokumen persyaratan",
        "dokumen_tidak_terbaca": "Foto/pindaian dokumen tidak terbaca atau terpotong",
        # SOP step 1: "dalam bentuk foto/PDF (scan berkas asli)": a photocopy does not count.
        "dokumen_bukan_asli": "Foto/pindaian bukan dari dokumen asli",
        "dokumen_tidak_berlaku": "Dokumen sudah tidak berlaku atau bukan untuk keperluan ini",
        "dokumen_bukan_milik_anggota": "Dokumen bukan milik anggota keluarga yang bersangkutan",
        "formulir_tidak_lengkap": "Isian formulir belum lengkap atau belum ditandatangani",
    }
)
"""Reasons to return an application that are not a missing document, with Indonesian labels."""


@dataclass(frozen=True, slots=True)
class Rule:
    """One row of a checklist table: a requirement and when it applies."""

    code: str
    """Requirement code, a key of :data:`REQUIREMENT_LABELS`."""
    any_of: tuple[str, ...]
    """Document codes; any one of them satisfies the requirement."""
    basis: str
    """Regulation article (or the local practice) the requirement rests on."""
    when: tuple[str, ...] = ()
    """Names that must all be true: ``fact``, ``policy.flag``, ``not:fact``, ``not:policy.flag``."""
    condition: str | None = None
    """Indonesian: why the requirement applies, shown when it depends on the application."""
    label: str | None = None
    """Indonesian wording for this service; defaults to ``REQUIREMENT_LABELS[code]``."""


def rule_key(sub_type_key: str, peristiwa: PeristiwaPenting | None = None) -> str:
    """Key of :data:`SERVICE_RULES`: the sub-type key, or ``peristiwa_penting/<event>``."""
    if peristiwa is None:
        return sub_type_key
    return f"{sub_type_key}/{peristiwa.value}"


# -- shared wording ----------------------------------------------------------------------------

_PERPRES_11 = "Perpres 96/2018 Ps. 11"
_PERPRES_12A = "Perpres 96/2018 Ps. 12 huruf a"
_PERPRES_12B = "Perpres 96/2018 Ps. 12 huruf b"
_PERPRES_13 = "Perpres 96/2018 Ps. 13"
_SPTJM_BASIS = "Permendagri 108/2019 Ps. 10 ayat (2); Permendagri 109/2019 (F-1.05)"

_C_RECORDED = (
    "Status perkawinan yang dicatat adalah KAWIN TERCATAT, CERAI HIDUP TERCATAT, atau CERAI MATI."
)
_C_UNRECORDED = "Ada anggota berstatus KAWIN BELUM TERCATAT atau CERAI HIDUP BELUM TERCATAT."
_C_WNA = "Ada anggota keluarga berkewarganegaraan asing (Orang Asing)."
_C_NATURALIZED = "Ada anggota yang semula berkewarganegaraan asing dan kini menjadi WNI."
_C_CHILD = "Ada anak yang dimasukkan ke dalam KK tanpa orang tuanya."

_UNKNOWN_STATUS = ("not:recorded_marriage", "not:unrecorded_marriage")

_KK_LAMA_12 = Rule("kk_lama", ("kk_lama",), _PERPRES_12A)

_SPTJM = Rule(
    "sptjm_belum_tercatat",
    ("sptjm_f105",),
    _SPTJM_BASIS,
    when=("unrecorded_marriage",),
    condition=_C_UNRECORDED,
)
"""A status "belum tercatat" on the KK rests on the SPTJM alone (Permendagri 108/2019 Ps. 10
ayat (2); Ditjen Dukcapil petunjuk 472.2/15145): there is no deed to show for it."""


def _marital_proof(
    code: str, recorded: tuple[str, ...], basis: str, *, label: str | None = None
) -> tuple[Rule, ...]:
    """The three cases of a marital-status proof.

    Status unknown (the caller gave neither fact): the deed, or the SPTJM that Permendagri
    108/2019 Ps. 10 ayat (2) lets stand in for it. Recorded status: the deed. Unrecorded
    status: the SPTJM. Both (a family with one of each): both.
    """
    return (
        Rule(
            code,
            (*recorded, "sptjm_f105"),
            f"{basis}; {_SPTJM_BASIS}",
            when=_UNKNOWN_STATUS,
            label=label,
        ),
        Rule(
            code, recorded, basis, when=("recorded_marriage",), condition=_C_RECORDED, label=label
        ),
        _SPTJM,
    )


def _event_proof(label: str, *any_of: str, basis: str = _PERPRES_12B) -> tuple[Rule, ...]:
    """KK lama plus the proof of one Peristiwa Penting (Perpres 96/2018 Ps. 12)."""
    return (_KK_LAMA_12, Rule("bukti_peristiwa_penting", any_of, basis, label=label))


# -- the tables --------------------------------------------------------------------------------

HEAD_RULES: tuple[Rule, ...] = (
    # SOP step 1: "Pemohon mengisi dan menandatangani formulir"; Permendagri 109/2019 F-1.02.
    Rule(
        "formulir_f102",
        ("f102",),
        "Permendagri 109/2019 (F-1.02); SOP B-470/582/DUKCAPIL/2022 langkah 1",
    ),
)
"""Rules every checklist starts with."""

_P = PeristiwaPenting


def _pp(event: PeristiwaPenting) -> str:
    return rule_key("peristiwa_penting", event)


SERVICE_RULES: Mapping[str, tuple[Rule, ...]] = MappingProxyType(
    {
        # ---- A. KK BARU (Perpres 96/2018 Ps. 11) ------------------------------------------
        "membentuk_keluarga_baru": (
            # Ps. 11 does not list it; many Dukcapil ask for the KK the couple leaves, so the
            # operator can take them out of it. Local practice, off by default.
            Rule(
                "kk_lama",
                ("kk_lama",),
                "Praktik setempat",
                when=("policy.kk_lama_for_new_family",),
                label="KK lama (KK asal) pasangan",
            ),
            *_marital_proof(
                "bukti_perkawinan", ("buku_nikah", "akta_cerai"), f"{_PERPRES_11} huruf a"
            ),
        ),
        "penggantian_kepala_keluarga": (
            Rule("kk_lama", ("kk_lama",), "Permendagri 108/2019 Ps. 10 ayat (3)"),
            # Ps. 10 ayat (3) names the akta kematian only (not the surat keterangan kematian
            # accepted for the Peristiwa Penting "kematian").
            Rule(
                "bukti_kematian",
                ("akta_kematian",),
                "Permendagri 108/2019 Ps. 10 ayat (3)",
                label="Akta kematian kepala keluarga",
            ),
        ),
        "pisah_kk": (
            Rule("kk_lama", ("kk_lama",), "Permendagri 108/2019 Ps. 10 ayat (4)"),
            # The KTP-el proves "umur >= 17 tahun atau sudah/pernah kawin"; whether the member
            # meets that is a data rule, not a document rule.
            Rule(
                "ktp_el",
                ("ktp_el",),
                "Permendagri 108/2019 Ps. 10 ayat (4)",
                label="KTP-el anggota keluarga yang pisah KK",
            ),
            # Only a married/divorced member brings a marital-status proof (Disdukcapil Batam
            # reading of Ps. 10 ayat (4) with Perpres Ps. 11 huruf a): no "unknown" case here.
            Rule(
                "bukti_perkawinan",
                ("buku_nikah", "akta_cerai"),
                f"{_PERPRES_11} huruf a",
                when=("recorded_marriage",),
                condition=_C_RECORDED,
            ),
            _SPTJM,
        ),
        "pindah_datang": (
            Rule(
                "bukti_pindah",
                ("surat_pindah",),
                f"{_PERPRES_11} huruf b",
                label="Surat keterangan pindah dari daerah asal",
            ),
        ),
        "wni_dari_ln": (
            # Ps. 11 huruf c names the surat keterangan pindah luar negeri issued by the
            # Disdukcapil; F-1.02 also lists the letter from the Perwakilan RI, which is what a
            # returning family holds before that. Accepting it is a judgement (policy).
            Rule(
                "bukti_pindah_luar_negeri",
                ("surat_pindah_ln",),
                f"{_PERPRES_11} huruf c",
                when=("not:policy.accept_perwakilan_letter_for_ln",),
            ),
            Rule(
                "bukti_pindah_luar_negeri",
                ("surat_pindah_ln", "surat_pindah_perwakilan_ri"),
                f"{_PERPRES_11} huruf c; Permendagri 109/2019 (F-1.02)",
                when=("policy.accept_perwakilan_letter_for_ln",),
            ),
            Rule(
                "dokumen_perjalanan",
                ("dokumen_perjalanan",),
                "Permendagri 109/2019 (F-1.02); praktik setempat",
                when=("policy.travel_document_for_wni_dari_ln",),
            ),
        ),
        "rentan_adminduk": (
            Rule(
                "surat_pengganti_identitas",
                ("surat_pengganti_identitas",),
                f"{_PERPRES_11} huruf d",
            ),
        ),
        # ---- B. PERUBAHAN DATA (Perpres 96/2018 Ps. 12) ------------------------------------
        "menumpang_dalam_kk": (
            Rule("kk_lama", ("kk_lama",), _PERPRES_12A, label="KK yang ditumpangi"),
            # The Peristiwa Kependudukan behind a numpang is a move (pindah datang), also from
            # abroad; SIAK issues a surat pindah even within one desa.
            Rule(
                "bukti_pindah",
                ("surat_pindah", "surat_pindah_ln"),
                f"{_PERPRES_12B} (pindah datang)",
                label="Surat keterangan pindah anggota yang menumpang",
            ),
            Rule(
                "pernyataan_menerima",
                ("surat_pernyataan_menerima",),
                "Praktik setempat",
                when=("policy.require_acceptance_statement",),
            ),
        ),
        "perubahan_elemen_data": (
            _KK_LAMA_12,
            Rule(
                "formulir_f106",
                ("f106",),
                "Permendagri 108/2019 Ps. 15; Permendagri 109/2019 (F-1.02 bagian IV)",
            ),
            Rule(
                "bukti_perubahan_data",
                ("bukti_perubahan_data",),
                f"{_PERPRES_12B}; Permendagri 108/2019 Ps. 15 ayat (4)",
                label="Bukti perubahan data (ijazah, akta, buku nikah, surat keputusan, dsb.)",
            ),
        ),
        # -- B.2 Peristiwa Penting, one table per event ---------------------------------------
        _pp(_P.KELAHIRAN): (
            _KK_LAMA_12,
            Rule(
                "bukti_kelahiran",
                ("surat_keterangan_lahir", "akta_kelahiran"),
                _PERPRES_12B,
            ),
        ),
        _pp(_P.KEMATIAN): (
            _KK_LAMA_12,
            Rule(
                "bukti_kematian",
                ("akta_kematian", "surat_keterangan_kematian"),
                _PERPRES_12B,
            ),
        ),
        _pp(_P.PERKAWINAN): (
            _KK_LAMA_12,
            *_marital_proof(
                "bukti_perkawinan", ("buku_nikah",), _PERPRES_12B, label="Bukti perkawinan"
            ),
        ),
        _pp(_P.PERCERAIAN): (
            _KK_LAMA_12,
            *_marital_proof("bukti_perceraian", ("akta_cerai",), _PERPRES_12B),
        ),
        # The remaining events are recorded by a court decision and/or a civil-registry deed;
        # the form's generic "bukti perubahan Peristiwa Penting" box is accepted too.
        _pp(_P.PEMBATALAN_PERKAWINAN): _event_proof(
            "Bukti pembatalan perkawinan",
            "putusan_pengadilan",
            "akta_catatan_pinggir",
            "bukti_peristiwa",
        ),
        _pp(_P.PEMBATALAN_PERCERAIAN): _event_proof(
            "Bukti pembatalan perceraian",
            "putusan_pengadilan",
            "akta_catatan_pinggir",
            "bukti_peristiwa",
        ),
        _pp(_P.PENGANGKATAN_ANAK): _event_proof(
            "Bukti pengangkatan anak",
            "putusan_pengadilan",
            "akta_catatan_pinggir",
            "bukti_peristiwa",
        ),
        _pp(_P.PENGAKUAN_ANAK): _event_proof(
            "Bukti pengakuan anak", "akta_catatan_pinggir", "bukti_peristiwa"
        ),
        _pp(_P.PENGESAHAN_ANAK): _event_proof(
            "Bukti pengesahan anak", "akta_catatan_pinggir", "bukti_peristiwa"
        ),
        _pp(_P.PERUBAHAN_NAMA): _event_proof(
            "Bukti perubahan nama",
            "putusan_pengadilan",
            "akta_catatan_pinggir",
            "bukti_peristiwa",
        ),
        _pp(_P.PERUBAHAN_KEWARGANEGARAAN): _event_proof(
            "Bukti perubahan kewarganegaraan",
            "keppres_kewarganegaraan",
            "kepmen_kewarganegaraan",
            "bukti_peristiwa",
        ),
        _pp(_P.PEMBETULAN_AKTA): _event_proof(
            "Bukti pembetulan akta", "akta_catatan_pinggir", "bukti_peristiwa"
        ),
        _pp(_P.PEMBATALAN_AKTA): _event_proof(
            "Bukti pembatalan akta", "putusan_pengadilan", "bukti_peristiwa"
        ),
        # ---- C. HILANG / RUSAK (Perpres 96/2018 Ps. 13) ------------------------------------
        "hilang": (
            Rule(
                "bukti_kehilangan",
                ("surat_hilang_polisi",),
                f"{_PERPRES_13} huruf a",
                when=("not:policy.accept_statement_for_lost_kk",),
            ),
            # F-1.02 lists a "surat pernyataan penyebab hilang/rusak"; some Dinas accept it in
            # place of the police letter. Not in Ps. 13: off by default.
            Rule(
                "bukti_kehilangan",
                ("surat_hilang_polisi", "surat_pernyataan_hilang_rusak"),
                f"{_PERPRES_13} huruf a; Permendagri 109/2019 (F-1.02)",
                when=("policy.accept_statement_for_lost_kk",),
            ),
            Rule(
                "ktp_el",
                ("ktp_el",),
                f"{_PERPRES_13} huruf b",
                when=("policy.require_ktp_el_for_hilang_rusak",),
                label="KTP-el kepala keluarga/pemohon",
            ),
            Rule(
                "pernyataan_penyebab",
                ("surat_pernyataan_hilang_rusak",),
                "Permendagri 109/2019 (F-1.02); praktik setempat",
                when=("policy.require_statement_of_cause",),
            ),
        ),
        "rusak": (
            Rule("kk_rusak", ("kk_rusak",), f"{_PERPRES_13} huruf a"),
            Rule(
                "ktp_el",
                ("ktp_el",),
                f"{_PERPRES_13} huruf b",
                when=("policy.require_ktp_el_for_hilang_rusak",),
                label="KTP-el kepala keluarga/pemohon",
            ),
            Rule(
                "pernyataan_penyebab",
                ("surat_pernyataan_hilang_rusak",),
                "Permendagri 109/2019 (F-1.02); praktik setempat",
                when=("policy.require_statement_of_cause",),
            ),
        ),
    }
)
"""Service-specific rules, keyed by :func:`rule_key`."""

_BARU, _UBAH, _HILANG = ServiceType.BARU, ServiceType.PERUBAHAN_DATA, ServiceType.HILANG_RUSAK

COMMON_RULES: tuple[tuple[frozenset[ServiceType], Rule], ...] = (
    (
        frozenset({_BARU}),
        Rule(
            "bukti_kewarganegaraan",
            ("keppres_kewarganegaraan", "kepmen_kewarganegaraan"),
            f"{_PERPRES_11} huruf e",
            when=("naturalized_member",),
            condition=_C_NATURALIZED,
        ),
    ),
    # Perpres 96/2018 Ps. 11 and 13 list the izin tinggal tetap for a Penduduk Orang Asing
    # (ayat uncertain). Ps. 12 does not; the KK still prints the KITAP number (column 15), so
    # the verifier needs it for a data change too: a policy, on by default.
    (
        frozenset({_BARU, _HILANG}),
        Rule(
            "izin_tinggal_tetap",
            ("kitap",),
            f"{_PERPRES_11} dan Ps. 13 (Penduduk Orang Asing)",
            when=("has_wna_member",),
            condition=_C_WNA,
        ),
    ),
    (
        frozenset({_UBAH}),
        Rule(
            "izin_tinggal_tetap",
            ("kitap",),
            "Permendagri 109/2019 (F-1.02); praktik setempat",
            when=("has_wna_member", "policy.kitap_for_data_change"),
            condition=_C_WNA,
        ),
    ),
    # The passport number is KK column 14, but Ps. 11/13 do not list the passport for an Orang
    # Asing: off by default.
    (
        frozenset({_BARU, _UBAH, _HILANG}),
        Rule(
            "dokumen_perjalanan",
            ("dokumen_perjalanan",),
            "Permendagri 109/2019 (F-1.02); praktik setempat",
            when=("has_wna_member", "policy.travel_document_for_wna"),
            condition=_C_WNA,
        ),
    ),
    # F-1.02 lists the custody letter without saying when; a child placed in a KK without a
    # parent is the only case it can serve. A lost/damaged KK adds nobody, so it is out of scope.
    (
        frozenset({_BARU, _UBAH}),
        Rule(
            "kuasa_pengasuhan",
            ("surat_kuasa_pengasuhan",),
            "Permendagri 109/2019 (F-1.02)",
            when=("child_joins_without_parent", "policy.require_custody_letter"),
            condition=_C_CHILD,
        ),
    ),
)
"""Rules that apply across services of the given types, after the service-specific ones."""
