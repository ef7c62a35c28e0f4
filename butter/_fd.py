"""fd ownership: the base of every event-like object.

What the kernel gives us is a bare integer.  What a Python user expects is a
file object: ``fileno()``, idempotent ``close()``, a ``closed`` property, a
context manager, a ``ResourceWarning`` (and an automatic close) when an
unclosed object is garbage collected, and ``ValueError`` for any use after
close.  :class:`EventLike` gives every butter object exactly that, plus the
event interface from the original Butter: ``read_event()``,
``read_events()``, ``wait(timeout)`` and blocking iteration.

The argument converters (:func:`~butter._args.fileno`,
:func:`~butter._args.check_timeout`, ...) live in :mod:`butter._args`.
"""

from __future__ import annotations

import errno
import os
from _thread import allocate_lock

from ._args import RANGES, check_timeout
from ._errors import retry_or_raise
from ._lowlevel import lib

try:  # the C type itself: importing all of ``collections`` costs ~3 ms
    from _collections import deque  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover - other implementations
    from collections import deque

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ~15 ms

__all__ = ["EventLike", "FdOwner", "ReleasedOnGC", "Resource", "poll_now"]

# ``typing`` costs ~15 ms to import on CPython 3.11; butter keeps it out of
# the import path and gives the type checker the real generics.
if TYPE_CHECKING:
    from types import TracebackType
    from typing import Deque, Generic, Iterator, List, Optional, Tuple, TypeVar

    from typing_extensions import Self

    E = TypeVar("E")

    class _GenericBase(Generic[E]):
        pass

else:
    E = Tuple = None

    class _GenericBase:
        __slots__ = ()

        def __class_getitem__(cls, item):
            return cls


class ReleasedOnGC:
    """What every object owning kernel resources shares: a ``__del__`` that
    releases what is still owned, with a ``ResourceWarning``, as files do.

    Subclasses define ``close()`` and ``_owns()`` (does it still hold
    something?).  The release runs even when the warning is raised as an
    error (``-W error``), so a forgotten object never leaks its fds.  Used
    by :class:`Resource` and by the asyncio queue (whose ``async with`` is
    its own).
    """

    __slots__ = ()

    def _owns(self) -> bool:  # pragma: no cover - every subclass defines it
        raise NotImplementedError

    def close(self) -> None:  # pragma: no cover - every subclass defines it
        raise NotImplementedError

    def _release_on_gc(self) -> None:
        """What ``__del__`` releases (``close()`` unless a subclass must not
        touch anything but its fds then)."""
        self.close()

    def __del__(self) -> None:
        try:
            owns = self._owns()
        except AttributeError:  # __init__ did not get far enough
            return
        if not owns:
            return
        try:
            import warnings  # lazily: not on the import path

            warnings.warn(f"unclosed {self!r}", ResourceWarning, stacklevel=2, source=self)
        except ImportError:  # the interpreter is shutting down
            pass
        finally:  # even when the warning is an error
            self._release_on_gc()


class Resource(ReleasedOnGC):
    """:class:`ReleasedOnGC` plus the context manager: ``with`` closes it."""

    __slots__ = ()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: Optional[type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        self.close()


class FdOwner(Resource):
    """Ownership of one fd, shared safely by threads.

    ``fileno()``, idempotent ``close()``, ``closed``, ``detach()``, context
    manager, ``ResourceWarning`` plus close on garbage collection, and
    ``ValueError`` for any use after close.

    Threads that sleep on the fd (``poll(2)``) or read it from the slow path
    bracket the call with ``_enter()``/``_leave()``.  Invariants:

    * **(C1) an fd number is never released under a thread that uses it:**
      while ``_busy > 0``, ``close()`` only marks the object closed and wakes
      the sleepers; the last thread to ``_leave()`` closes the fds.  So a
      slow-path call can never land on a recycled fd number.
    * **(C2) close() wakes every sleeper:** sleepers poll the fd *and*
      ``_wake`` (an eventfd made on first need); ``close()`` writes to it
      and it is never reset, so a poll that starts after the close returns
      at once too.  Sleepers then see ``_fd < 0`` and raise ``ValueError``.
    """

    #: -1 once closed; class attributes so ``__del__``/``close`` are safe
    #: even when ``__init__`` failed before the fd existed.
    _fd: int = -1
    _wake: int = -1  # see (C2)
    _busy: int = 0  # threads between _enter() and _leave()
    _orphans: Tuple[int, ...] = ()  # fds close() left to the last _leave()

    def __init__(self, fd: int) -> None:
        self._state = allocate_lock()  # guards _fd/_busy/_wake/_orphans; held briefly
        self._fd = fd

    def _closed_error(self) -> ValueError:
        return ValueError(f"I/O operation on closed {type(self).__name__}")

    def fileno(self) -> int:
        """The underlying fd; ``ValueError`` once closed."""
        fd = self._fd
        if fd < 0:
            raise self._closed_error()
        return fd

    @property
    def closed(self) -> bool:
        """True once :meth:`close` ran (or the object was detached)."""
        return self._fd < 0

    def _forget_fd(self, detach: bool = False) -> int:
        """Mark the object closed and wake sleepers (C2); -1 if it already
        was.  For ``close()``: return the fd to close now, or -1 if a busy
        thread will close it (C1).  For ``detach()``: return the fd, which
        is the caller's from now on (only the wake-up fd is ours to close)."""
        with self._state:
            fd = self._fd
            if fd < 0:
                return -1
            self._fd = -1
            wake = self._wake
            self._wake = -1
            if wake >= 0:
                _wake_up(wake)
            if self._busy:
                self._orphans = (wake,) if detach else (fd, wake)
                return fd if detach else -1
        if wake >= 0:
            os.close(wake)
        return fd

    def close(self) -> None:
        """Close the fd.  Calling it again does nothing.  Threads sleeping
        on the object (``wait()``, blocking reads) wake up and raise
        ``ValueError``; the fd is released once the last of them is out."""
        if self._fd >= 0:
            fd = self._forget_fd()
            if fd >= 0:
                os.close(fd)

    def detach(self) -> int:
        """Give up ownership: return the fd without closing it (threads
        sleeping on the object wake up as for :meth:`close`)."""
        fd = self._forget_fd(detach=True)
        if fd < 0:
            raise self._closed_error()
        return fd

    # -- (C1): bracketing the slow path --------------------------------------
    def _enter(self) -> int:
        """Register a thread about to use the fd; return it (``ValueError``
        if closed).  Pair with ``_leave()``."""
        with self._state:
            fd = self._fd
            if fd < 0:
                raise self._closed_error()
            self._busy += 1
        return fd

    def _leave(self) -> None:
        with self._state:
            self._busy -= 1
        self._leave_check()

    def _leave_check(self) -> None:
        if self._orphans:
            with self._state:
                if self._busy:
                    return
                orphans = self._orphans
                self._orphans = ()
            for fd in orphans:
                if fd >= 0:
                    os.close(fd)

    def _wake_fd(self) -> int:
        """The close() wake-up eventfd (made on first need); -1 if closed."""
        wake = self._wake
        if wake < 0:
            with self._state:
                wake = self._wake
                if wake < 0 and self._fd >= 0:
                    wake = self._wake = _new_wake_fd()
        return wake

    def _owns(self) -> bool:
        return self._fd >= 0

    def __enter__(self) -> Self:
        self.fileno()  # ValueError if closed, as for files
        return self

    def _repr_info(self) -> str:
        """What ``repr()`` shows after ``fd=N`` (``""``: nothing).  Families
        extend it with what matters about the object, from its own state
        only: no syscall, nothing that can fail or block."""
        return ""

    def __repr__(self) -> str:
        """``<Name fd=N info>`` while open, ``<Name closed>`` after; never
        raises (a half-built object, as ``__del__`` may see, shows no info)."""
        name = type(self).__name__
        fd = self._fd
        if fd < 0:
            return f"<{name} closed>"
        try:
            info = self._repr_info()
        except Exception:  # e.g. an attribute __init__ did not set yet
            info = ""
        return f"<{name} fd={fd} {info}>" if info else f"<{name} fd={fd}>"


class EventLike(FdOwner, _GenericBase[E]):
    """An fd owned by Python that produces events.

    Subclasses implement ``_read_from_kernel()``.  Everything else lives
    here, once, and is safe to share between threads:

    * **(R1) one kernel read at a time:** every ``_read_from_kernel()`` call
      (and so every use of a family's read buffer and of the bookkeeping
      the events feed) runs with ``_lock`` held.  A kernel event is thus
      parsed once, into one batch.
    * **(R2) each batch is handed out once:** the batch goes to the caller,
      its remainder to ``_cache``; cached events are only taken with
      ``deque.popleft`` (atomic), so each reaches exactly one caller.
    * **(W1) waiting never blocks in read(2):** a waiter sleeps in
      ``poll(2)`` without ``_lock``, then reads with ``_lock`` held only
      after ``poll(fd, 0)`` *under the lock* said the fd is ready; since
      every reader of the object holds the lock (R1), nobody can take the
      event in between.  So ``wait(timeout)`` returns in time even when
      another thread wins the race, whatever the fd's ``O_NONBLOCK`` flag.
    """

    #: Cached events a family will skip rather than return (``butter.aio``:
    #: requests whose result was already taken); :meth:`buffered` leaves
    #: them out.
    _stale: int = 0

    def __init__(self, fd: int) -> None:
        super().__init__(fd)
        self._cache: Deque[E] = deque()
        self._lock = allocate_lock()  # (R1)

    def close(self) -> None:
        """Close the fd.  Calling it again does nothing.  Threads sleeping
        in ``wait()``/``read_event()``/iteration wake up: ``wait()`` and the
        reads raise ``ValueError``, iteration stops."""
        if self._fd >= 0:
            fd = self._forget_fd()
            self._cache.clear()
            if fd >= 0:
                os.close(fd)

    # -- the part a family provides -------------------------------------
    def _read_from_kernel(self) -> List[E]:  # pragma: no cover - abstract
        """One batch from the kernel.  Called with ``_lock`` held, after
        ``poll`` said the fd is ready.  May return ``[]`` or raise
        ``BlockingIOError`` (nothing after all); must not sleep if it can
        help it."""
        raise NotImplementedError

    def _read_nonblocking(self) -> List[E]:
        """One batch from an fd known to be ``O_NONBLOCK`` (the asyncio
        queue's read): ``BlockingIOError`` or ``[]`` when nothing is ready.
        The same as ``_read_from_kernel()`` unless a family has a faster
        way when it need not guard against sleeping."""
        return self._read_from_kernel()

    # -- the one waiting loop ------------------------------------------------
    def _fetch(self, timeout: object) -> Optional[List[E]]:
        """The next batch of events (never empty), or ``None`` when
        *timeout* ran out.  *timeout*: ``None`` (no limit), seconds, or
        ``_AS_FD`` (block or not as the fd's ``O_NONBLOCK`` says).  If other
        threads filled the cache meanwhile, that is the batch."""
        import select  # lazily: keeps ``import butter.<family>`` fast

        if timeout is _AS_FD:
            ms = _AS_FD_MS
            deadline = 0.0
        else:
            ms, deadline = _timeout_ms(timeout)
        fd = self._enter()
        try:
            lock = self._lock
            cache = self._cache
            poller = None
            while True:
                # 1. With the read lock (waiting for it within the time left).
                if ms == 0 or ms == _AS_FD_MS:
                    got = lock.acquire(False) or (ms != 0 and lock.acquire())
                elif ms < 0:
                    got = lock.acquire()
                else:
                    got = lock.acquire(True, ms / 1000)
                if got:
                    try:
                        if self._fd < 0:
                            raise self._closed_error()
                        if cache:
                            return _drain(cache)
                        ready = poll_now(fd)
                        if ready:
                            try:
                                events = self._read_from_kernel()
                            except BlockingIOError:
                                events = []  # someone outside the object took it
                            if events:
                                return events
                    finally:
                        lock.release()
                    if ready:
                        continue  # read, but nothing to report: look again
                    if ms == _AS_FD_MS:
                        if not os.get_blocking(fd):
                            return None
                        ms = -1
                # 2. Sleep in poll, without the lock; close() wakes us (C2).
                if ms == 0:
                    return None
                if ms > 0:
                    ms = _ms_left(deadline)
                    if ms == 0:
                        return None
                if poller is None:
                    poller = select.poll()
                    poller.register(fd, select.POLLIN)
                    poller.register(self._wake_fd(), select.POLLIN)
                poller.poll(ms)  # [] on timeout; PyPy also on EINTR
                if self._fd < 0:
                    raise self._closed_error()
                if ms > 0:
                    ms = _ms_left(deadline)
                    # a last look under the lock if the time is up
        finally:
            self._leave()

    # -- events ------------------------------------------------------------
    def read_event(self) -> E:
        """Return one event, reading from the kernel only if none is cached.

        Blocks unless the fd is non-blocking, in which case an empty kernel
        queue raises ``BlockingIOError``.
        """
        try:
            return self._cache.popleft()
        except IndexError:
            pass
        events = self._fetch(_AS_FD)
        if events is None:
            raise BlockingIOError(_EAGAIN, os.strerror(_EAGAIN))
        return self._first(events)

    def read_events(self) -> List[E]:
        """Return the cached events, or else everything the kernel has ready.

        When blocking, at least one event is returned.
        """
        cache = self._cache
        if cache:
            cached = _drain(cache)
            if cached:
                return cached
        events = self._fetch(_AS_FD)
        if events is None:
            raise BlockingIOError(_EAGAIN, os.strerror(_EAGAIN))
        return events

    def buffered(self) -> int:
        """The number of events already read from the kernel and kept in
        the object, so that the next ``read_event()`` returns one at once.

        One ``read(2)`` may bring several events; ``read_event()`` returns
        the first and keeps the rest.  Those are no longer in the kernel, so
        the fd does *not* poll readable for them: a loop that only reads
        when ``select``/``epoll``/``trio.lowlevel.wait_readable`` says the
        fd is readable must drain them first (``while obj.buffered():``),
        or read with :meth:`read_events`, which always empties the buffer.
        Never blocks, never reads the kernel; 0 once closed.
        """
        return max(len(self._cache) - self._stale, 0)

    def wait(self, timeout: Optional[float] = None) -> Optional[E]:
        """Block until an event is ready and return it; ``None`` on timeout.

        *timeout* is in seconds: ``None`` or ``math.inf`` wait forever, zero
        or less polls, NaN raises ``ValueError``.  Uses ``poll(2)`` (fds
        above 1023 work) and never blocks in ``read(2)``, so it returns in
        time even when another thread takes the event first.  ``close()``
        from another thread makes it raise ``ValueError``.
        """
        try:
            return self._cache.popleft()
        except IndexError:
            pass
        events = self._fetch(timeout)
        return None if events is None else self._first(events)

    def _first(self, events: List[E]) -> E:
        """The first event of a batch; the rest wait in the cache (R2)."""
        if len(events) > 1:
            self._cache.extend(events[1:])
        return events[0]

    def __iter__(self) -> Iterator[E]:
        return self

    def __next__(self) -> E:
        """The next event, blocking; iteration stops when another thread
        closes the object (``ValueError`` if it was closed before)."""
        self.fileno()
        try:
            event = self.wait()
        except ValueError:
            if self._fd < 0:
                raise StopIteration from None
            raise
        assert event is not None
        return event


#: ``_fetch``'s "block or not as the fd says" (an object, not a number).
_AS_FD = object()
_AS_FD_MS = -2
_EAGAIN = errno.EAGAIN
_INT_MAX = RANGES["int"][1]


def _drain(cache: Deque[E]) -> List[E]:
    """Take everything in *cache*, each item exactly once even while other
    threads ``popleft`` from it (``list(cache); cache.clear()`` could hand
    an item out twice)."""
    out: List[E] = []
    append = out.append
    popleft = cache.popleft
    try:
        while True:
            append(popleft())
    except IndexError:
        return out


def poll_now(fd: int) -> bool:
    """True if *fd* is ready to read now (or in error, or poll was
    interrupted: the read that follows says which)."""
    revents: int = lib.butter_poll_in(fd, 0)
    return revents != 0


def _timeout_ms(timeout: object) -> Tuple[int, float]:
    """(milliseconds for poll: -1 forever, 0 poll, else > 0; deadline)."""
    seconds = check_timeout(timeout)
    if seconds is None:
        return -1, 0.0
    if seconds <= 0:
        return 0, 0.0
    import time

    return _ceil_ms(seconds), time.monotonic() + seconds


def _ms_left(deadline: float) -> int:
    import time

    left = deadline - time.monotonic()
    return _ceil_ms(left) if left > 0 else 0


def _new_wake_fd() -> int:
    while True:
        fd: int = lib.eventfd(0, lib.EFD_CLOEXEC | lib.EFD_NONBLOCK)
        if fd >= 0:
            return fd
        retry_or_raise()


def _wake_up(wake: int) -> None:
    os.write(wake, b"\1\0\0\0\0\0\0\0")


def _ceil_ms(seconds: float) -> int:
    """*seconds* as whole milliseconds, rounded up (poll's unit), at most
    ``INT_MAX`` (about 24 days: a longer wait just polls again)."""
    return min(-int(-seconds * 1000 // 1), _INT_MAX)
