"""signalfd(2): receive signals by reading a file descriptor.

A signalfd reads the signals that are *pending* for the reading thread
(or its process) and whose numbers are in the fd's mask; reading dequeues
them, so no handler runs and no default action (terminate, core dump, ...)
takes place.  A signal is only pending while it is *blocked*: a signal that
is not blocked is delivered the usual way (handler or default action) as
soon as it arrives and the signalfd never sees it.  So, as in C, block the
signals first, in every thread (the mask is per thread, and a signal sent to
the process goes to any thread that does not block it)::

    with Signalfd([signal.SIGTERM, signal.SIGUSR1], block=True) as sfd:
        for sig in sfd:               # blocks, one Signal per signal
            print(sig.signal, "from pid", sig.pid)

Thin wrappers: :func:`signalfd` (create an fd, or change the mask of one)
and :func:`pthread_sigmask` (block/unblock signals in the calling thread;
like :func:`signal.pthread_sigmask`, also on PyPy and with every real-time
signal).  :class:`Signalfd` owns the fd; its events are :class:`Signal`
records (the fields of ``struct signalfd_siginfo``).

Kernel notes: SIGKILL and SIGSTOP can be neither blocked nor read (the
kernel drops them from both masks).  Standard signals (1..31) coalesce: a
signal sent again while pending is delivered once; real-time signals
(``SIGRTMIN``..``SIGRTMAX``) queue, one record each.  After ``fork()`` the
child's signalfd reads the child's signals.  glibc reserves signals 32 and
33 for itself: ``pthread_sigmask`` silently leaves them unblocked.
"""

from __future__ import annotations

import errno
import os
import signal as _signal_mod
import sys
from collections import namedtuple

from ._args import FdArg, check_int, fileno, to_flags, to_int
from ._cstruct import cstruct
from ._errors import raise_errno, retry_or_raise
from ._fd import EventLike
from ._lowlevel import ffi, lib

try:
    from _thread import allocate_lock, get_ident, get_native_id
except ImportError:  # pragma: no cover - Pythons without get_native_id
    from _thread import allocate_lock, get_ident

    get_native_id = None  # type: ignore[assignment]

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import (
        AbstractSet,
        Any,
        Dict,
        FrozenSet,
        Iterable,
        List,
        Optional,
        Set,
        Tuple,
        Union,
    )

    SignalNumber = Union[int, _signal_mod.Signals]
    #: One signal number or an iterable of them.
    SignalsArg = Union[SignalNumber, Iterable[SignalNumber]]

__all__ = [
    "CLD_CONTINUED",
    "CLD_DUMPED",
    "CLD_EXITED",
    "CLD_KILLED",
    "CLD_STOPPED",
    "CLD_TRAPPED",
    "SFD_CLOEXEC",
    "SFD_NONBLOCK",
    "SIG_BLOCK",
    "SIG_SETMASK",
    "SIG_UNBLOCK",
    "SI_ASYNCIO",
    "SI_KERNEL",
    "SI_MESGQ",
    "SI_QUEUE",
    "SI_SIGIO",
    "SI_TIMER",
    "SI_TKILL",
    "SI_USER",
    "Signal",
    "Signalfd",
    "pthread_sigmask",
    "restore_sigmask",
    "signalfd",
    "str_to_events",
]

SFD_CLOEXEC: int = lib.SFD_CLOEXEC
SFD_NONBLOCK: int = lib.SFD_NONBLOCK
SIG_BLOCK: int = lib.SIG_BLOCK
SIG_UNBLOCK: int = lib.SIG_UNBLOCK
SIG_SETMASK: int = lib.SIG_SETMASK

# Values of Signal.code: who sent the signal (any signal) ...
SI_USER: int = lib.SI_USER  # kill(2)
SI_KERNEL: int = lib.SI_KERNEL  # the kernel
SI_QUEUE: int = lib.SI_QUEUE  # sigqueue(3)
SI_TIMER: int = lib.SI_TIMER  # a POSIX timer expired
SI_MESGQ: int = lib.SI_MESGQ  # a POSIX message queue changed state
SI_ASYNCIO: int = lib.SI_ASYNCIO  # AIO completed
SI_SIGIO: int = lib.SI_SIGIO  # queued SIGIO
SI_TKILL: int = lib.SI_TKILL  # tkill(2), tgkill(2) (signal.pthread_kill)
# ... and what happened to the child (SIGCHLD).
CLD_EXITED: int = lib.CLD_EXITED  # exited (status is the exit code)
CLD_KILLED: int = lib.CLD_KILLED  # killed by a signal (status is the signal)
CLD_DUMPED: int = lib.CLD_DUMPED  # killed, and dumped core
CLD_TRAPPED: int = lib.CLD_TRAPPED  # a traced child trapped
CLD_STOPPED: int = lib.CLD_STOPPED  # stopped
CLD_CONTINUED: int = lib.CLD_CONTINUED  # continued by SIGCONT

#: Signal numbers are 1 .. _NSIG - 1 (64 on Linux: the kernel's sigset).
_NSIG: int = lib.BUTTER_NSIG
_ALL_FLAGS = SFD_CLOEXEC | SFD_NONBLOCK
_UNREADABLE = frozenset((int(_signal_mod.SIGKILL), int(_signal_mod.SIGSTOP)))


# The record layout comes from the compiled headers, never from a literal.
_SIGINFO, _C_NAMES = cstruct(ffi, "struct signalfd_siginfo")

# Field docs, in struct order; the names are checked against the layout.
_FIELDS = {
    "signal": "``ssi_signo``: the signal number.",
    "errno": "``ssi_errno``: an error number (generally unused).",
    "code": "``ssi_code``: why it was sent (``SI_USER``, ``CLD_EXITED``, ...).",
    "pid": "``ssi_pid``: the sender's pid (or the child's, for SIGCHLD).",
    "uid": "``ssi_uid``: the sender's real uid.",
    "fd": "``ssi_fd``: the fd (SIGIO).",
    "tid": "``ssi_tid``: the kernel timer id (POSIX timers).",
    "band": "``ssi_band``: the band event (SIGIO).",
    "overrun": "``ssi_overrun``: the overrun count (POSIX timers).",
    "trapno": "``ssi_trapno``: the trap number that caused the signal.",
    "status": "``ssi_status``: exit code, or the signal (SIGCHLD).",
    "int": "``ssi_int``: the integer sent by ``sigqueue(3)``.",
    "ptr": "``ssi_ptr``: the pointer sent by ``sigqueue(3)``.",
    "utime": "``ssi_utime``: user CPU time consumed, in clock ticks (SIGCHLD).",
    "stime": "``ssi_stime``: system CPU time consumed, in clock ticks (SIGCHLD).",
    "addr": "``ssi_addr``: the faulting address (SIGSEGV, SIGBUS, ...).",
    "addr_lsb": "``ssi_addr_lsb``: its least significant bit (SIGBUS).",
    "syscall": "``ssi_syscall``: the system call number (SIGSYS).",
    "call_addr": "``ssi_call_addr``: the system call's address (SIGSYS).",
    "arch": "``ssi_arch``: the AUDIT_ARCH_* of the system call (SIGSYS).",
}
if tuple("signal" if n == "ssi_signo" else n[4:] for n in _C_NAMES) != tuple(_FIELDS):
    raise ImportError(f"butter.signalfd: unexpected signalfd_siginfo fields {_C_NAMES}")

if TYPE_CHECKING:
    import builtins
    from typing import NamedTuple

    class Signal(NamedTuple):
        signal: int
        errno: int
        code: int
        pid: int
        uid: int
        fd: int
        tid: int
        band: int
        overrun: int
        trapno: int
        status: int
        int: builtins.int
        ptr: builtins.int
        utime: builtins.int
        stime: builtins.int
        addr: builtins.int
        addr_lsb: builtins.int
        syscall: builtins.int
        call_addr: builtins.int
        arch: builtins.int

else:
    # A plain namedtuple at run time: typing costs milliseconds to import.
    Signal = namedtuple("Signal", tuple(_FIELDS))
    Signal.__doc__ = """One ``struct signalfd_siginfo`` record, under readable names.

    Which fields are meaningful depends on the signal and on ``code`` (see
    sigaction(2), "The siginfo_t argument"): ``pid``/``uid`` for signals
    sent by a process (``SI_USER``, ``SI_QUEUE``) and ``SIGCHLD``;
    ``status``/``utime``/``stime`` for ``SIGCHLD`` (``status`` is the exit
    code for ``CLD_EXITED``, else the signal number); ``int``/``ptr`` the
    value of ``sigqueue(3)``; ``addr``/``trapno``/``addr_lsb`` for faults;
    ``band``/``fd`` for ``SIGIO``; ``tid``/``overrun`` for POSIX timers;
    ``syscall``/``call_addr``/``arch`` for ``SIGSYS`` from seccomp.
    Numbers are plain ints (``signal`` compares equal to
    :class:`signal.Signals` members).  ``code`` is the kernel's own value:
    ``signal.pthread_kill``/``raise(3)`` give ``SI_TKILL``, which glibc's
    ``sigwaitinfo`` (and so :func:`signal.sigwaitinfo`) reports as
    ``SI_USER``.
    """
    for _name, _doc in _FIELDS.items():
        getattr(Signal, _name).__doc__ = _doc
    del _name, _doc

    def __repr__(self: Signal) -> str:
        """``<Signal SIGCHLD code=CLD_EXITED pid=12 uid=0 status=3>``: the
        fields that mean something for this signal and code (every field
        stays readable by name and by index)."""
        signo, code = self[0], self[2]
        name = getattr(_KNOWN.get(signo), "name", None) or str(signo)
        parts = [name]
        if signo == _SIGCHLD and code in _CLD_NAMES:
            parts.append(f"code={_CLD_NAMES[code]} pid={self[3]} uid={self[4]}")
            status = self[10]
            if code != CLD_EXITED:  # the signal that killed, stopped... it
                status = getattr(_KNOWN.get(status), "name", None) or status
            parts.append(f"status={status}")
        else:
            parts.append(f"code={_SI_NAMES.get(code, code)}")
            if code in (SI_USER, SI_QUEUE, SI_TKILL):
                parts.append(f"pid={self[3]} uid={self[4]}")
            if code == SI_QUEUE:
                parts.append(f"int={self[11]}")
        if self[1]:
            parts.append(f"errno={self[1]}")
        return f"<Signal {' '.join(parts)}>"

    Signal.__repr__ = __repr__
    del __repr__

_SIGCHLD = int(_signal_mod.SIGCHLD)
_SI_NAMES = {
    SI_USER: "SI_USER", SI_KERNEL: "SI_KERNEL", SI_QUEUE: "SI_QUEUE", SI_TIMER: "SI_TIMER",
    SI_MESGQ: "SI_MESGQ", SI_ASYNCIO: "SI_ASYNCIO", SI_SIGIO: "SI_SIGIO", SI_TKILL: "SI_TKILL",
}  # fmt: skip
_CLD_NAMES = {
    CLD_EXITED: "CLD_EXITED", CLD_KILLED: "CLD_KILLED", CLD_DUMPED: "CLD_DUMPED",
    CLD_TRAPPED: "CLD_TRAPPED", CLD_STOPPED: "CLD_STOPPED", CLD_CONTINUED: "CLD_CONTINUED",
}  # fmt: skip

_SIZE = _SIGINFO.size
_BUFSIZE = 16 * _SIZE  # records per read(2)
_iter_unpack = _SIGINFO.iter_unpack
_unpack_from = _SIGINFO.unpack_from
_new = tuple.__new__
_read = os.read
_read_nowait = lib.butter_read_nowait
#: The read buffers: (bytearray, pointer to it) pairs.  Each call pops
#: one (a new one if none is free) and puts it back: never shared, even
#: with a signal handler that reads in the middle of a read (list.pop and
#: append are atomic).
_SPARE: List[Tuple[bytearray, Any]] = []


def _spare() -> Tuple[bytearray, Any]:
    """A free read buffer (give it back with ``_SPARE.append``)."""
    try:
        return _SPARE.pop()
    except IndexError:
        data = bytearray(_BUFSIZE)
        return data, ffi.from_buffer(data)


_EAGAIN: int = lib.EAGAIN
_EINTR: int = lib.EINTR
_EOPNOTSUPP: int = lib.EOPNOTSUPP

# What pthread_sigmask returns: Signals members where known, else ints.
_KNOWN = {int(s): s for s in _signal_mod.Signals}


def _as_signal(n: int) -> SignalNumber:
    return _KNOWN.get(n, n)


def _records_iter(data: bytes, size: int) -> List[Signal]:
    """The *size* bytes of whole records in *data* as Signals (CPython)."""
    return [_new(Signal, values) for values in _iter_unpack(data)]


def _records_loop(data: bytes, size: int) -> List[Signal]:
    """The same for PyPy: its JIT turns struct.unpack_from in a loop into
    plain loads, but not iter_unpack, which is ~9x slower there (16
    records, one read's worth)."""
    return [_new(Signal, _unpack_from(data, off)) for off in range(0, size, _SIZE)]


_records = _records_loop if sys.implementation.name == "pypy" else _records_iter


def str_to_events(buf: bytes) -> List[Signal]:
    """Parse the bytes read from a signalfd into :class:`Signal` records.

    *buf* is any bytes-like object holding whole ``struct signalfd_siginfo``
    records (``ValueError`` otherwise).
    """
    size = memoryview(buf).nbytes
    if size % _SIZE:
        raise ValueError(f"buffer size {size} is not a multiple of {_SIZE}")
    return _records(buf, size)


def _signal_list(signals: SignalsArg) -> List[int]:
    """Validate *signals* (one number or an iterable) into a list of ints."""
    if isinstance(signals, int) and not isinstance(signals, bool):
        items: Iterable[object] = (signals,)
    else:
        try:
            items = list(signals)  # type: ignore[arg-type]
        except TypeError:
            raise TypeError(
                "signals must be a signal number or an iterable of them, "
                f"not {type(signals).__name__!r}"
            ) from None
    result = []
    for item in items:
        n = check_int("signal number", item)
        if not 0 < n < _NSIG:
            raise ValueError(f"signal number {n} out of range [1; {_NSIG - 1}]")
        result.append(n)
    return result


def _signalfd(fd: int, signals: Iterable[int], flags: int) -> int:
    numbers = [int(n) for n in signals]
    array = ffi.new("int[]", numbers)
    while True:
        result: int = lib.butter_signalfd(fd, array, len(numbers), flags)
        if result >= 0:
            return result
        retry_or_raise()


def signalfd(signals: SignalsArg, fd: FdArg = -1, flags: int = 0) -> int:
    """Create a signalfd reading *signals*, or set the mask of signalfd *fd*.

    *signals* is one signal number or an iterable of them (1 .. 64).  With
    ``fd=-1`` a new fd is returned, always close-on-exec (PEP 446; use
    ``os.set_inheritable`` to pass it on); *flags* may add ``SFD_NONBLOCK``.
    With an existing signalfd (an int or an object with ``fileno()``) its
    mask is replaced and *fd* returned.  The signals must also be blocked
    (:func:`pthread_sigmask`) to reach the fd.
    """
    numbers = _signal_list(signals)
    flags = to_flags("flags", flags, _ALL_FLAGS, "int", "SFD_NONBLOCK, SFD_CLOEXEC")
    if isinstance(fd, int) and not isinstance(fd, bool) and fd == -1:
        fd = -1
        flags |= SFD_CLOEXEC
    else:
        fd = fileno(fd)
    return _signalfd(fd, numbers, flags)


def _mask_to_set(mask: int) -> Set[SignalNumber]:
    return {_as_signal(n) for n in range(1, _NSIG) if mask >> (n - 1) & 1}


def pthread_sigmask(action: int, signals: SignalsArg) -> Set[SignalNumber]:
    """Change the calling thread's signal mask; return the previous mask.

    As :func:`signal.pthread_sigmask`: *action* is ``SIG_BLOCK`` (add
    *signals*), ``SIG_UNBLOCK`` (remove them) or ``SIG_SETMASK`` (replace
    the mask); *signals* is an iterable of signal numbers (also accepted:
    one number, :func:`signal.valid_signals`); the result is a set of
    :class:`signal.Signals` members, or ints for unnamed real-time signals.
    ``pthread_sigmask(SIG_BLOCK, [])`` reads the mask.  Each thread has its
    own mask; a new thread starts with its creator's.
    """
    action = to_int("action", action, "int")
    numbers = _signal_list(signals)
    old = ffi.new("uint64_t *")
    err = lib.butter_pthread_sigmask(action, ffi.new("int[]", numbers), len(numbers), old)
    if err:
        raise_errno(err)
    return _mask_to_set(int(old[0]))


# -- what butter blocked, thread by thread ---------------------------------------
# A signal mask belongs to a thread, is inherited by the threads it starts and
# by its children (fork and exec keep it), and is shared by every Signalfd of
# the process.  So the blocks Signalfd objects make are counted here, per
# thread and per signal: a signal is unblocked when its last holder lets go,
# and only if it was unblocked before butter blocked it ("changed").
_holds_lock = allocate_lock()
#: thread ident -> {signal: [holders, changed]}
_holds: Dict[int, Dict[int, List[int]]] = {}
#: Bumped by restore_sigmask() (and so in every forked child): the holds
#: objects recorded before are void.
_generation = 0
#: Signals glibc keeps for itself and never blocks (32, 33).
_GLIBC_RESERVED = frozenset(range(32, int(_signal_mod.SIGRTMIN)))


def _hold(signals: AbstractSet[int]) -> Set[SignalNumber]:
    """Block *signals* in the calling thread for one more holder; return
    the previous mask."""
    table = _holds.setdefault(get_ident(), {})
    old = pthread_sigmask(SIG_BLOCK, signals)
    for n in signals:
        entry = table.get(n)
        if entry is None:
            table[n] = [1, n not in old]
        else:
            entry[0] += 1
    return old


def _release(signals: AbstractSet[int]) -> Set[SignalNumber]:
    """One holder fewer for *signals* in the calling thread: unblock those
    whose last holder left and that butter had blocked; return the previous
    mask."""
    tid = get_ident()
    table = _holds.get(tid, {})
    unblock = []
    for n in signals:
        entry = table.get(n)
        if entry is None:
            continue
        entry[0] -= 1
        if entry[0] <= 0:
            del table[n]
            if entry[1]:
                unblock.append(n)
    if not table:
        _holds.pop(tid, None)
    return pthread_sigmask(SIG_UNBLOCK, unblock)


def restore_sigmask() -> None:
    """Unblock, in the calling thread, every signal that :class:`Signalfd`
    objects blocked there (only those that were unblocked before), and
    forget every block butter made: made for a **child process**.

    Python runs it in every child it forks itself (``os.fork``,
    ``multiprocessing``'s ``fork``/``forkserver``, ``subprocess`` with a
    ``preexec_fn``), so such children start with the mask the process had
    before butter blocked anything, whatever they exec.  ``subprocess``
    without a ``preexec_fn`` (and so ``asyncio.create_subprocess_exec``)
    forks in C and runs no Python code: pass ``preexec_fn=restore_sigmask``
    there.  A :class:`Signalfd` inherited by a forked child no longer blocks
    its signals in the child; call its :meth:`~Signalfd.block` again to
    read them there.
    """
    global _generation, _holds_lock
    _holds_lock = allocate_lock()  # after fork, another thread may have held it
    table = _holds.get(get_ident(), {})
    unblock = [n for n, (_, changed) in table.items() if changed]
    _holds.clear()
    _generation += 1
    if unblock:
        pthread_sigmask(SIG_UNBLOCK, unblock)


if hasattr(os, "register_at_fork"):  # not on every PyPy
    os.register_at_fork(after_in_child=restore_sigmask)


def _threads_not_blocking(signals: AbstractSet[int]) -> int:
    """How many other threads of the process do not block all of *signals*
    (from ``/proc/self/task/*/status``; 0 if it cannot be read)."""
    want = 0
    for n in signals:
        if n not in _GLIBC_RESERVED:
            want |= 1 << (n - 1)
    try:
        tasks = os.listdir("/proc/self/task")
    except OSError:
        return 0
    if len(tasks) <= 1 or not want:
        return 0
    me = str(get_native_id()) if get_native_id is not None else ""
    count = 0
    for task in tasks:
        if task == me:
            continue
        try:
            with open(f"/proc/self/task/{task}/status", "rb") as f:
                status = f.read()
        except OSError:  # it exited
            continue
        start = status.find(b"\nSigBlk:")
        if start < 0:
            continue
        blocked = int(status[start + 9 : status.index(b"\n", start + 1)].strip(), 16)
        if blocked & want != want:
            count += 1
    return count


def _warn_other_threads(signals: AbstractSet[int]) -> None:
    count = _threads_not_blocking(signals)
    if count:
        import warnings

        names = ", ".join(getattr(_as_signal(n), "name", str(n)) for n in sorted(signals))
        warnings.warn(
            f"{count} other thread(s) of this process do not block {names}: the kernel "
            "may deliver a signal sent to the process there (handler or default action, "
            "e.g. termination) instead of queuing it for the signalfd.  Block before "
            "starting threads (they inherit the mask), or in each thread",
            RuntimeWarning,
            stacklevel=4,
        )


def _read_error(data: bytes) -> OSError:
    return OSError(errno.EIO, f"short read from signalfd ({len(data)} bytes)")


class Signalfd(EventLike[Signal]):
    """A signalfd watching a set of signals; its events are :class:`Signal`.

    ``Signalfd(signals=(), flags=0, *, block=False)``: *signals* is one
    number or an iterable; *flags* may be ``SFD_NONBLOCK``.
    :meth:`enable`, :meth:`disable`, :meth:`enable_all` and
    :meth:`disable_all` change the watched set (``signals``,
    ``sig in obj``).

    The watched signals only reach the fd while they are blocked.  Block
    them yourself with :func:`pthread_sigmask`, or pass ``block=True`` (or
    call :meth:`block`): the object then blocks its signals *in the calling
    thread*, and keeps doing so as :meth:`enable`/:meth:`disable` (called
    in that thread) change them, until :meth:`unblock` or :meth:`close`,
    which restore exactly what it changed: a signal the thread blocked
    already stays blocked, one another Signalfd still blocks too.  A
    signal that arrived meanwhile and was not read is then delivered the
    usual way.  Block in the main thread before starting other threads
    (they inherit the mask), or in every thread: :meth:`block` warns
    (``RuntimeWarning``) when other threads do not block the signals.
    Children forked by Python start unblocked (see :func:`restore_sigmask`;
    ``subprocess`` needs ``preexec_fn=restore_sigmask``).

    Threads may share it: each signal goes to one reader, ``wait()``
    returns in time even when another thread reads first, and ``close()``
    wakes threads in ``wait()``, ``read_event()`` and iteration (a reader
    sleeps in ``poll``, never in ``read(2)``, which Linux would not
    interrupt).
    """

    def __init__(self, signals: SignalsArg = (), flags: int = 0, *, block: bool = False) -> None:
        numbers = _signal_list(signals)
        super().__init__(signalfd(numbers, -1, flags))
        self._signals: FrozenSet[SignalNumber] = frozenset(
            _as_signal(n) for n in numbers if n not in _UNREADABLE
        )
        #: thread ident -> the signals this object blocks there (see _hold)
        self._held: Dict[int, FrozenSet[int]] = {}
        self._generation = _generation
        if block:
            self.block()

    # -- reading (the hot path: one preadv2(RWF_NOWAIT) of up to 16 records) --
    # The kernel dequeues each signal for exactly one read, so reads need no
    # lock.  A read never sleeps in read(2): with nothing pending, read_event()
    # sleeps in EventLike's poll loop (on the fd and the close wake-up, so
    # close() wakes it), as wait() does, which returns in time even when
    # another thread takes the signal first.
    def read_event(self) -> Signal:
        """Return the next signal; blocks unless ``SFD_NONBLOCK``
        (``BlockingIOError`` when none is pending)."""
        cache = self._cache
        if cache:
            try:
                return cache.popleft()
            except IndexError:
                pass  # another thread took it
        fd = self._fd
        if fd < 0:
            raise self._closed_error()
        data, ptr = spare = _spare()
        n: int = _read_nowait(fd, ptr, _BUFSIZE)  # never sleeps
        if n == _SIZE:
            event = _new(Signal, _unpack_from(data))
            _SPARE.append(spare)
            return event
        records = bytes(data[:n]) if n > 0 else b""
        _SPARE.append(spare)
        if not records:
            # Nothing pending (EAGAIN), interrupted, refused (old kernel,
            # closed...): the poll loop, where close() wakes the sleeper.
            return super().read_event()
        events = self._parse(records)
        cache.extend(events[1:])
        return events[0]

    def _read_nonblocking(self) -> List[Signal]:
        # The asyncio queue's read (O_NONBLOCK): os.read is the fastest.
        return self._parse(_read(self._fd, _BUFSIZE))

    def _read_from_kernel(self) -> List[Signal]:
        fd = self._fd
        data, ptr = spare = _spare()
        try:
            while True:
                n: int = _read_nowait(fd, ptr, _BUFSIZE)
                if n >= 0:
                    return self._parse(bytes(data[:n]))
                err = ffi.errno
                if err == _EAGAIN:
                    return []  # another reader was first
                if err == _EOPNOTSUPP:  # an old kernel: poll said it is ready
                    return self._parse(_read(fd, _BUFSIZE))
                if err != _EINTR:
                    raise_errno(err)
        finally:
            _SPARE.append(spare)

    @staticmethod
    def _parse(data: bytes) -> List[Signal]:
        if not data or len(data) % _SIZE:
            raise _read_error(data)
        return _records(data, len(data))

    # -- the watched set -------------------------------------------------------
    @property
    def signals(self) -> FrozenSet[SignalNumber]:
        """The watched signals (:class:`signal.Signals` members where known)."""
        return self._signals

    def __contains__(self, sig: object) -> bool:
        if self._fd < 0:
            raise self._closed_error()
        return sig in self._signals

    def _set(self, new: AbstractSet[SignalNumber]) -> None:
        _signalfd(self.fileno(), new, 0)
        self._signals = frozenset(new)

    def enable(self, signals: SignalsArg) -> None:
        """Watch *signals* (one number or an iterable) too."""
        self.fileno()
        added = {_as_signal(n) for n in _signal_list(signals) if n not in _UNREADABLE}
        mine = self._mine()
        if mine is not None:
            # Block first: a signal arriving in between stays pending.
            numbers = {int(n) for n in added}
            with _holds_lock:
                _hold(numbers - mine)
                self._held[get_ident()] = mine | numbers
        self._set(self._signals | added)

    def disable(self, signals: SignalsArg) -> None:
        """Stop watching *signals* (one number or an iterable)."""
        self.fileno()
        removed = self._signals.intersection(_signal_list(signals))
        self._set(self._signals - removed)
        mine = self._mine()
        if mine is not None and removed:
            gone = mine.intersection(int(n) for n in removed)
            with _holds_lock:
                _release(gone)
                self._held[get_ident()] = mine - gone

    def enable_all(self) -> None:
        """Watch every signal that can be caught (:func:`signal.valid_signals`
        minus SIGKILL and SIGSTOP)."""
        self.enable([n for n in _signal_mod.valid_signals() if n not in _UNREADABLE])

    def disable_all(self) -> None:
        """Watch nothing (the fd stays open)."""
        self.disable(self._signals)

    # -- blocking in the calling thread --------------------------------------
    def _mine(self) -> Optional[FrozenSet[int]]:
        """The signals this object blocks in the calling thread, or ``None``
        if it blocks nothing there (holds from before a fork are void)."""
        if self._generation != _generation:
            self._held = {}
            self._generation = _generation
        return self._held.get(get_ident())

    def block(self) -> Set[SignalNumber]:
        """Block the watched signals in the calling thread, now and as
        :meth:`enable` adds more, until :meth:`unblock` or :meth:`close`;
        return the thread's previous mask.

        Warns (``RuntimeWarning``) if other threads of the process do not
        block them: a signal sent to the process may go to such a thread
        (its handler or default action runs there: ``SIGTERM`` ends the
        process) and never reach the fd.  Masks of other threads cannot be
        changed from here.
        """
        self.fileno()
        mine = self._mine() or frozenset()
        wanted = {int(n) for n in self._signals}
        with _holds_lock:
            old = _hold(wanted - mine)
            self._held[get_ident()] = mine | wanted
        _warn_other_threads(wanted)
        return old

    def unblock(self) -> Set[SignalNumber]:
        """Undo what :meth:`block` did in the calling thread: unblock the
        signals it blocked there that were not blocked before and that no
        other Signalfd blocks; return the previous mask.  Pending ones are
        delivered at once (handler or default action) unless read first."""
        self.fileno()
        return self._unblock_here()

    def _unblock_here(self) -> Set[SignalNumber]:
        mine = self._mine()
        with _holds_lock:
            if mine is None:
                return pthread_sigmask(SIG_BLOCK, ())  # reads the mask
            del self._held[get_ident()]
            return _release(mine)

    def close(self) -> None:
        """Close the fd, then restore the calling thread's mask as
        :meth:`unblock` does.  Calling it again does nothing.  Blocks made
        in other threads stay (a thread's mask can only be changed by that
        thread): a ``RuntimeWarning`` says so."""
        if self._fd < 0:
            return
        super().close()
        if self._mine() is not None:
            self._unblock_here()
        if self._held:
            import warnings

            self._held = {}
            warnings.warn(
                "Signalfd closed in another thread than the one(s) that blocked its "
                "signals: they stay blocked there (call unblock() in that thread)",
                RuntimeWarning,
                stacklevel=2,
            )

    def _repr_info(self) -> str:
        names = [getattr(s, "name", str(s)) for s in sorted(self._signals)]
        return f"signals={{{', '.join(names)}}}"


# -- compatibility with Butter 0.9/0.13.1 -------------------------------------
# Old spellings, each warning with DeprecationWarning (see butter._compat).
from . import _compat  # noqa: E402

if not TYPE_CHECKING:  # type checkers see the new API only
    #: 0.9's ``how=``; 0.13.1's ``closefd=``; ``Signalfd(sigmask=...)``.
    pthread_sigmask = _compat.old_keywords(
        pthread_sigmask, {"how": "action"}, where="pthread_sigmask(): "
    )
    signalfd = _compat.old_keywords(signalfd, closefd=True, where="signalfd(): ")
_compat.patch_init(Signalfd, {"sigmask": "signals"}, closefd=True)

# 0.13.1's Signal properties, under butter's field names.
for _old_name, _new_name in (
    ("signal_code", "code"),
    ("sigio_fd", "fd"),
    ("timer_id", "tid"),
    ("sigio_band", "band"),
    ("child_status", "status"),
    ("child_user_time", "utime"),
    ("child_system_time", "stime"),
):
    _compat.alias_property(Signal, _old_name, _new_name)
del _old_name, _new_name


def _signum_to_signame() -> dict[int, str]:
    # As the original: every SIGxxx name without an underscore, by number.
    return {
        int(v): k
        for k, v in vars(_signal_mod).items()
        if k.startswith("SIG") and "_" not in k and isinstance(v, int)
    }


if not TYPE_CHECKING:
    __getattr__ = _compat.module_getattr(
        __name__,
        {"NEW_SIGNALFD": lambda: -1, "signum_to_signame": _signum_to_signame},
        {
            "NEW_SIGNALFD": "-1 (the default fd of signalfd())",
            "signum_to_signame": "signal.Signals(n).name",
        },
    )
