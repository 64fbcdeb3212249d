"""TTE benchmark: how many KKs per second are rendered and signed (PAdES B-LT) when the
Kepala Dinas signs a queue, using both cores.

Run from the repository root (details and measured figures: benchmarks/README.md)::

    .venv/bin/python benchmarks/tte.py            # 400 KKs per phase (default)
    .venv/bin/python benchmarks/tte.py --quick    # a few seconds, for the test suite

Set-up, not timed: a demo PKI in a temporary directory (``create_demo_pki``), and a queue of
distinct applications (the demo family of ``signing.samples`` with a different KK number,
names and size, 3-6 members, per KK).

Timed, each phase the same queue: every KK is rendered (:func:`signing.kk_pdf.render_kk`)
and signed (:func:`signing.tte.sign_batch`, one event loop per chunk), the signed bytes
returned to the caller.

* single process, B-LT: the baseline; the signer is loaded once before the clock starts;
* 2 worker processes (``--workers``), B-LT: a process pool whose workers each open the
  PKCS#12 once (pool initializer, warmed up before the clock starts) and take chunks of the
  queue;
* 2 worker processes, B-B: the same without timestamp and validation data, to show what
  B-LT costs.

Printed: KK/s per phase, the ratio of the pool to the single process, average signed size,
and whether the target (>= 20 KK/s at B-LT with both cores) is met. Exit 1 if a signed KK
of the run does not verify (one of each phase is checked with :func:`signing.tte.verify_kk`).
"""

from __future__ import annotations

import argparse
import copy
import logging
import os
import platform
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from protocol.application import Application
from signing.demo_pki import FILES, create_demo_pki
from signing.kk_pdf import Official, render_kk
from signing.samples import SAMPLE_APPLICATION
from signing.tte import KKSigner, load_demo_signer, sign_batch, verify_kk

TARGET = 20.0
PASSPHRASE = "benchmark-tte-123"
OFFICIAL = Official("Drs. H. Contoh Pejabat, M.Si. (DEMO)", "197001011990031001")
EXTRA_NAMES = ["SITI NURHALIZA", "BUDI SANTOSO", "DEWI LESTARI"]


@dataclass(frozen=True, slots=True)
class Job:
    """One KK of the queue: the application (as a dict) and its KK number."""

    application: dict[str, Any]
    kk_number: str


def make_queue(count: int) -> list[Job]:
    """``count`` distinct KKs: the demo family, 3-6 members, a KK number each."""
    jobs = []
    base_members = SAMPLE_APPLICATION["members"]
    child = base_members[-1]
    for i in range(count):
        app = copy.deepcopy(SAMPLE_APPLICATION)
        extra = i % 4
        for k in range(extra):
            member = copy.deepcopy(child)
            member["nama"] = EXTRA_NAMES[k % len(EXTRA_NAMES)]
            member["nik"] = f"16060105{(k + 2):02d}21{(i % 9000) + 1000:04d}"[:16]
            app["members"].append(member)
        jobs.append(Job(app, f"160601251125{(i % 10000):04d}"))
    return jobs


def render(job: Job) -> bytes:
    return render_kk(
        Application.from_dict(job.application),
        kk_number=job.kk_number,
        issued_on=date(2025, 11, 25),
        official=OFFICIAL,
        verification_url=f"https://kk.mubakab.go.id/verifikasi/{job.kk_number}",
    )


def render_and_sign(jobs: Sequence[Job], signer: KKSigner, level: str) -> list[bytes]:
    return sign_batch((render(job) for job in jobs), signer, level=level)


# -- worker processes: each loads the signer once ----------------------------------------

_worker_signer: KKSigner | None = None


def _init_worker(pki_dir: str, passphrase: str) -> None:
    global _worker_signer
    logging.getLogger("pyhanko").setLevel(logging.ERROR)
    _worker_signer = load_demo_signer(Path(pki_dir), passphrase)


def _work(jobs: list[Job], level: str) -> list[bytes]:
    assert _worker_signer is not None, "worker not initialised"
    return render_and_sign(jobs, _worker_signer, level)


def _warm(_: int) -> int:
    return os.getpid()


# -- phases -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Phase:
    label: str
    count: int
    seconds: float
    cpu: float
    sample: bytes
    average_size: float

    @property
    def rate(self) -> float:
        return self.count / self.seconds


def run_single(queue: list[Job], signer: KKSigner, level: str) -> Phase:
    render_and_sign(queue[:2], signer, level)  # warm-up (imports, font subsets, caches)
    cpu = time.process_time()
    began = time.perf_counter()
    signed = render_and_sign(queue, signer, level)
    seconds = time.perf_counter() - began
    cpu = time.process_time() - cpu
    return Phase(f"1 process,   {level}", len(signed), seconds, cpu, signed[0], _avg(signed))


def run_pool(queue: list[Job], pki_dir: Path, workers: int, level: str, chunk: int) -> Phase:
    with ProcessPoolExecutor(
        max_workers=workers, initializer=_init_worker, initargs=(str(pki_dir), PASSPHRASE)
    ) as pool:
        # start every worker (and its signer) before the clock: one tiny job each
        list(pool.map(_work, [queue[:1]] * workers, [level] * workers))
        chunks = [queue[i : i + chunk] for i in range(0, len(queue), chunk)]
        began = time.perf_counter()
        signed = [pdf for part in pool.map(_work, chunks, [level] * len(chunks)) for pdf in part]
        seconds = time.perf_counter() - began
    return Phase(
        f"{workers} processes, {level}", len(signed), seconds, 0.0, signed[0], _avg(signed)
    )


def _avg(signed: Sequence[bytes]) -> float:
    return sum(len(s) for s in signed) / len(signed)


def _describe(phase: Phase) -> str:
    return (
        f"{phase.count:,} KK in {phase.seconds:.2f} s = {phase.rate:.1f} KK/s "
        f"({1000 * phase.seconds / phase.count:.1f} ms per KK; signed KK "
        f"{phase.average_size / 1024:.0f} KiB on average)"
    )


def run(count: int, workers: int, chunk: int) -> int:
    logging.getLogger("pyhanko").setLevel(logging.ERROR)
    print(f"TTE benchmark {datetime.now().astimezone():%Y-%m-%d %H:%M %Z}")
    print(
        f"  machine: {os.cpu_count()} CPU, load average {os.getloadavg()[0]:.2f}; "
        f"Python {platform.python_version()}, {platform.system()} {platform.release()}"
    )
    problems = []
    with tempfile.TemporaryDirectory(prefix="kk-tte-bench-") as scratch:
        pki_dir = Path(scratch) / "pki"
        began = time.perf_counter()
        create_demo_pki(pki_dir, PASSPHRASE)
        signer = load_demo_signer(pki_dir, PASSPHRASE)
        queue = make_queue(count)
        print(
            f"  workload: {count:,} KK per phase, 3-6 members each; render + sign; pool of "
            f"{workers} workers, chunks of {chunk}; set-up {time.perf_counter() - began:.1f} s"
        )
        single = run_single(queue, signer, "B-LT")
        print(f"  1 process,   B-LT: {_describe(single)}")
        pool_lt = run_pool(queue, pki_dir, workers, "B-LT", chunk)
        print(f"  {workers} processes, B-LT: {_describe(pool_lt)}")
        pool_bb = run_pool(queue, pki_dir, workers, "B-B", chunk)
        print(f"  {workers} processes, B-B : {_describe(pool_bb)}")
        root = [pki_dir / FILES["root_cert"]]
        for phase in (single, pool_lt):
            verdict = verify_kk(phase.sample, root)
            if not verdict.valid:
                problems.append(f"{phase.label}: signed KK does not verify: {verdict.code}")
    print(f"  ratio {workers} processes / 1 process (B-LT): {pool_lt.rate / single.rate:.2f}")
    print(f"  ratio B-B / B-LT ({workers} processes): {pool_bb.rate / pool_lt.rate:.2f}")
    met = "met" if pool_lt.rate >= TARGET else "NOT met"
    print(f"  target >= {TARGET:.0f} KK/s at B-LT with both cores: {met}")
    for problem in problems:
        print(f"  ERROR {problem}")
    return 1 if problems else 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a small run (24 KK per phase)")
    parser.add_argument("--count", type=int, default=400, help="KKs per phase (default 400)")
    parser.add_argument("--workers", type=int, default=2, help="pool size (default 2)")
    parser.add_argument("--chunk", type=int, default=10, help="KKs per pool task (default 10)")
    args = parser.parse_args(argv)
    count = 24 if args.quick else args.count
    chunk = min(args.chunk, 4) if args.quick else args.chunk
    if count < 2 or args.workers < 1 or args.chunk < 1:
        parser.error("--count >= 2, --workers >= 1, --chunk >= 1")
    return run(count, args.workers, chunk)


if __name__ == "__main__":
    sys.exit(main())
