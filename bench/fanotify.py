"""fanotify: parse rate and end-to-end events per second.

Run: ``python bench/fanotify.py [events]`` (root: fanotify needs CAP_SYS_ADMIN).

Parse: ``str_to_events`` on a buffer of plain records (no fds, so nothing is
closed) and of ``FAN_REPORT_DFID_NAME`` records, beside the floors of a plain
``struct.unpack_from`` loop and of ``struct.iter_unpack`` over the same
records into tuples (what a hand-written parser without objects, names or fd
ownership costs; on PyPy only the loop is JIT-compiled), and each row's
ratio to the unpack_from loop.

End to end: write-and-close N files in a watched directory, then read and
close every event: butter ``Fanotify.read_events`` (classic mode: one fd per
event, closed) and FID mode (names, no fds), beside the floor of ``os.read``
plus ``iter_unpack`` plus ``os.close`` of each event fd.
"""

from __future__ import annotations

import os
import struct
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _util import header, per_call_ns

import butter.fanotify as fa
from butter.fanotify._records import _META, META_SIZE

N = int(sys.argv[1]) if len(sys.argv) > 1 else 2000


def plain_buffer(n: int) -> bytes:
    one = _META.pack(META_SIZE, fa.FANOTIFY_METADATA_VERSION, META_SIZE, fa.FAN_OPEN, -1, 1)
    return one * n


def fid_buffer(n: int) -> bytes:
    name = b"some-file.txt\0"
    handle = b"\x01" * 8
    body = struct.pack("=ii", 1, 2) + struct.pack("=Ii", len(handle), 1) + handle + name
    body += b"\0" * (-(4 + len(body)) % 4)
    rec = struct.pack("=BBH", fa.FAN_EVENT_INFO_TYPE_DFID_NAME, 0, 4 + len(body)) + body
    meta = _META.pack(META_SIZE + len(rec), fa.FANOTIFY_METADATA_VERSION, META_SIZE,
                      fa.FAN_CREATE, -1, 1)  # fmt: skip
    return (meta + rec) * n


def bench_parse() -> None:
    print(f"parse {N} records per buffer (ns per event, median of 7; x the unpack_from loop)")
    plain = plain_buffer(N)
    fid = fid_buffer(N)
    it = _META.iter_unpack
    unpack_from = _META.unpack_from
    offsets = range(0, len(plain), META_SIZE)
    parse = fa.str_to_events
    rows = [
        (
            "struct.unpack_from loop -> tuples (floor)",
            lambda n: [[unpack_from(plain, off) for off in offsets] for _ in range(n)],
        ),
        ("struct.iter_unpack -> tuples (floor)", lambda n: [list(it(plain)) for _ in range(n)]),
        ("butter str_to_events, plain records", lambda n: [parse(plain) for _ in range(n)]),
        ("butter str_to_events, DFID_NAME records", lambda n: [parse(fid) for _ in range(n)]),
    ]
    floor = 0.0
    for name, fn in rows:
        ns = per_call_ns(fn, 5) / N
        floor = floor or ns
        print(
            f"  {name:<44} {ns:8.1f} ns/event   {1e9 / ns / 1e6:6.2f} M events/s"
            f"   {floor / ns:5.2f}x"
        )


def produce(d: str, n: int) -> None:
    for i in range(n):
        fd = os.open(os.path.join(d, f"f{i % 64}"), os.O_WRONLY | os.O_CREAT, 0o644)
        os.close(fd)


def bench_end_to_end() -> None:
    print(f"end to end: {N} close-write events produced, then read and closed")
    with tempfile.TemporaryDirectory() as d:
        mask = fa.FAN_CLOSE_WRITE | fa.FAN_EVENT_ON_CHILD

        def run_butter(flags: int) -> float:
            with fa.Fanotify(flags | fa.FAN_NONBLOCK) as fan:
                fan.watch(d, mask)
                produce(d, N)
                t0 = time.perf_counter()
                got = 0
                while True:
                    try:
                        events = fan.read_events()
                    except BlockingIOError:
                        break
                    for ev in events:
                        ev.close()
                    got += len(events)
                return got / (time.perf_counter() - t0)

        def run_floor() -> float:
            with fa.Fanotify(fa.FAN_NONBLOCK) as fan:
                fan.watch(d, mask)
                produce(d, N)
                t0 = time.perf_counter()
                got = 0
                it = _META.iter_unpack
                while True:
                    try:
                        data = os.read(fan.fileno(), 256 * 1024)
                    except BlockingIOError:
                        break
                    for row in it(data):
                        os.close(row[4])
                        got += 1
                return got / (time.perf_counter() - t0)

        produce(d, 64)
        for name, fn in (
            ("os.read + iter_unpack + os.close (floor)", run_floor),
            ("butter Fanotify (event fds, closed)", lambda: run_butter(0)),
            ("butter Fanotify FAN_REPORT_DFID_NAME", lambda: run_butter(fa.FAN_REPORT_DFID_NAME)),
        ):
            rates = sorted(fn() for _ in range(5))
            print(f"  {name:<44} {rates[2] / 1e3:8.1f} k events/s (read side)")


if __name__ == "__main__":
    header("butter.fanotify")
    bench_parse()
    bench_end_to_end()
