"""butter.splice against the real kernel (and against os.splice)."""

from __future__ import annotations

import errno
import fcntl
import os
import socket
import tempfile
import threading

import pytest
from conftest import assert_clean_error, open_fds

from butter import splice as S

PAGE = os.sysconf("SC_PAGE_SIZE")
SIZES = [1, PAGE, 100 * 1024 * 1024]
SIZE_IDS = ["1B", "page", "100MiB"]


def _payload(n: int) -> bytes:
    if n <= 1 << 20:
        return os.urandom(n)
    block = os.urandom(1 << 20)
    # Not periodic at 1 MiB: a misplaced chunk would show.
    return b"".join(block[i % 997 :] + block[: i % 997] for i in range(n >> 20))[:n]


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
    big = 2**64
    cases = [
        (S.splice, ("x", w)),
        (S.splice, (r, None)),
        (S.splice, (-1, w, None, None, 1)),
        (S.splice, (r, w, -1, None, 1)),
        (S.splice, (r, w, None, -5, 1)),
        (S.splice, (r, w, "0", None, 1)),
        (S.splice, (r, w, None, None, -1)),
        (S.splice, (r, w, None, None, big)),
        (S.splice, (r, w, None, None, 1.5)),
        (S.splice, (r, w, big, None, 1)),
        (S.splice, (r, w, None, None, 1, -1)),
        (S.splice, (r, w, None, None, 1, big)),
        (S.splice, (r, w, None, None, 1, 0xFFFF)),
        (S.splice, (r, w, None, None, True)),
        (S.splice, (f, f, None, None, 1)),
        (S.splice, (99999, w, None, None, 1)),
        (S.tee, (r, "w")),
        (S.tee, (r, w, -1)),
        (S.tee, (r, w, big)),
        (S.tee, (r, w, 1, -1)),
        (S.tee, (f, w)),
        (S.tee, (99999, w, 1)),
        (S.vmsplice, (w, None)),
        (S.vmsplice, (w, "text")),
        (S.vmsplice, (w, 5)),
        (S.vmsplice, (w, [5])),
        (S.vmsplice, (w, [None])),
        (S.vmsplice, (w, b"x", -1)),
        (S.vmsplice, (w, b"x", big)),
        (S.vmsplice, (w, b"x", "0")),
        (S.vmsplice, (-1, b"x")),
        (S.vmsplice, (99999, b"x")),
        (S.vmsplice, (f, b"x")),
        (S.vmsplice, (r, b"x")),
        (S.vmsplice, (r, [bytearray(1), b"x"])),
        (S.vmsplice, (w, memoryview(b"abcd")[::2])),
        (S.get_pipe_size, (f,)),
        (S.get_pipe_size, ("x",)),
        (S.get_pipe_size, (-1,)),
        (S.set_pipe_size, (w, 0)),
        (S.set_pipe_size, (w, -1)),
        (S.set_pipe_size, (w, big)),
        (S.set_pipe_size, (w, 2**31)),
        (S.set_pipe_size, (w, "1")),
        (S.set_pipe_size, (f, 4096)),
        (S.splice_copy, (f, "x")),
        (S.splice_copy, (f, w, -1)),
        (S.splice_copy, (f, w, big)),
        (S.splice_copy, (f, w, 1.0)),
        (S.splice_copy, (99999, w)),
        (S.splice_copy, (f, 99999)),
        (S.splice_copy, (r, r)),
    ]
    for kw in (
        {"src_offset": -1},
        {"dst_offset": big},
        {"pipe_size": 0},
        {"pipe_size": -1},
        {"pipe_size": 2**31},
        {"src_offset": "1"},
    ):
        cases.append((lambda kw=kw: S.splice_copy(f, w, **kw), ()))
    cases.append((lambda: S.vmsplice(w, b"x", zero_copy=1), ()))
    return cases


def test_bad_input_is_a_clean_error():
    r, w = os.pipe()
    with tempfile.TemporaryFile() as f:
        try:
            kinds = {assert_clean_error(fn, *args) for fn, args in _bad_cases(r, w, f)}
        finally:
            os.close(r)
            os.close(w)
    assert kinds <= {
        "TypeError",
        "ValueError",
        "OverflowError",
        "OSError",
        "BlockingIOError",
        "BrokenPipeError",
        "PermissionError",
    }


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
