"""python -m butter.inotify against inotifywait, side by side."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time

import pytest

INOTIFYWAIT = shutil.which("inotifywait")
pytestmark = pytest.mark.skipif(INOTIFYWAIT is None, reason="inotify-tools not installed")


def start(cmd: list[str]) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        cwd=tempfile.gettempdir(),
    )  # fmt: skip
    assert proc.stderr is not None
    deadline = time.monotonic() + 20
    lines = []
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        lines.append(line)
        if line.startswith("Watches established") or not line:
            break
    assert lines[-1].startswith("Watches established"), lines
    return proc


def stop(proc: subprocess.Popen[str]) -> list[str]:
    """The output lines, with consecutive repeats collapsed: the kernel merges
    an event identical to the last one still unread, so how many repeats
    (e.g. ACCESS,ISDIR from one readdir) a reader sees depends on its timing."""
    time.sleep(0.3)
    proc.terminate()
    out, _ = proc.communicate(timeout=10)
    lines: list[str] = []
    for line in out.splitlines():
        if not lines or lines[-1] != line:
            lines.append(line)
    return lines


def side_by_side(path: str, opts: list[str], actions) -> tuple[list[str], list[str]]:
    ours = start([sys.executable, "-m", "butter.inotify", "-m", *opts, path])
    theirs = start([INOTIFYWAIT, "-m", *opts, path])
    actions(path)
    return stop(ours), stop(theirs)


def files_and_dirs(d: str) -> None:
    j = os.path.join
    with open(j(d, "f"), "w") as fh:
        fh.write("hello")
    with open(j(d, "f")) as fh:
        fh.read()
    os.chmod(j(d, "f"), 0o600)
    os.rename(j(d, "f"), j(d, "g"))
    os.mkdir(j(d, "sub"))
    os.listdir(d)
    os.rename(j(d, "sub"), j(d, "sub2"))
    os.rmdir(j(d, "sub2"))
    os.symlink("g", j(d, "link"))
    os.unlink(j(d, "link"))
    os.unlink(j(d, "g"))


def test_default_lines_match(tmp_path):
    ours, theirs = side_by_side(str(tmp_path), [], files_and_dirs)
    # each tool's own listing of the directory shows up in the other's output
    assert len(theirs) > 15
    assert ours == theirs


def test_event_filter_matches(tmp_path):
    ours, theirs = side_by_side(
        str(tmp_path), ["-e", "create", "-e", "close_write,moved_to", "-e", "delete"],
        files_and_dirs,
    )  # fmt: skip
    assert ours == theirs
    assert theirs[0] == f"{tmp_path}/ CREATE f"


def nested(d: str) -> None:
    j = os.path.join
    os.makedirs(j(d, "a"))
    time.sleep(0.2)  # let both tools add their watch on a
    with open(j(d, "a", "x"), "w") as fh:
        fh.write("1")
    os.rename(j(d, "a"), j(d, "b"))
    time.sleep(0.1)
    with open(j(d, "b", "y"), "w") as fh:
        fh.write("2")
    os.unlink(j(d, "b", "x"))


def test_recursive_matches(tmp_path):
    opts = ["-r", "-e", "create,close_write,delete,moved_from,moved_to"]
    ours, theirs = side_by_side(str(tmp_path), opts, nested)
    assert ours == theirs
    assert f"{tmp_path}/b/ CLOSE_WRITE,CLOSE y" in theirs


def test_single_event_and_errors(tmp_path):
    proc = start([sys.executable, "-m", "butter.inotify", str(tmp_path)])
    (tmp_path / "one").touch()
    out, _ = proc.communicate(timeout=10)
    assert proc.returncode == 0
    assert out == f"{tmp_path}/ CREATE one\n"
    bad = subprocess.run(
        [sys.executable, "-m", "butter.inotify", str(tmp_path / "missing")],
        capture_output=True, text=True, cwd=tempfile.gettempdir(), timeout=30,
    )  # fmt: skip
    assert bad.returncode == 1 and "missing" in bad.stderr
