"""eventfd: one write + one read, per pair, butter beside os and linuxfd.

Run: python bench/eventfd.py   (with butter installed; linuxfd optional)

Each contender is timed in interleaved rounds in the same process, so
machine noise hits them alike; the best round (as ``timeit`` advises: noise
only ever adds time) and the median round are printed per pair.
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _util import header, per_call_ns

from butter.eventfd import Eventfd, eventfd, eventfd_read, eventfd_write

N = 200_000
ROUNDS = 9


def contenders():
    fd = eventfd()

    def butter_thin(n, w=eventfd_write, r=eventfd_read, fd=fd):
        for _ in range(n):
            w(fd, 1)
            r(fd)

    obj = Eventfd()

    def butter_object(n, obj=obj):
        for _ in range(n):
            obj.increment(1)
            obj.read_event()

    yield "butter eventfd_write/eventfd_read", butter_thin
    yield "butter Eventfd.increment/read_event", butter_object

    if hasattr(os, "eventfd"):
        ofd = os.eventfd(0)

        def os_thin(n, w=os.eventfd_write, r=os.eventfd_read, fd=ofd):
            for _ in range(n):
                w(fd, 1)
                r(fd)

        yield "os.eventfd_write/os.eventfd_read", os_thin

    rfd = eventfd()

    def os_read_write(n, w=os.write, r=os.read, fd=rfd, one=(1).to_bytes(8, sys.byteorder)):
        for _ in range(n):
            w(fd, one)
            int.from_bytes(r(fd, 8), sys.byteorder)

    yield "os.write/os.read + int.from_bytes", os_read_write

    try:
        import linuxfd
    except ImportError:
        print("  (linuxfd not installed: pip install linuxfd to compare)")
    else:
        lfd = linuxfd.eventfd(initval=0, nonBlocking=False)

        def linuxfd_object(n, lfd=lfd):
            for _ in range(n):
                lfd.write(1)
                lfd.read()

        yield "linuxfd eventfd.write/read", linuxfd_object


def main() -> None:
    header(f"eventfd write+read pairs, {N} per round, best and median of {ROUNDS} rounds")
    items = list(contenders())
    results = {name: [] for name, _ in items}
    for _ in range(ROUNDS):  # interleave rounds
        for name, fn in items:
            results[name].append(per_call_ns(fn, N, repeat=1))
    best = {name: min(results[name]) for name, _ in items}
    median = {name: sorted(results[name])[ROUNDS // 2] for name, _ in items}
    ref = next((name for name, _ in items if name.startswith("os.eventfd")), None)
    for name, _ in items:
        rel = ""
        if ref:
            ratios = f"{best[name] / best[ref]:.2f}x / {median[name] / median[ref]:.2f}x"
            rel = f"  ({ratios} os.eventfd_*)"
        b, m = best[name] / 1000, median[name] / 1000
        print(f"  {name:38} best {b:6.3f}  median {m:6.3f} us{rel}")
    print("  targets: thin <= 1.5x os.eventfd_*, Eventfd <= linuxfd")


if __name__ == "__main__":
    main()
