"""Canonical JSON bytes: the one byte form that is hashed and signed.

JSON with sorted keys, no insignificant whitespace, UTF-8, no NaN/Infinity (RFC 8785 is the
reference). Our payloads carry only objects, arrays, strings, integers, booleans and null:
floats are refused, because their text form differs between JSON libraries and one
differing digit breaks a signature. Integers must fit in 53 bits for the same reason (RFC
8785 and JavaScript clients read numbers as IEEE doubles).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from protocol.errors import ValidationError, define_messages

__all__ = ["canonical_json", "sha256_hex", "check_canonical_value", "MAX_SAFE_INTEGER"]

MAX_SAFE_INTEGER = 2**53 - 1
_MAX_DEPTH = 32

define_messages(
    {
        "canonical.unsupported_value": "Data pada {path} tidak dapat ditandatangani: "
        "hanya objek, daftar, teks, bilangan bulat, benar/salah dan kosong yang diizinkan.",
        "canonical.integer_out_of_range": "Bilangan pada {path} terlalu besar.",
        "canonical.too_deep": "Data terlalu bertingkat (lebih dari {max} tingkat).",
    }
)


def check_canonical_value(value: Any, path: str = "$", depth: int = 0) -> None:
    """Raise :class:`ValidationError` unless ``value`` has exactly one canonical form."""
    # The fast walk builds no path strings: every event body passes through here on the
    # server's hot path. Only when it finds a problem does the slow walk name the place.
    if not _is_canonical(value, depth):
        _locate_problem(value, path, depth)


def _is_canonical(value: Any, depth: int) -> bool:
    if depth > _MAX_DEPTH:
        return False
    kind = type(value)
    if value is None or kind is bool:
        return True
    if kind is str:
        return _is_utf8_encodable(value)
    if kind is int:
        return -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER
    if kind is dict:
        return all(
            type(k) is str and k.isascii() and _is_canonical(v, depth + 1) for k, v in value.items()
        )
    if kind is list or kind is tuple:
        return all(_is_canonical(v, depth + 1) for v in value)
    return False


def _locate_problem(value: Any, path: str, depth: int) -> None:
    if depth > _MAX_DEPTH:
        raise ValidationError.single("canonical.too_deep", max=_MAX_DEPTH)
    if value is None or isinstance(value, bool):
        return
    if isinstance(value, str):
        if not _is_utf8_encodable(value):  # lone surrogates have no UTF-8 form
            raise ValidationError.single("canonical.unsupported_value", path=path)
        return
    if isinstance(value, int):
        if abs(value) > MAX_SAFE_INTEGER:
            raise ValidationError.single("canonical.integer_out_of_range", path=path)
        return
    if isinstance(value, dict):
        for key, item in value.items():
            # ASCII keys sort the same by code point (Python) and by UTF-16 unit (RFC 8785).
            if not (isinstance(key, str) and key.isascii()):
                raise ValidationError.single("canonical.unsupported_value", path=path)
            _locate_problem(item, f"{path}.{key}", depth + 1)
        return
    if isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _locate_problem(item, f"{path}[{index}]", depth + 1)
        return
    raise ValidationError.single("canonical.unsupported_value", path=path)


def canonical_json(value: Any, *, checked: bool = False) -> bytes:
    """Canonical UTF-8 bytes of ``value``; raises :class:`ValidationError` on unsupported data.

    ``checked=True`` skips the value check for data already known to be canonical (a part of
    an event whose signed bytes were computed): the check costs as much as the encoding.
    """
    if not checked:
        check_canonical_value(value)
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def sha256_hex(data: bytes) -> str:
    """Lower-case hex SHA-256, the hash form used throughout the protocol."""
    return hashlib.sha256(data).hexdigest()


def _is_utf8_encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
