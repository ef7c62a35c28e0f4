"""butter.inotify: parser on packed bytes, thin calls, Inotify, limits, load."""

from __future__ import annotations

import ctypes
import errno
import fcntl
import os
import re
import struct
import time

import pytest
from conftest import assert_clean_error, flood, in_child, inotify_queue_limit, open_fds

from butter import inotify as ino
from butter._lowlevel import ffi
from butter.inotify import (
    IN_CLOSE_WRITE,
    IN_CREATE,
    IN_DELETE,
    IN_IGNORED,
    IN_ISDIR,
    IN_MODIFY,
    IN_MOVED_FROM,
    IN_MOVED_TO,
    IN_NONBLOCK,
    IN_Q_OVERFLOW,
    Inotify,
    InotifyEvent,
    event_name,
    inotify_add_watch,
    inotify_init,
    inotify_rm_watch,
    str_to_events,
)
from butter.inotify import _core as ino_core

# -- the record layout, from the C compiler (never hard-coded) ---------------
_FIELDS = ("wd", "mask", "cookie", "len")
_CODES = {("wd", 4): "i", ("mask", 4): "I", ("cookie", 4): "I", ("len", 4): "I"}


def _header() -> struct.Struct:
    fmt, pos = "=", 0
    for name in _FIELDS:
        off = ffi.offsetof("struct inotify_event", name)
        size = ffi.sizeof(ffi.typeof("struct inotify_event").fields[_FIELDS.index(name)][1].type)
        fmt += "x" * (off - pos) + _CODES[(name, size)]
        pos = off + size
    fmt += "x" * (ffi.sizeof("struct inotify_event") - pos)
    return struct.Struct(fmt)


HDR = _header()


def pack(wd: int, mask: int, cookie: int, name: bytes = b"", pad: int = 16) -> bytes:
    if not name:
        return HDR.pack(wd, mask, cookie, 0)
    length = (len(name) // pad + 1) * pad
    return HDR.pack(wd, mask, cookie, length) + name.ljust(length, b"\0")


def header_constants() -> dict[str, int]:
    """IN_* values from the kernel header, as an independent reference."""
    with open("/usr/include/linux/inotify.h") as f:
        text = f.read()
    values: dict[str, int] = {}
    for name, value in re.findall(r"#define\s+(IN_\w+)\s+(0x[0-9a-fA-F]+)", text):
        values[name] = int(value, 16)
    return values


# -- constants and the parser --------------------------------------------------
def test_constants_match_header():
    ref = header_constants()
    assert len(ref) >= 20
    for name, value in ref.items():
        assert getattr(ino, name) == value, name
        assert event_name[name] == value
        assert event_name[value] == name
    assert ino.IN_CLOEXEC == os.O_CLOEXEC and ino.IN_NONBLOCK == os.O_NONBLOCK
    assert ino.IN_ALL_EVENTS == 0xFFF
    assert "IN_CLOEXEC" not in event_name


def test_parse_packed():
    buf = (
        pack(1, IN_CREATE, 0, b"a.txt")
        + pack(1, IN_MODIFY, 0)
        + pack(2, IN_MOVED_FROM, 77, b"x" * 16)  # name filling its field exactly
        + pack(-1, IN_Q_OVERFLOW, 0)
        + pack(3, IN_CREATE | IN_ISDIR, 0, b"d", pad=64)
    )
    events = str_to_events(buf)
    assert events == [
        (1, IN_CREATE, 0, "a.txt"),
        (1, IN_MODIFY, 0, ""),
        (2, IN_MOVED_FROM, 77, "x" * 16),
        (-1, IN_Q_OVERFLOW, 0, ""),
        (3, IN_CREATE | IN_ISDIR, 0, "d"),
    ]
    assert all(type(e) is InotifyEvent for e in events)
    e = events[4]
    assert (e.wd, e.mask, e.cookie, e.filename) == (3, IN_CREATE | IN_ISDIR, 0, "d")
    assert e.create_event and e.is_dir_event and not e.delete_event
    assert events[3].overflow_event and events[2].moved_from_event
    assert str_to_events(b"") == []
    assert str_to_events(bytearray(buf)) == events
    assert str_to_events(memoryview(buf)) == events


def test_parse_every_property():
    names = [n for n in dir(InotifyEvent) if n.endswith("_event")]
    assert len(names) == 17
    for name in names:
        prop = getattr(InotifyEvent, name)
        for flag, flag_name in event_name.items():
            if isinstance(flag, int) and flag & (flag - 1) == 0:  # single bits
                ev = InotifyEvent(1, flag, 0, "")
                want = flag & getattr(ino, "IN_" + _prop_flag(name)) != 0
                assert prop.fget(ev) is want, (name, flag_name)


def _prop_flag(prop: str) -> str:
    return {
        "overflow_event": "Q_OVERFLOW",
        "is_dir_event": "ISDIR",
        "unmount_event": "UNMOUNT",
    }.get(prop, prop[: -len("_event")].upper())


def test_parse_names_like_fsdecode():
    raw = b"caf\xc3\xa9-\xff\xfe.bin"
    (ev,) = str_to_events(pack(1, IN_CREATE, 0, raw))
    assert ev.filename == os.fsdecode(raw)
    assert os.fsencode(ev.filename) == raw


def test_parse_truncated():
    good = pack(1, IN_CREATE, 0, b"abc")
    for cut in (1, 8, 15, 17, len(good) - 1):
        with pytest.raises(ValueError):
            str_to_events(good[:cut])
    with pytest.raises(ValueError):
        str_to_events(good + good[:4])
    with pytest.raises(TypeError):
        str_to_events("text")  # type: ignore[arg-type]


# -- thin calls ------------------------------------------------------------------
# -- every parser path (CPython's columns, PyPy's walk and records), on
#    either interpreter, against a struct reference -------------------------
def _reference(buf: bytes) -> tuple[list[tuple[int, int, int, str]], int]:
    """What every path must return: events and the OR of their masks."""
    events, mask_or, pos = [], 0, 0
    while pos < len(buf):
        if len(buf) - pos < HDR.size:
            raise ValueError("truncated")
        wd, mask, cookie, length = HDR.unpack_from(buf, pos)
        pos += HDR.size
        if length > len(buf) - pos:
            raise ValueError("truncated")
        events.append((wd, mask, cookie, os.fsdecode(buf[pos : pos + length].split(b"\0")[0])))
        mask_or |= mask
        pos += length
    return events, mask_or


_PATHS = {
    "columns": ino_core._parse_columns,
    "records": ino_core._parse_records,
    "walk": ino_core._parse_walk,
    "loop": ino_core._parse_loop,
}


def _check_all_paths(buf: bytes) -> None:
    try:
        want = _reference(buf)
    except ValueError:
        want = None
    # a bytes object, and the same bytes one byte off alignment
    views = [buf, memoryview(b"\0" + buf)[1:]]
    for name, parse in _PATHS.items():
        for view in views:
            ptr = ffi.from_buffer(view)
            if want is None:
                with pytest.raises(ValueError, match="truncated"):
                    parse(ptr, len(buf))
                continue
            events, mask_or = parse(ptr, len(buf))
            assert (events, mask_or) == want, name
            assert all(type(e) is InotifyEvent for e in events), name
            assert len({id(e) for e in events}) == len(events), name  # never shared
    for fn in (str_to_events, ino_core._str_to_events_columns, ino_core._str_to_events_loop):
        if want is None:
            with pytest.raises(ValueError):
                fn(buf)
        else:
            assert fn(buf) == want[0]
            assert fn(bytearray(buf)) == want[0]


_NAMES = [
    b"a", b"a.txt", b"b.txt", b"x" * 15, b"x" * 16, b"y" * 255, b"caf\xc3\xa9",
    b"\xff\xfe-not-utf8", b"\xed\xa0\x80", b"tab\tand space", b"z\0garbage-after-nul",
]  # fmt: skip
_INTS = [
    (-1, IN_Q_OVERFLOW, 0), (1, IN_MODIFY, 0), (1, IN_CREATE | IN_ISDIR, 0),
    (2, IN_MOVED_FROM, 7), (2, IN_MOVED_TO, 7), (2**31 - 1, 2**32 - 1, 2**32 - 1),
    (-(2**31), 2**31, 2**31),
]  # fmt: skip


def _random_record(rnd) -> bytes:
    wd, mask, cookie = rnd.choice(_INTS)
    kind = rnd.random()
    if kind < 0.2:  # no name: the event is about the watched inode
        return HDR.pack(wd, mask, cookie, 0)
    name = rnd.choice(_NAMES) if kind < 0.85 else bytes(rnd.randrange(256) for _ in range(20))
    if rnd.random() < 0.2:  # hand-packed: any padding, even none or unaligned
        field = name + b"\0" * rnd.choice([0, 1, 2, 3, 5, 17])
    else:  # as the kernel pads: to a multiple of the header size
        field = name.ljust((len(name) // HDR.size + 1) * HDR.size, b"\0")
    return HDR.pack(wd, mask, cookie, len(field)) + field


def test_parse_paths_agree_on_random_buffers():
    import random

    rnd = random.Random(8)
    # sizes across every switch: folding (1 KiB), the PyPy walk (4 KiB),
    # more distinct records than the C cache has slots (256)
    for count in [0, 1, 2, 3, 5, 20, 40, 100, 130, 200, 300, 700, 2000]:
        for repeats in (False, True):
            for _ in range(4):
                if repeats:  # a few records over and over, as when files are rewritten
                    pool = [_random_record(rnd) for _ in range(rnd.randrange(1, 6))]
                    recs = [rnd.choice(pool) for _ in range(count)]
                else:
                    recs = [_random_record(rnd) for _ in range(count)]
                buf = b"".join(recs)
                _check_all_paths(buf)
                if buf:
                    _check_all_paths(buf[: rnd.randrange(len(buf))])
                    _check_all_paths(buf + HDR.pack(1, IN_CREATE, 0, 16) + b"abc")


def test_parse_paths_edge_cases():
    _check_all_paths(b"")
    _check_all_paths(pack(1, IN_MODIFY, 0))
    _check_all_paths(HDR.pack(1, IN_CREATE, 0, 4) + b"abcd")  # name without a NUL
    _check_all_paths(HDR.pack(1, IN_CREATE, 0, 8) + b"\0" * 8)  # all padding: ""
    _check_all_paths(HDR.pack(1, IN_CREATE, 0, 2**32 - 1))  # length past the end
    _check_all_paths(b"\0" * (HDR.size - 1))
    # equal names at different paddings are one record; different cookies are not
    same = [pack(3, IN_MODIFY, 0, b"f", pad=p) for p in (1, 4, 16, 64)] * 100
    _check_all_paths(b"".join(same))
    moves = [pack(3, IN_MOVED_FROM, c, b"f") for c in range(300)] * 3
    _check_all_paths(b"".join(moves))


try:
    from hypothesis import given, settings
    from hypothesis import strategies as st
except ImportError:  # pragma: no cover - hypothesis is optional
    pass
else:
    _record = st.builds(
        lambda wd, mask, cookie, name, pad: (
            HDR.pack(wd, mask, cookie, len(name) + pad) + name + b"\0" * pad
        ),
        st.integers(-(2**31), 2**31 - 1),
        st.integers(0, 2**32 - 1),
        st.integers(0, 2**32 - 1),
        st.binary(max_size=40),
        st.integers(0, 20),
    )

    @settings(max_examples=300, deadline=None)
    @given(st.lists(_record, max_size=40), st.integers(1, 50), st.data())
    def test_parse_paths_agree_hypothesis(records, times, data):
        buf = b"".join(records) * (times if len(records) < 5 else 1)
        if buf and data.draw(st.booleans()):
            buf = buf[: data.draw(st.integers(0, len(buf) - 1))]
        _check_all_paths(buf)


def test_thin_calls(tmp_path):
    fd = inotify_init()
    try:
        assert fcntl.fcntl(fd, fcntl.F_GETFD) & fcntl.FD_CLOEXEC
        assert os.get_blocking(fd)
        wd = inotify_add_watch(fd, tmp_path, IN_CREATE | IN_DELETE)
        assert inotify_add_watch(fd, str(tmp_path).encode(), IN_CREATE) == wd
        (tmp_path / "f").touch()
        events = str_to_events(os.read(fd, 4096))
        assert events == [(wd, IN_CREATE, 0, "f")]
        inotify_rm_watch(fd, wd)
        assert str_to_events(os.read(fd, 4096)) == [(wd, IN_IGNORED, 0, "")]
        with pytest.raises(OSError) as info:
            inotify_rm_watch(fd, wd)
        assert info.value.errno == errno.EINVAL
    finally:
        os.close(fd)
    fd = inotify_init(IN_NONBLOCK)
    try:
        assert not os.get_blocking(fd)
        with pytest.raises(BlockingIOError):
            os.read(fd, 4096)
    finally:
        os.close(fd)


def test_add_watch_errors(tmp_path):
    with Inotify() as i:
        with pytest.raises(FileNotFoundError) as info:
            i.watch(tmp_path / "missing")
        assert info.value.filename == tmp_path / "missing"
        (tmp_path / "file").touch()
        with pytest.raises(NotADirectoryError):
            i.watch(tmp_path / "file", IN_CREATE | ino.IN_ONLYDIR)
        i.watch(tmp_path, IN_CREATE)
        with pytest.raises(FileExistsError):
            i.watch(tmp_path, IN_CREATE | ino.IN_MASK_CREATE)


def test_bad_input(tmp_path):
    fd = inotify_init()

    def check(fn, args, expected):
        raised = assert_clean_error(fn, *args)  # in a forked child
        assert raised == expected.__name__, (fn.__name__, args, raised)

    try:
        for args, expected in [
            (("x",), TypeError),
            ((1.5,), TypeError),
            ((True,), TypeError),
            ((-1,), ValueError),
            ((2**40,), OverflowError),
            ((0x7FFF_FFFF,), ValueError),  # unknown bits
            ((None,), TypeError),
        ]:
            check(inotify_init, args, expected)
        for args, expected in [
            ((fd, tmp_path, 0), ValueError),
            ((fd, tmp_path, -1), ValueError),
            ((fd, tmp_path, 2**32), OverflowError),
            ((fd, tmp_path, 2**70), OverflowError),
            ((fd, tmp_path, "IN_CREATE"), TypeError),
            ((fd, tmp_path, 1 << 13), ValueError),  # IN_UNMOUNT is not for watches
            ((fd, 123, IN_CREATE), TypeError),
            ((fd, None, IN_CREATE), TypeError),
            ((fd, "a\0b", IN_CREATE), ValueError),
            ((fd, b"a\0b", IN_CREATE), ValueError),
            ((fd, tmp_path / "nope", IN_CREATE), FileNotFoundError),
            ((-1, tmp_path, IN_CREATE), ValueError),
            (("fd", tmp_path, IN_CREATE), TypeError),
            ((999_999, tmp_path, IN_CREATE), OSError),  # EBADF
            ((0, tmp_path, IN_CREATE), OSError),  # not an inotify fd: EINVAL
            ((2**40, tmp_path, IN_CREATE), OverflowError),
        ]:
            check(inotify_add_watch, args, expected)
        for args, expected in [
            ((fd, -5), OSError),  # the kernel's EINVAL
            ((fd, 2**40), OverflowError),
            ((fd, "1"), TypeError),
            ((-1, 1), ValueError),
            ((fd, None), TypeError),
            ((999_999, 1), OSError),
        ]:
            check(inotify_rm_watch, args, expected)
        for buf in [None, 5, "str", [1, 2]]:
            check(str_to_events, (buf,), TypeError)
        check(str_to_events, (b"\x01" * 15,), ValueError)
        check(Inotify, ("0",), TypeError)
        check(Inotify, (0x7FFF,), ValueError)
    finally:
        os.close(fd)


def test_closed_object(tmp_path):
    i = Inotify()
    i.close()
    i.close()
    assert i.closed and repr(i) == "<Inotify closed>"
    for call in (i.fileno, i.read_event, i.read_events, lambda: i.watch(tmp_path),
                 lambda: i.ignore(1), i.wait):  # fmt: skip
        with pytest.raises(ValueError, match="closed"):
            call()


def test_no_fd_leak_and_cloexec(tmp_path):
    before = open_fds()
    for _ in range(2000):
        with Inotify() as i:
            i.watch(tmp_path, IN_CREATE)
    for _ in range(100):
        i = Inotify(IN_NONBLOCK)
        assert fcntl.fcntl(i.fileno(), fcntl.F_GETFD) & fcntl.FD_CLOEXEC
        i.close()
    assert open_fds() == before


def test_resource_warning():
    import gc

    i = Inotify()
    fd = i.fileno()
    with pytest.warns(ResourceWarning):
        del i
        gc.collect()
    with pytest.raises(OSError) as info:
        fcntl.fcntl(fd, fcntl.F_GETFD)
    assert info.value.errno == errno.EBADF


# -- Inotify -----------------------------------------------------------------------
def test_inotify_object(tmp_path):
    with Inotify() as i:
        assert re.fullmatch(r"<Inotify fd=\d+ watches=0>", repr(i))
        wd = i.watch(tmp_path)
        f = tmp_path / "f"
        f.write_text("x")
        os.rename(f, tmp_path / "g")
        os.unlink(tmp_path / "g")
        events = []
        while not any(e.delete_event for e in events):
            events.append(i.read_event())
        masks = [e.mask for e in events]
        assert masks == [IN_CREATE, ino.IN_OPEN, IN_MODIFY, IN_CLOSE_WRITE,
                         IN_MOVED_FROM, IN_MOVED_TO, IN_DELETE]  # fmt: skip
        assert events[4].cookie == events[5].cookie != 0
        assert [i.event_path(e) for e in events[3:]] == [
            str(tmp_path / n) for n in ("f", "f", "g", "g")
        ]
        assert i.watches == {wd: str(tmp_path)}
        i.ignore(wd)
        ev = i.wait(timeout=5)
        assert ev == (wd, IN_IGNORED, 0, "")
        assert i.watches == {}
        assert i.event_path(ev) == str(tmp_path)  # still known for queued events
        assert i.event_path(InotifyEvent(-1, IN_Q_OVERFLOW, 0, "")) is None
        assert i.wait(timeout=0) is None
        assert i.del_watch == i.ignore


def test_watch_self_and_iteration(tmp_path):
    f = tmp_path / "f"
    f.write_text("")
    with Inotify(IN_NONBLOCK) as i:
        wd = i.watch(f, IN_MODIFY | ino.IN_DELETE_SELF)
        with pytest.raises(BlockingIOError):
            i.read_event()
        f.write_text("abc")
        f.unlink()
        it = iter(i)
        assert next(it) == (wd, IN_MODIFY, 0, "")
        assert next(it).delete_self_event
        assert next(it).ignored_event


def test_watch_generator(tmp_path):
    import threading

    d = tmp_path / "d"
    d.mkdir()
    before = open_fds()
    gen = ino.watch(d, IN_CREATE | ino.IN_DELETE_SELF)

    def act():
        time.sleep(0.3)  # the watch exists once next() runs
        (d / "y").touch()
        (d / "y").unlink()
        d.rmdir()

    t = threading.Thread(target=act)
    t.start()
    got = list(gen)  # ends after IN_IGNORED, fd closed
    t.join()
    assert [(e.mask, e.filename) for e in got] == [
        (IN_CREATE, "y"), (ino.IN_DELETE_SELF, ""), (IN_IGNORED, ""),
    ]  # fmt: skip
    assert open_fds() == before
    d.mkdir()
    gen = ino.watch(d)
    t = threading.Thread(target=lambda: (time.sleep(0.3), (d / "z").touch()))
    t.start()
    assert next(gen) == (1, IN_CREATE, 0, "z")
    t.join()
    gen.close()  # closing the generator closes the fd
    assert open_fds() == before


def test_read_drains_everything(tmp_path):
    """One read_events() returns all of a large queue (buffer grows)."""
    with Inotify() as i:
        i.watch(tmp_path, IN_CREATE)
        n = 12000  # ~ 12000 * 48 bytes: more than the initial 64 KiB
        for k in range(n):
            os.close(os.open(tmp_path / f"file-with-a-long-name-{k:06d}", os.O_CREAT | os.O_WRONLY))
        events = i.read_events()
        assert len(events) == n
        assert [e.filename for e in events] == [f"file-with-a-long-name-{k:06d}" for k in range(n)]
        assert i.wait(timeout=0) is None


# -- kernel limits: in a child, in a fresh user namespace (limits there are
#    per namespace, so nothing global changes) --------------------------------------
def _in_userns_with_limits(watches: int, instances: int, fn, *args):
    def child():
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.unshare(0x10000000) != 0:  # CLONE_NEWUSER
            return ("skip", os.strerror(ctypes.get_errno()))
        with open("/proc/sys/user/max_inotify_watches", "w") as f:
            f.write(str(watches))
        with open("/proc/sys/user/max_inotify_instances", "w") as f:
            f.write(str(instances))
        return ("ok", fn(*args))

    kind, value = in_child(child)
    if kind == "skip":
        pytest.skip(f"no user namespaces: {value}")
    return value


def _hit_watch_limit(path):
    with Inotify() as i:
        paths = []
        for k in range(3):
            p = os.path.join(path, str(k))
            os.mkdir(p)
            paths.append(p)
        i.watch(paths[0])
        i.watch(paths[1])
        try:
            i.watch(paths[2])
        except OSError as exc:
            return exc.errno, str(exc), exc.filename
    return None


def _hit_instance_limit():
    held = [Inotify(), Inotify()]
    try:
        Inotify()
    except OSError as exc:
        return exc.errno, str(exc)
    finally:
        for h in held:
            h.close()
    return None


def test_watch_limit(tmp_path):
    err, msg, filename = _in_userns_with_limits(2, 100, _hit_watch_limit, str(tmp_path))
    assert err == errno.ENOSPC
    assert "fs.inotify.max_user_watches" in msg and "max_inotify_watches" in msg
    assert filename == os.path.join(str(tmp_path), "2")


def test_instance_limit():
    err, msg = _in_userns_with_limits(100, 2, _hit_instance_limit)
    assert err == errno.EMFILE
    assert "fs.inotify.max_user_instances" in msg


# -- load: a writer process, every event or an overflow event ---------------------
N_LOAD = 300_000


def _writer(path: str, n: int) -> int:
    """Fork a process writing n bytes alternately to two files (consecutive
    events differ, so the kernel cannot merge them)."""
    pid = os.fork()
    if pid == 0:
        try:
            fds = [os.open(os.path.join(path, n_), os.O_WRONLY) for n_ in ("a", "b")]
            write = os.write
            a, b = fds
            for _ in range(n // 2):
                write(a, b"x")
                write(b, b"x")
        finally:
            os._exit(0)
    return pid


def _prepare(path) -> None:
    for name in ("a", "b"):
        (path / name).touch()


def count_load(inotify: Inotify, path, n: int) -> tuple[int, int, bool]:
    """Read until the writer exited and the queue is empty: (modify events,
    out-of-order events, overflow seen)."""
    pid = _writer(str(path), n)
    count = disorder = 0
    overflow = False
    expect = "a"
    exited = False
    while True:
        ev = inotify.wait(timeout=0.5 if exited else 5)
        if ev is None:
            if exited:
                break
            done, _ = os.waitpid(pid, os.WNOHANG)
            exited = done == pid
            continue
        if ev.mask & IN_Q_OVERFLOW:
            overflow = True
            continue
        if ev.mask & IN_MODIFY:
            count += 1
            if not overflow:
                if ev.filename != expect:
                    disorder += 1
                expect = "b" if ev.filename == "a" else "a"
        if not exited:
            done, _ = os.waitpid(pid, os.WNOHANG)
            exited = done == pid
    if not exited:
        os.waitpid(pid, 0)
    return count, disorder, overflow


@pytest.mark.slow
def test_load_default_queue(tmp_path):
    _prepare(tmp_path)
    with Inotify() as i:
        i.watch(tmp_path, IN_MODIFY)
        count, disorder, overflow = count_load(i, tmp_path, N_LOAD)
    assert disorder == 0
    assert count == N_LOAD or (overflow and count < N_LOAD), (count, overflow)


def test_full_queue_loses_nothing(tmp_path):
    """A burst as large as the kernel queue holds, written before the first
    read: every event arrives, in order, and no overflow."""
    n = inotify_queue_limit() // 2 * 2
    _prepare(tmp_path)
    with Inotify() as i:
        i.watch(tmp_path, IN_MODIFY)
        os.waitpid(_writer(str(tmp_path), n), 0)  # all queued before reading
        count, disorder, overflow = count_load(i, tmp_path, 0)
    assert (count, disorder, overflow) == (n, 0, False)


def test_overflow_is_an_event(tmp_path):
    """A queue filled past its limit keeps the first max_queued_events
    events, then one overflow event, which reaches the reader as an event."""
    limit = inotify_queue_limit()
    with Inotify() as i:
        i.watch(tmp_path, IN_MODIFY)
        flood(tmp_path, limit + 50)
        events = i.read_events()
        while len(events) < limit + 1:
            more = i.wait(timeout=0)
            assert more is not None, len(events)
            events.append(more)
        assert i.wait(timeout=0) is None
        assert [e.filename for e in events[:4]] == [".flood-a", ".flood-b"] * 2
        assert all(e.mask == IN_MODIFY for e in events[:limit])
        assert events[limit] == (-1, IN_Q_OVERFLOW, 0, "")
        assert events[limit].overflow_event
        assert i.event_path(events[limit]) is None
