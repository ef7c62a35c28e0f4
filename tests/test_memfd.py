"""butter.memfd against the kernel and os.memfd_create."""

from __future__ import annotations

import errno
import fcntl
import mmap
import os

import pytest
from conftest import assert_clean_error, open_fds

from butter import memfd as M


def test_constants_match_os():
    for name in M.__all__:
        assert hasattr(M, name)
        if name.isupper() and hasattr(os, name):
            assert getattr(M, name) == getattr(os, name), name
        if name.startswith("F_") and hasattr(fcntl, name):
            assert getattr(M, name) == getattr(fcntl, name), name


def test_memfd_create_like_os():
    fd = M.memfd_create("butter-test")
    ref = os.memfd_create("butter-test")
    try:
        assert os.readlink(f"/proc/self/fd/{fd}") == os.readlink(f"/proc/self/fd/{ref}")
        assert os.readlink(f"/proc/self/fd/{fd}").startswith("/memfd:butter-test")
        assert fcntl.fcntl(fd, fcntl.F_GETFD) & fcntl.FD_CLOEXEC
        assert not os.get_inheritable(fd)
    finally:
        os.close(fd)
        os.close(ref)
    fd = M.memfd_create(b"inherit", 0)  # asked otherwise: inheritable
    try:
        assert os.get_inheritable(fd)
        # Without MFD_ALLOW_SEALING the only seal is F_SEAL_SEAL.
        assert M.get_seals(fd) == M.F_SEAL_SEAL
    finally:
        os.close(fd)


def test_memfd_object_file_ops():
    with M.Memfd("data") as m:
        assert fcntl.fcntl(m.fileno(), fcntl.F_GETFD) & fcntl.FD_CLOEXEC
        assert m.size == 0
        assert m.write(b"hello world") == 11
        assert m.size == 11
        assert m.seek(0) == 0
        assert m.read(5) == b"hello"
        assert m.read() == b" world"
        m.truncate(4)
        m.seek(0)
        assert m.read() == b"hell"
        with open(f"/proc/self/fd/{m.fileno()}", "rb") as f:  # reopen by path
            assert f.read() == b"hell"
        assert repr(m) == f"<Memfd fd={m.fileno()} name='data'>"
    assert m.closed
    assert repr(m) == "<Memfd closed>"
    with pytest.raises(ValueError, match="closed"):
        m.fileno()
    with pytest.raises(ValueError, match="closed"):
        m.seal(M.F_SEAL_GROW)
    m.close()  # idempotent


def test_memfd_mmap_shared():
    with M.Memfd() as m:
        m.truncate(mmap.PAGESIZE)
        mm = m.mmap()
        mm[:5] = b"abcde"
        m.seek(0)
        assert m.read(5) == b"abcde"
        mm.close()
    with M.Memfd() as m, pytest.raises(ValueError):
        m.mmap()  # empty file


def test_seals():
    with M.Memfd() as m:
        assert m.seals == 0
        m.write(b"x" * 100)
        m.seal(M.F_SEAL_SHRINK)
        assert m.seals == M.F_SEAL_SHRINK
        with pytest.raises(PermissionError):
            m.truncate(10)
        m.truncate(200)  # growing is still allowed
        m.seal(M.F_SEAL_GROW)
        with pytest.raises(PermissionError):
            m.truncate(300)
        # A writable shared mapping blocks F_SEAL_WRITE (EBUSY) ...
        mm = m.mmap()
        with pytest.raises(OSError) as info:
            m.seal(M.F_SEAL_WRITE)
        assert info.value.errno == errno.EBUSY
        mm.close()
        m.seal(M.F_SEAL_WRITE)  # ... and works once it is gone
        with pytest.raises(PermissionError):
            m.write(b"y")
        ro = m.mmap()  # read-only by default now
        assert ro[:3] == b"xxx"
        with pytest.raises(TypeError):
            ro[0] = 1
        ro.close()
        with pytest.raises(PermissionError):
            m.mmap(access=mmap.ACCESS_WRITE)
        m.seal(M.F_SEAL_SEAL)
        with pytest.raises(PermissionError):
            m.seal(M.F_SEAL_EXEC)
        assert m.seals == M.F_SEAL_SHRINK | M.F_SEAL_GROW | M.F_SEAL_WRITE | M.F_SEAL_SEAL


def test_future_write_seal_keeps_existing_mapping():
    with M.Memfd() as m:
        m.truncate(mmap.PAGESIZE)
        mm = m.mmap()
        m.seal(M.F_SEAL_FUTURE_WRITE)
        mm[0] = 65  # existing writable mapping still works
        with pytest.raises(PermissionError):
            m.write(b"z")
        mm.close()
        m.seek(0)
        assert m.read(1) == b"A"


def test_sealing_not_allowed():
    with M.Memfd(flags=M.MFD_CLOEXEC) as m, pytest.raises(PermissionError):
        m.seal(M.F_SEAL_GROW)


def test_no_events():
    """A memfd owns an fd without pretending to produce events."""
    with M.Memfd() as m:
        for name in ("read_event", "read_events", "wait", "__next__"):
            assert not hasattr(m, name), name


def test_unclosed_warns():
    m = M.Memfd()
    fd = m.fileno()
    with pytest.warns(ResourceWarning):
        del m
        import gc

        gc.collect()
    with pytest.raises(OSError):
        os.fstat(fd)


def test_no_fd_leak():
    before = open_fds()
    for _ in range(2000):
        M.Memfd("leak").close()
    for _ in range(2000):
        with M.Memfd():
            pass
    for _ in range(2000):
        os.close(M.memfd_create("x"))
    assert open_fds() == before


def test_bad_input():
    big = 2**64
    cases = [
        (M.memfd_create, (None,), TypeError),
        (M.memfd_create, (5,), TypeError),
        (M.memfd_create, ("a\0b",), ValueError),
        (M.memfd_create, ("x" * 300,), OSError),  # the kernel's EINVAL
        (M.memfd_create, ("x", -1), ValueError),
        (M.memfd_create, ("x", big), OverflowError),
        (M.memfd_create, ("x", "0"), TypeError),
        (M.memfd_create, ("x", True), TypeError),
        (M.memfd_create, ("x", 0x8000), OSError),
        (M.memfd_create, ("x", M.MFD_EXEC | M.MFD_NOEXEC_SEAL), OSError),
        (M.get_seals, ("x",), TypeError),
        (M.get_seals, (-1,), ValueError),
        (M.get_seals, (2**40,), OverflowError),
        (M.get_seals, (99999,), OSError),
        (M.add_seals, (99999, M.F_SEAL_GROW), OSError),
        (M.add_seals, (0, -1), ValueError),
        (M.add_seals, (0, big), OverflowError),
        (M.add_seals, (0, "x"), TypeError),
        (M.Memfd, (None,), TypeError),
        (M.Memfd, ("x", -1), ValueError),
        (M.Memfd, ("x", None), TypeError),
        (lambda: M.Memfd().seal("x"), (), TypeError),
        (lambda: M.Memfd().seal(-1), (), ValueError),
        (lambda: M.Memfd().truncate(-1), (), OSError),  # as os.ftruncate
        (lambda: M.Memfd().mmap(-1), (), ValueError),
        (lambda: M.Memfd().mmap(big), (), OverflowError),
        (lambda: M.Memfd().mmap(access=99), (), ValueError),
        (lambda: M.Memfd().seek(-1), (), OSError),
        (lambda: M.Memfd().write("text"), (), TypeError),
    ]
    with open("/dev/null") as f:
        cases.append((M.get_seals, (f,), OSError))  # not a memfd: EINVAL
        for fn, args, expected in cases:
            raised = assert_clean_error(fn, *args)
            assert raised == expected.__name__, (fn, args, raised)
