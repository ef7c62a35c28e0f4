"""Benchmark butter.inotify beside struct.unpack_from, inotify_simple and asyncinotify.

    python bench/inotify.py          # everything (about 2 minutes)
    python bench/inotify.py --quick  # the parse rates only (or BENCH_QUICK=1)

Prints, in one run: the parse rate of ``str_to_events`` (full InotifyEvent
objects, names decoded) on buffers captured from the kernel, beside a bare
``struct.unpack_from`` loop (plain tuples, names left as bytes: the floor
every row is divided by), the same loop building what ``str_to_events``
returns, and inotify_simple's parser; best and median of the timed runs
(on PyPy they differ most: the median includes the runs a major GC step
lands in).  Three buffers: 16384 IN_MODIFY events alternating between two
files, 16384 IN_CREATE events with distinct names, and a 4-event read.

Then (not with --quick) end-to-end events/s for Inotify and Inotify_async
(and the peers if installed) with a writer process producing IN_MODIFY
events as fast as it can, with the kernel queue raised so that nothing may
be lost (restored right after).
"""

from __future__ import annotations

import asyncio
import os
import statistics
import struct
import sys
import tempfile
import time

from butter.asyncio.inotify import Inotify_async
from butter.inotify import (
    IN_CREATE,
    IN_MODIFY,
    IN_NONBLOCK,
    Inotify,
    InotifyEvent,
    str_to_events,
)

N_PARSE = 16384
N_SMALL = 4
N_E2E = 300_000
QUEUE_PATH = "/proc/sys/fs/inotify/max_queued_events"
QUICK = "--quick" in sys.argv[1:] or os.environ.get("BENCH_QUICK", "") not in ("", "0")


def capture(path: str, n: int) -> bytes:
    """Real kernel bytes: n IN_MODIFY events (two alternating names)."""
    for name in ("a.txt", "b.txt"):
        open(os.path.join(path, name), "w").close()
    fd = os.open(path, os.O_RDONLY)
    os.close(fd)
    with Inotify() as ino:
        ino.watch(path, IN_MODIFY)
        fds = [os.open(os.path.join(path, x), os.O_WRONLY) for x in ("a.txt", "b.txt")]
        for k in range(n):
            os.write(fds[k % 2], b"x")
        for f in fds:
            os.close(f)
        return os.read(ino.fileno(), 4 * 1024 * 1024)


def capture_distinct(path: str, n: int) -> bytes:
    """Real kernel bytes: n IN_CREATE events, every name different."""
    sub = os.path.join(path, "distinct")
    os.mkdir(sub)
    with Inotify() as ino:
        ino.watch(sub, IN_CREATE)
        for k in range(n):
            os.close(os.open(os.path.join(sub, f"f{k:06d}.log"), os.O_CREAT | os.O_WRONLY))
        return os.read(ino.fileno(), 4 * 1024 * 1024)


def rates(fn, buf: bytes, n: int, repeat: int = 15) -> tuple[float, float]:
    """Events/s of fn(buf), best and median of *repeat* timed runs; a run
    calls fn often enough to parse at least N_PARSE events."""
    calls = max(1, N_PARSE // n)
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(calls):
            fn(buf)
        times.append((time.perf_counter() - t0) / calls)
    return n / min(times), n / statistics.median(times)


def struct_baseline(buf: bytes):
    unpack = struct.Struct("iIII").unpack_from
    pos, end, out = 0, len(buf), []
    while pos < end:
        wd, mask, cookie, length = unpack(buf, pos)
        out.append((wd, mask, cookie, buf[pos + 16 : pos + 16 + length].rstrip(b"\0")))
        pos += 16 + length
    return out


def struct_events(buf: bytes):
    """The plain loop doing str_to_events' whole job: InotifyEvent objects,
    names decoded as os.fsdecode (and cut at the first NUL)."""
    unpack = struct.Struct("iIII").unpack_from
    fsdecode = os.fsdecode
    pos, end, out = 0, len(buf), []
    while pos < end:
        wd, mask, cookie, length = unpack(buf, pos)
        pos += 16
        if pos + length > end:
            raise ValueError("truncated inotify event in buffer")
        name = fsdecode(buf[pos : pos + length].split(b"\0", 1)[0]) if length else ""
        out.append(InotifyEvent(wd, mask, cookie, name))
        pos += length
    return out


def parse_rates(d: str) -> None:
    full = capture(d, N_PARSE)
    end = 0
    for _ in range(N_SMALL):
        end += 16 + struct.unpack_from("iIII", full, end)[3]
    small = full[:end]
    buffers = [
        (f"{N_PARSE} IN_MODIFY, two files alternating", full),
        (f"{N_PARSE} IN_CREATE, distinct names", capture_distinct(d, N_PARSE)),
        (f"a {N_SMALL}-event read (IN_MODIFY, as above)", small),
    ]
    rows = [
        ("butter str_to_events (InotifyEvent)", str_to_events),
        ("struct.unpack_from loop (plain tuples)", struct_baseline),
        ("struct.unpack_from loop -> InotifyEvent", struct_events),
    ]
    try:
        import inotify_simple

        rows.append(("inotify_simple.parse_events", inotify_simple.parse_events))
    except ImportError:
        print("  (inotify_simple not installed)")
    for title, buf in buffers:
        n = len(str_to_events(buf))
        assert struct_events(buf) == str_to_events(buf)
        print(f"\nparse rate, {title} ({n} events, {len(buf)} bytes), M events/s:")
        print(f"  {'':42s} {'best':>6s} {'median':>7s}   x struct loop (best, median)")
        floor = rates(struct_baseline, buf, n)
        for label, fn in rows:
            best, median = floor if fn is struct_baseline else rates(fn, buf, n)
            print(
                f"  {label:42s} {best / 1e6:6.2f} {median / 1e6:7.2f}"
                f"   {best / floor[0]:4.2f}x {median / floor[1]:5.2f}x"
            )


def writer(path: str, n: int) -> int:
    sys.stdout.flush()
    pid = os.fork()
    if pid == 0:
        try:
            a = os.open(os.path.join(path, "a.txt"), os.O_WRONLY)
            b = os.open(os.path.join(path, "b.txt"), os.O_WRONLY)
            for _ in range(n // 2):
                os.write(a, b"x")
                os.write(b, b"x")
        finally:
            os._exit(0)
    return pid


class RaisedQueue:
    def __enter__(self):
        try:
            with open(QUEUE_PATH) as f:
                self.old = f.read().strip()
            with open(QUEUE_PATH, "w") as f:
                f.write(str(N_E2E + 10_000))
            self.ok = True
        except OSError:
            self.ok = False
        return self

    def __exit__(self, *exc):
        if self.ok:
            with open(QUEUE_PATH, "w") as f:
                f.write(self.old)


def e2e_sync(path: str, make, read) -> tuple[float, int]:
    """Create the watcher under a raised queue, then time a writer process
    to the reader having seen every event."""
    with RaisedQueue():
        obj = make()
    pid = writer(path, N_E2E)
    t0 = time.perf_counter()
    seen = 0
    while seen < N_E2E:
        events = read(obj, 2.0)
        if not events:
            break
        seen += len(events)
    dt = time.perf_counter() - t0
    os.waitpid(pid, 0)
    obj.close()
    return seen / dt, N_E2E - seen


def main() -> None:
    print(f"Python {sys.version.split()[0]} ({sys.implementation.name})")
    with tempfile.TemporaryDirectory() as d:
        parse_rates(d)
        if QUICK:
            return

        print(f"\nend to end, {N_E2E} IN_MODIFY from a writer process (queue raised):")

        def butter_make():
            i = Inotify(IN_NONBLOCK)
            i.watch(d, IN_MODIFY)
            return i

        def butter_read(i, timeout):
            # wait() returns the batch's first event; the rest, if any, are
            # cached.  Non-blocking, so that read_events() after the last
            # batch of one event raises instead of waiting forever.
            if i.wait(timeout) is None:
                return []
            try:
                return [None, *i.read_events()]
            except BlockingIOError:
                return [None]

        rate, lost = e2e_sync(d, butter_make, butter_read)
        print(f"  {'butter Inotify':42s} {rate / 1e3:8.0f} k events/s, lost {lost}")
        try:
            import inotify_simple

            def simple_make():
                i = inotify_simple.INotify()
                i.add_watch(d, inotify_simple.flags.MODIFY)
                return i

            def simple_read(i, timeout):
                return i.read(timeout=int(timeout * 1000))

            rate, lost = e2e_sync(d, simple_make, simple_read)
            print(f"  {'inotify_simple INotify':42s} {rate / 1e3:8.0f} k events/s, lost {lost}")
        except ImportError:
            pass

        async def timed(make, get) -> tuple[float, int]:
            """One plain ``await get()`` per event, the loop as a whole
            bounded by a timeout (so a lost event cannot hang the bench)."""
            with RaisedQueue():
                obj = make()
            seen = 0

            async def consume():
                nonlocal seen
                while seen < N_E2E:
                    await get(obj)
                    seen += 1

            pid = writer(d, N_E2E)
            t0 = time.perf_counter()
            try:
                await asyncio.wait_for(consume(), 60)
            except asyncio.TimeoutError:
                pass
            dt = time.perf_counter() - t0
            os.waitpid(pid, 0)
            obj.close()
            return seen / dt, N_E2E - seen

        def butter_async_make():
            q = Inotify_async()
            q.watch(d, IN_MODIFY)
            return q

        rate, lost = asyncio.run(timed(butter_async_make, Inotify_async.get))
        label = "butter Inotify_async (await get())"
        print(f"  {label:42s} {rate / 1e3:8.0f} k events/s, lost {lost}")
        try:
            import asyncinotify

            def peer_make():
                ai = asyncinotify.Inotify()
                ai.add_watch(d, asyncinotify.Mask.MODIFY)
                return ai

            rate, lost = asyncio.run(timed(peer_make, asyncinotify.Inotify.get))
            print(f"  {'asyncinotify (await get())':42s} {rate / 1e3:8.0f} k events/s, lost {lost}")
        except ImportError:
            print("  (asyncinotify not installed)")

        consumer_capacity(d)


def consumer_capacity(d: str) -> None:
    """The end-to-end rates above are bounded by the writer process.  Here
    the writer goes first (the kernel queue raised to hold everything), then
    the consumer is timed alone: what butter itself can sustain."""
    print(f"\nconsumer alone, {N_E2E} IN_MODIFY already queued in the kernel:")
    paths = [os.path.join(d, name) for name in ("a.txt", "b.txt")]
    fds = [os.open(p, os.O_WRONLY | os.O_CREAT) for p in paths]

    def fill() -> float:
        t0 = time.perf_counter()
        for k in range(N_E2E):
            os.write(fds[k & 1], b"x")
        return N_E2E / (time.perf_counter() - t0)

    with RaisedQueue():
        ino = Inotify()
    ino.watch(d, IN_MODIFY)
    writer_rate = fill()
    t0 = time.perf_counter()
    seen = 0
    while seen < N_E2E:
        seen += len(ino.read_events())
    rate = N_E2E / (time.perf_counter() - t0)
    print(f"  {'butter Inotify.read_events()':42s} {rate / 1e3:8.0f} k events/s")
    ino.close()

    async def drain() -> float:
        with RaisedQueue():
            queue = Inotify_async()
        queue.watch(d, IN_MODIFY)
        fill()
        t0 = time.perf_counter()
        for _ in range(N_E2E):
            await queue.get()
        rate = N_E2E / (time.perf_counter() - t0)
        queue.close()
        return rate

    rate = asyncio.run(drain())
    print(f"  {'butter Inotify_async (await get())':42s} {rate / 1e3:8.0f} k events/s")
    print(f"  {'(the writer process alone)':42s} {writer_rate / 1e3:8.0f} k events/s")
    for fd in fds:
        os.close(fd)


if __name__ == "__main__":
    main()
