"""Piece sizes that follow the link, and the progress the status bar shows."""

from __future__ import annotations

from field_client.sync.progress import ProgressMeter
from field_client.sync.uploads import ChunkSizer


def test_pieces_grow_towards_the_target_time_and_halve_after_a_cut():
    sizer = ChunkSizer(minimum=16_384, maximum=1_048_576, target_s=8.0)
    assert sizer.size == 65_536
    sizer.succeeded(rate_bps=8_000)  # 64 kbit/s: 8 s is 64 KB
    assert sizer.size == 64_000
    for _ in range(10):
        sizer.succeeded(rate_bps=48_000)  # 384 kbit/s: 384 KB, reached by doubling
    assert sizer.size == 384_000
    sizer.failed()
    assert sizer.size == 192_000
    sizer.succeeded(rate_bps=48_000)  # after a cut: one minimum piece more, not double
    assert sizer.size == 192_000 + 16_384
    for _ in range(10):
        sizer.failed()
    assert sizer.size == 16_384
    for _ in range(100):
        sizer.succeeded(rate_bps=10_000_000)
    assert sizer.size == 1_048_576


class FakeClock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_progress_counts_bytes_and_estimates_the_time_left():
    clock = FakeClock()
    meter = ProgressMeter("upload", total=100_000, files=2, clock=clock)
    meter.start_file(60_000, already=20_000)  # resumed: the server held 20 KB
    assert meter.snapshot().eta_s is None
    clock.t += 2
    meter.sent(20_000)  # 10 KB/s
    snap = meter.snapshot()
    assert (snap.done, snap.file_done, snap.rate_bps) == (40_000, 40_000, 10_000)
    assert snap.eta_s == 6.0 and snap.fraction == 0.4
    clock.t += 1
    meter.sent(20_000)  # 20 KB/s: smoothed, not jumping
    assert 10_000 < meter.rate_bps < 20_000
    meter.finish_file()
    meter.start_file(40_000)
    meter.finish_file()
    done = meter.snapshot()
    assert (done.done, done.files_left, done.fraction) == (100_000, 0, 1.0)
    assert done.describe().startswith("Mengunggah berkas: 0,1 dari 0,1 MB")
