"""butter.io_uring against the kernel, checked with os.pread/os.pwrite,
sockets and /proc."""

from __future__ import annotations

import errno
import fcntl
import gc
import os
import random
import select
import socket
import subprocess
import sys
import tempfile
import threading
import time

import pytest
from conftest import assert_clean_error, in_child, open_fds

from butter import aio
from butter import io_uring as U
from butter.aio import Request, aligned_buffer

PYPY = sys.implementation.name == "pypy"


def _available() -> str:
    try:
        U.probe()
    except OSError as exc:
        return f"io_uring unavailable: {exc}"
    return ""


pytestmark = pytest.mark.skipif(bool(_available()), reason=_available() or "ok")


def settle(ring: U.Ring, reqs: list, timeout: float = 10.0) -> list:
    """Collect completions until every request in *reqs* is done (bounded:
    a request that never completes fails the test instead of hanging)."""
    deadline = time.monotonic() + timeout
    got = []
    while not all(r.done() for r in reqs):
        left = deadline - time.monotonic()
        assert left > 0, f"not completed after {timeout} s: {[r for r in reqs if not r.done()]}"
        got += ring.get_events(1, None, min(left, 1.0))
    return got


@pytest.fixture
def workdir():
    base = "/var/tmp" if os.path.isdir("/var/tmp") else os.path.dirname(__file__)
    with tempfile.TemporaryDirectory(dir=base, prefix="butter-uring-") as d:
        yield d


@pytest.fixture
def datafile(workdir):
    path = os.path.join(workdir, "data")
    data = random.Random(1).randbytes(65536)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    os.pwrite(fd, data, 0)
    yield path, fd, data
    os.close(fd)


@pytest.fixture
def ring():
    with U.Ring(64) as r:
        yield r


# -- thin layer and constants ------------------------------------------------------------
def test_thin_setup_enter_register():
    fd = U.io_uring_setup(4)
    try:
        assert fcntl.fcntl(fd, fcntl.F_GETFD) & fcntl.FD_CLOEXEC
        assert os.readlink(f"/proc/self/fd/{fd}") == "anon_inode:[io_uring]"
        assert U.io_uring_enter(fd, 0, 0) == 0
        efd = os.eventfd(0) if hasattr(os, "eventfd") else None
        if efd is not None:
            import struct

            assert U.io_uring_register(fd, U.IORING_REGISTER_EVENTFD, struct.pack("i", efd), 1) == 0
            assert U.io_uring_register(fd, U.IORING_UNREGISTER_EVENTFD, None, 0) == 0
            os.close(efd)
        with pytest.raises(OSError) as info:
            U.io_uring_register(fd, 9999, None, 0)
        assert info.value.errno == errno.EINVAL
    finally:
        os.close(fd)
    with pytest.raises(OSError) as info:
        U.io_uring_enter(os.open("/dev/null", os.O_RDONLY), 0, 0)
    assert info.value.errno == errno.EOPNOTSUPP


def test_constants_are_the_kernel_abi():
    assert U.IORING_OP_NOP == 0
    assert U.IORING_OP_READV == 1
    assert U.IORING_OP_READ == 22
    assert U.IORING_OP_SPLICE == 30
    assert U.IOSQE_IO_LINK == 4
    assert U.IORING_REGISTER_PROBE == 8
    assert U.IORING_SETUP_NO_SQARRAY == 1 << 16  # newer than some headers
    assert all(name in U.__all__ for name in dir(U) if name.startswith(("IORING_", "IOSQE_")))


def test_probe_names_the_ops():
    ops = U.probe()
    assert {"IORING_OP_NOP", "IORING_OP_READ", "IORING_OP_WRITE"} <= ops
    with U.Ring(2) as ring:
        assert ring.supported_ops() == ops


def test_unsupported_op_names_it(ring, monkeypatch):
    monkeypatch.setattr(ring, "_ops", frozenset(ring._ops) - {U.IORING_OP_SPLICE})
    r, w = os.pipe()
    try:
        with pytest.raises(OSError) as info:
            ring.splice(r, w, None, None, 10)
        assert info.value.errno == errno.EOPNOTSUPP
        assert "IORING_OP_SPLICE" in str(info.value)
    finally:
        os.close(r)
        os.close(w)


# -- file requests ---------------------------------------------------------------------
def test_pread_pwrite_match_os(ring, datafile):
    _path, fd, data = datafile
    reqs = [ring.pread(fd, 100, off) for off in (0, 1000, 65500, 70000)]
    assert ring.pending == 4
    settle(ring, reqs)
    assert [r.result for r in reqs] == [os.pread(fd, 100, off) for off in (0, 1000, 65500, 70000)]
    assert reqs[2].result == data[65500:]
    assert reqs[3].result == b""
    w = ring.pwrite(fd, b"hello world", 5)
    assert w.result == 11
    assert os.pread(fd, 11, 5) == b"hello world"
    assert ring.pwrite(fd, bytearray(b"xyz"), 100).result == 3
    assert os.pread(fd, 3, 100) == b"xyz"


def test_vectored(ring, datafile):
    _path, fd, data = datafile
    bufs = [bytearray(10), bytearray(20)]
    req = ring.preadv(fd, bufs, 7)
    assert req.result == 30
    assert bytes(bufs[0]) + bytes(bufs[1]) == data[7:37]
    w = ring.pwritev(fd, [b"abc", memoryview(b"defg")], 50)
    assert w.result == 7
    assert os.pread(fd, 7, 50) == b"abcdefg"
    with pytest.raises(TypeError):
        ring.preadv(fd, [b"read-only"], 0)
    with pytest.raises(TypeError):
        ring.preadv(fd, b"not a list", 0)


def test_fsync_fdsync(ring, datafile):
    _path, fd, _data = datafile
    a, b = ring.fsync(fd), ring.fdsync(fd)
    settle(ring, [a, b])
    assert a.result == 0 and b.result == 0


def test_o_direct(ring, workdir):
    path = os.path.join(workdir, "direct")
    data = random.Random(2).randbytes(1 << 16)
    with open(path, "wb") as f:
        f.write(data)
    try:
        fd = os.open(path, os.O_RDWR | os.O_DIRECT)
    except OSError:
        pytest.skip("no O_DIRECT here")
    try:
        reqs = [ring.pread(fd, 4096, i * 4096) for i in range(16)]
        settle(ring, reqs)
        assert b"".join(r.result for r in reqs) == data
        buf = aligned_buffer(4096)
        buf[:] = b"z" * 4096
        assert ring.pwrite(fd, buf, 8192).result == 4096
        assert ring.pwrite(fd, b"q" * 4096, 0).result == 4096  # copied to aligned memory
        odd = ring.pread(fd, 100, 3)  # misaligned: the kernel says EINVAL
        assert odd.exception is not None and odd.exception.errno == errno.EINVAL
    finally:
        os.close(fd)
    with open(path, "rb") as f:
        got = f.read()
    assert got[:4096] == b"q" * 4096 and got[8192:12288] == b"z" * 4096


def test_errors_are_in_the_request(ring, datafile):
    _path, _fd, _data = datafile
    bad = ring.pread(12345, 10, 0)
    ro = os.open("/dev/null", os.O_RDONLY)
    wr = ring.pwrite(ro, b"x", 0)
    settle(ring, [bad, wr])
    os.close(ro)
    assert isinstance(bad.exception, OSError) and bad.exception.errno == errno.EBADF
    assert wr.exception.errno == errno.EBADF
    with pytest.raises(OSError) as info:
        bad.result  # noqa: B018
    assert info.value.errno == errno.EBADF


def test_openat_close(ring, workdir):
    path = os.path.join(workdir, "new")
    o = ring.openat(None, path, os.O_CREAT | os.O_WRONLY, 0o640)
    fd = o.result
    assert os.fstat(fd).st_mode & 0o777 == 0o640
    assert fcntl.fcntl(fd, fcntl.F_GETFD) & fcntl.FD_CLOEXEC
    dfd = os.open(workdir, os.O_RDONLY | os.O_DIRECTORY)
    rel = ring.openat(dfd, "new", os.O_RDONLY)
    fd2 = rel.result
    os.close(dfd)
    assert os.path.samestat(os.fstat(fd), os.fstat(fd2))
    c = ring.close(fd)
    assert c.op == "close" and c.result == 0
    with pytest.raises(OSError):
        os.fstat(fd)
    assert ring.close_fd(fd2).result == 0
    missing = ring.openat(None, os.path.join(workdir, "nope"), os.O_RDONLY)
    assert missing.exception.errno == errno.ENOENT
    assert ring.close(fd2).exception.errno == errno.EBADF


def test_sockets(ring):
    a, b = socket.socketpair()
    with a, b:
        s = ring.send(a, b"ping")
        r = ring.recv(b, 100)
        settle(ring, [s, r])
        assert s.result == 4 and r.result == b"ping"
        r2 = ring.recv(b.fileno(), 10)  # waits for data in the kernel
        ring.submit()
        assert ring.get_events(1, None, 0.05) == []
        a.sendall(b"pong")
        settle(ring, [r2])
        assert r2.result == b"pong"
        a.shutdown(socket.SHUT_WR)
        assert ring.recv(b, 10).result == b""


def test_accept(ring):
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen()
    with srv:
        acc = ring.accept(srv)
        ring.submit()
        cli = socket.create_connection(srv.getsockname())
        settle(ring, [acc])
        fd = acc.result
        with cli, socket.socket(fileno=fd) as conn:
            assert fcntl.fcntl(fd, fcntl.F_GETFD) & fcntl.FD_CLOEXEC
            assert conn.getpeername() == cli.getsockname()
            cli.sendall(b"hi")
            assert ring.recv(conn, 2).result == b"hi"


def test_splice_and_sendfile(ring, datafile):
    _path, fd, data = datafile
    r, w = os.pipe()
    try:
        sp = ring.splice(fd, w, 10, None, 100)
        assert sp.result == 100
        assert os.read(r, 200) == data[10:110]
    finally:
        os.close(r)
        os.close(w)
    a, b = socket.socketpair()
    with a, b:
        got = bytearray()

        def reader():
            while len(got) < len(data) - 5:
                chunk = b.recv(65536)
                if not chunk:
                    break
                got.extend(chunk)

        t = threading.Thread(target=reader)
        t.start()
        assert U.sendfile(ring, fd, a, offset=5) == len(data) - 5
        t.join(10)
        assert bytes(got) == data[5:]
    with pytest.raises(TypeError):
        U.sendfile("ring", fd, 1)


def test_timeout_nop_cancel(ring):
    t0 = time.monotonic()
    t = ring.timeout(0.05)
    n = ring.nop()
    settle(ring, [t, n])
    assert t.result == 0 and n.result == 0
    assert time.monotonic() - t0 >= 0.04
    long = ring.timeout(60)
    ring.submit()
    c = ring.cancel(long)
    settle(ring, [long, c])
    assert c.result == 0
    assert long.exception.errno == errno.ECANCELED
    # Done already: ENOENT.
    again = ring.cancel(long)
    assert again.exception.errno == errno.ENOENT
    # A pending recv is cancelled.
    a, b = socket.socketpair()
    with a, b:
        r = ring.recv(b, 10)
        ring.submit()
        c = ring.cancel(r)
        settle(ring, [r, c])
        assert r.exception.errno == errno.ECANCELED


def test_linked_chain_stops_at_failure(ring, datafile):
    _path, fd, _data = datafile
    with ring.linked():
        a = ring.pwrite(fd, b"12345", 0)
        b = ring.pread(fd, 5, 0)
    settle(ring, [a, b])
    assert b.result == b"12345"  # ran after the write
    with ring.linked():
        ok = ring.nop()
        bad = ring.pread(999, 5, 0)
        rest = [ring.nop(), ring.pread(fd, 5, 0)]
    settle(ring, [ok, bad, *rest])
    assert ok.result == 0
    assert bad.exception.errno == errno.EBADF
    assert [r.exception.errno for r in rest] == [errno.ECANCELED, errno.ECANCELED]
    # Cancelling a request still inside the block drops it.
    with ring.linked():
        x = ring.nop()
        y = ring.nop()
        c = ring.cancel(x)
        with pytest.raises(RuntimeError):
            y.result  # noqa: B018 - still waiting for the block
    assert x.exception.errno == errno.ECANCELED and c.result == 0
    assert y.result == 0
    with ring.linked(), ring.linked():  # nested: one chain
        n1 = ring.nop()
        n2 = ring.nop()
    settle(ring, [n1, n2])


def test_registered_buffers_and_files(ring, datafile):
    _path, fd, data = datafile
    bufs = [aligned_buffer(4096), bytearray(100)]
    ring.register_buffers(bufs)
    r = ring.read_fixed(fd, 0, 4096)
    assert r.result == 4096
    assert bytes(bufs[0]) == data[4096:8192]
    bufs[1][:5] = b"fixed"
    w = ring.write_fixed(fd, 1, 0, 5)
    assert w.result == 5
    assert os.pread(fd, 5, 0) == b"fixed"
    with pytest.raises(ValueError):
        ring.read_fixed(fd, 2, 0)
    with pytest.raises(ValueError):
        ring.read_fixed(fd, 1, 0, 101)
    ring.unregister_buffers()
    with pytest.raises(ValueError):
        ring.read_fixed(fd, 0, 0)
    ring.register_files([fd])
    fx = ring.pread(U.Fixed(0), 10, 0)
    assert fx.result == os.pread(fd, 10, 0)
    bad = ring.pread(U.Fixed(5), 10, 0)
    assert bad.exception.errno in (errno.EBADF, errno.ENXIO)
    ring.unregister_files()
    with pytest.raises(ValueError):
        ring.unregister_files()


# -- batching and delivery -------------------------------------------------------------
def test_batching_submits_once(ring, datafile):
    _path, fd, _data = datafile
    reqs = [ring.nop() for _ in range(10)]
    assert ring.pending == 10
    assert not any(r.done() for r in reqs)
    assert ring.submit() == 10
    assert ring.submit() == 0
    settle(ring, reqs)
    # More requests than the SQ holds: submitted as the queue fills.
    many = [ring.pread(fd, 10, i) for i in range(ring.entries * 3)]
    got = settle(ring, many)
    assert sorted(map(id, got)) == sorted(map(id, many))


def test_each_completion_delivered_once(ring, datafile):
    _path, fd, _data = datafile
    reqs = [ring.pread(fd, 10, i) for i in range(20)]
    reqs[0].result  # noqa: B018 - consumes it (and collects others)
    got = settle(ring, reqs)
    got += ring.get_events(19 - len(got), None, 5)
    assert reqs[0] not in got
    assert len(got) == 19 and len(set(map(id, got))) == 19
    assert ring.get_events(0, None, 0) == []
    r = ring.nop()
    assert ring.wait(5) is r
    assert ring.wait(0) is None


def test_threads_share_a_ring(datafile):
    _path, fd, _data = datafile

    def case(_):
        with U.Ring(32) as ring:
            total = 400
            seen: list = []
            lock = threading.Lock()

            def make(n):
                for i in range(n):
                    ring.pread(fd, 8, i)

            def collect():
                deadline = time.monotonic() + 20
                while time.monotonic() < deadline:
                    with lock:
                        if len(seen) >= total:
                            return
                    got = ring.get_events(1, 16, 0.05)
                    with lock:
                        seen.extend(got)

            makers = [threading.Thread(target=make, args=(total // 4,)) for _ in range(4)]
            collectors = [threading.Thread(target=collect) for _ in range(3)]
            for t in makers + collectors:
                t.start()
            for t in makers + collectors:
                t.join(30)
            if len(seen) != total or len(set(map(id, seen))) != total:
                return f"{len(seen)} completions, {len(set(map(id, seen)))} distinct"
        return None

    from conftest import run_bounded

    run_bounded(case, [1, 2], timeout=60)


def test_fd_contract(ring, datafile):
    _path, fd, _data = datafile
    efd = ring.fileno()
    assert os.readlink(f"/proc/self/fd/{efd}") == "anon_inode:[eventfd]"
    assert fcntl.fcntl(efd, fcntl.F_GETFD) & fcntl.FD_CLOEXEC
    assert os.readlink(f"/proc/self/fd/{ring.ring_fd}") == "anon_inode:[io_uring]"
    assert select.select([efd], [], [], 0)[0] == []
    req = ring.pread(fd, 10, 0)
    ring.submit()
    assert select.select([efd], [], [], 5)[0] == [efd]
    assert ring.read_events() == [req]
    assert select.select([efd], [], [], 0)[0] == []
    os.set_blocking(efd, False)
    with pytest.raises(BlockingIOError):
        ring.read_event()
    n = ring.nop()
    assert ring.read_event() is n  # submits first
    assert f"fd={efd}" in repr(ring)


@pytest.mark.parametrize("blocking", [True, False])
def test_get_events_empties_fileno_either_mode(ring, blocking):
    """Collecting everything leaves fileno() quiet whether the user made
    the eventfd non-blocking or not (it is emptied with one
    preadv2(RWF_NOWAIT), which must never block on a blocking eventfd)."""
    efd = ring.fileno()
    os.set_blocking(efd, not blocking)  # the other mode first
    os.set_blocking(efd, blocking)
    for _ in range(3):
        reqs = [ring.nop() for _ in range(5)]
        got = []
        while len(got) < len(reqs):
            got += ring.get_events(1)
        assert sorted(map(id, got)) == sorted(map(id, reqs))
        assert select.select([efd], [], [], 0)[0] == []
        assert ring.get_events(0, None, 0) == []  # must not block either
    assert os.get_blocking(efd) is blocking


_NO_NOWAIT_CHILD = """
import errno, os, select
from butter import seccomp as S
from butter.aio import Context
from butter.io_uring import Ring
f = S.SyscallFilter(S.ALLOW)
f.add_rule(S.ERRNO(errno.EOPNOTSUPP), "preadv2")  # a kernel without RWF_NOWAIT on eventfds
f.load()
for blocking in (True, False):
    with Ring(8) as ring, Context(8) as ctx:
        for src, make in ((ring, ring.nop), (ctx, lambda: ctx.fdsync(ring.fileno()))):
            os.set_blocking(src.fileno(), blocking)
            for _ in range(3):
                reqs = [make() for _ in range(3)]
                got = []
                while len(got) < len(reqs):
                    got += src.get_events(1, None, 5)
                assert len(got) == 3, got
                assert select.select([src], [], [], 0)[0] == [], (src, blocking)
                assert src.get_events(0, None, 0) == []
print("ok")
"""


def test_eventfd_emptied_without_rwf_nowait():
    """Where the kernel refuses preadv2(RWF_NOWAIT) on an eventfd, butter
    empties it the older way (poll + read): checked in a child whose
    seccomp filter makes preadv2 fail with EOPNOTSUPP."""
    proc = subprocess.run(
        [sys.executable, "-c", _NO_NOWAIT_CHILD], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok"


def test_iteration_and_read_event(ring):
    reqs = [ring.nop() for _ in range(3)]
    out = []
    for req in ring:
        out.append(req)
        if len(out) == 3:
            break
    assert sorted(map(id, out)) == sorted(map(id, reqs))


# -- bad input ------------------------------------------------------------------------
@pytest.mark.parametrize(
    "call",
    [
        lambda r: r.pread(-1, 10, 0),
        lambda r: r.pread(0, -1, 0),
        lambda r: r.pread(0, 1 << 40, 0),
        lambda r: r.pread(0, 10, -5),
        lambda r: r.pread("x", 10, 0),
        lambda r: r.pread(0, 1.5, 0),
        lambda r: r.pwrite(0, "text", 0),
        lambda r: r.pwrite(0, None, 0),
        lambda r: r.openat(None, "a\0b", os.O_RDONLY),
        lambda r: r.openat(None, 5, os.O_RDONLY),
        lambda r: r.openat(None, "x", -1),
        lambda r: r.timeout(-1),
        lambda r: r.timeout(float("nan")),
        lambda r: r.timeout("1"),
        lambda r: r.cancel("req"),
        lambda r: r.get_events(-1),
        lambda r: r.get_events(1, 0, "x"),
        lambda r: r.register_buffers([b"read-only"]),
        lambda r: r.register_buffers([]),
        lambda r: r.register_files([]),
        lambda r: r.register_files(["x"]),
        lambda r: r.splice(0, U.Fixed(0)),
        lambda r: r.prepare("nope"),
        lambda r: r.prepare(1),
        lambda r: U.Fixed(-1),
        lambda r: U.Ring(0),
        lambda r: U.Ring(1 << 20),
        lambda r: U.Ring(4, U.IORING_SETUP_SQE128),
        lambda r: U.Ring(4, -1),
        lambda r: U.io_uring_setup(0),
        lambda r: U.io_uring_enter(-1, 0, 0),
        lambda r: U.io_uring_register(-1, 0, "x", 0),
    ],
)
def test_bad_input(call):
    def go():
        with U.Ring(4) as ring:
            call(ring)

    assert_clean_error(go)


def test_closed_ring():
    ring = U.Ring(4)
    ring.close()
    ring.close()
    for call in (lambda: ring.nop(), lambda: ring.submit(), lambda: ring.get_events()):
        with pytest.raises(ValueError):
            call()


# -- lifetime --------------------------------------------------------------------------
def test_close_with_requests_in_flight(datafile):
    _path, fd, _data = datafile
    a, b = socket.socketpair()
    with a, b:
        ring = U.Ring(16)
        recv = ring.recv(b, 10)
        tmo = ring.timeout(100)
        reads = [ring.pread(fd, 4096, i * 4096) for i in range(8)]
        queued = ring.nop()  # never submitted before close
        ring.submit()
        ring.close()
        for req in (recv, tmo):
            assert req.done() and req.exception.errno == errno.ECANCELED
        for req in reads:  # finished, or cancelled: never left hanging
            assert req.done()
        assert queued.done()
    assert ring.closed


def test_close_wakes_a_waiting_thread():
    ring = U.Ring(4)
    tmo = ring.timeout(100)
    errors: list = []

    def waiter():
        try:
            errors.extend(ring.get_events(1))  # the cancelled timeout, if it wins
        except ValueError as exc:
            errors.append(exc)

    t = threading.Thread(target=waiter)
    t.start()
    time.sleep(0.1)
    ring.close()
    t.join(10)
    assert not t.is_alive()
    assert errors
    assert tmo.exception.errno == errno.ECANCELED


def test_buffers_are_held_until_completion(ring):
    a, b = socket.socketpair()
    with a, b:
        r = ring.recv(b, 4096)
        ring.submit()
        del r
        gc.collect()
        a.sendall(b"x" * 100)
        got = ring.get_events(1, None, 5)
        assert got[0].result == b"x" * 100


def test_no_fd_or_memory_leak(datafile):
    _path, fd, _data = datafile

    def rss() -> int:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    fds = open_fds()
    for _ in range(200):  # warm up the allocator
        with U.Ring(8) as ring:
            ring.pread(fd, 10, 0)
    gc.collect()
    before = rss()
    for i in range(10_000):
        ring = U.Ring(8)
        if i % 10 == 0:
            ring.pread(fd, 10, 0)
            ring.timeout(10)
            ring.submit()
        ring.close()
    gc.collect()
    grown = rss() - before
    assert open_fds() == fds
    assert grown < 64 << 20, f"RSS grew by {grown >> 20} MiB over 10,000 rings"


def test_unclosed_ring_warns_and_frees():
    fds = open_fds()
    ring = U.Ring(4)
    with pytest.warns(ResourceWarning):
        del ring
        gc.collect()
    gc.collect()
    assert open_fds() == fds


def test_fork_child_can_close():
    ring = U.Ring(4)

    def child():
        ring.close()
        return True

    try:
        assert in_child(child)
        assert ring.nop().result == 0
    finally:
        ring.close()


def test_same_request_class_as_aio(ring):
    req = ring.nop()
    assert type(req) is Request is aio.Request
    assert req.op == "nop"
    assert "unsubmitted" not in repr(req)
    assert req.result == 0
