"""butter.timerfd against the real kernel (and os.timerfd_* on 3.13+)."""

from __future__ import annotations

import errno
import fcntl
import gc
import math
import os
import select
import selectors
import signal
import sys
import time

import pytest
from conftest import assert_clean_error, in_child, open_fds

from butter import timerfd as tfd
from butter.timerfd import (
    CLOCK_BOOTTIME,
    CLOCK_BOOTTIME_ALARM,
    CLOCK_MONOTONIC,
    CLOCK_REALTIME,
    CLOCK_REALTIME_ALARM,
    TFD_NONBLOCK,
    TFD_TIMER_ABSTIME,
    TFD_TIMER_CANCEL_ON_SET,
    Timer,
    Timerfd,
    TimerSpec,
    timerfd,
    timerfd_gettime,
    timerfd_settime,
)

MS = 1_000_000  # ns
needs_os_timerfd = pytest.mark.skipif(
    not hasattr(os, "timerfd_create"), reason="os.timerfd_* needs CPython 3.13+"
)


@pytest.fixture
def fd():
    fd = timerfd()
    yield fd
    os.close(fd)


def is_cloexec(fd: int) -> bool:
    return bool(fcntl.fcntl(fd, fcntl.F_GETFD) & fcntl.FD_CLOEXEC)


# -- constants ----------------------------------------------------------------
def test_clock_constants_match_time_module():
    assert CLOCK_REALTIME == time.CLOCK_REALTIME
    assert CLOCK_MONOTONIC == time.CLOCK_MONOTONIC
    assert CLOCK_BOOTTIME == time.CLOCK_BOOTTIME
    # <linux/time.h> values; the time module does not export the alarm clocks.
    assert (CLOCK_REALTIME_ALARM, CLOCK_BOOTTIME_ALARM) == (8, 9)


@needs_os_timerfd
def test_tfd_constants_match_os():
    assert tfd.TFD_CLOEXEC == os.TFD_CLOEXEC
    assert TFD_NONBLOCK == os.TFD_NONBLOCK
    assert TFD_TIMER_ABSTIME == os.TFD_TIMER_ABSTIME
    assert TFD_TIMER_CANCEL_ON_SET == os.TFD_TIMER_CANCEL_ON_SET


def test_tfd_constants_match_o_flags():
    assert tfd.TFD_CLOEXEC == os.O_CLOEXEC
    assert TFD_NONBLOCK == os.O_NONBLOCK


def test_all_names_exist():
    for name in tfd.__all__:
        assert hasattr(tfd, name), name


# -- TimerSpec ----------------------------------------------------------------
def test_timerspec_defaults():
    spec = TimerSpec()
    assert (spec.initial, spec.interval) == (0.0, 0.0)
    assert (spec.initial_ns, spec.interval_ns) == (0, 0)
    assert type(spec.initial) is float
    assert tuple(spec) == (0.0, 0.0)


def test_timerspec_units_and_rounding():
    spec = TimerSpec(1.5, 2)
    assert (spec.initial_ns, spec.interval_ns) == (1_500_000_000, 2_000_000_000)
    initial, interval = spec
    assert (initial, interval) == (1.5, 2.0)
    # Floats are rounded to the nearest ns (1.001 * 1e9 is 1000999999.99...).
    assert TimerSpec(1.001).initial_ns == 1_001_000_000
    assert TimerSpec(1e-9).initial_ns == 1
    assert TimerSpec(0.4e-9).initial_ns == 0
    assert TimerSpec(initial=3, interval=0.25) == TimerSpec(3.0, 0.25)
    big = TimerSpec.from_ns(2**63 - 1, 7)
    assert big.initial_ns == 2**63 - 1 and big.interval_ns == 7


def test_timerspec_keyword_names_match_os():
    spec = TimerSpec(interval=0.5, initial=0.25)
    assert tuple(spec) == (0.25, 0.5)


def test_timerspec_setters():
    spec = TimerSpec()
    spec.initial = 2.5
    spec.interval_ns = 10
    assert (spec.initial_ns, spec.interval) == (2_500_000_000, 1e-8)
    spec.initial_ns = 3
    spec.interval = 1
    assert tuple(spec) == (3e-9, 1.0)


def test_timerspec_fluent():
    spec = TimerSpec()
    assert spec.every(seconds=1).after(seconds=0.5) is spec
    assert tuple(spec) == (0.5, 1.0)
    spec.after(nano_seconds=250)
    assert spec.initial_ns == 250
    spec.every(2, 5)
    assert spec.interval_ns == 2_000_000_005
    spec.every(nano_seconds=3 * 10**9)  # may exceed one second
    assert spec.interval_ns == 3 * 10**9
    spec.after()  # both parts left out: 0 (disarm)
    assert spec.initial_ns == 0


def test_timerspec_equality_and_repr():
    assert TimerSpec(1, 2) == TimerSpec(1.0, 2.0)
    assert TimerSpec(1, 2) != TimerSpec(1, 3)
    assert TimerSpec(1, 2) == (1.0, 2.0)
    assert TimerSpec(1, 2) != (1.0, 2.0, 3.0)
    assert TimerSpec(1, 2) != "x"
    assert repr(TimerSpec(1.5, 0.25)) == "TimerSpec(initial=1.5, interval=0.25)"
    assert eval(repr(TimerSpec(1.5, 0.25)), {"TimerSpec": TimerSpec}) == TimerSpec(1.5, 0.25)
    with pytest.raises(TypeError):
        hash(TimerSpec())


@pytest.mark.parametrize(
    "value, exc",
    [
        (-1, ValueError),
        (-0.5, ValueError),
        (-1e-12, ValueError),
        (float("nan"), ValueError),
        (float("inf"), OverflowError),
        (1e300, OverflowError),
        (2**63, OverflowError),
        (2**200, OverflowError),
        (9.3e9, OverflowError),  # seconds: 9.3e18 ns > 2**63 - 1
        ("1", TypeError),
        (None, TypeError),
        (True, TypeError),
        (1j, TypeError),
        ((1, 2), TypeError),
    ],
)
def test_timerspec_bad_values(value, exc):
    with pytest.raises(exc):
        TimerSpec(value)
    with pytest.raises(exc):
        TimerSpec(0, value)
    with pytest.raises(exc):
        TimerSpec().initial = value
    if value is not None:
        with pytest.raises(exc):
            TimerSpec().after(seconds=value)
        with pytest.raises(exc):
            TimerSpec().every(seconds=value)


@pytest.mark.parametrize(
    "value, exc",
    [
        (-1, ValueError),
        (2**63, OverflowError),
        (1.0, TypeError),
        ("1", TypeError),
        (True, TypeError),
    ],
)
def test_timerspec_bad_nanoseconds(value, exc):
    with pytest.raises(exc):
        TimerSpec().after(nano_seconds=value)
    with pytest.raises(exc):
        TimerSpec().every(nano_seconds=value)
    with pytest.raises(exc):
        TimerSpec.from_ns(value)
    with pytest.raises(exc):
        TimerSpec().interval_ns = value


def test_timerspec_sum_overflow():
    with pytest.raises(OverflowError):
        TimerSpec().after(seconds=9_223_372_036, nano_seconds=10**9)


def test_timerspec_unchanged_on_error():
    spec = TimerSpec(1, 2)
    with pytest.raises(ValueError):
        spec.every(seconds=-1)
    assert spec == TimerSpec(1, 2)


# -- thin wrappers ------------------------------------------------------------
def test_timerfd_creates_disarmed_cloexec_fd(fd):
    assert is_cloexec(fd)
    assert not os.get_inheritable(fd)
    assert os.get_blocking(fd)
    assert timerfd_gettime(fd) == TimerSpec()
    assert os.readlink(f"/proc/self/fd/{fd}") == "anon_inode:[timerfd]"


def test_timerfd_nonblock_flag():
    fd = timerfd(CLOCK_MONOTONIC, TFD_NONBLOCK)
    try:
        assert not os.get_blocking(fd)
        assert is_cloexec(fd)
        with pytest.raises(BlockingIOError):
            os.read(fd, 8)
    finally:
        os.close(fd)


def test_timerfd_explicit_cloexec_flag_accepted():
    fd = timerfd(CLOCK_MONOTONIC, tfd.TFD_CLOEXEC)
    try:
        assert is_cloexec(fd)
    finally:
        os.close(fd)


def test_settime_returns_old_value_and_gettime(fd):
    old = timerfd_settime(fd, TimerSpec(10, 2))
    assert old == TimerSpec()
    cur = timerfd_gettime(fd)
    assert 9 < cur.initial <= 10
    assert cur.interval_ns == 2_000_000_000
    old = timerfd_settime(fd, (0, 0))  # a plain tuple works too
    assert 9 < old.initial <= 10 and old.interval == 2.0
    assert timerfd_gettime(fd) == (0.0, 0.0)


def test_settime_accepts_fileno_objects():
    with Timer() as timer:
        timerfd_settime(timer, TimerSpec(5))
        assert 4 < timerfd_gettime(timer).initial <= 5


def test_one_shot(fd):
    timerfd_settime(fd, TimerSpec(0.02))
    assert int.from_bytes(os.read(fd, 8), sys.byteorder) == 1
    assert timerfd_gettime(fd) == TimerSpec()  # disarmed after firing


def test_periodic_counts_expirations():
    with Timer() as timer:
        timer.every(seconds=0.01).after(seconds=0.01).update()
        time.sleep(0.045)
        assert timer.read_event() >= 3
        # The count was reset by the read; the next one arrives ~10 ms later.
        assert timer.read_event() >= 1


def test_absolute_deadline(fd):
    deadline = time.clock_gettime_ns(time.CLOCK_MONOTONIC) + 30 * MS
    timerfd_settime(fd, TimerSpec.from_ns(deadline), TFD_TIMER_ABSTIME)
    assert int.from_bytes(os.read(fd, 8), sys.byteorder) == 1
    assert time.clock_gettime_ns(time.CLOCK_MONOTONIC) >= deadline


def test_absolute_deadline_realtime():
    with Timer(CLOCK_REALTIME) as timer:
        deadline = time.clock_gettime_ns(time.CLOCK_REALTIME) + 20 * MS
        timer.after(nano_seconds=deadline).update(absolute=True, cancel_on_set=True)
        assert timer.read_event() == 1
        assert time.clock_gettime_ns(time.CLOCK_REALTIME) >= deadline


def test_absolute_deadline_in_the_past_fires_at_once(fd):
    timerfd_settime(fd, TimerSpec(1), TFD_TIMER_ABSTIME)  # 1 s after boot
    assert select.select([fd], [], [], 0)[0] == [fd]


ALL_CLOCKS = [
    ("CLOCK_REALTIME", CLOCK_REALTIME),
    ("CLOCK_MONOTONIC", CLOCK_MONOTONIC),
    ("CLOCK_BOOTTIME", CLOCK_BOOTTIME),
    ("CLOCK_REALTIME_ALARM", CLOCK_REALTIME_ALARM),
    ("CLOCK_BOOTTIME_ALARM", CLOCK_BOOTTIME_ALARM),
]


@pytest.mark.parametrize("name, clock", ALL_CLOCKS, ids=[n for n, _ in ALL_CLOCKS])
def test_each_clock(name, clock):
    try:
        timer = Timer(clock)
    except OSError as exc:
        if "ALARM" in name and exc.errno in (
            errno.EPERM,
            errno.EINVAL,
            errno.EOPNOTSUPP,
        ):
            pytest.skip(f"{name}: {exc} (needs CAP_WAKE_ALARM and alarm timer support)")
        raise
    with timer:
        assert timer.clock_type == clock
        timer.after(nano_seconds=2 * MS).update()
        assert timer.read_event() == 1
        # Absolute on this clock, with the deadline read from the same clock
        # (the alarm clocks read as their base clocks; clock_gettime on them
        # fails without an RTC).
        base = {
            CLOCK_REALTIME_ALARM: CLOCK_REALTIME,
            CLOCK_BOOTTIME_ALARM: CLOCK_BOOTTIME,
        }
        read_clock = base.get(clock, clock)
        deadline = time.clock_gettime_ns(read_clock) + 2 * MS
        timer.after(nano_seconds=deadline).update(absolute=True)
        assert timer.read_event() == 1
        assert time.clock_gettime_ns(read_clock) >= deadline
        # every() without after(), absolute: first expiration one period on.
        timer.after().every(nano_seconds=3 * MS).update(absolute=True)
        assert 0 < timer.get_current().initial_ns <= 3 * MS
        assert timer.read_event() >= 1


def test_unknown_clock_is_einval():
    with pytest.raises(OSError) as info:
        timerfd(time.CLOCK_PROCESS_CPUTIME_ID)
    assert info.value.errno == errno.EINVAL


def test_settime_on_non_timer_fd_is_einval():
    r, w = os.pipe()
    try:
        with pytest.raises(OSError) as info:
            timerfd_settime(r, TimerSpec(1))
        assert info.value.errno == errno.EINVAL
        with pytest.raises(OSError) as info:
            timerfd_gettime(r)
        assert info.value.errno == errno.EINVAL
    finally:
        os.close(r)
        os.close(w)


# -- cross-checks with the stdlib (CPython 3.13+) -----------------------------
@needs_os_timerfd
def test_butter_settime_os_gettime(fd):
    timerfd_settime(fd, TimerSpec(20, 0.5))
    initial_ns, interval_ns = os.timerfd_gettime_ns(fd)
    assert 19 * 10**9 < initial_ns <= 20 * 10**9
    assert interval_ns == 500_000_000
    initial, interval = os.timerfd_gettime(fd)
    assert 19 < initial <= 20 and interval == 0.5


@needs_os_timerfd
def test_os_settime_butter_gettime(fd):
    os.timerfd_settime_ns(fd, initial=30 * 10**9, interval=123_456_789)
    cur = timerfd_gettime(fd)
    assert 29 * 10**9 < cur.initial_ns <= 30 * 10**9
    assert cur.interval_ns == 123_456_789
    # The old value: both report the same setting, in the same units.
    old_os = os.timerfd_settime_ns(fd, initial=40 * 10**9, interval=7)
    old_butter = timerfd_settime(fd, TimerSpec.from_ns(50 * 10**9, 9))
    assert old_os[1] == 123_456_789 and 29 * 10**9 < old_os[0] <= 30 * 10**9
    assert old_butter.interval_ns == 7 and 39 * 10**9 < old_butter.initial_ns <= 40 * 10**9
    assert os.timerfd_gettime_ns(fd)[1] == 9


@needs_os_timerfd
def test_os_created_fd_with_butter_wrappers():
    fd = os.timerfd_create(time.CLOCK_MONOTONIC)
    try:
        timerfd_settime(fd, TimerSpec(0.002))
        assert 0 < os.timerfd_gettime(fd)[0] <= 0.002
        assert int.from_bytes(os.read(fd, 8), sys.byteorder) == 1
        assert timerfd_gettime(fd) == os.timerfd_gettime(fd) == (0.0, 0.0)
    finally:
        os.close(fd)


# -- the Timer object ---------------------------------------------------------
def test_timer_alias():
    assert Timerfd is Timer


def test_timer_fluent_update_example():
    with Timer() as timer:
        assert timer.every(seconds=1).after(seconds=0.5).update() is timer
        cur = timer.get_current()
        assert 0.4 < cur.initial <= 0.5
        assert cur.interval == 1.0
        assert timer.timer_spec == TimerSpec(0.5, 1)


def test_timer_every_without_after_starts_after_one_interval():
    with Timer() as timer:
        timer.every(seconds=5).update()
        cur = timer.get_current()
        assert 4 < cur.initial <= 5 and cur.interval == 5.0
        # The configuration itself is unchanged.
        assert timer.timer_spec == TimerSpec(0, 5)


def test_timer_every_without_after_absolute():
    with Timer() as timer:
        timer.every(seconds=5).update(absolute=True)
        cur = timer.get_current()
        assert 4 < cur.initial <= 5 and cur.interval == 5.0


def test_timer_unconfigured_update_disarms():
    with Timer() as timer:
        timer.after(seconds=5).update()
        timer.after().every().update()
        assert timer.get_current() == TimerSpec()


def test_timer_one_shot():
    with Timer() as timer:
        timer.after(seconds=0.01).update()
        assert timer.read_event() == 1
        assert timer.get_current() == TimerSpec()


def test_timer_disable_keeps_configuration():
    with Timer(flags=TFD_NONBLOCK) as timer:
        timer.after(nano_seconds=MS).update()
        time.sleep(0.005)
        assert timer.disable() is timer  # discards the pending expiration
        assert timer.get_current() == TimerSpec()
        with pytest.raises(BlockingIOError):
            timer.read_event()
        timer.update()
        assert timer.wait(5) == 1


def test_timer_update_resets_count():
    with Timer(flags=TFD_NONBLOCK) as timer:
        timer.after(nano_seconds=MS).update()
        time.sleep(0.005)
        timer.after(seconds=10).update()
        with pytest.raises(BlockingIOError):
            timer.read_event()


def test_timer_nonblock_raises_blockingioerror():
    with Timer(flags=TFD_NONBLOCK) as timer:
        with pytest.raises(BlockingIOError):
            timer.read_event()
        timer.after(seconds=10).update()
        with pytest.raises(BlockingIOError):
            timer.read_event()
        with pytest.raises(BlockingIOError):
            timer.read_events()


def test_timer_read_events_and_iteration():
    with Timer() as timer:
        timer.every(nano_seconds=2 * MS).update()
        assert timer.read_events()[0] >= 1
        it = iter(timer)
        assert next(it) >= 1
        assert next(it) >= 1


def test_timer_wait_timeout():
    with Timer() as timer:
        assert timer.wait(0) is None  # disarmed
        timer.after(seconds=0.2).update()
        assert timer.wait(0.01) is None
        assert timer.wait(5) == 1
        assert timer.wait(0) is None


def test_timer_with_poll_and_selectors():
    with Timer() as timer:
        poller = select.poll()
        poller.register(timer, select.POLLIN)
        assert poller.poll(0) == []
        timer.after(nano_seconds=5 * MS).update()
        assert poller.poll(5000) == [(timer.fileno(), select.POLLIN)]
        with selectors.DefaultSelector() as sel:
            sel.register(timer, selectors.EVENT_READ, "t")
            events = sel.select(0)
            assert [(key.fileobj, key.data) for key, _ in events] == [(timer, "t")]
            assert timer.read_event() == 1
            assert sel.select(0) == []


def test_timer_read_retries_eintr():
    def child():
        fired = []
        signal.signal(signal.SIGALRM, lambda *a: fired.append(1))
        with Timer() as timer:
            timer.after(seconds=0.2).update()
            signal.setitimer(signal.ITIMER_REAL, 0.02)
            count = timer.read_event()
        return fired, count

    assert in_child(child) == ([1], 1)


def test_timer_signal_handler_exception_interrupts_read():
    def child():
        def boom(*args):
            raise KeyboardInterrupt

        signal.signal(signal.SIGALRM, boom)
        with Timer() as timer:
            timer.after(seconds=30).update()
            signal.setitimer(signal.ITIMER_REAL, 0.02)
            try:
                timer.read_event()
            except KeyboardInterrupt:
                return "interrupted"
        return "not interrupted"

    assert in_child(child) == "interrupted"


def test_timer_closed():
    timer = Timer()
    fd = timer.fileno()
    assert repr(timer) == f"<Timer fd={fd} CLOCK_MONOTONIC disarmed>"
    timer.close()
    timer.close()
    assert timer.closed
    assert repr(timer) == "<Timer closed>"
    for call in (
        timer.fileno,
        timer.read_event,
        timer.read_events,
        timer.update,
        timer.disable,
        timer.get_current,
        timer.wait,
        lambda: timer.every(seconds=1),
        lambda: timer.after(seconds=1),
    ):
        with pytest.raises(ValueError, match="closed"):
            call()


def test_timer_resource_warning():
    timer = Timer()
    fd = timer.fileno()
    with pytest.warns(ResourceWarning, match="unclosed"):
        del timer
        gc.collect()
    with pytest.raises(OSError):
        os.fstat(fd)  # closed (open_fds() would see its own listdir fd)


def test_timer_constructor_failure_does_not_warn():
    with pytest.raises(ValueError):
        Timer(CLOCK_MONOTONIC, 1 << 20)
    gc.collect()


# -- bad input sweep ----------------------------------------------------------
def _closed_fd() -> int:
    fd = timerfd()
    os.close(fd)
    return fd


class _BadFileno:
    def fileno(self):
        return "x"


# (bad value, the exception class it must raise)
BAD_FDS = [
    (-1, ValueError),
    ("x", TypeError),
    (None, TypeError),
    (1.5, TypeError),
    (2**31, OverflowError),
    (2**64, OverflowError),
    (_BadFileno(), TypeError),
    (object(), TypeError),
]
BAD_SPECS = [
    (None, TypeError),
    (1.0, TypeError),
    ((1,), TypeError),
    ((1, 2, 3), TypeError),
    ([1, 2], TypeError),
    ((-1, 0), ValueError),
    ((0, -1), ValueError),
    ((math.nan, 0), ValueError),
    ((math.inf, 0), OverflowError),
    ((1e300, 0), OverflowError),
    ((2**64, 0), OverflowError),
    (("a", 0), TypeError),
    ((None, None), TypeError),
]
BAD_CREATE = [
    (("x", 0), TypeError),
    ((1.5, 0), TypeError),
    ((None, 0), TypeError),
    ((True, 0), TypeError),
    ((2**31, 0), OverflowError),
    ((-(2**40), 0), OverflowError),
    ((2**64, 0), OverflowError),
    ((99, 0), OSError),  # the kernel's EINVAL: no such clock
    ((-1, 0), OSError),
    ((time.CLOCK_THREAD_CPUTIME_ID, 0), OSError),
    ((CLOCK_MONOTONIC, -1), ValueError),
    ((CLOCK_MONOTONIC, 1 << 40), OverflowError),
    ((CLOCK_MONOTONIC, "x"), TypeError),
    ((CLOCK_MONOTONIC, None), TypeError),
    ((CLOCK_MONOTONIC, TFD_TIMER_ABSTIME), ValueError),  # not a timerfd_create flag
]
BAD_DURATIONS = [
    ({"seconds": -1}, ValueError),
    ({"seconds": math.nan}, ValueError),
    ({"seconds": math.inf}, OverflowError),
    ({"seconds": 2**70}, OverflowError),
    ({"seconds": "1"}, TypeError),
    ({"seconds": b"1"}, TypeError),
    ({"nano_seconds": -1}, ValueError),
    ({"nano_seconds": 1.5}, TypeError),
    ({"nano_seconds": 2**64}, OverflowError),
    ({"seconds": 2**33, "nano_seconds": 2**62}, OverflowError),
]


@pytest.mark.parametrize("args, expected", BAD_CREATE, ids=repr)
def test_bad_input_timerfd(args, expected):
    assert assert_clean_error(timerfd, *args) == expected.__name__
    assert assert_clean_error(Timer, *args) == expected.__name__


@pytest.mark.parametrize("bad_fd, expected", [*BAD_FDS, ("closed", OSError)], ids=repr)
def test_bad_input_fd(bad_fd, expected):
    if bad_fd == "closed":
        bad_fd = _closed_fd()
    assert assert_clean_error(timerfd_settime, bad_fd, TimerSpec(1)) == expected.__name__
    assert assert_clean_error(timerfd_gettime, bad_fd) == expected.__name__
    assert_clean_error(tfd._gettime, bad_fd)  # unchecked: only no crash


@pytest.mark.parametrize("spec, expected", BAD_SPECS, ids=repr)
def test_bad_input_spec(fd, spec, expected):
    assert assert_clean_error(timerfd_settime, fd, spec) == expected.__name__


@pytest.mark.parametrize(
    "flags, expected",
    [
        (-1, ValueError),
        (1 << 40, OverflowError),
        (2**64, OverflowError),
        ("x", TypeError),
        (None, TypeError),
        (1.0, TypeError),
        (False, TypeError),
        (4, ValueError),  # unknown bits
        (TFD_NONBLOCK, ValueError),  # a timerfd_create flag
    ],
)
def test_bad_input_settime_flags(fd, flags, expected):
    assert assert_clean_error(timerfd_settime, fd, TimerSpec(1), flags) == expected.__name__


@pytest.mark.parametrize("kwargs, expected", BAD_DURATIONS, ids=repr)
def test_bad_input_durations(kwargs, expected):
    with Timer() as timer:
        for method in (timer.every, timer.after, TimerSpec().every, TimerSpec().after):
            assert assert_clean_error(method, **kwargs) == expected.__name__
        # A failed call leaves the configuration alone.
        with pytest.raises(expected):
            timer.every(**kwargs)
        assert timer.timer_spec == TimerSpec()


@pytest.mark.parametrize(
    "args, expected, expected_ns",
    [
        ((-1,), ValueError, ValueError),
        (("x",), TypeError, TypeError),
        ((None,), TypeError, TypeError),
        ((1, 2, 3), TypeError, TypeError),
        ((math.nan,), ValueError, TypeError),  # from_ns takes ints only
        ((0, math.inf), OverflowError, TypeError),
    ],
    ids=repr,
)
def test_bad_input_timerspec(args, expected, expected_ns):
    assert assert_clean_error(TimerSpec, *args) == expected.__name__
    assert assert_clean_error(TimerSpec.from_ns, *args) == expected_ns.__name__


def test_bad_input_closed_timer_methods():
    timer = Timer()
    timer.close()
    for method in (
        "read_event",
        "read_events",
        "update",
        "disable",
        "get_current",
        "wait",
    ):
        assert assert_clean_error(getattr(timer, method)) == "ValueError"
    assert assert_clean_error(timer.every, seconds=1) == "ValueError"
    assert assert_clean_error(timer.after, seconds=1) == "ValueError"


def test_bad_input_timer_methods():
    with Timer() as timer:
        kwargs = {"cancel_on_set": True, "absolute": True, "extra": 1}
        assert assert_clean_error(timer.update, **kwargs) == "TypeError"
        assert assert_clean_error(timer.wait, "x") == "TypeError"
        assert assert_clean_error(timer.wait, math.nan) == "ValueError"
        # An absolute deadline computed past the int64 range.
        timer.every(nano_seconds=2**63 - 1)
        assert assert_clean_error(timer.update, True) == "OverflowError"


def test_update_absolute_overflow_leaves_timer_alone():
    with Timer() as timer:
        timer.after(seconds=100).update()
        timer.after().every(nano_seconds=2**63 - 1)
        with pytest.raises(OverflowError):
            timer.update(absolute=True)
        assert 99 < timer.get_current().initial <= 100


# -- fds ----------------------------------------------------------------------
def test_no_fd_leak_and_cloexec():
    before = open_fds()
    for _ in range(2000):
        timer = Timer()
        assert is_cloexec(timer.fileno())
        timer.close()
    for _ in range(2000):
        with Timerfd(CLOCK_MONOTONIC, TFD_NONBLOCK) as timer:
            timer.after(seconds=1).update()
    for _ in range(2000):
        os.close(timerfd())
    for _ in range(200):
        with pytest.raises(OSError):
            Timer(99)
    assert open_fds() == before


def test_timerspec_is_a_two_item_sequence_like_os_timerfd_gettime():
    from butter.timerfd import TimerSpec

    spec = TimerSpec(1.5, 0.25)
    assert len(spec) == 2
    assert (spec[0], spec[1], spec[-1]) == (1.5, 0.25, 0.25)
    assert spec[:] == (1.5, 0.25)
    with pytest.raises(IndexError):
        spec[2]
