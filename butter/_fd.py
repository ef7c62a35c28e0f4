"""fd ownership: argument conversion and the base of every event-like object.

What the kernel gives us is a bare integer.  What a Python user expects is a
file object: ``fileno()``, idempotent ``close()``, a ``closed`` property, a
context manager, a ``ResourceWarning`` (and an automatic close) when an
unclosed object is garbage collected, and ``ValueError`` for any use after
close.  :class:`EventLike` gives every butter object exactly that, plus the
event interface from the original Butter: ``read_event()``,
``read_events()``, ``wait(timeout)`` and blocking iteration.
"""

from __future__ import annotations

import os

try:  # the C type itself: importing all of ``collections`` costs ~3 ms
    from _collections import deque  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover - other implementations
    from collections import deque

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ~15 ms

__all__ = ["EventLike", "FdArg", "check_int", "check_unsigned", "fileno"]

# ``typing`` costs ~15 ms to import on CPython 3.11; butter keeps it out of
# the import path and gives the type checker the real generics.
if TYPE_CHECKING:
    from types import TracebackType
    from typing import Deque, Generic, Iterator, List, Optional, Protocol, TypeVar, Union

    from typing_extensions import Self

    E = TypeVar("E")

    class _HasFileno(Protocol):
        def fileno(self) -> int: ...

    FdArg = Union[int, _HasFileno]

    class _GenericBase(Generic[E]):
        pass

else:
    E = FdArg = None

    class _GenericBase:
        __slots__ = ()

        def __class_getitem__(cls, item):
            return cls


def fileno(obj: FdArg) -> int:
    """Return the fd for *obj*: an ``int`` or an object with ``fileno()``.

    Mirrors ``selectors``/``os``: wrong types raise ``TypeError``, negative
    fds ``ValueError``; a closed butter object raises ``ValueError`` from its
    own ``fileno()``.  fd 0 is a valid fd.
    """
    if type(obj) is int:
        fd = obj
    elif isinstance(obj, int) and not isinstance(obj, bool):
        fd = int(obj)
    else:
        try:
            method = obj.fileno  # type: ignore[union-attr]  # bool: AttributeError
        except AttributeError:
            raise TypeError(
                f"argument must be an int, or have a fileno() method, not {type(obj).__name__!r}"
            ) from None
        fd = method()
        if type(fd) is not int:
            if isinstance(fd, int) and not isinstance(fd, bool):
                fd = int(fd)
            else:
                raise TypeError(f"fileno() returned a non-integer: {type(fd).__name__!r}")
    if fd < 0:
        raise ValueError(f"file descriptor cannot be a negative integer ({fd})")
    return fd


def check_int(name: str, value: object) -> int:
    """Return *value* as an int or raise ``TypeError`` (bools are refused)."""
    if type(value) is int:
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return int(value)
    raise TypeError(f"{name} must be an integer, not {type(value).__name__!r}")


def check_unsigned(name: str, value: object, maximum: int, ctype: str) -> int:
    """Return *value* as an int in ``0 .. maximum`` (the range of the C type
    *ctype*, named in the message): ``TypeError`` for a non-int,
    ``ValueError`` if negative, ``OverflowError`` if too large (as ``os``)."""
    value = check_int(name, value)
    if value < 0:
        raise ValueError(f"{name} must not be negative")
    if value > maximum:
        raise OverflowError(f"{name} does not fit in {ctype}")
    return value


class EventLike(_GenericBase[E]):
    """An fd owned by Python that produces events.

    Subclasses implement :meth:`_read_from_kernel`, which performs one
    ``read(2)`` (blocking or not, as the fd is) and returns the parsed
    events.  Everything else lives here, once.
    """

    #: -1 once closed; a class attribute so ``__del__`` is safe even when
    #: ``__init__`` failed before the fd existed.
    _fd: int = -1

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._cache: Deque[E] = deque()

    # -- the part a family provides -------------------------------------
    def _read_from_kernel(self) -> List[E]:  # pragma: no cover - abstract
        raise NotImplementedError

    # -- fd ownership ----------------------------------------------------
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

    def close(self) -> None:
        """Close the fd.  Calling it again does nothing."""
        fd = self._fd
        if fd >= 0:
            self._fd = -1
            self._cache.clear()
            os.close(fd)

    def detach(self) -> int:
        """Give up ownership: return the fd without closing it."""
        fd = self.fileno()
        self._fd = -1
        return fd

    def __enter__(self) -> Self:
        self.fileno()
        return self

    def __exit__(
        self,
        exc_type: Optional[type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        self.close()

    def __del__(self) -> None:
        if self._fd >= 0:
            try:
                import warnings  # lazily, as for select
            except ImportError:  # the interpreter is shutting down
                pass
            else:
                warnings.warn(f"unclosed {self!r}", ResourceWarning, stacklevel=2, source=self)
            self.close()

    def __repr__(self) -> str:
        name = type(self).__name__
        if self._fd < 0:
            return f"<{name} closed>"
        return f"<{name} fd={self._fd}>"

    # -- events ------------------------------------------------------------
    def read_event(self) -> E:
        """Return one event, reading from the kernel only if none is cached.

        Blocks unless the fd is non-blocking, in which case an empty kernel
        queue raises ``BlockingIOError``.
        """
        cache = self._cache
        if cache:
            return cache.popleft()
        if self._fd < 0:
            raise self._closed_error()
        events = self._read_from_kernel()
        if len(events) > 1:
            cache.extend(events[1:])
        return events[0]

    def read_events(self) -> List[E]:
        """Return the cached events, or else everything the kernel has ready.

        When blocking, at least one event is returned.
        """
        cache = self._cache
        if cache:
            events = list(cache)
            cache.clear()
            return events
        if self._fd < 0:
            raise self._closed_error()
        return self._read_from_kernel()

    def _read_ready(self) -> List[E]:
        """Like :meth:`read_events` for a non-blocking fd, ``[]`` if none."""
        try:
            return self.read_events()
        except BlockingIOError:
            return []

    def wait(self, timeout: Optional[float] = None) -> Optional[E]:
        """Block until an event is ready and return it; ``None`` on timeout.

        *timeout* is in seconds (``None`` waits forever, ``0`` polls).  Uses
        ``poll(2)``, so fds above 1023 work.
        """
        if self._cache:
            return self._cache.popleft()
        fd = self.fileno()
        deadline = 0.0
        if timeout is None:
            ms = -1
        else:
            if timeout != timeout:  # NaN
                raise ValueError("timeout must not be NaN")
            ms = 0 if timeout <= 0 else _ceil_ms(timeout)
        import select  # lazily: keeps ``import butter.<family>`` fast
        import time

        if ms > 0 and timeout is not None:
            deadline = time.monotonic() + timeout
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        while True:
            if poller.poll(ms):
                try:
                    return self.read_event()
                except BlockingIOError:
                    pass  # someone else read it between poll and read
            # Nothing (yet): a timeout, an event stolen by another reader, or
            # a signal (PyPy's poll returns [] on EINTR instead of retrying).
            if ms == 0:
                return None
            if ms > 0:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                ms = _ceil_ms(remaining)
            self.fileno()  # closed meanwhile (by a signal handler)?

    def __iter__(self) -> Iterator[E]:
        return self

    def __next__(self) -> E:
        event = self.wait()
        assert event is not None
        return event


def _ceil_ms(seconds: float) -> int:
    """*seconds* as whole milliseconds, rounded up (poll's unit)."""
    return -int(-seconds * 1000 // 1)
