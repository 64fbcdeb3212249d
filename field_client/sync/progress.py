"""Transfer progress for the counter's progress bar: bytes done and to do, rate, time left.

:class:`ProgressMeter` is fed the bytes of each request as it completes; it keeps a rate
smoothed over the last seconds (an exponentially weighted average, so one slow chunk on a
jittery 2G link does not make the estimate jump about) and makes immutable
:class:`TransferProgress` snapshots that the engine publishes on its status.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["TransferProgress", "ProgressMeter"]


@dataclass(frozen=True, slots=True)
class TransferProgress:
    """One moment of a transfer of scans (upload or download)."""

    direction: str
    """``upload`` or ``download``."""
    file_done: int
    """Bytes of the current file transferred (or held by the other side already)."""
    file_total: int
    """Bytes of the current file."""
    done: int
    """Bytes of all files of this round transferred."""
    total: int
    """Bytes of all files of this round."""
    files_left: int
    """Files not finished yet, the current one included."""
    rate_bps: float
    """Bytes per second, smoothed; 0 before the first measurement."""

    @property
    def eta_s(self) -> float | None:
        """Seconds left at the current rate; ``None`` while the rate is unknown."""
        if self.rate_bps <= 0:
            return None
        return max(0, self.total - self.done) / self.rate_bps

    @property
    def fraction(self) -> float:
        """0..1 of the whole round."""
        return 1.0 if self.total <= 0 else min(1.0, self.done / self.total)

    def describe(self) -> str:
        """One Indonesian line: "Mengunggah berkas: 1,2 dari 3,4 MB, 5,1 kB/s, sisa 7 menit"."""
        verb = "Mengunggah" if self.direction == "upload" else "Mengunduh"
        line = f"{verb} berkas: {_mb(self.done)} dari {_mb(self.total)} MB"
        if self.rate_bps > 0:
            line += f", {self.rate_bps / 1000:.1f} kB/s".replace(".", ",")
        eta = self.eta_s
        if eta is not None:
            line += f", sisa {_duration(eta)}"
        return line


def _mb(n: int) -> str:
    return f"{n / 1_000_000:.1f}".replace(".", ",")


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{max(1, round(seconds))} detik"
    if seconds < 90 * 60:
        return f"{round(seconds / 60)} menit"
    return f"{seconds / 3600:.1f} jam".replace(".", ",")


class ProgressMeter:
    """Counts bytes of one round's transfers and measures the rate.

    Args:
        direction: ``upload`` or ``download``.
        total: bytes of every file of the round.
        files: how many files.
        clock: monotonic seconds (injected in tests).
        smoothing: weight of the newest rate sample (0..1).
    """

    def __init__(
        self,
        direction: str,
        *,
        total: int,
        files: int,
        clock: Callable[[], float] = time.monotonic,
        smoothing: float = 0.3,
    ) -> None:
        self.direction = direction
        self.total = total
        self.files_left = files
        self.done = 0
        self.file_done = 0
        self.file_total = 0
        self.rate_bps = 0.0
        self._clock = clock
        self._smoothing = smoothing
        self._mark: float | None = None

    def start_file(self, size: int, *, already: int = 0) -> None:
        """A new file of ``size`` bytes, of which the other side holds ``already``."""
        self.file_total = size
        self.file_done = already
        self.done += already
        self._mark = self._clock()

    def sent(self, n: int) -> None:
        """``n`` more bytes went through (one request finished)."""
        now = self._clock()
        if self._mark is not None and now > self._mark and n > 0:
            sample = n / (now - self._mark)
            if self.rate_bps <= 0:
                self.rate_bps = sample
            else:
                self.rate_bps += self._smoothing * (sample - self.rate_bps)
        self._mark = now
        self.file_done += n
        self.done += n

    def restart(self) -> None:
        """Time the next request from now (after a pause, a retry or a failure)."""
        self._mark = self._clock()

    def finish_file(self) -> None:
        """The current file is done (remaining bytes count as done: held already)."""
        self.done += max(0, self.file_total - self.file_done)
        self.file_done = self.file_total
        self.files_left = max(0, self.files_left - 1)

    def snapshot(self) -> TransferProgress:
        return TransferProgress(
            direction=self.direction,
            file_done=self.file_done,
            file_total=self.file_total,
            done=self.done,
            total=self.total,
            files_left=self.files_left,
            rate_bps=self.rate_bps,
        )
