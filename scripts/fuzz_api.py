"""Fuzz the central server's HTTP API from its own OpenAPI description with schemathesis:
no request, however malformed, may make the server answer 5xx or log an unexpected error.

Run from the repository root::

    .venv/bin/python scripts/fuzz_api.py            # 50 examples per operation and caller
    .venv/bin/python scripts/fuzz_api.py --quick    # what the test suite runs (< 60 s)
    .venv/bin/python scripts/fuzz_api.py --seed 7 --max-examples 200

Set-up, as an admin would: a fresh data directory (``kk-server init``), a demo PKI so the
Kepala Dinas's TTE is configured, one account per staff role and a Sekayu operator, then a
REAL ``kk-server serve`` subprocess on loopback. A counter enrolls and pushes the sample
family's application (id :data:`EXAMPLE_ID`, the id the OpenAPI description shows as the
example of ``application_id``) and a few more; staff move them to ``submitted``,
``verified`` and ``approved``, so the examples phase exercises claims, decisions, SIAK and
documents on real records, and the fuzzing phase everything else.

Then schemathesis runs once per caller (no credentials, verifikator, Kabid, Kepala Dinas,
admin) with the check ``not_a_server_error``, a fixed seed and bounded examples
(phases: examples, coverage, fuzzing). Logout is left out for callers with a token (it
would end the session the rest of the run needs). The server's log is read afterwards:
any "unexpected error" is a failure too. Exit status 0 when nothing failed, 1 otherwise.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a script: make the project importable
    sys.path.insert(0, str(REPO))

import httpx  # noqa: E402

from protocol.events import GENESIS_HASH, EventKind  # noqa: E402
from signing.demo_pki import create_demo_pki  # noqa: E402
from signing.events import build_event  # noqa: E402
from tests.factories import application_dict  # noqa: E402
from tests.support.server_process import (  # noqa: E402
    ServerProcess,
    encode_events,
    enroll,
    kk_server,
    prepare_data_dir,
    signed_push,
)

SEKAYU = "160601"
PASSWORD = "rahasia-fuzz-1"
PASSPHRASE = "kepala-dinas-fuzz-9"
EXAMPLE_ID = application_dict()["id"]
STAFF = {
    "verifikator": "sri.verif",
    "kabid": "hendra.kabid",
    "kepala_dinas": "kadis",
    "admin": "admin",
}
SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"
_SUMMARY = re.compile(r"^\s*(\d+ generated, .*)$", re.MULTILINE)


@dataclass
class Run:
    caller: str
    returncode: int
    seconds: float
    output: str


def _staff(data_dir: Path) -> None:
    for role, username in STAFF.items():
        kk_server(
            data_dir, "user", "add", "--role", role, "--username", username,
            "--name", f"Staf {role}", "--password-stdin", input=PASSWORD + "\n",
        )  # fmt: skip


def _login(http: httpx.Client, username: str) -> str:
    response = http.post("/api/v1/auth/login", json={"username": username, "password": PASSWORD})
    response.raise_for_status()
    return response.json()["token"]


def _seed(http: httpx.Client, code: str, operator_id: str, tokens: dict[str, str]) -> None:
    """Four applications of the counter: submitted, verified, approved (two)."""
    counter = enroll(http, code)
    ids = [EXAMPLE_ID] + [f"0b5f1a52-7a0e-4d3e-9a55-2f1c0c9e8f{n:02d}" for n in range(3)]
    events, seq, previous = [], 0, GENESIS_HASH
    for app_id in ids:
        for kind, body in (
            (EventKind.APPLICATION_CREATED, {"application": application_dict(id=app_id)}),
            (EventKind.SUBMITTED, {}),
        ):
            event = build_event(
                key=counter.key, device_id=counter.device_id, operator_id=operator_id,
                previous_seq=seq, previous_hash=previous, kind=kind, application_id=app_id,
                body=body, at=datetime.now(UTC),
            )  # fmt: skip
            events.append(event.to_wire())
            seq, previous = event.seq, event.hash()
    pushed = signed_push(http, counter, encode_events(events))
    pushed.raise_for_status()
    assert {r["status"] for r in pushed.json()["results"]} == {"applied"}, pushed.text
    steps = (("verifikator", "verify", "submitted"), ("kabid", "approve", "verified"))
    for app_id, depth in zip(ids, (2, 2, 1, 0), strict=True):
        for role, action, state in steps[:depth]:
            decided = http.post(
                f"/api/v1/applications/{app_id}/decisions",
                json={"action": action, "expected_state": state},
                headers={"Authorization": f"Bearer {tokens[role]}"},
            )
            decided.raise_for_status()


def _schemathesis(
    base_url: str, caller: str, token: str | None, args: argparse.Namespace, workdir: Path
) -> Run:
    command = [
        str(SCHEMATHESIS), "run", f"{base_url}/openapi.json",
        "--checks", "not_a_server_error",
        "--phases", "examples,coverage,fuzzing",
        "--max-examples", str(args.max_examples),
        "--seed", str(args.seed),
        "--workers", "1",
        "--request-timeout", "30",
        "--no-color",
    ]  # fmt: skip
    if token is not None:
        command += ["-H", f"Authorization: Bearer {token}", "--exclude-path", "/api/v1/auth/logout"]
    began = time.monotonic()
    done = subprocess.run(
        command,
        capture_output=True,
        text=True,
        cwd=workdir,  # hypothesis keeps its example database here, not in the repository
        env={**os.environ, "SCHEMATHESIS_HOOKS": "", "NO_COLOR": "1"},
        timeout=600,
    )
    return Run(caller, done.returncode, time.monotonic() - began, done.stdout + done.stderr)


def _unexpected(log: Path) -> list[str]:
    lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
    return [line for line in lines if "unexpected error" in line or "Traceback" in line]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="the test suite's bounded run")
    parser.add_argument("--max-examples", type=int, default=None)
    parser.add_argument("--seed", type=int, default=20261125)
    parser.add_argument("--keep", type=Path, default=None, help="keep data and logs here")
    args = parser.parse_args()
    if args.max_examples is None:
        args.max_examples = 5 if args.quick else 50

    began = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="kk-fuzz-") as scratch:
        root = args.keep or Path(scratch)
        root.mkdir(parents=True, exist_ok=True)
        pki = root / "pki"
        create_demo_pki(pki, PASSPHRASE)
        prepared = prepare_data_dir(root / "server", {SEKAYU: 1}, password=PASSWORD)
        _staff(prepared.data_dir)
        env = {"KK_SERVER_TTE_PKI_DIR": str(pki), "KK_SERVER_PUBLIC_BASE_URL": "https://kk.test"}
        log = root / "server.log"
        runs: list[Run] = []
        with ServerProcess(prepared.data_dir, log=log, env=env) as server:
            server.start()
            with httpx.Client(base_url=server.base_url, timeout=30) as http:
                tokens = {role: _login(http, name) for role, name in STAFF.items()}
                _seed(http, prepared.codes[SEKAYU][0], prepared.operators[SEKAYU][0], tokens)
            for caller, token in [("no credentials", None), *tokens.items()]:
                run = _schemathesis(server.base_url, caller, token, args, root)
                runs.append(run)
                found = _SUMMARY.findall(run.output)
                print(f"{caller:16} exit {run.returncode}  {run.seconds:5.1f} s  "
                      f"{found[-1] if found else '(no summary)'}")  # fmt: skip
            server.stop()
        unexpected = _unexpected(log)

    failed = [r for r in runs if r.returncode != 0]
    for run in failed:
        print(f"\n--- schemathesis as {run.caller} ---\n{run.output[-6000:]}")
    for line in unexpected[:20]:
        print(f"server log: {line}")
    print(f"\nseed {args.seed}, max examples {args.max_examples}, "
          f"{time.monotonic() - began:.1f} s in all")  # fmt: skip
    if failed or unexpected:
        print("RESULT: FAILED (a 5xx answer or an unexpected server error)")
        return 1
    print("RESULT: no 5xx answer, no unexpected server error")
    return 0


if __name__ == "__main__":
    sys.exit(main())
