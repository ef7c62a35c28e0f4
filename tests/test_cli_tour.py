"""``python -m butter``: the live tour, its ``--help`` and ``--only``.

Run as a program (subprocess, bounded), since that is how ``make demo``
uses it.
"""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest

import butter.__main__ as tour

TOUR = [sys.executable, "-m", "butter"]

# The first line each step prints (what shows the step ran).
HEADINGS = {
    "features": "Kernel features",
    "eventfd": "eventfd:",
    "timerfd": "timerfd:",
    "signalfd": "signalfd:",
    "asyncio": "asyncio:",
    "inotify": "inotify:",
    "fanotify": "fanotify:",
    "watch": "watch:",
    "aio": "aio:",
    "uring": "io_uring:",
    "seccomp": "seccomp:",
    "memfd-pidfd": "memfd and pidfd:",
    "container": "container:",
}


def run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([*TOUR, *args], capture_output=True, text=True, timeout=timeout)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


def headings(stdout: str) -> set[str]:
    return {name for name, text in HEADINGS.items() if f"\n{text}" in stdout}


def test_every_step_has_a_name():
    assert list(tour.STEPS) == list(HEADINGS)
    assert list(tour.STEPS.values()) == tour.TOURS


def test_no_arguments_runs_the_whole_tour():
    proc = run()
    assert proc.returncode == 0, proc
    assert proc.stdout.startswith(f"butter {tour.butter.__version__} on Linux ")
    assert headings(proc.stdout) == set(HEADINGS)
    assert "!!" not in proc.stdout


def test_help_describes_the_tour_and_lists_the_programs():
    proc = run("--help", timeout=30)
    assert proc.returncode == 0 and proc.stderr == ""
    assert proc.stdout.startswith("usage: python -m butter")
    assert "tour" in proc.stdout and "--only" in proc.stdout
    for program in ("butter.inotify", "butter.fanotify", "butter.container"):
        assert f"python -m {program}" in proc.stdout
    for console_script in ("butter-inotifywait", "butter-fatrace"):
        assert console_script in proc.stdout
    for name in HEADINGS:
        assert name in proc.stdout
    assert "Kernel features" not in proc.stdout  # --help runs nothing


@pytest.mark.parametrize("only", [["eventfd"], ["memfd-pidfd", "timerfd"]], ids=" ".join)
def test_only_runs_those_steps(only):
    proc = run(*(arg for name in only for arg in ("--only", name)))
    assert proc.returncode == 0, proc
    assert proc.stdout.startswith("butter ")
    assert headings(proc.stdout) == set(only)


def test_unknown_step_is_a_usage_error():
    proc = run("--only", "nope", timeout=30)
    assert proc.returncode == 2
    assert "invalid choice" in proc.stderr and proc.stdout == ""


def test_pipe_to_head_exits_quietly():
    """``python -m butter | head -1``: a closed pipe ends it as it ends a C
    tool (killed by SIGPIPE), without a traceback."""
    proc = subprocess.Popen(TOUR, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert proc.stdout is not None and proc.stderr is not None
        first = proc.stdout.readline()
        proc.stdout.close()
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert first.startswith(b"butter ")
    assert proc.returncode == -signal.SIGPIPE, err
    assert err == b""
