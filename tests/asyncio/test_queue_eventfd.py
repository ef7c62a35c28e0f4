"""The generic asyncio queue, exercised through Eventfd_async.

An EFD_SEMAPHORE eventfd yields one event (the value 1) per read, so a
counter of N is N queued kernel events: a convenient, exact source.
"""

from __future__ import annotations

import asyncio
import gc
import os

import pytest
from conftest import assert_clean_error, open_fds

from butter.asyncio.eventfd import Eventfd_async
from butter.eventfd import EFD_SEMAPHORE


def run(coro):
    return asyncio.run(coro)


def test_get_after_increment():
    async def main():
        async with Eventfd_async() as e:
            e.increment(3)
            assert await e.get() == 3
            e.increment(4)
            assert await e.wait() == 4  # alias kept from the original

    run(main())


def test_get_waits_for_the_kernel():
    async def main():
        async with Eventfd_async() as e:
            asyncio.get_running_loop().call_later(0.02, e.increment, 7)
            assert await asyncio.wait_for(e.get(), 5) == 7

    run(main())


def test_get_nowait_qsize_empty():
    async def main():
        async with Eventfd_async(0, EFD_SEMAPHORE) as e:
            assert e.empty() and e.qsize() == 0
            with pytest.raises(asyncio.QueueEmpty):
                e.get_nowait()
            e.increment(3)
            await asyncio.sleep(0.01)
            assert e.qsize() == 3 and not e.empty()
            assert [e.get_nowait() for _ in range(3)] == [1, 1, 1]
            with pytest.raises(asyncio.QueueEmpty):
                e.get_nowait()

    run(main())


def test_get_nowait_reads_the_fd_without_a_loop_pass():
    async def main():
        async with Eventfd_async() as e:
            e.increment(5)
            assert e.get_nowait() == 5  # no await in between

    run(main())


def test_backpressure_stops_reading_and_resumes():
    async def main():
        async with Eventfd_async(0, EFD_SEMAPHORE, maxsize=2) as e:
            assert e.maxsize == 2
            e.increment(10)
            await asyncio.sleep(0.01)
            assert e.qsize() == 2 and e.full()
            assert not e._reading  # the reader is off while full
            got = []
            for _ in range(10):
                got.append(await asyncio.wait_for(e.get(), 5))
                assert e.qsize() <= 2
            assert got == [1] * 10
            assert e.empty()

    run(main())


def test_many_events_with_slow_consumer_arrive_in_order():
    """maxsize=10, 10,000 events produced while the consumer sleeps."""

    async def main():
        async with Eventfd_async(0, EFD_SEMAPHORE, maxsize=10) as e:
            e.increment(10_000)
            await asyncio.sleep(0.05)
            assert e.qsize() == 10
            total = 0
            async for value in e:
                total += value
                if total == 10_000:
                    break
            assert total == 10_000

    run(main())


def test_cancelled_get_loses_nothing():
    async def main():
        async with Eventfd_async(0, EFD_SEMAPHORE) as e:
            # 1. cancelled while waiting
            t = asyncio.ensure_future(e.get())
            await asyncio.sleep(0)
            t.cancel()
            with pytest.raises(asyncio.CancelledError):
                await t
            # 2. woken (its event arrived) and cancelled before it ran
            t1 = asyncio.ensure_future(e.get())
            t2 = asyncio.ensure_future(e.get())
            await asyncio.sleep(0)
            e.increment(1)
            await asyncio.sleep(0.01)  # reader runs, wakes t1's future
            e.increment(1)
            t1.cancel()
            results = await asyncio.gather(t1, t2, return_exceptions=True)
            got = [r for r in results if not isinstance(r, BaseException)]
            # whatever t1 did not take is still there: nothing is lost
            rest = []
            while True:
                try:
                    rest.append(await asyncio.wait_for(e.get(), 0.05))
                except asyncio.TimeoutError:
                    break
            assert sum(got) + sum(rest) == 2

    run(main())


def test_cancellation_storm_loses_nothing():
    async def main():
        async with Eventfd_async(0, EFD_SEMAPHORE) as e:
            received = 0
            e.increment(500)
            for i in range(2000):
                try:
                    received += await asyncio.wait_for(e.get(), 0.0001 * (i % 3))
                except asyncio.TimeoutError:
                    pass
                if received == 500:
                    break
            while received < 500:
                received += await asyncio.wait_for(e.get(), 5)
            assert e.qsize() == 0
            assert received == 500

    run(main())


def test_close_fails_pending_getters_then_closes_fd():
    async def main():
        e = Eventfd_async()
        fd = e.fileno()
        waiters = [asyncio.ensure_future(e.get()) for _ in range(3)]
        await asyncio.sleep(0)
        e.close()
        for w in waiters:
            with pytest.raises(ValueError, match="closed"):
                await w
        with pytest.raises(OSError):
            os.fstat(fd)
        e.close()  # idempotent
        assert e.closed
        with pytest.raises(ValueError):
            e.get_nowait()
        with pytest.raises(ValueError):
            await e.get()
        with pytest.raises(ValueError):
            e.fileno()

    run(main())


def test_async_for_ends_on_close():
    async def main():
        e = Eventfd_async(0, EFD_SEMAPHORE)
        e.increment(2)
        loop = asyncio.get_running_loop()
        loop.call_later(0.05, e.close)
        seen = [value async for value in e]
        assert seen == [1, 1]

    run(main())


def test_created_outside_a_loop_binds_to_the_first_one():
    e = Eventfd_async()
    e.increment(3)

    async def main():
        return await e.get()

    try:
        assert run(main()) == 3
    finally:
        e.close()


def test_bound_to_one_loop():
    e = Eventfd_async()

    async def main():
        e.increment(1)
        return await e.get()

    try:
        run(main())
        with pytest.raises(RuntimeError, match="different event loop"):
            run(main())
    finally:
        e.close()


def test_reader_registered_only_while_needed():
    async def main():
        loop = asyncio.get_running_loop()
        e = Eventfd_async(0, EFD_SEMAPHORE, maxsize=1)
        fd = e.fileno()
        selector_map = loop._selector.get_map()  # type: ignore[attr-defined]
        assert fd in selector_map
        e.increment(2)
        await asyncio.sleep(0.01)
        assert fd not in selector_map  # full: the kernel keeps the rest
        assert await e.get() == 1
        assert fd in selector_map
        assert await e.get() == 1
        e.close()
        assert fd not in selector_map

    run(main())


def test_unclosed_warns():
    async def main():
        e = Eventfd_async()
        fd = e.fileno()
        e.close()
        return fd

    run(main())
    e = Eventfd_async()
    with pytest.warns(ResourceWarning):
        del e
        gc.collect()


def test_no_fd_leak():
    async def main():
        for _ in range(2000):
            async with Eventfd_async() as e:
                e.increment()
                await e.get()
        for _ in range(2000):
            Eventfd_async().close()

    before = open_fds()
    run(main())
    assert open_fds() == before


@pytest.mark.parametrize(
    "kwargs, expected",
    [
        ({"maxsize": "10"}, TypeError),
        ({"maxsize": None}, TypeError),
        ({"initial_value": -1}, ValueError),
        ({"initial_value": 2**32}, OverflowError),
        ({"flags": 1 << 20}, ValueError),
        ({"flags": -1}, ValueError),
        ({"initial_value": "x"}, TypeError),
    ],
)
def test_bad_constructor_arguments(kwargs, expected):
    assert assert_clean_error(Eventfd_async, **kwargs) == expected.__name__


def test_uvloop_if_installed():
    uvloop = pytest.importorskip("uvloop")

    async def main():
        async with Eventfd_async() as e:
            asyncio.get_running_loop().call_later(0.01, e.increment, 2)
            return await e.get()

    assert uvloop.run(main()) == 2
