"""Making a file's new name survive a power cut (kecamatan offices lose power often).

``fsync`` on a file makes its bytes durable; its name in the directory is only durable once
the directory itself is fsynced. Keys (:mod:`signing.keys`) and scan blobs on both sides
use this after creating or renaming a file.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["fsync_dir"]


def fsync_dir(directory: Path) -> None:
    """fsync ``directory`` so the names created or renamed in it are on disk."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
