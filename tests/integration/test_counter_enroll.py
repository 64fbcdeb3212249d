"""A counter enrolls against a REAL server (uvicorn on loopback) through the faulty-link
proxy: the happy path, every refusal, no network, a lost answer, and retrying after each.

The store is a real SQLite file; the key a real 0600 file. After every failure the store must
not claim an enrollment, and the next attempt must work.
"""

from __future__ import annotations

import asyncio
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from field_client.config import CounterConfig
from field_client.errors import DeviceAlreadyEnrolled
from field_client.store import Store
from field_client.sync import EnrollmentError, enroll_device
from protocol.errors import message_for
from signing.keys import load_private_key, public_key_b64
from sync_server.config import ServerConfig
from sync_server.context import init_data_dir, open_context
from tests.integration.conftest import issue_code, refused_code, start_server, table_count

KK_COUNTER = Path(sys.executable).parent / "kk-counter"


@pytest.fixture
def config(tmp_path) -> CounterConfig:
    return CounterConfig(data_dir=tmp_path / "counter", connect_timeout_s=5, read_timeout_s=10)


def _enrolled(config: CounterConfig):
    if not config.db_path.exists():
        return None
    with Store.open(config.db_path) as store:
        return store.device()


def _server_devices(server) -> list[dict]:
    with server.db.read() as conn:
        return [dict(r) for r in conn.execute("SELECT device_id, public_key FROM devices")]


async def test_enrollment_pins_the_server_key_and_records_the_device(server, link, config):
    code = issue_code(server, label="Loket 1 Sekayu")

    done = await enroll_device(config, server_url=link.url, code=code, label="Loket 1")

    device = done.device
    assert device.device_id.startswith("dev-160601-")
    assert device.kecamatan == "160601"
    assert device.server_url == link.url
    context = open_context(server.config)
    assert device.server_public_key == context.server_public_key  # pinned
    assert _enrolled(config) == device
    # The scan key came signed by the pinned key, and was kept for sealing scans.
    with Store.open(config.db_path) as store:
        assert store.server_box_key() == context.scan_key_offer()["scan_public_key"]
    # The key file is private, and it is the key the server enrolled.
    mode = stat.S_IMODE(config.key_path.stat().st_mode)
    assert mode == 0o600
    key = load_private_key(config.key_path)
    assert device.public_key == public_key_b64(key)
    assert _server_devices(server) == [
        {"device_id": device.device_id, "public_key": device.public_key}
    ]
    assert done.key_created and len(done.device_fingerprint) == 16
    assert abs(done.clock_offset_s) < 5


async def test_a_device_enrolls_once(server, link, config):
    await enroll_device(config, server_url=link.url, code=issue_code(server))
    key_before = config.key_path.read_bytes()
    link.set_profile(offline=True)  # refused before any network use

    with pytest.raises(DeviceAlreadyEnrolled) as caught:
        await enroll_device(config, server_url=link.url, code=issue_code(server))

    assert caught.value.code == "device.already_enrolled"
    assert config.key_path.read_bytes() == key_before
    assert table_count(server, "devices") == 1


@pytest.mark.parametrize(
    ("case", "code"),
    [
        ("unknown", "enroll.code_unknown"),
        ("expired", "enroll.code_expired"),
        ("used", "enroll.code_used"),
    ],
)
async def test_a_refused_code_records_nothing_and_a_good_code_then_works(
    server, link, config, tmp_path, case, code
):
    bad = await refused_code(server, link.url, tmp_path, case)

    with pytest.raises(EnrollmentError) as caught:
        await enroll_device(config, server_url=link.url, code=bad)

    assert caught.value.code == code
    assert caught.value.message == message_for(code)  # the server's Indonesian text
    assert _enrolled(config) is None
    key = config.key_path.read_bytes()

    done = await enroll_device(config, server_url=link.url, code=issue_code(server))
    assert not done.key_created  # the key of the failed attempt is reused, not replaced
    assert config.key_path.read_bytes() == key
    assert _enrolled(config) == done.device


async def test_repeated_failures_are_throttled_with_a_wait_in_seconds(tmp_path, config):
    server_config = ServerConfig(data_dir=tmp_path / "server", enroll_max_failures=2)
    init_data_dir(server_config)
    running = start_server(server_config)
    try:
        for _ in range(2):
            with pytest.raises(EnrollmentError):
                await enroll_device(config, server_url=running.base_url, code="ABCD-EFGH-JKMN")
        with pytest.raises(EnrollmentError) as caught:
            await enroll_device(config, server_url=running.base_url, code=issue_code(running))
    finally:
        running.stop()

    error = caught.value
    assert error.code == "enroll.throttled"
    assert error.status == 429
    assert error.retry_after is not None and error.retry_after >= 1
    assert f"{int(error.retry_after)} detik" in error.message
    assert _enrolled(config) is None


async def test_without_network_enrollment_says_so_and_works_once_the_link_is_back(
    server, link, config
):
    link.set_profile(offline=True)
    code = issue_code(server)

    with pytest.raises(EnrollmentError) as caught:
        await enroll_device(config, server_url=link.url, code=code)

    assert caught.value.code == "enroll.no_network"
    assert caught.value.message == (
        "Pendaftaran perangkat memerlukan jaringan; periksa koneksi lalu coba lagi."
    )
    assert _enrolled(config) is None
    assert table_count(server, "devices") == 0

    link.set_profile(offline=False)
    done = await enroll_device(config, server_url=link.url, code=code)
    assert _enrolled(config) == done.device


async def test_a_closed_port_is_no_network_too(config):
    with pytest.raises(EnrollmentError) as caught:
        await enroll_device(config, server_url="http://127.0.0.1:9", code="ABCD-EFGH-JKMN")
    assert caught.value.code == "enroll.no_network"


async def test_a_lost_answer_costs_one_new_code_and_no_manual_cleanup(server, link, config):
    # The server enrolls the key, but its answer never arrives.
    link.set_profile(cut_after_request_probability=1.0)
    first = issue_code(server)
    with pytest.raises(EnrollmentError) as caught:
        await enroll_device(config, server_url=link.url, code=first)
    assert caught.value.code == "enroll.no_network"
    assert _enrolled(config) is None
    orphan_key = public_key_b64(load_private_key(config.key_path))
    assert [d["public_key"] for d in _server_devices(server)] == [orphan_key]

    link.set_profile(cut_after_request_probability=0.0)
    with pytest.raises(EnrollmentError) as caught:
        await enroll_device(config, server_url=link.url, code=first)
    assert caught.value.code == "enroll.code_used"

    # A new code: the server says the key is in use; the counter sets that key aside (kept)
    # and enrolls with a fresh one.
    done = await enroll_device(config, server_url=link.url, code=issue_code(server))

    assert done.key_created
    assert done.device.public_key != orphan_key
    assert _enrolled(config) == done.device
    kept = list(config.data_dir.glob("device_key.pem.orphaned-*"))
    assert len(kept) == 1
    assert public_key_b64(load_private_key(kept[0])) == orphan_key
    assert table_count(server, "devices") == 2


async def test_an_answer_that_is_not_the_servers_is_reported_as_such(config):
    # A hotspot's login page answers every request with 200 and HTML.
    async def portal(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        page = b"<html><body>Silakan login hotspot</body></html>"
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nConnection: close\r\n"
            + f"Content-Length: {len(page)}\r\n\r\n".encode()
            + page
        )
        await writer.drain()
        writer.close()

    hotspot = await asyncio.start_server(portal, "127.0.0.1", 0)
    port = hotspot.sockets[0].getsockname()[1]
    try:
        with pytest.raises(EnrollmentError) as caught:
            await enroll_device(
                config, server_url=f"http://127.0.0.1:{port}", code="ABCD-EFGH-JKMN"
            )
    finally:
        hotspot.close()
        await hotspot.wait_closed()
    assert caught.value.code == "enroll.bad_response"
    assert _enrolled(config) is None


@pytest.mark.parametrize("url", ["kk.example", "ftp://kk.example", "http://"])
async def test_a_malformed_server_url_is_refused_before_anything_is_written(config, url):
    with pytest.raises(EnrollmentError) as caught:
        await enroll_device(config, server_url=url, code="ABCD-EFGH-JKMN")
    assert caught.value.code == "enroll.bad_server_url"
    assert not config.data_dir.exists()


def test_the_command_line_enrolls_and_explains_failures_in_indonesian(server, tmp_path):
    data_dir = tmp_path / "loket"
    env = {**os.environ, "NO_PROXY": "127.0.0.1"}

    def kk_counter(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(KK_COUNTER), *args, "--data-dir", str(data_dir)],
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
            check=False,
        )

    refused = kk_counter("enroll", "--server", server.base_url, "--code", "ABCD-EFGH-JKMN")
    assert refused.returncode == 1
    assert refused.stderr.startswith("Galat: Kode pendaftaran perangkat tidak dikenal.")
    assert "(enroll.code_unknown)" in refused.stderr
    assert "Traceback" not in refused.stderr

    code = issue_code(server)
    done = kk_counter("enroll", "--server", server.base_url, "--code", code, "--label", "Loket 1")
    assert done.returncode == 0, done.stderr
    assert "Perangkat loket berhasil didaftarkan." in done.stdout
    device = _enrolled(CounterConfig(data_dir=data_dir))
    assert device is not None and f"ID perangkat          : {device.device_id}" in done.stdout
