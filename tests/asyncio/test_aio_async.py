"""butter.asyncio.aio.Context_async, checked against os.pread/os.pwrite."""

from __future__ import annotations

import asyncio
import errno
import fcntl
import gc
import os
import random
import select
import tempfile

import pytest
from conftest import open_fds

from butter.aio import Request
from butter.asyncio.aio import Context_async

try:
    import uvloop
except ImportError:  # pragma: no cover
    uvloop = None

LOOPS = ["asyncio"] + (["uvloop"] if uvloop is not None else [])


def run(main, loop_kind="asyncio"):
    if loop_kind == "uvloop":
        loop = uvloop.new_event_loop()
        try:
            return loop.run_until_complete(main())
        finally:
            loop.close()
    return asyncio.run(main())


@pytest.fixture
def datafile():
    base = "/var/tmp" if os.path.isdir("/var/tmp") else os.path.dirname(__file__)
    with tempfile.TemporaryDirectory(dir=base, prefix="butter-aio-") as d:
        path = os.path.join(d, "data")
        data = bytes(random.Random(3).getrandbits(8) for _ in range(32768))
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        os.pwrite(fd, data, 0)
        yield path, fd, data
        os.close(fd)


@pytest.mark.parametrize("loop_kind", LOOPS)
def test_round_trips(datafile, loop_kind):
    _path, fd, _data = datafile

    async def main():
        async with Context_async() as ctx:
            assert await ctx.pread(fd, 100, 50) == os.pread(fd, 100, 50)
            assert await ctx.pwrite(fd, b"async!", 10) == 6
            assert os.pread(fd, 6, 10) == b"async!"
            bufs = [bytearray(4), bytearray(6)]
            assert await ctx.preadv(fd, bufs, 10) == 10
            assert bytes(bufs[0] + bufs[1]) == os.pread(fd, 10, 10)
            assert await ctx.pwritev(fd, [b"ab", b"cd"], 0) == 4
            assert os.pread(fd, 4, 0) == b"abcd"
            assert await ctx.fsync(fd) == 0
            assert await ctx.fdsync(fd) == 0
            assert await ctx.pread(fd, 10, 10**6) == b""
            assert ctx.pending == 0 and ctx.empty()

    run(main, loop_kind)


@pytest.mark.parametrize("loop_kind", LOOPS)
def test_many_concurrent_awaits(datafile, loop_kind):
    _path, fd, data = datafile
    offsets = [random.Random(4).randrange(32768) for _ in range(1000)]

    async def main():
        async with Context_async(32) as ctx:
            results = await asyncio.gather(*(ctx.pread(fd, 64, off) for off in offsets))
            assert results == [data[off : off + 64] for off in offsets]
            assert ctx.pending == 0 and ctx.empty()

    run(main, loop_kind)


def test_errors_raise_from_await(datafile):
    _path, fd, _data = datafile

    async def main():
        async with Context_async() as ctx:
            with pytest.raises(OSError) as info:
                await ctx.pread(99999, 1, 0)
            assert info.value.errno == errno.EBADF
            with pytest.raises(OSError) as info:
                await ctx.pread(fd, 1, -1)
            assert info.value.errno == errno.EINVAL
            with pytest.raises(TypeError):
                await ctx.preadv(fd, [b"immutable"], 0)
            assert ctx.empty()

    run(main)


def test_cancelled_await_keeps_buffers_and_cancels(datafile):
    _path, fd, data = datafile
    r, w = os.pipe()

    async def main():
        async with Context_async() as ctx:
            task = asyncio.ensure_future(ctx.poll(r, select.POLLIN))
            await asyncio.sleep(0.01)
            assert ctx.pending == 1
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            for _ in range(100):  # the kernel's cancellation completes it
                if ctx.pending == 0:
                    break
                await asyncio.sleep(0.01)
            assert ctx.pending == 0
            # A read whose await is cancelled still completes (files cannot
            # be cancelled); its buffer is held until then.
            bufs = [bytearray(100)]
            task = asyncio.ensure_future(ctx.preadv(fd, bufs, 0))
            await asyncio.sleep(0)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            await asyncio.sleep(0.05)
            assert bytes(bufs[0]) == data[:100]
            # Still usable afterwards, nothing leaked into get().
            t = asyncio.ensure_future(ctx.poll(r, select.POLLIN))
            await asyncio.sleep(0.01)
            os.write(w, b"x")
            assert await asyncio.wait_for(t, 5) & select.POLLIN
            assert ctx.empty()

    try:
        run(main)
    finally:
        os.close(r)
        os.close(w)


def test_get_returns_sync_requests(datafile):
    _path, fd, data = datafile

    async def main():
        async with Context_async(maxsize=2) as ctx:
            reqs = [ctx.context.pread(fd, 5, i) for i in range(5)]
            got = [await asyncio.wait_for(ctx.get(), 5) for _ in range(5)]
            assert all(isinstance(g, Request) for g in got)
            assert sorted(map(id, got)) == sorted(map(id, reqs))
            # A full queue never stalls awaited requests.
            more = [ctx.context.fsync(fd) for _ in range(4)]
            await asyncio.sleep(0.05)
            assert ctx.full()
            assert await asyncio.wait_for(ctx.pread(fd, 3, 0), 5) == data[:3]
            rest = [await ctx.get() for _ in range(4)]
            assert sorted(map(id, rest)) == sorted(map(id, more))

    run(main)


def test_get_skips_requests_whose_result_was_read(datafile):
    _path, fd, data = datafile

    async def main():
        async with Context_async(maxsize=2) as ctx:
            sync = ctx.context
            # Consumed before the queue saw it.
            r = sync.pread(fd, 3, 0)
            assert r.result == data[:3]
            w = sync.pwrite(fd, b"x", 100)
            assert await asyncio.wait_for(ctx.get(), 5) is w
            assert ctx.empty()
            # Consumed while waiting in the queue (and in the cache behind it).
            reqs = [sync.pread(fd, 2, i) for i in range(5)]
            assert ctx.qsize() == 2  # maxsize: the rest wait in the cache
            assert reqs[0].result == data[0:2]  # in the queue
            assert reqs[3].result == data[3:5]  # in the cache
            got = [await asyncio.wait_for(ctx.get(), 5) for _ in range(3)]
            assert sorted(map(id, got)) == sorted(map(id, [reqs[1], reqs[2], reqs[4]]))
            assert ctx.empty()
            # Awaited requests still work alongside.
            assert await ctx.pread(fd, 3, 0) == data[:3]
            assert ctx.empty()

    run(main)


def test_close_fails_pending_awaits(datafile):
    r, w = os.pipe()

    async def main():
        ctx = Context_async()
        task = asyncio.ensure_future(ctx.poll(r, select.POLLIN))
        getter = asyncio.ensure_future(ctx.get())
        await asyncio.sleep(0.01)
        ctx.close()
        with pytest.raises(OSError) as info:
            await task
        assert info.value.errno == errno.ECANCELED
        with pytest.raises(ValueError):
            await getter
        with pytest.raises(ValueError):
            await ctx.pread(r, 1, 0)

    try:
        run(main)
    finally:
        os.close(r)
        os.close(w)


def test_cloexec_and_no_leak(datafile):
    _path, fd, data = datafile
    nr = _aio_contexts()
    fds = open_fds()

    async def use_one():
        async with Context_async(4) as ctx:
            assert fcntl.fcntl(ctx.fileno(), fcntl.F_GETFD) & fcntl.FD_CLOEXEC
            assert await ctx.pread(fd, 3, 0) == data[:3]

    from concurrent.futures import ThreadPoolExecutor

    for _ in range(8):  # 2,000 in all; closes overlap (io_destroy waits ~30 ms)
        run(use_one)
        ctxs = [Context_async(4) for _ in range(249)]  # not bound to a loop
        with ThreadPoolExecutor(16) as pool:
            list(pool.map(lambda c: c.close(), ctxs))
    gc.collect()
    assert open_fds() == fds
    assert _aio_contexts() == nr


def test_uses_only_the_documented_context_interface():
    """butter.asyncio.aio touches private attributes only of itself (``self``,
    ``super()``, or ``queue``: itself behind a weak reference) -- never of the
    Context or of a Request, which it drives through prepare(),
    submit_awaited(), lend(), report(), cancel() and done()/result."""
    import ast

    import butter.asyncio.aio as module

    with open(module.__file__) as f:
        tree = ast.parse(f.read())
    offenders = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Attribute):
            continue
        name = node.attr
        if not name.startswith("_") or (name.startswith("__") and name.endswith("__")):
            continue
        base = node.value
        if isinstance(base, ast.Name) and base.id in ("self", "queue"):
            continue
        if isinstance(base, ast.Call) and getattr(base.func, "id", None) == "super":
            continue  # the queue base class's own hooks
        offenders.append(f"line {node.lineno}: {ast.unparse(node)}")
    assert offenders == []


def _aio_contexts() -> int:
    """AIO contexts alive in this process (each maps its ring as /[aio]);
    /proc/sys/fs/aio-nr is machine-wide and moves with other processes."""
    with open("/proc/self/maps") as f:
        return sum(1 for line in f if line.rstrip().endswith(("/[aio]", "/[aio] (deleted)")))
