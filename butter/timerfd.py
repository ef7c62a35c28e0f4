"""timerfd(2): kernel timers delivered through a file descriptor.

Thin wrappers (:func:`timerfd`, :func:`timerfd_settime`,
:func:`timerfd_gettime`) are one call each to ``timerfd_create``,
``timerfd_settime`` and ``timerfd_gettime``; times go in and out as
:class:`TimerSpec` objects, whose names follow ``os.timerfd_settime``
(Python 3.13+): ``initial``/``interval`` in float seconds,
``initial_ns``/``interval_ns`` in integer nanoseconds.  :class:`Timer` owns
the fd and configures it fluently::

    with Timer().every(seconds=1).after(seconds=0.5).update() as timer:
        for expirations in timer:   # blocks until the timer fires
            ...

Kernel semantics: a timer has an *initial* expiration (relative to now, or
an absolute time on its clock with ``TFD_TIMER_ABSTIME``) and an optional
*interval* after which it fires again.  An initial value of 0 disarms the
timer.  Each ``read(2)`` returns the number of expirations since the
previous read (or since the timer was last set) and resets that count; the
fd is readable while the count is non-zero.  Re-arming a timer resets the
count.  Expirations are counted, never dropped, however late the reader.

What butter adds: close-on-exec fds, argument checks before any syscall
(negative or NaN times raise ``ValueError``, times beyond ``2**63 - 1``
nanoseconds ``OverflowError``), float seconds rounded to the nearest
nanosecond, ``EINTR`` retried, and an allocation-free read path.
"""

from __future__ import annotations

import operator
import time

from ._args import RANGES, FdArg, fileno, to_flags, to_int
from ._counter import CounterFd
from ._errors import retry_or_raise
from ._lowlevel import ffi, lib

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import ClassVar, Iterator, Optional, Tuple, Union

    from typing_extensions import Self

    TimerSpecArg = Union["TimerSpec", Tuple[float, float]]

__all__ = [
    "CLOCK_BOOTTIME",
    "CLOCK_BOOTTIME_ALARM",
    "CLOCK_MONOTONIC",
    "CLOCK_REALTIME",
    "CLOCK_REALTIME_ALARM",
    "TFD_CLOEXEC",
    "TFD_NONBLOCK",
    "TFD_TIMER_ABSTIME",
    "TFD_TIMER_CANCEL_ON_SET",
    "Timer",
    "TimerSpec",
    "Timerfd",
    "timerfd",
    "timerfd_gettime",
    "timerfd_settime",
]

#: Wall-clock time; jumps when the system time is set.
CLOCK_REALTIME: int = lib.CLOCK_REALTIME
#: Time since an unspecified start; never jumps, stops during suspend.
CLOCK_MONOTONIC: int = lib.CLOCK_MONOTONIC
#: Like ``CLOCK_MONOTONIC`` but keeps counting during suspend.
CLOCK_BOOTTIME: int = lib.CLOCK_BOOTTIME
#: ``CLOCK_REALTIME`` that wakes a suspended system (needs ``CAP_WAKE_ALARM``).
CLOCK_REALTIME_ALARM: int = lib.CLOCK_REALTIME_ALARM
#: ``CLOCK_BOOTTIME`` that wakes a suspended system (needs ``CAP_WAKE_ALARM``).
CLOCK_BOOTTIME_ALARM: int = lib.CLOCK_BOOTTIME_ALARM

_CLOCK_NAMES = {
    CLOCK_REALTIME: "CLOCK_REALTIME",
    CLOCK_MONOTONIC: "CLOCK_MONOTONIC",
    CLOCK_BOOTTIME: "CLOCK_BOOTTIME",
    CLOCK_REALTIME_ALARM: "CLOCK_REALTIME_ALARM",
    CLOCK_BOOTTIME_ALARM: "CLOCK_BOOTTIME_ALARM",
}

#: timerfd(): close-on-exec (butter always sets it).
TFD_CLOEXEC: int = lib.TFD_CLOEXEC
#: timerfd(): reads fail with ``BlockingIOError`` instead of blocking.
TFD_NONBLOCK: int = lib.TFD_NONBLOCK
#: timerfd_settime(): *initial* is an absolute time on the timer's clock.
TFD_TIMER_ABSTIME: int = lib.TFD_TIMER_ABSTIME
#: timerfd_settime(): with ``TFD_TIMER_ABSTIME`` on a ``CLOCK_REALTIME*``
#: timer, reads fail with ``ECANCELED`` when the clock is set discontinuously.
TFD_TIMER_CANCEL_ON_SET: int = lib.TFD_TIMER_CANCEL_ON_SET

_CREATE_FLAGS = TFD_CLOEXEC | TFD_NONBLOCK
_SETTIME_FLAGS = TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET
_NS_PER_SEC = 1_000_000_000
_MAX_NS = RANGES["int64_t"][1]  # the C side takes int64_t nanoseconds
_TOO_BIG = float(_MAX_NS + 1)
_timerfd_settime = lib.butter_timerfd_settime
_timerfd_gettime = lib.butter_timerfd_gettime
_new = ffi.new
_PAIR = ffi.typeof("int64_t[2]")
# The alarm clocks read the same time as their base clocks, but
# clock_gettime() on them fails (EINVAL) on machines without an RTC.
_READ_CLOCK = {
    CLOCK_REALTIME_ALARM: CLOCK_REALTIME,
    CLOCK_BOOTTIME_ALARM: CLOCK_BOOTTIME,
}


# -- conversions ---------------------------------------------------------------
def _seconds_to_ns(name: str, value: object) -> int:
    """Seconds (int or float) to whole nanoseconds, rounded to nearest."""
    if isinstance(value, float):
        if value != value:
            raise ValueError(f"{name} must not be NaN")
        if value < 0:
            raise ValueError(f"{name} must not be negative")
        scaled = value * _NS_PER_SEC
        if scaled >= _TOO_BIG:
            raise OverflowError(f"{name} is too large (at most {_MAX_NS} ns)")
        ns = round(scaled)
    else:
        if isinstance(value, bool):
            raise TypeError(f"{name} must be a number of seconds, not 'bool'")
        try:
            seconds = operator.index(value)  # type: ignore[arg-type]
        except TypeError:
            raise TypeError(
                f"{name} must be a number of seconds (int or float), not {type(value).__name__!r}"
            ) from None
        if seconds < 0:
            raise ValueError(f"{name} must not be negative")
        ns = seconds * _NS_PER_SEC
    if ns > _MAX_NS:
        raise OverflowError(f"{name} is too large (at most {_MAX_NS} ns)")
    return ns


def _check_ns(name: str, value: object) -> int:
    return to_int(name, value, "int64_t", 0)


def _duration_ns(seconds: object, nano_seconds: object) -> int:
    """``seconds + nano_seconds`` in ns; a part left as None counts as 0."""
    ns = 0 if seconds is None else _seconds_to_ns("seconds", seconds)
    if nano_seconds is not None:
        ns += _check_ns("nano_seconds", nano_seconds)
        if ns > _MAX_NS:
            raise OverflowError(f"seconds + nano_seconds is too large (at most {_MAX_NS} ns)")
    return ns


class TimerSpec:
    """A timer setting: *initial* (time to the next expiration) and
    *interval* (the period; 0 for a one-shot timer), as in
    ``struct itimerspec``.

    Built from seconds (``int`` or ``float``, rounded to the nearest
    nanosecond) and stored as whole nanoseconds, so values read back from
    the kernel round-trip exactly.  ``initial``/``interval`` give float
    seconds, ``initial_ns``/``interval_ns`` integer nanoseconds (all four
    are settable).  A ``TimerSpec`` unpacks as the 2-tuple
    ``(initial, interval)`` that ``os.timerfd_gettime`` returns, and
    compares equal to another ``TimerSpec`` with the same nanoseconds or to
    that 2-tuple.

    :meth:`after` and :meth:`every` set the two fields fluently::

        TimerSpec().every(seconds=1).after(nano_seconds=500_000)
    """

    __slots__ = ("_initial_ns", "_interval_ns")

    _initial_ns: int
    _interval_ns: int

    def __init__(self, initial: float = 0.0, interval: float = 0.0) -> None:
        self._initial_ns = _seconds_to_ns("initial", initial)
        self._interval_ns = _seconds_to_ns("interval", interval)

    @classmethod
    def from_ns(cls, initial_ns: int = 0, interval_ns: int = 0) -> TimerSpec:
        """Build a ``TimerSpec`` from integer nanoseconds."""
        spec = cls.__new__(cls)
        spec._initial_ns = _check_ns("initial_ns", initial_ns)
        spec._interval_ns = _check_ns("interval_ns", interval_ns)
        return spec

    # -- the four views ----------------------------------------------------
    @property
    def initial(self) -> float:
        """Seconds to the next expiration (0.0: disarmed)."""
        return self._initial_ns / _NS_PER_SEC

    @initial.setter
    def initial(self, value: float) -> None:
        self._initial_ns = _seconds_to_ns("initial", value)

    @property
    def interval(self) -> float:
        """Seconds between expirations (0.0: fires once)."""
        return self._interval_ns / _NS_PER_SEC

    @interval.setter
    def interval(self, value: float) -> None:
        self._interval_ns = _seconds_to_ns("interval", value)

    @property
    def initial_ns(self) -> int:
        """:attr:`initial` in nanoseconds."""
        return self._initial_ns

    @initial_ns.setter
    def initial_ns(self, value: int) -> None:
        self._initial_ns = _check_ns("initial_ns", value)

    @property
    def interval_ns(self) -> int:
        """:attr:`interval` in nanoseconds."""
        return self._interval_ns

    @interval_ns.setter
    def interval_ns(self, value: int) -> None:
        self._interval_ns = _check_ns("interval_ns", value)

    # -- fluent setters ------------------------------------------------------
    def after(self, seconds: Optional[float] = None, nano_seconds: Optional[int] = None) -> Self:
        """Set :attr:`initial` to ``seconds + nano_seconds`` (a part left
        out counts as 0, so ``after()`` disarms); return ``self``."""
        self._initial_ns = _duration_ns(seconds, nano_seconds)
        return self

    def every(self, seconds: Optional[float] = None, nano_seconds: Optional[int] = None) -> Self:
        """Set :attr:`interval` to ``seconds + nano_seconds`` (a part left
        out counts as 0, so ``every()`` makes a one-shot timer); return
        ``self``."""
        self._interval_ns = _duration_ns(seconds, nano_seconds)
        return self

    # -- tuple-like behaviour ----------------------------------------------
    def __iter__(self) -> Iterator[float]:
        yield self._initial_ns / _NS_PER_SEC
        yield self._interval_ns / _NS_PER_SEC

    def __len__(self) -> int:
        return 2

    def __getitem__(self, index: int) -> float:
        """``spec[0]`` is ``initial``, ``spec[1]`` ``interval`` (as the tuple
        ``os.timerfd_gettime`` returns); slices and negative indexes work."""
        return (self._initial_ns / _NS_PER_SEC, self._interval_ns / _NS_PER_SEC)[index]

    def __eq__(self, other: object) -> bool:
        if isinstance(other, TimerSpec):
            return self._initial_ns == other._initial_ns and self._interval_ns == other._interval_ns
        if isinstance(other, tuple) and len(other) == 2:
            return tuple(self) == other
        return NotImplemented

    __hash__: ClassVar[None] = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        return f"TimerSpec(initial={self.initial!r}, interval={self.interval!r})"


def _spec_ns(timer_spec: object) -> Tuple[int, int]:
    if isinstance(timer_spec, TimerSpec):
        return timer_spec._initial_ns, timer_spec._interval_ns
    if isinstance(timer_spec, tuple) and len(timer_spec) == 2:
        return (
            _seconds_to_ns("initial", timer_spec[0]),
            _seconds_to_ns("interval", timer_spec[1]),
        )
    raise TypeError(
        "timer_spec must be a TimerSpec or an (initial, interval) tuple, "
        f"not {type(timer_spec).__name__!r}"
    )


def _check_settime_flags(flags: object) -> int:
    return to_flags(
        "flags", flags, _SETTIME_FLAGS, "int", "TFD_TIMER_ABSTIME, TFD_TIMER_CANCEL_ON_SET"
    )


_new_object = object.__new__


def _spec_from(pair: object) -> TimerSpec:
    """A TimerSpec from the kernel's (already valid) ``int64_t[2]``."""
    spec: TimerSpec = _new_object(TimerSpec)
    spec._initial_ns, spec._interval_ns = pair  # type: ignore[misc]
    return spec


def _settime(fd: int, flags: int, initial_ns: int, interval_ns: int) -> TimerSpec:
    old = _new(_PAIR)
    while _timerfd_settime(fd, flags, initial_ns, interval_ns, old) < 0:
        retry_or_raise()
    return _spec_from(old)


def _gettime(fd: int) -> TimerSpec:
    cur = _new(_PAIR)
    while _timerfd_gettime(fd, cur) < 0:
        retry_or_raise()
    return _spec_from(cur)


# -- thin wrappers ---------------------------------------------------------------
def timerfd(clock_type: int = CLOCK_MONOTONIC, flags: int = 0) -> int:
    """Create a disarmed timer on clock *clock_type*; return its fd.

    *clock_type* is one of the ``CLOCK_*`` constants (the ``*_ALARM``
    clocks need ``CAP_WAKE_ALARM``, else ``PermissionError``); *flags* may
    hold ``TFD_NONBLOCK``.  The fd is always close-on-exec (PEP 446); use
    ``os.set_inheritable`` to pass it to a child.
    """
    clock_type = to_int("clock_type", clock_type, "int")
    flags = to_flags("flags", flags, _CREATE_FLAGS, "int", "TFD_NONBLOCK, TFD_CLOEXEC")
    flags |= TFD_CLOEXEC
    while True:
        fd: int = lib.timerfd_create(clock_type, flags)
        if fd >= 0:
            return fd
        retry_or_raise()


def timerfd_settime(fd: FdArg, timer_spec: TimerSpecArg, flags: int = 0) -> TimerSpec:
    """Arm (or, with an initial value of 0, disarm) the timer; return its
    previous setting.

    *timer_spec* is a :class:`TimerSpec` or an ``(initial, interval)``
    tuple of seconds.  *flags*: ``TFD_TIMER_ABSTIME`` makes *initial* an
    absolute time on the timer's clock (e.g. from ``time.clock_gettime``);
    ``TFD_TIMER_CANCEL_ON_SET`` (see the constant).  Setting the timer
    resets its count of unread expirations.
    """
    if type(fd) is not int or fd < 0:
        fd = fileno(fd)
    if type(timer_spec) is TimerSpec:
        initial_ns, interval_ns = timer_spec._initial_ns, timer_spec._interval_ns
    else:
        initial_ns, interval_ns = _spec_ns(timer_spec)
    if flags or type(flags) is not int:
        flags = _check_settime_flags(flags)
    return _settime(fd, flags, initial_ns, interval_ns)


def timerfd_gettime(fd: FdArg) -> TimerSpec:
    """Return the timer's current setting: *initial* is the time left to
    the next expiration (always relative, even for an absolute timer; 0.0
    when disarmed), *interval* the period."""
    return _gettime(fileno(fd))


# -- the event-like object ---------------------------------------------------------
class Timer(CounterFd):
    """A timerfd as a file-like, pollable object.

    Configure with :meth:`every` and :meth:`after`, apply with
    :meth:`update`; each returns the timer, so they chain::

        timer = Timer().every(seconds=1).after(seconds=0.5).update()

    ``read_event()`` returns the number of expirations since the previous
    read (blocking until there is at least one unless ``TFD_NONBLOCK`` was
    given).  The fd is readable (``select``/``poll``/asyncio) while that
    number is non-zero.

    Threads may share it: each read takes the expirations since the last,
    for one reader; ``wait()`` returns in time even when another thread
    reads first, and ``close()`` wakes threads in ``wait()``,
    ``read_event()`` and iteration (a reader sleeps in ``poll``, never in
    ``read(2)``, which Linux would not interrupt).

    The default clock is ``CLOCK_MONOTONIC``; Butter 0.9's ``Timerfd``
    defaulted to ``CLOCK_REALTIME`` (pass it explicitly for wall-clock timers).
    """

    def __init__(self, clock_type: int = CLOCK_MONOTONIC, flags: int = 0) -> None:
        super().__init__(timerfd(clock_type, flags))
        self._clock = int(clock_type)
        self._spec = TimerSpec()
        # Receives the old setting, which update()/disable() discard.
        self._old = _new(_PAIR)

    @property
    def clock_type(self) -> int:
        """The clock the timer runs on (a ``CLOCK_*`` value)."""
        return self._clock

    @property
    def timer_spec(self) -> TimerSpec:
        """The setting :meth:`update` will apply (the object itself:
        changing it changes the timer's configuration)."""
        return self._spec

    def every(self, seconds: Optional[float] = None, nano_seconds: Optional[int] = None) -> Self:
        """Configure the period to ``seconds + nano_seconds`` (a part left
        out counts as 0; both left out: fire once).  Takes effect at
        :meth:`update`.  Returns the timer."""
        if self._fd < 0:
            raise self._closed_error()
        self._spec.every(seconds, nano_seconds)
        return self

    def after(self, seconds: Optional[float] = None, nano_seconds: Optional[int] = None) -> Self:
        """Configure the first expiration, ``seconds + nano_seconds`` from
        :meth:`update` (or, with ``update(absolute=True)``, that time on the
        timer's clock).  Takes effect at :meth:`update`.  Returns the timer."""
        if self._fd < 0:
            raise self._closed_error()
        self._spec.after(seconds, nano_seconds)
        return self

    def update(self, absolute: bool = False, *, cancel_on_set: bool = False) -> Self:
        """Arm the kernel timer with the configured setting; return the timer.

        With *absolute* true, the :meth:`after` value is a time on the
        timer's clock (``TFD_TIMER_ABSTIME``); *cancel_on_set* adds
        ``TFD_TIMER_CANCEL_ON_SET``.  Unread expirations are discarded.

        butter's addition: when a period is configured but no first
        expiration (``every(...)`` without ``after(...)``), the timer first
        fires one period from now instead of staying disarmed as the kernel
        would leave it.  With neither configured, the timer is disarmed.
        """
        fd = self._fd
        if fd < 0:
            raise self._closed_error()
        initial_ns = self._spec._initial_ns
        interval_ns = self._spec._interval_ns
        flags = 0
        if absolute:
            flags |= TFD_TIMER_ABSTIME
        if cancel_on_set:
            flags |= TFD_TIMER_CANCEL_ON_SET
        if initial_ns == 0 and interval_ns:
            initial_ns = interval_ns
            if absolute:
                clock = self._clock
                initial_ns += time.clock_gettime_ns(_READ_CLOCK.get(clock, clock))
                if initial_ns > _MAX_NS:
                    raise OverflowError("the first expiration is too far in the future")
        while _timerfd_settime(fd, flags, initial_ns, interval_ns, self._old) < 0:
            retry_or_raise()
        return self

    def disable(self) -> Self:
        """Disarm the kernel timer (discarding unread expirations).  The
        configuration is kept: :meth:`update` re-arms it.  Returns the timer."""
        fd = self._fd
        if fd < 0:
            raise self._closed_error()
        while _timerfd_settime(fd, 0, 0, 0, self._old) < 0:
            retry_or_raise()
        return self

    def get_current(self) -> TimerSpec:
        """The kernel's current setting (see :func:`timerfd_gettime`)."""
        return _gettime(self.fileno())

    def _repr_info(self) -> str:
        clock = _CLOCK_NAMES.get(self._clock, str(self._clock))
        try:  # timerfd_gettime(2): never blocks; a stale fd just says EINVAL
            cur = _gettime(self._fd)
        except OSError:
            return clock
        if not cur._initial_ns:
            return f"{clock} disarmed"
        every = f" interval={cur.interval:g}" if cur._interval_ns else ""
        return f"{clock} next={cur.initial:g}{every}"


#: The original Butter's name for :class:`Timer`.
Timerfd = Timer


# -- compatibility with Butter 0.9/0.13.1 -------------------------------------
# Old spellings, each warning with DeprecationWarning (see butter._compat).
# Not kept: 0.9's ``Timerfd`` defaulted to CLOCK_REALTIME; butter's default
# is CLOCK_MONOTONIC (pass ``CLOCK_REALTIME`` for wall-clock timers).
from . import _compat  # noqa: E402


def _set_reoccuring(
    self: Timer,
    seconds: float,
    nano_seconds: int = 0,
    next_seconds: float = 0,
    next_nano_seconds: int = 0,
    absolute: bool = False,
) -> TimerSpec:
    """Deprecated (Butter 0.9): use ``every(...).after(...).update()``.
    Returns the previous setting, as 0.9 did."""
    if self._fd < 0:  # closed: ValueError before the warning
        raise self._closed_error()
    _compat.deprecated("Timer.set_reoccuring()", "Timer.every(...).after(...).update()")
    return _reoccuring(self, seconds, nano_seconds, next_seconds, next_nano_seconds, absolute)


def _reoccuring(
    self: Timer,
    seconds: float,
    nano_seconds: int = 0,
    next_seconds: float = 0,
    next_nano_seconds: int = 0,
    absolute: bool = False,
) -> TimerSpec:
    # 0.9 also took a float *seconds*; the first expiration is one period
    # from now unless next_seconds/next_nano_seconds say otherwise.
    self.every(seconds, nano_seconds)
    if next_seconds or next_nano_seconds:
        self.after(next_seconds, next_nano_seconds)
    else:
        self.after(seconds, nano_seconds)
    self.update(absolute)
    return _spec_from(self._old)


def _set_one_off(
    self: Timer, seconds: float, nano_seconds: int = 0, absolute: bool = False
) -> TimerSpec:
    """Deprecated (Butter 0.9): use ``every().after(...).update()``.
    Returns the previous setting, as 0.9 did."""
    if self._fd < 0:  # closed: ValueError before the warning
        raise self._closed_error()
    _compat.deprecated("Timer.set_one_off()", "Timer.every().after(...).update()")
    return _one_off(self, seconds, nano_seconds, absolute)


def _one_off(
    self: Timer, seconds: float, nano_seconds: int = 0, absolute: bool = False
) -> TimerSpec:
    self.every().after(seconds, nano_seconds).update(absolute)
    return _spec_from(self._old)


def _timer_enabled(self: Timer) -> bool:
    if self._fd < 0:  # closed: ValueError before the warning
        raise self._closed_error()
    _compat.deprecated("Timer.enabled", "Timer.get_current().initial_ns != 0")
    return self.get_current()._initial_ns != 0


def _timer_disabled(self: Timer) -> bool:
    if self._fd < 0:  # closed: ValueError before the warning
        raise self._closed_error()
    _compat.deprecated("Timer.disabled", "Timer.get_current().initial_ns == 0")
    return self.get_current()._initial_ns == 0


def _spec_next_event(self: TimerSpec) -> float:
    # 0.9's TimerSpec.next_event was float seconds (0.13.1's TimerVal gave a
    # (seconds, nano_seconds) TimePair; 0.9's meaning is kept).
    _compat.deprecated("TimerSpec.next_event", "TimerSpec.initial")
    return self.initial


def _spec_enabled(self: TimerSpec) -> bool:
    _compat.deprecated("TimerSpec.enabled", "TimerSpec.initial_ns != 0")
    return self._initial_ns != 0


def _spec_disabled(self: TimerSpec) -> bool:
    _compat.deprecated("TimerSpec.disabled", "TimerSpec.initial_ns == 0")
    return self._initial_ns == 0


def _fluent_self(name: str, owner: str) -> property:
    def getter(self: object) -> object:
        _compat.deprecated(f"{owner}.{name}", f"{owner} itself (drop .{name})")
        return self

    getter.__doc__ = f"Deprecated (Butter 0.13.1): ``x.{name}`` is ``x``."
    return property(getter)


_time_pair_type: list[type] = []


def _time_pair() -> type:
    """0.13.1's ``TimePair``, a ``(seconds, nano_seconds)`` namedtuple
    (built on first use: collections is not otherwise needed here)."""
    if not _time_pair_type:
        from collections import namedtuple

        _time_pair_type.append(namedtuple("TimePair", "seconds nano_seconds"))
    return _time_pair_type[0]


if not TYPE_CHECKING:  # type checkers see the new API only
    Timer.set_reoccuring = _set_reoccuring
    Timer.set_one_off = _set_one_off
    Timer.enabled = property(_timer_enabled)
    Timer.disabled = property(_timer_disabled)
    TimerSpec.next_event = property(_spec_next_event)
    TimerSpec.enabled = property(_spec_enabled)
    TimerSpec.disabled = property(_spec_disabled)
    for _cls in (Timer, TimerSpec):
        # 0.13.1's TimerVal fluent words: ``occuring``/``and_repeats`` are
        # the object itself, ``repeats``/``repeat`` are every(), ``offset``
        # after().
        _cls.occuring = _fluent_self("occuring", _cls.__name__)
        _cls.and_repeats = _fluent_self("and_repeats", _cls.__name__)
        _compat.alias_method(_cls, "repeats", "every")
        _compat.alias_method(_cls, "repeat", "every")
        _compat.alias_method(_cls, "offset", "after")
    del _cls

    __getattr__ = _compat.module_getattr(
        __name__,
        {"TimerVal": lambda: TimerSpec, "TimePair": _time_pair},
        {"TimerVal": "butter.timerfd.TimerSpec", "TimePair": "TimerSpec.initial_ns/interval_ns"},
    )

    #: 0.13.1's ``closefd=``.
    timerfd = _compat.old_keywords(timerfd, closefd=True, where="timerfd(): ")
    _compat.patch_init(Timer, closefd=True)
