"""seccomp: build a 40-rule filter and export its BPF, butter beside the bindings.

Run: python bench/seccomp.py   (with butter installed)

libseccomp's own bindings (Debian ``python3-seccomp``) exist only for the
system interpreter, so they are timed in a ``/usr/bin/python3`` subprocess
running the same code; the median per filter is printed for each.
"""

from __future__ import annotations

import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _util import header

N = 300

CODE = r"""
import statistics, sys, time

def build(S):
    f = S.SyscallFilter(S.ALLOW)
    for i, name in enumerate(["read", "write", "openat", "close", "mmap", "ioctl", "dup",
                              "lseek", "uname", "getpid"]):
        f.add_rule(S.ERRNO(1 + i), name, S.Arg(0, S.EQ, 1000 + i))
        f.add_rule(S.ERRNO(20 + i), name, S.Arg(0, S.GT, 5000), S.Arg(1, S.NE, 0))
        f.add_rule(S.ERRNO(40 + i), name, S.Arg(2, S.MASKED_EQ, 0xF0, 0x10))
        f.add_rule(S.TRAP, name, S.Arg(0, S.EQ, 99999 + i))
    return f

def bench(S, n, export):
    runs = []
    for _ in range(7):
        t0 = time.perf_counter_ns()
        for _ in range(n):
            export(build(S))
        runs.append((time.perf_counter_ns() - t0) / n)
    return statistics.median(runs)
"""


def butter_times() -> tuple[float, float]:
    import tempfile

    import butter.seccomp as S

    ns: dict = {}
    exec(CODE, ns)
    with tempfile.TemporaryFile() as t:

        def export(f):
            t.seek(0)
            f.export_bpf(t)

        build_only = ns["bench"](S, N, lambda f: None)
        with_export = ns["bench"](S, N, export)
    return build_only, with_export


REF = (
    CODE
    + r"""
import seccomp, tempfile
with tempfile.TemporaryFile() as t:
    def export(f):
        t.seek(0)
        f.export_bpf(t)
    n = int(sys.argv[1])
    print(bench(seccomp, n, lambda f: None), bench(seccomp, n, export))
"""
)


def main() -> None:
    header("seccomp: 40 rules, build (+ export_bpf), per filter")
    b_build, b_export = butter_times()
    label = "butter.seccomp"
    print(f"  {label:36} build {b_build / 1000:7.1f} us   + export {b_export / 1000:7.1f} us")
    try:
        proc = subprocess.run(
            ["/usr/bin/python3", "-c", REF, str(N)], capture_output=True, text=True, check=True
        )
    except (OSError, subprocess.CalledProcessError):
        print("  seccomp (bindings): not available (/usr/bin/python3 + python3-seccomp)")
        return
    r_build, r_export = map(float, proc.stdout.split())
    label = "seccomp bindings (/usr/bin/python3)"
    print(f"  {label:36} build {r_build / 1000:7.1f} us   + export {r_export / 1000:7.1f} us")


if __name__ == "__main__":
    main()
