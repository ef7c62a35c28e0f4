"""Run fatrace-like monitors one after the other over the same scripted file
activity, and print what each one reported (JSON on stdout).

Used by tests/test_fanotify_cli.py, as ``python fatrace_session.py SPEC``
(SPEC is JSON), usually under ``unshare -m`` so that ``"tmpfs": true`` mounts
a fresh tmpfs on ``root`` in a private mount namespace (never the host's).

No sleeps decide anything: the monitors resolve paths after the fact, so the
session waits for each monitor to *print* a marker line before it goes on.
fanotify queues events in order, so once a monitor has printed the line for a
marker read after some activity, it has printed (and resolved, while the
files still existed) everything that activity did.  The markers are files in
``<cwd>/.marks`` that the helper only opens and reads (no directory events).

SPEC keys: ``root`` (a directory), ``tmpfs`` (mount one on root first),
``cwd`` (the monitors' working directory, relative to root), ``dirs``
(where the helper works, relative to root), ``monitors`` (name -> argv),
``timeout`` (seconds for each wait).  Output: name -> ``{"lines": [...],
"stderr": "...", "status": N}``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from typing import Any

# The scripted helper: a separate process, as a user's program would be.
# -I keeps it from reading its working directory ("/") for imports.
HELPER = r"""
import os, sys
marks, dirs = sys.argv[1], sys.argv[2:]
def mark(name):
    with open(os.path.join(marks, name)) as f:
        f.read()
for d in dirs:
    with open(os.path.join(d, "a.txt"), "w") as f:
        f.write("hi")
    with open(os.path.join(d, "a.txt")) as f:
        f.read()
mark("1")
print("1", flush=True)
sys.stdin.readline()  # until the monitor has printed mark 1
for d in dirs:
    os.rename(os.path.join(d, "a.txt"), os.path.join(d, "b.txt"))
    os.unlink(os.path.join(d, "b.txt"))
mark("2")
print("2", flush=True)
"""


class Output:
    """A monitor's stdout lines, read by a thread as they come."""

    def __init__(self, stream: Any) -> None:
        self.lines: list[str] = []
        self.cond = threading.Condition()
        self.thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self.thread.start()

    def _read(self, stream: Any) -> None:
        for line in stream:
            with self.cond:
                self.lines.append(line.rstrip("\n"))
                self.cond.notify_all()
        with self.cond:
            self.lines.append("")  # EOF sentinel for waiters
            self.cond.notify_all()

    def wait_for(self, text: str, timeout: float) -> bool:
        """True once a line ends with *text* (a path), False on timeout/EOF."""
        deadline = time.monotonic() + timeout
        with self.cond:
            seen = 0
            while True:
                for line in self.lines[seen:]:
                    if line.endswith(" " + text):
                        return True
                seen = len(self.lines)
                if self.lines and self.lines[-1] == "" and not self.thread.is_alive():
                    return False
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.cond.wait(left)


def run_monitor(argv: list[str], cwd: str, dirs: list[str], timeout: float) -> dict[str, Any]:
    marks = os.path.join(cwd, ".marks")
    proc = subprocess.Popen(
        argv, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    out = Output(proc.stdout)
    err_chunks: list[str] = []
    err_thread = threading.Thread(
        target=lambda: err_chunks.append(proc.stderr.read() if proc.stderr else ""), daemon=True
    )
    err_thread.start()
    problem = ""
    helper = None
    try:
        ready = os.path.join(marks, "ready")
        deadline = time.monotonic() + timeout
        while True:  # poke until the monitor shows it has its marks
            with open(ready) as f:
                f.read()
            if out.wait_for(ready, 0.2):
                break
            if time.monotonic() > deadline or proc.poll() is not None:
                problem = "the monitor never reported the ready marker"
                break
        if not problem:
            helper = subprocess.Popen(
                [sys.executable, "-I", "-c", HELPER, marks, *dirs],
                cwd="/",
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            assert helper.stdin is not None and helper.stdout is not None
            for step in ("1", "2"):
                if helper.stdout.readline().strip() != step:
                    problem = f"the helper failed before step {step}"
                    break
                if not out.wait_for(os.path.join(marks, step), timeout):
                    problem = f"the monitor never reported marker {step}"
                    break
                if step == "1":
                    helper.stdin.write("go\n")
                    helper.stdin.flush()
    finally:
        if helper is not None:
            if helper.stdin:
                helper.stdin.close()
            try:
                helper.wait(timeout)
            except subprocess.TimeoutExpired:
                helper.kill()
                helper.wait()
            if helper.stdout:
                helper.stdout.close()
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)  # fatrace stops cleanly on SIGINT
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            problem = problem or "the monitor did not stop on SIGINT"
        out.thread.join(timeout)
        err_thread.join(timeout)
        if proc.stdout:
            proc.stdout.close()
        if proc.stderr:
            proc.stderr.close()
    return {
        "lines": [line for line in out.lines if line],
        "stderr": "".join(err_chunks),
        "status": proc.returncode,
        "problem": problem,
    }


def main() -> None:
    spec = json.loads(sys.argv[1])
    root = spec["root"]
    if spec.get("tmpfs"):
        subprocess.run(["mount", "-t", "tmpfs", "butter-test", root], check=True)
    cwd = os.path.normpath(os.path.join(root, spec["cwd"]))
    dirs = [os.path.normpath(os.path.join(root, d)) for d in spec["dirs"]]
    os.makedirs(os.path.join(cwd, ".marks"), exist_ok=True)
    for name in ("ready", "1", "2"):
        with open(os.path.join(cwd, ".marks", name), "w") as f:
            f.write(name)
    for d in dirs:
        os.makedirs(d, exist_ok=True)
    timeout = float(spec.get("timeout", 20))
    result = {
        name: run_monitor(argv, cwd, dirs, timeout) for name, argv in spec["monitors"].items()
    }
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
