"""``python -m butter.fanotify`` side by side with the real ``fatrace``.

Both run over the same scripted activity (tests/fatrace_session.py), which
waits for each monitor to print marker lines instead of sleeping, so a
loaded machine makes the tests slower, never flaky.  ``-c`` is compared in
a private mount namespace (``unshare -m``) with a fresh tmpfs mounted and
the monitors' working directory inside it: nothing else writes there, and
the host's mounts are never touched.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time

import pytest
from conftest import needs_fanotify

HERE = os.path.dirname(os.path.abspath(__file__))
SESSION = os.path.join(HERE, "fatrace_session.py")
BUTTER = [sys.executable, "-m", "butter.fanotify"]
FATRACE = shutil.which("fatrace")

needs_fatrace = pytest.mark.skipif(
    FATRACE is None, reason="fatrace not installed (apt-get install fatrace)"
)

_STAMP = r"(?P<stamp>\d\d:\d\d:\d\d\.\d{6} |\d+\.\d{6} )?"
_LINE = re.compile(
    "^" + _STAMP + r"(?P<comm>.*)\((?P<pid>\d+)\): (?P<types>[RCWO+D<>]+) +(?P<path>.*)$"
)
ACTIVITY = {"": set("+<>D"), "/a.txt": set("RCWO")}  # per directory the helper works in


def _unshare_problem() -> str:
    if os.geteuid() != 0:
        return "needs root (mount in a private namespace)"
    if shutil.which("unshare") is None:
        return "unshare(1) not installed"
    try:
        probe = subprocess.run(
            ["unshare", "-m", "--propagation", "private", "true"], capture_output=True, timeout=10
        )
    except subprocess.TimeoutExpired:
        return "unshare -m hangs"
    return "" if probe.returncode == 0 else f"unshare -m fails: {probe.stderr!r}"


_NO_UNSHARE = _unshare_problem()
needs_unshare = pytest.mark.skipif(bool(_NO_UNSHARE), reason=_NO_UNSHARE)


def session(root, cwd, dirs, monitors, tmpfs=True, timeout=20.0):
    """Run the monitors over the helper's activity; name -> lines."""
    spec = {
        "root": str(root),
        "tmpfs": tmpfs,
        "cwd": cwd,
        "dirs": dirs,
        "monitors": monitors,
        "timeout": timeout,
    }
    argv = [sys.executable, SESSION, json.dumps(spec)]
    if tmpfs:
        argv = ["unshare", "-m", "--propagation", "private", *argv]
    proc = subprocess.run(
        argv, capture_output=True, text=True, timeout=timeout * 4 * len(monitors) + 30
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    for name, run in result.items():
        assert not run["problem"], (name, run)
        assert run["status"] == 0, (name, run)  # fatrace ends with 0 on SIGINT
        assert "Traceback" not in run["stderr"], (name, run["stderr"])
    return {name: run["lines"] for name, run in result.items()}


def letters(lines):
    """The type letters seen per path, markers left out.  The kernel merges
    queued events on the same object, so how letters group into lines
    depends on timing; the letters seen per path do not."""
    seen: dict[str, set[str]] = {}
    for line in lines:
        m = _LINE.match(line)
        assert m, f"not a fatrace line: {line!r}"
        if "/.marks" not in m["path"]:
            seen.setdefault(m["path"], set()).update(m["types"])
    return seen


def expected(root, *dirs):
    return {f"{root}/{d}{suffix}": set(types) for d in dirs for suffix, types in ACTIVITY.items()}


@needs_fanotify
@needs_fatrace
def test_cli_matches_fatrace(tmp_path):
    """On the host's filesystem: butter's ``PATH`` (only below PATH), and
    ``-c`` and no option (every real mount) of both, narrowed to PATH here,
    report the same letters for the same paths, every one of them."""
    d = str(tmp_path)
    monitors = {
        "butter-path": [*BUTTER, d],
        "butter-c": [*BUTTER, "-c"],
        "fatrace-c": [FATRACE, "-c"],
        "butter-all": BUTTER,
        "fatrace-all": [FATRACE],
    }
    runs = session(d, ".", ["."], monitors, tmpfs=False)
    want = {d: set("+<>D"), d + "/a.txt": set("RCWO")}
    assert letters(runs["butter-path"]) == want
    for name in ("butter-c", "fatrace-c", "butter-all", "fatrace-all"):
        # These see the whole filesystem, the machine's other work too.
        seen = letters(runs[name])
        assert {p: t for p, t in seen.items() if p == d or p.startswith(d + "/")} == want, name


@needs_fanotify
@needs_fatrace
@needs_unshare
def test_current_mount_matches_fatrace(tmp_path):
    """``-c`` in a cwd on a fresh tmpfs: butter and fatrace both report the
    files elsewhere on that mount (outside cwd) too; ``--under .`` and
    ``PATH`` keep butter's "only below cwd"."""
    root = str(tmp_path)
    runs = session(
        root,
        "cwd",
        ["cwd/here", "elsewhere"],
        {
            "fatrace": [FATRACE, "-c"],
            "butter": [*BUTTER, "-c"],
            "butter-long": [*BUTTER, "--current-mount"],
            "under": [*BUTTER, "--under", "."],
            "path": [*BUTTER, "."],
        },
    )
    everything = expected(root, "cwd/here", "elsewhere")
    assert letters(runs["fatrace"]) == everything
    assert letters(runs["butter"]) == everything
    assert letters(runs["butter-long"]) == everything
    below_cwd = expected(root, "cwd/here")
    assert letters(runs["under"]) == below_cwd
    assert letters(runs["path"]) == below_cwd


@needs_fanotify
@needs_fatrace
@needs_unshare
def test_filter_and_timestamps_match_fatrace(tmp_path):
    """``-f`` (any case) keeps the events with one of the asked letters and
    prints them whole; ``-t`` and ``-t -t`` prefix fatrace's stamps."""
    root = str(tmp_path)
    monitors = {}
    for name, program in (("fatrace", [FATRACE]), ("butter", BUTTER)):
        monitors[name + "-t"] = [*program, "-c", "-f", "o", "-t"]
        monitors[name + "-tt"] = [*program, "-c", "--filter=O", "-tt"]
    runs = session(root, "cwd", ["cwd/here", "elsewhere"], monitors)
    files = {f"{root}/cwd/here/a.txt", f"{root}/elsewhere/a.txt"}
    clock = re.compile(r"^\d\d:\d\d:\d\d\.\d{6} ")
    epoch = re.compile(r"^\d{10,}\.\d{6} ")
    for name, lines in runs.items():
        assert set(letters(lines)) == files, (name, lines)
        for line in lines:
            m = _LINE.match(line)
            assert m and "O" in m["types"], (name, line)
            stamp = clock if name.endswith("-t") else epoch
            assert stamp.match(line), (name, line)
            if stamp is epoch:
                assert abs(float(line.split()[0]) - time.time()) < 600, (name, line)


_USAGE_ERRORS = [
    ["-x"],
    ["--bogus"],
    ["-s"],
    ["-s", "0"],
    ["-s", "-3"],
    ["-s", "soon"],
    ["-p", "abc"],
    ["-p", "0"],
    ["-p", "-5"],
    ["-t", "-t", "-t"],
    ["-f", "X"],
    ["--filter=Oz"],
]


@pytest.mark.parametrize("args", _USAGE_ERRORS, ids=" ".join)
def test_usage_errors_exit_like_fatrace(args):
    """Exit status 1 (fatrace's, not argparse's 2), a message, no traceback."""
    programs = [BUTTER] + ([[FATRACE]] if FATRACE and os.geteuid() == 0 else [])
    for program in programs:
        proc = subprocess.run([*program, *args], capture_output=True, text=True, timeout=30)
        assert proc.returncode == 1, (program, proc)
        assert proc.stderr.strip() and "Traceback" not in proc.stderr, (program, proc.stderr)
        assert proc.stdout == ""


def test_butter_only_usage_errors():
    for args in (["-c", "."], ["-c", "--under", "/"], [".", "--under", "."]):
        proc = subprocess.run([*BUTTER, *args], capture_output=True, text=True, timeout=30)
        assert proc.returncode == 1, (args, proc)
        assert "Traceback" not in proc.stderr and proc.stderr.strip()


def test_help():
    proc = subprocess.run([*BUTTER, "--help"], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0 and proc.stderr == ""
    for option in ("--current-mount", "--output", "--seconds", "--timestamp", "--ignore-pid"):
        assert option in proc.stdout
    for option in ("--filter", "--command", "--under", "PATH"):
        assert option in proc.stdout


@needs_fanotify
def test_output_file_and_seconds(tmp_path):
    """``-o`` creates a new file (mode 0666 less the umask) and refuses an
    existing one, like fatrace; ``-s`` stops the run (butter takes fractions)."""
    out = tmp_path / "events.txt"
    watched = tmp_path / "w"
    watched.mkdir()
    start = time.monotonic()
    proc = subprocess.run(
        [*BUTTER, "-s", "0.5", "-o", str(out), str(watched)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 0, proc
    assert time.monotonic() - start < 20
    umask = os.umask(0)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~umask
    out.write_text("keep me\n")
    programs = [BUTTER] + ([[FATRACE]] if FATRACE else [])
    for program in programs:
        proc = subprocess.run(
            [*program, "-s", "1", "-o", str(out), "-c"],
            cwd=watched,
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert proc.returncode == 1, (program, proc)
        assert "Failed to open output file" in proc.stderr
        assert out.read_text() == "keep me\n"


@needs_fanotify
def test_pipe_to_head_exits_quietly(tmp_path):
    """``python -m butter.fanotify | head -1``: one line, then the closed pipe
    ends it like a C tool (SIGPIPE, status 141 in the shell), no traceback."""
    err = tmp_path / "stderr.txt"
    watched = tmp_path / "w"
    watched.mkdir()
    command = shlex.join([*BUTTER, "-s", "60", str(watched)])
    script = f'{command} 2>{err} | head -1; echo "status=${{PIPESTATUS[0]}}"'
    proc = subprocess.Popen(["bash", "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while proc.poll() is None and time.monotonic() < deadline:
            (watched / "x.txt").write_text("x")  # events until the monitor is gone
            time.sleep(0.05)
        out, _ = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    lines = out.splitlines()
    assert len(lines) == 2, out
    assert _LINE.match(lines[0]), lines
    assert lines[1] == f"status={128 + signal.SIGPIPE}"
    assert err.read_text() == ""


@needs_fanotify
def test_unwatchable_current_mount_fails_like_fatrace():
    """``-c`` where the filesystem cannot be marked (/proc: no file handles)
    is an error with status 1 in both, not a silent watch of nothing."""
    programs = [BUTTER] + ([[FATRACE]] if FATRACE else [])
    for program in programs:
        proc = subprocess.run(
            [*program, "-c", "-s", "1"], cwd="/proc", capture_output=True, text=True, timeout=30
        )
        assert proc.returncode == 1, (program, proc)
        assert "Failed to add watch for .: " in proc.stderr, (program, proc.stderr)
    proc = subprocess.run(
        [*BUTTER, "/nonexistent/path"], capture_output=True, text=True, timeout=30
    )
    assert proc.returncode == 1
    assert "Failed to add watch for /nonexistent/path: " in proc.stderr
    assert "Traceback" not in proc.stderr
