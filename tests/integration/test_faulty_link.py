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
