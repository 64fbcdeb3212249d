"""`make run`: the whole system on one machine, on embedded defaults, with demo data and keys.

It drives the real command-line tools only (kk-server, kk-counter), as an admin and an
operator would, so it shows exactly what exists:

1. the central server's data directory (SQLite, server key), a demo operator account of
   Kecamatan Sekayu and one demo account per central role (verifikator, Kabid, Kepala
   Dinas, admin) for the staff pages at ``/staf/``, created on first start only;
2. the demo PKI (made on first start; private keys 0600, never committed), and the server,
   started in the background on loopback with that PKI configured for the TTE
   (``KK_SERVER_TTE_PKI_DIR``; the passphrase is typed by the Kepala Dinas per batch);
3. a counter enrolled with a one-time code (its device key is generated locally), once;
4. a first sync, which pulls the operator account so the operator can log in offline;
5. the sample applications from examples/ recorded and (when complete) submitted by the
   operator, then pushed to the server by the sync engine;
6. the counter's status;
7. a sample KK signed by the Kepala Dinas's demo certificate at PAdES B-LT, verified offline;
then the server keeps running until Ctrl-C (``--no-wait`` stops).

Everything lives under ``var/`` (never committed). Demo secrets are printed because they are
demo secrets; a real deployment creates its own accounts with ``kk-server user add``.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
KECAMATAN = "160601"  # Sekayu, the kabupaten's capital
OPERATOR = "operator.sekayu"
PASSWORD = "sekayu-demo-2026"  # noqa: S105 - a demo account, printed on purpose
PKI_PASSPHRASE = "kepala-dinas-demo"  # noqa: S105 - protects only the demo PKCS#12
STAFF_PASSWORD = "dinas-demo-2026"  # noqa: S105 - demo staff accounts, printed on purpose
STAFF = (  # (role, username, full name): one demo account per central role
    ("verifikator", "verifikator.demo", "Sri Wahyuni, S.Sos"),
    ("kabid", "kabid.demo", "Hendra Gunawan, S.H."),
    ("kepala_dinas", "kadis.demo", "Drs. H. Kepala Dinas"),
    ("admin", "admin.demo", "Admin Dinas"),
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--var", type=Path, default=ROOT / "var", help="state directory")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--no-wait", action="store_true", help="stop the server at the end")
    args = parser.parse_args()
    server_dir, counter_dir = args.var / "server", args.var / "counter"
    url = f"http://127.0.0.1:{args.port}"

    step("Server pusat: direktori data dan akun operator demo")
    server = ["--data-dir", str(server_dir)]
    run("kk-server", *server, "init")
    if OPERATOR not in run("kk-server", *server, "user", "list", quiet=True):
        run("kk-server", *server, "user", "add", "--role", "operator", "--kecamatan", KECAMATAN,
            "--username", OPERATOR, "--name", "Siti Rahma", "--password-stdin",
            stdin=PASSWORD + "\n")  # fmt: skip

    known = run("kk-server", *server, "user", "list", quiet=True)
    for role, username, name in STAFF:
        if username not in known:
            run("kk-server", *server, "user", "add", "--role", role, "--username", username,
                "--name", name, "--password-stdin", stdin=STAFF_PASSWORD + "\n")  # fmt: skip

    pki = args.var / "pki"
    step("TTE: PKI demo untuk tanda tangan Kepala Dinas")
    if not (pki / "kepala-dinas.p12").exists():
        run("kk-tte", "demo-pki", str(pki), "--passphrase-stdin", stdin=PKI_PASSPHRASE + "\n")
    else:  # signing needs current CRLs: a demo older than their 30 days renews them
        run("kk-tte", "renew-crl", str(pki))

    step(f"Server pusat berjalan di {url}")
    log = (args.var / "server.log").open("ab")
    # The server signs KKs with the demo PKI; the passphrase is not configured: the Kepala
    # Dinas types it per batch (POST /api/v1/tte/sign-batch).
    env = {
        **os.environ,
        "KK_SERVER_TTE_PKI_DIR": str(pki.resolve()),
        "KK_SERVER_PUBLIC_BASE_URL": url,
    }
    proc = subprocess.Popen(
        [str(BIN / "kk-server"), *server, "serve", "--port", str(args.port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        env=env,
    )
    try:
        wait_healthy(url, proc)
        counter = ["--data-dir", str(counter_dir)]
        if not (counter_dir / "device_key.pem").exists() or "belum didaftarkan" in run(
            "kk-counter", "status", *counter, quiet=True
        ):
            step("Loket Sekayu: pendaftaran perangkat dengan kode sekali pakai")
            issued = run("kk-server", *server, "device", "enroll-code", "--kecamatan",
                         KECAMATAN, "--label", "Loket demo Sekayu", quiet=True)  # fmt: skip
            code = re.search(r"[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}", issued)
            assert code, issued
            run("kk-counter", "enroll", "--server", url, "--code", code.group(0), *counter)

        step("Sinkronisasi pertama: akun operator ditarik ke loket")
        run("kk-counter", "sync", "--once", *counter, check=False)

        step(f"Operator {OPERATOR} mencatat dan mengajukan permohonan contoh (tanpa jaringan)")
        examples = sorted(str(p) for p in (ROOT / "examples").glob("*.json"))
        run("kk-counter", "application", "import", *examples, "--operator", OPERATOR,
            "--password-stdin", "--submit", *counter, stdin=PASSWORD + "\n",
            check=False)  # fmt: skip

        step("Sinkronisasi: catatan loket dikirim ke server pusat")
        run("kk-counter", "sync", "--once", *counter, check=False)
        run("kk-counter", "status", *counter)

        step("TTE: contoh KK bertanda tangan elektronik")
        sample = args.var / "contoh-kk.pdf"
        sample.unlink(missing_ok=True)
        run("kk-tte", "sample", str(sample), "--pki", str(pki), "--passphrase-stdin",
            stdin=PKI_PASSPHRASE + "\n")  # fmt: skip
        run("kk-tte", "verify", str(sample), "--trust", str(pki / "root-ca.pem"))

        print()
        print(f"Akun operator demo: {OPERATOR} / {PASSWORD}")
        print(f"Frasa sandi TTE demo Kepala Dinas: {PKI_PASSPHRASE}")
        print(f"Halaman staf Dinas: {url}/staf/ (kata sandi demo semua akun: {STAFF_PASSWORD})")
        for role, username, _ in STAFF:
            print(f"  {role:<13} {username}")
        print(f"Data: {args.var}; log server: {args.var / 'server.log'}")
        print(f"Pesan WhatsApp ke pemohon (tanpa akun WhatsApp): {server_dir / 'whatsapp'}")
        if args.no_wait:
            return 0
        print(f"Server pusat berjalan di {url}. Tekan Ctrl+C untuk berhenti.")
        proc.wait()
        return proc.returncode or 0
    except KeyboardInterrupt:
        return 0
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(10)
        log.close()


def step(text: str) -> None:
    print(f"\n== {text} ==", flush=True)


def run(*cmd: str, stdin: str | None = None, quiet: bool = False, check: bool = True) -> str:
    result = subprocess.run(
        [str(BIN / cmd[0]), *cmd[1:]],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if not quiet:
        sys.stdout.write(result.stdout)
    sys.stderr.write(result.stderr)
    if check and result.returncode != 0:
        raise SystemExit(f"{cmd[0]} {cmd[1] if len(cmd) > 1 else ''} gagal ({result.returncode})")
    return result.stdout


def wait_healthy(url: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit("Server pusat berhenti saat dinyalakan; lihat var/server.log.")
        try:
            with urllib.request.urlopen(f"{url}/api/v1/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("Server pusat tidak menjawab dalam 30 detik; lihat var/server.log.")


if __name__ == "__main__":
    sys.exit(main())
