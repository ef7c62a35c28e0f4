"""butter.fanotify against the real kernel.

References: the header file itself (constant values), hand-packed records
built with :mod:`struct` from the documented layout (the parser),
``/proc/self/fd`` (event paths, leaks), ``os.stat`` and
``open_by_handle_at`` (file handles name the right inode) and ``open(2)``'s
own result (permission events); the CLI against ``fatrace`` is in
test_fanotify_cli.py.
Permission events run in forked children with an alarm, so nothing can
hang the test run.
"""

from __future__ import annotations

import errno
import fcntl
import gc
import os
import re
import select
import signal
import struct
import sys
import warnings

import pytest
from conftest import assert_clean_error, in_child, needs_fanotify, open_fds

import butter.fanotify as fa
from butter.fanotify import (
    FAN_ACCESS,
    FAN_CLASS_CONTENT,
    FAN_CLOSE,
    FAN_CLOSE_NOWRITE,
    FAN_CLOSE_WRITE,
    FAN_CREATE,
    FAN_DELETE,
    FAN_EVENT_INFO_TYPE_DFID_NAME,
    FAN_EVENT_INFO_TYPE_ERROR,
    FAN_EVENT_INFO_TYPE_FID,
    FAN_EVENT_INFO_TYPE_NEW_DFID_NAME,
    FAN_EVENT_INFO_TYPE_OLD_DFID_NAME,
    FAN_EVENT_INFO_TYPE_PIDFD,
    FAN_EVENT_ON_CHILD,
    FAN_MARK_ONLYDIR,
    FAN_MODIFY,
    FAN_MOVED_FROM,
    FAN_MOVED_TO,
    FAN_NOFD,
    FAN_NONBLOCK,
    FAN_ONDIR,
    FAN_OPEN,
    FAN_OPEN_PERM,
    FAN_RENAME,
    FAN_REPORT_DFID_NAME,
    FAN_REPORT_DFID_NAME_TARGET,
    FAN_REPORT_FID,
    FAN_REPORT_PIDFD,
    Fanotify,
    FanotifyEvent,
    FidInfo,
    fanotify_init,
    fanotify_mark,
    str_to_events,
)

ALL_IO = FAN_OPEN | FAN_ACCESS | FAN_MODIFY | FAN_CLOSE | FAN_EVENT_ON_CHILD
META = "=IBBHQii"  # struct fanotify_event_metadata, from fanotify(7)


def is_cloexec(fd: int) -> bool:
    return bool(fcntl.fcntl(fd, fcntl.F_GETFD) & fcntl.FD_CLOEXEC)


def drain(fan: Fanotify) -> list[FanotifyEvent]:
    events = []
    while True:
        ev = fan.wait(0.2)
        if ev is None:
            return events
        events.append(ev)


# -- constants -----------------------------------------------------------------------
def _header_values() -> dict[str, int]:
    values = {}
    for path in ("/usr/include/linux/fanotify.h",):
        with open(path) as f:
            for m in re.finditer(r"#define\s+(FAN_\w+)\s+(0x[0-9a-fA-F]+|\d+)\b", f.read()):
                values[m.group(1)] = int(m.group(2), 0)
    return values


def test_constants_match_the_header():
    values = _header_values()
    assert len(values) > 50
    for name, value in values.items():
        assert getattr(fa, name) == value, name
        assert name in fa.__all__
    assert fa.FAN_CLOSE == FAN_CLOSE_WRITE | FAN_CLOSE_NOWRITE
    assert fa.FAN_REPORT_DFID_NAME == fa.FAN_REPORT_DIR_FID | fa.FAN_REPORT_NAME
    assert struct.calcsize(META) == fa.FAN_EVENT_METADATA_LEN
    # Newer than Debian 12's headers: the kernel ABI values.
    assert fa.FAN_PRE_ACCESS == 0x00100000
    assert fa.FAN_MNT_ATTACH == 0x01000000 and fa.FAN_MNT_DETACH == 0x02000000
    assert fa.FAN_REPORT_FD_ERROR == 0x2000 and fa.FAN_REPORT_MNT == 0x4000
    assert fa.FAN_MARK_MNTNS == 0x110
    assert fa.AT_FDCWD == -100


def test_mask_names():
    assert fa.mask_names(FAN_OPEN | FAN_CLOSE_WRITE) == ["FAN_CLOSE_WRITE", "FAN_OPEN"]
    assert fa.mask_names(0) == []
    assert fa.mask_names(1 << 62) == [hex(1 << 62)]


# -- the parser on packed bytes ------------------------------------------------------
def pack_event(mask, fd=-1, pid=1, info=b"", vers=None):
    vers = fa.FANOTIFY_METADATA_VERSION if vers is None else vers
    size = struct.calcsize(META)
    return struct.pack(META, size + len(info), vers, 0, size, mask, fd, pid) + info


def pack_fid(info_type, fsid=(1, 2), handle_type=1, handle=b"\x01\x02\x03\x04", name=None):
    body = struct.pack("=ii", *fsid) + struct.pack("=Ii", len(handle), handle_type) + handle
    if name is not None:
        body += os.fsencode(name) + b"\0"
    body += b"\0" * (-(4 + len(body)) % 4)
    return struct.pack("=BBH", info_type, 0, 4 + len(body)) + body


def test_parse_plain_records():
    buf = pack_event(FAN_OPEN, FAN_NOFD, 7) + pack_event(FAN_CLOSE_WRITE | FAN_ONDIR, -1, 8)
    a, b = str_to_events(buf)
    assert (a.mask, a.fd, a.pid, a.info) == (FAN_OPEN, FAN_NOFD, 7, ())
    assert a.open_event and not a.close_event and not a.is_dir_event
    assert b.close_write_event and b.close_event and b.is_dir_event and not b.modify_event
    assert b.filename is None  # no fd, no name
    assert str_to_events(b"") == []
    assert str_to_events(bytearray(buf))[0].pid == 7
    assert str_to_events(memoryview(buf))[1].pid == 8


def test_parse_fid_records():
    name = "caf\xe9-\udcff"  # undecodable byte: surrogateescape, lossless
    buf = pack_event(
        FAN_CREATE | FAN_ONDIR,
        info=pack_fid(FAN_EVENT_INFO_TYPE_DFID_NAME, name=name)
        + pack_fid(FAN_EVENT_INFO_TYPE_FID, fsid=(-5, 9), handle=b"abcdefgh"),
    )
    buf += pack_event(
        FAN_RENAME,
        info=pack_fid(FAN_EVENT_INFO_TYPE_OLD_DFID_NAME, name="old")
        + pack_fid(FAN_EVENT_INFO_TYPE_NEW_DFID_NAME, name="new"),
    )
    buf += pack_event(
        fa.FAN_FS_ERROR,
        info=struct.pack("=BBHiI", FAN_EVENT_INFO_TYPE_ERROR, 0, 12, -errno.EIO, 3)
        + struct.pack("=BBH4s", 99, 0, 8, b"zzzz"),
    )
    ev, ren, err = str_to_events(buf)
    dfid, fid = ev.info
    assert isinstance(dfid, FidInfo) and dfid.type == FAN_EVENT_INFO_TYPE_DFID_NAME
    assert dfid.fsid == (1, 2) and dfid.handle == b"\x01\x02\x03\x04" and dfid.handle_type == 1
    assert dfid.name == name and ev.filename == name and ev.create_event and ev.is_dir_event
    assert fid.name is None and fid.fsid == (-5, 9) and fid.handle == b"abcdefgh"
    assert fid.file_handle == struct.pack("=Ii", 8, 1) + b"abcdefgh"
    assert ren.rename_event and ren.filename == "old" and ren.names == ("old", "new")
    assert err.fs_error_event and err.info[0] == fa.ErrorInfo(FAN_EVENT_INFO_TYPE_ERROR, -5, 3)
    assert err.info[1] == fa.RawInfo(99, b"zzzz")


def test_parse_meta_rows_both_paths():
    """CPython's iter_unpack and PyPy's unpack_from loop, on either."""
    import array

    from butter.fanotify import _records as rec

    buf = b"".join(pack_event(1 << k, FAN_NOFD, -(2**31) + k) for k in range(40))
    for data in (b"", buf[: struct.calcsize(META)], buf, memoryview(array.array("I", buf))):
        size = memoryview(data).nbytes
        rows = rec._meta_rows_iter(data, size)
        assert rec._meta_rows_loop(data, size) == rows
        assert len(rows) == size // struct.calcsize(META)
    assert [e.mask for e in str_to_events(buf)] == [1 << k for k in range(40)]


@pytest.mark.parametrize(
    "buf",
    [
        b"\0" * 5,
        pack_event(FAN_OPEN)[:-1],
        pack_event(FAN_OPEN, vers=2),
        pack_event(FAN_OPEN) + b"\0" * 3,
        pack_event(FAN_OPEN, info=struct.pack("=BBH", 1, 0, 2)),
        pack_event(FAN_OPEN, info=struct.pack("=BBH", 1, 0, 40)),
        pack_event(FAN_OPEN, info=pack_fid(FAN_EVENT_INFO_TYPE_FID)[:12] + b"\0" * 4),
        struct.pack(META, 10, 3, 0, 24, 0, -1, 1),
    ],
)
def test_parse_malformed(buf):
    with pytest.raises(ValueError):
        str_to_events(buf)


def test_parse_bad_types():
    for bad in (None, 3, "text", [1]):
        with pytest.raises(TypeError):
            str_to_events(bad)  # type: ignore[arg-type]


def test_parsed_events_own_their_fds():
    r, w = os.pipe()
    os.close(w)
    buf = pack_event(FAN_OPEN, fd=r, pid=1)
    (ev,) = str_to_events(buf)
    assert not ev.closed
    with ev as same:
        assert same is ev
    assert ev.closed and ev.fd == FAN_NOFD
    with pytest.raises(OSError):
        os.fstat(r)
    ev.close()  # idempotent
    r, w = os.pipe()
    os.close(w)
    (ev,) = str_to_events(pack_event(FAN_OPEN, fd=r, pid=1))
    assert ev.detach() == r and ev.closed
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        del ev
        gc.collect()
    assert not caught  # nothing left to own
    os.fstat(r)
    os.close(r)


def test_event_fileno():
    r, w = os.pipe()
    os.close(w)
    (ev,) = str_to_events(pack_event(FAN_OPEN, fd=r, pid=1))
    assert ev.fileno() == ev.fd == r and not ev.closed
    assert os.path.samestat(os.fstat(ev.fileno()), os.fstat(r))
    assert select.select([ev], [], [], 0)[0] == [ev]  # file-like: select takes it
    ev.close()
    assert ev.closed and ev.fd == FAN_NOFD
    with pytest.raises(ValueError, match="I/O operation on closed FanotifyEvent"):
        ev.fileno()
    r, w = os.pipe()
    os.close(w)
    (ev,) = str_to_events(pack_event(FAN_OPEN, fd=r, pid=1))
    assert ev.detach() == r
    with pytest.raises(ValueError, match="I/O operation on closed FanotifyEvent"):
        ev.fileno()
    os.close(r)
    # No fd from the kernel: FID modes and overflows (FAN_NOFD), FAN_REPORT_FD_ERROR.
    (nofd, overflow, failed) = str_to_events(
        pack_event(FAN_CREATE) + pack_event(fa.FAN_Q_OVERFLOW) + pack_event(FAN_OPEN, -errno.EMFILE)
    )
    with pytest.raises(ValueError, match=r"no fd.*FAN_NOFD"):
        nofd.fileno()
    with pytest.raises(ValueError, match="no fd"):
        overflow.fileno()
    with pytest.raises(ValueError, match=re.escape(os.strerror(errno.EMFILE))):
        failed.fileno()
    assert nofd.closed and failed.closed
    nofd.close()
    with pytest.raises(ValueError, match="closed"):
        nofd.fileno()


def test_unclosed_event_warns_on_gc():
    r, w = os.pipe()
    os.close(w)
    (ev,) = str_to_events(pack_event(FAN_OPEN, fd=r, pid=1))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        del ev
        gc.collect()
        gc.collect()  # PyPy runs finalizers after a collection
    assert [w.category for w in caught] == [ResourceWarning]
    assert "unclosed <FanotifyEvent" in str(caught[0].message)
    with pytest.raises(OSError):
        os.fstat(r)  # closed all the same
    # A pidfd alone is owned too.
    r, w = os.pipe()
    os.close(w)
    pidfd = struct.pack("=BBHi", FAN_EVENT_INFO_TYPE_PIDFD, 0, 8, r)
    (ev,) = str_to_events(pack_event(FAN_CREATE, info=pidfd))
    assert ev.pidfd == r and not ev.closed
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        del ev
        gc.collect()
        gc.collect()
    assert [w.category for w in caught] == [ResourceWarning]
    with pytest.raises(OSError):
        os.fstat(r)
    # Closed, or never owning an fd: silent.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        events = str_to_events(pack_event(FAN_CREATE) * 3)
        r, w = os.pipe()
        os.close(w)
        (ev,) = str_to_events(pack_event(FAN_OPEN, fd=r, pid=1))
        with ev:
            pass
        del events, ev
        gc.collect()
        gc.collect()
    assert not caught


def test_unclosed_event_warning_is_an_error_under_w_error():
    """-W error makes the warning an exception: the fd is closed anyway."""
    r, w = os.pipe()
    os.close(w)
    (ev,) = str_to_events(pack_event(FAN_OPEN, fd=r, pid=1))
    seen = []
    old_hook = sys.unraisablehook
    sys.unraisablehook = seen.append
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            del ev
            gc.collect()
            gc.collect()
    finally:
        sys.unraisablehook = old_hook
    assert [type(u.exc_value) for u in seen] == [ResourceWarning]
    with pytest.raises(OSError):
        os.fstat(r)


# -- classic (fd) mode ----------------------------------------------------------------
@needs_fanotify
def test_events_with_fds(tmp_path, no_fd_leak):
    path = tmp_path / "file"
    with Fanotify() as fan:
        assert is_cloexec(fan.fileno())
        fan.watch(tmp_path, ALL_IO)
        path.write_bytes(b"data")
        events = drain(fan)
        assert events
        mask = 0
        for ev in events:
            assert ev.pid == os.getpid()
            assert ev.fd >= 0 and is_cloexec(ev.fd)
            assert ev.filename == str(path)
            st = os.fstat(ev.fd)
            assert (st.st_dev, st.st_ino) == (path.stat().st_dev, path.stat().st_ino)
            mask |= ev.mask
            ev.close()
        assert mask & FAN_OPEN and mask & FAN_MODIFY and mask & FAN_CLOSE_WRITE
        events = None
        gc.collect()
        assert path.read_bytes() == b"data"
        events = drain(fan)
        mask = 0
        for ev in events:
            mask |= ev.mask
            ev.close()
        assert mask & FAN_ACCESS and mask & FAN_CLOSE_NOWRITE and not mask & FAN_CLOSE_WRITE


@needs_fanotify
def test_ignore_and_flush(tmp_path):
    with Fanotify(FAN_NONBLOCK) as fan:
        fan.watch(tmp_path, FAN_OPEN | FAN_EVENT_ON_CHILD)
        fan.ignore(tmp_path, FAN_OPEN | FAN_EVENT_ON_CHILD)
        (tmp_path / "a").write_text("x")
        with pytest.raises(BlockingIOError):
            fan.read_event()
        assert fan.wait(0) is None
        fan.watch(tmp_path, FAN_OPEN | FAN_EVENT_ON_CHILD)
        fan.flush()
        (tmp_path / "a").read_text()
        assert fan.wait(0) is None
        fan.watch(tmp_path, FAN_CLOSE_NOWRITE | FAN_EVENT_ON_CHILD)
        fan.del_watch(tmp_path, FAN_CLOSE_NOWRITE | FAN_EVENT_ON_CHILD)
        (tmp_path / "a").read_text()
        assert fan.wait(0) is None


@needs_fanotify
def test_poll_and_read_buffer_drains(tmp_path):
    with Fanotify() as fan:
        fan.watch(tmp_path, FAN_CLOSE_WRITE | FAN_EVENT_ON_CHILD)
        for i in range(300):
            (tmp_path / f"f{i}").write_text("x")
        p = select.poll()
        p.register(fan, select.POLLIN)
        assert p.poll(1000)
        events = fan.read_events()
        assert len(events) == 300  # one read(2) took everything queued
        assert {ev.filename for ev in events} == {str(tmp_path / f"f{i}") for i in range(300)}
        for ev in events:
            ev.close()


@needs_fanotify
def test_unread_events_are_closed(tmp_path, no_fd_leak):
    before = open_fds()
    fan = Fanotify()
    fan.watch(tmp_path, FAN_CLOSE_WRITE | FAN_EVENT_ON_CHILD)
    for i in range(50):
        (tmp_path / f"f{i}").write_text("x")
    fan.read_event().close()  # the other 49 are cached with their fds
    assert len(open_fds() - before) == 50
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fan.close()  # closes the cached events: nothing is left to GC
        assert open_fds() == before
        gc.collect()
        gc.collect()  # PyPy runs finalizers after a collection
    assert not caught
    # An unclosed group: one warning (the group's), the cached events closed.
    fan = Fanotify()
    fan.watch(tmp_path, FAN_CLOSE_WRITE | FAN_EVENT_ON_CHILD)
    for i in range(5):
        (tmp_path / f"f{i}").write_text("x")
    fan.read_event().close()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        del fan
        gc.collect()
        gc.collect()
    assert [str(w.message)[:17] for w in caught] == ["unclosed <Fanotif"]
    assert open_fds() == before


@needs_fanotify
def test_fd_leak_2000(tmp_path, no_fd_leak):
    before = open_fds()
    for _ in range(2000):
        fan = Fanotify()
        fan.close()
    for _ in range(200):
        with Fanotify() as fan:
            fan.watch(tmp_path, FAN_CLOSE_WRITE | FAN_EVENT_ON_CHILD)
            (tmp_path / "x").write_text("x")
            for ev in fan.read_events():
                ev.close()
    gc.collect()
    assert open_fds() == before


@needs_fanotify
def test_pidfd_records(tmp_path, no_fd_leak):
    with Fanotify(FAN_REPORT_PIDFD) as fan:
        fan.watch(tmp_path, FAN_CLOSE_WRITE | FAN_EVENT_ON_CHILD)
        (tmp_path / "x").write_text("x")
        (ev,) = drain(fan)
        (info,) = ev.info
        assert info.type == FAN_EVENT_INFO_TYPE_PIDFD and ev.pidfd == info.pidfd >= 0
        assert is_cloexec(ev.pidfd)
        with open(f"/proc/self/fdinfo/{ev.pidfd}") as f:
            assert f"Pid:\t{os.getpid()}" in f.read()
        pidfd = ev.pidfd
        ev.close()
        assert ev.pidfd == fa.FAN_NOPIDFD and ev.closed
        with pytest.raises(OSError):
            os.fstat(pidfd)


# -- FID modes ---------------------------------------------------------------------
def _same_inode(fd: int, path) -> bool:
    a, b = os.fstat(fd), os.stat(path)
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


@needs_fanotify
def test_dfid_name_mode(tmp_path, no_fd_leak):
    mask = FAN_CREATE | FAN_DELETE | FAN_MOVED_FROM | FAN_MOVED_TO | FAN_ONDIR
    with Fanotify(FAN_REPORT_DFID_NAME | FAN_NONBLOCK) as fan:
        fan.watch(tmp_path, mask | FAN_EVENT_ON_CHILD)
        (tmp_path / "new").write_text("x")
        (tmp_path / "new").rename(tmp_path / "moved")
        (tmp_path / "moved").unlink()
        (tmp_path / "sub").mkdir()
        seen = []
        for ev in drain(fan):
            assert ev.fd == FAN_NOFD and ev.pid == os.getpid()
            (info,) = ev.info
            assert info.type == FAN_EVENT_INFO_TYPE_DFID_NAME
            dfd = os.open(tmp_path, os.O_RDONLY)
            try:
                assert info.fsid == fa.fsid(tmp_path) == fa.fsid(dfd)
            finally:
                os.close(dfd)
            fd = fa.open_by_handle_at(tmp_path, info)
            try:
                assert _same_inode(fd, tmp_path) and is_cloexec(fd)
            finally:
                os.close(fd)
            for bit in (FAN_CREATE, FAN_MOVED_FROM, FAN_MOVED_TO, FAN_DELETE):
                if ev.mask & bit:
                    seen.append((bit, ev.filename, ev.is_dir_event))
        assert (FAN_CREATE, "new", False) in seen
        assert (FAN_MOVED_FROM, "new", False) in seen
        assert (FAN_MOVED_TO, "moved", False) in seen
        assert (FAN_DELETE, "moved", False) in seen
        assert (FAN_CREATE, "sub", True) in seen


@needs_fanotify
def test_fid_and_target_fid(tmp_path, no_fd_leak):
    with Fanotify(FAN_REPORT_FID) as fan:
        f = tmp_path / "f"
        f.write_text("x")
        fan.watch(f, FAN_MODIFY | FAN_CLOSE_WRITE)
        f.write_text("y")
        events = drain(fan)
        assert events and all(ev.filename is None for ev in events)
        info = events[0].info[0]
        assert info.type == FAN_EVENT_INFO_TYPE_FID and info.name is None
        fd = fa.open_by_handle_at(tmp_path, info)
        assert _same_inode(fd, f)
        os.close(fd)
    with Fanotify(FAN_REPORT_DFID_NAME_TARGET) as fan:
        fan.watch(tmp_path, FAN_CREATE | FAN_RENAME | FAN_EVENT_ON_CHILD)
        (tmp_path / "t").write_text("x")
        (tmp_path / "t").rename(tmp_path / "u")
        create, rename = drain(fan)
        types = [r.type for r in create.info]
        assert types == [FAN_EVENT_INFO_TYPE_DFID_NAME, FAN_EVENT_INFO_TYPE_FID]
        fd = fa.open_by_handle_at(tmp_path, create.info[1])
        assert _same_inode(fd, tmp_path / "u")
        os.close(fd)
        assert rename.rename_event and rename.names == ("t", "u")
        assert [r.type for r in rename.info][:2] == [
            FAN_EVENT_INFO_TYPE_OLD_DFID_NAME,
            FAN_EVENT_INFO_TYPE_NEW_DFID_NAME,
        ]


# -- permission events (forked, with an alarm) ------------------------------------
def _perm_case(directory: str, answer: str) -> object:
    signal.alarm(20)  # nothing may hang: SIGALRM kills this child
    target = os.path.join(directory, "guarded")
    with open(target, "w") as f:
        f.write("secret")
    fan = Fanotify(FAN_CLASS_CONTENT)
    fan.watch(target, FAN_OPEN_PERM)
    pid = os.fork()
    if pid == 0:  # the opener
        signal.alarm(20)
        try:
            with open(target) as f:
                os._exit(0 if f.read() == "secret" else 3)
        except PermissionError:
            os._exit(1)
        except BaseException:
            os._exit(2)
    answered = 0
    try:
        while True:
            ev = fan.wait(0.1)
            if ev is None:
                done, status = os.waitpid(pid, os.WNOHANG)
                if done:
                    break
                continue
            assert ev.open_perm_event and ev.perm_event and ev.pid == pid
            assert ev.filename == target
            if answer == "deny":
                fan.deny(ev)
            else:
                fan.allow(ev)
            answered += 1
            ev.close()
    finally:
        fan.close()
    signal.alarm(0)
    return os.waitstatus_to_exitcode(status), answered


@needs_fanotify
def test_permission_deny(tmp_path):
    code, answered = in_child(_perm_case, str(tmp_path), "deny")
    assert answered >= 1 and code == 1  # the opener got EPERM


@needs_fanotify
def test_permission_allow(tmp_path):
    code, answered = in_child(_perm_case, str(tmp_path), "allow")
    assert answered >= 1 and code == 0


@needs_fanotify
def test_respond_to_a_non_permission_fd():
    with Fanotify(FAN_CLASS_CONTENT) as fan:
        r, w = os.pipe()
        try:
            with pytest.raises(OSError) as info:
                fan.allow(r)
            assert info.value.errno == errno.ENOENT
        finally:
            os.close(r)
            os.close(w)


# -- errors ------------------------------------------------------------------------------
@needs_fanotify
def test_kernel_errors(tmp_path):
    with pytest.raises(OSError) as info:
        fanotify_init(1 << 30)
    assert info.value.errno == errno.EINVAL
    with pytest.raises(OSError) as info:
        fanotify_init(fa.FAN_CLASS_NOTIF, 1 << 30)
    assert info.value.errno == errno.EINVAL
    with Fanotify() as fan:
        missing = tmp_path / "missing"
        with pytest.raises(FileNotFoundError) as info:
            fan.watch(missing, FAN_OPEN)
        assert info.value.filename == missing
        (tmp_path / "file").write_text("")
        with pytest.raises(NotADirectoryError) as info:
            fan.watch(tmp_path / "file", FAN_OPEN, FAN_MARK_ONLYDIR)
        assert info.value.filename == tmp_path / "file"
        with pytest.raises(OSError) as info:
            fan.watch(tmp_path, FAN_CREATE)  # needs a FID mode
        assert info.value.errno == errno.EINVAL and info.value.filename == tmp_path
        with pytest.raises(OSError) as info:
            fanotify_mark(fan, tmp_path, FAN_OPEN, 0)  # no operation
        assert info.value.errno == errno.EINVAL
        with pytest.raises(ValueError):
            fan.watch(tmp_path, FAN_OPEN, fa.FAN_MARK_REMOVE)
        # dfd-relative, and the object form of fds
        dfd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
        try:
            fanotify_mark(fan, "file", FAN_OPEN, fa.FAN_MARK_ADD, dfd)
            fan.watch(None, FAN_OPEN, 0, dfd)
        finally:
            os.close(dfd)
    with pytest.raises(ValueError, match="closed"):
        fan.watch(tmp_path, FAN_OPEN)
    with pytest.raises(ValueError, match="closed"):
        fan.allow(3)
    with pytest.raises(OSError) as info:
        fanotify_mark(10_000, tmp_path, FAN_OPEN)
    assert info.value.errno == errno.EBADF


BAD_CALLS = [
    (fanotify_init, ("x",), {}, TypeError),
    (fanotify_init, (-1,), {}, ValueError),
    (fanotify_init, (2**32,), {}, OverflowError),
    (fanotify_init, (0, -1), {}, ValueError),
    (fanotify_init, (0, 2**40), {}, OverflowError),
    (fanotify_init, (True,), {}, TypeError),
    (fanotify_init, (None,), {}, TypeError),
    (fanotify_mark, (-1, "/", FAN_OPEN), {}, ValueError),
    (fanotify_mark, ("x", "/", FAN_OPEN), {}, TypeError),
    (fanotify_mark, (10_000, "/", FAN_OPEN), {}, OSError),
    (fanotify_mark, (0, 5, FAN_OPEN), {}, TypeError),
    (fanotify_mark, (0, "a\0b", FAN_OPEN), {}, ValueError),
    (fanotify_mark, (0, "/", -1), {}, ValueError),
    (fanotify_mark, (0, "/", 2**64), {}, OverflowError),
    (fanotify_mark, (0, "/", "x"), {}, TypeError),
    (fanotify_mark, (0, "/", FAN_OPEN, -1), {}, ValueError),
    (fanotify_mark, (0, "/", FAN_OPEN, 2**32), {}, OverflowError),
    (fanotify_mark, (0, "/", FAN_OPEN, 1, -5), {}, ValueError),
    (fanotify_mark, (0, "/", FAN_OPEN, 1, "x"), {}, TypeError),
    (fanotify_mark, (0, "/", FAN_OPEN, 1, 2**40), {}, OverflowError),
    (str_to_events, (b"\xff" * 24,), {}, ValueError),
    (str_to_events, (12,), {}, TypeError),
    (fa.fsid, (-3,), {}, ValueError),
    (fa.fsid, ("/nonexistent/x",), {}, FileNotFoundError),
    (fa.fsid, (1.5,), {}, TypeError),
    (fa.mask_names, ("x",), {}, TypeError),
    (fa.open_by_handle_at, (-100, "x"), {}, TypeError),
    (fa.open_by_handle_at, (-100, FidInfo(1, (0, 0), 1, b"\0" * 200, None)), {}, OSError),
    (fa.open_by_handle_at, (-100, FidInfo(1, (0, 0), 1, b"\0" * 8, None)), {}, OSError),
    (fa.open_by_handle_at, ("x", FidInfo(1, (0, 0), 1, b"", None)), {}, FileNotFoundError),
    (Fanotify, (-1,), {}, ValueError),
    (Fanotify, ("x",), {}, TypeError),
    (Fanotify, (0, 2**33), {}, OverflowError),
    (Fanotify, (1 << 30,), {}, OSError),
]


@needs_fanotify
@pytest.mark.parametrize("fn,args,kwargs,expected", BAD_CALLS)
def test_bad_input(fn, args, kwargs, expected):
    assert assert_clean_error(fn, *args, **kwargs) == expected.__name__


@needs_fanotify
@pytest.mark.parametrize(
    "method,args,expected",
    [
        ("watch", ("/", "x"), TypeError),
        ("watch", ("/", FAN_OPEN, "x"), TypeError),
        ("watch", (7, FAN_OPEN), TypeError),
        ("watch", ("/", -1), ValueError),
        ("watch", ("/", FAN_OPEN, -1), ValueError),
        ("watch", ("/", FAN_OPEN, 0, -7), ValueError),
        ("ignore", ("/", FAN_OPEN, 2**33), OverflowError),
        ("ignore", ("/nonexistent", FAN_OPEN), FileNotFoundError),
        ("flush", ("x",), TypeError),
        ("allow", ("x",), TypeError),
        ("allow", (2**40,), OverflowError),
        ("deny", (None,), TypeError),
        ("respond", (3, "x"), TypeError),
        ("respond", (3, -1), ValueError),
        ("respond", (3, 2**33), OverflowError),
    ],
)
def test_bad_method_input(method, args, expected):
    def case():
        with Fanotify() as fan:
            getattr(fan, method)(*args)

    assert assert_clean_error(case) == expected.__name__


# -- fatrace's letters (the CLI itself: tests/test_fanotify_cli.py) ---------------------
def test_fatrace_letters():
    from butter.fanotify._constants import mask_to_types, types_to_mask

    assert mask_to_types(FAN_CLOSE_WRITE) == "CW"
    assert mask_to_types(FAN_OPEN | FAN_ACCESS | FAN_CLOSE_NOWRITE) == "RCO"
    assert mask_to_types(FAN_MOVED_FROM | FAN_MOVED_TO) == "<>"
    assert mask_to_types(FAN_CREATE) == "+" and mask_to_types(FAN_DELETE) == "D"
    assert types_to_mask("OC") == FAN_OPEN | FAN_CLOSE
    assert types_to_mask("<") == FAN_MOVED_FROM | FAN_MOVED_TO
    with pytest.raises(ValueError):
        types_to_mask("X")
