"""Batch signing: a queue of KKs signed with one loaded key (``sign_batch``, ``kk-tte
sign-batch``), and ``benchmarks/tte.py --quick`` end to end (no speed is asserted: the
machine running the suite is not the one the target is for)."""

from __future__ import annotations

import logging
import re
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner

from protocol.application import Application
from signing import cli
from signing import tte as tte_module
from signing.cli import main
from signing.demo_pki import FILES, create_demo_pki
from signing.kk_pdf import Official, render_kk
from signing.tte import TTEError, load_demo_signer, sign_batch, sign_batch_each, verify_kk
from tests.factories import application_dict

PASSPHRASE = "rahasia-demo-123"
REPO = Path(__file__).resolve().parents[2]
NUMBER = r"[\d,]+(?:\.\d+)?"


@pytest.fixture(autouse=True)
def _quiet_pyhanko() -> None:
    logging.getLogger("pyhanko").setLevel(logging.ERROR)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("tte-batch") / "pki"
    create_demo_pki(directory, PASSPHRASE)
    return directory


def _kk(n: int) -> bytes:
    return render_kk(
        Application.from_dict(application_dict()),
        kk_number=f"160601020304{n:04d}",
        issued_on=date(2025, 11, 25),
        official=Official("Drs. H. Contoh Pejabat, M.Si", "197001011990031001"),
        verification_url=f"https://kk.example.go.id/v/{n}",
    )


def test_sign_batch_output_verifies_for_every_file(pki: Path) -> None:
    pdfs = [_kk(n) for n in range(1, 5)]
    signed = sign_batch(iter(pdfs), load_demo_signer(pki, PASSPHRASE))
    assert len(signed) == len(pdfs)
    assert len(set(signed)) == len(signed)
    for original, result in zip(pdfs, signed, strict=True):
        assert result.startswith(original)  # an incremental update of that very KK
        verdict = verify_kk(result, [pki / FILES["root_cert"]])
        assert verdict.valid, verdict.message


def test_sign_batch_is_all_or_nothing_and_sign_batch_each_goes_on(pki: Path) -> None:
    signer = load_demo_signer(pki, PASSPHRASE)
    queue = [_kk(1), b"bukan pdf", _kk(2)]
    with pytest.raises(TTEError) as caught:
        sign_batch(queue, signer)
    assert caught.value.code == "tte.sign_failed" and "KK ke-2" in caught.value.message
    first, broken, third = sign_batch_each(queue, signer)
    assert isinstance(broken, TTEError)
    for result in (first, third):
        assert isinstance(result, bytes)
        assert verify_kk(result, [pki / FILES["root_cert"]]).valid


def test_cli_signs_several_files_with_one_passphrase_and_reports_a_broken_one(
    pki: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    loads = []
    real_load = tte_module.load_demo_signer

    def counting_load(*args: object, **kwargs: object) -> object:
        loads.append(args)
        return real_load(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(tte_module, "load_demo_signer", counting_load)
    prompts = []
    real_prompt = cli.click.prompt

    def counting_prompt(*args: object, **kwargs: object) -> object:
        prompts.append(args)
        return real_prompt(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(cli.click, "prompt", counting_prompt)
    inputs = []
    for n in (1, 2, 3):
        path = tmp_path / f"kk-{n}.pdf"
        path.write_bytes(_kk(n))
        inputs.append(path)
    broken = tmp_path / "rusak.pdf"
    broken.write_bytes(b"%PDF-1.7\nini bukan KK yang utuh")
    inputs.insert(1, broken)
    out = tmp_path / "hasil"
    result = CliRunner().invoke(
        main,
        ["sign-batch", "--pki", str(pki), str(out), *map(str, inputs)],
        input=f"{PASSPHRASE}\n",
    )
    assert result.exit_code == 1, result.output
    assert len(prompts) == 1 and len(loads) == 1  # one passphrase entry for the whole queue
    assert "GAGAL" in result.output and "rusak.pdf" in result.output
    assert "3 dari 4 KK ditandatangani; 1 gagal." in result.output
    assert not (out / "rusak.pdf").exists()
    for n in (1, 2, 3):
        signed = (out / f"kk-{n}.pdf").read_bytes()
        assert verify_kk(signed, [pki / FILES["root_cert"]]).valid


def test_cli_sign_batch_with_passphrase_stdin_and_a_wrong_passphrase(
    pki: Path, tmp_path: Path
) -> None:
    good = tmp_path / "kk.pdf"
    good.write_bytes(_kk(7))
    out = tmp_path / "hasil"
    args = ["sign-batch", "--pki", str(pki), "--passphrase-stdin", str(out), str(good)]
    ok = CliRunner().invoke(main, args, input=f"{PASSPHRASE}\n")
    assert ok.exit_code == 0, ok.output
    assert "1 dari 1 KK ditandatangani; 0 gagal." in ok.output
    assert verify_kk((out / "kk.pdf").read_bytes(), [pki / FILES["root_cert"]]).valid
    wrong = CliRunner().invoke(main, args, input="salah-sandi\n")
    assert wrong.exit_code == 1 and "tte.key_unreadable" in wrong.output
    missing = CliRunner().invoke(
        main,
        [*args, str(tmp_path / "tidak-ada.pdf")],
        input=f"{PASSPHRASE}\n",
    )
    assert missing.exit_code == 1 and "tidak dapat dibaca" in missing.output
    assert "1 dari 2 KK ditandatangani; 1 gagal." in missing.output


def test_quick_tte_benchmark_prints_its_figures() -> None:
    done = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "tte.py"), "--quick"],
        capture_output=True, text=True, timeout=180, cwd=REPO,
    )  # fmt: skip
    output = done.stdout
    assert done.returncode == 0, output + done.stderr
    assert "ERROR" not in output, output
    for label in ("1 process,   B-LT:", "2 processes, B-LT:", "2 processes, B-B :"):
        line = next((x for x in output.splitlines() if x.strip().startswith(label)), None)
        assert line is not None, output
        assert re.search(rf"{NUMBER} KK in {NUMBER} s = {NUMBER} KK/s", line), line
    assert re.search(rf"ratio 2 processes / 1 process \(B-LT\): {NUMBER}", output), output
    assert re.search(r"target >= 20 KK/s at B-LT with both cores: (met|NOT met)", output)
