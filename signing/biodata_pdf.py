"""Render the Biodata Penduduk (the F-1.01 elements) of every family member as a PDF.

One A4 portrait page per member: the family's data (KK number, Kepala Keluarga, address),
the member's individual elements and the parents. The verifier and the Kabid read it next to
the DRAF KK in SOP steps 3-4, so it is always a draft: watermarked "DRAF" and unsigned.
Positions, labels and sections come from ``templates/kk/biodata.json``; fonts are the KK's
(``templates/kk/layout.json``), embedded as subsets.
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping
from functools import cache
from importlib import resources
from typing import Any

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfgen.canvas import Canvas

from protocol import codes
from protocol.application import Application, Member
from signing.kk_pdf import _fonts, _label, format_date, header_values

__all__ = ["biodata_layout", "biodata_values", "render_biodata"]


@cache
def biodata_layout() -> Mapping[str, Any]:
    """The Biodata layout from ``templates/kk/biodata.json`` (read once)."""
    text = resources.files("templates").joinpath("kk", "biodata.json").read_text("utf-8")
    return json.loads(text)


def biodata_values(app: Application, member: Member, kk_number: str = "") -> dict[str, str]:
    """Every printed value of ``member``'s biodata (upper case), keyed as in the layout."""
    family = header_values(app)
    return {
        **family,
        "kk_number": kk_number or app.kk_number,
        "nama": member.nama.upper(),
        "nik": member.nik,
        "jenis_kelamin": _label(codes.JENIS_KELAMIN, member.jenis_kelamin),
        "tempat_lahir": member.tempat_lahir.upper(),
        "tanggal_lahir": format_date(member.tanggal_lahir),
        "golongan_darah": _label(codes.GOLONGAN_DARAH, member.golongan_darah),
        "agama": _label(codes.AGAMA, member.agama),
        "status_perkawinan": _label(codes.STATUS_PERKAWINAN, member.status_perkawinan),
        "tanggal_perkawinan": format_date(member.tanggal_perkawinan, ""),
        "shdk": _label(codes.SHDK, member.shdk),
        "disabilitas": _label(codes.DISABILITAS, member.disabilitas) or "TIDAK ADA",
        "pendidikan": _label(codes.PENDIDIKAN, member.pendidikan),
        "pekerjaan": _label(codes.PEKERJAAN, member.pekerjaan),
        "kewarganegaraan": _label(codes.KEWARGANEGARAAN, member.kewarganegaraan),
        "no_paspor": member.no_paspor.upper(),
        "no_kitap": member.no_kitap.upper(),
        "nik_ibu": member.nik_ibu,
        "nama_ibu": member.nama_ibu.upper(),
        "nik_ayah": member.nik_ayah,
        "nama_ayah": member.nama_ayah.upper(),
    }


def render_biodata(app: Application, *, kk_number: str = "") -> bytes:
    """The Biodata Penduduk of every member of ``app``, one page each, as PDF bytes.

    ``kk_number`` defaults to the application's (empty for a new family, printed as "-").
    Raises :class:`signing.kk_pdf.KKRenderError` when the family cannot be printed.
    """
    lay = biodata_layout()
    regular, bold = _fonts()
    page = lay["page"]
    width, height = float(page["width"]), float(page["height"])
    left, right = float(page["margin_left"]), width - float(page["margin_right"])
    top = height - float(page["margin_top"])
    buffer = io.BytesIO()
    c = Canvas(buffer, pagesize=(width, height), invariant=True, initialFontName=regular)
    c.setTitle("Biodata Penduduk (DRAF)")
    c.setAuthor("Dinas Kependudukan dan Pencatatan Sipil Kabupaten Musi Banyuasin")
    c.setCreator("kk-online")
    size, line = float(lay["size"]), float(lay["line_height"])
    value_x = left + float(lay["label_width"])
    for index, member in enumerate(app.members, start=1):
        values = biodata_values(app, member, kk_number)
        c.setFont(bold, 9)
        c.drawRightString(right, top, lay["form_code"])
        title = lay["title"]
        c.setFont(bold, title["size"])
        c.drawCentredString(width / 2, top - 28, title["text"])
        c.setFont(regular, title["subtitle_size"])
        c.drawCentredString(width / 2, top - 42, title["subtitle"])
        y = top - 70
        for section in lay["sections"]:
            c.setFillGray(0.88)
            c.rect(left, y - 4, right - left, line, stroke=0, fill=1)
            c.setFillGray(0)
            c.setFont(bold, lay["section_size"])
            c.drawString(left + 4, y, section["title"])
            y -= line + 2
            for field, label in section["rows"]:
                value = values[field] or lay["empty"]
                c.setFont(regular, size)
                c.drawString(left + 4, y, label)
                c.drawString(value_x - 8, y, ":")
                room = right - value_x
                fitted = min(size, size * room / max(pdfmetrics.stringWidth(value, bold, size), 1))
                c.setFont(bold, fitted)
                c.drawString(value_x, y, value)
                y -= line
            y -= float(lay["section_gap"])
        bottom = float(page["margin_bottom"])
        c.setFont(regular, lay["note_size"])
        c.drawString(left, bottom, lay["note"])
        c.drawRightString(
            right, bottom, lay["page_label"].format(index=index, count=len(app.members))
        )
        mark = lay["watermark"]
        c.saveState()
        c.setFillGray(mark["gray"])
        c.setFillAlpha(mark["alpha"])
        c.setFont(bold, mark["size"])
        c.translate(width / 2, height / 2)
        c.rotate(mark["angle"])
        c.drawCentredString(0, -mark["size"] / 3, mark["text"])
        c.restoreState()
        c.showPage()
    c.save()
    return buffer.getvalue()
