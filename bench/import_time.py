"""What ``import butter.<family>`` adds to interpreter start-up.

Run: python bench/import_time.py [module ...]   (default: butter.eventfd,
butter.timerfd, butter.signalfd, plus linuxfd if installed)

Each command runs in a fresh interpreter, alternating with a bare
``python -c pass``, many times; the medians are compared.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time

ROUNDS = 40


def _time(code: str) -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True)
    return time.perf_counter() - t0


def main() -> None:
    modules = sys.argv[1:] or ["butter.eventfd", "butter.timerfd", "butter.signalfd"]
    if len(sys.argv) == 1:
        try:
            import linuxfd  # noqa: F401

            modules.append("linuxfd")
        except ImportError:
            pass
    for module in modules:
        subprocess.run([sys.executable, "-c", f"import {module}"], check=True)  # warm caches
    bare: list[float] = []
    timings: dict[str, list[float]] = {m: [] for m in modules}
    for _ in range(ROUNDS):
        bare.append(_time("pass"))
        for module in modules:
            timings[module].append(_time(f"import {module}"))
    base = statistics.median(bare)
    print(f"python -c pass: {base * 1000:.1f} ms (median of {ROUNDS})")
    for module in modules:
        med = statistics.median(timings[module])
        print(f"  import {module:20} +{(med - base) * 1000:5.1f} ms")
    print("  target: import butter.eventfd adds <= 10 ms (linuxfd ~2 ms, old Butter ~15 ms)")


if __name__ == "__main__":
    main()
