"""Render the Kartu Keluarga (KK) as a PDF: the issued card and its DRAF variant.

The page follows the national blangko (Permendagri 118/2017): A4 landscape, the title and
the 16-digit KK number, the family's address header, table 1 (columns 1-9), table 2
(columns 10-17), the issue date, the Kepala Dinas's block with a QR code of the
verification URL, and the electronic-signature note. Every position, width, text and font
comes from ``templates/kk/layout.json``; this module only draws what the layout says.

Nothing is ever cut: a family with more members than fit on a page
(``rows_per_page``) continues on further pages, each with the title and header repeated;
text too wide for its cell is drawn smaller until it fits. Fonts are TrueType files shipped
in ``templates/fonts`` and embedded (subset) in the PDF, so the file looks the same
everywhere. Output is deterministic for the same input (reportlab's invariant mode), which
keeps signed files reproducible and tests stable.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from functools import cache
from importlib import resources
from typing import Any

import qrcode
from qrcode.constants import ERROR_CORRECT_M
from reportlab.lib.utils import simpleSplit
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

from protocol import codes, wilayah
from protocol.application import Application, Member
from protocol.errors import KKError, define_messages, message_for

__all__ = [
    "Official",
    "KKRenderError",
    "render_kk",
    "layout",
    "format_date",
    "header_values",
    "member_values",
]

define_messages(
    {
        "kk_pdf.kk_number_invalid": 'Nomor KK harus 16 angka, bukan "{value}".',
        "kk_pdf.no_head": "Keluarga harus mempunyai tepat satu Kepala Keluarga untuk dicetak.",
        "kk_pdf.no_members": "Keluarga tanpa anggota tidak dapat dicetak.",
        "kk_pdf.unknown_desa": "Kode desa/kelurahan {code} tidak dikenal.",
        "kk_pdf.verification_url_missing": "KK yang diterbitkan memerlukan URL verifikasi "
        "untuk kode QR.",
    }
)

_KK_NUMBER_RE = re.compile(r"^[0-9]{16}$")


class KKRenderError(KKError):
    """The application cannot be printed as a KK (see ``code`` for which rule)."""

    code = "kk_pdf.no_head"


@dataclass(frozen=True, slots=True)
class Official:
    """The signing official as printed under the QR code.

    ``title`` lines replace the layout's default title block (Kepala Dinas Dukcapil
    Kabupaten Musi Banyuasin) when given, e.g. for a Plt.
    """

    name: str
    nip: str
    title: tuple[str, ...] = ()


# -- layout ------------------------------------------------------------------------------


@cache
def layout() -> Mapping[str, Any]:
    """The KK layout from ``templates/kk/layout.json`` (read once)."""
    text = resources.files("templates").joinpath("kk", "layout.json").read_text("utf-8")
    return json.loads(text)


@cache
def _fonts() -> tuple[str, str]:
    """Register the layout's TrueType fonts with reportlab; return (regular, bold) names."""
    names = []
    for key in ("regular", "bold"):
        spec = layout()["fonts"][key]
        if spec["name"] not in pdfmetrics.getRegisteredFontNames():
            path = resources.files("templates").joinpath(*spec["file"].split("/"))
            with resources.as_file(path) as real:
                pdfmetrics.registerFont(TTFont(spec["name"], str(real)))
        names.append(spec["name"])
    return names[0], names[1]


def format_date(value: date | None, empty: str = "-") -> str:
    """A date as printed on a KK (``dd-mm-yyyy``); ``empty`` when there is none."""
    return value.strftime("%d-%m-%Y") if value is not None else empty


# -- values ------------------------------------------------------------------------------


def _label(code_list: codes.CodeList, code: int | None) -> str:
    """The KK label of ``code``; the bare number when the list does not know it."""
    if code is None:
        return ""
    try:
        return code_list.label(code)
    except KeyError:
        return str(code)


def _region_name(code: str, *, strip: Sequence[str] = ()) -> str:
    found = wilayah.region(code)
    if found is None:
        return ""
    name = found.name.upper()
    for prefix in strip:
        if name.startswith(prefix):
            return name[len(prefix) :]
    return name


def header_values(app: Application) -> dict[str, str]:
    """The header fields of a KK (upper case), keyed as in the layout."""
    head = app.head
    if not app.members:
        raise KKRenderError(message_for("kk_pdf.no_members"), code="kk_pdf.no_members")
    if head is None:
        raise KKRenderError(message_for("kk_pdf.no_head"), code="kk_pdf.no_head")
    desa_code = app.address.desa_code
    if wilayah.region(desa_code) is None:
        raise KKRenderError(
            message_for("kk_pdf.unknown_desa", code=desa_code), code="kk_pdf.unknown_desa"
        )
    return {
        "nama_kepala": head.nama.upper(),
        "alamat": app.address.alamat.upper(),
        "rt_rw": f"{app.address.rt}/{app.address.rw}",
        "desa": _region_name(desa_code),
        "kecamatan": _region_name(desa_code[:6]),
        "kabupaten": _region_name(desa_code[:4], strip=("KABUPATEN ",)),
        "kode_pos": app.address.kode_pos or "-",
        "provinsi": _region_name(desa_code[:2]),
    }


def member_values(member: Member, number: int) -> dict[str, str]:
    """Every printed cell of ``member`` (columns 1-17 and No), keyed by the layout's fields."""
    return {
        "no": str(number),
        "nama": member.nama.upper(),
        "nik": member.nik,
        "jenis_kelamin": _label(codes.JENIS_KELAMIN, member.jenis_kelamin),
        "tempat_lahir": member.tempat_lahir.upper(),
        "tanggal_lahir": format_date(member.tanggal_lahir),
        "agama": _label(codes.AGAMA, member.agama),
        "pendidikan": _label(codes.PENDIDIKAN, member.pendidikan),
        "pekerjaan": _label(codes.PEKERJAAN, member.pekerjaan),
        "golongan_darah": _label(codes.GOLONGAN_DARAH, member.golongan_darah),
        "status_perkawinan": _label(codes.STATUS_PERKAWINAN, member.status_perkawinan),
        "tanggal_perkawinan": format_date(member.tanggal_perkawinan, ""),
        "shdk": _label(codes.SHDK, member.shdk),
        "kewarganegaraan": _label(codes.KEWARGANEGARAAN, member.kewarganegaraan),
        "no_paspor": member.no_paspor.upper(),
        "no_kitap": member.no_kitap.upper(),
        "nama_ayah": member.nama_ayah.upper(),
        "nama_ibu": member.nama_ibu.upper(),
    }


# -- rendering ---------------------------------------------------------------------------


def render_kk(
    app: Application,
    *,
    kk_number: str,
    issued_on: date | None,
    official: Official,
    verification_url: str = "",
    draft: bool = False,
) -> bytes:
    """Render the KK of ``app`` as PDF bytes.

    The issued card (``draft=False``) needs a 16-digit ``kk_number``, the issue date and
    the ``verification_url`` the QR code points at. The DRAF variant (``draft=True``) is
    watermarked "DRAF", has no QR code and accepts an empty KK number or issue date (a new
    family gets its number only at issue). Raises :class:`KKRenderError` when the family
    cannot be printed (no Kepala Keluarga, unknown desa, bad KK number).
    """
    if kk_number or not draft:
        if not _KK_NUMBER_RE.match(kk_number):
            raise KKRenderError(
                message_for("kk_pdf.kk_number_invalid", value=kk_number),
                code="kk_pdf.kk_number_invalid",
            )
    if not draft and (not verification_url or issued_on is None):
        raise KKRenderError(
            message_for("kk_pdf.verification_url_missing"),
            code="kk_pdf.verification_url_missing",
        )
    header = header_values(app)
    rows = [member_values(m, i) for i, m in enumerate(app.members, start=1)]
    per_page = int(layout()["rows_per_page"])
    pages = [rows[i : i + per_page] for i in range(0, len(rows), per_page)]

    buffer = io.BytesIO()
    page = layout()["page"]
    canvas = Canvas(
        buffer,
        pagesize=(page["width"], page["height"]),
        invariant=True,
        initialFontName=_fonts()[0],  # no unembedded Helvetica resource
    )
    canvas.setTitle(f"{'DRAF ' if draft else ''}Kartu Keluarga {kk_number}".strip())
    canvas.setAuthor("Dinas Kependudukan dan Pencatatan Sipil Kabupaten Musi Banyuasin")
    canvas.setCreator("kk-online")
    drawer = _PageDrawer(canvas)
    for index, page_rows in enumerate(pages, start=1):
        drawer.title(kk_number)
        drawer.header(header)
        y = drawer.table(layout()["table1"], page_rows, drawer.header_bottom())
        y = drawer.table(layout()["table2"], page_rows, y + layout()["table"]["gap"])
        last = index == len(pages)
        if last:
            drawer.footer(y, issued_on, official, verification_url, draft)
        drawer.page_label(index, len(pages), last=last, draft=draft)
        if draft:
            drawer.watermark()  # last, translucent: over the data, hard to crop away
        canvas.showPage()
    canvas.save()
    return buffer.getvalue()


class _PageDrawer:
    """Draws the parts of one KK page; ``y`` is measured downward from the top margin."""

    def __init__(self, canvas: Canvas) -> None:
        self.c = canvas
        self.lay = layout()
        self.regular, self.bold = _fonts()
        page = self.lay["page"]
        self.left = float(page["margin_left"])
        self.top = float(page["height"]) - float(page["margin_top"])
        self.width = float(page["width"]) - self.left - float(page["margin_right"])

    # helpers

    def _y(self, y: float) -> float:
        return self.top - y

    def _fit(self, text: str, font: str, size: float, width: float) -> float:
        """The largest size <= ``size`` at which ``text`` fits ``width``.

        Text is shrunk, never cut: the validation rules (60-character names) keep real
        data legible at the layout's widths.
        """
        wide = pdfmetrics.stringWidth(text, font, size)
        return size if wide <= width else size * width / wide

    def _text(
        self,
        x: float,
        y: float,
        text: str,
        *,
        font: str,
        size: float,
        align: str = "left",
        width: float = 0.0,
    ) -> None:
        self.c.setFont(font, size)
        draw: Callable[[float, float, str], None]
        if align == "center":
            draw, x = self.c.drawCentredString, x + width / 2
        elif align == "right":
            draw, x = self.c.drawRightString, x + width
        else:
            draw = self.c.drawString
        draw(self.left + x, self._y(y), text)

    # parts

    def watermark(self) -> None:
        spec = self.lay["watermark"]
        page = self.lay["page"]
        self.c.saveState()
        self.c.setFillGray(spec["gray"])
        self.c.setFillAlpha(spec["alpha"])
        self.c.setFont(self.bold, spec["size"])
        self.c.translate(page["width"] / 2, page["height"] / 2)
        self.c.rotate(spec["angle"])
        self.c.drawCentredString(0, -spec["size"] / 3, spec["text"])
        self.c.restoreState()

    def title(self, kk_number: str) -> None:
        spec = self.lay["title"]
        self._text(
            0,
            spec["size"],
            spec["text"],
            font=self.bold,
            size=spec["size"],
            align="center",
            width=self.width,
        )
        number = kk_number or spec["number_missing"]
        self._text(
            0,
            spec["size"] + spec["gap"],
            spec["number_prefix"] + number,
            font=self.bold,
            size=spec["number_size"],
            align="center",
            width=self.width,
        )

    def header(self, values: Mapping[str, str]) -> None:
        spec = self.lay["header"]
        size, label_w = spec["size"], spec["label_width"]
        right_edge = {"left": spec["right_x"] - 8, "right": self.width}
        for side, x in (("left", spec["left_x"]), ("right", spec["right_x"])):
            for i, (key, label) in enumerate(spec[side]):
                y = spec["top"] + i * spec["line_height"]
                self._text(x, y, label, font=self.regular, size=size)
                self._text(x + label_w - 8, y, ":", font=self.regular, size=size)
                value = values[key]
                room = right_edge[side] - x - label_w
                fitted = self._fit(value, self.bold, size, room)
                self._text(x + label_w, y, value, font=self.bold, size=fitted)

    def header_bottom(self) -> float:
        spec = self.lay["header"]
        lines = max(len(spec["left"]), len(spec["right"]))
        return spec["top"] + (lines - 1) * spec["line_height"] + self.lay["table"]["gap"]

    def table(
        self, columns: Sequence[Mapping[str, Any]], rows: Sequence[Mapping[str, str]], y: float
    ) -> float:
        """Draw one table at ``y`` (its top); return the y of its bottom edge."""
        spec = self.lay["table"]
        scale = self.width / sum(float(col["width"]) for col in columns)
        widths = [float(col["width"]) * scale for col in columns]
        xs = [sum(widths[:i]) for i in range(len(widths) + 1)]
        pad, title_h, row_h = spec["padding"], spec["title_height"], spec["row_height"]
        height = title_h + row_h * self.lay["rows_per_page"]
        c = self.c
        c.saveState()
        c.setFillColorRGB(*spec["header_fill"])
        c.rect(self.left, self._y(y + title_h), self.width, title_h, stroke=0, fill=1)
        c.restoreState()
        c.setLineWidth(spec["line_width"])
        c.rect(self.left, self._y(y + height), self.width, height)
        for x in xs[1:-1]:
            c.line(self.left + x, self._y(y), self.left + x, self._y(y + height))
        c.line(self.left, self._y(y + title_h), self.left + self.width, self._y(y + title_h))
        c.setLineWidth(spec["line_width"] / 3)
        for i in range(1, self.lay["rows_per_page"]):
            ry = self._y(y + title_h + i * row_h)
            c.line(self.left, ry, self.left + self.width, ry)
        tsize = spec["title_size"]
        for col, x, w in zip(columns, xs, widths, strict=False):
            title_lines = simpleSplit(col["title"], self.bold, tsize, w - 2 * pad)
            title_lines += [col["number"]] if col["number"] else []
            top = y + (title_h - len(title_lines) * (tsize + 1.5)) / 2 + tsize
            for j, line in enumerate(title_lines):
                fitted = self._fit(line, self.bold, tsize, w - 2 * pad)
                self._text(
                    x + pad,
                    top + j * (tsize + 1.5),
                    line,
                    font=self.bold,
                    size=fitted,
                    align="center",
                    width=w - 2 * pad,
                )
        size = spec["cell_size"]
        for r, row in enumerate(rows):
            base = y + title_h + r * row_h + row_h / 2 + size / 2.8
            for col, x, w in zip(columns, xs, widths, strict=False):
                value = row[col["field"]] or spec["empty"]
                fitted = self._fit(value, self.regular, size, w - 2 * pad)
                self._text(
                    x + pad,
                    base,
                    value,
                    font=self.regular,
                    size=fitted,
                    align=col.get("align", "left"),
                    width=w - 2 * pad,
                )
        return y + height

    def footer(
        self,
        y: float,
        issued_on: date | None,
        official: Official,
        url: str,
        draft: bool,
    ) -> None:
        spec = self.lay["footer"]
        size = spec["size"]
        y += spec["gap"] + size
        x, w = spec["signature_x"], spec["signature_width"]
        self._text(
            x,
            y,
            spec["issued_label"] + format_date(issued_on),
            font=self.regular,
            size=size,
            align="center",
            width=w,
        )
        y += size * 1.8
        for line in official.title or tuple(spec["signature_title"]):
            self._text(x, y, line, font=self.bold, size=size, align="center", width=w)
            y += size * 1.3
        qr = spec["qr_size"]
        if not draft:
            self._qr(url, self.left + x + (w - qr) / 2, self._y(y + spec["qr_gap"] + qr), qr)
        y += spec["qr_gap"] * 2 + qr + size
        self._text(x, y, official.name.upper(), font=self.bold, size=size, align="center", width=w)
        y += size * 1.3
        self._text(
            x,
            y,
            spec["nip_prefix"] + official.nip,
            font=self.regular,
            size=size,
            align="center",
            width=w,
        )
        note = spec["draft_note"] if draft else spec["note"]
        self._text(0, self._bottom_y(), note, font=self.regular, size=spec["note_size"])

    def _bottom_y(self) -> float:
        page = self.lay["page"]
        return float(page["height"]) - page["margin_top"] - page["margin_bottom"]

    def page_label(self, index: int, pages: int, *, last: bool, draft: bool) -> None:
        spec = self.lay["footer"]
        text = spec["page_label"].format(page=index, pages=pages)
        if not last:
            text = f"{spec['continued']} - {text}"
        self._text(
            0,
            self._bottom_y(),
            text,
            font=self.regular,
            size=spec["note_size"],
            align="right",
            width=self.width,
        )

    def _qr(self, url: str, x: float, y: float, size: float) -> None:
        """A QR code of ``url`` drawn as vector squares in the box at (x, y) bottom-left.

        The box is also a link annotation to ``url``, so a PDF reader can follow it.
        """
        qr = qrcode.QRCode(error_correction=ERROR_CORRECT_M, border=0)
        qr.add_data(url)
        qr.make(fit=True)
        matrix = qr.get_matrix()
        cell = size / len(matrix)
        path = self.c.beginPath()
        for r, line in enumerate(matrix):
            c = 0
            while c < len(line):
                if line[c]:
                    start = c
                    while c < len(line) and line[c]:
                        c += 1
                    path.rect(x + start * cell, y + size - (r + 1) * cell, (c - start) * cell, cell)
                else:
                    c += 1
        self.c.setFillGray(0)
        self.c.drawPath(path, stroke=0, fill=1)
        self.c.linkURL(url, (x, y, x + size, y + size), relative=0, thickness=0)
