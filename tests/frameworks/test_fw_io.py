"""aio's Context_async and io_uring's Ring_async (awaited requests) and
splice_copy_async under asyncio, anyio and trio: results against
os.pread/the bytes sent, cancellation at random points (no hang, no leaked
fd or request)."""

from __future__ import annotations

import errno
import gc
import os
import random
import select
import socket
import warnings
from typing import Any, Dict, List, Tuple

import pytest
from conftest import in_child, open_fds

DATA = os.urandom(256 * 1024)


@pytest.fixture
def datafile(tmp_path: Any) -> str:
    path = tmp_path / "data"
    path.write_bytes(DATA)
    return str(path)


# -- aio ------------------------------------------------------------------------------
def test_aio_round_trips(framework: Any, datafile: str) -> None:
    """pwrite/pread/preadv/fsync awaited, then 64 reads at once: each
    returns what os.pread reads."""
    fw = framework

    async def main() -> None:
        mod = fw.module("aio")
        fd = os.open(datafile, os.O_RDWR)
        try:
            async with mod.Context_async(32) as ctx:
                assert await fw.wait_for(5, ctx.pwrite, fd, b"hello", 10) == 5
                assert await fw.wait_for(5, ctx.fsync, fd) == 0
                assert await fw.wait_for(5, ctx.pread, fd, 20, 0) == os.pread(fd, 20, 0)
                buf = bytearray(7)
                assert await fw.wait_for(5, ctx.preadv, fd, [buf], 8) == 7
                assert bytes(buf) == os.pread(fd, 7, 8)
                results: Dict[int, bytes] = {}

                async def read(off: int) -> None:
                    results[off] = await ctx.pread(fd, 512, off)

                async with fw.task_group() as tg:
                    for off in range(0, 64 * 4096, 4096):
                        tg.spawn(read, off)
                for off, got in results.items():
                    assert got == os.pread(fd, 512, off)
                assert len(results) == 64 and ctx.pending == 0 and ctx.empty()
        finally:
            os.close(fd)

    fw.run(main)


async def _request_storm(
    fw: Any, rng: random.Random, queue: Any, fd: int, n: int, never: Any
) -> Tuple[int, int]:
    """*n* awaited requests on *queue* (a Context_async or Ring_async), every
    11th one *never* (a request nothing completes), the rest 512-byte reads
    of *fd*; tasks cancelled at random by handle or timeout, then every
    *never* cancelled.  Checks each read not cancelled returns its own
    bytes, and that the queue stays usable and ends with nothing pending
    (under trio, the completions of cancelled requests are collected by the
    next awaited one).  Returns (reads done, cancellations)."""
    ok = cancelled = 0

    async def read(off: int) -> None:
        nonlocal ok
        if rng.random() < 0.3:
            async with fw.move_on_after(rng.random() * 0.002):
                assert await queue.pread(fd, 512, off) == DATA[off : off + 512]
                ok += 1
            return
        assert await queue.pread(fd, 512, off) == DATA[off : off + 512]
        ok += 1

    async with fw.task_group() as tg:
        handles = []
        for i in range(n):
            if i % 11 == 0:
                handles.append(tg.spawn(never))
            else:
                off = rng.randrange(0, len(DATA) - 512, 512)
                handles.append(tg.spawn(read, off))
            if rng.random() < 0.3:
                await fw.sleep(0)
            if rng.random() < 0.3:
                rng.choice(handles).cancel()
                cancelled += 1
        await fw.sleep(0.01)
        for h in handles[::11]:  # the requests that never complete
            h.cancel()
    for _ in range(500):  # the kernel's cancellations complete them
        assert await fw.wait_for(5, queue.pread, fd, 4, 0) == DATA[:4]
        if queue.pending == 0:
            break
        await fw.sleep(0.01)
    assert queue.pending == 0
    assert queue.empty()
    return ok, cancelled


@pytest.mark.parametrize("seed", range(2))
def test_aio_cancellation_storm(framework: Any, datafile: str, seed: int) -> None:
    """300 awaited reads and 30 awaited polls (of a pipe nobody writes),
    cancelled at random by handle or timeout: no hang, every read not
    cancelled returns its own bytes, the kernel ends with nothing pending,
    the object stays usable, and no fd is left."""
    fw = framework
    rng = random.Random(f"aio-{fw.name}-{seed}")
    maxsize = rng.choice([0, 1, 3])

    async def main() -> Tuple[int, int]:
        mod = fw.module("aio")
        before = open_fds()
        fd = os.open(datafile, os.O_RDONLY)
        r, w = os.pipe()
        try:
            async with mod.Context_async(32, maxsize=maxsize) as ctx:

                async def poll() -> None:
                    await ctx.poll(r, select.POLLIN)
                    raise AssertionError("nobody wrote to the pipe")

                ok, cancelled = await _request_storm(fw, rng, ctx, fd, 330, poll)
        finally:
            os.close(fd)
            os.close(r)
            os.close(w)
        assert open_fds() == before
        return ok, cancelled

    ok, cancelled = fw.run(main, timeout=30)
    assert ok > 0 and cancelled > 0


def test_aio_close_fails_pending(framework: Any) -> None:
    """close(): an awaited request still in the kernel fails with ECANCELED,
    a pending get() with ValueError (ClosedResourceError); later requests
    raise ValueError."""
    fw = framework

    async def main() -> Dict[str, Any]:
        mod = fw.module("aio")
        r, w = os.pipe()
        out: Dict[str, Any] = {}
        try:
            ctx = mod.Context_async()

            async def poll() -> None:
                try:
                    await ctx.poll(r, select.POLLIN)
                except OSError as exc:
                    out["poll"] = exc.errno
                except BaseException as exc:
                    out["poll"] = repr(exc)
                    raise

            async def getter() -> None:
                try:
                    await ctx.get()
                except ValueError as exc:
                    out["get"] = isinstance(exc, fw.Closed)

            async with fw.task_group() as tg:
                tg.spawn(poll)
                tg.spawn(getter)
                await fw.sleep(0.02)
                ctx.close()
                ctx.close()
            with pytest.raises(ValueError):
                await ctx.pread(r, 1, 0)
            with pytest.raises(ValueError):
                ctx.fileno()
        finally:
            os.close(r)
            os.close(w)
        return out

    out = fw.run(main)
    assert out == {"poll": errno.ECANCELED, "get": True}


def test_aio_gc_and_leak(framework: Any, datafile: str) -> None:
    fw = framework

    def child() -> Tuple[List[str], set]:
        before = open_fds()

        async def main() -> set:
            mod = fw.module("aio")
            fd = os.open(datafile, os.O_RDONLY)
            inner = open_fds()
            for _ in range(15):  # (io_destroy waits for the kernel: slow)
                async with mod.Context_async(4) as ctx:
                    await ctx.pread(fd, 16, 0)
            leaked = open_fds() - inner
            lost = mod.Context_async(4)
            await lost.pread(fd, 16, 0)
            os.close(fd)
            return leaked

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            leaked = fw.run(main, fork=False)
            for _ in range(3):
                gc.collect()
        assert not leaked
        return [f"{w.category.__name__}: {w.message}" for w in caught], open_fds() - before

    warned, leaked = in_child(child, timeout=30)
    assert len(warned) == 1 and warned[0].startswith("ResourceWarning: unclosed <Context_async")
    assert not leaked


# -- splice -----------------------------------------------------------------------------
def _socketpair() -> Tuple[socket.socket, socket.socket]:
    a, b = socket.socketpair()
    a.setblocking(False)
    b.setblocking(False)
    return a, b


async def _receive(fw: Any, sock: socket.socket, into: bytearray) -> None:
    while True:
        await fw.wait_readable(sock.fileno())
        try:
            chunk = sock.recv(1 << 16)
        except BlockingIOError:
            continue
        if not chunk:
            return
        into.extend(chunk)


def test_splice_file_to_socket(framework: Any, datafile: str) -> None:
    """4 MiB from a file to a socket read by another task: every byte, in
    order, while the event loop keeps running other tasks."""
    fw = framework
    data = DATA * 16

    async def main() -> Tuple[int, bool, int]:
        mod = fw.module("splice")
        with open(datafile, "wb") as f:
            f.write(data)
        a, b = _socketpair()
        got = bytearray()
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await fw.sleep(0)

        with a, b, open(datafile, "rb") as f:
            async with fw.task_group() as tg:
                tg.spawn(_receive, fw, b, got)
                tick = tg.spawn(ticker)
                n = await mod.splice_copy_async(f, a, pipe_size=65536)
                a.shutdown(socket.SHUT_WR)
                tick.cancel()
        return n, bytes(got) == data, ticks

    n, same, ticks = fw.run(main, timeout=30)
    assert n == len(data) and same and ticks > 0


def test_splice_pipe_fed_slowly(framework: Any) -> None:
    """A pipe written in bursts by another task (the copy waits for input)
    to a socket: everything arrives; count and src_offset-free."""
    fw = framework

    async def main() -> Tuple[int, bool]:
        mod = fw.module("splice")
        r, w = os.pipe()
        os.set_blocking(w, False)
        a, b = _socketpair()
        got = bytearray()
        sent = bytearray()
        rng = random.Random(fw.name)

        async def feed() -> None:
            for _ in range(40):
                chunk = os.urandom(rng.randrange(1, 3000))
                os.write(w, chunk)  # well below the pipe's capacity
                sent.extend(chunk)
                await fw.sleep(rng.random() * 0.002)
            os.close(w)

        with a, b:
            async with fw.task_group() as tg:
                tg.spawn(_receive, fw, b, got)
                tg.spawn(feed)
                n = await fw.wait_for(20, mod.splice_copy_async, r, a)
                a.shutdown(socket.SHUT_WR)
        os.close(r)
        return n, bytes(got) == bytes(sent) and n == len(sent)

    n, same = fw.run(main)
    assert n > 0 and same


@pytest.mark.parametrize("seed", range(2))
def test_splice_cancelled_at_random(framework: Any, seed: int) -> None:
    """Copies cancelled at random points (waiting for input, or while
    bytes flow): no hang, no fd left (the copy's own pipe is closed)."""
    fw = framework
    rng = random.Random(f"splice-{fw.name}-{seed}")

    async def main() -> int:
        mod = fw.module("splice")
        before = open_fds()
        finished = 0
        for i in range(30):
            a, b = _socketpair()  # the copy reads b (fed by a), writes c (read from d)
            c, d = _socketpair()
            with a, b, c, d:
                if i % 2:
                    a.send(os.urandom(rng.randrange(1, 100_000)))
                async with fw.task_group() as tg:
                    tg.spawn(_receive, fw, d, bytearray())
                    async with fw.move_on_after(rng.random() * 0.005):
                        await mod.splice_copy_async(b, c)
                        finished += 1  # (only if a is closed: never here)
                    c.shutdown(socket.SHUT_WR)
        assert open_fds() == before
        return finished

    assert fw.run(main) == 0


def test_splice_refuses_a_blocking_socket(framework: Any) -> None:
    fw = framework

    async def main() -> str:
        mod = fw.module("splice")
        a, b = socket.socketpair()
        with a, b, pytest.raises(ValueError) as info:
            await mod.splice_copy_async(a, b)
        return str(info.value)

    assert "non-blocking" in fw.run(main)


# -- io_uring (the same RequestQueue, with batched submission) -------------------------
@pytest.mark.parametrize("seed", range(2))
def test_ring_round_trips_and_cancellation_storm(framework: Any, datafile: str, seed: int) -> None:
    """Ring_async: awaited reads batched by loop iteration return what
    os.pread reads; 200 reads and 20 recvs (of a socket nobody writes to)
    cancelled at random lose nothing: no hang, every read not cancelled
    returns its own bytes, nothing stays pending, no fd is left."""
    fw = framework
    rng = random.Random(f"uring-{fw.name}-{seed}")

    async def main() -> Tuple[int, int]:
        mod = fw.module("io_uring")
        before = open_fds()
        fd = os.open(datafile, os.O_RDONLY)
        a, b = socket.socketpair()
        try:
            async with mod.Ring_async(64, maxsize=rng.choice([0, 1, 3])) as ring:
                assert await fw.wait_for(5, ring.pread, fd, 20, 4) == DATA[4:24]

                async def recv() -> None:
                    await ring.recv(b.fileno(), 10)
                    raise AssertionError("nobody wrote to the socket")

                ok, cancelled = await _request_storm(fw, rng, ring, fd, 220, recv)
        finally:
            os.close(fd)
            a.close()
            b.close()
        assert open_fds() == before
        return ok, cancelled

    ok, cancelled = fw.run(main, timeout=30)
    assert ok > 0 and cancelled > 0
