"""The test proxy itself must be trustworthy before other tests lean on it."""

from __future__ import annotations

import socket
import socketserver
import threading
import time

import pytest

from tests.support.faulty_link import FaultyLink, LinkProfile


class _Echo(socketserver.BaseRequestHandler):
    received: list[bytes] = []

    def handle(self) -> None:
        while data := self.request.recv(65536):
            _Echo.received.append(data)
            self.request.sendall(data)


@pytest.fixture
def echo_server():
    _Echo.received = []
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Echo)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def _exchange(port: int, payload: bytes, timeout: float = 5) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(payload)
        sock.shutdown(socket.SHUT_WR)
        chunks = []
        while data := sock.recv(65536):
            chunks.append(data)
    return b"".join(chunks)


def test_a_perfect_link_forwards_everything(echo_server):
    with FaultyLink("127.0.0.1", echo_server) as link:
        payload = bytes(range(256)) * 100
        assert _exchange(link.port, payload) == payload
        assert link.stats.bytes_up == link.stats.bytes_down == len(payload)


def test_offline_refuses_and_coming_back_online_works(echo_server):
    with FaultyLink("127.0.0.1", echo_server, LinkProfile(offline=True)) as link:
        with pytest.raises(OSError):
            reply = _exchange(link.port, b"halo")
            if not reply:  # a reset may also read as an empty stream
                raise ConnectionResetError
        link.set_profile(offline=False)
        assert _exchange(link.port, b"halo") == b"halo"
        assert link.stats.refused == 1


def test_the_rate_limit_slows_a_transfer_down(echo_server):
    with FaultyLink("127.0.0.1", echo_server, LinkProfile(rate_bytes_per_s=40_000)) as link:
        started = time.monotonic()
        assert _exchange(link.port, b"x" * 20_000) == b"x" * 20_000
        assert time.monotonic() - started >= 0.45


def test_a_cut_link_breaks_the_exchange(echo_server):
    with FaultyLink("127.0.0.1", echo_server, LinkProfile(cut_probability=1.0)) as link:
        try:
            reply = _exchange(link.port, b"y" * 10_000)
        except OSError:
            reply = b""
        assert reply == b""
        assert link.stats.cuts >= 1


def test_a_lost_response_still_delivers_the_request(echo_server):
    profile = LinkProfile(cut_after_request_probability=1.0)
    with FaultyLink("127.0.0.1", echo_server, profile) as link:
        try:
            reply = _exchange(link.port, b"permohonan")
        except OSError:
            reply = b""
        assert reply == b""
        deadline = time.monotonic() + 2
        while not _Echo.received and time.monotonic() < deadline:
            time.sleep(0.01)
        assert b"".join(_Echo.received) == b"permohonan"


# -- shaped mode: the bearer, not the connection -------------------------------------------


def _timed_exchange(port: int, payload: bytes) -> tuple[bytes, float]:
    start = time.monotonic()
    reply = _exchange(port, payload, timeout=30)
    return reply, time.monotonic() - start


def test_the_token_bucket_is_shared_by_every_connection(echo_server):
    rate = 40_000  # bytes/s each way
    profile = LinkProfile(link_rate_bytes_per_s=rate)
    with FaultyLink("127.0.0.1", echo_server, profile) as link:
        payload = bytes(range(256)) * 160  # 40 KB: one second up, echoed down
        results: list[tuple[bytes, float]] = []
        threads = [
            threading.Thread(target=lambda: results.append(_timed_exchange(link.port, payload)))
            for _ in range(2)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        # Two connections share 40 KB/s: 80 KB up take about two seconds, not one.
        assert all(reply == payload for reply, _ in results)
        slowest = max(seconds for _, seconds in results)
        assert 1.8 < slowest < 6
        assert link.stats.bytes_up == 2 * len(payload)


def test_delay_is_a_round_trip_per_exchange_not_per_chunk(echo_server):
    profile = LinkProfile(delay_s=0.15)
    with FaultyLink("127.0.0.1", echo_server, profile) as link:
        small, small_s = _timed_exchange(link.port, b"x")
        big, big_s = _timed_exchange(link.port, b"y" * 200_000)  # 49 chunks in flight
    assert small == b"x" and big == b"y" * 200_000
    # handshake + data, each a round trip of 0.3 s; pipelined, so size barely matters
    assert 0.55 < small_s < 3 and big_s < small_s + 1.5


def test_a_cut_at_a_byte_count_and_one_flipped_byte(echo_server):
    profile = LinkProfile(cut_at_up_bytes=20_000)
    with FaultyLink("127.0.0.1", echo_server, profile) as link:
        with pytest.raises(OSError):
            if len(_exchange(link.port, b"z" * 50_000)) == 50_000:
                raise AssertionError("not cut")
            raise ConnectionResetError
        assert link.stats.cuts == 1
        assert _exchange(link.port, b"after") == b"after"  # once only
        link.set_profile(corrupt_up_at_bytes=link.stats.bytes_up + 3)
        assert _exchange(link.port, b"abcdef") == b"abc" + bytes([ord("d") ^ 0x5A]) + b"ef"
        assert link.stats.corrupted == 1


def test_scheduled_cuts_end_open_connections_and_refuse_while_down(echo_server):
    profile = LinkProfile(link_rate_bytes_per_s=20_000, cut_every_s=0.5, down_for_s=0.3)
    with FaultyLink("127.0.0.1", echo_server, profile) as link:
        with pytest.raises(OSError):
            if len(_exchange(link.port, b"q" * 60_000)) == 60_000:  # 3 s at this rate
                raise AssertionError("not cut")
            raise ConnectionResetError
        assert link.stats.cuts >= 1
