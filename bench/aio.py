"""Benchmark: random 4 KiB O_DIRECT reads, butter.aio against os.pread.

    python bench/aio.py [--file-mib 256] [--reads 4000] [--depth 64] [--dir /var/tmp]

Tools, on the same file and the same random block offsets, same run:

* ``os.preadv loop``       -- one blocking 4 KiB read after the other, into
  an aligned buffer (``os.pread`` itself fails on O_DIRECT: its buffer is
  not aligned)
* ``butter Context batch`` -- ``with ctx.batch():`` *depth* reads, one
  ``io_submit``, then ``get_events`` until they are all done; repeated
* ``butter per-request``   -- the same with one ``io_submit`` per read
* ``Context_async gather`` -- ``asyncio.gather`` of *depth* awaited reads
* ``Context_async get()``  -- *depth* reads submitted through
  ``Context_async.context``, collected with ``await get()`` from a queue of
  ``maxsize=16`` (the queue's path: ``Context.lend``/``report``, refills)

The file is opened with ``O_DIRECT`` so every read goes to the device (no
page cache): the gain from AIO is the device's parallelism, which depends on
the disk (NVMe: large; a single spinning disk: none).  Also prints the pure
per-request overhead of butter on a cached (non-O_DIRECT) file.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import tempfile
import time

from _util import header

from butter.aio import Context, aligned_buffer
from butter.asyncio.aio import Context_async

BLOCK = 4096


def make_file(directory: str, mib: int) -> str:
    fd, path = tempfile.mkstemp(prefix="butter-aio-bench-", dir=directory)
    chunk = os.urandom(1 << 20)
    for _ in range(mib):
        os.write(fd, chunk)
    os.fsync(fd)
    os.close(fd)
    return path


def bench_pread(fd: int, offsets: list[int]) -> float:
    t0 = time.perf_counter()
    for off in offsets:
        os.pread(fd, BLOCK, off)
    return time.perf_counter() - t0


def bench_preadv(fd: int, offsets: list[int]) -> float:
    # os.pread's own buffer is not aligned: O_DIRECT refuses it (EINVAL).
    buf = aligned_buffer(BLOCK)
    t0 = time.perf_counter()
    for off in offsets:
        os.preadv(fd, [buf], off)
        bytes(buf)  # the same copy-out as pread's bytes result
    return time.perf_counter() - t0


def bench_batch(fd: int, offsets: list[int], depth: int) -> float:
    with Context(depth) as ctx:
        t0 = time.perf_counter()
        for i in range(0, len(offsets), depth):
            with ctx.batch():
                for off in offsets[i : i + depth]:
                    ctx.pread(fd, BLOCK, off)
            n = min(depth, len(offsets) - i)
            while n:
                n -= len(ctx.get_events(n, depth))
        return time.perf_counter() - t0


def bench_single(fd: int, offsets: list[int], depth: int) -> float:
    with Context(depth) as ctx:
        t0 = time.perf_counter()
        for i in range(0, len(offsets), depth):
            reqs = [ctx.pread(fd, BLOCK, off) for off in offsets[i : i + depth]]
            n = len(reqs)
            while n:
                n -= len(ctx.get_events(n, depth))
        return time.perf_counter() - t0


def bench_async(fd: int, offsets: list[int], depth: int) -> float:
    async def main() -> float:
        async with Context_async(depth) as ctx:
            t0 = time.perf_counter()
            for i in range(0, len(offsets), depth):
                await asyncio.gather(*(ctx.pread(fd, BLOCK, off) for off in offsets[i : i + depth]))
            return time.perf_counter() - t0

    return asyncio.run(main())


def bench_async_queue(fd: int, offsets: list[int], depth: int) -> float:
    async def main() -> float:
        async with Context_async(depth, maxsize=16) as ctx:
            sync = ctx.context
            t0 = time.perf_counter()
            for i in range(0, len(offsets), depth):
                chunk = offsets[i : i + depth]
                for off in chunk:
                    sync.pread(fd, BLOCK, off)
                for _ in chunk:
                    (await ctx.get()).result  # noqa: B018 - reading it is the point
            return time.perf_counter() - t0

    return asyncio.run(main())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--file-mib", type=int, default=256)
    parser.add_argument("--reads", type=int, default=4000)
    parser.add_argument("--depth", type=int, default=64)
    parser.add_argument("--dir", default="/var/tmp")
    args = parser.parse_args()
    header(f"random {BLOCK}-byte reads, {args.reads} per tool, queue depth {args.depth}")
    path = make_file(args.dir, args.file_mib)
    try:
        try:
            dfd = os.open(path, os.O_RDONLY | os.O_DIRECT)
        except OSError as exc:
            sys.exit(f"O_DIRECT not supported in {args.dir}: {exc}")
        rng = random.Random(5)
        blocks = args.file_mib * (1 << 20) // BLOCK
        rows = []
        for name, fn in [
            ("os.preadv loop", lambda o: bench_preadv(dfd, o)),
            ("butter Context batch", lambda o: bench_batch(dfd, o, args.depth)),
            ("butter per-request", lambda o: bench_single(dfd, o, args.depth)),
            ("Context_async gather", lambda o: bench_async(dfd, o, args.depth)),
            ("Context_async get()", lambda o: bench_async_queue(dfd, o, args.depth)),
        ]:
            offsets = [rng.randrange(blocks) * BLOCK for _ in range(args.reads)]
            secs = fn(offsets)
            rows.append((name, secs))
        base = rows[0][1]
        print(f"  O_DIRECT ({args.dir}):")
        for name, secs in rows:
            rate = args.reads / secs
            print(
                f"    {name:24} {rate:10,.0f} reads/s  {secs / args.reads * 1e6:7.1f} us/read"
                f"  x{base / secs:5.2f}"
            )
        os.close(dfd)
        # Cached file: the kernel does the read inside io_submit; what is
        # left is butter's per-request cost against os.pread's.
        fd = os.open(path, os.O_RDONLY)
        offsets = [rng.randrange(min(blocks, 4096)) * BLOCK for _ in range(args.reads)]
        for o in offsets:
            os.pread(fd, BLOCK, o)
        print("  page cache (per-request overhead):")
        for name, secs in [
            ("os.pread loop", bench_pread(fd, offsets)),
            ("butter Context batch", bench_batch(fd, offsets, args.depth)),
            ("butter per-request", bench_single(fd, offsets, args.depth)),
            ("Context_async gather", bench_async(fd, offsets, args.depth)),
            ("Context_async get()", bench_async_queue(fd, offsets, args.depth)),
        ]:
            print(f"    {name:24} {secs / args.reads * 1e6:7.2f} us/read")
        os.close(fd)
    finally:
        os.unlink(path)


if __name__ == "__main__":
    main()
