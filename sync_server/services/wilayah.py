"""Which kecamatan the server serves: those of Kabupaten Musi Banyuasin."""

from __future__ import annotations

from protocol.wilayah import muba_kecamatan, undotted
from sync_server.errors import Refusal

__all__ = ["muba_kecamatan_code", "kecamatan_name"]


def muba_kecamatan_code(text: str) -> str:
    """The undotted code of a Musi Banyuasin kecamatan (``160601`` or ``16.06.01``).

    Raises :class:`Refusal` ``kecamatan.not_muba`` for anything else.
    """
    try:
        code = undotted(text)
    except ValueError:
        code = ""
    if code not in {r.code for r in muba_kecamatan()}:
        raise Refusal("kecamatan.not_muba", value=text)
    return code


def kecamatan_name(code: str | None) -> str:
    """The kecamatan's name, or ``-`` when there is none."""
    for region in muba_kecamatan():
        if region.code == code:
            return region.name
    return "-"
