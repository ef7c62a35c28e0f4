"""python -m butter.inotify against inotifywait, side by side."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time

import pytest
from conftest import in_child

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


# -- watches that go away: inotifywait prints no IGNORED/UNMOUNT line unless
# asked with -e, -m keeps running with no watch left, and without -m the first
# event read ends the run (exit 1 when it was not asked for).


def run_both(targets, opts, action, monitor):
    """Start both tools on *targets*, run *action*; return
    ((our lines, our exit), (their lines, their exit)); exit is None when
    the tool was still running (-m, or no event came) and had to be stopped."""
    m = ["-m"] if monitor else []
    procs = [
        start([sys.executable, "-m", "butter.inotify", *m, *opts, *targets]),
        start([INOTIFYWAIT, *m, *opts, *targets]),
    ]
    action()
    time.sleep(0.3)
    results = []
    for proc in procs:
        if not monitor:
            try:  # with no event coming, inotifywait waits on (so must we)
                proc.wait(timeout=1 if proc.poll() is None else None)
            except subprocess.TimeoutExpired:
                pass
        code = proc.poll()
        if code is None:
            proc.terminate()
        out, _ = proc.communicate(timeout=10)
        lines: list[str] = []
        for line in out.splitlines():  # collapse repeats, as stop() does
            if "-r" in opts and "-e" not in opts and _read_only(line):
                continue  # the other tool's setup scan (opendir/readdir/closedir)
            if not lines or lines[-1] != line:
                lines.append(line)
        results.append((lines, code))
    return results[0], results[1]


GONE_OPTS = [[], ["-e", "ignored"], ["-e", "delete_self,move_self"], ["-e", "modify"]]


@pytest.mark.parametrize("monitor", [True, False], ids=["m", "single"])
@pytest.mark.parametrize("opts", GONE_OPTS, ids=lambda o: ",".join(o[1:]) or "all")
@pytest.mark.parametrize("case", ["file_deleted", "dir_deleted", "file_moved_out"])
def test_watch_gone_matches(tmp_path, case, opts, monitor):
    target = tmp_path / "w"
    if case == "dir_deleted":
        target.mkdir()
        action = target.rmdir
    else:
        target.touch()
        action = (
            target.unlink if case == "file_deleted"
            else lambda: os.rename(target, tmp_path / "elsewhere")
        )  # fmt: skip
    ours, theirs = run_both([str(target)], opts, action, monitor)
    assert ours == theirs
    lines, code = theirs
    if not any("ignored" in o for o in opts):
        assert not any("IGNORED" in line for line in lines)
    if monitor:
        assert code is None  # still running, with or without a watch left


def test_watch_gone_quiet_default(tmp_path):
    """The audit's case: no IGNORED line, -m keeps running."""
    f = tmp_path / "f"
    f.touch()
    ours, theirs = run_both([str(f)], [], f.unlink, monitor=True)
    assert ours == theirs == ([f"{f} ATTRIB ", f"{f} DELETE_SELF "], None)


def _read_only(line: str) -> bool:
    return any(e in line for e in (" OPEN,", " ACCESS,", " CLOSE_NOWRITE,"))


def remove_subdirs(d: str) -> None:
    os.rmdir(os.path.join(d, "s", "n"))
    time.sleep(0.1)
    os.rmdir(os.path.join(d, "s"))


@pytest.mark.parametrize("opts", [[], ["-e", "ignored"], ["-e", "delete_self,delete"]],
                         ids=["all", "ignored", "delete"])  # fmt: skip
def test_recursive_subdir_removed_matches(tmp_path, opts):
    os.makedirs(tmp_path / "s" / "n")
    ours, theirs = run_both([str(tmp_path)], ["-r", *opts], lambda: remove_subdirs(str(tmp_path)),
                            monitor=True)  # fmt: skip
    if not opts:
        t = tmp_path
        assert theirs == ([f"{t}/s/n/ DELETE_SELF ", f"{t}/s/ DELETE,ISDIR n",
                           f"{t}/s/ DELETE_SELF ", f"{t}/ DELETE,ISDIR s"], None)  # fmt: skip
    assert ours == theirs
    assert theirs[1] is None
    if opts:
        assert theirs[0][0] == f"{tmp_path}/s/n/ " + ("IGNORED " if "ignored" in opts else
                                                     "DELETE_SELF ")  # fmt: skip


def test_recursive_single_subdir_removed_matches(tmp_path):
    os.makedirs(tmp_path / "s" / "n")
    ours, theirs = run_both([str(tmp_path)], ["-r", "-e", "ignored"],
                            lambda: remove_subdirs(str(tmp_path)), monitor=False)  # fmt: skip
    assert ours == theirs == ([f"{tmp_path}/s/n/ IGNORED "], 0)


def move_tree_out(d: str, out: str) -> None:
    os.rename(os.path.join(d, "s"), out)
    time.sleep(0.2)
    for p in (os.path.join(d, "z"), os.path.join(out, "q"), os.path.join(out, "t", "u")):
        with open(p, "w"):
            pass


@pytest.mark.parametrize("opts", [[], ["-e", "ignored"], ["-e", "create,moved_from,move_self"]],
                         ids=["all", "ignored", "some"])  # fmt: skip
def test_recursive_dir_moved_out_matches(tmp_path, opts):
    """inotifywait drops the watch of a directory moved out of the tree (its
    IGNORED prints with an empty path) but not those of its subdirectories."""
    w = tmp_path / "w"
    os.makedirs(w / "s" / "t")
    out = str(tmp_path / "out")
    ours, theirs = run_both([str(w)], ["-r", *opts], lambda: move_tree_out(str(w), out),
                            monitor=True)  # fmt: skip
    assert ours == theirs
    if not opts:
        assert f"{w}/s/t/ CREATE u" in theirs[0]
        assert not any(" q" in line for line in theirs[0])
    if opts == ["-e", "ignored"]:
        assert theirs == ([" IGNORED "], None)


def _unmount_case(opts, monitor):
    from butter.clone import CLONE_NEWNS, unshare

    unshare(CLONE_NEWNS)
    subprocess.run(["mount", "--make-rprivate", "/"], check=True)
    d = tempfile.mkdtemp()
    try:
        subprocess.run(["mount", "-t", "tmpfs", "none", d], check=True)
        open(os.path.join(d, "f"), "w").close()
        os.mkdir(os.path.join(d, "sub"))
        targets = [os.path.join(d, "f"), d]
        return run_both(targets, opts, lambda: subprocess.run(["umount", d], check=True),
                        monitor)  # fmt: skip
    finally:
        subprocess.run(["umount", d], capture_output=True)
        os.rmdir(d)


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("mount") is None, reason="needs root")
@pytest.mark.parametrize(("opts", "monitor"), [([], True), ([], False), (["-e", "ignored"], True),
                         (["-e", "unmount"], True), (["-e", "unmount"], False)])  # fmt: skip
def test_unmount_matches(opts, monitor):
    ours, theirs = in_child(_unmount_case, opts, monitor)
    assert ours == theirs
    lines, code = theirs
    if not opts:
        assert lines == [] and code == (None if monitor else 1)
    elif monitor:
        assert len(lines) == 2 and code is None
