"""``scripts/fuzz_api.py --quick``: schemathesis over the OpenAPI description against a real
``kk-server serve`` with real data, as every kind of caller, finds no 5xx answer and no
unexpected server error (fixed seed, bounded examples)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CALLERS = ("no credentials", "verifikator", "kabid", "kepala_dinas", "admin")


def test_quick_fuzzing_finds_no_server_error(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("KK_")}
    done = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "fuzz_api.py"), "--quick", "--keep", str(tmp_path)],
        capture_output=True, text=True, timeout=600, cwd=REPO, env=env,
    )  # fmt: skip
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "RESULT: no 5xx answer, no unexpected server error" in output, output
    for caller in CALLERS:
        line = next(x for x in output.splitlines() if x.startswith(caller))
        found = re.search(r"exit 0 .* (\d+) generated, (\d+) passed", line)
        assert found, line
        generated, passed = int(found.group(1)), int(found.group(2))
        assert generated == passed and generated > 200, line  # every operation was reached
    assert (tmp_path / "server" / "server.db").exists()
