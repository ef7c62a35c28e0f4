"""Timer wake-up lateness: butter.timerfd vs asyncio's call_at (and os.timerfd_*).

Usage: python bench/timerfd.py [--seconds 2] [--period-us 1000]

A periodic timer (1 ms by default) runs for 2 s in each of these loops, one
after the other in the same process:

  (a) Timer.read_event()           butter, blocking read loop
  (b) Timerfd_async.get()          butter, asyncio (and uvloop if installed)
  (c) loop.call_at chain           asyncio's own timers (the reference)
  (d) os.timerfd_* + os.read       CPython 3.13+ only

All expirations are scheduled on CLOCK_MONOTONIC at ``start + k * period``.
*Lateness* is the time the Python code runs (time.monotonic_ns()) minus the
scheduled time of the latest expiration it was told about.  *Missed* counts
expirations that were coalesced into a later read (a read returning n > 1
counts n - 1); for the call_at chain, which cannot coalesce, it counts
callbacks that ran a full period or more late.

A second table gives the cost of the hot calls themselves: re-arming a
timer at a time already past and reading its one expiration.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import sys
import time
from array import array

from butter.asyncio.timerfd import Timerfd_async
from butter.timerfd import TFD_TIMER_ABSTIME, Timer, TimerSpec, timerfd_settime

try:
    import uvloop
except ImportError:
    uvloop = None

now_ns = time.monotonic_ns  # CLOCK_MONOTONIC, the timers' clock


class Result:
    def __init__(self, n: int) -> None:
        self.lateness = array("q")
        self.missed = 0
        self.n = n


def run_timer(n: int, period: int) -> Result:
    res = Result(n)
    late = res.lateness
    with Timer() as timer:
        start = now_ns() + 10 * period
        timer.after(nano_seconds=start).every(nano_seconds=period).update(absolute=True)
        read = timer.read_event
        count = 0
        while count < n:
            k = read()
            woke = now_ns()
            count += k
            res.missed += k - 1
            late.append(woke - start - (count - 1) * period)
    return res


async def _async_timer(n: int, period: int) -> Result:
    res = Result(n)
    late = res.lateness
    async with Timerfd_async() as timer:
        start = now_ns() + 10 * period
        timer.after(nano_seconds=start).every(nano_seconds=period).update(absolute=True)
        get = timer.get
        count = 0
        while count < n:
            k = await get()
            woke = now_ns()
            count += k
            res.missed += k - 1
            late.append(woke - start - (count - 1) * period)
    return res


async def _call_at_chain(n: int, period: int) -> Result:
    res = Result(n)
    late = res.lateness
    loop = asyncio.get_running_loop()
    done = loop.create_future()
    start = now_ns() + 10 * period
    i = 0

    def tick() -> None:
        nonlocal i
        woke = now_ns()
        lateness = woke - start - i * period
        late.append(lateness)
        if lateness >= period:
            res.missed += 1
        i += 1
        if i == n:
            done.set_result(None)
        else:
            loop.call_at((start + i * period) / 1e9, tick)

    loop.call_at(start / 1e9, tick)
    await done
    return res


def run_os_timerfd(n: int, period: int) -> Result:
    res = Result(n)
    late = res.lateness
    fd = os.timerfd_create(time.CLOCK_MONOTONIC, flags=os.TFD_CLOEXEC)
    try:
        start = now_ns() + 10 * period
        os.timerfd_settime_ns(fd, flags=os.TFD_TIMER_ABSTIME, initial=start, interval=period)
        read = os.read
        from_bytes = int.from_bytes
        order = sys.byteorder
        count = 0
        while count < n:
            k = from_bytes(read(fd, 8), order)
            woke = now_ns()
            count += k
            res.missed += k - 1
            late.append(woke - start - (count - 1) * period)
    finally:
        os.close(fd)
    return res


def run_loop(coro_fn, n: int, period: int, use_uvloop: bool = False) -> Result:
    loop = uvloop.new_event_loop() if use_uvloop else asyncio.new_event_loop()
    try:
        return loop.run_until_complete(coro_fn(n, period))
    finally:
        loop.close()


def pct(sorted_values: list[int], p: float) -> int:
    idx = min(len(sorted_values) - 1, max(0, round(p / 100 * len(sorted_values)) - 1))
    return sorted_values[idx]


def report(name: str, res: Result) -> None:
    values = sorted(res.lateness)
    p50, p99, top = (v / 1000.0 for v in (pct(values, 50), pct(values, 99), values[-1]))
    cols = f"{len(values):>6} {p50:>9.1f} {p99:>9.1f} {top:>9.1f} {res.missed:>7}"
    print(f"  {name:<34} {cols}")


def call_cost(loops: int) -> None:
    """ns per call of the timer's hot calls (no waiting involved).

    A timer re-armed at an absolute time in the past (1 ns after boot) has
    expired at once, so each iteration is one settime plus one read that
    returns 1 without blocking.
    """
    print(f"\nre-arm in the past + read, {loops} calls (ns/call, lower is better):")
    with Timer() as timer:
        fd = timer.fileno()
        arm = timer.after(nano_seconds=1).update
        read = timer.read_event

        def butter_timer() -> None:
            arm(True)
            read()

        spec = TimerSpec.from_ns(1)

        def butter_thin() -> None:
            timerfd_settime(fd, spec, TFD_TIMER_ABSTIME)
            read()

        cases = [
            ("butter Timer.update + read_event", butter_timer),
            ("butter timerfd_settime + read_event", butter_thin),
        ]
        if hasattr(os, "timerfd_settime_ns"):
            settime_ns, osread, from_bytes = (
                os.timerfd_settime_ns,
                os.read,
                int.from_bytes,
            )
            order, abstime = sys.byteorder, os.TFD_TIMER_ABSTIME

            def stdlib() -> None:
                settime_ns(fd, flags=abstime, initial=1)
                from_bytes(osread(fd, 8), order)

            cases.append(("os.timerfd_settime_ns + os.read", stdlib))
        for name, fn in cases:
            for _ in range(1000):
                fn()
            best = min(_timeit(fn, loops) for _ in range(3))
            print(f"  {name:<38} {best:>8.0f}")


def _timeit(fn, loops: int) -> float:
    t0 = time.perf_counter_ns()
    for _ in range(loops):
        fn()
    return (time.perf_counter_ns() - t0) / loops


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--period-us", type=int, default=1000)
    parser.add_argument("--call-loops", type=int, default=100_000)
    args = parser.parse_args()
    period = args.period_us * 1000
    n = int(args.seconds * 1e9 // period)

    print(
        f"{platform.python_implementation()} {platform.python_version()}, "
        f"Linux {platform.release()}, {os.cpu_count()} CPUs"
    )
    print(f"periodic timer: {args.period_us} µs for {args.seconds:g} s ({n} expirations)")
    head = ("wakes", "p50 µs", "p99 µs", "max µs", "missed")
    print(f"  {'':<34} {head[0]:>6} {head[1]:>9} {head[2]:>9} {head[3]:>9} {head[4]:>7}")
    report("(a) butter Timer.read_event()", run_timer(n, period))
    report("(b) butter Timerfd_async.get()", run_loop(_async_timer, n, period))
    if uvloop is not None:
        report("(b') Timerfd_async.get(), uvloop", run_loop(_async_timer, n, period, True))
    report("(c) asyncio loop.call_at chain", run_loop(_call_at_chain, n, period))
    if uvloop is not None:
        report("(c') loop.call_at chain, uvloop", run_loop(_call_at_chain, n, period, True))
    if hasattr(os, "timerfd_create"):
        report("(d) os.timerfd_* + os.read", run_os_timerfd(n, period))
    else:
        print(f"  {'(d) os.timerfd_*':<34} (needs Python 3.13+)")
    call_cost(args.call_loops)


if __name__ == "__main__":
    main()
