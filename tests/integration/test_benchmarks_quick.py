"""``benchmarks/ingest.py --quick`` runs end to end and prints its figures (no speed is
asserted: the machine running the suite is not the one the target is for)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
NUMBER = r"[\d,]+(?:\.\d+)?"


def test_quick_ingest_benchmark_prints_its_figures(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("KK_")}
    done = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "ingest.py"), "--quick", "--profile",
         "--keep", str(tmp_path)],
        capture_output=True, text=True, timeout=180, cwd=REPO, env=env,
    )  # fmt: skip
    output = done.stdout
    assert done.returncode == 0, output + done.stderr
    assert "ERROR" not in output, output
    for label in ("1 device  :", "15 devices:"):
        line = next((x for x in output.splitlines() if x.strip().startswith(label)), None)
        assert line is not None, output
        assert re.search(rf"{NUMBER} events in {NUMBER} s = {NUMBER} events/s", line), line
        assert re.search(rf"push p50 {NUMBER} ms, p99 {NUMBER} ms", line), line
    assert re.search(rf"total events: {NUMBER}", output), output
    assert re.search(rf"ratio 15 devices / 1 device: {NUMBER}", output), output
    assert re.search(r"target >= 2,000 events/s with 15 devices: (met|NOT met)", output), output
    # the profile hint (forced by --profile) found the push path and the hottest functions
    assert "Where the server's time goes" in output, output
    assert "Ed25519 verify" in output and "SQLite" in output, output
    assert "not instrumented" not in output, output
    assert "hottest functions" in output, output
    # the quick run stored what it sent
    assert (tmp_path / "server" / "server.db").exists()
