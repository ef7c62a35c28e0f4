"""seccomp user notification (``SECCOMP_RET_USER_NOTIF``): records and fd.

Exported by :mod:`butter.seccomp` (import it from there).  A filter rule with
the ``NOTIFY`` action stops the calling thread in the kernel and queues a
notification on the filter's *notify fd*; a supervisor reads it
(``SECCOMP_IOCTL_NOTIF_RECV``) and answers (``SECCOMP_IOCTL_NOTIF_SEND``)
with a return value or an error, or lets the call proceed
(``SECCOMP_USER_NOTIF_FLAG_CONTINUE``).  The fd is readable while a
notification waits and reports ``POLLHUP`` once no process uses the filter.

The ioctls are butter's own tiny C shims in ``butter._lowlevel`` (family
``seccomp``, built against the kernel headers; errno preserved, ``EINTR``
retried), so failures are plain ``OSError`` with the right subclass.
Receiving and answering need nothing from libseccomp; only
:attr:`Notification.syscall_name` asks it for the name.
"""

from __future__ import annotations

import errno
import os

from .._args import FdArg, cython_int, fileno, to_int
from .._errors import raise_errno, retry_or_raise
from .._fd import EventLike
from .._lowlevel import ffi, lib
from . import _lib as _libseccomp

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, ClassVar, List, Sequence, Union

__all__ = [
    "SECCOMP_USER_NOTIF_FLAG_CONTINUE",
    "Notification",
    "NotificationResponse",
    "NotifyFd",
    "notify_id_valid",
    "notify_receive",
    "notify_respond",
]

SECCOMP_USER_NOTIF_FLAG_CONTINUE: int = lib.SECCOMP_USER_NOTIF_FLAG_CONTINUE

_ENOENT = errno.ENOENT


class Notification:
    """One stopped system call, as the kernel reports it.

    Same constructor and attributes as libseccomp's bindings:
    ``id`` (the cookie to answer with), ``pid`` (of the calling thread, in
    the supervisor's PID namespace, 0 if not visible), ``flags``,
    ``syscall`` (number), ``syscall_arch`` (``AUDIT_ARCH_*`` token),
    ``syscall_ip`` (instruction pointer) and ``syscall_args`` (six ints).
    """

    __slots__ = ("flags", "id", "pid", "syscall", "syscall_arch", "syscall_args", "syscall_ip")
    id: int
    pid: int
    flags: int
    syscall: int
    syscall_arch: int
    syscall_ip: int
    syscall_args: List[int]

    def __init__(
        self, id: int, pid: int, flags: int, syscall: int, arch: int, ip: int, args: Sequence[int]
    ) -> None:
        self.id = id
        self.pid = pid
        self.flags = flags
        self.syscall = syscall
        self.syscall_arch = arch
        self.syscall_ip = ip
        args = list(args)
        if len(args) != 6:
            raise ValueError("a notification has exactly six syscall arguments")
        self.syscall_args = args

    @property
    def syscall_name(self) -> str:
        """The system call's name on ``syscall_arch`` (``str``, or the number as text)."""
        sffi, slib = _libseccomp.ffi, _libseccomp.lib
        name = slib.seccomp_syscall_resolve_num_arch(self.syscall_arch, self.syscall)
        if name == sffi.NULL:
            return str(self.syscall)
        try:
            return sffi.string(name).decode("ascii", "replace")  # type: ignore[no-any-return]
        finally:
            slib.free(name)

    def __repr__(self) -> str:
        return (
            f"<Notification id={self.id:#x} pid={self.pid} syscall={self.syscall} "
            f"({self.syscall_name}) args={self.syscall_args}>"
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Notification):
            return NotImplemented
        return all(getattr(self, n) == getattr(other, n) for n in self.__slots__)

    __hash__: ClassVar[None] = None  # type: ignore[assignment]


class NotificationResponse:
    """The answer to a :class:`Notification` (constructor as in the bindings).

    ``NotificationResponse(notify, val=0, error=0, flags=0)``: the stopped
    call returns *val*, or fails with *error* (a **negative** errno, e.g.
    ``-errno.EPERM``), or with ``flags=SECCOMP_USER_NOTIF_FLAG_CONTINUE``
    (and val = error = 0) really runs.  *notify* is the
    :class:`Notification` (or its ``id``).
    """

    __slots__ = ("error", "flags", "id", "val")
    id: int
    val: int
    error: int
    flags: int

    def __init__(
        self, notify: Union[Notification, int], val: int = 0, error: int = 0, flags: int = 0
    ) -> None:
        if isinstance(notify, int) and not isinstance(notify, bool):
            self.id = int(notify)
        else:
            try:
                self.id = notify.id  # type: ignore[union-attr]
            except AttributeError:
                raise TypeError(
                    f"notify must be a Notification or an id, not {type(notify).__name__!r}"
                ) from None
        self.val = val
        self.error = error
        self.flags = flags

    def __repr__(self) -> str:
        return (
            f"<NotificationResponse id={self.id:#x} val={self.val} error={self.error} "
            f"flags={self.flags}>"
        )


def _from_c(req: Any) -> Notification:
    data = req.data
    return Notification(
        req.id, req.pid, req.flags, data.nr, data.arch, data.instruction_pointer, list(data.args)
    )


def notify_receive(fd: FdArg) -> Notification:
    """Wait for the next notification on notify fd *fd* and return it.

    ``SECCOMP_IOCTL_NOTIF_RECV`` blocks even on a non-blocking fd (poll
    first, or use :class:`NotifyFd`).  ``ENOENT`` means the caller was
    killed before the notification could be taken.
    """
    fd = fileno(fd)
    req = ffi.new("struct seccomp_notif *")
    while lib.butter_seccomp_notif_recv(fd, req) < 0:
        retry_or_raise()
    return _from_c(req)


def _response(response: NotificationResponse) -> Any:
    try:
        values = (response.id, response.val, response.error, response.flags)
    except AttributeError:
        raise TypeError(
            f"response must be a NotificationResponse, not {type(response).__name__!r}"
        ) from None
    # As the bindings convert them: OverflowError outside the field's type.
    resp = ffi.new("struct seccomp_notif_resp *")
    resp.id = cython_int("id", values[0], "uint64_t")
    resp.val = cython_int("val", values[1], "int64_t")
    resp.error = cython_int("error", values[2], "int32_t")
    resp.flags = cython_int("flags", values[3], "uint32_t")
    return resp


def notify_respond(fd: FdArg, response: NotificationResponse) -> None:
    """Answer a notification (``SECCOMP_IOCTL_NOTIF_SEND``).

    ``ENOENT`` if the caller is gone (or the id was already answered),
    ``EINVAL`` for an inconsistent response (e.g. ``CONTINUE`` with a value).
    """
    fd = fileno(fd)
    resp = _response(response)
    while lib.butter_seccomp_notif_send(fd, resp) < 0:
        retry_or_raise()


def notify_id_valid(fd: FdArg, id: int) -> bool:
    """True while notification *id* is still pending (its caller alive).

    A supervisor that reads the caller's memory (``/proc/<pid>/mem``)
    checks this afterwards to avoid acting on a recycled pid.
    """
    fd = fileno(fd)
    id = to_int("id", id, "uint64_t")
    while lib.butter_seccomp_notif_id_valid(fd, id) < 0:
        if ffi.errno == _ENOENT:
            return False
        retry_or_raise()
    return True


class NotifyFd(EventLike[Notification]):
    """The notify fd of a loaded seccomp filter, as an event-like object.

    *source* is a :class:`~butter.seccomp.SyscallFilter` whose ``NOTIFY``
    filter was loaded in this process, or a notify fd (an int or object with
    ``fileno()``, e.g. one received over a unix socket).  The object owns a
    close-on-exec **duplicate** of that fd: libseccomp keeps its own.

    ``read_event()`` returns the next :class:`Notification` (non-blocking
    mode: ``BlockingIOError`` when none waits), ``respond(response)``
    answers one.  Once no process uses the filter any more, reading raises
    ``ProcessLookupError`` instead of blocking for ever.

    Threads may share it: receiving takes a per-object lock (never held
    while sleeping), so each notification goes to exactly one thread, and
    ``close()`` wakes threads blocked in ``wait()``/``read_event()``
    (``ValueError``) or iteration (which ends).
    """

    def __init__(self, source: Any) -> None:
        get_fd = getattr(source, "get_notify_fd", None)
        fd = get_fd() if get_fd is not None else fileno(source)
        super().__init__(os.dup(fd))  # non-inheritable (PEP 446)
        self._req = ffi.new("struct seccomp_notif *")

    def _read_from_kernel(self) -> List[Notification]:
        import select  # lazily: keeps ``import butter.seccomp`` fast

        fd = self._fd
        req = self._req
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        while True:
            # Never sleep here: the caller (EventLike's waiting loop, or the
            # asyncio queue) polled already and holds the read lock, which
            # also guards the shared request buffer ``_req``.
            events = poller.poll(0)
            if not events:
                raise BlockingIOError(errno.EAGAIN, os.strerror(errno.EAGAIN))
            mask = events[0][1]
            if not mask & select.POLLIN:
                if mask & select.POLLHUP:
                    raise ProcessLookupError(
                        errno.ESRCH, "no process uses this seccomp filter any more"
                    )
                raise_errno(errno.EBADF if mask & select.POLLNVAL else errno.EIO)
            if lib.butter_seccomp_notif_recv(fd, req) == 0:
                return [_from_c(req)]
            if ffi.errno != _ENOENT:  # ENOENT: the caller died meanwhile
                retry_or_raise()

    def respond(self, response: NotificationResponse) -> None:
        """Answer a notification (see :func:`notify_respond`)."""
        notify_respond(self.fileno(), response)

    def id_valid(self, id: int) -> bool:
        """True while notification *id* is still pending."""
        return notify_id_valid(self.fileno(), id)
