"""Benchmark: random 4 KiB reads of one file, 32 in flight: butter.io_uring
against butter.aio and raw threads.

    python bench/io_uring.py [--file-mib 1024] [--reads 20000] [--depth 32]
                             [--dir /var/tmp] [--file PATH]

Same run, same file (made like ``bench/aio.py``'s, on the file system of
``--dir``: use ext4 or xfs, not tmpfs, for O_DIRECT), same random block
offsets for every tool.  Each tool keeps *depth* reads in flight all the
time (a new read as soon as one completes):

* ``Ring``            -- :class:`butter.io_uring.Ring`: ``pread`` requests,
  ``get_events()`` submits the new ones and waits (one ``io_uring_enter``
  per round)
* ``Ring read_fixed`` -- the same into registered buffers (no copy to bytes)
* ``aio.Context``     -- :class:`butter.aio.Context` (O_DIRECT only: AIO is
  synchronous on the page cache)
* ``raw threads``     -- *depth* threads, each ``os.preadv`` (O_DIRECT, into
  an aligned buffer) or ``os.pread`` (page cache) in a loop over its own
  share of the offsets (no hand-off: the best case for threads)
* ``threads + queues`` -- *depth* threads fed offsets by the main thread
  through a ``queue.SimpleQueue`` and handing the bytes back through
  another, *depth* in flight (the shape of the ring tools: one consumer
  sees every result)
* ``Ring_async``      -- *depth* asyncio tasks awaiting
  :class:`butter.asyncio.io_uring.Ring_async` ``pread`` in a loop (an
  asyncio task step per read)
* ``Ring_async get()`` -- one asyncio task keeping *depth* reads in flight
  with ``Ring_async.ring.pread`` and collecting them with ``await get()``
  (the queue interface of every ``*_async`` class)

Then the same on the page cache (the file opened without O_DIRECT, read
once first so every block is cached).

Where ``fio`` is installed (``apt-get install fio``; ``--no-fio`` skips it),
the same random reads of the same file by fio's C engines are printed under
them: io_uring and libaio at *depth*, and *depth* ``psync`` threads.  They
show this machine's ceiling -- what the device (O_DIRECT) or the cores (page
cache) allow any library -- so a ratio between the Python tools can be read
against what is possible at all.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import threading
import time
from typing import Any, Iterator

from _util import header

from butter.aio import Context, aligned_buffer
from butter.io_uring import Ring

BLOCK = 4096


def make_file(directory: str, mib: int) -> str:
    import tempfile

    fd, path = tempfile.mkstemp(prefix="butter-uring-bench-", dir=directory)
    chunk = os.urandom(1 << 20)
    for _ in range(mib):
        os.write(fd, chunk)
    os.fsync(fd)
    os.close(fd)
    return path


def _first_reads(pread: Any, fd: int, it: Iterator[int], depth: int) -> int:
    """Queue the first *depth* reads of *it*; return how many."""
    n = 0
    for off in it:
        pread(fd, BLOCK, off)
        n += 1
        if n == depth:
            break
    return n


def bench_ring(fd: int, offsets: list[int], depth: int) -> float:
    with Ring(depth * 2) as ring:
        pread = ring.pread
        get_events = ring.get_events
        it = iter(offsets)
        t0 = time.perf_counter()
        inflight = _first_reads(pread, fd, it, depth)
        while inflight:
            done = get_events(1)
            inflight -= len(done)
            for req in done:
                req.result  # noqa: B018 - raises if it failed
                off = next(it, None)
                if off is not None:
                    pread(fd, BLOCK, off)
                    inflight += 1
        return time.perf_counter() - t0


def bench_ring_fixed(fd: int, offsets: list[int], depth: int) -> float:
    with Ring(depth * 2) as ring:
        ring.register_buffers([aligned_buffer(BLOCK) for _ in range(depth)])
        read_fixed = ring.read_fixed
        get_events = ring.get_events
        it = iter(offsets)
        slot = {}
        t0 = time.perf_counter()
        for i, off in zip(range(depth), it):
            slot[read_fixed(fd, i, off)] = i
        while slot:
            for req in get_events(1):
                req.result  # noqa: B018
                i = slot.pop(req)
                off = next(it, None)
                if off is not None:
                    slot[read_fixed(fd, i, off)] = i
        return time.perf_counter() - t0


def bench_aio(fd: int, offsets: list[int], depth: int) -> float:
    with Context(depth * 2) as ctx:
        pread = ctx.pread
        get_events = ctx.get_events
        it = iter(offsets)
        t0 = time.perf_counter()
        inflight = _first_reads(pread, fd, it, depth)
        while inflight:
            done = get_events(1)
            inflight -= len(done)
            for req in done:
                req.result  # noqa: B018
                off = next(it, None)
                if off is not None:
                    pread(fd, BLOCK, off)
                    inflight += 1
        return time.perf_counter() - t0


def _direct_reader(fd: int) -> tuple[object, object]:
    """``(read(off) -> bytes, close())`` for one thread: ``os.preadv`` into
    an aligned buffer, or where ``os`` lacks it (PyPy 3.9) ``lseek`` +
    ``FileIO.readinto`` on a descriptor of the thread's own."""
    buf = aligned_buffer(BLOCK)
    if hasattr(os, "preadv"):

        def read(off: int) -> bytes:
            os.preadv(fd, [buf], off)
            return bytes(buf)

        return read, lambda: None
    own = open(f"/proc/self/fd/{fd}", "rb", buffering=0)  # noqa: SIM115
    os.set_blocking(own.fileno(), True)
    import fcntl

    fcntl.fcntl(own, fcntl.F_SETFL, fcntl.fcntl(own, fcntl.F_GETFL) | os.O_DIRECT)

    def read_own(off: int) -> bytes:
        own.seek(off)
        own.readinto(buf)
        return bytes(buf)

    return read_own, own.close


def bench_threads(fd: int, offsets: list[int], depth: int, direct: bool) -> float:
    shares = [offsets[i::depth] for i in range(depth)]
    start = threading.Barrier(depth + 1)

    def work(share: list[int]) -> None:
        if direct:
            read, close = _direct_reader(fd)
            start.wait()
            for off in share:
                read(off)  # type: ignore[operator]
            close()  # type: ignore[operator]
        else:
            start.wait()
            for off in share:
                os.pread(fd, BLOCK, off)

    threads = [threading.Thread(target=work, args=(s,)) for s in shares]
    for t in threads:
        t.start()
    start.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    return time.perf_counter() - t0


def bench_thread_queue(fd: int, offsets: list[int], depth: int, direct: bool) -> float:
    """*depth* worker threads fed through a queue, results back to the main
    thread, which keeps *depth* reads in flight (the shape of the other
    tools: one consumer sees every result)."""
    import queue

    todo: queue.SimpleQueue = queue.SimpleQueue()
    done: queue.SimpleQueue = queue.SimpleQueue()

    def work() -> None:
        read, close = _direct_reader(fd) if direct else (None, None)
        while True:
            off = todo.get()
            if off is None:
                if close is not None:
                    close()  # type: ignore[operator]
                return
            if read is not None:
                done.put(read(off))  # type: ignore[operator]
            else:
                done.put(os.pread(fd, BLOCK, off))

    threads = [threading.Thread(target=work) for _ in range(depth)]
    for t in threads:
        t.start()
    it = iter(offsets)
    t0 = time.perf_counter()
    inflight = 0
    for off in it:
        todo.put(off)
        inflight += 1
        if inflight == depth:
            break
    while inflight:
        done.get()
        inflight -= 1
        off = next(it, None)
        if off is not None:
            todo.put(off)
            inflight += 1
    secs = time.perf_counter() - t0
    for _ in threads:
        todo.put(None)
    for t in threads:
        t.join()
    return secs


def bench_async(fd: int, offsets: list[int], depth: int) -> float:
    from butter.asyncio.io_uring import Ring_async

    async def main() -> float:
        async with Ring_async(depth * 2) as ring:
            it = iter(offsets)

            async def worker() -> None:
                for off in it:
                    await ring.pread(fd, BLOCK, off)

            t0 = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(depth)))
            return time.perf_counter() - t0

    return asyncio.run(main())


def fio_reference(path: str, direct: bool, depth: int, size: int) -> dict[str, float]:
    """Reads/s of fio's C engines doing the same random 4 KiB reads of the
    first *size* bytes of *path* (empty without fio)."""
    import json
    import shutil
    import subprocess

    exe = shutil.which("fio")
    if exe is None:
        return {}
    engines = {"fio io_uring (C)": ["--ioengine=io_uring", f"--iodepth={depth}"]}
    if direct:
        engines["fio libaio (C)"] = ["--ioengine=libaio", f"--iodepth={depth}"]
    engines[f"fio {depth} psync threads (C)"] = [
        "--ioengine=psync",
        f"--numjobs={depth}",
        "--group_reporting",
    ]
    out = {}
    for name, engine in engines.items():
        cmd = [exe, "--name=ref", f"--filename={path}", "--rw=randread", f"--bs={BLOCK}"]
        cmd += [f"--direct={int(direct)}", "--invalidate=0", f"--size={size}"]
        cmd += ["--runtime=3", "--time_based", "--output-format=json", *engine]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        try:
            out[name] = float(json.loads(proc.stdout)["jobs"][0]["read"]["iops"])
        except (ValueError, KeyError, IndexError):
            print(f"    ({name}: fio failed: {proc.stderr.strip()[:200]})")
    return out


def show_reference(ref: dict[str, float], best: dict[str, float]) -> None:
    if not ref:
        return
    print("  the same reads in C (fio, same file):")
    for name, rate in ref.items():
        ratio = best["Ring"] / rate
        print(f"    {name:26} {rate:10,.0f} reads/s   Ring reaches x{ratio:4.2f} of it")


def bench_async_queue(fd: int, offsets: list[int], depth: int) -> float:
    from butter.asyncio.io_uring import Ring_async

    async def main() -> float:
        async with Ring_async(depth * 2) as aring:
            pread = aring.ring.pread
            get = aring.get
            it = iter(offsets)
            t0 = time.perf_counter()
            inflight = _first_reads(pread, fd, it, depth)
            while inflight:
                req = await get()  # submits what is queued before it waits
                req.result  # noqa: B018
                inflight -= 1
                off = next(it, None)
                if off is not None:
                    pread(fd, BLOCK, off)
                    inflight += 1
            return time.perf_counter() - t0

    return asyncio.run(main())


def show_async(best: dict[str, float]) -> None:
    if "Ring_async" in best:
        for name in ("Ring_async", "Ring_async get()"):
            slower = best["Ring"] / best[name]
            print(f"    {name}: x{slower:.2f} the time of Ring (target <= 1.3)")


def run(tools: list[tuple[str, object]], offsets: list[int], rounds: int) -> dict[str, float]:
    """Best of *rounds* interleaved runs per tool (reads/s)."""
    best: dict[str, float] = {}
    for _ in range(rounds):
        for name, fn in tools:
            secs = fn(offsets)  # type: ignore[operator]
            best[name] = max(best.get(name, 0.0), len(offsets) / secs)
    return best


def show(title: str, best: dict[str, float], base: str) -> None:
    print(f"  {title}:")
    for name, rate in best.items():
        ratio = rate / best[base]
        print(f"    {name:18} {rate:10,.0f} reads/s  {1e6 / rate:7.1f} us/read  x{ratio:5.2f}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--file-mib", type=int, default=1024)
    parser.add_argument("--reads", type=int, default=20000)
    parser.add_argument("--depth", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--dir", default="/var/tmp")
    parser.add_argument("--file", help="an existing file to read (kept)")
    parser.add_argument("--no-async", action="store_true")
    parser.add_argument("--no-fio", action="store_true", help="skip the C reference")
    args = parser.parse_args()
    header(f"random {BLOCK}-byte reads, {args.reads} per tool, {args.depth} in flight")
    path = args.file or make_file(args.dir, args.file_mib)
    depth = args.depth
    try:
        size = os.path.getsize(path)
        blocks = size // BLOCK
        rng = random.Random(5)
        try:
            dfd = os.open(path, os.O_RDONLY | os.O_DIRECT)
        except OSError as exc:
            sys.exit(f"O_DIRECT not supported for {path}: {exc}")
        offsets = [rng.randrange(blocks) * BLOCK for _ in range(args.reads)]
        tools = [
            ("raw threads", lambda o: bench_threads(dfd, o, depth, True)),
            ("threads + queues", lambda o: bench_thread_queue(dfd, o, depth, True)),
            ("aio.Context", lambda o: bench_aio(dfd, o, depth)),
            ("Ring", lambda o: bench_ring(dfd, o, depth)),
            ("Ring read_fixed", lambda o: bench_ring_fixed(dfd, o, depth)),
        ]
        if not args.no_async:
            tools.append(("Ring_async", lambda o: bench_async(dfd, o, depth)))
            tools.append(("Ring_async get()", lambda o: bench_async_queue(dfd, o, depth)))
        best = run(tools, offsets, args.rounds)
        show(f"O_DIRECT, {size >> 20} MiB file", best, "raw threads")
        print(
            f"    Ring / aio.Context x{best['Ring'] / best['aio.Context']:.2f} (target 1.5),"
            f" Ring / raw threads x{best['Ring'] / best['raw threads']:.2f},"
            f" Ring / threads + queues x{best['Ring'] / best['threads + queues']:.2f} (target 2)"
        )
        show_async(best)
        if not args.no_fio:
            show_reference(fio_reference(path, True, depth, size), best)
        os.close(dfd)
        fd = os.open(path, os.O_RDONLY)
        cached = min(blocks, (256 << 20) // BLOCK)  # 256 MiB: fits the page cache
        offsets = [rng.randrange(cached) * BLOCK for _ in range(args.reads)]
        for off in range(0, cached * BLOCK, 1 << 20):
            os.pread(fd, 1 << 20, off)
        tools = [
            ("raw threads", lambda o: bench_threads(fd, o, depth, False)),
            ("threads + queues", lambda o: bench_thread_queue(fd, o, depth, False)),
            ("Ring", lambda o: bench_ring(fd, o, depth)),
            ("Ring read_fixed", lambda o: bench_ring_fixed(fd, o, depth)),
        ]
        if not args.no_async:
            tools.append(("Ring_async", lambda o: bench_async(fd, o, depth)))
            tools.append(("Ring_async get()", lambda o: bench_async_queue(fd, o, depth)))
        best = run(tools, offsets, args.rounds)
        show("page cache (first 256 MiB)", best, "raw threads")
        print(f"    Ring / raw threads x{best['Ring'] / best['raw threads']:.2f} (target 1.5)")
        show_async(best)
        if not args.no_fio:
            show_reference(fio_reference(path, False, depth, cached * BLOCK), best)
        os.close(fd)
    finally:
        if not args.file:
            os.unlink(path)


if __name__ == "__main__":
    main()
