"""Document scans for tests and benchmarks: real JPEG/PNG/PDF bytes, seeded.

A photo of a paper document is not flat colour: it has paper grain, sensor noise, uneven
light and lines of print. :func:`document_photo` draws that (so JPEG sizes and the
recompression's savings are realistic), from a seed so every run gets the same bytes.
"""

from __future__ import annotations

import io
import random

from PIL import Image, ImageDraw, ImageFilter

__all__ = ["document_photo", "jpeg_scan", "png_scan", "pdf_scan"]


def document_photo(width: int, height: int, *, seed: int, quality: int = 95) -> bytes:
    """A camera-like JPEG of a printed page: lit unevenly, with grain, text lines, a stamp."""
    rng = random.Random(seed)
    small = (max(8, width // 16), max(8, height // 16))
    light = Image.linear_gradient("L").resize(small).rotate(rng.uniform(0, 360))
    base = Image.merge(
        "RGB",
        [light.point(lambda v, o=o: 150 + v // 3 + o) for o in (rng.randint(0, 20), 10, 0)],
    ).resize((width, height), Image.Resampling.BICUBIC)
    draw = ImageDraw.Draw(base)
    line_h = max(6, height // 60)
    y = height // 10
    while y < height * 9 // 10:
        x = width // 12
        while x < width * 11 // 12:
            word = rng.randint(line_h, line_h * 6)
            shade = rng.randint(10, 70)
            draw.rectangle([x, y, x + word, y + line_h * 2 // 3], fill=(shade, shade, shade + 10))
            x += word + rng.randint(line_h // 2, line_h)
        y += line_h * 2
    cx, cy, r = width * 3 // 4, height * 3 // 4, max(10, width // 12)
    draw.ellipse([cx - r, cy - r, cx + r, cy + r], outline=(40, 60, 160), width=max(2, r // 10))
    noise = _noise(rng, width, height).convert("RGB")
    photo = Image.blend(base, noise, 0.10).filter(ImageFilter.GaussianBlur(0.6))
    out = io.BytesIO()
    photo.save(out, "JPEG", quality=quality)
    return out.getvalue()


def _noise(rng: random.Random, width: int, height: int) -> Image.Image:
    """Grey sensor noise from ``rng`` (PIL's own noise is not seeded)."""
    return Image.frombytes("L", (width, height), rng.randbytes(width * height))


def jpeg_scan(seed: int = 1, size: tuple[int, int] = (640, 480)) -> bytes:
    """A small JPEG of a document (quick tests)."""
    return document_photo(*size, seed=seed, quality=85)


def png_scan(seed: int = 2, size: tuple[int, int] = (200, 150)) -> bytes:
    """A small PNG with noise (incompressible enough to be a real upload)."""
    image = _noise(random.Random(seed), *size).convert("RGB")
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def pdf_scan(text: str = "Buku Nikah") -> bytes:
    """A minimal one-page PDF, as an office scanner's output starts."""
    stream = f"BT /F1 24 Tf 72 720 Td ({text}) Tj ET".encode("latin-1")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream),
    ]
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n%s\nendobj\n" % (number, body))
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(
        b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    )
    return out.getvalue()
