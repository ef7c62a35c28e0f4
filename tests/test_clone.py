"""butter.clone: unshare/setns, each in a forked child."""

from __future__ import annotations

import errno
import os
import socket

import pytest
from conftest import assert_clean_error, in_child

from butter import clone, pidfd, system

HOST_NS = {
    name: os.readlink(f"/proc/self/ns/{name}")
    for name in ("mnt", "uts", "ipc", "net", "user", "pid")
}


def _mountinfo() -> str:
    with open("/proc/self/mountinfo") as f:
        return f.read()


@pytest.fixture(autouse=True)
def host_unchanged():
    before = (socket.gethostname(), _mountinfo())
    yield
    assert (socket.gethostname(), _mountinfo()) == before
    assert {n: os.readlink(f"/proc/self/ns/{n}") for n in HOST_NS} == HOST_NS


def test_constants():
    names = [n for n in clone.__all__ if n.startswith("CLONE_")]
    assert len(names) == 14
    for name in names:
        if hasattr(os, name):  # Python 3.12+
            assert getattr(clone, name) == getattr(os, name)
    assert clone.CLONE_NEWNS == 0x20000
    assert clone.CLONE_NEWTIME == 0x80


@pytest.mark.parametrize(
    "flag,ns",
    [
        ("CLONE_NEWUTS", "uts"),
        ("CLONE_NEWIPC", "ipc"),
        ("CLONE_NEWNET", "net"),
        ("CLONE_NEWNS", "mnt"),
        ("CLONE_NEWUSER", "user"),
        ("CLONE_NEWCGROUP", "cgroup"),
    ],
)
def test_unshare_gives_a_new_namespace(flag, ns):
    def child():
        before = os.readlink(f"/proc/self/ns/{ns}")
        clone.unshare(getattr(clone, flag))
        return before, os.readlink(f"/proc/self/ns/{ns}")

    before, after = in_child(child)
    assert before != after


def test_unshare_uts_isolates_hostname():
    def child():
        clone.unshare(clone.CLONE_NEWUTS)
        system.sethostname("unshared")
        return socket.gethostname()

    assert in_child(child) == "unshared"
    assert socket.gethostname() != "unshared"


def test_unshare_pid_affects_next_child():
    def child():
        clone.unshare(clone.CLONE_NEWPID)
        own = os.getpid() != 1  # the caller stays where it was
        return own, in_child(os.getpid)

    assert in_child(child) == (True, 1)


def test_unshare_files():
    def child():
        clone.unshare(clone.CLONE_FILES | clone.CLONE_FS | clone.CLONE_SYSVSEM)
        return True

    assert in_child(child)


def test_unshare_errors():
    def child():
        out = []
        try:
            clone.unshare(0x1)  # not an unshare flag
        except OSError as exc:
            out.append(exc.errno)
        os.setuid(65534)
        try:
            clone.unshare(clone.CLONE_NEWUTS)
        except PermissionError as exc:
            out.append(exc.errno)
        return out

    assert in_child(child) == [errno.EINVAL, errno.EPERM]


def _holder(r: int, w: int) -> None:
    """Child body: new UTS namespace named 'ns-a', then wait for EOF on r."""
    clone.unshare(clone.CLONE_NEWUTS)
    system.sethostname("ns-a")
    os.write(w, b"!")
    os.read(r, 1)


def _spawn_holder():
    r1, w1 = os.pipe()  # child -> parent: ready
    r2, w2 = os.pipe()  # parent -> child: done
    pid = os.fork()
    if pid == 0:
        try:
            os.close(r1)
            os.close(w2)
            _holder(r2, w1)
        finally:
            os._exit(0)
    os.close(w1)
    os.close(r2)
    assert os.read(r1, 1) == b"!"
    os.close(r1)
    return pid, w2


def test_setns_joins_namespace():
    pid, release = _spawn_holder()
    try:

        def child():
            fd = os.open(f"/proc/{pid}/ns/uts", os.O_RDONLY | os.O_CLOEXEC)
            try:
                clone.setns(fd, clone.CLONE_NEWUTS)
            finally:
                os.close(fd)
            return socket.gethostname()

        def child_pidfd():
            with pidfd.PidFd(pid) as p:
                clone.setns(p, clone.CLONE_NEWUTS)  # an object with fileno()
            return socket.gethostname()

        def child_wrong_type():
            with open(f"/proc/{pid}/ns/uts") as f:
                try:
                    clone.setns(f, clone.CLONE_NEWNET)
                except OSError as exc:
                    return exc.errno
            return None

        assert in_child(child) == "ns-a"
        assert in_child(child_pidfd) == "ns-a"
        assert in_child(child_wrong_type) == errno.EINVAL
    finally:
        os.close(release)
        os.waitpid(pid, 0)


def test_setns_not_a_namespace():
    def child():
        r, _w = os.pipe()
        try:
            clone.setns(r)
        except OSError as exc:
            return exc.errno
        return None

    assert in_child(child) == errno.EINVAL


def test_bad_input():
    cases = [
        (clone.unshare, ("x",), TypeError),
        (clone.unshare, (None,), TypeError),
        (clone.unshare, (2**31,), OverflowError),
        (clone.unshare, (-(2**31) - 1,), ValueError),  # a negative flag word
        (clone.unshare, (2**64,), OverflowError),
        (clone.unshare, (1.0,), TypeError),
        (clone.unshare, (True,), TypeError),
        (clone.unshare, (-1,), ValueError),
        (clone.setns, ("x",), TypeError),
        (clone.setns, (-1,), ValueError),
        (clone.setns, (2**40,), OverflowError),
        (clone.setns, (99999,), OSError),  # EBADF
        (clone.setns, (0, "x"), TypeError),
        (clone.setns, (0, -1), ValueError),
        (clone.setns, (0, 2**40), OverflowError),
        (clone.setns, (None,), TypeError),
    ]
    for fn, args, expected in cases:
        raised = assert_clean_error(fn, *args)  # in a forked child
        assert raised == expected.__name__, (fn.__name__, args, raised)
