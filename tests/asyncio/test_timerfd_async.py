"""butter.asyncio.timerfd against the real kernel."""

from __future__ import annotations

import asyncio
import fcntl
import gc
import math
import os
import select
import time

import pytest
from conftest import assert_clean_error, open_fds

from butter.asyncio.timerfd import Timer_async, Timerfd_async
from butter.timerfd import CLOCK_MONOTONIC, CLOCK_REALTIME, TFD_NONBLOCK, TimerSpec

MS = 1_000_000  # ns

try:
    import uvloop
except ImportError:  # pragma: no cover - optional
    uvloop = None

LOOPS = [
    "asyncio",
    pytest.param(
        "uvloop",
        marks=pytest.mark.skipif(uvloop is None, reason="uvloop not installed"),
    ),
]


@pytest.fixture(params=LOOPS)
def run(request):
    """Run a coroutine function on a fresh loop of the requested kind."""

    def runner(fn, *args):
        new_loop = uvloop.new_event_loop if request.param == "uvloop" else asyncio.new_event_loop
        loop = new_loop()
        try:
            return loop.run_until_complete(asyncio.wait_for(fn(*args), 30))
        finally:
            loop.close()

    return runner


def fired(start: int, period: int, now: int) -> int:
    """Expirations of a timer first due at *start*, by time *now*."""
    return 0 if now < start else (now - start) // period + 1


def test_alias():
    assert Timer_async is Timerfd_async


def test_get_returns_expirations(run):
    async def main():
        async with Timerfd_async() as timer:
            assert timer.after(seconds=0.01).update() is timer
            assert await timer.get() == 1
            assert timer.empty()
            with pytest.raises(asyncio.QueueEmpty):
                timer.get_nowait()
            # Periodic: while the consumer sleeps, expirations are queued
            # (each read is the count since the previous one).
            timer.every(nano_seconds=2 * MS).update()
            assert await timer.wait() >= 1
            await asyncio.sleep(0.02)
            assert timer.qsize() >= 1
            assert sum(timer.read_events_nowait()) >= 5

    run(main)


def test_periodic_total_matches_elapsed_time(run):
    async def main():
        period = 2 * MS
        async with Timerfd_async() as timer:
            start = time.clock_gettime_ns(time.CLOCK_MONOTONIC) + period
            timer.after(nano_seconds=start).every(nano_seconds=period).update(absolute=True)
            total = 0
            while total < 10:
                total += await timer.get()
            # Nothing is lost: every period up to now is accounted for (but
            # the kernel may not have processed the latest one or two yet).
            await asyncio.sleep(0.01)
            before = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
            total += sum(timer.read_events_nowait())
            after = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
            assert fired(start, period, before) - 2 <= total
            assert total <= fired(start, period, after)

    run(main)


def test_configuration_forwarding(run):
    async def main():
        timer = Timerfd_async(CLOCK_REALTIME, TFD_NONBLOCK, maxsize=3)
        try:
            assert timer.maxsize == 3
            assert timer.every(seconds=2).after(seconds=1).update() is timer
            cur = timer.get_current()
            assert 0.9 < cur.initial <= 1 and cur.interval == 2.0
            assert timer.disable() is timer
            assert timer.get_current() == TimerSpec()
            timer.update()  # configuration kept
            assert 0.9 < timer.get_current().initial <= 1
            timer.after().update()  # every() alone: first expiry one period on
            assert 1.9 < timer.get_current().initial <= 2
        finally:
            timer.close()

    run(main)


def test_wait_nowait_and_fileno(run):
    async def main():
        async with Timerfd_async() as timer:
            fd = timer.fileno()
            assert not os.get_blocking(fd)
            assert fcntl.fcntl(fd, fcntl.F_GETFD) & fcntl.FD_CLOEXEC
            timer.after(nano_seconds=MS).update()
            select.select([fd], [], [], 5)
            assert timer.wait_nowait() == 1

    run(main)


def test_cancelled_waiting_get_loses_nothing(run):
    async def main():
        timer = Timerfd_async()
        try:
            task = asyncio.ensure_future(timer.get())
            await asyncio.sleep(0)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            timer.after(seconds=0.01).update()
            assert await timer.get() == 1
        finally:
            timer.close()

    run(main)


def test_woken_then_cancelled_get_passes_item_on(run):
    async def main():
        timer = Timerfd_async()
        try:
            first = asyncio.ensure_future(timer.get())
            second = asyncio.ensure_future(timer.get())
            await asyncio.sleep(0)  # both are now waiting
            timer.after(nano_seconds=MS).update()
            select.select([timer.fileno()], [], [], 5)  # expired, loop not run yet
            assert timer.qsize() == 1  # reads it and wakes the first getter
            first.cancel()  # ... which is cancelled before it runs
            assert await second == 1
            assert first.cancelled()
            assert timer.empty()
        finally:
            timer.close()

    run(main)


def test_maxsize_backpressure_loses_nothing(run):
    async def main():
        period = 1 * MS
        timer = Timerfd_async(maxsize=1)
        try:
            start = time.clock_gettime_ns(time.CLOCK_MONOTONIC) + period
            timer.after(nano_seconds=start).every(nano_seconds=period).update(absolute=True)
            # The loop runs meanwhile: the queue fills and stops reading.
            await asyncio.sleep(0.03)
            assert timer.full() and timer.qsize() == 1
            first = await timer.get()
            # While full, the kernel kept counting: one read gets the backlog.
            second = await timer.get()
            assert second >= 10
            before = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
            total = first + second + sum(timer.read_events_nowait())
            after = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
            assert fired(start, period, before) - 2 <= total
            assert total <= fired(start, period, after)
        finally:
            timer.close()

    run(main)


def test_close_fails_pending_get(run):
    async def main():
        timer = Timerfd_async()
        task = asyncio.ensure_future(timer.get())
        await asyncio.sleep(0)
        timer.close()
        with pytest.raises(ValueError, match="closed"):
            await task
        assert timer.closed
        timer.close()  # idempotent

    run(main)


def test_async_for_ends_on_close(run):
    async def main():
        timer = Timerfd_async().every(nano_seconds=MS).update()
        seen = []
        async for expirations in timer:
            seen.append(expirations)
            if len(seen) == 3:
                timer.close()
        assert len(seen) == 3 and all(n >= 1 for n in seen)

    run(main)


def test_closed_methods_raise(run):
    async def main():
        timer = Timerfd_async()
        timer.close()
        for call in (
            lambda: timer.every(seconds=1),
            lambda: timer.after(seconds=1),
            timer.update,
            timer.disable,
            timer.get_current,
            timer.fileno,
            timer.get_nowait,
        ):
            with pytest.raises(ValueError, match="closed Timerfd_async"):
                call()
        with pytest.raises(ValueError):
            await timer.get()
        with pytest.raises(ValueError):
            await timer.wait()

    run(main)


def test_usable_without_running_loop():
    timer = Timerfd_async().after(nano_seconds=MS).update()
    try:
        select.select([timer.fileno()], [], [], 5)
        assert timer.get_nowait() == 1

        async def main():
            timer.after(nano_seconds=MS).update()
            return await timer.get()

        assert asyncio.run(main()) == 1
    finally:
        timer.close()


def test_resource_warning():
    timer = Timerfd_async()
    fd = timer.fileno()
    with pytest.warns(ResourceWarning, match="unclosed"):
        del timer
        gc.collect()
    with pytest.raises(OSError):
        os.fstat(fd)


@pytest.mark.parametrize(
    "args, expected",
    [
        (("x",), TypeError),
        ((99,), OSError),  # no such clock: the kernel's EINVAL
        ((2**40,), OverflowError),
        ((CLOCK_MONOTONIC, 1 << 20), ValueError),
        ((CLOCK_MONOTONIC, -1), ValueError),
        ((CLOCK_MONOTONIC, 0, "x"), TypeError),
        ((CLOCK_MONOTONIC, 0, 1.5), TypeError),
    ],
    ids=repr,
)
def test_bad_constructor_args(args, expected):
    assert assert_clean_error(Timerfd_async, *args) == expected.__name__


def test_bad_constructor_args_leak_nothing():
    before = open_fds()
    for _ in range(100):
        with pytest.raises(TypeError):
            Timerfd_async(maxsize="x")
    gc.collect()
    assert open_fds() == before


def test_bad_method_args():
    timer = Timerfd_async()
    try:
        for kwargs, expected in (
            ({"seconds": -1}, ValueError),
            ({"seconds": math.nan}, ValueError),
            ({"seconds": "1"}, TypeError),
            ({"nano_seconds": 2**64}, OverflowError),
            ({"nano_seconds": 0.5}, TypeError),
        ):
            assert assert_clean_error(timer.every, **kwargs) == expected.__name__
            assert assert_clean_error(timer.after, **kwargs) == expected.__name__
        assert assert_clean_error(timer.update, foo=1) == "TypeError"
    finally:
        timer.close()


def test_no_fd_leak_and_cloexec(run):
    before = open_fds()
    for _ in range(2000):
        timer = Timerfd_async()
        assert fcntl.fcntl(timer.fileno(), fcntl.F_GETFD) & fcntl.FD_CLOEXEC
        timer.close()

    async def main():
        for _ in range(2000):
            async with Timerfd_async() as timer:
                timer.after(seconds=1).update()
                await asyncio.sleep(0)

    run(main)
    assert open_fds() == before
