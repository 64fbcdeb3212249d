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


def test_quick_low_bandwidth_benchmark_reports_every_scenario():
    import json

    env = {k: v for k, v in os.environ.items() if not k.startswith("KK_")}
    done = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "low_bandwidth.py"), "--quick"],
        capture_output=True, text=True, timeout=600, cwd=REPO, env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    results = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert [r["scenario"] for r in results] == ["A", "B", "C", "D"]
    keys = {"scenario", "link_kbit", "rtt_ms", "payload_bytes", "sent_bytes", "wire_bytes",
            "resent_bytes", "seconds", "goodput_ratio", "events_visible_s"}  # fmt: skip
    for r in results:
        assert keys <= set(r), r
        assert r["finished"] and r["targets"]["events_visible_within_5s"], r
        assert 0 < r["goodput_ratio"] <= 1.0, r
    a, b, c, d = results
    assert a["resent_bytes"] == 0 and a["cuts"] == 0
    assert b["cuts"] == 1 and 0 < b["resent_bytes"] <= b["blob_bytes"] // 2
    assert c["cuts"] >= 1
    assert d["payload_bytes"] / d["sent_bytes"] >= 5 and d["ssim_min"] >= 0.9
