"""butter.asyncio.splice.splice_copy_async."""

from __future__ import annotations

import asyncio
import fcntl
import os
import socket
import tempfile
import threading

import pytest
from conftest import open_fds, run_bounded, stream_pair

from butter.asyncio.splice import splice_copy_async


def _file_with(data: bytes):
    f = tempfile.TemporaryFile(dir="/dev/shm")  # noqa: SIM115 - returned open
    f.write(data)
    f.flush()
    f.seek(0)
    return f


@pytest.mark.parametrize("size", [0, 1, 4096, 20 << 20])
def test_file_to_socket(size):
    data = os.urandom(size)

    async def main():
        loop = asyncio.get_running_loop()
        a, b = socket.socketpair()
        a.setblocking(False)
        b.setblocking(False)
        got = bytearray()

        async def receive():
            while True:
                chunk = await loop.sock_recv(b, 1 << 16)
                if not chunk:
                    return
                got.extend(chunk)

        ticks = 0

        async def ticker():  # the loop keeps running during the copy
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0)

        with a, b, _file_with(data) as f:
            rx = asyncio.ensure_future(receive())
            tick = asyncio.ensure_future(ticker())
            n = await splice_copy_async(f, a, pipe_size=65536)
            a.shutdown(socket.SHUT_WR)
            await rx
            tick.cancel()
        return n, bytes(got), ticks

    before = open_fds()
    n, got, ticks = asyncio.run(main())
    assert n == size and got == data
    if size >= 1 << 20:
        assert ticks > 1
    assert open_fds() == before


def test_pipe_to_file_with_count_and_offset():
    data = os.urandom(1 << 20)

    async def main():
        r, w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)

        async def feed():
            loop = asyncio.get_running_loop()
            view = memoryview(data)
            while view:
                try:
                    view = view[os.write(w, view[:65536]) :]
                except BlockingIOError:
                    fut = loop.create_future()
                    loop.add_writer(w, fut.set_result, None)
                    await fut
                    loop.remove_writer(w)
                await asyncio.sleep(0)
            os.close(w)

        with tempfile.TemporaryFile(dir="/dev/shm") as out:
            feeder = asyncio.ensure_future(feed())
            n = await splice_copy_async(r, out, 100000, dst_offset=2_000_000)
            rest = await splice_copy_async(r, out)
            await feeder
            os.close(r)
            return (
                n,
                rest,
                os.pread(out.fileno(), 200000, 2_000_000),
                os.pread(out.fileno(), len(data), 0),
            )

    n, rest, head, whole = asyncio.run(main())
    assert n == 100000 and rest == len(data) - 100000
    assert head == data[:100000]  # at the offset
    assert whole[: len(data) - 100000] == data[100000:]  # at the position (0)


def test_blocking_socket_refused():
    async def main():
        a, b = socket.socketpair()
        with (
            a,
            b,
            _file_with(b"x") as f,
            pytest.raises(ValueError, match="non-blocking"),
        ):
            await splice_copy_async(f, a)

    before = open_fds()
    asyncio.run(main())
    assert open_fds() == before


def test_broken_pipe():
    async def main():
        a, b = socket.socketpair()
        a.setblocking(False)
        b.close()
        with a, _file_with(b"x" * 100000) as f, pytest.raises(BrokenPipeError):
            await splice_copy_async(f, a)

    asyncio.run(main())


# -- any pipe size, any fd kind, never a hang (issue 7) -----------------------------
# Each group of copies runs in a forked child that reports every finished copy;
# the parent kills the child when one takes longer than HANG_S, so a deadlock
# FAILS instead of stalling the run.
HANG_S = 15.0
PAGE = os.sysconf("SC_PAGE_SIZE")
PIPE_SIZES = [4096, 8192, 65536, None]
PIPE_IDS = ["4k", "8k", "64k", "default"]
FEED_CHUNKS = [1, 100, 4095, 4097, 65536]


def _sizes_around(pipe_size):
    p = max(pipe_size or (1 << 20), PAGE)
    return [0, 1, p // 2 + 1, p - 1, p, p + 1, 2 * p + 1, (3 << 20) + 7]


def _thread(fn):
    t = threading.Thread(target=fn, daemon=True)
    t.start()
    return t


def _copy_case(case):
    """splice_copy_async from *src* (``file``, ``file@1``, ``pipe``,
    ``socketpair``, ``tcp``) to *dst* (``file``, ``socketpair``, ``tcp``);
    the other ends are fed and drained by blocking threads."""
    src_kind, dst_kind, pipe_size, size = case
    data = os.urandom(size)
    closers = []
    threads = []
    got = []
    kw = {"pipe_size": pipe_size}

    def feed(fd, done):
        view, i = memoryview(data), 0
        while view:
            view = view[os.write(fd, view[: FEED_CHUNKS[i % len(FEED_CHUNKS)]]) :]
            i += 1
        done()

    try:
        if src_kind.startswith("file"):
            f = _file_with(b"x" + data if src_kind == "file@1" else data)
            closers.append(f.close)
            src = f.fileno()
            if src_kind == "file@1":
                kw["src_offset"] = 1
        elif src_kind == "pipe":
            src, w = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)
            os.set_blocking(w, True)
            closers.append(lambda: os.close(src))
            if pipe_size:
                fcntl.fcntl(w, 1031, pipe_size)  # F_SETPIPE_SZ
            threads.append(_thread(lambda: feed(w, lambda: os.close(w))))
        else:
            a, b = stream_pair(src_kind)
            closers += [a.close, b.close]
            b.setblocking(False)
            src = b.fileno()
            threads.append(_thread(lambda: feed(a.fileno(), lambda: a.shutdown(socket.SHUT_WR))))
        after = None
        if dst_kind == "file":
            out = tempfile.TemporaryFile(dir="/dev/shm")  # noqa: SIM115 - closed below
            closers.append(out.close)
            dst = out.fileno()
        else:
            c, d = stream_pair(dst_kind)
            closers += [c.close, d.close]
            c.setblocking(False)
            dst = c.fileno()

            def sink():
                while chunk := d.recv(1 << 20):
                    got.append(chunk)

            threads.append(_thread(sink))
            after = lambda: c.shutdown(socket.SHUT_WR)  # noqa: E731

        n = asyncio.run(splice_copy_async(src, dst, **kw))
        if after:
            after()
        for t in threads:
            t.join()
        copied = os.pread(dst, size + 1, 0) if dst_kind == "file" else b"".join(got)
        if n != size:
            return f"returned {n}, expected {size}"
        if copied != data:
            return f"copied {len(copied)} bytes that differ from the {size} sent"
        return None
    finally:
        for close in reversed(closers):
            close()


COPY_KINDS = [
    ("file", "file"),
    ("file@1", "file"),
    ("file", "socketpair"),
    ("file", "tcp"),
    ("socketpair", "socketpair"),
    ("tcp", "tcp"),
    ("tcp", "file"),
    ("pipe", "file"),
    ("pipe", "socketpair"),
]


@pytest.mark.parametrize("pipe_size", PIPE_SIZES, ids=PIPE_IDS)
@pytest.mark.parametrize("src_kind,dst_kind", COPY_KINDS, ids=[f"{a}->{b}" for a, b in COPY_KINDS])
def test_any_pipe_size(src_kind, dst_kind, pipe_size):
    """Every byte arrives, unchanged, whatever the pipe size and fd kinds
    (the old pump, its pipe full, waited on a regular file: EPERM)."""
    cases = [(src_kind, dst_kind, pipe_size, n) for n in _sizes_around(pipe_size)]
    run_bounded(_copy_case, cases)


@pytest.mark.parametrize("pipe_size", PIPE_SIZES, ids=PIPE_IDS)
@pytest.mark.parametrize("kind", ["socketpair", "tcp"])
def test_forwards_before_waiting_for_more_input(kind, pipe_size):
    """A peer waiting for its message to arrive before sending the next
    gets it: what was read is delivered before waiting for more input."""

    async def main():
        loop = asyncio.get_running_loop()
        a, b = stream_pair(kind)
        c, d = stream_pair(kind)
        with a, b, c, d:
            for s in (a, b, c, d):
                s.setblocking(False)
            copy = asyncio.ensure_future(splice_copy_async(b, c, pipe_size=pipe_size))
            for message in (b"ping", b"x" * 100000, b"pong"):
                await loop.sock_sendall(a, message)
                got = bytearray()
                while len(got) < len(message):
                    chunk = await asyncio.wait_for(loop.sock_recv(d, 1 << 20), HANG_S)
                    assert chunk
                    got += chunk
                assert got == message
            a.shutdown(socket.SHUT_WR)
            return await asyncio.wait_for(copy, HANG_S)

    assert asyncio.run(main()) == 4 + 100000 + 4


def test_progress_per_chunk_and_yields():
    data = os.urandom(1 << 20) * 40  # 40 MiB: past the 16 MiB budget twice
    calls: list[int] = []
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    async def main() -> int:
        task = asyncio.ensure_future(ticker())
        try:
            with _file_with(data) as f, tempfile.TemporaryFile(dir="/dev/shm") as out:
                n = await splice_copy_async(f, out, pipe_size=1 << 20, progress=calls.append)
                assert os.fstat(out.fileno()).st_size == n
                return n
        finally:
            task.cancel()

    assert asyncio.run(main()) == len(data) == calls[-1]
    assert calls == sorted(set(calls)) and len(calls) >= 40
    assert ticks >= 2  # still yields to the loop between budgets

    async def bad() -> None:
        with _file_with(b"x") as f, tempfile.TemporaryFile(dir="/dev/shm") as out:
            await splice_copy_async(f, out, progress="no")  # type: ignore[arg-type]

    with pytest.raises(TypeError, match="progress must be callable"):
        asyncio.run(bad())
