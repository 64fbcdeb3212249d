"""Camera photos of documents made document-sized before they are encrypted and sent.

A 12 MP phone photo of a KK is 3-5 MB; on a 64 kbit/s link that is ten minutes. Scaled so
its long side is 1600 px and re-encoded as JPEG it is a few hundred KB and still legible.
The legibility bar (issue #5): the long side stays at least 1600 px (smaller photos keep
their size), and the structural similarity (SSIM, Wang et al. 2004) of the result against
the original scaled to the same size is at least 0.9. Qualities are tried from the smallest
up; the first that passes the bar wins. A result that fails the bar at every quality, or is
not smaller, is discarded and the file kept as it was. PDFs are always kept as they are
(an office scanner's PDF is already document-sized, and re-rendering it could lose text).

SSIM here: luma only, 7x7 uniform windows (the common variant, as in scikit-image's
default), constants C1 = (0.01 L)^2 and C2 = (0.03 L)^2 with L = 255, mean over the image.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from protocol.scans import sniff_media_type

__all__ = ["LONG_SIDE", "MIN_SSIM", "Recompressed", "recompress", "ssim"]

LONG_SIDE = 1600
"""Pixels of the long side kept: enough to read an NIK in 8-point type on an A4 scan."""
MIN_SSIM = 0.9
QUALITIES = (55, 70, 85, 92)
"""JPEG qualities tried, smallest file first."""
_WINDOW = 7


@dataclass(frozen=True, slots=True)
class Recompressed:
    """What recompression did to one file."""

    content: bytes
    """The bytes to store and send (the original when unchanged)."""
    original_bytes: int
    changed: bool
    ssim: float | None = None
    """Similarity of the result to the original at the same size (``None``: unchanged)."""
    size: tuple[int, int] | None = None
    """Pixel size of the result (``None``: unchanged or not an image)."""

    @property
    def saved_bytes(self) -> int:
        return self.original_bytes - len(self.content)


def recompress(
    content: bytes,
    *,
    long_side: int = LONG_SIDE,
    min_ssim: float = MIN_SSIM,
    qualities: tuple[int, ...] = QUALITIES,
) -> Recompressed:
    """A smaller JPEG of a photo that stays legible, or ``content`` unchanged (see above)."""
    unchanged = Recompressed(content, len(content), changed=False)
    if sniff_media_type(content[:16]) not in ("image/jpeg", "image/png"):
        return unchanged
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = ImageOps.exif_transpose(Image.open(io.BytesIO(content)))
            image.load()
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError,
            Image.DecompressionBombWarning):  # fmt: skip
        return unchanged  # not decodable here: the server checks the type, not the pixels
    rgb = _flatten(image)
    scale = min(1.0, long_side / max(rgb.size))
    target = (max(1, round(rgb.width * scale)), max(1, round(rgb.height * scale)))
    resized = rgb.resize(target, Image.Resampling.LANCZOS) if scale < 1 else rgb
    reference = _luma(resized)
    for quality in qualities:
        out = io.BytesIO()
        resized.save(out, "JPEG", quality=quality, optimize=True, progressive=True)
        data = out.getvalue()
        if len(data) >= len(content):
            return unchanged
        similarity = ssim(_luma(Image.open(io.BytesIO(data))), reference)
        if similarity >= min_ssim:
            return Recompressed(data, len(content), True, similarity, resized.size)
    return unchanged


def _flatten(image: Image.Image) -> Image.Image:
    """RGB on white: transparency of a PNG becomes paper, not black."""
    if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        paper = Image.new("RGB", rgba.size, "white")
        paper.paste(rgba, mask=rgba.getchannel("A"))
        return paper
    return image.convert("RGB")


def _luma(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("L"), dtype=np.float64)


def _window_mean(a: np.ndarray) -> np.ndarray:
    """Mean over every 7x7 window (valid positions only), by an integral image."""
    s = np.pad(a, ((1, 0), (1, 0))).cumsum(0).cumsum(1)
    w = _WINDOW
    total = s[w:, w:] - s[:-w, w:] - s[w:, :-w] + s[:-w, :-w]
    return total / (w * w)


def ssim(x: np.ndarray, y: np.ndarray) -> float:
    """Mean structural similarity of two greyscale images of the same shape (0..1)."""
    if x.shape != y.shape:
        raise ValueError("images differ in size")
    if min(x.shape) < _WINDOW:
        return 1.0 if np.array_equal(x, y) else 0.0
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    mx, my = _window_mean(x), _window_mean(y)
    vx = _window_mean(x * x) - mx * mx
    vy = _window_mean(y * y) - my * my
    cov = _window_mean(x * y) - mx * my
    n = _WINDOW * _WINDOW
    vx, vy, cov = vx * n / (n - 1), vy * n / (n - 1), cov * n / (n - 1)  # sample variances
    num = (2 * mx * my + c1) * (2 * cov + c2)
    den = (mx * mx + my * my + c1) * (vx + vy + c2)
    return float(np.mean(num / den))
