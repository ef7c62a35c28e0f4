"""butter.splice against the real kernel (and against os.splice)."""

from __future__ import annotations

import errno
import fcntl
import os
import select
import socket
import tempfile
import threading
import time
from typing import Any

import pytest
from conftest import assert_clean_error, open_fds, run_bounded, stream_pair

from butter import splice as S

PAGE = os.sysconf("SC_PAGE_SIZE")
SIZES = [1, PAGE, 100 * 1024 * 1024]
SIZE_IDS = ["1B", "page", "100MiB"]


def _payload(n: int) -> bytes:
    if n <= 1 << 20:
        return os.urandom(n)
    block = os.urandom(1 << 20)
    # Not periodic at 1 MiB: a misplaced chunk would show.
    return b"".join(block[i % 997 :] + block[: i % 997] for i in range((n >> 20) + 1))[:n]


@pytest.fixture
def pipe():
    r, w = os.pipe2(os.O_CLOEXEC)
    yield r, w
    for fd in (r, w):
        try:
            os.close(fd)
        except OSError:
            pass


@pytest.fixture
def shmfile():
    """A temporary file on tmpfs (fast for the big round trips)."""
    d = "/dev/shm" if os.path.isdir("/dev/shm") else None
    with tempfile.TemporaryFile(dir=d) as f:
        yield f


def _file_with(data: bytes, d: str | None = "/dev/shm"):
    f = tempfile.TemporaryFile(dir=d)  # noqa: SIM115 - returned open
    f.write(data)
    f.flush()
    f.seek(0)
    return f


def _drain(fd: int, into: list[bytes]) -> None:
    while True:
        b = os.read(fd, 1 << 20)
        if not b:
            return
        into.append(b)


# -- constants ------------------------------------------------------------------
def test_constants_match_os():
    for name in ("SPLICE_F_MOVE", "SPLICE_F_NONBLOCK", "SPLICE_F_MORE"):
        if hasattr(os, name):
            assert getattr(S, name) == getattr(os, name)
    assert S.SPLICE_F_GIFT == 8
    if hasattr(fcntl, "F_GETPIPE_SZ"):
        assert S.F_GETPIPE_SZ == fcntl.F_GETPIPE_SZ
        assert S.F_SETPIPE_SZ == fcntl.F_SETPIPE_SZ
    for name in S.__all__:
        assert hasattr(S, name)


# -- splice: offsets and positions ---------------------------------------------
def test_splice_out_offset_none_uses_and_advances_position(pipe, shmfile):
    r, w = pipe
    os.write(w, b"hello")
    os.lseek(shmfile.fileno(), 2, os.SEEK_SET)
    assert S.splice(r, shmfile, None, None, 5) == 5
    assert os.lseek(shmfile.fileno(), 0, os.SEEK_CUR) == 7
    assert os.pread(shmfile.fileno(), 10, 0) == b"\0\0hello"


def test_splice_out_offset_int_leaves_position(pipe, shmfile):
    r, w = pipe
    os.write(w, b"hello")
    os.lseek(shmfile.fileno(), 1, os.SEEK_SET)
    assert S.splice(r, shmfile, out_offset=3, len=5) == 5
    assert os.lseek(shmfile.fileno(), 0, os.SEEK_CUR) == 1
    assert os.pread(shmfile.fileno(), 10, 0) == b"\0\0\0hello"
    # A large offset (the original cast ints to pointers: this crashed or failed).
    os.write(w, b"x")
    assert S.splice(r, shmfile, out_offset=1 << 33, len=1) == 1
    assert os.fstat(shmfile.fileno()).st_size == (1 << 33) + 1
    assert os.lseek(shmfile.fileno(), 0, os.SEEK_CUR) == 1


def test_splice_in_offsets(pipe):
    r, w = pipe
    with _file_with(b"0123456789") as f:
        os.lseek(f.fileno(), 2, os.SEEK_SET)
        assert S.splice(f, w, 5, None, 3) == 3  # at offset 5
        assert os.read(r, 10) == b"567"
        assert os.lseek(f.fileno(), 0, os.SEEK_CUR) == 2  # untouched
        assert S.splice(f, w, None, None, 3) == 3  # at the position
        assert os.read(r, 10) == b"234"
        assert os.lseek(f.fileno(), 0, os.SEEK_CUR) == 5
        assert S.splice(f, w, 0, len=100) == 10
        assert os.read(r, 100) == b"0123456789"
        assert S.splice(f, w, 10, len=100) == 0  # EOF


def test_splice_len_none_is_pipe_capacity(pipe):
    r, w = pipe
    cap = S.set_pipe_size(w, 16 * PAGE)
    assert cap == S.get_pipe_size(r) == fcntl.fcntl(r, S.F_GETPIPE_SZ)
    with _file_with(b"a" * (cap * 3)) as f:
        assert S.splice(f, w) == cap  # the pipe's capacity, not less
        with tempfile.TemporaryFile(dir="/dev/shm") as out:
            assert S.splice(r, out) == cap
    os.write(w, b"abc")
    r2, w2 = os.pipe()
    try:
        assert S.tee(r, w2) == 3
    finally:
        os.close(r2)
        os.close(w2)


def test_splice_pipe_to_pipe_and_matches_os_splice(pipe):
    r, w = pipe
    r2, w2 = os.pipe()
    try:
        os.write(w, b"abcdef")
        assert S.splice(r, w2, len=4) == 4
        if hasattr(os, "splice"):
            assert os.splice(r, w2, 2) == 2
        else:
            assert S.splice(r, w2, len=2) == 2
        assert os.read(r2, 10) == b"abcdef"
    finally:
        os.close(r2)
        os.close(w2)


def test_accepts_objects_with_fileno(pipe):
    r, w = pipe
    with os.fdopen(os.dup(w), "wb", buffering=0) as wf, _file_with(b"xyz") as f:
        assert S.splice(f, wf, len=3) == 3
    assert os.read(r, 3) == b"xyz"


# -- errors ---------------------------------------------------------------------
def test_espipe_offset_on_pipe(pipe, shmfile):
    r, w = pipe
    os.write(w, b"x")
    with pytest.raises(OSError) as info:
        S.splice(r, shmfile, in_offset=0, len=1)
    assert info.value.errno == errno.ESPIPE
    if hasattr(os, "splice"):
        with pytest.raises(OSError) as ref:
            os.splice(r, shmfile.fileno(), 1, offset_src=0)
        assert ref.value.errno == errno.ESPIPE


def test_einval_no_pipe(shmfile):
    with _file_with(b"abc") as f:
        with pytest.raises(OSError) as info:
            S.splice(f, shmfile, len=3)
        assert info.value.errno == errno.EINVAL
        with pytest.raises(OSError) as info:
            S.splice(f, shmfile)  # len=None: no pipe to size by
        assert info.value.errno == errno.EINVAL


def test_eagain_nonblock(pipe, shmfile):
    r, w = pipe
    with pytest.raises(BlockingIOError) as info:
        S.splice(r, shmfile, len=1, flags=S.SPLICE_F_NONBLOCK)
    assert info.value.errno == errno.EAGAIN
    r2, w2 = os.pipe()
    try:
        with pytest.raises(BlockingIOError):
            S.tee(r, w2, 1, S.SPLICE_F_NONBLOCK)
    finally:
        os.close(r2)
        os.close(w2)
    # A full pipe for the writing side.
    os.set_blocking(w, False)
    while True:
        try:
            os.write(w, b"x" * 65536)
        except BlockingIOError:
            break
    with pytest.raises(BlockingIOError):
        S.vmsplice(w, b"y", S.SPLICE_F_NONBLOCK)


def test_ebadf():
    r, w = os.pipe()
    os.close(r)
    os.close(w)
    with pytest.raises(OSError) as info:
        S.splice(r, w, len=1)
    assert info.value.errno == errno.EBADF
    with pytest.raises(OSError) as info:
        S.tee(r, w, 1)
    assert info.value.errno == errno.EBADF


# -- round trips ------------------------------------------------------------------
@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
def test_roundtrip_splice_file_pipe_file(size):
    data = _payload(size)
    r, w = os.pipe2(os.O_CLOEXEC)
    try:
        with _file_with(data) as src, tempfile.TemporaryFile(dir="/dev/shm") as dst:
            moved = 0
            while True:
                n = S.splice(src, w)
                if n == 0:
                    break
                left = n
                while left:
                    left -= S.splice(r, dst, len=left)
                moved += n
            assert moved == size
            assert os.pread(dst.fileno(), size + 1, 0) == data
    finally:
        os.close(r)
        os.close(w)


@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
@pytest.mark.parametrize("zero_copy", [False, True], ids=["copy", "zerocopy"])
def test_roundtrip_vmsplice(size, zero_copy):
    data = _payload(size)
    r, w = os.pipe2(os.O_CLOEXEC)
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            view = memoryview(data)
            while view:
                n = S.vmsplice(w, view[: 1 << 20], zero_copy=zero_copy)
                view = view[n:]
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            os.close(w)

    t = threading.Thread(target=writer)
    t.start()
    out = bytearray(size + 10)
    view = memoryview(out)
    pos = 0
    while True:
        n = S.vmsplice(r, view[pos : pos + (1 << 20)])
        if n == 0:
            break
        pos += n
    t.join()
    os.close(r)
    assert not errors
    assert pos == size
    assert out[:size] == data


@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
def test_roundtrip_tee(size):
    data = _payload(size)
    r1, w1 = os.pipe2(os.O_CLOEXEC)
    r2, w2 = os.pipe2(os.O_CLOEXEC)
    got2: list[bytes] = []
    t_in = threading.Thread(target=lambda: (os.write(w1, data), os.close(w1)))
    t_out = threading.Thread(target=_drain, args=(r2, got2))
    t_in.start()
    t_out.start()
    got1 = bytearray()
    try:
        while True:
            n = S.tee(r1, w2)
            if n == 0:
                break
            got1 += os.read(r1, n)  # tee did not consume: the data is still there
            assert len(got1) <= size
        os.close(w2)
        t_in.join()
        t_out.join()
        assert bytes(got1) == data
        assert b"".join(got2) == data
    finally:
        os.close(r1)
        os.close(r2)


def test_tee_does_not_consume(pipe):
    r, w = pipe
    r2, w2 = os.pipe()
    try:
        os.write(w, b"abc")
        assert S.tee(r, w2, 10) == 3
        assert os.read(r, 10) == b"abc"
        assert os.read(r2, 10) == b"abc"
    finally:
        os.close(r2)
        os.close(w2)


# -- vmsplice specifics -----------------------------------------------------------
def test_vmsplice_copy_is_safe_against_reuse(pipe):
    r, w = pipe
    buf = bytearray(b"A" * PAGE)
    assert S.vmsplice(w, buf) == PAGE
    buf[:] = b"B" * PAGE  # the caller reuses its buffer at once
    del buf
    junk = [bytearray(b"C" * PAGE) for _ in range(64)]  # and memory is reused
    assert os.read(r, PAGE) == b"A" * PAGE
    del junk


def test_vmsplice_several_buffers_both_directions(pipe):
    r, w = pipe
    assert S.vmsplice(w, [b"ab", bytearray(b"cd"), memoryview(b"ef"), b""]) == 6
    a, b = bytearray(1), bytearray(10)
    assert S.vmsplice(r, (a, memoryview(b))) == 6
    assert a == b"a" and b[:5] == b"bcdef"
    assert S.vmsplice(w, []) == 0
    assert S.vmsplice(w, iter([b"xyz"])) == 3  # any iterable
    m = bytearray(3)
    assert S.vmsplice(r, m) == 3 and m == b"xyz"


def test_vmsplice_read_refuses_immutable(pipe):
    r, w = pipe
    os.write(w, b"secret")
    target = b"\0" * 6
    with pytest.raises(TypeError):
        S.vmsplice(r, target)
    with pytest.raises(TypeError):
        S.vmsplice(r, [bytearray(2), target])
    with pytest.raises(TypeError):
        S.vmsplice(r, memoryview(bytearray(6)).toreadonly())
    assert target == b"\0" * 6
    assert os.read(r, 10) == b"secret"  # nothing was consumed


def test_vmsplice_rejects_non_contiguous(pipe):
    _, w = pipe
    with pytest.raises(ValueError):
        S.vmsplice(w, memoryview(b"abcdef")[::2])


def test_vmsplice_read_eof(pipe):
    r, w = pipe
    os.close(w)
    assert S.vmsplice(r, bytearray(4)) == 0


def test_vmsplice_errors():
    with tempfile.TemporaryFile() as f:
        with pytest.raises(OSError) as info:
            S.vmsplice(f, b"abc")  # not a pipe
        assert info.value.errno == errno.EBADF
    r, w = os.pipe()
    try:
        with pytest.raises(OSError) as info:
            S.vmsplice(w, [b"x"] * 2000)  # more than IOV_MAX
        assert info.value.errno == errno.EINVAL
        with pytest.raises(OSError) as info:
            S.vmsplice(w, b"x", 0x1000)  # unknown flag
        assert info.value.errno == errno.EINVAL
    finally:
        os.close(r)
        os.close(w)


# -- splice_copy --------------------------------------------------------------------
def _socket_sink(sock: socket.socket, into: list[bytes]) -> threading.Thread:
    def run() -> None:
        while True:
            b = sock.recv(1 << 20)
            if not b:
                return
            into.append(b)

    t = threading.Thread(target=run)
    t.start()
    return t


@pytest.mark.parametrize("size", [0, *SIZES], ids=["empty", *SIZE_IDS])
def test_copy_file_to_socket(size):
    data = _payload(size)
    a, b = socket.socketpair()
    got: list[bytes] = []
    with a, b, _file_with(data) as f:
        t = _socket_sink(b, got)
        assert S.splice_copy(f, a) == size
        a.shutdown(socket.SHUT_WR)
        t.join()
        assert os.lseek(f.fileno(), 0, os.SEEK_CUR) == size
    assert b"".join(got) == data


def test_copy_to_nonblocking_socket_slow_reader():
    data = _payload(8 << 20)
    a, b = socket.socketpair()
    a.setblocking(False)
    got: list[bytes] = []
    with a, b, _file_with(data) as f:
        b.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)

        def slow() -> None:
            import time

            time.sleep(0.2)  # let the sender hit EAGAIN
            while True:
                x = b.recv(65536)
                if not x:
                    return
                got.append(x)

        t = threading.Thread(target=slow)
        t.start()
        assert S.splice_copy(f, a, pipe_size=65536) == len(data)
        a.shutdown(socket.SHUT_WR)
        t.join()
    assert b"".join(got) == data


def test_copy_from_nonblocking_pipe_to_file():
    data = _payload(3 << 20)
    r, w = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)
    os.set_blocking(w, True)

    def feed() -> None:
        import time

        for i in range(0, len(data), 1 << 19):
            os.write(w, data[i : i + (1 << 19)])
            time.sleep(0.01)
        os.close(w)

    t = threading.Thread(target=feed)
    t.start()
    with tempfile.TemporaryFile(dir="/dev/shm") as out:
        assert S.splice_copy(r, out) == len(data)
        t.join()
        assert os.pread(out.fileno(), len(data) + 1, 0) == data
    os.close(r)


def test_copy_file_to_file_count_and_offsets():
    data = _payload(1 << 20)
    with _file_with(data) as f, tempfile.TemporaryFile(dir="/dev/shm") as out:
        os.lseek(f.fileno(), 7, os.SEEK_SET)
        n = S.splice_copy(f, out, 1000, src_offset=100, dst_offset=5, pipe_size=PAGE)
        assert n == 1000
        assert os.lseek(f.fileno(), 0, os.SEEK_CUR) == 7  # offsets leave positions alone
        assert os.lseek(out.fileno(), 0, os.SEEK_CUR) == 0
        assert os.pread(out.fileno(), 2000, 0) == b"\0" * 5 + data[100:1100]
        # With positions: continue from 7, write at out's position.
        assert S.splice_copy(f, out, 10) == 10
        assert os.lseek(f.fileno(), 0, os.SEEK_CUR) == 17
        assert os.pread(out.fileno(), 10, 0) == data[7:17]
        # count past EOF: stops at EOF
        assert S.splice_copy(f, out, 10 << 20) == len(data) - 17
        assert S.splice_copy(f, out, 0) == 0


def test_copy_file_to_pipe_direct():
    data = _payload(1 << 20)
    r, w = os.pipe()
    got: list[bytes] = []
    t = threading.Thread(target=_drain, args=(r, got))
    t.start()
    with _file_with(data) as f:
        before = open_fds()
        assert S.splice_copy(f, w) == len(data)
        assert open_fds() == before
    os.close(w)
    t.join()
    os.close(r)
    assert b"".join(got) == data


def test_copy_errors_close_the_pipe():
    before = open_fds()
    a, b = socket.socketpair()
    b.close()
    with _file_with(b"x" * 100000) as f, pytest.raises(BrokenPipeError):
        S.splice_copy(f, a)
    a.close()
    assert open_fds() == before
    r, w = os.pipe()
    os.close(w)
    with pytest.raises(OSError) as info:
        S.splice_copy(r, w)
    assert info.value.errno == errno.EBADF
    os.close(r)
    assert open_fds() == before


def test_copy_no_fd_leak():
    before = open_fds()
    with _file_with(b"abc") as f, tempfile.TemporaryFile(dir="/dev/shm") as out:
        for _ in range(2000):
            S.splice_copy(f, out, src_offset=0, dst_offset=0)
    assert open_fds() == before


# -- bad input ---------------------------------------------------------------------
def _bad_cases(r: int, w: int, f: object) -> list:
    """(function, args, the exception class it must raise)."""
    big = 2**64
    cases = [
        (S.splice, ("x", w), TypeError),
        (S.splice, (r, None), TypeError),
        (S.splice, (-1, w, None, None, 1), ValueError),
        (S.splice, (2**40, w, None, None, 1), OverflowError),
        (S.splice, (r, w, -1, None, 1), ValueError),
        (S.splice, (r, w, None, -5, 1), ValueError),
        (S.splice, (r, w, "0", None, 1), TypeError),
        (S.splice, (r, w, None, None, -1), ValueError),
        (S.splice, (r, w, None, None, big), OverflowError),
        (S.splice, (r, w, None, None, 1.5), TypeError),
        (S.splice, (r, w, big, None, 1), OverflowError),
        (S.splice, (r, w, None, None, 1, -1), ValueError),
        (S.splice, (r, w, None, None, 1, big), OverflowError),
        (S.splice, (r, w, None, None, 1, 0xFFFF), OSError),  # the kernel's EINVAL
        (S.splice, (r, w, None, None, True), TypeError),
        (S.splice, (f, f, None, None, 1), OSError),
        (S.splice, (99999, w, None, None, 1), OSError),
        (S.tee, (r, "w"), TypeError),
        (S.tee, (r, w, -1), ValueError),
        (S.tee, (r, w, big), OverflowError),
        (S.tee, (r, w, 1, -1), ValueError),
        (S.tee, (f, w), OSError),
        (S.tee, (99999, w, 1), OSError),
        (S.vmsplice, (w, None), TypeError),
        (S.vmsplice, (w, "text"), TypeError),
        (S.vmsplice, (w, 5), TypeError),
        (S.vmsplice, (w, [5]), TypeError),
        (S.vmsplice, (w, [None]), TypeError),
        (S.vmsplice, (w, b"x", -1), ValueError),
        (S.vmsplice, (w, b"x", big), OverflowError),
        (S.vmsplice, (w, b"x", "0"), TypeError),
        (S.vmsplice, (-1, b"x"), ValueError),
        (S.vmsplice, (99999, b"x"), OSError),
        (S.vmsplice, (f, b"x"), OSError),
        (S.vmsplice, (r, b"x"), TypeError),
        (S.vmsplice, (r, [bytearray(1), b"x"]), TypeError),
        (S.vmsplice, (w, memoryview(b"abcd")[::2]), ValueError),
        (S.get_pipe_size, (f,), OSError),
        (S.get_pipe_size, ("x",), TypeError),
        (S.get_pipe_size, (-1,), ValueError),
        (S.set_pipe_size, (w, 0), ValueError),
        (S.set_pipe_size, (w, -1), ValueError),
        (S.set_pipe_size, (w, big), OverflowError),
        (S.set_pipe_size, (w, 2**31), OverflowError),
        (S.set_pipe_size, (w, "1"), TypeError),
        (S.set_pipe_size, (f, 4096), OSError),
        (S.splice_copy, (f, "x"), TypeError),
        (S.splice_copy, (f, w, -1), ValueError),
        (S.splice_copy, (f, w, big), OverflowError),
        (S.splice_copy, (f, w, 1.0), TypeError),
        (S.splice_copy, (99999, w), OSError),
        (S.splice_copy, (f, 99999), OSError),
        (S.splice_copy, (r, r), OSError),
    ]
    for kw, expected in (
        ({"src_offset": -1}, ValueError),
        ({"dst_offset": big}, OverflowError),
        ({"pipe_size": 0}, ValueError),
        ({"pipe_size": -1}, ValueError),
        ({"pipe_size": 2**31}, OverflowError),
        ({"src_offset": "1"}, TypeError),
    ):
        cases.append((lambda kw=kw: S.splice_copy(f, w, **kw), (), expected))
    cases.append((lambda: S.vmsplice(w, b"x", zero_copy=1), (), TypeError))
    return cases


def test_bad_input_is_a_clean_error():
    r, w = os.pipe()
    with tempfile.TemporaryFile() as f:
        try:
            for fn, args, expected in _bad_cases(r, w, f):
                raised = assert_clean_error(fn, *args)
                assert raised == expected.__name__, (fn, args, raised)
        finally:
            os.close(r)
            os.close(w)


@pytest.mark.parametrize("size", [1, 65536, 1 << 20, 3 << 20])
def test_copy_to_tcp_last_bytes_not_held_back(size):
    """The helper uses SPLICE_F_MORE only while more data is known to follow:
    the receiver gets every byte while the connection stays open."""
    data = _payload(size)
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    a = socket.create_connection(srv.getsockname())
    b, _ = srv.accept()
    srv.close()
    with a, b, _file_with(data) as f:
        assert S.splice_copy(f, a, pipe_size=65536) == size
        b.settimeout(10)  # a held-back tail would never arrive
        got = bytearray()
        while len(got) < size:
            chunk = b.recv(1 << 20)
            assert chunk
            got += chunk
    assert got == data


# -- splice_copy: any pipe size, any fd kind, never a hang (issue 7) ----------------
# A copy that deadlocks must FAIL, not stall the run: each group of copies runs
# in a forked child that reports every finished copy on a pipe; the parent kills
# the child when one copy takes longer than HANG_S.
HANG_S = 15.0
PIPE_SIZES = [4096, 8192, 65536, None]  # None: splice_copy's default
PIPE_IDS = ["4k", "8k", "64k", "default"]
# Writes of these sizes, in turn, feed socket and pipe sources: small skbs
# spread a few bytes over many pipe buffers.
FEED_CHUNKS = [1, 100, 4095, 4097, 65536]


def _sizes_around(pipe_size: int | None) -> list[int]:
    """Data sizes at the pipe's boundaries: empty, one byte, half a pipe
    (splice_copy's read-ahead chunk), a pipe, and several MiB."""
    p = pipe_size or S.DEFAULT_PIPE_SIZE
    p = max(p, PAGE)  # the kernel rounds up to a page
    return [0, 1, p // 2 + 1, p - 1, p, p + 1, 2 * p + 1, (3 << 20) + 7]


def _feed(fd: int, data: bytes, close) -> threading.Thread:
    """Write *data* to the blocking *fd* in FEED_CHUNKS-sized writes, then close."""

    def run() -> None:
        view = memoryview(data)
        i = 0
        while view:
            step = FEED_CHUNKS[i % len(FEED_CHUNKS)]
            i += 1
            view = view[os.write(fd, view[:step]) :]
        close()

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


def copy_case(case: tuple[str, str, int | None, int]) -> str | None:
    """One splice_copy from a *src* of kind ``file``, ``file@1`` (at offset
    1), ``pipe``, ``socketpair`` or ``tcp`` to a *dst* of kind ``file``,
    ``socketpair`` or ``tcp``; a ``+nb`` suffix makes the copied fd
    non-blocking.  Returns None, or what went wrong."""
    src_kind, dst_kind, pipe_size, size = case
    data = _payload(size)
    closers: list = []
    threads: list[threading.Thread] = []
    got: list[bytes] = []
    kw: dict = {"pipe_size": pipe_size}
    try:
        src_base = src_kind.split("+")[0]
        if src_base in ("file", "file@1"):
            f = _file_with(b"x" + data if src_base == "file@1" else data)
            closers.append(f.close)
            src = f.fileno()
            if src_base == "file@1":
                kw["src_offset"] = 1
        elif src_base == "pipe":
            src, w = os.pipe2(os.O_CLOEXEC)
            closers.append(lambda: os.close(src))
            if pipe_size:
                S.set_pipe_size(w, pipe_size)
            threads.append(_feed(w, data, lambda: os.close(w)))
        else:
            a, b = stream_pair(src_base)
            closers += [a.close, b.close]
            src = b.fileno()
            threads.append(_feed(a.fileno(), data, lambda: a.shutdown(socket.SHUT_WR)))
        dst_base = dst_kind.split("+")[0]
        if dst_base == "file":
            out = tempfile.TemporaryFile(dir="/dev/shm")  # noqa: SIM115 - closed below
            closers.append(out.close)
            dst = out.fileno()
            after = None
        else:
            c, d = stream_pair(dst_base)
            closers += [c.close, d.close]
            dst = c.fileno()
            threads.append(_socket_sink(d, got))
            after = lambda: c.shutdown(socket.SHUT_WR)  # noqa: E731
        if src_kind.endswith("+nb"):
            os.set_blocking(src, False)
        if dst_kind.endswith("+nb"):
            os.set_blocking(dst, False)
        n = S.splice_copy(src, dst, **kw)
        if after:
            after()
        for t in threads:
            t.join()
        copied = os.pread(dst, size + 1, 0) if dst_base == "file" else b"".join(got)
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
    ("file@1", "file"),  # unaligned: each chunk spans one more page
    ("file", "socketpair"),
    ("file", "tcp"),
    ("file", "socketpair+nb"),
    ("socketpair", "socketpair"),
    ("tcp", "tcp"),
    ("socketpair+nb", "socketpair+nb"),
    ("tcp", "file"),
    ("pipe", "file"),
    ("pipe", "socketpair"),
]


@pytest.mark.parametrize("pipe_size", PIPE_SIZES, ids=PIPE_IDS)
@pytest.mark.parametrize("src_kind,dst_kind", COPY_KINDS, ids=[f"{a}->{b}" for a, b in COPY_KINDS])
def test_copy_any_pipe_size_never_hangs(src_kind, dst_kind, pipe_size):
    """Every byte arrives, unchanged, whatever the pipe size, the fd kinds,
    the data size at the pipe's boundaries (the old pump deadlocked with a
    4 KiB pipe from a file and an 8 KiB pipe between sockets)."""
    cases = [(src_kind, dst_kind, pipe_size, n) for n in _sizes_around(pipe_size)]
    run_bounded(copy_case, cases)


@pytest.mark.parametrize("pipe_size", PIPE_SIZES, ids=PIPE_IDS)
def test_copy_count_at_pipe_boundaries(pipe_size):
    """*count* stops the copy exactly, at and around the pipe's size."""

    def case(count: int) -> str | None:
        data = _payload(3 * (pipe_size or S.DEFAULT_PIPE_SIZE) + 5)
        with _file_with(data) as f, tempfile.TemporaryFile(dir="/dev/shm") as out:
            n = S.splice_copy(f, out, count, pipe_size=pipe_size)
            if n != count or os.pread(out.fileno(), len(data), 0) != data[:count]:
                return f"count={count}: copied {n}"
            if os.lseek(f.fileno(), 0, os.SEEK_CUR) != count:
                return f"count={count}: source position not advanced by count"
        return None

    p = max(pipe_size or S.DEFAULT_PIPE_SIZE, PAGE)
    run_bounded(case, [0, 1, p // 2, p // 2 + 1, p - 1, p, p + 1, 2 * p])


def _copy_in_thread(*args: Any, **kwargs: Any) -> tuple[threading.Thread, list[object]]:
    """Start ``splice_copy(*args, **kwargs)`` in a daemon thread; the list
    gets its result, or the exception it raised."""
    result: list[object] = []

    def copy() -> None:
        try:
            result.append(S.splice_copy(*args, **kwargs))
        except BaseException as exc:  # pragma: no cover - reported by the caller
            result.append(exc)

    t = threading.Thread(target=copy, daemon=True)
    t.start()
    return t, result


@pytest.mark.parametrize("pipe_size", PIPE_SIZES, ids=PIPE_IDS)
@pytest.mark.parametrize("kind", ["socketpair", "tcp"])
def test_copy_forwards_before_waiting_for_more_input(kind, pipe_size):
    """A peer that waits for an answer before sending more gets its message
    at once: the copy delivers what it read before it waits for more input
    (the old pump read ahead on the socket and sat on the message)."""
    a, b = stream_pair(kind)
    c, d = stream_pair(kind)
    t, result = _copy_in_thread(b, c, pipe_size=pipe_size)
    try:
        d.settimeout(HANG_S)
        for message in (b"ping", b"x" * 100000, b"pong"):
            a.sendall(message)
            got = bytearray()
            while len(got) < len(message):
                try:
                    chunk = d.recv(1 << 20)
                except socket.timeout:
                    pytest.fail(f"{len(message)}-byte message held back by splice_copy")
                assert chunk
                got += chunk
            assert got == message
    finally:
        a.shutdown(socket.SHUT_WR)  # end of input: the copy returns
        t.join(HANG_S)
        for s in (a, b, c, d):
            s.close()
    assert not t.is_alive()
    assert result == [4 + 100000 + 4]


def _pipe_reader_case(kind: str) -> str | None:
    """splice_copy(blocking socket -> the caller's pipe): the pipe's reader
    gets each message while the copy waits for the next one."""
    a, b = stream_pair(kind)
    r, w = os.pipe2(os.O_CLOEXEC)
    t, result = _copy_in_thread(b, w)
    try:
        for message in (b"ping", b"x" * 100000, b"pong"):
            got = bytearray()

            def read(n: int = len(message), got: bytearray = got) -> None:
                while len(got) < n:
                    chunk = os.read(r, 1 << 20)
                    if not chunk:
                        return
                    got += chunk

            reader = threading.Thread(target=read, daemon=True)
            reader.start()
            a.sendall(message)
            reader.join(5)
            if reader.is_alive():
                return f"the pipe's reader got {len(got)} of a {len(message)}-byte message"
            if got != message:
                return f"the pipe's reader got {len(got)} bytes that differ from the message"
    finally:
        a.shutdown(socket.SHUT_WR)  # end of input: the copy returns
        t.join(HANG_S)
        for fd in (r, w):
            os.close(fd)
        a.close()
        b.close()
    if result != [4 + 100000 + 4]:
        return f"splice_copy: {result}"
    return None


@pytest.mark.parametrize("kind", ["socketpair", "tcp"])
def test_copy_to_a_pipe_leaves_its_reader_the_bytes(kind):
    """A splice straight from a blocking socket into the caller's pipe
    waits for input with the pipe locked: the pipe's reader could not take
    the message already in it, and a peer waiting for the answer waited
    forever.  The copy goes through its private pipe instead."""
    run_bounded(_pipe_reader_case, [kind])


def _pipe_writer_case(kind: str) -> str | None:
    """splice_copy(the caller's pipe -> blocking socket that is full): the
    pipe's writer can still write to it and close it."""
    r, w = os.pipe2(os.O_CLOEXEC)
    c, d = socket.socketpair()
    c.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    # A pipeful, more than the socket takes: the copy waits for the socket.
    data = _payload(S.set_pipe_size(w, 1 << 20))
    os.write(w, data)
    want = data + (b"end" if kind == "write" else b"")
    t, result = _copy_in_thread(r, c)
    got = bytearray()
    try:
        poller = select.poll()
        poller.register(d, select.POLLIN)
        poller.poll(int(HANG_S * 1000))  # the copy has begun to send
        time.sleep(0.2)  # ... and waits for room in the socket
        done = threading.Event()

        def finish() -> None:
            if kind == "write":
                os.write(w, b"end")
            os.close(w)  # on PyPy os.close keeps the GIL while it waits
            done.set()

        writer = threading.Thread(target=finish, daemon=True)
        writer.start()
        if not done.wait(5):
            return f"the pipe's writer could not {kind} it while the copy waited"
    finally:
        d.settimeout(HANG_S)
        while len(got) < len(want):  # the copy (and a stuck writer) can finish
            chunk = d.recv(1 << 20)
            if not chunk:
                break
            got += chunk
        t.join(HANG_S)
        c.close()
        d.close()
        os.close(r)
    if result != [len(want)] or got != want:
        return f"splice_copy: {result}, {len(got)} bytes arrived"
    return None


@pytest.mark.parametrize("kind", ["write", "close"])
def test_copy_from_a_pipe_leaves_its_writer_free(kind):
    """A splice straight from the caller's pipe into a blocking socket
    waits for room with the pipe locked: the pipe's writer could neither
    write nor close it until the socket's reader caught up (and on PyPy,
    whose os.close does not release the GIL, that froze every thread:
    the PyPy stress failure).  The copy goes through its private pipe
    instead."""
    run_bounded(_pipe_writer_case, [kind])


def _unused_uid() -> int:
    """A uid no process runs as: its per-user pipe accounting is ours alone."""
    import pwd

    taken = {e.pw_uid for e in pwd.getpwall()}
    for pid in os.listdir("/proc"):
        try:
            taken.add(os.stat(f"/proc/{pid}").st_uid)
        except OSError:  # not a process, or gone
            pass
    uid = 0x3FFF0000 + os.getpid() % 0xFFFF
    while uid in taken:
        uid += 1
    return uid


def _over_pipe_budget() -> list[int]:
    """As an unprivileged user, hold pipes until F_SETPIPE_SZ(1 MiB) is refused
    (fs.pipe-user-pages-soft reached); return their fds."""
    held: list[int] = []
    while True:
        r, w = os.pipe2(os.O_CLOEXEC)
        held += [r, w]
        try:
            S.set_pipe_size(w, S.DEFAULT_PIPE_SIZE)
        except PermissionError:
            return held
        if len(held) > 20000:
            raise AssertionError("the pipe budget never ran out")


def test_copy_default_pipe_when_the_user_pipe_budget_is_used_up():
    """With the default arguments, splice_copy falls back to the small pipe
    the kernel gives a user over fs.pipe-user-pages-soft (2 pages): copies
    must still complete.  Simulated in a child running as an unused uid (no
    sysctl is changed; only that uid's own budget is used up)."""
    with open("/proc/sys/fs/pipe-user-pages-soft") as f:
        soft = int(f.read())
    if soft == 0:
        pytest.skip("fs.pipe-user-pages-soft is 0 (no per-user limit)")
    if os.geteuid() != 0:
        pytest.skip("needs root to become an unused uid")
    import resource

    def case(kinds: tuple[str, str, int]) -> str | None:
        if os.getuid() == 0:  # first case: become the unprivileged user
            need = 2 * soft // (S.DEFAULT_PIPE_SIZE // PAGE) + 200
            lo, hi = resource.getrlimit(resource.RLIMIT_NOFILE)
            if need > lo:
                resource.setrlimit(resource.RLIMIT_NOFILE, (max(need, lo), max(need, hi)))
            uid = _unused_uid()
            os.setgroups([])
            os.setresgid(uid, uid, uid)
            os.setresuid(uid, uid, uid)
            _over_pipe_budget()  # held until the child exits
            r, w, cap = S._make_pipe(None)
            os.close(r)
            os.close(w)
            if cap >= S.DEFAULT_PIPE_SIZE:
                return f"the budget did not run out (pipe of {cap} bytes)"
        return copy_case((kinds[0], kinds[1], None, kinds[2]))

    cases = [
        (src, dst, n)
        for src, dst in [("socketpair", "socketpair"), ("tcp", "tcp"), ("file", "file")]
        for n in (0, 1, 8191, 8192, 8193, (3 << 20) + 7)
    ]
    run_bounded(case, cases)


@pytest.mark.parametrize("pipe_size", PIPE_SIZES, ids=PIPE_IDS)
def test_copy_to_tcp_last_bytes_not_held_back_any_pipe_size(pipe_size):
    """SPLICE_F_MORE only while more data is known to follow, also when the
    pipe fills up (small pipes, a file read at an odd offset)."""

    def case(args: tuple[int, int]) -> str | None:
        size, offset = args
        data = _payload(size)
        a, b = stream_pair("tcp")
        with a, b, _file_with(b"\0" * offset + data) as f:
            n = S.splice_copy(f, a, src_offset=offset, pipe_size=pipe_size)
            b.settimeout(5)  # a held-back tail would never arrive
            got = bytearray()
            while len(got) < size:
                try:
                    chunk = b.recv(1 << 20)
                except socket.timeout:
                    return f"{size - len(got)} of {size} bytes held back"
                got += chunk
        return None if n == size and got == data else f"copied {n}: wrong bytes"

    p = max(pipe_size or S.DEFAULT_PIPE_SIZE, PAGE)
    run_bounded(case, [(n, off) for n in (1, p // 2 + 1, p + 1, 3 * p + 7) for off in (0, 1)])


# -- progress: one call per chunk -------------------------------------------------
@pytest.mark.parametrize("pipe_size", [PAGE, 65536, None])
def test_copy_progress_file_to_file(pipe_size):
    data = _payload(3 << 20)
    calls: list[int] = []
    with _file_with(data) as f, tempfile.TemporaryFile(dir="/dev/shm") as out:
        n = S.splice_copy(f, out, pipe_size=pipe_size, progress=calls.append)
        assert n == len(data) == calls[-1]
        assert os.pread(out.fileno(), n + 1, 0) == data
    assert calls == sorted(set(calls))  # grows at each call, never repeats
    chunk = (pipe_size or 1 << 20) // 2  # the private pipe, read half a pipe ahead
    assert len(calls) >= len(data) // (2 * chunk + PAGE)  # every chunk or so
    assert len(calls) <= len(data) // (chunk // 2) + 2  # but not per page


def test_copy_progress_socket_and_pipe():
    """Through the private pipe (a socket) and straight across (a pipe)."""
    data = _payload(1 << 20)
    a, b = socket.socketpair()
    got: list[bytes] = []
    calls: list[int] = []
    with a, b, _file_with(data) as f:
        t = _socket_sink(b, got)
        assert S.splice_copy(f, a, pipe_size=65536, progress=calls.append) == len(data)
        a.shutdown(socket.SHUT_WR)
        t.join()
    assert b"".join(got) == data
    assert calls[-1] == len(data) and len(calls) >= len(data) // 65536
    assert calls == sorted(set(calls))
    r, w = os.pipe2(os.O_CLOEXEC)
    into: list[bytes] = []
    calls.clear()
    drain = threading.Thread(target=_drain, args=(r, into))
    drain.start()
    with _file_with(data) as f:
        try:
            assert S.splice_copy(f, w, progress=calls.append) == len(data)
        finally:
            os.close(w)
            drain.join()
            os.close(r)
    assert b"".join(into) == data
    assert calls[-1] == len(data) and len(calls) >= 2


def test_copy_progress_empty_and_errors():
    calls: list[int] = []
    with _file_with(b"") as f, tempfile.TemporaryFile(dir="/dev/shm") as out:
        assert S.splice_copy(f, out, progress=calls.append) == 0
    assert calls == []  # nothing moved: nothing to report
    before = open_fds()
    with _file_with(b"x") as f, tempfile.TemporaryFile(dir="/dev/shm") as out:
        with pytest.raises(TypeError, match="progress must be callable"):
            S.splice_copy(f, out, progress=3)  # type: ignore[arg-type]

        class Stop(Exception):
            pass

        def stop(n: int) -> None:
            raise Stop

        with _file_with(_payload(1 << 20)) as big, pytest.raises(Stop):
            S.splice_copy(big, out, pipe_size=65536, progress=stop)
        assert 0 < os.fstat(out.fileno()).st_size < 1 << 20  # stopped early
    assert open_fds() == before  # the private pipe closed


def test_copy_progress_costs_little():
    """A call per chunk: the copy's time stays about the same."""
    data = _payload(64 << 20)
    calls: list[int] = []

    def best(**kw: Any) -> float:
        times = []
        for _ in range(3):
            with _file_with(data) as f, tempfile.TemporaryFile(dir="/dev/shm") as out:
                t0 = time.perf_counter()
                S.splice_copy(f, out, **kw)
                times.append(time.perf_counter() - t0)
        return min(times)

    plain = best()
    tracked = best(progress=calls.append)
    assert calls[-1] == len(data)
    assert tracked < plain * 1.5 + 0.02  # loose: the CPU is shared
