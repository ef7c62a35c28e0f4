"""Signal delivery latency: ``os.kill(os.getpid(), SIGUSR1)`` -> event in hand.

Run: ``python bench/signalfd.py [iterations]``.  All contenders run in the
same process, one after the other, each timed per iteration with
``perf_counter_ns``; median and 99th percentile in microseconds.

Sync:   butter ``Signalfd.read_event``; the raw floor (``os.read`` on the
        same signalfd, no parsing); ``signal.sigwaitinfo``.
asyncio (a) "sent, then awaited": kill, then ``await``;
        (b) "sent while parked": the awaiting coroutine is suspended when
        the signal arrives (kill from a ``call_soon`` callback), so the
        event goes through the loop's selector:
        butter ``Signalfd_async.get()`` vs ``loop.add_signal_handler``
        (signal handler -> future resolved -> coroutine resumes).
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time

from butter.asyncio.signalfd import Signalfd_async
from butter.signalfd import Signalfd

SIG = signal.SIGUSR1
PID = os.getpid()


def report(name: str, samples: list[int]) -> None:
    samples.sort()
    n = len(samples)
    med = samples[n // 2] / 1000
    p99 = samples[min(n - 1, int(n * 0.99))] / 1000
    print(f"  {name:<52} median {med:6.2f} us   p99 {p99:7.2f} us")


def timed(fn, n: int) -> list[int]:
    clock, kill = time.perf_counter_ns, os.kill
    for _ in range(min(n, 2000)):  # warm-up
        kill(PID, SIG)
        fn()
    out = [0] * n
    for i in range(n):
        t0 = clock()
        kill(PID, SIG)
        fn()
        out[i] = clock() - t0
    return out


def bench_sync(n: int) -> None:
    print("sync (signal blocked, kill -> event):")
    with Signalfd(SIG) as sfd:
        fd = sfd.fileno()
        read = os.read
        report(
            "os.read on the signalfd (raw floor, no parsing)",
            timed(lambda: read(fd, 2048), n),
        )
        report("butter Signalfd.read_event()", timed(sfd.read_event, n))
        if hasattr(signal, "sigwaitinfo"):  # not on PyPy
            waitinfo = signal.sigwaitinfo
            report("signal.sigwaitinfo([SIGUSR1])", timed(lambda: waitinfo([SIG]), n))


async def async_butter(n: int, parked: bool) -> list[int]:
    loop = asyncio.get_running_loop()
    clock, kill = time.perf_counter_ns, os.kill
    out = []
    q = Signalfd_async(SIG)
    try:
        for i in range(n + 2000):
            t0 = clock()
            if parked:
                loop.call_soon(kill, PID, SIG)
            else:
                kill(PID, SIG)
            await q.get()
            if i >= 2000:
                out.append(clock() - t0)
    finally:
        q.close()
    return out


async def async_handler(n: int, parked: bool) -> list[int]:
    loop = asyncio.get_running_loop()
    clock, kill = time.perf_counter_ns, os.kill
    out = []
    fut: asyncio.Future[None] | None = None

    def on_signal() -> None:
        if fut is not None and not fut.done():
            fut.set_result(None)

    loop.add_signal_handler(SIG, on_signal)
    try:
        for i in range(n + 2000):
            fut = loop.create_future()
            t0 = clock()
            if parked:
                loop.call_soon(kill, PID, SIG)
            else:
                kill(PID, SIG)
            await fut
            if i >= 2000:
                out.append(clock() - t0)
    finally:
        loop.remove_signal_handler(SIG)
    return out


def bench_async(n: int) -> None:
    for parked in (False, True):
        how = "sent while parked" if parked else "sent, then awaited"
        print(f"asyncio ({how}):")
        signal.pthread_sigmask(signal.SIG_BLOCK, [SIG])
        report("butter Signalfd_async.get()", asyncio.run(async_butter(n, parked)))
        signal.pthread_sigmask(signal.SIG_UNBLOCK, [SIG])
        report("loop.add_signal_handler -> future", asyncio.run(async_handler(n, parked)))


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 50_000
    impl = sys.implementation.name
    print(f"{impl} {sys.version.split()[0]}, {n} iterations each")
    signal.pthread_sigmask(signal.SIG_BLOCK, [SIG])
    bench_sync(n)
    bench_async(n)


if __name__ == "__main__":
    main()
