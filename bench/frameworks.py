"""butter's async classes under asyncio, anyio and trio, beside trio's own
signal receiver and watchfiles' ``awatch`` (issue 13).

Run: ``python bench/frameworks.py [--quick]``.  Everything runs in the
same process, one framework after the other:

1. Signal latency, ``os.kill(getpid(), SIGUSR1)`` -> the signal in hand,
   median and p99 in microseconds, two ways: "sent, then awaited" (the
   signal is pending when ``get()`` is called) and "sent while parked" (the
   getter is asleep in the event loop when the signal arrives: sent from
   a thread 200 us after the getter was called, for every contender).  butter's
   ``Signalfd_async`` under asyncio (``butter.asyncio``), anyio on asyncio,
   anyio on trio and plain trio (``butter.anyio``); ``trio.open_signal_receiver``
   (a signal handler and the wakeup fd) under trio.
2. inotify events/s, "drain": the kernel queue is filled first (creations
   in a watched directory, 90% of ``fs.inotify.max_queued_events``), then
   ``await get()`` takes them all: what the consumer alone costs.

Every measurement is repeated in rounds that interleave the contenders,
so a noisy moment of the machine spreads over all of them.
3. inotify events/s, "live": a process creates files in a watched directory
   while the consumer runs; the rate is files / time until the last one is
   reported.  butter ``Inotify_async`` (``IN_CREATE``) beside
   ``watchfiles.awatch`` (its default Rust backend, ``debounce=50``,
   ``step=10``: it reports sets of changes, so each path counts once).

The ratio lines compare butter under each framework with its own asyncio
figure (issue 13 asks for trio within 1.3x).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any, Awaitable, Callable, Dict, List, Tuple

from _util import header, percentile

import butter.anyio.inotify
import butter.anyio.signalfd
import butter.asyncio.inotify
import butter.asyncio.signalfd
from butter.inotify import IN_CREATE

try:
    import anyio
    import trio
except ImportError:  # pragma: no cover
    sys.exit("bench/frameworks.py needs anyio and trio: pip install 'butter[anyio]' trio")

SIG = signal.SIGUSR1

FRAMEWORKS = ("asyncio", "anyio-asyncio", "anyio-trio", "trio")


def run(framework: str, fn: Callable[..., Awaitable[Any]], *args: Any) -> Any:
    """Run ``fn(module_family, *args)`` under *framework*."""
    if framework == "asyncio":
        return asyncio.run(fn(butter.asyncio, *args))
    if framework == "trio":
        return trio.run(fn, butter.anyio, *args)
    backend = framework.split("-", 1)[1]
    return anyio.run(fn, butter.anyio, *args, backend=backend)


class Sender:
    """Sends SIGUSR1 to the main thread: at once (``now()``), or from a
    thread 200 us after ``later()`` is called, so that it arrives while the
    getter is parked in the event loop's ``epoll_wait`` (the same mechanism
    for every framework).  ``sent`` is the ``perf_counter_ns`` of the send."""

    def __init__(self) -> None:
        self.sent = 0
        self._go = threading.Semaphore(0)
        self._main = threading.main_thread().ident
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._stop = False
        self._thread.start()  # after the caller blocked SIG: the thread has it blocked too

    def now(self) -> None:
        self.sent = time.perf_counter_ns()
        signal.pthread_kill(self._main, SIG)  # type: ignore[arg-type]

    def later(self) -> None:
        self._go.release()

    def _run(self) -> None:
        while True:
            self._go.acquire()
            if self._stop:
                return
            time.sleep(0.0002)
            self.now()

    def close(self) -> None:
        self._stop = True
        self._go.release()
        self._thread.join()


def stats(samples: List[int]) -> Tuple[float, float]:
    return percentile(samples, 50) / 1000, percentile(samples, 99) / 1000


# -- 1. signal latency ---------------------------------------------------------------
async def butter_signal(family: Any, n: int, sender: Sender, parked: bool) -> List[int]:
    clock, send = time.perf_counter_ns, sender.later if parked else sender.now
    out: List[int] = []
    async with family.signalfd.Signalfd_async(SIG) as q:
        for i in range(n + 200):
            send()
            await q.get()
            if i >= 200:
                out.append(clock() - sender.sent)
    return out


async def trio_receiver(family: Any, n: int, sender: Sender, parked: bool) -> List[int]:
    clock, send = time.perf_counter_ns, sender.later if parked else sender.now
    out: List[int] = []
    with trio.open_signal_receiver(SIG) as receiver:
        get = receiver.__anext__
        for i in range(n + 200):
            send()
            await get()
            if i >= 200:
                out.append(clock() - sender.sent)
    return out


def bench_signals(n: int, rounds: int = 5) -> Dict[Tuple[str, bool], float]:
    """Each contender runs *rounds* times, interleaved with the others, so
    that a noisy moment of the machine spreads over all of them."""
    medians: Dict[Tuple[str, bool], float] = {}
    contenders = [*FRAMEWORKS, "trio.open_signal_receiver"]
    for parked in (False, True):
        print(f"signal latency ({'sent while parked' if parked else 'sent, then awaited'}):")
        count = (n // 4 if parked else n) // rounds  # each parked send sleeps 200 us
        samples: Dict[str, List[int]] = {c: [] for c in contenders}
        for _ in range(rounds):
            for c in contenders:
                if c in FRAMEWORKS:
                    signal.pthread_sigmask(signal.SIG_BLOCK, [SIG])
                sender = Sender()  # started with the mask the contender needs
                try:
                    if c in FRAMEWORKS:
                        samples[c] += run(c, butter_signal, count, sender, parked)
                    else:
                        samples[c] += trio.run(trio_receiver, None, count, sender, parked)
                finally:
                    sender.close()
                    signal.pthread_sigmask(signal.SIG_UNBLOCK, [SIG])
        for c in contenders:
            med, p99 = stats(samples[c])
            medians[c, parked] = med
            label = f"butter Signalfd_async, {c}" if c in FRAMEWORKS else f"{c} (trio)"
            print(f"  {label:<37} median {med:6.2f} us   p99 {p99:7.2f} us")
    return medians


# -- 2. inotify: draining a full kernel queue ------------------------------------------
def queue_limit() -> int:
    with open("/proc/sys/fs/inotify/max_queued_events") as f:
        return int(f.read())


async def drain(family: Any, d: str, n: int) -> float:
    """events/s of ``await get()`` taking a kernel queue of *n* creations."""
    async with family.inotify.Inotify_async() as q:
        q.watch(d, IN_CREATE)
        for i in range(n):
            os.close(os.open(os.path.join(d, str(i)), os.O_CREAT | os.O_WRONLY))
        get = q.get
        t0 = time.perf_counter()
        for _ in range(n):
            await get()
        rate = n / (time.perf_counter() - t0)
        if q.qsize():
            raise RuntimeError("more events than files: the kernel overflowed?")
    return rate


# -- 3. inotify live, beside watchfiles ----------------------------------------------
_WRITER = """
import os, sys
d, n = sys.argv[1], int(sys.argv[2])
sys.stdin.read(1)
for i in range(n):
    os.close(os.open(os.path.join(d, "f%d" % i), os.O_CREAT | os.O_WRONLY))
"""


class Writer:
    """A process that creates *n* files in *d* as fast as it can once
    :meth:`start` is called (a process: a thread would share the GIL with
    the consumer being measured); :attr:`t0` is when it was told to go."""

    def __init__(self, d: str, n: int) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _WRITER, d, str(n)], stdin=subprocess.PIPE
        )
        self.t0 = 0.0

    def start(self) -> None:
        assert self.proc.stdin is not None
        self.t0 = time.perf_counter()
        self.proc.stdin.write(b"g")
        self.proc.stdin.close()

    def join(self) -> None:
        self.proc.wait()


async def live_butter(family: Any, d: str, n: int) -> Tuple[float, int]:
    async with family.inotify.Inotify_async() as q:
        q.watch(d, IN_CREATE)
        w = Writer(d, n)
        w.start()
        seen = set()
        while len(seen) < n:
            seen.add((await q.get()).filename)
        elapsed = time.perf_counter() - w.t0
        w.join()
    return n / elapsed, n - len(seen)


async def live_watchfiles(family: Any, d: str, n: int) -> Tuple[float, int]:
    import watchfiles

    stop = anyio.Event()
    seen = set()
    w = Writer(d, n)

    async def stopper() -> None:
        await anyio.sleep(60)
        stop.set()

    async with anyio.create_task_group() as tg:
        tg.start_soon(stopper)
        async for changes in watchfiles.awatch(
            d, debounce=50, step=10, stop_event=stop, yield_on_timeout=True, rust_timeout=10
        ):
            if not w.t0:  # the watcher is running: start writing
                w.start()
            for change, path in changes:
                if change == watchfiles.Change.added:
                    seen.add(path)
            if len(seen) >= n:
                break
        elapsed = time.perf_counter() - w.t0
        tg.cancel_scope.cancel()
    w.join()
    return n / elapsed, n - len(seen)


def fresh_dir() -> tempfile.TemporaryDirectory[str]:
    """A directory on tmpfs (``$TMPDIR`` if set): a disk filesystem would
    measure the disk, not the watchers."""
    base = os.environ.get("TMPDIR") or ("/dev/shm" if os.path.isdir("/dev/shm") else None)
    return tempfile.TemporaryDirectory(prefix="butter-bench-", dir=base)


def interleaved(
    contenders: List[Tuple[str, str, Callable[..., Awaitable[Any]]]],
    rounds: int,
    *args: Any,
) -> Dict[str, List[Any]]:
    """Run every ``(label, framework, fn)`` *rounds* times, interleaved (a
    noisy moment of the machine spreads over all), each in a fresh
    directory; the results by label."""
    results: Dict[str, List[Any]] = {label: [] for label, _, _ in contenders}
    for _ in range(rounds):
        for label, fw, fn in contenders:
            with fresh_dir() as d:
                results[label].append(run(fw, fn, d, *args))
    return results


def bench_inotify(quick: bool) -> Tuple[Dict[str, float], Dict[str, float]]:
    n = int(queue_limit() * 0.9)
    rounds = 3 if quick else 7
    print(f"inotify, drain ({n} queued creations, median of {rounds}):")
    drained: Dict[str, float] = {}
    rates = interleaved([(fw, fw, drain) for fw in FRAMEWORKS], rounds, n)
    for fw in FRAMEWORKS:
        drained[fw] = sorted(rates[fw])[rounds // 2]
        print(f"  butter Inotify_async, {fw:<14} {drained[fw] / 1e3:8.0f} k events/s")

    files = 5000 if quick else 20000
    print(f"inotify, live ({files} files created by another process, best of 5):")
    contenders: List[Tuple[str, str, Callable[..., Awaitable[Any]]]] = [
        (f"butter Inotify_async, {fw}", fw, live_butter) for fw in FRAMEWORKS
    ]
    try:
        import watchfiles  # noqa: F401

        contenders += [
            ("watchfiles awatch, anyio-asyncio", "anyio-asyncio", live_watchfiles),
            ("watchfiles awatch, trio", "trio", live_watchfiles),
        ]
    except ImportError:
        print("  (watchfiles not installed)")
    live: Dict[str, float] = {}
    for label, results in interleaved(contenders, 5, files).items():
        best = max(rate for rate, _ in results)
        live[label] = best
        print(f"  {label:<36} {best / 1e3:8.0f} k events/s, lost {max(x[1] for x in results)}")
    return drained, live


def main() -> None:
    quick = "--quick" in sys.argv
    header("butter under asyncio, anyio and trio")
    medians = bench_signals(3000 if quick else 20000)
    drained, live = bench_inotify(quick)
    print("butter under each framework / its asyncio figure (latency: lower is better):")
    for fw in FRAMEWORKS[1:]:
        lat = [medians[fw, p] / medians["asyncio", p] for p in (False, True)]
        rate = drained["asyncio"] / drained[fw]
        live_rate = live["butter Inotify_async, asyncio"] / live[f"butter Inotify_async, {fw}"]
        print(
            f"  {fw:<14} signal latency {lat[0]:.2f}x / {lat[1]:.2f}x (parked),"
            f" inotify drain time {rate:.2f}x, live {live_rate:.2f}x"
        )


if __name__ == "__main__":
    main()
