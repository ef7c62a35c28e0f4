"""butter.aio against the kernel, checked with os.pread/os.pwrite/os.preadv."""

from __future__ import annotations

import errno
import fcntl
import gc
import os
import random
import select
import sys
import tempfile

import pytest
from conftest import assert_clean_error, in_child, open_fds, run_python

from butter import aio as A
from butter._lowlevel import lib

PYPY = sys.implementation.name == "pypy"


def aio_nr() -> int:
    """AIO contexts alive in *this* process: each maps its ring as
    ``/[aio]``.  (/proc/sys/fs/aio-nr is machine-wide: other processes using
    AIO at the same time would make it lie.)"""
    with open("/proc/self/maps") as f:
        return sum(1 for line in f if line.rstrip().endswith(("/[aio]", "/[aio] (deleted)")))


@pytest.fixture
def workdir():
    # Not /tmp: it may be tmpfs, which refuses O_DIRECT.
    base = "/var/tmp" if os.path.isdir("/var/tmp") else os.path.dirname(__file__)
    with tempfile.TemporaryDirectory(dir=base, prefix="butter-aio-") as d:
        yield d


@pytest.fixture
def datafile(workdir):
    """(path, fd, data): a 64 KiB file of random bytes, opened O_RDWR."""
    path = os.path.join(workdir, "data")
    data = random.Random(1).randbytes(65536)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    os.pwrite(fd, data, 0)
    yield path, fd, data
    os.close(fd)


@pytest.fixture
def ctx():
    with A.Context() as c:
        yield c


def ref_preadv(fd: int, buffers: list, offset: int) -> int:
    """os.preadv, or a pread per buffer where os lacks it (PyPy 3.9)."""
    if hasattr(os, "preadv"):
        return os.preadv(fd, buffers, offset)
    total = 0
    for buf in buffers:
        data = os.pread(fd, len(buf), offset + total)
        buf[: len(data)] = data
        total += len(data)
    return total


def direct_fd(path: str) -> int:
    try:
        fd = os.open(path, os.O_RDWR | os.O_DIRECT)
    except OSError as exc:
        pytest.skip(f"O_DIRECT unsupported here: {exc}")
    with A.Context(1) as ctx:
        exc = ctx.pread(fd, 4096, 0).exception
    if exc is not None:
        os.close(fd)
        pytest.skip(f"O_DIRECT reads fail here: {exc}")
    return fd


# -- constants and buffers -----------------------------------------------------------
def test_constants_from_headers():
    assert (A.IOCB_CMD_PREAD, A.IOCB_CMD_PWRITE, A.IOCB_CMD_FSYNC, A.IOCB_CMD_FDSYNC) == (
        0,
        1,
        2,
        3,
    )
    assert (A.IOCB_CMD_PREADV, A.IOCB_CMD_PWRITEV, A.IOCB_CMD_POLL) == (7, 8, 5)
    assert A.IOCB_FLAG_RESFD == 1


@pytest.mark.parametrize("size,alignment", [(0, 4096), (1, 512), (4096, 4096), (10000, 65536)])
def test_aligned_buffer(size, alignment):
    from butter._lowlevel import ffi

    buf = A.aligned_buffer(size, alignment)
    assert len(buf) == size and not buf.readonly
    assert bytes(buf) == bytes(size)
    if size:
        assert int(ffi.cast("uintptr_t", ffi.from_buffer(buf))) % alignment == 0
        buf[:] = b"x" * size


# -- the package ----------------------------------------------------------------------
SUBMODULES = [
    "_constants",
    "_buffers",
    "_thin",
    "_request",
    "_delivery",
    "_context",
]  # bottom first


@pytest.mark.parametrize("name", SUBMODULES)
def test_submodule_imports_first(name):
    run_python(f"import butter.aio.{name}")


def test_submodules_import_only_lower_parts():
    """No circle: each part imports (at run time) only the parts below it,
    never the package itself."""
    import ast
    import importlib

    for i, name in enumerate(SUBMODULES):
        module = importlib.import_module(f"butter.aio.{name}")
        with open(module.__file__) as f:
            tree = ast.parse(f.read())
        for node in tree.body:  # module level: TYPE_CHECKING blocks are `if`s
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                assert node.module in SUBMODULES[:i], (name, node.module)
            elif isinstance(node, ast.Import):
                assert not any(a.name.startswith("butter") for a in node.names), name


def test_public_names_and_pickling():
    import pickle

    for name in A.__all__:
        obj = getattr(A, name)
        if callable(obj):
            assert obj.__module__ == "butter.aio", name
    for name in ("Context", "IoEvent", "Iocb", "Request"):
        assert getattr(A, name).__module__ == "butter.aio"
    ev = A.IoEvent(1, 0x1000, 4096, 0, None)  # picklable before the split: still
    assert pickle.loads(pickle.dumps(ev)) == ev
    assert pickle.dumps(ev).count(b"butter.aio") == 1 and b"_thin" not in pickle.dumps(ev)


# -- thin wrappers -----------------------------------------------------------------
def test_thin_round_trip(datafile):
    _path, fd, data = datafile
    before = aio_nr()
    ctx = A.io_setup(8)
    try:
        assert aio_nr() == before + 1  # one context (its ring mapping)
        buf = bytearray(100)
        iocbs = [
            A.Iocb(A.IOCB_CMD_PWRITE, fd, b"thin", 70000, data=7),
            A.Iocb(A.IOCB_CMD_PREAD, fd, buf, 1000, data=8),
            A.Iocb(A.IOCB_CMD_FSYNC, fd),
        ]
        assert A.io_submit(ctx, iocbs) == 3
        assert all(i.in_flight for i in iocbs)
        with pytest.raises(ValueError):
            A.io_submit(ctx, iocbs[:1])  # still in flight
        events = []
        while len(events) < 3:
            events += A.io_getevents(ctx, 1, 8, timeout=5)
        by_data = {ev.data: ev for ev in events}
        assert by_data[7].res == 4 and by_data[7].iocb is iocbs[0]
        assert by_data[8].res == 100 and by_data[8].obj == iocbs[1].address
        assert bytes(buf) == data[1000:1100]
        assert not any(i.in_flight for i in iocbs)
        assert os.pread(fd, 4, 70000) == b"thin"
        assert A.io_getevents(ctx, 0, 8, timeout=0) == []
        # File I/O cannot be cancelled; a poll can.
        r, w = os.pipe()
        poll = A.Iocb(A.IOCB_CMD_POLL, r, select.POLLIN)
        assert A.io_submit(ctx, [poll]) == 1
        A.io_cancel(ctx, poll)
        (ev,) = A.io_getevents(ctx, 1, 1, timeout=5)
        assert ev.iocb is poll
        os.close(r)
        os.close(w)
        # The first iocb refused: its errno raises.
        with pytest.raises(OSError) as info:
            A.io_submit(ctx, [A.Iocb(A.IOCB_CMD_PREAD, 99999, bytearray(1), 0)])
        assert info.value.errno == errno.EBADF
    finally:
        A.io_destroy(ctx)
    assert aio_nr() == before
    with pytest.raises(OSError) as info:
        A.io_destroy(ctx)
    assert info.value.errno == errno.EINVAL


def test_thin_keeps_iocb_alive(datafile):
    _path, fd, data = datafile
    ctx = A.io_setup(4)
    try:
        A.io_submit(ctx, [A.Iocb(A.IOCB_CMD_PREAD, fd, bytearray(10), 5)])
        gc.collect()
        (ev,) = A.io_getevents(ctx, 1, 4)
        assert ev.res == 10 and bytes(ev.iocb.buf) == data[5:15]
    finally:
        A.io_destroy(ctx)


# -- Context: round trips against os ---------------------------------------------------
def test_pread_pwrite_like_os(ctx, datafile):
    _path, fd, _data = datafile
    for offset, length in [
        (0, 1),
        (1, 4095),
        (4096, 4096),
        (60000, 10000),
        (65536, 10),
        (70000, 5),
    ]:
        req = ctx.pread(fd, length, offset)
        assert ctx.get_events() == [req]
        assert req.done() and req.exception is None
        assert req.result == os.pread(fd, length, offset)
    w = ctx.pwrite(fd, b"butter", 100)
    assert w.result == os.pwrite(fd, b"butter", 200) == 6
    assert os.pread(fd, 6, 100) == b"butter"
    w = ctx.pwrite(fd, memoryview(bytearray(b"0123456789"))[2:5], 3)
    assert w.result == 3 and os.pread(fd, 3, 3) == b"234"
    assert ctx.pread(fd, 0, 0).result == b""


def test_pwrite_copies_or_pins(ctx, datafile):
    _path, fd, _data = datafile
    payload = bytearray(b"a" * 100)
    w = ctx.pwrite(fd, payload, 0)
    payload[:] = b"b" * 100  # unaligned: butter copied it
    payload.extend(b"more")
    assert w.result == 100 and os.pread(fd, 100, 0) == b"a" * 100
    buf = A.aligned_buffer(4096)
    buf[:] = b"c" * 4096
    assert ctx.pwrite(fd, buf, 0).result == 4096
    assert os.pread(fd, 4096, 0) == b"c" * 4096


def test_direct_io_round_trip(ctx, datafile):
    path, fd, data = datafile
    dfd = direct_fd(path)
    try:
        offsets = [4096 * i for i in (0, 3, 7, 15)]
        reads = [ctx.pread(dfd, 4096, off) for off in offsets]
        assert [r.result for r in reads] == [data[off : off + 4096] for off in offsets]
        block = os.urandom(8192)
        assert ctx.pwrite(dfd, block, 8192).result == 8192  # bytes: copied to aligned memory
        assert os.pread(fd, 8192, 8192) == block
        bufs = [A.aligned_buffer(4096), A.aligned_buffer(8192)]
        assert ctx.preadv(dfd, bufs, 4096).result == 12288
        assert bytes(bufs[0]) + bytes(bufs[1]) == os.pread(fd, 12288, 4096)
        bufs[0][:] = b"v" * 4096
        assert ctx.pwritev(dfd, bufs, 0).result == 12288
        assert os.pread(fd, 4096, 0) == b"v" * 4096
        # Misaligned O_DIRECT: the kernel's EINVAL, as os.pread gives.
        with pytest.raises(OSError) as ref:
            os.pread(dfd, 100, 1)
        bad = ctx.pread(dfd, 100, 1)
        assert bad.exception.errno == ref.value.errno == errno.EINVAL
        assert ctx.fsync(dfd).result == 0
    finally:
        os.close(dfd)


def test_vectored_like_os(ctx, datafile):
    _path, fd, _data = datafile
    bufs = [bytearray(3), bytearray(0), memoryview(bytearray(10))]
    ref = [bytearray(3), bytearray(0), bytearray(10)]
    r = ctx.preadv(fd, bufs, 50)
    assert r.result == ref_preadv(fd, ref, 50) == 13
    assert [bytes(b) for b in bufs] == [bytes(b) for b in ref]
    w = ctx.pwritev(fd, [b"ab", bytearray(b"cd"), memoryview(b"ef")], 7)
    assert w.result == 6 and os.pread(fd, 6, 7) == b"abcdef"
    with pytest.raises(TypeError):
        ctx.preadv(fd, [b"immutable"], 0)
    with pytest.raises(TypeError):
        ctx.preadv(fd, [bytearray(2), b"x"], 0)
    with pytest.raises(TypeError):
        ctx.preadv(fd, bytearray(4), 0)


def test_preadv_holds_the_buffers(ctx, datafile):
    _path, fd, data = datafile
    ba = bytearray(10)
    r = ctx.preadv(fd, [ba], 0)
    if not PYPY:  # CPython: the export forbids resizing until collected
        with pytest.raises(BufferError):
            ba.extend(b"x")
    ctx.get_events()
    ba.extend(b"x")
    assert bytes(ba[:10]) == data[:10] and r.result == 10
    # Buffers only the request references survive until it completes.
    req = ctx.preadv(fd, [bytearray(7) for _ in range(3)], 0)
    gc.collect()
    assert req.result == 21


def test_fsync_fdsync(ctx, datafile):
    _path, fd, _data = datafile
    reqs = [ctx.fsync(fd), ctx.fdsync(fd)]
    assert [r.result for r in reqs] == [0, 0]
    assert ctx.get_events(0, 10, 0) == []  # consumed by .result: not reported again
    reqs = [ctx.fsync(fd), ctx.fdsync(fd)]
    assert sorted(ctx.get_events(2), key=reqs.index) == reqs


def test_many_concurrent_reads(datafile):
    _path, fd, data = datafile
    rng = random.Random(2)
    offsets = [rng.randrange(0, 65536) for _ in range(1000)]
    with A.Context(64) as ctx:  # far fewer slots than requests
        reqs = [ctx.pread(fd, 512, off) for off in offsets]
        done = []
        while len(done) < len(reqs):
            done += ctx.get_events(1, 1000, timeout=10)
        assert sorted(map(id, done)) == sorted(map(id, reqs))  # each once
        assert [r.result for r in reqs] == [data[off : off + 512] for off in offsets]
        assert ctx.pending == 0


def test_many_direct_reads_in_flight(datafile):
    path, _fd, data = datafile
    dfd = direct_fd(path)
    try:
        with A.Context(128) as ctx:
            with ctx.batch():
                reqs = [ctx.pread(dfd, 4096, 4096 * (i % 16)) for i in range(1000)]
            got = 0
            while got < 1000:
                got += len(ctx.get_events(1, 1000, timeout=10))
            assert all(
                r.result == data[4096 * (i % 16) : 4096 * (i % 16 + 1)] for i, r in enumerate(reqs)
            )
    finally:
        os.close(dfd)


def test_batch_submits_once(ctx, datafile):
    _path, fd, data = datafile
    with ctx.batch():
        reqs = [ctx.pread(fd, 10, i * 10) for i in range(20)]
        with ctx.batch():  # nests
            reqs.append(ctx.fsync(fd))
        assert ctx.pending == 0 and not any(r.done() for r in reqs)
        assert ctx.cancel(reqs[0]) is True  # not yet submitted
    assert reqs[0].exception.errno == errno.ECANCELED
    results = ctx.get_events(20, 100, timeout=10)
    assert len(results) == 20 and reqs[0] not in results  # its exception was read
    assert [r.result for r in reqs[1:20]] == [data[i * 10 : i * 10 + 10] for i in range(1, 20)]


# -- event-like behaviour ---------------------------------------------------------------
def test_readiness_follows_completions(ctx, datafile):
    _path, fd, _data = datafile
    poller = select.poll()
    poller.register(ctx, select.POLLIN)
    assert poller.poll(0) == []
    assert ctx.wait(0) is None
    req = ctx.pread(fd, 5, 0)
    assert poller.poll(5000)
    assert ctx.read_events() == [req]
    assert poller.poll(0) == []
    reqs = [ctx.pread(fd, 5, i) for i in range(3)]
    assert poller.poll(5000)
    assert ctx.read_event() in reqs
    assert poller.poll(0)  # two more to report
    assert ctx.wait(5) in reqs
    assert ctx.get_events(0, 10, 0)[0] in reqs
    assert poller.poll(0) == []
    assert select.select([ctx], [], [], 0)[0] == []


def test_non_blocking_read(ctx, datafile):
    _path, fd, _data = datafile
    os.set_blocking(ctx.fileno(), False)
    with pytest.raises(BlockingIOError):
        ctx.read_events()
    req = ctx.fdsync(fd)
    select.select([ctx], [], [], 5)
    assert ctx.read_event() is req
    with pytest.raises(BlockingIOError):
        ctx.read_event()


@pytest.mark.parametrize("blocking", [True, False])
def test_get_events_empties_fileno_either_mode(ctx, datafile, blocking):
    """As for io_uring's Ring: the eventfd is emptied without blocking in
    either mode once everything was collected."""
    _path, fd, _data = datafile
    os.set_blocking(ctx.fileno(), blocking)
    for _ in range(3):
        reqs = [ctx.fdsync(fd) for _ in range(3)]
        got = []
        while len(got) < len(reqs):
            got += ctx.get_events(1, None, 5)
        assert sorted(map(id, got)) == sorted(map(id, reqs))
        assert select.select([ctx], [], [], 0)[0] == []
        assert ctx.get_events(0, None, 0) == []


def test_iteration_and_result_waits(ctx, datafile):
    _path, fd, data = datafile
    reqs = [ctx.pread(fd, 3, i) for i in range(4)]
    assert reqs[3].result == data[3:6]  # waits, keeps the others for iteration
    seen = [next(iter(ctx)) for _ in range(3)]
    assert sorted(map(id, seen)) == sorted(map(id, reqs[:3]))
    assert ctx.wait(0) is None


# -- each completion is delivered once ------------------------------------------------
def test_result_consumes_completion_get_events(ctx, datafile):
    _path, fd, data = datafile
    r = ctx.pread(fd, 3, 0)
    assert r.result == data[:3]
    w = ctx.pwrite(fd, b"x", 0)
    assert ctx.get_events() == [w]
    assert ctx.get_events(0, 10, 0) == []
    assert w.result == 1  # reading it after it was reported is fine
    assert select.select([ctx], [], [], 0)[0] == []


def test_result_consumes_completion_read_events(ctx, datafile):
    _path, fd, _data = datafile
    r = ctx.pread(fd, 3, 0)
    assert r.exception is None  # .exception consumes it too
    poller = select.poll()
    poller.register(ctx, select.POLLIN)
    assert poller.poll(0) == []  # nothing left to report
    w = ctx.pwrite(fd, b"x", 0)
    assert ctx.read_events() == [w]
    os.set_blocking(ctx.fileno(), False)
    with pytest.raises(BlockingIOError):
        ctx.read_events()


def test_result_consumes_completion_wait_and_iteration(ctx, datafile):
    _path, fd, data = datafile
    r = ctx.pread(fd, 3, 0)
    assert r.result == data[:3]
    assert ctx.wait(0) is None
    w = ctx.pwrite(fd, b"x", 0)
    assert ctx.wait(5) is w
    a, b = ctx.pread(fd, 1, 0), ctx.pread(fd, 1, 1)
    assert a.result == b"x"
    assert next(iter(ctx)) is b
    assert ctx.wait(0) is None


def test_done_then_result_consumes_cached(ctx, datafile):
    """Requests collected while waiting for another (so ``done()``) are
    consumed by reading their result, wherever they sit in the cache."""
    _path, fd, data = datafile
    reqs = [ctx.pread(fd, 2, i) for i in range(6)]
    assert reqs[5].result == data[5:7]  # the others are cached, undelivered
    assert all(r.done() for r in reqs)
    assert reqs[0].result == data[0:2]  # front of the cache
    assert reqs[3].result == data[3:5]  # middle
    assert ctx.read_event() is reqs[1]
    assert ctx.get_events(0, 10, 0) == [reqs[2], reqs[4]]
    # Consuming the last cached ones leaves fileno() idle.
    more = [ctx.pread(fd, 1, i) for i in range(3)]
    assert more[2].result == data[2:3]
    poller = select.poll()
    poller.register(ctx, select.POLLIN)
    assert poller.poll(0)
    assert [r.result for r in more[:2]] == [data[0:1], data[1:2]]
    assert poller.poll(0) == []
    assert ctx.wait(0) is None


def test_consumed_requests_lose_no_other_completion(datafile):
    """Overflowing a small context, then consuming results in random order:
    every other request is reported exactly once; in-flight buffers stay
    held (a poll on a pipe completes after the others were consumed)."""
    _path, fd, data = datafile
    rng = random.Random(7)
    r, w = os.pipe()
    try:
        with A.Context(16) as ctx:
            poll = ctx.poll(r, select.POLLIN)
            offsets = [rng.randrange(65000) for _ in range(600)]
            reqs = [ctx.pread(fd, 8, off) for off in offsets]  # overflows: cached
            taken = set(rng.sample(range(600), 300))
            for i in sorted(taken, reverse=True):
                assert reqs[i].result == data[offsets[i] : offsets[i] + 8]
            got = ctx.get_events(300, 1000, timeout=10)
            got += ctx.get_events(0, 1000, 0)
            assert sorted(map(id, got)) == sorted(id(reqs[i]) for i in range(600) if i not in taken)
            assert all(g.result == data[g.offset : g.offset + 8] for g in got)
            assert ctx.pending == 1 and not poll.done()
            gc.collect()
            os.write(w, b"!")
            assert ctx.get_events(1, 10, timeout=10) == [poll]
            assert poll.result & select.POLLIN
    finally:
        os.close(r)
        os.close(w)


# -- errors and cancellation ------------------------------------------------------------------
def test_errors_become_request_exceptions(ctx, datafile, workdir):
    path, fd, _data = datafile
    bad = ctx.pread(99999, 10, 0)
    assert bad.done() and bad.exception.errno == errno.EBADF
    with pytest.raises(OSError) as info:
        _ = bad.result
    assert info.value.errno == errno.EBADF
    wo = os.open(path, os.O_WRONLY)
    ro = os.open(path, os.O_RDONLY)
    try:
        assert ctx.pread(wo, 1, 0).exception.errno == errno.EBADF
        assert ctx.pwrite(ro, b"x", 0).exception.errno == errno.EBADF
    finally:
        os.close(wo)
        os.close(ro)
    neg = ctx.pread(fd, 1, -1)
    with pytest.raises(OSError) as ref:
        os.pread(fd, 1, -1)
    assert neg.exception.errno == ref.value.errno
    d = os.open(workdir, os.O_RDONLY)
    try:
        # read(2) says EISDIR; AIO finds no read_iter on a directory: EINVAL.
        assert ctx.pread(d, 1, 0).exception.errno == errno.EINVAL
    finally:
        os.close(d)
    # Each failure is delivered once, like any completion: here to .exception.
    assert ctx.get_events(0, 100, 0) == []
    assert select.select([ctx], [], [], 0)[0] == []
    # Not read first: get_events reports it.
    bad = ctx.pread(99999, 10, 0)
    assert ctx.get_events(0, 100, 0) == [bad] and bad.exception.errno == errno.EBADF


def test_cancel(ctx, datafile):
    _path, fd, data = datafile
    r, w = os.pipe()
    try:
        p = ctx.poll(r, select.POLLIN)
        assert not p.done()
        assert ctx.cancel(p) is True
        assert ctx.get_events(1, 10, timeout=5) == [p]
        assert p.exception.errno == errno.ECANCELED
        assert ctx.cancel(p) is False  # done
        q = ctx.poll(r, select.POLLIN)
        os.write(w, b"x")
        assert ctx.get_events(1, 1, 5) == [q] and q.result & select.POLLIN
        # File reads cannot be cancelled: they complete normally.
        f = ctx.pread(fd, 10, 0)
        assert ctx.cancel(f) is False
        assert f.result == data[:10]
        with pytest.raises(TypeError):
            ctx.cancel("request")
        with A.Context() as other:
            g = other.poll(r, select.POLLPRI)
            with pytest.raises(ValueError):
                ctx.cancel(g)
    finally:
        os.close(r)
        os.close(w)


def test_close_with_requests_in_flight(datafile):
    path, fd, data = datafile
    r, w = os.pipe()
    ctx = A.Context(256)
    try:
        dfd = os.open(path, os.O_RDONLY | os.O_DIRECT)
    except OSError:
        dfd = os.dup(fd)
    try:
        with ctx.batch():
            reads = [ctx.pread(dfd, 4096, 4096 * (i % 16)) for i in range(200)]
        poll = ctx.poll(r, select.POLLIN)  # never completes by itself
        ctx.close()  # must neither hang nor let the kernel write freed memory
        assert poll.done() and poll.exception.errno == errno.ECANCELED
        for i, req in enumerate(reads):
            assert req.done()
            if req.exception is None:
                assert req.result == data[4096 * (i % 16) : 4096 * (i % 16 + 1)]
            else:
                assert req.exception.errno == errno.ECANCELED
        gc.collect()
        with pytest.raises(ValueError, match="closed"):
            ctx.pread(fd, 1, 0)
        with pytest.raises(ValueError, match="closed"):
            ctx.get_events()
    finally:
        os.close(dfd)
        os.close(r)
        os.close(w)


def test_close_in_fork_child_leaves_parent_alone(ctx, datafile):
    _path, _fd, _data = datafile
    r, w = os.pipe()
    try:
        p = ctx.poll(r, select.POLLIN)

        def child():
            ctx.close()  # no AIO context here: must not touch the parent's
            return "ok"

        assert in_child(child) == "ok"
        os.write(w, b"x")
        assert ctx.get_events(1, 1, 5) == [p]
    finally:
        os.close(r)
        os.close(w)


# -- the adapter interface (prepare, submit_awaited, lend, report) -----------------------
def test_prepare_builds_without_submitting(ctx, datafile):
    _path, fd, data = datafile
    req = ctx.prepare("pread", fd, 5, 0)
    assert isinstance(req, A.Request) and not req.done() and ctx.pending == 0
    assert "unsubmitted" in repr(req)
    with pytest.raises(RuntimeError, match="never submitted"):
        _ = req.result
    assert ctx.get_events(0, 10, 0) == []
    for op, args in [
        ("pwrite", (fd, b"x", 0)),
        ("preadv", (fd, [bytearray(2)], 0)),
        ("pwritev", (fd, [b"ab"], 0)),
        ("fsync", (fd,)),
        ("fdsync", (fd,)),
        ("poll", (fd, select.POLLIN)),
    ]:
        r = ctx.prepare(op, *args)
        assert r.op == op and not r.done()
    done = []
    ctx.submit_awaited(req, done.append)
    assert req.result == data[:5] and done == [req]


def test_prepare_checks_like_the_methods(datafile):
    _path, fd, _data = datafile

    def prepare(*args):
        with A.Context(4) as ctx:
            ctx.prepare(*args)

    for expected, *args in [
        (TypeError, 5, fd),
        (ValueError, "nope", fd),
        (TypeError, "pread", fd),
        (ValueError, "pread", fd, -1, 0),
        (OverflowError, "pread", fd, 1, 2**64),
        (ValueError, "pread", -1, 1, 0),
        (OverflowError, "pread", 2**31, 1, 0),
        (TypeError, "pwrite", fd, "text", 0),
        (TypeError, "preadv", fd, [b"x"], 0),
        (TypeError, "fsync", None),
        (ValueError, "poll", fd, 2**20),
        (OverflowError, "poll", fd, 2**64),
    ]:
        assert assert_clean_error(prepare, *args) == expected.__name__, args
    closed = A.Context(1)
    closed.close()
    with pytest.raises(ValueError, match="closed"):
        closed.prepare("fsync", fd)


def test_submit_awaited_hook_exactly_once_never_reported(ctx, datafile):
    _path, fd, data = datafile
    calls = []
    reqs = [ctx.prepare("pread", fd, 4, i) for i in range(20)]
    for r in reqs:
        ctx.submit_awaited(r, calls.append)
    plain = ctx.pread(fd, 1, 0)
    got = []
    while len(calls) < 20 or not got:
        got += ctx.get_events(1, 100, timeout=5)  # collects: runs the hooks
    assert got == [plain]  # awaited requests are never reported
    assert sorted(map(id, calls)) == sorted(map(id, reqs))
    assert all(r.done() and r.result == data[r.offset : r.offset + 4] for r in reqs)
    assert ctx.get_events(0, 100, 0) == [] and ctx.wait(0) is None
    # Reading the result before completion waits; the hook runs first.
    order = []
    r = ctx.prepare("fsync", fd)
    ctx.submit_awaited(r, lambda req: order.append("hook"))
    assert r.result == 0
    order.append("result")
    assert order == ["hook", "result"]


def test_submit_awaited_refused_cancelled_closed(datafile):
    _path, fd, _data = datafile
    r, w = os.pipe()
    try:
        ctx = A.Context(8)
        calls = []
        bad = ctx.prepare("pread", 2**31 - 1, 1, 0)
        ctx.submit_awaited(bad, calls.append)  # refused: the hook runs in here
        assert calls == [bad] and bad.exception.errno == errno.EBADF
        assert ctx.get_events(0, 10, 0) == []
        with ctx.batch():
            deferred = ctx.prepare("fsync", fd)
            ctx.submit_awaited(deferred, calls.append)
            assert calls == [bad]  # deferred with the block
            assert ctx.cancel(deferred) is True
            assert calls == [bad, deferred]
        assert deferred.exception.errno == errno.ECANCELED
        poll = ctx.prepare("poll", r, select.POLLIN)
        ctx.submit_awaited(poll, calls.append)
        later = ctx.prepare("poll", r, select.POLLIN)
        ctx.close()  # ends the in-flight poll: its hook runs inside close()
        assert calls == [bad, deferred, poll]
        assert poll.exception.errno == errno.ECANCELED
        with pytest.raises(ValueError, match="closed"):
            ctx.submit_awaited(later, calls.append)
    finally:
        os.close(r)
        os.close(w)


def test_submit_awaited_bad_input(ctx, datafile):
    _path, fd, _data = datafile
    req = ctx.prepare("fsync", fd)
    with pytest.raises(TypeError):
        ctx.submit_awaited("request", print)
    with pytest.raises(TypeError):
        ctx.submit_awaited(req, None)
    ctx.submit_awaited(req, lambda r: None)
    with pytest.raises(ValueError, match="already submitted"):
        ctx.submit_awaited(req, lambda r: None)
    with pytest.raises(ValueError, match="already submitted"):
        ctx.submit_awaited(ctx.fsync(fd), lambda r: None)
    other = A.Context(1)
    try:
        with pytest.raises(ValueError, match="not prepared by this context"):
            ctx.submit_awaited(other.prepare("fsync", fd), lambda r: None)
    finally:
        other.close()
    with pytest.raises(ValueError, match="not prepared"):
        ctx.submit_awaited(A.Request("fsync", fd, 0), lambda r: None)
    assert req.result == 0


def test_raising_hook_goes_to_excepthook(ctx, datafile, monkeypatch):
    _path, fd, data = datafile
    seen = []
    monkeypatch.setattr(sys, "excepthook", lambda t, v, tb: seen.append(v))

    def bad_hook(req):
        raise KeyError("boom")

    reqs = [ctx.prepare("pread", fd, 2, i) for i in range(4)]
    for r in reqs:
        ctx.submit_awaited(r, bad_hook)
    plain = ctx.pread(fd, 2, 10)
    got = []
    while len(seen) < 4 or not got:
        got += ctx.get_events(1, 10, timeout=5)
    assert got == [plain] and all(isinstance(e, KeyError) for e in seen)
    assert [r.result for r in reqs] == [data[i : i + 2] for i in range(4)]
    assert ctx.pending == 0


def test_lend_and_report(ctx, datafile):
    _path, fd, data = datafile
    consumed = []
    reqs = [ctx.pread(fd, 2, i) for i in range(6)]
    awaited = ctx.prepare("fsync", fd)
    done = []
    ctx.submit_awaited(awaited, done.append)
    # Buffered reads complete inside io_submit: one lend collects them all.
    select.select([ctx], [], [], 5)
    lent = ctx.lend(2, consumed.append)  # collects; the oldest first
    assert lent == reqs[:2]
    while ctx.pending:
        select.select([ctx], [], [], 5)
        ctx.lend(0, consumed.append)  # limit 0: only collects
    assert done == [awaited]  # the awaited one went to its hook
    rest = ctx.lend(None, consumed.append, collect=False)
    assert rest == reqs[2:]
    assert ctx.get_events(0, 10, 0) == []  # lent: not the context's to report
    # A lent request whose result is read: the lender hears of it, once.
    assert reqs[3].result == data[3:5]
    assert reqs[3].result == data[3:5]
    assert consumed == [reqs[3]]
    # Reported: reading it calls nothing.
    ctx.report(reqs[0])
    ctx.report(reqs[0])  # again: nothing
    assert reqs[0].result == data[0:2] and consumed == [reqs[3]]
    # Requests the context still holds cannot be reported.
    held = ctx.pread(fd, 1, 0)
    while not held.done():
        ctx.lend(0, consumed.append)  # collected, held by the context
    with pytest.raises(ValueError, match="not lent"):
        ctx.report(held)
    with pytest.raises(TypeError):
        ctx.report("request")
    with pytest.raises(ValueError):
        ctx.lend(-1, consumed.append)
    with pytest.raises(TypeError):
        ctx.lend("1", consumed.append)
    ctx.close()
    assert ctx.lend(None, consumed.append, collect=False) == []
    with pytest.raises(ValueError, match="closed"):
        ctx.lend(None, consumed.append)


# -- bad input ---------------------------------------------------------------------------------
def _on_ctx(method, *args):
    """A call on a fresh Context (in the forked child of assert_clean_error)."""

    def run():
        with A.Context(4) as ctx:
            getattr(ctx, method)(*args)

    return run


#: Every int argument of butter.aio: (name, call(value), signed).  The rule
#: (butter._args): wrong type TypeError (bool included), negative where not
#: allowed ValueError, too large for the C type OverflowError.  A *signed*
#: argument (an offset: negative is the kernel's EINVAL, a request error)
#: overflows below the C type instead.
INT_ARGUMENTS = [
    ("Context maxevents", A.Context, False),
    ("aligned_buffer size", A.aligned_buffer, False),
    ("aligned_buffer alignment", lambda v: A.aligned_buffer(1, v), False),
    ("io_setup maxevents", A.io_setup, False),
    ("io_destroy ctx", A.io_destroy, False),
    ("io_submit ctx", lambda v: A.io_submit(v, []), False),
    ("io_getevents ctx", lambda v: A.io_getevents(v, 0, 1, 0), False),
    ("io_getevents min_nr", lambda v: A.io_getevents(12345, v, 1, 0), False),
    ("io_getevents max_nr", lambda v: A.io_getevents(12345, 0, v, 0), False),
    ("io_cancel ctx", lambda v: A.io_cancel(v, A.Iocb(A.IOCB_CMD_FSYNC, 0)), False),
    ("Iocb opcode", lambda v: A.Iocb(v, 0), False),
    ("Iocb fd", lambda v: A.Iocb(A.IOCB_CMD_FSYNC, v), False),
    ("Iocb offset", lambda v: A.Iocb(A.IOCB_CMD_FSYNC, 0, None, v), True),
    ("Iocb data", lambda v: A.Iocb(A.IOCB_CMD_FSYNC, 0, data=v), False),
    ("Iocb resfd", lambda v: A.Iocb(A.IOCB_CMD_FSYNC, 0, resfd=v), False),
    ("Iocb poll events", lambda v: A.Iocb(A.IOCB_CMD_POLL, 0, v), False),
    ("pread fd", lambda v: _on_ctx("pread", v, 1, 0)(), False),
    ("pread length", lambda v: _on_ctx("pread", 0, v, 0)(), False),
    ("pread offset", lambda v: _on_ctx("pread", 0, 1, v)(), True),
    ("pwrite fd", lambda v: _on_ctx("pwrite", v, b"x", 0)(), False),
    ("pwrite offset", lambda v: _on_ctx("pwrite", 0, b"x", v)(), True),
    ("preadv fd", lambda v: _on_ctx("preadv", v, [bytearray(1)], 0)(), False),
    ("preadv offset", lambda v: _on_ctx("preadv", 0, [bytearray(1)], v)(), True),
    ("pwritev fd", lambda v: _on_ctx("pwritev", v, [b"x"], 0)(), False),
    ("pwritev offset", lambda v: _on_ctx("pwritev", 0, [b"x"], v)(), True),
    ("fsync fd", lambda v: _on_ctx("fsync", v)(), False),
    ("fdsync fd", lambda v: _on_ctx("fdsync", v)(), False),
    ("poll fd", lambda v: _on_ctx("poll", v, select.POLLIN)(), False),
    ("poll events", lambda v: _on_ctx("poll", 0, v)(), False),
    ("prepare pread length", lambda v: _on_ctx("prepare", "pread", 0, v, 0)(), False),
    ("prepare poll events", lambda v: _on_ctx("prepare", "poll", 0, v)(), False),
    ("get_events min_nr", lambda v: _on_ctx("get_events", v, 4, 0)(), False),
    ("get_events max_nr", lambda v: _on_ctx("get_events", 0, v, 0)(), False),
    ("lend limit", lambda v: _on_ctx("lend", v, print)(), False),
]


@pytest.mark.parametrize(
    "name, call, signed", INT_ARGUMENTS, ids=[name for name, _, _ in INT_ARGUMENTS]
)
def test_int_arguments_follow_the_rule(name, call, signed):
    low = -(2**63) - 1 if signed else -1
    for value, expected in (
        (low, OverflowError if signed else ValueError),
        (2**64, OverflowError),
        (1.0, TypeError),
        ("1", TypeError),
        (True, TypeError),
    ):
        raised = assert_clean_error(call, value)  # in a forked child
        assert raised == expected.__name__, (name, value, raised)


def test_int_subclasses_take_the_converters(ctx, datafile):
    """The fast paths take plain ints only; IntEnum members (and objects
    with fileno()) go through butter._args and work the same."""
    import enum

    _path, fd, data = datafile
    Fd = enum.IntEnum("Fd", {"FD": fd, "ZERO": 0, "FIVE": 5, "IN": select.POLLIN})

    class File:
        def fileno(self):
            return fd

    assert ctx.pread(Fd.FD, Fd.FIVE, Fd.ZERO).result == data[:5]
    assert ctx.pread(File(), 5, Fd.FIVE).result == data[5:10]
    req = ctx.pread(fd, 1, Fd.FIVE)
    assert type(req.fd) is int and type(req.offset) is int and req.result == data[5:6]
    assert ctx.poll(File(), Fd.IN).result & select.POLLIN
    assert ctx.fsync(Fd.FD).result == 0
    iocb = A.Iocb(Fd.ZERO, Fd.FD, bytearray(1), Fd.FIVE, data=Fd.FIVE, resfd=Fd.FD)
    assert (iocb.opcode, iocb.fd, iocb.offset, iocb.data) == (0, fd, 5, 5)
    assert all(type(v) is int for v in (iocb.opcode, iocb.fd, iocb.offset, iocb.data))


def test_bad_input_exact_classes(datafile):
    """Each bad call fails cleanly (in a forked child), with the class the
    rule gives: limits of butter or of the kernel that fit the C type are
    ValueError (Context maxevents above 65536, min_nr above max_nr or above
    65536, poll events beyond 16 bits), values beyond the C type
    OverflowError; the kernel's own refusals are OSError."""
    _path, fd, _data = datafile
    V, OV, T, E = ValueError, OverflowError, TypeError, OSError
    cases = [
        (T, A.Context, "x"),
        (V, A.Context, 0),
        (V, A.Context, -1),
        (V, A.Context, 65537),  # butter's limit (one io_getevents buffer)
        (V, A.Context, 2**32 - 1),
        (OV, A.Context, 2**32),  # io_setup's unsigned int
        (OV, A.Context, 2**64),
        (T, A.Context, None),
        (V, A.aligned_buffer, -1),
        (V, A.aligned_buffer, 10, 3),
        (V, A.aligned_buffer, 10, 0),
        (V, A.aligned_buffer, 10, -4096),
        (T, A.aligned_buffer, "x"),
        (OV, A.aligned_buffer, 2**64),
        (OV, A.aligned_buffer, 10, 2**63),
        (V, A.io_setup, 0),
        (V, A.io_setup, -5),
        (OV, A.io_setup, 2**32),
        (OV, A.io_setup, 2**40),
        (T, A.io_setup, 1.5),
        (E, A.io_destroy, 0),
        (V, A.io_destroy, -1),
        (E, A.io_destroy, 12345),
        (T, A.io_destroy, "x"),
        (E, A.io_submit, 12345, []),
        (E, A.io_submit, 12345, [A.Iocb(A.IOCB_CMD_FSYNC, fd)]),
        (E, A.io_submit, 0, [A.Iocb(A.IOCB_CMD_FSYNC, fd)]),
        (T, A.io_submit, 12345, [1]),
        (T, A.io_submit, 12345, None),
        (E, A.io_getevents, 12345, 0, 1, 0),
        (V, A.io_getevents, 12345, 2, 1),
        (V, A.io_getevents, 12345, -1, 1),
        (V, A.io_getevents, 12345, 65537, 70000),  # min_nr above butter's limit
        (OV, A.io_getevents, 12345, 0, 2**64),
        (E, A.io_getevents, 12345, 0, 2**63 - 1, 0),  # clipped: the kernel says EINVAL
        (T, A.io_getevents, 12345, 0, 1, "x"),
        (V, A.io_getevents, 12345, 0, 1, float("nan")),
        (E, A.io_cancel, 12345, A.Iocb(A.IOCB_CMD_FSYNC, fd)),
        (T, A.io_cancel, 12345, None),
        (V, A.Iocb, 99, fd),
        (V, A.Iocb, 2**31 - 1, fd),
        (OV, A.Iocb, 2**31, fd),
        (T, A.Iocb, A.IOCB_CMD_PREAD, fd, b"readonly"),
        (T, A.Iocb, A.IOCB_CMD_PREAD, fd, None),
        (V, A.Iocb, A.IOCB_CMD_PREAD, -1, bytearray(1)),
        (T, A.Iocb, A.IOCB_CMD_PWRITE, fd, "text"),
        (OV, A.Iocb, A.IOCB_CMD_PWRITE, fd, b"x", 2**63),
        (OV, A.Iocb, A.IOCB_CMD_PWRITE, fd, b"x", -(2**63) - 1),
        (T, A.Iocb, A.IOCB_CMD_PREADV, fd, [b"x"]),
        (T, A.Iocb, A.IOCB_CMD_PWRITEV, fd, 5),
        (T, A.Iocb, A.IOCB_CMD_FSYNC, fd, b"x"),
        (V, A.Iocb, A.IOCB_CMD_POLL, fd, -1),
        (V, A.Iocb, A.IOCB_CMD_POLL, fd, 0x10000),
        (T, A.Iocb, A.IOCB_CMD_POLL, fd, None),
        (V, _on_ctx("pread", fd, -1, 0)),
        (OV, _on_ctx("pread", fd, 2**63, 0)),
        (OV, _on_ctx("pread", fd, 2**64, 0)),
        (T, _on_ctx("pread", fd, "1", 0)),
        (OV, _on_ctx("pread", fd, 1, 2**64)),
        (OV, _on_ctx("pread", fd, 1, 2**63)),
        (T, _on_ctx("pread", fd, 1, None)),
        (V, _on_ctx("pread", -1, 1, 0)),
        (OV, _on_ctx("pread", 2**31, 1, 0)),
        (OV, _on_ctx("pread", 2**40, 1, 0)),
        (T, _on_ctx("pread", "fd", 1, 0)),
        (T, _on_ctx("pwrite", fd, "text", 0)),
        (T, _on_ctx("pwrite", fd, None, 0)),
        (T, _on_ctx("pwrite", fd, 5, 0)),
        (OV, _on_ctx("pwrite", fd, b"x", -(2**64))),
        (T, _on_ctx("preadv", fd, [b"x"], 0)),
        (T, _on_ctx("preadv", fd, None, 0)),
        (T, _on_ctx("preadv", fd, [1], 0)),
        (T, _on_ctx("pwritev", fd, ["x"], 0)),
        (T, _on_ctx("pwritev", fd, 3, 0)),
        (T, _on_ctx("fsync", None)),
        (V, _on_ctx("fsync", -3)),
        (T, _on_ctx("fdsync", 1.5)),
        (V, _on_ctx("poll", fd, 2**20)),
        (V, _on_ctx("poll", fd, -1)),
        (T, _on_ctx("poll", fd, "x")),
        (V, _on_ctx("get_events", -1)),
        (V, _on_ctx("get_events", 2, 1)),
        (V, _on_ctx("get_events", 65537, 70000)),
        (T, _on_ctx("get_events", 0, 1, "x")),
        (V, _on_ctx("get_events", 0, 1, float("nan"))),
        (V, _on_ctx("get_events", 2**63 - 1)),  # above max_nr (maxevents)
        (OV, _on_ctx("get_events", 2**64)),
        (OV, _on_ctx("get_events", 0, 2**64)),
        (T, _on_ctx("cancel", None)),
        (T, _on_ctx("wait", "x")),
        (V, _on_ctx("lend", -1, print)),
        (OV, _on_ctx("lend", 2**63, print)),
        (T, _on_ctx("prepare", 5, fd)),
        (V, _on_ctx("prepare", "nope", fd)),
        (V, _on_ctx("prepare", "poll", fd, 2**20)),
    ]
    if not PYPY:  # PyPy's ffi.from_buffer copies a strided view instead
        cases.append((T, _on_ctx("pwrite", fd, memoryview(b"abcd")[::2], 0)))
    cases.append((T, _on_ctx("preadv", fd, [memoryview(bytearray(4))[::2]], 0)))
    for expected, fn, *args in cases:
        raised = assert_clean_error(fn, *args)
        assert raised == expected.__name__, (fn, args, raised)
    # Keyword cases.
    assert assert_clean_error(A.Iocb, A.IOCB_CMD_FSYNC, fd, data=-1) == "ValueError"
    assert assert_clean_error(A.Iocb, A.IOCB_CMD_FSYNC, fd, data=2**64) == "OverflowError"
    assert assert_clean_error(A.Iocb, A.IOCB_CMD_FSYNC, fd, resfd="x") == "TypeError"

    # Bad fds and bad offsets are request errors, never a crash.
    def bad_requests():
        with A.Context(4) as ctx:
            reqs = [
                ctx.pread(2**31 - 1, 1, 0),
                ctx.pwrite(2**31 - 1, b"x", 0),
                ctx.preadv(2**31 - 1, [bytearray(1)], 0),
                ctx.fsync(2**31 - 1),
                ctx.pread(fd, 1, -(2**63)),
                ctx.pread(fd, 1, -1),
                ctx.pwritev(fd, [b"x"] * 5000, 0),  # more than IOV_MAX
            ]
            return [r.exception.errno for r in reqs]

    assert in_child(bad_requests) == [errno.EBADF] * 4 + [errno.EINVAL] * 3


def test_closed_context_raises_value_error(datafile):
    _path, fd, _data = datafile
    ctx = A.Context()
    ctx.close()
    ctx.close()
    for call in (
        lambda: ctx.pread(fd, 1, 0),
        lambda: ctx.pwrite(fd, b"x", 0),
        lambda: ctx.preadv(fd, [bytearray(1)], 0),
        lambda: ctx.pwritev(fd, [b"x"], 0),
        lambda: ctx.fsync(fd),
        lambda: ctx.fdsync(fd),
        lambda: ctx.get_events(),
        lambda: ctx.read_events(),
        lambda: ctx.wait(0),
        lambda: ctx.fileno(),
        lambda: ctx.batch().__enter__(),
    ):
        with pytest.raises(ValueError, match="closed"):
            call()
    assert repr(ctx) == "<Context closed>"


# -- resources -------------------------------------------------------------------------------
def test_cloexec_and_repr(ctx):
    fd = ctx.fileno()
    assert fcntl.fcntl(fd, fcntl.F_GETFD) & fcntl.FD_CLOEXEC
    assert f"fd={fd}" in repr(ctx)
    assert os.readlink(f"/proc/self/fd/{fd}") == "anon_inode:[eventfd]"


def close_all(objs):
    """Close *objs* from several threads: io_destroy(2) waits for an RCU
    grace period (~30 ms here), and grace periods overlap across threads."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda obj: obj.close(), objs))


def test_no_fd_or_context_leak(datafile):
    _path, fd, _data = datafile
    fds = open_fds()
    nr = aio_nr()
    for _ in range(8):  # 2,000 contexts, 250 at a time (aio-max-nr bounds them)
        ctxs = [A.Context(8) for _ in range(250)]
        assert aio_nr() == nr + 250
        for ctx in ctxs[::50]:
            ctx.pread(fd, 10, 0)
            ctx.poll(fd, select.POLLIN)
        close_all(ctxs)
        assert aio_nr() == nr
    for _ in range(20):
        A.io_destroy(A.io_setup(4))
    assert open_fds() == fds
    assert aio_nr() == nr


def test_unclosed_context_warns_and_frees(datafile):
    _path, fd, _data = datafile
    nr = aio_nr()
    ctx = A.Context(16)
    efd = ctx.fileno()
    ctx.pread(fd, 10, 0)
    with pytest.warns(ResourceWarning):
        del ctx
        gc.collect()
    with pytest.raises(OSError):
        os.fstat(efd)
    assert aio_nr() == nr
    assert lib.IOCB_CMD_PREAD == 0


def test_result_waiter_returns_when_another_thread_collects():
    """One thread waits on ``req.result`` while another's get_events() is
    handed the completion by the kernel: the waiter still returns (it used
    to wait in io_getevents for a completion that would never come)."""
    import threading

    rfd, wfd = os.pipe()
    with A.Context() as ctx:
        for _ in range(10):
            req = ctx.poll(rfd, select.POLLIN)
            results: list = []
            waiter = threading.Thread(target=lambda r=req, out=results: out.append(r.result))
            collector = threading.Thread(
                target=lambda out=results: out.append(ctx.get_events(1, 1, 0.3))
            )
            waiter.start()
            collector.start()
            os.write(wfd, b"x")
            waiter.join(5)
            collector.join(10)
            assert not waiter.is_alive(), "Request.result hung"
            assert not collector.is_alive()
            os.read(rfd, 1)
            assert any(r == req.result for r in results if isinstance(r, int))
    os.close(rfd)
    os.close(wfd)
