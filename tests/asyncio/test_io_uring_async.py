"""butter.asyncio.io_uring.Ring_async, checked against os.pread/os.pwrite
and sockets."""

from __future__ import annotations

import asyncio
import errno
import os
import random
import socket
import tempfile

import pytest
from conftest import open_fds

from butter.aio import Request
from butter.asyncio.io_uring import Ring_async

try:
    import uvloop
except ImportError:  # pragma: no cover
    uvloop = None

LOOPS = ["asyncio"] + (["uvloop"] if uvloop is not None else [])


def run(main, loop_kind="asyncio"):
    async def bounded():
        return await asyncio.wait_for(main(), 30)  # a hang fails, never stalls

    if loop_kind == "uvloop":
        loop = uvloop.new_event_loop()
        try:
            return loop.run_until_complete(bounded())
        finally:
            loop.close()
    return asyncio.run(bounded())


@pytest.fixture
def datafile():
    base = "/var/tmp" if os.path.isdir("/var/tmp") else os.path.dirname(__file__)
    with tempfile.TemporaryDirectory(dir=base, prefix="butter-uring-async-") as d:
        path = os.path.join(d, "data")
        data = random.Random(3).randbytes(65536)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        os.pwrite(fd, data, 0)
        yield path, fd, data
        os.close(fd)


@pytest.mark.parametrize("loop_kind", LOOPS)
def test_file_requests(datafile, loop_kind):
    path, fd, data = datafile

    async def main():
        async with Ring_async(32) as ring:
            got = await asyncio.gather(*(ring.pread(fd, 100, i * 100) for i in range(50)))
            assert got == [data[i * 100 : i * 100 + 100] for i in range(50)]
            assert await ring.pwrite(fd, b"hello", 3) == 5
            assert os.pread(fd, 5, 3) == b"hello"
            buf = bytearray(10)
            assert await ring.preadv(fd, [buf], 3) == 10
            assert bytes(buf[:5]) == b"hello"
            assert await ring.pwritev(fd, [b"ab", b"cd"], 0) == 4
            assert await ring.fsync(fd) == 0
            assert await ring.fdsync(fd) == 0
            nfd = await ring.openat(None, path, os.O_RDONLY)
            assert os.pread(nfd, 4, 0) == b"abcd"
            assert await ring.close_fd(nfd) == 0
            assert await ring.nop() == 0
            assert await ring.timeout(0.01) == 0
            with pytest.raises(OSError) as info:
                await ring.pread(9999, 1, 0)
            assert info.value.errno == errno.EBADF
            r, w = os.pipe()
            try:
                assert await ring.splice(fd, w, 0, None, 4) == 4
                assert os.read(r, 4) == b"abcd"
            finally:
                os.close(r)
                os.close(w)
            assert ring.pending == 0

    run(main, loop_kind)


@pytest.mark.parametrize("loop_kind", LOOPS)
def test_sockets_and_cancel(loop_kind):
    async def main():
        srv = socket.socket()
        srv.bind(("127.0.0.1", 0))
        srv.listen()
        async with Ring_async(16) as ring:
            acc = asyncio.ensure_future(ring.accept(srv))
            await asyncio.sleep(0)
            cli = socket.create_connection(srv.getsockname())
            fd = await acc
            with cli, socket.socket(fileno=fd) as conn:
                assert await ring.send(conn, b"ping") == 4
                assert cli.recv(4) == b"ping"
                cli.sendall(b"pong")
                assert await ring.recv(conn, 10) == b"pong"
                # Cancelling an await cancels the request in the kernel.
                task = asyncio.ensure_future(ring.recv(conn, 10))
                await asyncio.sleep(0.05)
                task.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await task
                for _ in range(100):
                    if ring.pending == 0:
                        break
                    await asyncio.sleep(0.01)
                assert ring.pending == 0
        srv.close()

    run(main, loop_kind)


def test_queue_of_sync_requests(datafile):
    _path, fd, data = datafile

    async def main():
        async with Ring_async(16) as ring:
            reqs = [ring.ring.pread(fd, 10, i) for i in range(5)]
            ring.ring.submit()
            got = [await ring.get() for _ in range(5)]
            assert sorted(map(id, got)) == sorted(map(id, reqs))
            assert all(type(r) is Request for r in got)
            assert [r.result for r in reqs] == [data[i : i + 10] for i in range(5)]
            assert ring.empty()
            # Without submit(): get() finding the queue empty submits what
            # is queued before it waits (as the sync get_events() does).
            reqs = [ring.ring.pread(fd, 10, i) for i in range(5)]
            got = [await asyncio.wait_for(ring.get(), 5) for _ in range(5)]
            assert sorted(map(id, got)) == sorted(map(id, reqs))
            assert ring.ring.pending == 0

    run(main)


def test_close_with_awaits_in_flight_and_no_leak():
    fds = open_fds()

    async def main():
        for _ in range(50):
            ring = Ring_async(8)
            task = asyncio.ensure_future(ring.timeout(100))
            await asyncio.sleep(0)
            ring.close()
            with pytest.raises((OSError, asyncio.CancelledError)):
                await task

    run(main)
    assert open_fds() == fds
