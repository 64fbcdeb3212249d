"""Recompression keeps documents legible: long side, SSIM, and what it leaves alone."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageFilter

from field_client.recompress import recompress, ssim
from tests.support.scan_samples import document_photo, pdf_scan


def luma(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("L"), dtype=np.float64)


def test_ssim_is_one_for_the_same_image_and_drops_with_damage():
    page = Image.open(io.BytesIO(document_photo(400, 300, seed=3)))
    assert ssim(luma(page), luma(page)) == 1.0
    blurred = page.filter(ImageFilter.GaussianBlur(3))
    assert ssim(luma(page), luma(blurred)) < 0.8
    flat = Image.new("L", page.size, 128)
    assert ssim(luma(page), luma(flat)) < 0.5


def test_a_portrait_photo_keeps_1600_px_on_its_long_side_and_its_orientation():
    photo = document_photo(2400, 3200, seed=4, quality=90)
    result = recompress(photo)
    assert result.changed and result.size == (1200, 1600)
    assert result.ssim is not None and result.ssim >= 0.9
    assert Image.open(io.BytesIO(result.content)).size == (1200, 1600)


def test_the_bar_can_refuse_every_quality_and_the_original_is_kept():
    photo = document_photo(2000, 1500, seed=5, quality=90)
    strict = recompress(photo, min_ssim=0.999)
    assert not strict.changed and strict.content == photo and strict.saved_bytes == 0


def test_pdfs_small_files_and_undecodable_images_are_kept_as_they_are():
    assert recompress(pdf_scan()).content == pdf_scan()
    lines = Image.new("L", (800, 600), 255)
    for y in range(40, 560, 24):
        lines.paste(0, (60, y, 740, y + 8))
    out = io.BytesIO()
    lines.convert("1").save(out, "PNG")
    crisp = out.getvalue()
    assert recompress(crisp).content == crisp  # a clean black-and-white PNG: JPEG is larger
    broken = b"\xff\xd8\xff\xe0" + b"\0" * 100
    assert recompress(broken).content == broken
