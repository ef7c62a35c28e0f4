"""butter.system: every state-changing call runs in a forked child inside
fresh mount/UTS namespaces whose mounts were made private first, so nothing
here can reach the host."""

from __future__ import annotations

import errno
import os
import socket
import tempfile

import pytest
from conftest import assert_clean_error, in_child

from butter import clone, system
from butter.system import MNT_DETACH, MS_BIND, MS_PRIVATE, MS_RDONLY, MS_REC, MS_REMOUNT

HOST_MNT_NS = os.readlink("/proc/self/ns/mnt")
HOST_UTS_NS = os.readlink("/proc/self/ns/uts")


def isolate(extra: int = 0) -> None:
    """First thing in every child: new namespaces, private mounts."""
    clone.unshare(clone.CLONE_NEWNS | clone.CLONE_NEWUTS | extra)
    assert os.readlink("/proc/self/ns/mnt") != HOST_MNT_NS
    assert os.readlink("/proc/self/ns/uts") != HOST_UTS_NS
    system.mount(None, "/", None, MS_REC | MS_PRIVATE)


def isolated(fn):
    """Wrap *fn* so that it runs only after :func:`isolate`."""

    def run(*args, **kwargs):
        isolate()
        return fn(*args, **kwargs)

    run.__qualname__ = getattr(fn, "__qualname__", repr(fn))
    return run


def mounts() -> list[tuple[str, str]]:
    """(mount point, fs type) for each line of /proc/self/mountinfo."""
    out = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            sep = fields.index("-")
            out.append((fields[4], fields[sep + 1]))
    return out


def mountinfo_line(target: str) -> list[str]:
    with open("/proc/self/mountinfo") as f:
        lines = [line.split() for line in f if line.split()[4] == target]
    assert lines, f"{target} not mounted"
    return lines[-1]


@pytest.fixture(autouse=True)
def host_unchanged():
    """After each test: the host's mounts and hostname are as before."""
    before = (mounts(), socket.gethostname())
    yield
    assert (mounts(), socket.gethostname()) == before


@pytest.fixture
def tmpdir_():
    with tempfile.TemporaryDirectory() as d:
        yield d


def test_constants():
    assert system.MS_RDONLY == 1
    assert system.MS_BIND == 4096
    assert system.MS_REC == 16384
    assert system.MNT_FORCE == 1
    assert system.MNT_DETACH == 2
    assert system.MNT_EXPIRE == 4
    assert system.UMOUNT_NOFOLLOW == 8
    for name in system.__all__:
        assert hasattr(system, name)


def test_mount_umount_tmpfs(tmpdir_):
    def child(target):
        isolate()
        system.mount("tmpfs", target, "tmpfs", system.MS_NOSUID, "size=1m,mode=700")
        line = mountinfo_line(target)
        fs, options = line[line.index("-") + 1], line[-1]
        with open(os.path.join(target, "f"), "w") as f:
            f.write("x")
        mode = os.stat(target).st_mode & 0o777
        system.umount(target)
        return fs, options, "nosuid" in line[5], mode, (target, "tmpfs") in mounts()

    fs, options, nosuid, mode, still = in_child(child, tmpdir_)
    assert fs == "tmpfs" and "size=1024k" in options and nosuid and mode == 0o700
    assert not still
    assert os.listdir(tmpdir_) == []  # the host never saw the file


def test_bind_mount_read_only(tmpdir_):
    src = os.path.join(tmpdir_, "src")
    dst = os.path.join(tmpdir_, "dst")
    os.mkdir(src)
    os.mkdir(dst)
    with open(os.path.join(src, "file"), "w") as f:
        f.write("hello")

    def child():
        isolate()
        system.mount(src, dst, None, MS_BIND)
        system.mount(None, dst, None, MS_REMOUNT | MS_BIND | MS_RDONLY)
        with open(os.path.join(dst, "file")) as f:
            content = f.read()
        try:
            os.close(os.open(os.path.join(dst, "new"), os.O_CREAT | os.O_WRONLY))
        except OSError as exc:
            err = exc.errno
        else:
            err = 0
        opts = mountinfo_line(dst)[5].split(",")
        system.umount(dst)
        return content, err, opts

    content, err, opts = in_child(child)
    assert content == "hello"
    assert err == errno.EROFS
    assert "ro" in opts


def test_mount_accepts_bytes_and_pathlike(tmpdir_):
    import pathlib

    def child():
        isolate()
        system.mount(b"tmpfs", pathlib.Path(tmpdir_), b"tmpfs", 0, b"size=1m")
        ok = (tmpdir_, "tmpfs") in mounts()
        system.umount(os.fsencode(tmpdir_))
        return ok, (tmpdir_, "tmpfs") in mounts()

    assert in_child(child) == (True, False)


def test_mount_errors_carry_paths(tmpdir_):
    missing = os.path.join(tmpdir_, "missing")

    def child():
        isolate()
        out = []
        for call in (
            lambda: system.mount(missing, tmpdir_, None, MS_BIND),
            lambda: system.mount("tmpfs", missing, "tmpfs"),
            lambda: system.mount("none", tmpdir_, "no-such-fs-type"),
            lambda: system.umount(missing),
            lambda: system.umount(tmpdir_),
            lambda: system.pivot_root(missing, tmpdir_),
        ):
            try:
                call()
            except OSError as exc:
                out.append((type(exc).__name__, exc.errno, exc.filename, exc.filename2))
            else:
                out.append(None)
        return out

    res = in_child(child)
    assert res[0] == ("FileNotFoundError", errno.ENOENT, missing, tmpdir_)
    assert res[1] == ("FileNotFoundError", errno.ENOENT, "tmpfs", missing)
    assert res[2][1] == errno.ENODEV and res[2][2] == "none"
    assert res[3] == ("FileNotFoundError", errno.ENOENT, missing, None)
    assert res[4] == ("OSError", errno.EINVAL, tmpdir_, None)  # not a mount point
    assert res[5][:4] == ("FileNotFoundError", errno.ENOENT, missing, tmpdir_)


def test_umount_flags(tmpdir_):
    def child():
        isolate()
        res = {}
        system.mount("tmpfs", tmpdir_, "tmpfs")
        f = open(os.path.join(tmpdir_, "busy"), "w")  # noqa: SIM115 - kept open: busy
        try:
            system.umount(tmpdir_)
        except OSError as exc:
            res["busy"] = exc.errno
        system.umount(tmpdir_, MNT_DETACH)  # lazy: gone from the tree at once
        res["detached"] = (tmpdir_, "tmpfs") in mounts()
        f.write("still usable")
        f.close()
        # MNT_EXPIRE: the first call only marks it (EAGAIN), the second unmounts.
        system.mount("tmpfs", tmpdir_, "tmpfs")
        try:
            system.umount(tmpdir_, system.MNT_EXPIRE)
        except OSError as exc:
            res["expire1"] = exc.errno
        system.umount(tmpdir_, system.MNT_EXPIRE)
        res["expired"] = (tmpdir_, "tmpfs") in mounts()
        # UMOUNT_NOFOLLOW refuses to follow a symlink to the mount point.
        system.mount("tmpfs", tmpdir_, "tmpfs")
        link = tmpdir_ + ".link"
        os.symlink(tmpdir_, link)
        try:
            try:
                system.umount(link, system.UMOUNT_NOFOLLOW)
            except OSError as exc:
                res["nofollow"] = exc.errno
            system.umount(link)  # follows the link
        finally:
            os.unlink(link)
        res["followed"] = (tmpdir_, "tmpfs") in mounts()
        # MNT_FORCE on an idle tmpfs just unmounts it
        system.mount("tmpfs", tmpdir_, "tmpfs")
        system.umount(tmpdir_, system.MNT_FORCE)
        res["forced"] = (tmpdir_, "tmpfs") in mounts()
        try:
            system.umount(tmpdir_, system.MNT_EXPIRE | MNT_DETACH)
        except OSError as exc:
            res["bad"] = exc.errno
        return res

    res = in_child(child)
    assert res == {
        "busy": errno.EBUSY,
        "detached": False,
        "expire1": errno.EAGAIN,
        "expired": False,
        "nofollow": errno.EINVAL,
        "followed": False,
        "forced": False,
        "bad": errno.EINVAL,
    }


def test_pivot_root(tmpdir_):
    def child():
        isolate()
        system.mount("tmpfs", tmpdir_, "tmpfs", 0, "size=1m")
        os.mkdir(os.path.join(tmpdir_, "old"))
        with open(os.path.join(tmpdir_, "marker"), "w") as f:
            f.write("new root")
        system.pivot_root(tmpdir_, os.path.join(tmpdir_, "old"))
        os.chdir("/")
        seen_old = os.path.exists("/old" + tmpdir_)  # the old root, under /old
        system.umount("/old", MNT_DETACH)
        os.rmdir("/old")
        with open("/marker") as f:
            marker = f.read()
        listing = sorted(os.listdir("/"))
        os.mkdir("/proc")
        system.mount("proc", "/proc", "proc")
        return marker, seen_old, mounts(), listing

    marker, seen_old, after, listing = in_child(child)
    assert marker == "new root" and seen_old
    assert after == [("/", "tmpfs"), ("/proc", "proc")]  # no host mount left
    assert listing == ["marker"]


def test_pivot_root_errors(tmpdir_):
    def child():
        isolate()
        try:
            system.pivot_root(tmpdir_, tmpdir_)  # not a mount point
        except OSError as exc:
            return exc.errno, exc.filename, exc.filename2
        return None

    err, name1, name2 = in_child(child)
    assert err in (errno.EINVAL, errno.EBUSY)
    assert (name1, name2) == (tmpdir_, tmpdir_)


def test_hostname():
    assert system.gethostname() == socket.gethostname() == os.uname().nodename

    def child():
        isolate()
        system.sethostname("butter-test")
        a = (system.gethostname(), socket.gethostname(), os.uname().nodename)
        system.sethostname(b"x" * 64)
        b = system.gethostname()
        system.sethostname("")
        return a, b, system.gethostname()

    a, b, empty = in_child(child)
    assert a == ("butter-test",) * 3
    assert b == "x" * 64
    assert empty == ""


def test_sethostname_needs_privilege():
    def child():
        isolate()
        os.setuid(65534)
        try:
            system.sethostname("nope")
        except PermissionError as exc:
            return exc.errno
        return None

    assert in_child(child) == errno.EPERM


def test_getpid_getppid():
    assert system.getpid() == os.getpid()
    assert system.getppid() == os.getppid()
    assert in_child(lambda: (system.getpid(), os.getpid(), system.getppid())) != (
        0,
        0,
        0,
    )
    pid, opid, ppid = in_child(lambda: (system.getpid(), os.getpid(), system.getppid()))
    assert pid == opid and ppid == os.getpid()


def test_getpid_in_new_pid_namespace():
    def child():
        isolate(clone.CLONE_NEWPID)
        # The next child is PID 1 of the new namespace.
        return in_child(lambda: (system.getpid(), os.getpid(), system.getppid()))

    assert in_child(child) == (1, 1, 0)


def test_bad_input(tmpdir_):
    big = 2**64
    cases = [
        (system.mount, (None, None, "tmpfs"), TypeError),
        (system.mount, (1, tmpdir_, "tmpfs"), TypeError),
        (system.mount, ("tmpfs", tmpdir_, 5), TypeError),
        (system.mount, ("tmpfs", tmpdir_, "tmpfs", -1), ValueError),
        (system.mount, ("tmpfs", tmpdir_, "tmpfs", big), OverflowError),
        (system.mount, ("tmpfs", tmpdir_, "tmpfs", "0"), TypeError),
        (system.mount, ("tmpfs", tmpdir_, "tmpfs", True), TypeError),
        (system.mount, ("tmpfs", tmpdir_, "tmpfs", 0, 5), TypeError),
        (system.mount, ("tmpfs", tmpdir_ + "\0x", "tmpfs"), ValueError),
        (system.mount, ("tmpfs", tmpdir_, "tmp\0fs"), ValueError),
        (system.mount, ("tmpfs", tmpdir_, "tmpfs", 0, "size=\0"), ValueError),
        (system.mount, ("tmpfs", tmpdir_, "tmpfs", 0, "size=-5"), OSError),
        (system.mount, ("tmpfs", tmpdir_, "tmpfs", 0, "nonsense_option"), OSError),
        (system.mount, ("tmpfs", tmpdir_, "tmpfs", 0, "x" * 10000), OSError),
        (system.mount, ("tmpfs", "x" * 5000, "tmpfs"), OSError),  # ENAMETOOLONG
        (system.umount, (None,), TypeError),
        (system.umount, (tmpdir_, -1), ValueError),
        (system.umount, (tmpdir_, big), OverflowError),
        (system.umount, (tmpdir_, 2**31), OverflowError),
        (system.umount, (tmpdir_, 0x1000), OSError),
        (system.umount, (tmpdir_, 1.0), TypeError),
        (system.umount, ("",), FileNotFoundError),
        (system.pivot_root, (None, tmpdir_), TypeError),
        (system.pivot_root, (tmpdir_, 3), TypeError),
        (system.pivot_root, (tmpdir_, "a\0"), ValueError),
        (system.pivot_root, ("", ""), FileNotFoundError),
        (system.sethostname, (None,), TypeError),
        (system.sethostname, (5,), TypeError),
        (system.sethostname, ("x" * 65,), ValueError),
        (system.sethostname, ("a\0b",), ValueError),
        (system.sethostname, (bytearray(b"x"),), TypeError),
        (system.sethostname, ("\udcff" * 70,), ValueError),
    ]
    for fn, args, expected in cases:
        raised = assert_clean_error(isolated(fn), *args)
        assert raised == expected.__name__, (fn.__name__, args, raised)
    for fn in (system.gethostname, system.getpid, system.getppid):
        with pytest.raises(TypeError):
            fn(1)  # type: ignore[call-arg]
