"""The KK and Biodata PDFs: every printed field is in the file, big families span pages,
size bound, the DRAF variant."""

from __future__ import annotations

import io
from datetime import date

import pytest
from pypdf import PdfReader

from protocol.application import Application
from signing.biodata_pdf import biodata_layout, biodata_values, render_biodata
from signing.kk_pdf import KKRenderError, Official, header_values, member_values, render_kk
from tests.factories import application_dict, member_dict

KK_NUMBER = "1606010203040005"
OFFICIAL = Official("Drs. H. Contoh Pejabat, M.Si", "197001011990031001")
URL = "https://kk.example.go.id/v/3f2a9c"
ISSUED = date(2025, 11, 25)


def _render(app: Application, **kw: object) -> bytes:
    args: dict[str, object] = {
        "kk_number": KK_NUMBER,
        "issued_on": ISSUED,
        "official": OFFICIAL,
        "verification_url": URL,
    }
    args.update(kw)
    return render_kk(app, **args)  # type: ignore[arg-type]


def _pages(pdf: bytes) -> list[str]:
    return [p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages]


def _big_family(size: int) -> Application:
    children = [
        member_dict(2, nama=f"ANAK NOMOR {i:02d}", nik=f"16060105012100{i:02d}")
        for i in range(1, size - 1)
    ]
    return Application.from_dict(
        application_dict(members=[member_dict(0), member_dict(1), *children])
    )


def test_every_printed_field_of_every_member_is_in_the_pdf() -> None:
    app = Application.from_dict(application_dict())
    pdf = _render(app)
    (text,) = _pages(pdf)
    for label in ("KARTU KELUARGA", f"No. {KK_NUMBER}", "Dikeluarkan Tanggal : 25-11-2025"):
        assert label in text
    assert "KEPALA DINAS KEPENDUDUKAN DAN PENCATATAN SIPIL" in text
    assert "KABUPATEN MUSI BANYUASIN" in text
    assert "DRS. H. CONTOH PEJABAT, M.SI" in text and "NIP. 197001011990031001" in text
    assert "ditandatangani secara elektronik" in text
    header = header_values(app)
    assert header["desa"] == "KAYU ARA" and header["kecamatan"] == "SEKAYU"
    assert header["kabupaten"] == "MUSI BANYUASIN" and header["provinsi"] == "SUMATERA SELATAN"
    for value in header.values():
        assert value in text
    for i, member in enumerate(app.members, start=1):
        for field, value in member_values(member, i).items():
            if value:
                assert value in text, (field, value)
    assert "14-03-1995" in text and "10-02-2020" in text
    assert "DRAF" not in text


def test_qr_code_links_the_verification_url() -> None:
    pdf = _render(Application.from_dict(application_dict()))
    (page,) = PdfReader(io.BytesIO(pdf)).pages
    uris = [a.get_object()["/A"]["/URI"] for a in page.get("/Annots", [])]
    assert uris == [URL]


def test_a_family_of_25_spans_3_pages_with_the_header_on_each_and_nobody_lost() -> None:
    app = _big_family(25)
    pdf = _render(app)
    pages = _pages(pdf)
    assert len(pages) == 3
    for text in pages:
        assert "KARTU KELUARGA" in text and KK_NUMBER in text
        assert "AHMAD FAUZI" in text and "KAYU ARA" in text and "Kecamatan" in text
        assert "Nama Lengkap" in text and "Status Perkawinan" in text
    everything = "\n".join(pages)
    for member in app.members:
        assert member.nama in everything and member.nik in everything
    assert "Dikeluarkan Tanggal" in pages[-1] and "Dikeluarkan Tanggal" not in pages[0]
    assert "Halaman 3 dari 3" in pages[-1]
    assert len(pdf) <= 150 * 1024


def test_size_and_embedded_fonts() -> None:
    pdf = _render(Application.from_dict(application_dict()))
    assert len(pdf) <= 150 * 1024
    fonts = PdfReader(io.BytesIO(pdf)).pages[0]["/Resources"]["/Font"]
    for ref in fonts.values():
        font = ref.get_object()
        descendant = (
            font["/DescendantFonts"][0].get_object() if "/DescendantFonts" in font else font
        )
        descriptor = descendant["/FontDescriptor"].get_object()
        assert "/FontFile2" in descriptor  # TrueType embedded


def test_rendering_is_deterministic() -> None:
    app = Application.from_dict(application_dict())
    assert _render(app) == _render(app)


def test_draft_is_watermarked_and_has_no_qr() -> None:
    pdf = _render(
        Application.from_dict(application_dict()),
        kk_number="",
        issued_on=None,
        verification_url="",
        draft=True,
    )
    (text,) = _pages(pdf)
    assert "DRAF" in text and "No. -" in text
    assert "/Annots" not in PdfReader(io.BytesIO(pdf)).pages[0]


@pytest.mark.parametrize(
    ("changes", "kw", "code"),
    [
        ({}, {"kk_number": "12345"}, "kk_pdf.kk_number_invalid"),
        ({}, {"verification_url": ""}, "kk_pdf.verification_url_missing"),
        ({"members": [member_dict(2)]}, {}, "kk_pdf.no_head"),
        ({"members": []}, {}, "kk_pdf.no_members"),
    ],
)
def test_unprintable_input_is_refused_with_a_code(
    changes: dict[str, object], kw: dict[str, object], code: str
) -> None:
    with pytest.raises(KKRenderError) as caught:
        _render(Application.from_dict(application_dict(**changes)), **kw)
    assert caught.value.code == code


# -- Biodata Penduduk --------------------------------------------------------------------


def test_biodata_has_one_page_per_member_with_every_f101_element() -> None:
    app = Application.from_dict(application_dict())
    pdf = render_biodata(app, kk_number=KK_NUMBER)
    pages = _pages(pdf)
    assert len(pages) == len(app.members)
    labels = [label for section in biodata_layout()["sections"] for _, label in section["rows"]]
    for member, text in zip(app.members, pages, strict=True):
        assert "BIODATA PENDUDUK" in text and "F-1.01" in text and "DRAF" in text
        for label in labels:
            assert label in text, label
        for field, value in biodata_values(app, member, KK_NUMBER).items():
            if value:
                assert value in text, (field, value)
    child = pages[2]
    assert "1606016108970003" in child and "1606011403950002" in child  # NIK ibu / ayah
    assert "TIDAK ADA" in child  # no disabilitas
    assert len(pdf) <= 150 * 1024


def test_biodata_prints_disabilitas_label() -> None:
    members = [member_dict(0, disabilitas=2), member_dict(1)]
    app = Application.from_dict(application_dict(members=members))
    text = _pages(render_biodata(app))[0]
    assert "CACAT NETRA/BUTA" in text
    assert "Nomor Kartu Keluarga" in text
