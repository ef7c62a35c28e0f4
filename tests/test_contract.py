"""Every fd-owning class behaves the same (SPEC: "Rules that hold everywhere").

fileno/close/closed/context manager/ResourceWarning/ValueError after close/
poll-ability/close-on-exec, for each class, sync and asyncio.  Sync families
add a factory to FACTORIES; a factory returns ``(obj, make_ready)`` where
``make_ready()`` makes the fd readable.  Every ``*_async`` class found in
``butter.asyncio.*`` needs a case in ASYNC_CASES (the test fails otherwise)
that names every method the class adds to the queue.
"""

from __future__ import annotations

import asyncio
import fcntl
import gc
import os
import select
import selectors
import signal
import sys
import tempfile
import time
import warnings

import pytest
from conftest import in_child, open_fds


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


def _io_uring_ring():
    from butter.io_uring import Ring

    ring = Ring(8)

    def ready():
        ring.nop()
        ring.submit()  # fileno() signals submitted requests' completions

    return ring, ready


_seccomp_filter = None


def _seccomp_notify_filter():
    """A NOTIFY filter on getppid, loaded once in this (forked) process."""
    global _seccomp_filter
    try:
        import butter.seccomp as S
    except ImportError as exc:  # libseccomp.so.2 not installed
        pytest.skip(str(exc))
    if _seccomp_filter is None:
        _seccomp_filter = S.SyscallFilter(S.ALLOW)
        _seccomp_filter.add_rule(S.NOTIFY, "getppid")
        _seccomp_filter.load()
    return _seccomp_filter


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


def _private_tmpfs(d):
    """A fresh tmpfs on *d*, in a new private mount namespace (the contract
    runs in a forked child): FanotifyTree's filesystem mark then covers it
    alone, never the host's filesystem.  Returns why not ("" if done)."""
    from butter import clone, system

    if os.geteuid() != 0:
        return "needs root (a mount namespace, and CAP_SYS_ADMIN for the mark)"
    try:
        clone.unshare(clone.CLONE_NEWNS)
        system.mount(None, "/", None, system.MS_REC | system.MS_PRIVATE)
        system.mount("tmpfs", d, "tmpfs", 0, "mode=0755")
    except OSError as exc:
        return f"cannot mount a private tmpfs: {exc}"
    return ""


def _fanotify_tree():
    import tempfile

    from butter.fanotify import FanotifyTree

    d = tempfile.mkdtemp()
    why = _private_tmpfs(d)
    if why:
        pytest.skip(why)
    t = FanotifyTree(d)
    return t, lambda: os.mkdir(os.path.join(d, "x"))


FACTORIES = {
    "Inotify": _inotify,
    "InotifyTree": _inotify_tree,
    "FanotifyTree": _fanotify_tree,
    "Context": _aio_context,
    "Ring": _io_uring_ring,
    "Eventfd": _eventfd,
    "Timer": _timer,
    "Signalfd": _signalfd,
    "PidFd": _pidfd,
    "Fanotify": _fanotify,
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


def _check_close_wakes_readers(factory_name):
    """Threads blocked in read_event(), read_events() and wait() of a
    blocking object with nothing to read: close() from another thread wakes
    each (ValueError), whatever the family (none sleeps in read(2))."""
    import threading

    for method in ("read_event", "read_events", "wait"):
        obj, _make_ready = FACTORIES[factory_name]()
        outcome = []

        def reader(obj=obj, method=method, outcome=outcome):
            try:
                outcome.append(getattr(obj, method)())
            except ValueError as exc:
                outcome.append(exc)

        thread = threading.Thread(target=reader, daemon=True)
        thread.start()
        time.sleep(0.2)  # let it block
        obj.close()
        thread.join(5)
        assert not thread.is_alive(), f"{method}() stayed blocked after close()"
        assert len(outcome) == 1 and isinstance(outcome[0], ValueError), (method, outcome)
    return "ok"


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_close_wakes_blocked_readers(name):
    assert in_child(_check_close_wakes_readers, name) == "ok"


def _check_memfd():
    """Memfd owns an fd but has no events: the ownership half of the contract."""
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


# -- asyncio: every *_async class -----------------------------------------------
#
# A case builds objects of one class, makes their fd ready, checks the event
# that arrives, and gives arguments for each method the class adds to the
# queue (the configuration it forwards to its sync object).  A whole case
# runs in one forked child (in_child): signal masks, seccomp filters and
# child processes stay there.


def _async_classes():
    """``({name: class}, {module: ImportError})``: every class named
    ``*_async`` in the ``butter.asyncio.*`` modules, once (aliases such as
    ``Timer_async`` or ``Notification_async`` are the same class), under its
    own ``__name__``; and the modules that cannot be imported here."""
    import importlib
    import pkgutil

    import butter.asyncio

    found, unimportable = {}, {}
    for info in pkgutil.iter_modules(butter.asyncio.__path__):
        if info.name.startswith("_"):
            continue
        module_name = f"butter.asyncio.{info.name}"
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:  # libseccomp.so.2 not installed
            unimportable[module_name] = exc
            continue
        for attr, obj in vars(module).items():
            if attr.endswith("_async") and isinstance(obj, type):
                found[obj.__name__] = obj
    return found, unimportable


def _own_methods(cls):
    """The public methods *cls* adds to the queue (not those of
    AsyncEventQueue and its alias bases)."""
    import inspect

    from butter.asyncio._queue import GetEventAliases, WaitAliases

    inherited = set(dir(GetEventAliases)) | set(dir(WaitAliases))
    return {
        name
        for name in dir(cls)
        if not name.startswith("_")
        and name not in inherited
        and inspect.isfunction(inspect.getattr_static(cls, name))
    }


class _AsyncCase:
    """One ``*_async`` class.  ``fds`` and ``pids`` are the case's own (pipe
    ends, files, child processes), released by :meth:`cleanup`; fd counts
    leave ``fds`` out."""

    module = cls_name = ""
    #: Closed-object methods say "closed <cls_name>" (not the sync class).
    names_itself = True

    def __init__(self):
        self.fds = set()
        self.pids = []
        self.dir = tempfile.mkdtemp()
        self.count = 0

    @property
    def cls(self):
        import importlib

        return getattr(importlib.import_module(self.module), self.cls_name)

    def unavailable(self):
        """Why this case cannot run here ("" if it can)."""
        return ""

    def make(self, maxsize=0):
        raise NotImplementedError

    def make_ready(self, obj):
        """Make *obj*'s fd readable: one event."""
        raise NotImplementedError

    def check_event(self, obj, event):
        """Check the event *make_ready* caused; release what it holds."""

    def closed_calls(self):
        """``{method: args}`` for every method in ``_own_methods(cls)``."""
        return {}

    def new_name(self):
        self.count += 1
        return f"x{self.count}"

    def cleanup(self):
        for fd in self.fds:
            os.close(fd)
        for pid in self.pids:
            try:
                if os.waitpid(pid, os.WNOHANG) != (0, 0):
                    continue  # reaped now
            except ChildProcessError:
                continue  # reaped already (by PidFd(reap=True) or a waitpid)
            os.kill(pid, signal.SIGKILL)  # still ours: no recycled pid
            os.waitpid(pid, 0)


class _InotifyCase(_AsyncCase):
    module, cls_name = "butter.asyncio.inotify", "Inotify_async"

    def make(self, maxsize=0):
        from butter.inotify import IN_CREATE

        obj = self.cls(maxsize=maxsize)
        obj.watch(self.dir, IN_CREATE)
        return obj

    def make_ready(self, obj):
        os.mkdir(os.path.join(self.dir, self.new_name()))

    def check_event(self, obj, event):
        assert event.create_event and event.filename == f"x{self.count}", event
        assert obj.event_path(event) == os.path.join(self.dir, event.filename)

    def closed_calls(self):
        from butter.inotify import IN_CREATE, InotifyEvent

        return {
            "watch": (self.dir, IN_CREATE),
            "ignore": (1,),
            "del_watch": (1,),
            "event_path": (InotifyEvent(1, IN_CREATE, 0, "x"),),
        }


class _InotifyTreeCase(_AsyncCase):
    module, cls_name = "butter.asyncio.inotify", "InotifyTree_async"

    def make(self, maxsize=0):
        return self.cls(self.dir, maxsize=maxsize)

    def make_ready(self, obj):
        os.mkdir(os.path.join(self.dir, self.new_name()))

    def check_event(self, obj, event):
        path = os.path.join(self.dir, f"x{self.count}")
        assert event.create_event and event.path == path, event
        assert path in obj.paths()

    def closed_calls(self):
        return {"watch": (self.dir,), "paths": ()}


class _FanotifyTreeCase(_InotifyTreeCase):
    module, cls_name = "butter.asyncio.fanotify", "FanotifyTree_async"

    def unavailable(self):
        from butter.watch import fanotify_usable

        if not fanotify_usable():
            return "FanotifyTree unavailable (CAP_SYS_ADMIN, Linux 5.17)"
        return _private_tmpfs(self.dir)


class _EventfdCase(_AsyncCase):
    module, cls_name = "butter.asyncio.eventfd", "Eventfd_async"

    def make(self, maxsize=0):
        return self.cls(maxsize=maxsize)

    def make_ready(self, obj):
        os.write(obj.fileno(), (3).to_bytes(8, sys.byteorder))

    def check_event(self, obj, event):
        assert event == 3

    def closed_calls(self):
        return {"increment": (1,), "get_last": ()}  # get_last: compat (issue 10)


class _TimerfdCase(_AsyncCase):
    module, cls_name = "butter.asyncio.timerfd", "Timerfd_async"

    def make(self, maxsize=0):
        return self.cls(maxsize=maxsize)

    def make_ready(self, obj):
        obj.after(nano_seconds=1).update()

    def check_event(self, obj, event):
        assert event == 1

    def closed_calls(self):
        return {
            "every": (1,),
            "after": (1,),
            "update": (),
            "disable": (),
            "get_current": (),
            # the original's spellings (issue 10), deprecated
            "set_reoccuring": (1,),
            "set_one_off": (1,),
        }


class _SignalfdCase(_AsyncCase):
    module, cls_name = "butter.asyncio.signalfd", "Signalfd_async"

    def make(self, maxsize=0):
        return self.cls([signal.SIGUSR2], maxsize=maxsize, block=True)

    def make_ready(self, obj):
        os.kill(os.getpid(), signal.SIGUSR2)

    def check_event(self, obj, event):
        assert event.signal == signal.SIGUSR2 and event.pid == os.getpid()

    def closed_calls(self):
        sigs = [signal.SIGUSR2]
        return {
            "enable": (sigs,),
            "disable": (sigs,),
            "enable_all": (),
            "disable_all": (),
            "block": (),
            "unblock": (),
        }


class _PidFdCase(_AsyncCase):
    module, cls_name = "butter.asyncio.pidfd", "PidFd_async"

    def __init__(self):
        super().__init__()
        self.pipes = {}  # pid -> the pipe end whose closing ends the child

    def make(self, maxsize=0):
        pid, w = _child_until_closed()
        self.pids.append(pid)
        self.fds.add(w)
        self.pipes[pid] = w
        return self.cls(pid, maxsize=maxsize)

    def make_ready(self, obj):
        w = self.pipes.pop(obj.pid)
        self.fds.remove(w)
        os.close(w)

    def check_event(self, obj, event):
        assert event.pid == obj.pid and event.returncode == 0, event
        assert obj.exit == event

    def closed_calls(self):
        return {"send_signal": (0,), "getfd": (0,)}


class _FanotifyCase(_AsyncCase):
    module, cls_name = "butter.asyncio.fanotify", "Fanotify_async"

    def unavailable(self):
        from butter.fanotify import fanotify_init

        try:
            os.close(fanotify_init())
        except OSError as exc:
            return f"fanotify unavailable: {exc}"
        return ""

    def make(self, maxsize=0):
        from butter.fanotify import FAN_CLOSE_WRITE, FAN_EVENT_ON_CHILD

        obj = self.cls(maxsize=maxsize)
        obj.watch(self.dir, FAN_CLOSE_WRITE | FAN_EVENT_ON_CHILD)
        return obj

    def make_ready(self, obj):
        with open(os.path.join(self.dir, self.new_name()), "w"):
            pass

    def check_event(self, obj, event):
        with event:  # the event owns an fd
            assert event.close_write_event
            assert event.filename == os.path.join(self.dir, f"x{self.count}")

    def closed_calls(self):
        from butter.fanotify import FAN_ALLOW, FAN_CLOSE_WRITE

        return {
            "watch": (self.dir, FAN_CLOSE_WRITE),
            "ignore": (self.dir, FAN_CLOSE_WRITE),
            "del_watch": (self.dir, FAN_CLOSE_WRITE),
            "flush": (),
            "respond": (0, FAN_ALLOW),
            "allow": (0,),
            "deny": (0,),
        }


class _NotifyFdCase(_AsyncCase):
    """A NOTIFY filter on getppid is loaded in the case's (forked) process;
    each event is a grandchild calling getppid.  A grandchild left waiting
    (the object closed unread) holds a copy of the notify fd itself, so the
    call never fails on its own: cleanup kills it."""

    module, cls_name = "butter.asyncio.seccomp", "NotifyFd_async"

    def unavailable(self):
        try:
            import butter.seccomp  # noqa: F401
        except ImportError as exc:  # libseccomp.so.2 not installed
            return str(exc)
        return ""

    def make(self, maxsize=0):
        return self.cls(_seccomp_notify_filter(), maxsize=maxsize)

    def make_ready(self, obj):
        pid = os.fork()
        if pid == 0:
            os._exit(0 if os.getppid() == 7 else 1)
        self.pids.append(pid)

    def check_event(self, obj, event):
        import butter.seccomp as S

        assert event.pid == self.pids[-1] and event.syscall_name == "getppid", event
        assert obj.id_valid(event.id)
        obj.respond(S.NotificationResponse(event, val=7))
        assert os.waitstatus_to_exitcode(os.waitpid(self.pids.pop(), 0)[1]) == 0

    def closed_calls(self):
        import butter.seccomp as S

        return {"respond": (S.NotificationResponse(1),), "id_valid": (1,)}


class _ContextCase(_AsyncCase):
    """Events are the requests made through the sync Context (``source``).

    butter/asyncio/aio.py is being reworked elsewhere; this case holds it to
    what it does today: its request coroutines check the sync Context first,
    so a closed Context_async says "closed Context" (names_itself False)."""

    module, cls_name = "butter.asyncio.aio", "Context_async"
    names_itself = False

    def __init__(self):
        super().__init__()
        fd, path = tempfile.mkstemp()
        os.unlink(path)
        self.fds.add(fd)
        self.file = fd

    def make(self, maxsize=0):
        return self.cls(maxsize=maxsize)

    def make_ready(self, obj):
        self.request = obj.source.fsync(self.file)

    def check_event(self, obj, event):
        assert event is self.request and event.done() and event.result == 0

    def closed_calls(self):
        fd = self.file
        return {
            "pread": (fd, 1, 0),
            "pwrite": (fd, b"x", 0),
            "preadv": (fd, [bytearray(1)], 0),
            "pwritev": (fd, [b"x"], 0),
            "fsync": (fd,),
            "fdsync": (fd,),
            "poll": (fd, select.POLLIN),
        }


class _RingCase(_AsyncCase):
    """Events are the requests made through the sync Ring (``source``) and
    submitted; like Context_async, a closed Ring_async's request coroutines
    say "closed Ring" (names_itself False)."""

    module, cls_name = "butter.asyncio.io_uring", "Ring_async"
    names_itself = False

    def __init__(self):
        super().__init__()
        fd, path = tempfile.mkstemp()
        os.unlink(path)
        self.fds.add(fd)
        self.file = fd

    def make(self, maxsize=0):
        return self.cls(maxsize=maxsize)

    def make_ready(self, obj):
        self.request = obj.source.fsync(self.file)
        obj.source.submit()

    def check_event(self, obj, event):
        assert event is self.request and event.done() and event.result == 0

    def closed_calls(self):
        fd = self.file
        return {
            "pread": (fd, 1, 0),
            "pwrite": (fd, b"x", 0),
            "preadv": (fd, [bytearray(1)], 0),
            "pwritev": (fd, [b"x"], 0),
            "fsync": (fd,),
            "fdsync": (fd,),
            "openat": (None, "x", os.O_RDONLY),
            "close_fd": (fd,),
            "recv": (fd, 1),
            "send": (fd, b"x"),
            "accept": (fd,),
            "splice": (fd, fd),
            "timeout": (1,),
            "nop": (),
        }


ASYNC_CASES = {
    case.cls_name: case
    for case in (
        _InotifyCase,
        _InotifyTreeCase,
        _FanotifyTreeCase,
        _EventfdCase,
        _TimerfdCase,
        _SignalfdCase,
        _PidFdCase,
        _FanotifyCase,
        _NotifyFdCase,
        _ContextCase,
        _RingCase,
    )
}


async def _until_queued(obj, timeout=10.0):
    """Wait until *obj* has queued an event (``qsize()`` reads the fd)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while obj.qsize() == 0:
        assert loop.time() < deadline, "no event queued in time"
        await asyncio.sleep(0.01)


class _Closed:
    """``with _Closed(cls_name, what):`` the block must raise
    ``ValueError("I/O operation on closed <cls_name>")`` (*what* names the
    call in the failure message)."""

    def __init__(self, cls_name, what):
        self.pattern = f"closed {cls_name}"
        self.what = what

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        assert exc_type is not None, f"{self.what} on a closed object did not raise"
        assert issubclass(exc_type, ValueError), f"{self.what}: {exc_type.__name__}: {exc}"
        assert self.pattern in str(exc), f"{self.what}: {exc!r} does not say {self.pattern!r}"
        return True


async def _async_contract(case):
    cls = case.cls
    name = cls.__name__

    # 1. The fd, and an empty queue.
    obj = case.make()
    assert type(obj) is cls
    fd = obj.fileno()
    assert fcntl.fcntl(fd, fcntl.F_GETFD) & fcntl.FD_CLOEXEC, "not close-on-exec"
    assert not os.get_blocking(fd)
    assert obj.source.fileno() == fd and not obj.source.closed
    assert obj.maxsize == 0 and obj.empty() and obj.qsize() == 0 and not obj.full()
    with pytest.raises(asyncio.QueueEmpty):
        obj.get_nowait()

    # 2. An event reaches a getter that waits for it.
    async with obj as same:
        assert same is obj
        getter = asyncio.ensure_future(obj.get())
        await asyncio.sleep(0)
        assert not getter.done()
        case.make_ready(obj)
        case.check_event(obj, await asyncio.wait_for(getter, 10))

    # 3. Closed: every method says so, naming the class; the fd is gone.
    assert obj.closed and "closed" in repr(obj)
    obj.close()  # idempotent
    assert obj.source.closed
    with _Closed(name, "fileno()"):
        obj.fileno()
    with _Closed(name, "get_nowait()"):
        obj.get_nowait()
    with _Closed(name, "get()"):
        await obj.get()
    for alias in ("get_event", "get_event_nowait", "wait", "wait_nowait"):
        if hasattr(obj, alias):
            with _Closed(name, f"{alias}()"):
                result = getattr(obj, alias)()
                if asyncio.iscoroutine(result):
                    await result
    with _Closed(name, "async with"):
        async with obj:
            pass
    assert [event async for event in obj] == []
    calls = case.closed_calls()
    assert set(calls) == _own_methods(cls), (
        f"{type(case).__name__}.closed_calls() must name exactly the methods "
        f"{name} adds: {sorted(_own_methods(cls))}"
    )
    for method, args in sorted(calls.items()):
        with _Closed(name if case.names_itself else "", f"{method}()"):
            result = getattr(obj, method)(*args)
            if asyncio.iscoroutine(result):
                await result
    with pytest.raises(OSError):
        os.fstat(fd)

    # 4. close() wakes every pending getter (ValueError), even with no event.
    obj = case.make()
    getters = [asyncio.ensure_future(obj.get()) for _ in range(3)]
    await asyncio.sleep(0)
    assert not any(g.done() for g in getters)
    obj.close()
    for g in getters:
        with _Closed(name, "a pending get()"):
            await asyncio.wait_for(g, 10)

    # 5. Events read but not returned die with the object, released by its
    #    source (no fd left behind: fanotify events own one each; and no
    #    ResourceWarning from an event left to the GC), for any maxsize.
    for maxsize in (0, 1):
        before = open_fds()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            obj = case.make(maxsize)
            case.make_ready(obj)
            await _until_queued(obj)
            obj.close()
            del obj
            gc.collect()
            gc.collect()  # PyPy runs finalizers after a collection
        assert not caught, [str(w.message) for w in caught]
        leaked = open_fds() - before - case.fds
        assert not leaked, f"maxsize={maxsize}: fds left open: {sorted(leaked)}"
    return True


def _dropped(case, action, bind):
    """Make an object holding an unread event, maybe bound to a loop (which
    then closes), and drop it: return the warnings caused (unraisable ones
    included, which ``simplefilter("error")`` makes them) and the fds left
    open."""
    before = open_fds()
    if bind:

        async def bound():
            obj = case.make()
            case.make_ready(obj)
            await _until_queued(obj)  # read by the loop's reader, left registered
            return obj

        obj = asyncio.run(bound())  # the loop is closed: nothing holds obj now
    else:
        obj = case.make()
        case.make_ready(obj)
        deadline = time.monotonic() + 10
        while obj.qsize() == 0:  # read without a loop
            assert time.monotonic() < deadline, "no event queued in time"
            time.sleep(0.01)
    unraisable = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter(action)
        hook = sys.unraisablehook
        sys.unraisablehook = unraisable.append
        try:
            del obj
            gc.collect()
            gc.collect()  # PyPy runs finalizers after a collection
        finally:
            sys.unraisablehook = hook
    warned = [w.category for w in caught] + [type(u.exc_value) for u in unraisable]
    return warned, open_fds() - before - case.fds


class _IntLike(int):
    pass


def _check_async_case(name):
    case = ASYNC_CASES[name]()
    why = case.unavailable()
    if why:
        return why
    try:
        assert asyncio.run(_async_contract(case))

        # 6. Garbage collection of an unclosed object holding an unread
        #    event: one ResourceWarning (the queue's; neither its source's
        #    nor the event's), every fd closed; also when the warning is an
        #    error, and when the object was bound to a loop now closed.
        for action, bind in (("always", False), ("error", False), ("always", True)):
            warned, leaked = _dropped(case, action, bind)
            assert warned == [ResourceWarning], (action, bind, warned)
            assert not leaked, (action, bind, sorted(leaked))

        # 7. maxsize: checked once for all, before the object exists.
        for bad in (True, 1.0, "1", None):
            before = open_fds()
            with pytest.raises(TypeError, match="maxsize"):
                case.make(bad)
            assert not open_fds() - before - case.fds, f"maxsize={bad!r} left an fd open"
        for maxsize, full in ((-1, False), (_IntLike(2), False)):
            obj = case.make(maxsize)
            assert obj.maxsize == maxsize and type(obj.maxsize) is int
            assert obj.full() is full
            obj.close()
    finally:
        case.cleanup()
    return "ok"


_ASYNC_FOUND, _ASYNC_UNIMPORTABLE = _async_classes()


@pytest.mark.parametrize("name", sorted(set(_ASYNC_FOUND) | set(ASYNC_CASES)))
def test_async_contract(name):
    """Every ``*_async`` class: an event arrives through get(), close()
    wakes pending getters, a closed object's methods raise ValueError naming
    it, unread events leave no fd behind, GC warns and closes, maxsize is
    checked."""
    assert name in ASYNC_CASES, f"{name} has no case in ASYNC_CASES (tests/test_contract.py)"
    case = ASYNC_CASES[name]
    if name not in _ASYNC_FOUND:
        if case.module in _ASYNC_UNIMPORTABLE:
            pytest.skip(str(_ASYNC_UNIMPORTABLE[case.module]))
        raise AssertionError(f"{case.module} has no class {name} any more")
    result = in_child(_check_async_case, name, timeout=60.0)
    if result != "ok":
        pytest.skip(result)


def test_async_names():
    """``<Class>_async`` after the sync class (SPEC), the contract's other
    names being the same class objects."""
    from butter.asyncio.timerfd import Timer_async, Timerfd_async

    assert Timer_async is Timerfd_async
    if "butter.asyncio.seccomp" not in _ASYNC_UNIMPORTABLE:
        from butter.asyncio.seccomp import Notification_async, NotifyFd_async

        assert Notification_async is NotifyFd_async
    import importlib
    import typing

    for name, cls in _ASYNC_FOUND.items():
        source = typing.get_type_hints(cls).get("source")
        if source is None:  # Context_async: butter/asyncio/aio.py is reworked elsewhere
            continue
        sync_module = importlib.import_module("butter." + cls.__module__.rsplit(".", 1)[1])
        assert getattr(sync_module, name[: -len("_async")], None) is source, (name, source)
