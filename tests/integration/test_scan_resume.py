"""Resumable scan uploads over a bad link: a cut, a damaged piece, a SIGKILLed counter and a
restarted server each cost at most one piece, never the whole file.

Real uvicorn, real counter store and engine, the shaped faulty link (a shared token bucket,
so byte counts are what crossed the link); the SIGKILL test runs the engine in a child
process.
"""

# ruff: noqa: F811  (fixtures imported from other test modules)
from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from pathlib import Path

from signing.scan_cipher import CHUNK_SIZE
from tests.integration.conftest import start_server
from tests.integration.test_counter_scan_sync import attach, new_application, server_scans
from tests.integration.test_sync_engine import server_config, settled, site  # noqa: F401
from tests.support.scan_samples import document_photo

PIECE = 32 * 1024
RATE = 100_000  # bytes/s: quick tests, still many pieces per scan
OVERHEAD = 12_000  # headers of the requests and the events pushed with them


def big_scan(site, seed: int = 31):
    app_id = new_application(site)
    # ~300 KB: about ten pieces
    return attach(site, app_id, document_photo(1200, 900, seed=seed, quality=85))


def received(site, scan_id: str) -> int:
    row = server_scans(site).get(scan_id)
    return 0 if row is None else row["received_bytes"]


def engine(site, **settings):
    return site.engine(scan_chunk_min_bytes=PIECE, scan_chunk_max_bytes=PIECE, **settings)


async def wait_for(predicate, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.05)


async def resent_after_a_cut_at_half(site, piece: int, seed: int) -> int:
    """Upload a fresh scan with pieces of ``piece`` bytes over a link cut once when half of
    it has gone up; the scan bytes sent more than once."""
    site.link.set_profile(link_rate_bytes_per_s=RATE)
    async with site.engine(scan_chunk_min_bytes=piece, scan_chunk_max_bytes=piece) as sync:
        await sync.run_once()  # the first round's set-up (scan key) is not measured
        scan = big_scan(site, seed=seed)
        assert scan.blob_bytes > 6 * PIECE
        start = site.link.stats.bytes_up
        site.link.set_profile(cut_at_up_bytes=start + scan.blob_bytes // 2)
        status = await sync.run_once()
    assert settled(status), status
    assert site.link.stats.cuts == 1
    assert server_scans(site)[scan.scan_id]["status"] == "complete"
    return site.link.stats.bytes_up - start - scan.blob_bytes


async def test_a_cut_mid_upload_costs_at_most_one_piece(site):
    assert 0 <= await resent_after_a_cut_at_half(site, PIECE, seed=32) <= PIECE + OVERHEAD


async def test_a_piece_damaged_on_the_way_is_sent_again(site):
    site.link.set_profile(link_rate_bytes_per_s=RATE)
    async with engine(site) as sync:
        await sync.run_once()
        scan = big_scan(site)
        start = site.link.stats.bytes_up
        site.link.set_profile(corrupt_up_at_bytes=start + scan.blob_bytes // 2)
        status = await sync.run_once()
    assert settled(status), status
    assert site.link.stats.corrupted == 1
    assert server_scans(site)[scan.scan_id]["status"] == "complete"
    resent = site.link.stats.bytes_up - start - scan.blob_bytes
    assert 0 < resent <= PIECE + OVERHEAD  # the damaged piece, once more


async def test_a_counter_killed_mid_piece_resumes_where_the_server_stopped(site):
    scan = big_scan(site)
    site.link.set_profile(link_rate_bytes_per_s=20_000)  # a piece takes ~1.6 s
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.integration.scan_upload_worker",
            str(site.config.data_dir),
            site.link.url,
            str(PIECE),
        ],
        stdout=subprocess.PIPE,
        cwd=Path(__file__).parents[2],
    )
    try:
        await wait_for(lambda: received(site, scan.scan_id) >= 2 * PIECE)
        worker.send_signal(signal.SIGKILL)  # most likely mid-piece: pieces are 1.6 s long
        worker.wait(10)
    finally:
        if worker.poll() is None:
            worker.kill()
        worker.stdout.close()
    # Bytes the dead process had handed to the network still arrive (as on a real link);
    # the server keeps what ends in a whole piece.
    await wait_for(lambda: site.link.open_connections == 0)
    held = received(site, scan.scan_id)
    assert 2 * PIECE <= held < scan.blob_bytes
    site.link.set_profile(link_rate_bytes_per_s=RATE)
    start = site.link.stats.bytes_up
    async with engine(site) as sync:
        assert settled(await sync.run_once())
    assert server_scans(site)[scan.scan_id]["status"] == "complete"
    assert site.link.stats.bytes_up - start <= scan.blob_bytes - held + OVERHEAD
    assert site.store.scans_to_upload() == []


async def test_a_server_restart_mid_upload_keeps_what_arrived(site):
    scan = big_scan(site)
    site.link.set_profile(link_rate_bytes_per_s=30_000)
    async with engine(site, request_deadline_s=5) as sync:
        round_ = asyncio.ensure_future(sync.run_once())
        await wait_for(lambda: received(site, scan.scan_id) >= 2 * PIECE)
        site.server.stop()
        failed = await round_
        assert failed.last_error is not None  # the link or the server went away
        held = received(site, scan.scan_id)
        assert 2 * PIECE <= held < scan.blob_bytes
        restarted = start_server(site.server.config)  # same data directory, new port
        try:
            site.link.upstream_port = int(restarted.base_url.rsplit(":", 1)[1])
            start = site.link.stats.bytes_up
            status = await sync.run_once()
            assert settled(status), status
        finally:
            restarted.stop()
    assert server_scans(site)[scan.scan_id]["status"] == "complete"
    assert site.link.stats.bytes_up - start <= scan.blob_bytes - held + PIECE + OVERHEAD


async def test_a_cut_keeps_the_whole_encrypted_chunks_of_the_piece_in_flight(site):
    # Pieces bigger than the file's first half: the cut falls inside one piece. The server
    # kept what arrived up to the last whole encrypted chunk (64 KiB): the cut cost less
    # than one such chunk, not the ~150 KB of the piece that was on its way.
    resent = await resent_after_a_cut_at_half(site, 256 * 1024, seed=33)
    assert 0 <= resent <= CHUNK_SIZE + 16 + OVERHEAD < 150_000
