"""eventfd(2): a kernel counter usable as a wake-up channel.

Thin wrappers (:func:`eventfd`, :func:`eventfd_read`, :func:`eventfd_write`)
follow ``os.eventfd``/``os.eventfd_read``/``os.eventfd_write`` (same
argument names, same errors), and work on every Python butter supports
(the stdlib has them only from 3.10).  :class:`Eventfd` owns the fd.

Kernel semantics: a write adds to a 64-bit counter (at most
``0xfffffffffffffffe``; a write that would overflow blocks or fails with
``EAGAIN``).  A read returns the counter and resets it to 0, or with
``EFD_SEMAPHORE`` returns 1 and decrements it.  A read of a zero counter
blocks (or fails with ``EAGAIN`` under ``EFD_NONBLOCK``).  The fd is
readable while the counter is non-zero.
"""

from __future__ import annotations

from ._args import FdArg, fileno, to_flags, to_int
from ._counter import READ_FAILED, CounterFd, after_failed_u64, checked_u64
from ._errors import retry_or_raise
from ._lowlevel import lib

__all__ = [
    "EFD_CLOEXEC",
    "EFD_NONBLOCK",
    "EFD_SEMAPHORE",
    "Eventfd",
    "eventfd",
    "eventfd_read",
    "eventfd_write",
]

EFD_CLOEXEC: int = lib.EFD_CLOEXEC
EFD_NONBLOCK: int = lib.EFD_NONBLOCK
EFD_SEMAPHORE: int = lib.EFD_SEMAPHORE

_ALL_FLAGS = EFD_CLOEXEC | EFD_NONBLOCK | EFD_SEMAPHORE
_READ_FAILED = READ_FAILED
_eventfd_read = lib.butter_read_u64
_eventfd_write = lib.eventfd_write


def eventfd(initial_value: int = 0, flags: int = 0) -> int:
    """Create an eventfd whose counter starts at *initial_value*; return it.

    *flags* is a bitwise OR of ``EFD_NONBLOCK`` and ``EFD_SEMAPHORE``.  The
    fd is always close-on-exec (PEP 446); use ``os.set_inheritable`` to pass
    it to a child.
    """
    initial_value = to_int("initial_value", initial_value, "unsigned int")
    flags = to_flags("flags", flags, _ALL_FLAGS, "int", "EFD_NONBLOCK, EFD_SEMAPHORE, EFD_CLOEXEC")
    flags |= EFD_CLOEXEC
    while True:
        fd: int = lib.eventfd(initial_value, flags)
        if fd >= 0:
            return fd
        retry_or_raise()


def eventfd_read(fd: FdArg) -> int:
    """Read the counter (resetting it, or decrementing it by one with
    ``EFD_SEMAPHORE``) and return the value read."""
    # Hot path: exact ints go straight to C (cffi would call __int__ on any
    # other object, which for an Eventfd would *read* it).
    if type(fd) is not int:
        return _eventfd_read_slow(fd)
    value: int = _eventfd_read(fd)
    if value != _READ_FAILED:
        return value
    if fd >= 0:
        return after_failed_u64(_eventfd_read, fd)
    return _eventfd_read_slow(fd)


def _eventfd_read_slow(fd: FdArg) -> int:
    fd = fileno(fd)  # ValueError for a negative fd, as os.eventfd_read
    return checked_u64(_eventfd_read, fd)


def eventfd_write(fd: FdArg, value: int) -> None:
    """Add *value* (0 .. 2**64-2) to the counter.

    Like ``os.eventfd_write``: a negative value raises ``ValueError``, one
    that does not fit 64 bits ``OverflowError``, and ``2**64-1`` the kernel's
    ``EINVAL``.  A write that would overflow the counter blocks, or raises
    ``BlockingIOError`` with ``EFD_NONBLOCK``."""
    if type(fd) is int and type(value) is int:
        try:
            if _eventfd_write(fd, value) == 0:
                return
            if fd >= 0:
                retry_or_raise()
        except OverflowError:
            pass  # negative or too large: the slow path says which
    _eventfd_write_slow(fd, value)


def _eventfd_write_slow(fd: FdArg, value: int) -> None:
    fd = fileno(fd)
    value = to_int("value", value, "uint64_t")
    # 2**64-1 fits but is refused by the kernel (EINVAL), as with os.
    while _eventfd_write(fd, value) < 0:
        retry_or_raise()


class Eventfd(CounterFd):
    """An eventfd counter as a file-like, pollable object.

    ``increment(n)`` adds to the counter, ``read_event()`` returns (and
    resets, or decrements with ``EFD_SEMAPHORE``) it, ``int(obj)`` is
    ``read_event()``.  The fd is readable (``select``/``poll``/asyncio)
    while the counter is non-zero.

    Threads may share it: each value read goes to one reader, ``wait()``
    returns in time even when another thread reads first, and ``close()``
    wakes threads in ``wait()``, ``read_event()`` and iteration (a reader
    sleeps in ``poll``, never in ``read(2)``, which Linux would not
    interrupt).
    """

    def __init__(self, initial_value: int = 0, flags: int = 0) -> None:
        super().__init__(eventfd(initial_value, flags))
        self._semaphore = bool(flags & EFD_SEMAPHORE)  # (flags: checked by eventfd())

    def _repr_info(self) -> str:
        return "EFD_SEMAPHORE" if self._semaphore else ""

    def increment(self, value: int = 1) -> None:
        """Add *value* to the counter (wakes any reader)."""
        fd = self._fd
        if fd < 0:
            raise self._closed_error()
        if type(value) is int:
            try:
                if _eventfd_write(fd, value) == 0:
                    return
                retry_or_raise()
            except OverflowError:
                pass
        _eventfd_write_slow(fd, value)


# -- compatibility with Butter 0.9/0.13.1 -------------------------------------
# Old spellings, each warning with DeprecationWarning (see butter._compat).
from . import _compat  # noqa: E402

TYPE_CHECKING = False
if not TYPE_CHECKING:  # type checkers see the new API only
    #: ``inital_value=`` (sic) and 0.13.1's ``closefd=``.
    eventfd = _compat.old_keywords(
        eventfd, {"inital_value": "initial_value"}, closefd=True, where="eventfd(): "
    )
_compat.patch_init(Eventfd, {"inital_value": "initial_value"}, closefd=True)


def str_to_events(data: bytes) -> list[int]:
    """Deprecated (original Butter): decode the 8 bytes read from an eventfd
    into a one-element list; use :func:`eventfd_read` or ``read_event()``."""
    _compat.deprecated("butter.eventfd.str_to_events()", "eventfd_read() or Eventfd.read_event()")
    import struct

    return [struct.unpack("=Q", data)[0]]


def event_to_str(event: int) -> bytes:
    """Deprecated (original Butter): encode *event* as the 8 bytes an
    eventfd write takes; use :func:`eventfd_write` or ``increment()``."""
    _compat.deprecated("butter.eventfd.event_to_str()", "eventfd_write() or Eventfd.increment()")
    import struct

    return struct.pack("=Q", event)
