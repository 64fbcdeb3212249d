"""A bad 2G/3G link between a counter and the server, in user space.

This kernel has no ``netem``, so delay, loss and cuts are made by a TCP proxy on loopback
(it runs without root, in CI too). Per connection it can refuse to connect (network down),
and per chunk forwarded it can delay, throttle to a byte rate, or cut both sides abruptly
(RST), in either direction: a request cut mid-body, or a response lost after the server
already applied the request, which makes the client retry (a duplicate).

The proxy runs its own event loop in a thread so synchronous tests, a uvicorn server in
another thread and async clients can all use it. Randomness comes from one seeded RNG.

A *shaped* profile (any of ``link_rate_bytes_per_s``, ``delay_s``, ``cut_every_s``,
``cut_at_up_bytes``, ``corrupt_up_at_bytes``) models the bearer itself rather than each
connection: one token bucket per direction shared by every connection (a 64 kbit/s link is
64 kbit/s whatever the number of sockets), a one-way propagation delay that is pipelined
(bytes in flight overlap, as on a real path: RTT = 2 x ``delay_s``, also paid once at
connection set-up), cuts on a schedule or at a byte count, and one flipped byte. Bytes are
counted when they leave the bucket, i.e. when they cross the emulated link.
"""

from __future__ import annotations

import asyncio
import random
import socket
import threading
import time
from dataclasses import dataclass, field, replace

__all__ = ["LinkProfile", "FaultyLink"]

_CHUNK = 4096


@dataclass(frozen=True)
class LinkProfile:
    """How bad the link is. The default is a perfect link."""

    offline: bool = False
    """Every new connection is closed at once, as when the network is down."""
    rate_bytes_per_s: float | None = None
    """Throughput cap per direction (e.g. 8_000 for a 64 kbit/s 2G link)."""
    latency_s: float = 0.0
    """Delay added before forwarding each chunk."""
    cut_probability: float = 0.0
    """Chance that a chunk is not forwarded and the connection is cut instead."""
    refuse_probability: float = 0.0
    """Chance that a new connection is closed at once."""
    cut_after_request_probability: float = 0.0
    """Chance that the server's response is dropped (connection cut) after the request
    reached the server: the request is applied, the client never hears of it."""
    link_rate_bytes_per_s: float | None = None
    """Capacity per direction shared by all connections (token bucket); shaped mode."""
    delay_s: float = 0.0
    """One-way propagation delay, pipelined; shaped mode."""
    cut_every_s: float | None = None
    """Every so many seconds every open connection is cut; shaped mode."""
    down_for_s: float = 0.0
    """After a scheduled cut, new connections are refused this long."""
    cut_at_up_bytes: int | None = None
    """Once ``bytes_up`` reaches this, every open connection is cut (once)."""
    corrupt_up_at_bytes: int | None = None
    """The upstream byte at this count of ``bytes_up`` is flipped (once)."""
    stalled: bool = False
    """Packets vanish: connections open, but no byte is forwarded (either way) while set;
    what was held goes on once it is cleared, as TCP retransmits after a dead spell on
    2G. Unshaped mode."""

    @property
    def shaped(self) -> bool:
        return bool(
            self.link_rate_bytes_per_s
            or self.delay_s
            or self.cut_every_s
            or self.cut_at_up_bytes is not None
            or self.corrupt_up_at_bytes is not None
        )


@dataclass
class LinkStats:
    connections: int = 0
    refused: int = 0
    cuts: int = 0
    bytes_up: int = 0
    bytes_down: int = 0
    corrupted: int = 0


class _Bucket:
    """A token bucket without burst: the time at which the link is free again."""

    def __init__(self) -> None:
        self.free_at = 0.0

    async def depart(self, n: int, rate: float | None) -> None:
        """Wait until ``n`` bytes have left at ``rate`` bytes/s after the bytes before."""
        if not rate:
            return
        now = time.monotonic()
        self.free_at = max(now, self.free_at) + n / rate
        await asyncio.sleep(self.free_at - now)


@dataclass
class FaultyLink:
    """A proxy from ``127.0.0.1:<port>`` to ``upstream_host:upstream_port``."""

    upstream_host: str
    upstream_port: int
    profile: LinkProfile = field(default_factory=LinkProfile)
    seed: int = 0
    port: int = 0
    stats: LinkStats = field(default_factory=LinkStats)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.AbstractServer | None = None
        self._thread: threading.Thread | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._buckets = {"up": _Bucket(), "down": _Bucket()}
        self._cutter: asyncio.Future[None] | None = None
        self._down_until = 0.0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def set_profile(self, profile: LinkProfile | None = None, **changes: object) -> None:
        """Change the link while it runs (e.g. ``offline=True``)."""
        self.profile = replace(profile or self.profile, **changes)  # type: ignore[arg-type]
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._schedule_cuts)

    def _schedule_cuts(self) -> None:
        """(Re)start the clock of scheduled cuts: it runs whether or not bytes flow."""
        if self._cutter is not None:
            self._cutter.cancel()
            self._cutter = None
        if self.profile.cut_every_s:
            self._cutter = asyncio.ensure_future(self._cut_on_schedule(self.profile))

    async def _cut_on_schedule(self, profile: LinkProfile) -> None:
        assert profile.cut_every_s
        while True:
            await asyncio.sleep(profile.cut_every_s)
            self._down_until = time.monotonic() + profile.down_for_s
            self._cut_all()

    @property
    def open_connections(self) -> int:
        """Connections being proxied now (each has two writers)."""
        return len(self._writers) // 2

    def cut_all(self) -> None:
        """Cut every open connection now (from any thread)."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._cut_all)

    def _cut_all(self) -> None:
        """Cut every open connection; counted as one cut when any was open."""
        if self._writers:
            self.stats.cuts += 1
        for writer in list(self._writers):
            writer.transport.abort()

    def start(self) -> FaultyLink:
        ready = threading.Event()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.port))
        self.port = sock.getsockname()[1]

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            self._server = loop.run_until_complete(asyncio.start_server(self._handle, sock=sock))
            self._schedule_cuts()
            ready.set()
            loop.run_forever()
            loop.close()

        self._thread = threading.Thread(target=run, name="faulty-link", daemon=True)
        self._thread.start()
        ready.wait(5)
        return self

    def stop(self) -> None:
        if self._loop is None:
            return

        async def shutdown() -> None:
            assert self._server is not None
            if self._cutter is not None:
                self._cutter.cancel()
            self._server.close()
            for writer in list(self._writers):
                writer.transport.abort()
            # End every proxying task here, so none is left to a closed loop.
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self._server.wait_closed()

        asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        assert self._thread is not None
        self._thread.join(5)
        self._loop = None

    def __enter__(self) -> FaultyLink:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- proxying ------------------------------------------------------------------------

    async def _handle(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        self.stats.connections += 1
        profile = self.profile
        if profile.shaped:
            await self._handle_shaped(client_r, client_w, profile)
            return
        refused = profile.offline or self._rng.random() < profile.refuse_probability
        upstream = await self._connect(client_w, refused)
        if upstream is None:
            return
        server_r, server_w = upstream
        drop_response = self._rng.random() < profile.cut_after_request_probability
        up = asyncio.create_task(self._pump(client_r, server_w, "up", client_w))
        down = asyncio.create_task(
            self._pump(server_r, client_w, "down", server_w, drop=drop_response)
        )
        await asyncio.wait({up, down}, return_when=asyncio.FIRST_COMPLETED)
        # Give the other direction a moment to flush a half-closed exchange, then end both.
        await asyncio.wait({up, down}, timeout=30)
        for task in (up, down):
            task.cancel()
        for writer in (client_w, server_w):
            self._writers.discard(writer)
            writer.transport.abort()

    async def _pump(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        direction: str,
        other: asyncio.StreamWriter,
        *,
        drop: bool = False,
    ) -> None:
        started = time.monotonic()
        sent = 0
        while True:
            chunk = await reader.read(_CHUNK)
            if not chunk:
                if writer.can_write_eof():
                    writer.write_eof()
                return
            while self.profile.stalled:
                await asyncio.sleep(0.02)
            profile = self.profile
            if drop or profile.offline or self._rng.random() < profile.cut_probability:
                self.stats.cuts += 1
                writer.transport.abort()
                other.transport.abort()
                return
            if profile.latency_s:
                await asyncio.sleep(profile.latency_s)
            if profile.rate_bytes_per_s:
                sent += len(chunk)
                due = started + sent / profile.rate_bytes_per_s
                delay = due - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            writer.write(chunk)
            await writer.drain()
            if direction == "up":
                self.stats.bytes_up += len(chunk)
            else:
                self.stats.bytes_down += len(chunk)

    async def _connect(
        self, client_w: asyncio.StreamWriter, refused: bool
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
        """The upstream connection, or ``None`` (client cut) when refused or unreachable."""
        if refused:
            self.stats.refused += 1
            client_w.transport.abort()
            return None
        try:
            server_r, server_w = await asyncio.open_connection(
                self.upstream_host, self.upstream_port
            )
        except OSError:
            client_w.transport.abort()
            return None
        self._writers |= {client_w, server_w}
        return server_r, server_w

    # -- shaped mode -------------------------------------------------------------------------

    async def _handle_shaped(
        self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter, profile: LinkProfile
    ) -> None:
        refused = profile.offline or time.monotonic() < self._down_until
        if not refused:
            await asyncio.sleep(2 * profile.delay_s)  # the handshake's round trip
        upstream = await self._connect(client_w, refused)
        if upstream is None:
            return
        server_r, server_w = upstream
        pumps = [
            asyncio.create_task(self._shaped_pump(client_r, server_w, "up")),
            asyncio.create_task(self._shaped_pump(server_r, client_w, "down")),
        ]
        await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
        await asyncio.wait(pumps, timeout=30)
        for task in pumps:
            task.cancel()
        for writer in (client_w, server_w):
            self._writers.discard(writer)
            writer.transport.abort()

    async def _shaped_pump(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, direction: str
    ) -> None:
        """Read, wait for the shared bucket, then deliver ``delay_s`` later (pipelined)."""
        queue: asyncio.Queue[tuple[float, bytes] | None] = asyncio.Queue()
        deliver = asyncio.create_task(self._deliver(queue, writer))
        try:
            while True:
                chunk = await reader.read(_CHUNK)
                if not chunk:
                    await queue.put(None)
                    await deliver
                    return
                profile = self.profile
                await self._buckets[direction].depart(len(chunk), profile.link_rate_bytes_per_s)
                chunk = self._crossing(chunk, direction, profile)
                if chunk is None:
                    return
                await queue.put((time.monotonic() + profile.delay_s, chunk))
        finally:
            deliver.cancel()

    def _crossing(self, chunk: bytes, direction: str, profile: LinkProfile) -> bytes | None:
        """Count bytes leaving the bucket; apply scheduled cuts and corruption."""
        if direction == "down":
            self.stats.bytes_down += len(chunk)
            return chunk
        before = self.stats.bytes_up
        self.stats.bytes_up += len(chunk)
        at = profile.corrupt_up_at_bytes
        if at is not None and before <= at < self.stats.bytes_up:
            self.profile = replace(self.profile, corrupt_up_at_bytes=None)
            i = at - before
            chunk = chunk[:i] + bytes([chunk[i] ^ 0x5A]) + chunk[i + 1 :]
            self.stats.corrupted += 1
        cut = profile.cut_at_up_bytes
        if cut is not None and self.stats.bytes_up >= cut:
            self.profile = replace(self.profile, cut_at_up_bytes=None)
            self._cut_all()
            return None
        return chunk

    async def _deliver(
        self, queue: asyncio.Queue[tuple[float, bytes] | None], writer: asyncio.StreamWriter
    ) -> None:
        while True:
            item = await queue.get()
            if item is None:
                if writer.can_write_eof():
                    writer.write_eof()
                return
            due, chunk = item
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            writer.write(chunk)
            await writer.drain()
