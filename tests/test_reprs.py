"""repr() of every fd owner and its asyncio queue, open, closed and half
built; Signal's short repr; inotify/fanotify mask names (inotify's checked
against inotify-tools' own ``inotifytools_event_to_str``)."""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import os
import re
import signal
import tempfile

import pytest
from conftest import in_child, needs_fanotify

import butter.inotify as I
from butter.aio import Context
from butter.eventfd import EFD_NONBLOCK, EFD_SEMAPHORE, Eventfd
from butter.fanotify import (
    FAN_CLASS_CONTENT,
    FAN_CLOSE_WRITE,
    FAN_ONDIR,
    FAN_REPORT_FID,
    Fanotify,
)
from butter.fanotify import mask_names as fan_mask_names
from butter.fanotify._constants import init_flag_names
from butter.memfd import Memfd
from butter.pidfd import PidFd
from butter.signalfd import (
    CLD_EXITED,
    CLD_KILLED,
    SI_QUEUE,
    SI_USER,
    Signal,
    Signalfd,
)
from butter.timerfd import CLOCK_BOOTTIME, CLOCK_REALTIME, Timer


def check_closed(obj: object, name: str) -> None:
    obj.close()  # type: ignore[attr-defined]
    assert repr(obj) == f"<{name} closed>"


# -- the sync objects ---------------------------------------------------------------
def test_inotify(tmp_path):
    i = I.Inotify()
    fd = i.fileno()
    assert repr(i) == f"<Inotify fd={fd} watches=0>"
    i.watch(tmp_path)
    assert repr(i) == f"<Inotify fd={fd} watches=1 [{str(tmp_path)!r}]>"
    for k in range(4):
        (tmp_path / f"d{k}").mkdir()
        i.watch(tmp_path / f"d{k}")
    r = repr(i)
    assert r.startswith(f"<Inotify fd={fd} watches=5 [") and r.endswith(", ...]>")
    assert r.count("'") == 6  # three paths shown, not five
    check_closed(i, "Inotify")


def test_inotify_tree(tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    t = I.InotifyTree(tmp_path)
    assert repr(t) == f"<InotifyTree fd={t.fileno()} roots=[{str(tmp_path)!r}] dirs=3>"
    check_closed(t, "InotifyTree")


@needs_fanotify
def test_fanotify():
    f = Fanotify()
    assert repr(f) == f"<Fanotify fd={f.fileno()} flags=FAN_CLASS_NOTIF>"
    check_closed(f, "Fanotify")
    f = Fanotify(FAN_CLASS_CONTENT)
    assert repr(f) == f"<Fanotify fd={f.fileno()} flags=FAN_CLASS_CONTENT>"
    check_closed(f, "Fanotify")
    try:
        f = Fanotify(FAN_REPORT_FID)
    except OSError:  # an old kernel
        return
    assert repr(f) == f"<Fanotify fd={f.fileno()} flags=FAN_CLASS_NOTIF|FAN_REPORT_FID>"
    check_closed(f, "Fanotify")


def test_fanotify_init_flag_names():
    assert init_flag_names(0) == "FAN_CLASS_NOTIF"
    assert init_flag_names(FAN_CLASS_CONTENT | FAN_REPORT_FID) == (
        "FAN_CLASS_CONTENT|FAN_REPORT_FID"
    )
    assert init_flag_names(1 << 30) == f"FAN_CLASS_NOTIF|{1 << 30:#x}"


def test_timer():
    t = Timer()
    fd = t.fileno()
    assert repr(t) == f"<Timer fd={fd} CLOCK_MONOTONIC disarmed>"
    t.after(100).every(0.5).update()
    m = re.fullmatch(rf"<Timer fd={fd} CLOCK_MONOTONIC next=([0-9.e+-]+) interval=0.5>", repr(t))
    assert m and 99 < float(m.group(1)) <= 100
    t.after(100).every(0).update()
    assert re.fullmatch(rf"<Timer fd={fd} CLOCK_MONOTONIC next=[0-9.e+-]+>", repr(t))
    t.disable()
    assert repr(t) == f"<Timer fd={fd} CLOCK_MONOTONIC disarmed>"
    check_closed(t, "Timer")
    for clock, name in ((CLOCK_REALTIME, "CLOCK_REALTIME"), (CLOCK_BOOTTIME, "CLOCK_BOOTTIME")):
        t = Timer(clock)
        assert repr(t) == f"<Timer fd={t.fileno()} {name} disarmed>"
        check_closed(t, "Timer")


def test_eventfd():
    e = Eventfd()
    assert repr(e) == f"<Eventfd fd={e.fileno()}>"
    check_closed(e, "Eventfd")
    e = Eventfd(flags=EFD_SEMAPHORE | EFD_NONBLOCK)
    assert repr(e) == f"<Eventfd fd={e.fileno()} EFD_SEMAPHORE>"
    check_closed(e, "Eventfd")


def test_memfd():
    m = Memfd("cache")
    assert repr(m) == f"<Memfd fd={m.fileno()} name='cache'>"
    check_closed(m, "Memfd")
    m = Memfd(b"\xff")  # not UTF-8: shown as os.fsdecode gives it
    assert repr(m) == f"<Memfd fd={m.fileno()} name='\\udcff'>"
    check_closed(m, "Memfd")


def test_pidfd():
    pid = os.fork()
    if pid == 0:
        os._exit(3)
    p = PidFd(pid)
    assert repr(p) == f"<PidFd fd={p.fileno()} pid={pid}>"
    assert p.wait(10) is not None
    assert repr(p) == f"<PidFd fd={p.fileno()} pid={pid} exited code={CLD_EXITED} status=3>"
    check_closed(p, "PidFd")


def test_aio_context():
    c = Context(16)
    assert repr(c) == f"<Context fd={c.fileno()} maxevents=16 pending=0>"
    check_closed(c, "Context")


def test_signalfd():
    def child() -> list[str]:
        s = Signalfd([signal.SIGUSR1, signal.SIGTERM], block=True)
        out = [repr(s)]
        s.close()
        out.append(repr(s))
        return out

    fd_line, closed = in_child(child)
    assert re.fullmatch(r"<Signalfd fd=\d+ signals=\{SIGUSR1, SIGTERM\}>", fd_line)
    assert closed == "<Signalfd closed>"


def test_half_built_objects_repr_fine():
    """What __del__'s ResourceWarning may see: no attribute set yet."""
    for cls in (I.Inotify, I.InotifyTree, Timer, Eventfd, Memfd, PidFd, Context, Signalfd):
        obj = cls.__new__(cls)
        assert repr(obj) == f"<{cls.__name__} closed>"
        obj._fd = 1_000_000  # an fd, but nothing else
        try:
            r = repr(obj)
        finally:
            obj._fd = -1  # never close anything
        assert r.startswith(f"<{cls.__name__} fd=1000000")


# -- the asyncio queues ---------------------------------------------------------------
def test_async_queues_show_the_source(tmp_path):
    from butter.asyncio.aio import Context_async
    from butter.asyncio.eventfd import Eventfd_async
    from butter.asyncio.inotify import Inotify_async, InotifyTree_async
    from butter.asyncio.timerfd import Timerfd_async

    async def main() -> None:
        cases = [
            (Inotify_async(maxsize=5), "watches=0 qsize=0 maxsize=5"),
            (InotifyTree_async(tmp_path), f"roots=[{str(tmp_path)!r}] dirs=1 qsize=0 maxsize=0"),
            (Timerfd_async(), "CLOCK_MONOTONIC disarmed qsize=0 maxsize=0"),
            (Eventfd_async(), "qsize=0 maxsize=0"),
            (Context_async(8), "maxevents=8 pending=0 qsize=0 maxsize=0"),
        ]
        for q, info in cases:
            name = type(q).__name__
            assert repr(q) == f"<{name} fd={q.fileno()} {info}>"
            q.close()
            assert repr(q) == f"<{name} closed>"

    asyncio.run(main())


def test_async_queue_counts_items():
    from butter.asyncio.eventfd import Eventfd_async

    async def main() -> tuple[str, str]:
        async with Eventfd_async(maxsize=3) as q:
            q.source.increment(2)
            await asyncio.sleep(0.05)  # the reader fills the queue
            return repr(q), f"<Eventfd_async fd={q.fileno()} qsize=1 maxsize=3>"

    got, want = asyncio.run(main())
    assert got == want


def test_pidfd_and_signalfd_async():
    def child() -> list[str]:
        from butter.asyncio.pidfd import PidFd_async
        from butter.asyncio.signalfd import Signalfd_async

        async def main() -> list[str]:
            out = []
            s = Signalfd_async([signal.SIGUSR2], block=True)
            out.append(repr(s))
            s.close()
            p = PidFd_async(os.getpid())
            out.append(repr(p).replace(str(os.getpid()), "PID"))
            p.close()
            out.append(repr(p))
            return out

        return asyncio.run(main())

    sig, pid, closed = in_child(child)
    assert re.fullmatch(r"<Signalfd_async fd=\d+ signals=\{SIGUSR2\} qsize=0 maxsize=0>", sig)
    assert re.fullmatch(r"<PidFd_async fd=\d+ pid=PID qsize=0 maxsize=0>", pid)
    assert closed == "<PidFd_async closed>"


@needs_fanotify
def test_fanotify_async():
    from butter.asyncio.fanotify import Fanotify_async

    async def main() -> None:
        q = Fanotify_async()
        assert (
            repr(q) == f"<Fanotify_async fd={q.fileno()} flags=FAN_CLASS_NOTIF qsize=0 maxsize=0>"
        )
        q.close()
        assert repr(q) == "<Fanotify_async closed>"

    asyncio.run(main())


def test_seccomp_notify_fd():
    S = pytest.importorskip("butter.seccomp")
    r, w = os.pipe()
    try:
        n = S.NotifyFd(r)  # owns a duplicate; any fd shows the shape
        assert repr(n) == f"<NotifyFd fd={n.fileno()}>"
        check_closed(n, "NotifyFd")
    finally:
        os.close(r)
        os.close(w)


# -- Signal: a short repr, every field still there -------------------------------------
def _sig(**fields: int) -> Signal:
    values = dict.fromkeys(Signal._fields, 0)
    values.update(fields)
    return Signal(**values)


def test_signal_repr():
    kill = _sig(signal=signal.SIGUSR1, code=SI_USER, pid=12, uid=1000, utime=5)
    assert repr(kill) == "<Signal SIGUSR1 code=SI_USER pid=12 uid=1000>"
    assert kill.utime == 5 and kill[13] == 5 and len(kill) == 20  # fields kept
    queued = _sig(signal=40, code=SI_QUEUE, pid=3, uid=0, int=77)
    assert repr(queued) == "<Signal 40 code=SI_QUEUE pid=3 uid=0 int=77>"
    exited = _sig(signal=signal.SIGCHLD, code=CLD_EXITED, pid=9, uid=0, status=3)
    assert repr(exited) == "<Signal SIGCHLD code=CLD_EXITED pid=9 uid=0 status=3>"
    killed = _sig(signal=signal.SIGCHLD, code=CLD_KILLED, pid=9, uid=0, status=9)
    assert repr(killed) == "<Signal SIGCHLD code=CLD_KILLED pid=9 uid=0 status=SIGKILL>"
    fault = _sig(signal=signal.SIGSEGV, code=1, addr=0x10)
    assert repr(fault) == "<Signal SIGSEGV code=1>"
    odd = _sig(signal=999, code=-99, errno=5)
    assert repr(odd) == "<Signal 999 code=-99 errno=5>"


def test_signal_repr_from_the_kernel():
    def child() -> str:
        with Signalfd([signal.SIGUSR1], block=True) as s:
            os.kill(os.getpid(), signal.SIGUSR1)
            ev = s.wait(5)
            assert ev is not None
            return repr(ev).replace(f"pid={os.getpid()} ", "pid=PID ")

    assert in_child(child) == f"<Signal SIGUSR1 code=SI_USER pid=PID uid={os.getuid()}>"


# -- mask names --------------------------------------------------------------------------
_INOTIFYTOOLS = ctypes.util.find_library("inotifytools")
# Bits of inotify_add_watch's mask only (inotify-tools names event bits).
WATCH_FLAGS = {"IN_ONLYDIR", "IN_DONT_FOLLOW", "IN_EXCL_UNLINK", "IN_MASK_CREATE", "IN_MASK_ADD"}


@pytest.mark.skipif(_INOTIFYTOOLS is None, reason="libinotifytools not installed")
def test_inotify_mask_names_match_inotifytools():
    """Bit for bit, the names inotifywait prints (``inotifytools_event_to_str``)."""
    lib = ctypes.CDLL(_INOTIFYTOOLS)
    lib.inotifytools_event_to_str.restype = ctypes.c_char_p
    lib.inotifytools_event_to_str.argtypes = [ctypes.c_int]
    to_str = lib.inotifytools_event_to_str
    for bit in range(32):
        mask = 1 << bit
        theirs = to_str(mask - (1 << 32) if bit == 31 else mask).decode()  # a C int
        names = {n for n in theirs.split(",") if n} - {"CLOSE"}  # the union, added
        ours = I.mask_names(mask)
        if theirs.startswith("0x"):  # unnamed there: unknown here, or a watch flag
            assert int(theirs, 16) == mask
            assert ours == [hex(mask)] or ours[0] in WATCH_FLAGS, (bit, ours)
            continue
        assert {n[3:] for n in ours} == names, (bit, theirs)
    # Event masks as they come: inotifywait adds CLOSE for either close.
    for mask in (I.IN_CLOSE_WRITE, I.IN_MOVED_TO | I.IN_ISDIR, I.IN_CREATE | I.IN_ISDIR):
        theirs = set(lib.inotifytools_event_to_str(mask).decode().split(",")) - {"CLOSE"}
        assert {n[3:] for n in I.mask_names(mask)} == theirs


def test_inotify_mask_names():
    assert I.mask_names(0) == []
    assert I.mask_names(I.IN_CLOSE) == ["IN_CLOSE_WRITE", "IN_CLOSE_NOWRITE"]
    assert I.mask_names(I.IN_MOVED_TO | I.IN_ISDIR) == ["IN_MOVED_TO", "IN_ISDIR"]
    assert I.mask_names(I.IN_CREATE | 1 << 12) == ["IN_CREATE", "0x1000"]  # unknown bit
    assert len(I.mask_names(I.IN_ALL_EVENTS)) == 12
    assert "mask_names" in I.__all__
    with pytest.raises(TypeError):
        I.mask_names("IN_CREATE")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        I.mask_names(True)
    with pytest.raises(ValueError):
        I.mask_names(-1)


def test_inotify_mask_names_of_real_events():
    with tempfile.TemporaryDirectory() as d, I.Inotify() as i:
        i.watch(d)
        os.mkdir(os.path.join(d, "sub"))
        ev = i.wait(5)
        assert ev is not None and I.mask_names(ev.mask) == ["IN_CREATE", "IN_ISDIR"]
        assert type(ev.mask) is int  # events keep plain ints


def test_fanotify_mask_names():
    assert fan_mask_names(FAN_CLOSE_WRITE | FAN_ONDIR) == ["FAN_CLOSE_WRITE", "FAN_ONDIR"]
    assert fan_mask_names(0) == []


def test_inotify_event_reprs_name_the_mask():
    ns = {n: getattr(I, n) for n in I.__all__}
    for ev in (
        I.InotifyEvent(1, I.IN_CREATE | I.IN_ISDIR, 0, "x"),
        I.InotifyEvent(-1, I.IN_Q_OVERFLOW, 0, ""),
        I.InotifyEvent(2, I.IN_MODIFY | 1 << 12, 7, "f"),  # an unknown bit
        I.InotifyEvent(3, 0, 0, ""),
        I.PathEvent("/a", I.IN_MOVED_FROM | I.IN_MOVED_TO, "/b"),
        I.PathEvent("/a", I.IN_DELETE, None),
    ):
        assert eval(repr(ev), ns) == ev  # evaluates back, mask included
    assert repr(I.InotifyEvent(1, I.IN_CREATE | I.IN_ISDIR, 0, "x")) == (
        "InotifyEvent(wd=1, mask=IN_CREATE|IN_ISDIR, cookie=0, filename='x')"
    )
    assert repr(I.PathEvent("/a", I.IN_MOVED_FROM | I.IN_MOVED_TO, "/b")) == (
        "PathEvent(path='/a', mask=IN_MOVED_FROM|IN_MOVED_TO, src_path='/b')"
    )
    assert "mask='odd'" in repr(I.InotifyEvent(1, "odd", 0, ""))  # type: ignore[arg-type]


def test_seccomp_filter_names_its_default_action():
    S = pytest.importorskip("butter.seccomp")
    for action, name in (
        (S.ALLOW, "ALLOW"),
        (S.KILL, "KILL"),
        (S.KILL_PROCESS, "KILL_PROCESS"),
        (S.TRAP, "TRAP"),
        (S.LOG, "LOG"),
        (S.NOTIFY, "NOTIFY"),
        (S.ERRNO(13), "ERRNO(13)"),
        (S.TRACE(7), "TRACE(7)"),
    ):
        assert repr(S.SyscallFilter(action)) == f"<SyscallFilter defaction={name}>"
    f = S.SyscallFilter(S.ALLOW)
    f.reset(S.ERRNO(1))
    assert repr(f) == "<SyscallFilter defaction=ERRNO(1)>"
