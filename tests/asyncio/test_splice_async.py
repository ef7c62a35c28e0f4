"""butter.asyncio.splice.splice_copy_async."""

from __future__ import annotations

import asyncio
import os
import socket
import tempfile

import pytest
from conftest import open_fds

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
