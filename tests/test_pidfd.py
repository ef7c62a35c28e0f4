"""butter.pidfd against the kernel, os.pidfd_open and signal.pidfd_send_signal."""

from __future__ import annotations

import errno
import fcntl
import os
import select
import signal
import subprocess
import sys

import pytest
from conftest import assert_clean_error, in_child, open_fds

from butter import pidfd as P


def spawn(code: str = "import time; time.sleep(60)") -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", code])


def fork_exit(status: int) -> int:
    pid = os.fork()
    if pid == 0:
        os._exit(status)
    return pid


def test_constants():
    if hasattr(os, "P_PIDFD"):
        assert P.P_PIDFD == os.P_PIDFD
    for name in ("CLD_EXITED", "CLD_KILLED", "CLD_DUMPED", "WEXITED", "WNOHANG", "WNOWAIT"):
        if hasattr(os, name):  # not on PyPy 3.9
            assert getattr(P, name) == getattr(os, name)
    assert P.PIDFD_NONBLOCK == os.O_NONBLOCK


def test_pidfd_open_like_os():
    fd = P.pidfd_open(os.getpid())
    ref = os.pidfd_open(os.getpid()) if hasattr(os, "pidfd_open") else os.dup(fd)
    try:
        assert fcntl.fcntl(fd, fcntl.F_GETFD) & fcntl.FD_CLOEXEC
        assert os.readlink(f"/proc/self/fd/{fd}") == os.readlink(f"/proc/self/fd/{ref}")
        with open(f"/proc/self/fdinfo/{fd}") as f:
            assert f"Pid:\t{os.getpid()}" in f.read()
    finally:
        os.close(fd)
        os.close(ref)
    with pytest.raises(ProcessLookupError):
        P.pidfd_open(2**22 + 12345)


def test_send_signal_like_signal_module():
    p1, p2 = spawn(), spawn()
    try:
        fd = P.pidfd_open(p1.pid)
        P.pidfd_send_signal(fd, signal.SIGTERM)
        assert p1.wait() == -signal.SIGTERM
        with pytest.raises(ProcessLookupError):  # exited: never a stranger
            P.pidfd_send_signal(fd, signal.SIGTERM)
        os.close(fd)
        ref = P.pidfd_open(p2.pid)
        if hasattr(signal, "pidfd_send_signal"):
            signal.pidfd_send_signal(ref, signal.SIGKILL)
        else:
            P.pidfd_send_signal(ref, signal.SIGKILL)
        assert p2.wait() == -signal.SIGKILL
        os.close(ref)
    finally:
        for p in (p1, p2):
            if p.poll() is None:
                p.kill()
                p.wait()


def test_pidfd_getfd():
    r, w = os.pipe()
    child = spawn("import time; time.sleep(60)")
    try:
        with P.PidFd(child.pid) as pf:
            newfd = pf.getfd(2)  # the child's stderr
            try:
                assert fcntl.fcntl(newfd, fcntl.F_GETFD) & fcntl.FD_CLOEXEC
                assert os.path.samestat(os.fstat(newfd), os.fstat(2))
            finally:
                os.close(newfd)
            with pytest.raises(OSError) as info:
                pf.getfd(9999)
            assert info.value.errno == errno.EBADF
            with pytest.raises(OSError) as info:
                P.pidfd_getfd(pf, 0, 1)
            assert info.value.errno == errno.EINVAL
    finally:
        child.kill()
        child.wait()
        os.close(r)
        os.close(w)


def test_pidfd_readable_on_exit_and_status():
    pid = fork_exit(7)
    with P.PidFd(pid, reap=True) as pf:
        poller = select.poll()
        poller.register(pf, select.POLLIN)
        assert poller.poll(5000)
        ev = pf.read_event()
        assert ev == (pid, P.CLD_EXITED, 7)
        assert ev.exited and not ev.signaled and ev.returncode == 7
        assert pf.exit == ev
        assert pf.read_event() == ev  # an exit is a state: same answer again
        assert list(pf) == []  # iteration stopped after the exit
    with pytest.raises(ChildProcessError):  # reaped
        os.waitpid(pid, P.WNOHANG)


def test_pidfd_killed_and_blocking_read():
    p = spawn()
    with P.PidFd(p.pid) as pf:
        pf.send_signal(signal.SIGKILL)
        ev = pf.read_event()  # blocks until the exit
        assert ev.code == P.CLD_KILLED and ev.status == signal.SIGKILL
        assert ev.returncode == -signal.SIGKILL
    assert p.wait(10) == -signal.SIGKILL  # not reaped: Popen still sees it


def test_pidfd_wait_and_iteration():
    pid = fork_exit(3)
    with P.PidFd(pid, reap=True) as pf:
        assert list(pf) == [(pid, P.CLD_EXITED, 3)]
    p = spawn()
    with P.PidFd(p.pid, reap=False) as pf:
        assert pf.wait(0.05) is None  # still running
        p.terminate()
        ev = pf.wait(10)
        assert ev is not None and ev.returncode == -signal.SIGTERM
    assert p.wait() == -signal.SIGTERM  # reap=False left it for Popen


def test_nonblocking():
    p = spawn()
    try:
        with P.PidFd(p.pid, P.PIDFD_NONBLOCK) as pf:
            with pytest.raises(BlockingIOError):
                pf.read_event()
            assert P.waitid_pidfd(pf, P.WEXITED | P.WNOHANG) is None
            with pytest.raises(BlockingIOError):
                P.waitid_pidfd(pf, P.WEXITED)  # kernel: EAGAIN on a non-blocking pidfd
            p.kill()
            ev = pf.wait(10)
            assert ev is not None and ev.returncode == -signal.SIGKILL
            p.returncode = ev.returncode
    finally:
        if p.returncode is None:
            p.kill()
            p.wait()


def test_not_our_child():
    """The grandchild's exit is visible, its status is not (only its parent
    learns it)."""

    def child():
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(r)
            gpid = os.fork()
            if gpid == 0:
                os.close(w)
                import time

                time.sleep(0.2)
                os._exit(5)
            os.write(w, str(gpid).encode())
            os.waitpid(gpid, 0)
            os._exit(0)
        os.close(w)
        gpid = int(os.read(r, 20))
        with P.PidFd(gpid) as pf:
            ev = pf.read_event()
        os.waitpid(pid, 0)
        return gpid, ev, ev.returncode

    gpid, ev, rc = in_child(child)
    assert ev == (gpid, None, None) and rc is None


# -- who reaps: never butter by default (issue 11) --------------------------
class _Owner:
    """A minimal process object: an int pid (and no returncode)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid


def test_popen_child_keeps_its_status():
    """The pitfall: a PidFd that reaped a Popen's child made Popen.wait()
    return 0.  By default the status is read and the zombie left to Popen,
    whether PidFd gets the Popen itself or its pid."""
    for as_object in (True, False):
        p = spawn("raise SystemExit(3)")
        try:
            with P.PidFd(p if as_object else p.pid) as pf:
                assert pf.pid == p.pid
                ev = pf.wait(10)
                assert ev == (p.pid, P.CLD_EXITED, 3) and ev.returncode == 3
                assert pf.read_event() == ev
            assert p.wait(10) == 3  # not 0: Popen reaped its own child
        finally:
            if p.returncode is None:
                p.kill()
                p.wait()


def test_fork_child_status_then_waitpid():
    pid = fork_exit(3)
    with P.PidFd(pid) as pf:
        assert pf.read_event().returncode == 3
    # Left a zombie for the parent's own waitpid (the status is still there).
    assert os.waitpid(pid, 0) == (pid, 3 << 8)
    pid = fork_exit(3)
    with P.PidFd(_Owner(pid)) as pf:  # any object with an int pid
        assert pf.read_event().returncode == 3
    assert os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 3


def test_owner_reaped_first():
    """Popen.wait() ran before the PidFd read the exit: the status comes
    from Popen.returncode; for a bare pid it is unknown."""
    p = spawn("raise SystemExit(3)")
    with P.PidFd(p) as pf:
        assert p.wait(10) == 3
        assert pf.read_event() == (p.pid, P.CLD_EXITED, 3)
    p = spawn("import os, signal; os.kill(os.getpid(), signal.SIGTERM)")
    with P.PidFd(p) as pf:
        assert p.wait(10) == -signal.SIGTERM
        ev = pf.read_event()
        assert ev.signaled and ev.returncode == -signal.SIGTERM
    pid = fork_exit(3)
    with P.PidFd(pid) as pf:
        os.waitpid(pid, 0)
        assert pf.read_event() == (pid, None, None)


def test_popen_wait_in_another_thread_races_the_read():
    """Popen.wait() in a thread may reap between the pidfd becoming
    readable and butter's waitid: butter then waits (briefly) for the
    returncode Popen records.  Either way both see 3."""
    import threading

    for _ in range(20):
        p = spawn("raise SystemExit(3)")
        with P.PidFd(p) as pf:
            t = threading.Thread(target=p.wait)
            t.start()
            ev = pf.wait(10)
            t.join(10)
        assert ev is not None and ev.returncode == 3 and p.returncode == 3


def test_owner_that_never_records_a_code():
    """Reaped behind the owner's back (os.waitpid on a Popen's pid): the
    status is unknown, reported within about a second, not a hang."""
    import time

    p = spawn("raise SystemExit(3)")
    with P.PidFd(p) as pf:
        os.waitpid(p.pid, 0)
        start = time.monotonic()
        assert pf.read_event() == (p.pid, None, None)
        assert time.monotonic() - start < 5
    p.returncode = 3  # reaped above: keep Popen from waiting again


def test_waitid_pidfd():
    pid = fork_exit(9)
    fd = P.pidfd_open(pid)
    try:
        ev = P.waitid_pidfd(fd, P.WEXITED | P.WNOWAIT)
        assert ev == (pid, P.CLD_EXITED, 9)
        assert P.waitid_pidfd(fd, P.WEXITED) == ev  # now reaped
        with pytest.raises(ChildProcessError):
            P.waitid_pidfd(fd, P.WEXITED)
        if hasattr(os, "waitid") and hasattr(os, "P_PIDFD") and hasattr(os, "WEXITED"):
            pid2 = fork_exit(4)
            fd2 = P.pidfd_open(pid2)
            ref = os.waitid(os.P_PIDFD, fd2, os.WEXITED)
            assert (ref.si_pid, ref.si_code, ref.si_status) == (pid2, P.CLD_EXITED, 4)
            os.close(fd2)
    finally:
        os.close(fd)


def test_fd_owning_interface():
    pf = P.PidFd(os.getpid())
    assert pf.pid == os.getpid()
    assert repr(pf) == f"<PidFd fd={pf.fileno()} pid={os.getpid()}>"
    assert fcntl.fcntl(pf.fileno(), fcntl.F_GETFD) & fcntl.FD_CLOEXEC
    assert pf.wait(0) is None
    pf.close()
    pf.close()
    assert pf.closed
    with pytest.raises(ValueError, match="closed"):
        pf.read_event()
    with pytest.raises(ValueError, match="closed"):
        pf.send_signal(0)


def test_no_fd_leak():
    before = open_fds()
    me = os.getpid()
    for _ in range(2000):
        P.PidFd(me).close()
    for _ in range(2000):
        os.close(P.pidfd_open(me))
    assert open_fds() == before


def test_bad_input():
    big = 2**64
    me = os.getpid()
    cases = [
        (P.pidfd_open, ("1",), TypeError),
        (P.pidfd_open, (0,), ValueError),
        (P.pidfd_open, (-1,), ValueError),
        (P.pidfd_open, (big,), OverflowError),
        (P.pidfd_open, (True,), TypeError),
        (P.pidfd_open, (me, -1), ValueError),
        (P.pidfd_open, (me, big), OverflowError),
        (P.pidfd_open, (me, 1), OSError),  # the kernel's EINVAL
        (P.pidfd_open, (None,), TypeError),
        (P.pidfd_send_signal, ("x", 0), TypeError),
        (P.pidfd_send_signal, (-1, 0), ValueError),
        (P.pidfd_send_signal, (99999, 0), OSError),
        (P.pidfd_send_signal, (0, -1), ValueError),
        (P.pidfd_send_signal, (0, big), OverflowError),
        (P.pidfd_send_signal, (0, 0, {}), TypeError),
        (P.pidfd_send_signal, (0, 0, None, -1), ValueError),
        (P.pidfd_getfd, (99999, 0), OSError),
        (P.pidfd_getfd, (0, -1), ValueError),
        (P.pidfd_getfd, (0, big), OverflowError),
        (P.pidfd_getfd, (0, "x"), TypeError),
        (P.pidfd_getfd, (0, 0, big), OverflowError),
        (P.waitid_pidfd, (99999, P.WEXITED), OSError),
        (P.waitid_pidfd, (0, -1), ValueError),
        (P.waitid_pidfd, (0, big), OverflowError),
        (P.waitid_pidfd, ("x", 0), TypeError),
        (P.PidFd, ("1",), TypeError),
        (P.PidFd, (-5,), ValueError),
        (P.PidFd, (2**22 + 12345,), ProcessLookupError),  # beyond any pid_max
        (lambda: P.PidFd(me, reap=1), (), TypeError),
        (P.PidFd, (object(),), TypeError),
        (P.PidFd, (subprocess.Popen.__new__(subprocess.Popen),), TypeError),  # no pid
        (lambda: P.PidFd(_Owner(me), reap=True), (), ValueError),
        (lambda: P.PidFd(me).send_signal("x"), (), TypeError),
        (lambda: P.PidFd(me).getfd(-1), (), ValueError),
    ]
    for fn, args, expected in cases:
        raised = assert_clean_error(fn, *args)
        assert raised == expected.__name__, (fn, args, raised)
