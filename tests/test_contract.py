"""Every fd-owning class behaves the same (SPEC: "Rules that hold everywhere").

fileno/close/closed/context manager/ResourceWarning/ValueError after close/
poll-ability/close-on-exec, for each class, sync and asyncio.  Families add
a factory to FACTORIES; a factory returns ``(obj, make_ready)`` where
``make_ready()`` makes the fd readable.
"""

from __future__ import annotations

import asyncio
import fcntl
import gc
import os
import select
import selectors
import signal

import pytest
from conftest import in_child


def _eventfd():
    from butter.eventfd import Eventfd

    e = Eventfd()
    return e, lambda: e.increment(1)


def _timer():
    from butter.timerfd import Timer

    t = Timer()
    return t, lambda: t.after(nano_seconds=1).update()


def _signalfd():
    from butter.signalfd import Signalfd

    s = Signalfd([signal.SIGUSR2], block=True)
    return s, lambda: os.kill(os.getpid(), signal.SIGUSR2)


def _child_until_closed():
    """A child that exits when the returned fd is closed (or we die)."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(w)
        os.read(r, 1)
        os._exit(0)
    os.close(r)
    return pid, w


def _pidfd():
    from butter.pidfd import PidFd

    pid, w = _child_until_closed()
    p = PidFd(pid)
    return p, lambda: os.close(w)


def _fanotify():
    import tempfile

    from butter.fanotify import FAN_CLOSE_WRITE, FAN_EVENT_ON_CHILD, Fanotify

    d = tempfile.mkdtemp()
    f = Fanotify()
    f.watch(d, FAN_CLOSE_WRITE | FAN_EVENT_ON_CHILD)

    def ready():
        with open(os.path.join(d, "x"), "w"):
            pass

    return f, ready


def _aio_context():
    import tempfile

    from butter.aio import Context

    ctx = Context()
    f = tempfile.TemporaryFile()  # noqa: SIM115 (lives as long as the Context)
    return ctx, lambda: ctx.fsync(f)


_seccomp_filter = None


def _seccomp_notify_filter():
    """A NOTIFY filter on getppid, loaded once in this (forked) process."""
    global _seccomp_filter
    try:
        import butter.seccomp as S
    except ImportError as exc:  # built without libseccomp-dev
        pytest.skip(str(exc))
    if _seccomp_filter is None:
        _seccomp_filter = S.SyscallFilter(S.ALLOW)
        _seccomp_filter.add_rule(S.NOTIFY, "getppid")
        _seccomp_filter.load()
    return _seccomp_filter


def _seccomp_notify():
    from butter.seccomp import NotifyFd

    f = _seccomp_notify_filter()
    r, w = os.pipe()
    if os.fork() == 0:  # calls getppid when told; freed when our listener closes
        os.read(r, 1)
        os.getppid()
        os._exit(0)
    os.close(r)
    return NotifyFd(f), lambda: os.write(w, b"x")


def _inotify():
    import tempfile

    from butter.inotify import IN_CREATE, Inotify

    d = tempfile.mkdtemp()
    i = Inotify()
    i.watch(d, IN_CREATE)
    return i, lambda: os.mkdir(os.path.join(d, "x"))


def _inotify_tree():
    import tempfile

    from butter.inotify import InotifyTree

    d = tempfile.mkdtemp()
    t = InotifyTree(d)
    return t, lambda: os.mkdir(os.path.join(d, "x"))


FACTORIES = {
    "Inotify": _inotify,
    "InotifyTree": _inotify_tree,
    "Context": _aio_context,
    "Eventfd": _eventfd,
    "Timer": _timer,
    "Signalfd": _signalfd,
    "PidFd": _pidfd,
    "Fanotify": _fanotify,
}

ASYNC_CLASSES = {
    "Inotify_async": ("butter.asyncio.inotify", "Inotify_async", ()),
    "Context_async": ("butter.asyncio.aio", "Context_async", ()),
    "Eventfd_async": ("butter.asyncio.eventfd", "Eventfd_async", ()),
    "Timerfd_async": ("butter.asyncio.timerfd", "Timerfd_async", ()),
    "Signalfd_async": ("butter.asyncio.signalfd", "Signalfd_async", ([signal.SIGUSR2],)),
    "PidFd_async": ("butter.asyncio.pidfd", "PidFd_async", "child"),
    "Fanotify_async": ("butter.asyncio.fanotify", "Fanotify_async", ()),
}


def _check_sync(factory_name):
    obj, make_ready = FACTORIES[factory_name]()
    fd = obj.fileno()
    assert isinstance(fd, int) and fd >= 0
    assert fcntl.fcntl(fd, fcntl.F_GETFD) & fcntl.FD_CLOEXEC, "not close-on-exec"
    assert not obj.closed
    assert f"fd={fd}" in repr(obj)
    assert obj.wait(0) is None
    make_ready()
    poller = select.poll()
    poller.register(obj, select.POLLIN)
    assert poller.poll(1000), "not readable after make_ready()"
    with selectors.DefaultSelector() as sel:
        sel.register(obj, selectors.EVENT_READ)
        assert sel.select(1)
    event = obj.wait(1)
    assert event is not None
    if hasattr(event, "close"):  # events that own an fd (fanotify): not left to GC
        event.close()
    with obj as same:
        assert same is obj
    assert obj.closed and "closed" in repr(obj)
    obj.close()  # idempotent
    for method in ("fileno", "read_event", "read_events", "wait"):
        try:
            getattr(obj, method)()
        except ValueError as exc:
            assert "closed" in str(exc)
        else:
            raise AssertionError(f"{method}() after close did not raise")
    try:
        os.fstat(fd)
    except OSError:
        pass
    else:
        raise AssertionError("fd still open after close")
    # GC of an unclosed object: ResourceWarning and the fd is closed.
    import warnings

    obj, make_ready = FACTORIES[factory_name]()
    fd = obj.fileno()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        del obj, make_ready
        gc.collect()
    assert any(issubclass(w.category, ResourceWarning) for w in caught)
    try:
        os.fstat(fd)
    except OSError:
        return "ok"
    raise AssertionError("fd still open after GC")


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_sync_contract(name):
    assert in_child(_check_sync, name) == "ok"


def _check_async(name):
    import importlib

    module, cls_name, args = ASYNC_CLASSES[name]
    cls = getattr(importlib.import_module(module), cls_name)
    if args == "child":
        args = (_child_until_closed()[0],)
    elif callable(args):
        args = (args(),)

    async def main():
        obj = cls(*args)
        fd = obj.fileno()
        assert fcntl.fcntl(fd, fcntl.F_GETFD) & fcntl.FD_CLOEXEC
        assert obj.maxsize == 0 and obj.empty() and obj.qsize() == 0
        with pytest.raises(asyncio.QueueEmpty):
            obj.get_nowait()
        async with obj as same:
            assert same is obj
            getter = asyncio.ensure_future(obj.get())
            await asyncio.sleep(0)
        with pytest.raises(ValueError):
            await getter
        assert obj.closed
        obj.close()
        with pytest.raises(ValueError):
            obj.fileno()
        with pytest.raises(OSError):
            os.fstat(fd)
        return "ok"

    return asyncio.run(main())


@pytest.mark.parametrize("name", sorted(ASYNC_CLASSES))
def test_async_contract(name):
    assert in_child(_check_async, name) == "ok"


def _check_memfd():
    """Memfd owns an fd but has no events: the ownership half of the contract."""
    import warnings

    from butter.memfd import Memfd

    m = Memfd("contract")
    fd = m.fileno()
    assert fcntl.fcntl(fd, fcntl.F_GETFD) & fcntl.FD_CLOEXEC
    with m as same:
        assert same is m
    assert m.closed
    m.close()
    with pytest.raises(ValueError):
        m.fileno()
    m = Memfd("contract")
    fd = m.fileno()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        del m
        gc.collect()
    assert any(issubclass(w.category, ResourceWarning) for w in caught)
    with pytest.raises(OSError):
        os.fstat(fd)
    return "ok"


def test_memfd_ownership_contract():
    assert in_child(_check_memfd) == "ok"
