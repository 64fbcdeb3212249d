"""Real-looking applications for tests: a young family in Sekayu, Musi Banyuasin."""

from __future__ import annotations

import copy
from typing import Any

from signing.samples import SAMPLE_APPLICATION

# NIKs of Kecamatan Sekayu (160601); women carry day + 40.
HEAD_NIK = "1606011403950002"  # laki-laki, lahir 14-03-1995
WIFE_NIK = "1606016108970003"  # perempuan, lahir 21-08-1997
CHILD_NIK = "1606010501210001"  # laki-laki, lahir 05-01-2021

# The family `kk-tte sample` signs; the tests build on the same one.
_BASE: dict[str, Any] = SAMPLE_APPLICATION


def application_dict(**changes: Any) -> dict[str, Any]:
    """A deep copy of the sample application with top-level keys replaced."""
    data = copy.deepcopy(_BASE)
    data.update(changes)
    return data


def member_dict(index: int, **changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(_BASE["members"][index])
    data.update(changes)
    return data
