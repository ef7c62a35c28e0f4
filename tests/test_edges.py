"""Edge arguments and error markers that must agree across modules (issue 7).

* ``timeout``: ``None`` and ``math.inf`` wait forever, zero or negative
  polls, NaN raises ``ValueError`` -- in every ``wait()`` and in aio.
* The 8-byte counter reader's error marker (all ones) is never mistaken for
  an error when the data really is all ones.
* bools are not sizes/positions; hostnames have no NUL byte.
"""

from __future__ import annotations

import math
import os
import threading

import pytest
from conftest import in_child

from butter import clone, system
from butter.aio import Context
from butter.eventfd import Eventfd, eventfd_read
from butter.inotify import Inotify, InotifyTree
from butter.memfd import Memfd
from butter.pidfd import PidFd
from butter.timerfd import Timer


def _ready_objects(tmp_path):
    """Objects with one event ready, and a callable producing it."""
    efd = Eventfd(1)
    yield efd
    timer = Timer().after(seconds=0.001).update()
    yield timer
    ino = Inotify()
    ino.watch(tmp_path)
    (tmp_path / "x").touch()
    yield ino
    sub = tmp_path / "sub"
    sub.mkdir()
    tree = InotifyTree(sub)
    (sub / "y").touch()
    yield tree


@pytest.mark.parametrize("timeout", [None, math.inf, 1e300, 5, 5.0])
def test_wait_forever_values_return_the_ready_event(tmp_path, timeout):
    for obj in _ready_objects(tmp_path):
        with obj:
            assert obj.wait(timeout) is not None, obj


@pytest.mark.parametrize("timeout", [0, 0.0, -1, -math.inf, 0.001])
def test_wait_poll_values_return_none_when_idle(tmp_path, timeout):
    (tmp_path / "sub").mkdir()
    for obj in (Eventfd(), Timer(), Inotify(), InotifyTree(tmp_path / "sub")):
        with obj:
            assert obj.wait(timeout) is None, obj


def test_wait_nan_and_wrong_types(tmp_path):
    (tmp_path / "sub").mkdir()
    for obj in (Eventfd(1), Timer(), Inotify(), InotifyTree(tmp_path / "sub"), Context()):
        with obj:
            with pytest.raises(ValueError, match="NaN"):
                obj.wait(math.nan)
            with pytest.raises(TypeError):
                obj.wait("1")  # type: ignore[arg-type]
            with pytest.raises(TypeError):
                obj.wait(True)  # type: ignore[arg-type]


def test_pidfd_wait_timeouts():
    pid = os.fork()
    if pid == 0:
        os._exit(3)
    with PidFd(pid) as p:
        with pytest.raises(ValueError, match="NaN"):
            p.wait(math.nan)
        ev = p.wait(math.inf)
        assert ev is not None and ev.status == 3
    os.waitpid(pid, 0)  # PidFd leaves the zombie to the parent


def test_aio_timeouts():
    with Context() as ctx:
        assert ctx.get_events(1, timeout=0) == []
        assert ctx.get_events(1, timeout=-1) == []
        assert ctx.wait(0.01) is None
        with pytest.raises(ValueError, match="NaN"):
            ctx.get_events(1, timeout=math.nan)
        r, w = os.pipe()
        try:
            os.write(w, b"data")
            ctx.pread(r, 4, 0)  # pipes: completes inside io_submit
            assert len(ctx.get_events(1, timeout=math.inf)) == 1
            os.write(w, b"data")
            ctx.pread(r, 4, 0)
            assert len(ctx.get_events(1, timeout=1e30)) == 1  # past 2**63 ns: forever
        finally:
            os.close(r)
            os.close(w)


def test_wait_returns_in_time_with_a_slow_reader_holding_the_lock(tmp_path):
    """wait(timeout) waits for the read lock only within its timeout."""
    ino = Inotify()
    ino.watch(tmp_path)
    ino._lock.acquire()  # as if another thread were reading
    try:
        (tmp_path / "x").touch()
        result = []
        t = threading.Thread(target=lambda: result.append(ino.wait(0.2)))
        t.start()
        t.join(5)
        assert not t.is_alive() and result == [None]
    finally:
        ino._lock.release()
    assert ino.wait(1).filename == "x"
    ino.close()


# -- the 8-byte counter reader --------------------------------------------------------
def test_eventfd_read_of_all_ones_from_another_fd_kind():
    """Issue 7 case 7: eight 0xff bytes are data, not OSError(0)."""
    r, w = os.pipe()
    try:
        os.write(w, b"\xff" * 8 + b"\x01" + b"\0" * 7)
        assert eventfd_read(r) == 2**64 - 1  # as os.eventfd_read
        assert eventfd_read(r) == 1  # nothing else consumed
        if hasattr(os, "eventfd_read"):
            os.write(w, b"\xff" * 8)
            assert os.eventfd_read(r) == 2**64 - 1
    finally:
        os.close(r)
        os.close(w)


def test_eventfd_read_errors_still_raise():
    r, w = os.pipe()
    os.close(w)
    try:
        with pytest.raises(OSError) as info:
            eventfd_read(r)  # EOF: a short read
        assert info.value.errno != 0
    finally:
        os.close(r)
    with pytest.raises(ValueError):
        eventfd_read(-1)
    fd = os.open("/dev/null", os.O_RDONLY)
    os.close(fd)
    with pytest.raises(OSError) as info:
        eventfd_read(fd)
    assert info.value.errno == 9


# -- bools are not numbers, hostnames have no NUL --------------------------------------
def test_memfd_refuses_bools():
    with Memfd("edges") as m:
        with pytest.raises(TypeError):
            m.truncate(True)  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            m.seek(0, True)  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            m.seek(False)  # type: ignore[arg-type]
        m.truncate(4096)
        with pytest.raises(TypeError):
            m.mmap(None, True)  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            m.mmap(True)  # type: ignore[arg-type]
        assert len(m.mmap()) == 4096


def _sethostname_nul() -> str:
    clone.unshare(clone.CLONE_NEWUTS)  # never touch the host's name
    before = system.gethostname()
    for bad in ("a\0b", b"a\0b", "\0"):
        try:
            system.sethostname(bad)
        except ValueError:
            pass
        else:
            return f"{bad!r} accepted"
    assert system.gethostname() == before
    return "ok"


def test_sethostname_refuses_nul():
    assert in_child(_sethostname_nul) == "ok"
