"""The read path shared by eventfd and timerfd: one 8-byte counter per read.

The kernel hands each counter value to exactly one ``read(2)``, atomically,
so these objects need no read lock and no buffer: :meth:`CounterFd.read_event`
is one C call to ``preadv2(RWF_NOWAIT)``, which never sleeps even on a
blocking fd, when the counter is set.  Only when it is not does a reader
sleep, in ``poll(2)`` on the fd and the close wake-up (``EventLike``'s one
waiting loop, as ``wait()`` and iteration): so ``close()`` from another
thread wakes it (a thread asleep in ``read(2)`` would stay there: Linux
does not interrupt it), and ``wait(timeout)`` returns in time even when
another thread reads the counter first.  Kernels without ``RWF_NOWAIT`` for
this kind of fd fall back to a plain ``read(2)`` after ``poll`` said the fd
is ready.
"""

from __future__ import annotations

from ._errors import raise_errno
from ._fd import EventLike
from ._lowlevel import ffi, lib

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import List

__all__ = ["READ_FAILED", "CounterFd", "after_failed_u64", "checked_u64"]

#: What the C readers return on failure (with errno set), or, with errno 0,
#: when the eight bytes read really were all ones.
READ_FAILED = 0xFFFFFFFFFFFFFFFF
_read_nowait = lib.butter_read_u64_nowait
_read = lib.butter_read_u64
_EINTR: int = lib.EINTR
_EAGAIN: int = lib.EAGAIN
_EOPNOTSUPP: int = lib.EOPNOTSUPP


def checked_u64(read: object, fd: int) -> int:
    """Call the C reader *read* on *fd* until it is not interrupted; return
    the value (``OSError`` on failure)."""
    value: int = read(fd)  # type: ignore[operator]
    if value != READ_FAILED:
        return value
    return after_failed_u64(read, fd)


def after_failed_u64(read: object, fd: int) -> int:
    """Right after *read* (a C reader) returned ``READ_FAILED`` for *fd*:
    return all ones if that was data (errno 0), retry if interrupted, else
    raise the ``OSError``."""
    while True:
        err = ffi.errno
        if err == 0:
            return READ_FAILED  # eight 0xff bytes, not an error
        if err != _EINTR:
            raise_errno(err)
        value: int = read(fd)  # type: ignore[operator]
        if value != READ_FAILED:
            return value


class CounterFd(EventLike[int]):
    """An fd whose reads return one 8-byte counter (see the module docs)."""

    def read_event(self) -> int:
        """Return the counter value read; blocks unless the fd is
        non-blocking (then ``BlockingIOError`` if it is zero)."""
        fd = self._fd
        if fd < 0:
            raise self._closed_error()
        value: int = _read_nowait(fd)  # never sleeps: the hot path
        if value != READ_FAILED or ffi.errno == 0:
            return value
        # Not set (EAGAIN), interrupted, or refused (old kernel, closed...):
        # the waiting loop, where close() wakes the sleeper (C2) and errors
        # become ValueError/OSError as for every EventLike.
        return super().read_event()

    def _read_nonblocking(self) -> List[int]:
        # The asyncio queue's read (O_NONBLOCK): a plain read(2) is fastest.
        return [checked_u64(_read, self._fd)]

    def _read_from_kernel(self) -> List[int]:
        fd = self._fd
        while True:
            value: int = _read_nowait(fd)
            if value != READ_FAILED:
                return [value]
            err = ffi.errno
            if err == 0:
                return [value]
            if err == _EAGAIN:
                return []  # another reader was first
            if err == _EOPNOTSUPP:  # an old kernel: poll said it is ready
                return [checked_u64(_read, fd)]
            if err != _EINTR:
                raise_errno(err)

    def __int__(self) -> int:
        return self.read_event()
