"""pidfd_open(2) and friends: a process as a file descriptor.

A pidfd refers to one process for good: unlike a PID it cannot be recycled
for another process, so signalling through it never hits the wrong one.

Thin wrappers (same names and arguments as ``os.pidfd_open`` and
``signal.pidfd_send_signal``): :func:`pidfd_open`, :func:`pidfd_send_signal`,
:func:`pidfd_getfd` (a duplicate of another process's fd; needs ptrace
rights over it).  :func:`waitid_pidfd` waits through a pidfd
(``waitid(P_PIDFD)``).

:class:`PidFd` owns a pidfd and is event-like: it becomes readable
(``select``/``poll``/asyncio) when the process exits, and
``PidFd.read_event()`` then returns a :class:`ProcessExit`.  For a child
of the calling process the exit status comes from
``waitid(P_PIDFD, WNOWAIT)``, which reads it *without reaping*: the child
stays a zombie until its owner waits for it, so ``subprocess.Popen.wait()``,
``os.waitpid`` or asyncio's child watcher still get the real status.  Pass
``reap=True`` to reap it at the same time (only for a child nothing else
waits for, e.g. one made with ``os.fork``).  ``PidFd(popen)`` (any object
with an int ``pid``, e.g. :class:`subprocess.Popen`) never reaps.  For any
other process the kernel tells only the parent how it ended: the event then
has ``status`` and ``returncode`` ``None``.

An exit happens once: after it was reported, ``read_event()`` returns the
same :class:`ProcessExit` again and iteration stops.
"""

from __future__ import annotations

import errno as _errno
import os
import select

from ._args import FdArg, fileno, to_flags, to_int
from ._errors import raise_errno, retry_or_raise
from ._fd import EventLike
from ._lowlevel import ffi, lib

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Iterator, List, NamedTuple, Optional, Protocol, Union

    class _HasPid(Protocol):
        """A process object owning its child: :class:`subprocess.Popen`,
        :class:`asyncio.subprocess.Process`, :class:`multiprocessing.Process`..."""

        @property
        def pid(self) -> Optional[int]: ...

    #: A pid, or a process object with an int ``pid`` (docs/types.rst).
    ProcessArg = Union[int, _HasPid]

    class _ProcessExitBase(NamedTuple):
        pid: int
        code: Optional[int]
        status: Optional[int]

else:
    from collections import namedtuple

    _ProcessExitBase = namedtuple("_ProcessExitBase", ["pid", "code", "status"])

__all__ = [
    "CLD_DUMPED",
    "CLD_EXITED",
    "CLD_KILLED",
    "PIDFD_NONBLOCK",
    "P_PIDFD",
    "WEXITED",
    "WNOHANG",
    "WNOWAIT",
    "PidFd",
    "ProcessExit",
    "pidfd_getfd",
    "pidfd_open",
    "pidfd_send_signal",
    "waitid_pidfd",
]

PIDFD_NONBLOCK: int = lib.PIDFD_NONBLOCK
P_PIDFD: int = lib.P_PIDFD
CLD_EXITED: int = lib.CLD_EXITED
CLD_KILLED: int = lib.CLD_KILLED
CLD_DUMPED: int = lib.CLD_DUMPED
WEXITED: int = lib.WEXITED
WNOHANG: int = lib.WNOHANG
WNOWAIT: int = lib.WNOWAIT
_ECHILD = _errno.ECHILD
_EAGAIN = _errno.EAGAIN


class ProcessExit(_ProcessExitBase):
    """How a process ended: ``(pid, code, status)``.

    *code* is the ``siginfo`` ``si_code`` (``CLD_EXITED``, ``CLD_KILLED``
    or ``CLD_DUMPED``) and *status* the exit status or the signal number;
    both are ``None`` when the process was not our child (only its parent
    learns them).
    """

    __slots__ = ()

    @property
    def exited(self) -> bool:
        """True if it called ``exit`` (``status`` is the exit status)."""
        return self.code == CLD_EXITED

    @property
    def signaled(self) -> bool:
        """True if a signal killed it (``status`` is the signal number)."""
        return self.code in (CLD_KILLED, CLD_DUMPED)

    @property
    def returncode(self) -> Optional[int]:
        """As :attr:`subprocess.Popen.returncode`: the exit status, or
        ``-signal`` if killed; ``None`` if unknown (not our child)."""
        if self.code is None or self.status is None:
            return None
        return -self.status if self.signaled else self.status


def pidfd_open(pid: int, flags: int = 0) -> int:
    """Return a pidfd for process *pid* (always close-on-exec).

    *flags*: 0 or ``PIDFD_NONBLOCK`` (then waiting through it with
    ``waitid`` fails with ``EAGAIN`` while the process runs).  *pid* must be
    a process (thread-group leader) that exists: ``ESRCH`` otherwise.
    """
    pid = to_int("pid", pid, "pid_t", 1)
    flags = to_flags("flags", flags)
    while True:
        fd: int = lib.butter_pidfd_open(pid, flags)
        if fd >= 0:
            return fd
        retry_or_raise()


def pidfd_send_signal(pidfd: FdArg, sig: int, siginfo: None = None, flags: int = 0) -> None:
    """Send signal *sig* to the process *pidfd* refers to.

    *siginfo* must be ``None`` (as in ``signal.pidfd_send_signal``).  A
    process that has exited gives ``ESRCH``, never a stranger.
    """
    fd = fileno(pidfd)
    sig = to_int("sig", sig, "int", 0)
    if siginfo is not None:
        raise TypeError("siginfo must be None")
    flags = to_flags("flags", flags)
    while lib.butter_pidfd_send_signal(fd, sig, flags) < 0:
        retry_or_raise()


def pidfd_getfd(pidfd: FdArg, targetfd: int, flags: int = 0) -> int:
    """Duplicate fd *targetfd* of the process *pidfd* refers to into this
    process; return the new fd (close-on-exec).

    Needs ``PTRACE_MODE_ATTACH_REALCREDS`` over the target (``EPERM``).
    *flags* must be 0 (reserved).
    """
    fd = fileno(pidfd)
    targetfd = to_int("targetfd", targetfd, "int", 0)
    flags = to_flags("flags", flags)
    while True:
        newfd: int = lib.butter_pidfd_getfd(fd, targetfd, flags)
        if newfd >= 0:
            return newfd
        retry_or_raise()


def waitid_pidfd(pidfd: FdArg, options: int) -> Optional[ProcessExit]:
    """``waitid(P_PIDFD, pidfd, options)``: wait for the child *pidfd* refers to.

    *options* as for ``os.waitid``: ``WEXITED``, ``WNOHANG``, ``WNOWAIT``
    (exported here too, for Pythons whose ``os`` lacks them).  Returns a
    :class:`ProcessExit`, or ``None`` with ``WNOHANG`` if it has not changed
    state.  ``ECHILD`` if it is not
    a child of this process.
    """
    fd = fileno(pidfd)
    options = to_flags("options", options, ctype="int")
    out = ffi.new("int[3]")
    while lib.butter_waitid_pidfd(fd, options, out) < 0:
        retry_or_raise()
    if out[0] == 0:
        return None
    return ProcessExit(out[0], out[1], out[2])


class PidFd(EventLike[ProcessExit]):
    """A process as an event-like object: readable once it has exited.

    *pid* is a process id, or a process object with an int ``pid``
    attribute (:class:`subprocess.Popen`, :class:`asyncio.subprocess.Process`,
    :class:`multiprocessing.Process`).  ``read_event()`` blocks until the
    process exits (or raises ``BlockingIOError`` if *flags* has
    ``PIDFD_NONBLOCK`` and it still runs) and returns a
    :class:`ProcessExit`.  ``send_signal()`` cannot hit a recycled PID.

    For our own child the status comes from ``waitid(P_PIDFD)`` with
    ``WNOWAIT``: butter reads it and leaves the zombie to whoever owns the
    child, so ``Popen.wait()`` afterwards still returns the real code (a
    reaped child would make it return 0).  With ``reap=True`` butter reaps
    it too -- for a child nothing else waits for (``os.fork``); not allowed
    with a process object, which reaps its own child.  If the owner reaped
    the child first, the status is taken from its ``returncode`` where it
    has one (a ``Popen`` does), else it is ``None`` as for a stranger.

    Threads may share it: the exit is collected once, under a per-object
    lock, and every reader then sees it; ``close()`` wakes threads blocked
    in ``wait()``/``read_event()`` (``ValueError``) or iteration.
    """

    def __init__(self, pid: ProcessArg, flags: int = 0, *, reap: bool = False) -> None:
        if type(reap) is not bool:
            raise TypeError("reap must be a bool")
        owner: Optional[_HasPid] = None
        if not isinstance(pid, int):
            owner = pid
            pid = getattr(pid, "pid", pid)
            if not isinstance(pid, int):
                raise TypeError(
                    "pid must be an integer or a process object with an int pid, "
                    f"not {type(owner).__name__!r}"
                )
            if reap:
                raise ValueError(
                    f"reap=True with a {type(owner).__name__}: it reaps its own child "
                    "(butter reaping it first would lose the exit status)"
                )
        fd = pidfd_open(pid, flags)
        super().__init__(fd)
        self.pid: int = pid
        self._reap = reap
        self._owner: Optional[_HasPid] = owner
        self._exit: Optional[ProcessExit] = None
        self._owner_deadline = -1.0  # see _exit_from_owner()

    def _repr_info(self) -> str:
        done = self._exit
        if done is None:
            return f"pid={self.pid}"
        return f"pid={self.pid} exited code={done.code} status={done.status}"

    def send_signal(self, sig: int) -> None:
        """Send *sig* to the process (``ESRCH`` once it has exited)."""
        pidfd_send_signal(self.fileno(), sig)

    def getfd(self, targetfd: int) -> int:
        """Duplicate the process's fd *targetfd* (see :func:`pidfd_getfd`)."""
        return pidfd_getfd(self.fileno(), targetfd)

    @property
    def exit(self) -> Optional[ProcessExit]:
        """The exit once ``read_event()`` reported it, else ``None``."""
        return self._exit

    def _read_from_kernel(self) -> List[ProcessExit]:
        if self._exit is not None:
            return [self._exit]
        fd = self.fileno()
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        if not poller.poll(0):
            if not os.get_blocking(fd):
                raise_errno(_EAGAIN)
            while not poller.poll():
                pass
        options = WEXITED | (0 if self._reap else WNOWAIT)
        out = ffi.new("int[3]")
        while lib.butter_waitid_pidfd(fd, options | WNOHANG, out) < 0:
            if ffi.errno == _ECHILD:  # not our child, or already reaped
                self._exit = self._exit_from_owner()  # (or BlockingIOError)
                return [self._exit]
            retry_or_raise()
        if out[0] == 0:
            # Readable but not yet waitable: the exit is being processed.
            while lib.butter_waitid_pidfd(fd, options, out) < 0:
                if ffi.errno == _ECHILD:
                    self._exit = self._exit_from_owner()
                    return [self._exit]
                retry_or_raise()
        self._exit = ProcessExit(out[0], out[1], out[2])
        return [self._exit]

    def _exit_from_owner(self) -> ProcessExit:
        """The exit once waitid said ECHILD: the owner's ``returncode`` if it
        reaped the child first, else unknown (only the parent learns it).

        An owner that reaped the child records the code a moment later
        (``Popen.wait()`` in another thread after its ``waitpid``, asyncio's
        child watcher through a loop callback): for up to a second this
        says "not yet" (``BlockingIOError``, after a 1 ms pause that lets
        the other thread run), so the caller polls again.
        """
        owner = self._owner
        code = getattr(owner, "returncode", None)
        if type(code) is not int:
            if owner is not None and hasattr(owner, "returncode"):
                import time

                now = time.monotonic()
                if self._owner_deadline < 0:
                    self._owner_deadline = now + 1.0
                if now < self._owner_deadline:
                    time.sleep(0.001)
                    raise_errno(_EAGAIN)
            return ProcessExit(self.pid, None, None)
        if code < 0:
            return ProcessExit(self.pid, CLD_KILLED, -code)
        return ProcessExit(self.pid, CLD_EXITED, code)

    def __next__(self) -> ProcessExit:
        if self._exit is not None:
            raise StopIteration
        return super().__next__()

    def __iter__(self) -> Iterator[ProcessExit]:
        return self
