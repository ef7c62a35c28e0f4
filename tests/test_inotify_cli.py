"""python -m butter.inotify against inotifywait, side by side."""

from __future__ import annotations

import os
import re
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


# -- the options beyond -m -r -q -e, each against the real inotifywait -----------

OURS = [sys.executable, "-m", "butter.inotify"]


def launch(cmd: list[str], ready: bool = True, **kw) -> subprocess.Popen[bytes]:
    """Start *cmd* (bytes output); wait for "Watches established" on stderr,
    or (*ready* False: -q, -s, -qq print nothing) a fixed 0.7 s."""
    kw.setdefault("cwd", tempfile.gettempdir())
    stdin_path = kw.pop("stdin_path", None)
    stdin = open(stdin_path, "rb") if stdin_path else subprocess.DEVNULL  # noqa: SIM115
    try:
        proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=stdin, **kw
        )
    finally:
        if stdin_path:
            stdin.close()  # type: ignore[union-attr]
    proc.head = b""  # type: ignore[attr-defined]
    if not ready:
        time.sleep(0.7)
        return proc
    assert proc.stderr is not None
    deadline = time.monotonic() + 20
    lines = []
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        lines.append(line)
        if line.startswith(b"Watches established") or not line:
            break
    if not lines[-1].startswith(b"Watches established"):
        proc.kill()
        proc.communicate(timeout=10)
        raise AssertionError(lines)
    proc.head = b"".join(lines)  # type: ignore[attr-defined]
    return proc


def finish(
    proc: subprocess.Popen[bytes], wait: float = 0.0
) -> tuple[list[bytes], int | None, bytes]:
    """(output lines with repeats collapsed, exit status or None if it had to
    be stopped, stderr)."""
    time.sleep(0.3)
    try:
        proc.wait(timeout=wait or 0.01)
    except subprocess.TimeoutExpired:
        pass
    code = proc.poll()
    if code is None:
        proc.terminate()
    out, err = proc.communicate(timeout=10)
    return collapse(out), code, proc.head + err  # type: ignore[attr-defined]


def collapse(out: bytes) -> list[bytes]:
    """The lines of *out*, consecutive repeats collapsed (see stop())."""
    lines: list[bytes] = []
    for line in out.split(b"\n"):
        if not lines or lines[-1] != line:
            lines.append(line)
    return lines


def pair(args: list[str], action=None, ready: bool = True, wait: float = 0.0, **kw):
    """Run ``butter.inotify ARGS`` and ``inotifywait ARGS`` side by side
    through *action*; return both (lines, status, stderr)."""
    procs = [launch(OURS + args, ready, **kw), launch([INOTIFYWAIT, *args], ready, **kw)]
    if action is not None:
        action()
    return [finish(p, wait) for p in procs]


def same(args: list[str], action=None, ready: bool = True, wait: float = 0.0, **kw):
    """pair(), asserting equal output and status; returns inotifywait's."""
    ours, theirs = pair(args, action, ready, wait, **kw)
    assert ours[:2] == theirs[:2]
    return theirs


@pytest.mark.parametrize("monitor", [[], ["-m"]], ids=["single", "m"])
def test_timeout_no_event(tmp_path, monitor):
    start_t = time.monotonic()
    lines, code, _ = same([*monitor, "-t", "1", str(tmp_path)], wait=5)
    assert code == 2 and lines == [b""]
    assert time.monotonic() - start_t < 10


def test_timeout_restarts_with_each_event(tmp_path):
    """-m -t: the timeout counts from the last event (exit 2 once quiet)."""

    def act():
        for i in range(3):
            (tmp_path / str(i)).touch()
            time.sleep(0.4)

    lines, code, _ = same(["-m", "-t", "1", "-e", "create", str(tmp_path)], act, wait=5)
    assert code == 2
    assert lines == [f"{tmp_path}/ CREATE {i}".encode() for i in range(3)] + [b""]


def test_timeout_event_in_time(tmp_path):
    lines, code, _ = same(["-t", "5", "-e", "create", str(tmp_path)],
                          lambda: (tmp_path / "x").touch(), wait=5)  # fmt: skip
    assert code == 0 and lines == [f"{tmp_path}/ CREATE x".encode(), b""]


def test_timeout_zero_waits_forever(tmp_path):
    _, code, _ = same(["-t", "0", str(tmp_path)], wait=1.5)
    assert code is None  # still running: both were stopped


FORMAT = "%w|%f|%e|%:e|%%|%c|%Q|%.e%0|%n|%ze|%"


@pytest.mark.parametrize("fmt", [FORMAT, "%w%f", "%e %_e %;e", "%f %% %%e %w"])
def test_format_matches(tmp_path, fmt):
    ours, theirs = pair(["-m", "--format", fmt, str(tmp_path)],
                        lambda: files_and_dirs(str(tmp_path)))  # fmt: skip
    # one record per event (FORMAT's %n splits it in two lines: rejoin them
    # so that repeated records collapse as lines do)
    lines = [collapse(b"\n".join(r[0]).replace(b"|\n|", b"|<%n>|")) for r in (ours, theirs)]
    assert ours[1] == theirs[1]
    assert lines[0] == lines[1]
    assert len(lines[1]) > 5
    if fmt == FORMAT:  # the cookie of a rename is the kernel's, the same for both
        assert any(b"|MOVED_TO|" in line and b"|0|" not in line for line in lines[1])


def test_format_no_newline(tmp_path):
    """%0 and --no-newline: NUL-separated records (repeats collapsed, as
    stop() does for lines)."""
    ours, theirs = pair(["-m", "--format", "%e %w%f%0", "--no-newline", str(tmp_path)],
                        lambda: files_and_dirs(str(tmp_path)))  # fmt: skip
    assert len(ours[0]) == len(theirs[0]) == 1  # not a newline anywhere
    records = [collapse(result[0][0].replace(b"\n", b"?").replace(b"\0", b"\n"))
               for result in (ours, theirs)]  # fmt: skip
    assert records[0] == records[1]
    assert f"CREATE {tmp_path}/f".encode() in records[1]


@pytest.mark.parametrize("opts", [["--format", "%e%", "--no-newline"],
                                  ["--format", "%e %T", "--timefmt", ""]],
                         ids=["trailing%", "emptyT"])  # fmt: skip
def test_format_gives_up(tmp_path, opts):
    """A trailing lone % or an empty %T: inotifywait prints nothing at all."""
    lines, _, _ = same(["-m", *opts, str(tmp_path)], lambda: files_and_dirs(str(tmp_path)))
    assert lines == [b""]


def test_format_recursive(tmp_path):
    args = ["-m", "-r", "-e", "create,close_write,moved_to", "--format", "%w%f %:e"]
    lines, _, _ = same([*args, str(tmp_path)], lambda: nested(str(tmp_path)))
    assert f"{tmp_path}/b/y CLOSE_WRITE:CLOSE".encode() in lines


def test_timefmt(tmp_path):
    """%T with a format steady over the run (the year, the date) is equal."""
    lines, _, _ = same(["-m", "--timefmt", "%Y-%m-%d", "--format", "%T %e %f", str(tmp_path)],
                       lambda: files_and_dirs(str(tmp_path)))  # fmt: skip
    today = time.strftime("%Y-%m-%d").encode()
    assert lines[0].startswith(today + b" CREATE f")


def test_timefmt_shape(tmp_path):
    """A format down to the second: both print the same shape."""
    ours, theirs = pair(["-m", "--timefmt", "%H:%M:%S", "--format", "[%T] %e", str(tmp_path)],
                        lambda: (tmp_path / "f").touch())  # fmt: skip
    shape = re.compile(rb"\[\d\d:\d\d:\d\d\] [A-Z_,]+")
    assert len(ours[0]) == len(theirs[0]) > 2
    assert all(shape.fullmatch(x) for x in ours[0][:-1] + theirs[0][:-1])


def odd_names(d: str) -> None:
    for name in ("x,y", 'q"q', " lead", "trail ", "plain", "a\nb"):
        with open(os.path.join(d, name), "w"):
            pass
    os.mkdir(os.path.join(d, "s p"))
    os.rename(os.path.join(d, "s p"), os.path.join(d, "s,p"))


@pytest.mark.parametrize("recursive", [[], ["-r"]], ids=["flat", "r"])
def test_csv_matches(tmp_path, recursive):
    (tmp_path / "sub, dir").mkdir()
    args = ["-m", "-c", *recursive, "-e", "create,moved_from,moved_to,close_write"]
    lines, _, _ = same([*args, str(tmp_path)], lambda: odd_names(str(tmp_path)))
    assert f'{tmp_path}/,"CLOSE_WRITE,CLOSE","x,y"'.encode() in lines
    assert f'{tmp_path}/,"CLOSE_WRITE,CLOSE","q""q"'.encode() in lines


def tree_with_skips(d: str) -> None:
    j = os.path.join
    for sub in ("skip/in", "keep", "Skip2", "new"):
        os.makedirs(j(d, sub), exist_ok=True)
        time.sleep(0.2)  # let both tools add their watch
    for sub in ("skip/in", "keep", "Skip2", "new", ""):
        with open(j(d, sub, "f"), "w") as fh:
            fh.write("x")


@pytest.mark.parametrize("opt", [["--exclude", "skip"], ["--excludei", "skip"],
                                 ["--include", "keep|new"], ["--includei", "KEEP|NEW"],
                                 ["--exclude", "[[:upper:]]"], ["--exclude", r"\<in\>"],
                                 ["--exclude", "a", "--exclude", "skip"]],
                         ids=["ex", "exi", "in", "ini", "class", "word", "last"])  # fmt: skip
def test_exclude_include_recursive(tmp_path, opt):
    """Excluded events never reach -r's tracking: an excluded new directory
    is not watched (Skip2/f never shows with --excludei skip)."""
    (tmp_path / "skip" / "in").mkdir(parents=True)
    args = ["-m", "-r", "-e", "create,close_write", *opt, str(tmp_path)]
    ours, theirs = pair(args, lambda: tree_with_skips(str(tmp_path)))
    assert ours[:2] == theirs[:2]
    lines = theirs[0]
    assert f"{tmp_path}/new/ CLOSE_WRITE,CLOSE f".encode() in lines
    skip2 = f"{tmp_path}/Skip2/ CLOSE_WRITE,CLOSE f".encode() in lines
    assert skip2 == (opt in (["--exclude", "skip"], ["--exclude", r"\<in\>"]) or len(opt) == 4)
    skip_in = f"{tmp_path}/skip/in/ CLOSE_WRITE,CLOSE f".encode() in lines
    assert skip_in == (opt == ["--exclude", "[[:upper:]]"])
    if len(opt) == 4:
        assert b"--exclude: only the last" in ours[2] and b"--exclude: only the last" in theirs[2]


def test_exclude_single_event(tmp_path):
    """Without -m, an excluded event does not end the run."""

    def act():
        (tmp_path / "ignored").touch()
        time.sleep(0.2)
        (tmp_path / "wanted").touch()

    lines, code, _ = same(["--exclude", "ignored$", str(tmp_path)], act, wait=5)
    assert code == 0 and lines == [f"{tmp_path}/ CREATE wanted".encode(), b""]


def touch_tree(d: str) -> None:
    for sub in ("a", "a/b", "c", ""):
        with open(os.path.join(d, sub, "f"), "w"):
            pass


@pytest.mark.parametrize("relative", [False, True], ids=["abs", "rel"])
def test_at_exclusions(tmp_path, relative):
    """@path: not watched below a -r path (matched as written: relative with
    relative, absolute with absolute)."""
    w = tmp_path / "w"
    (w / "a" / "b").mkdir(parents=True)
    (w / "c").mkdir()
    top = "w" if relative else str(w)
    args = ["-m", "-r", "-e", "close_write", f"@{top}/a", f"@{top}/c/", top, "@"]
    lines, _, _ = same(args, lambda: touch_tree(str(w)), cwd=str(tmp_path))
    # a and c are not watched, nor is a/b (the recursion does not enter a)
    assert lines == [f"{top}/ CLOSE_WRITE,CLOSE f".encode(), b""]


@pytest.mark.parametrize("stdin", [False, True], ids=["file", "stdin"])
def test_fromfile(tmp_path, stdin):
    w = tmp_path / "w"
    (w / "a" / "b").mkdir(parents=True)
    (w / "c").mkdir()
    listing = f"{w}\n@{w}/a\n\n@\n{w}/c\n".encode()
    list_file = tmp_path / "list"
    list_file.write_bytes(listing)
    args = ["-m", "-r", "-e", "close_write", "--fromfile", "-" if stdin else str(list_file)]
    kw = {"stdin_path": str(list_file)} if stdin else {}
    lines, _, _ = same(args, lambda: touch_tree(str(w)), **kw)
    expected = {f"{w}/c/ CLOSE_WRITE,CLOSE f", f"{w}/ CLOSE_WRITE,CLOSE f", ""}
    assert set(lines) == {x.encode() for x in expected}


def test_outfile(tmp_path):
    w = tmp_path / "w"
    w.mkdir()
    logs = [tmp_path / "ours.log", tmp_path / "theirs.log"]
    logs[0].write_text("before\n")
    logs[1].write_text("before\n")
    procs = [launch([*OURS, "-m", "-o", str(logs[0]), str(w)]),
             launch([INOTIFYWAIT, "-m", "-o", str(logs[1]), str(w)])]  # fmt: skip
    files_and_dirs(str(w))
    results = [finish(p) for p in procs]
    assert results[0][0] == results[1][0] == [b""]  # nothing on stdout
    texts = [log.read_bytes() for log in logs]
    assert collapse(texts[0]) == collapse(texts[1])
    assert texts[0].startswith(b"before\n" + f"{w}/ CREATE f\n".encode())  # appended
    assert logs[0].stat().st_mode & 0o777 == 0o644  # an existing file keeps its mode
    fresh = tmp_path / "fresh.log"
    same(["-o", str(fresh), "-e", "create", str(w)], lambda: (w / "x").touch(), wait=5)
    assert fresh.stat().st_mode & 0o777 == 0o600


def test_syslog_keeps_stderr_empty(tmp_path):
    """-s: progress and errors go to syslog: stderr stays empty; events
    still print as inotifywait's."""
    ours, theirs = pair(["-m", "-s", str(tmp_path)], lambda: files_and_dirs(str(tmp_path)),
                        ready=False)  # fmt: skip
    assert ours[:2] == theirs[:2] and len(ours[0]) > 10
    assert ours[2] == theirs[2] == b""
    bad = pair(["-s", str(tmp_path / "missing")], ready=False, wait=5)
    assert bad[0][1] == bad[1][1] == 1
    assert bad[0][2] == bad[1][2] == b""


def _daemons_of(marker: str) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as fh:
                    if marker.encode() in fh.read():
                        pids.append(int(entry))
            except OSError:
                pass
    return pids


def test_daemon(tmp_path):
    """-d: the command returns 0 at once, a background process appends
    events to the -o file, and (-t) ends by itself once quiet."""
    w = tmp_path / "w"
    w.mkdir()
    logs = [tmp_path / "ours.log", tmp_path / "theirs.log"]
    for log in logs:
        log.touch()
    for cmd, log in ((OURS, logs[0]), ([INOTIFYWAIT], logs[1])):
        done = subprocess.run([*cmd, "-d", "-t", "3", "-o", str(log), str(w)],
                              capture_output=True, timeout=30, cwd=str(tmp_path))  # fmt: skip
        assert done.returncode == 0 and done.stdout == done.stderr == b""
    time.sleep(1.0)
    try:
        files_and_dirs(str(w))
        time.sleep(0.5)
        texts = [log.read_bytes() for log in logs]
        assert collapse(texts[0]) == collapse(texts[1])
        assert f"{w}/ CREATE f\n".encode() in texts[0]
        assert len(_daemons_of(str(tmp_path))) == 2
    finally:
        deadline = time.monotonic() + 15
        while _daemons_of(str(tmp_path)) and time.monotonic() < deadline:
            time.sleep(0.2)
        left = _daemons_of(str(tmp_path))
        for pid in left:  # only our own two daemons, by pid
            os.kill(pid, 15)
    assert not left, "the -t 3 daemons did not end"
    bad = subprocess.run([*OURS, "-d", "-o", str(tmp_path / "nope"), str(w)],
                         capture_output=True, text=True, timeout=30)  # fmt: skip
    theirs = subprocess.run([INOTIFYWAIT, "-d", "-o", str(tmp_path / "nope"), str(w)],
                            capture_output=True, text=True, timeout=30)  # fmt: skip
    assert bad.returncode == theirs.returncode == 1 and bad.stderr == theirs.stderr


@pytest.mark.parametrize("nodereference", [[], ["-P"]], ids=["follow", "P"])
def test_no_dereference(tmp_path, nodereference):
    target = tmp_path / "target"
    target.write_text("x")
    link = tmp_path / "link"
    link.symlink_to(target)

    def act():
        os.utime(link, follow_symlinks=False)  # the link itself
        time.sleep(0.1)
        with open(target, "a") as fh:  # the file it points to
            fh.write("y")

    lines, _, _ = same(["-m", "-e", "attrib,modify", *nodereference, str(link)], act)
    assert lines == ([f"{link} ATTRIB ".encode(), b""] if nodereference
                     else [f"{link} MODIFY ".encode(), b""])  # fmt: skip


def test_quiet_quiet(tmp_path):
    lines, code, err = same(["-qq", str(tmp_path)], lambda: (tmp_path / "x").touch(),
                            ready=False, wait=5)  # fmt: skip
    assert (lines, code, err) == ([b""], 0, b"")


def test_help():
    for cmd in (OURS, [INOTIFYWAIT]):
        done = subprocess.run([*cmd, "--help"], capture_output=True, text=True, timeout=30)
        assert done.returncode == 1  # inotifywait's, not 0
        assert "--timefmt" in done.stdout and "Exit status:" in done.stdout
    assert subprocess.run([*OURS, "-h"], capture_output=True, timeout=30).returncode == 1
    for opt in ("--exclude", "--excludei", "--include", "--includei", "--fromfile",
                "--outfile", "--syslog", "--daemon", "--no-dereference", "--csv",
                "--format", "--no-newline", "--timefmt", "--timeout", "-qq"):  # fmt: skip
        assert opt in done.stdout


BAD_USAGE = [
    ["--bogus"], ["-x"], ["-t"], ["--timeout"], ["-e"], ["--ex", "a"], ["--time", "1"],
    ["--monitor=1"], ["-t", "abc"], ["-t", ""], ["-t", "99999999999999999999"], ["-f"], [],
    ["-e", "all"], ["-e", "bogus,modify"], ["--format", "x", "-c"], ["--no-newline"],
    ["--timefmt", "x"], ["--format", "%T"], ["--format", "%f", "--no-newline"],
    ["--format", "", "--no-newline"], ["-d"], ["--exclude", "a", "--include", "b"],
    ["--exclude", "a", "--excludei", "b"], ["--include", "a", "--includei", "b"],
    ["--exclude", "("], ["--includei", "("], ["-o", "a", "-o", "b"], ["--fromfile", "/nonexistent"],
    ["--fromfile", "a", "--fromfile", "b"], ["@foo"], ["-o", "/nonexistent/x"],
    ["-d", "-o", "/nonexistent"], ["--", "-m"], ["MISSING"], ["-r", "MISSING"],
]  # fmt: skip


@pytest.mark.parametrize("args", BAD_USAGE, ids=lambda a: " ".join(a) or "none")
def test_usage_errors_match(tmp_path, args):
    """Bad command lines: status 1 (never 2, the timeout status) and the
    same message (ours adds a usage line after getopt's)."""
    args = [str(tmp_path / "missing") if a == "MISSING" else a for a in args]
    no_path = ("--fromfile", "@foo", "--", str(tmp_path / "missing"))
    needs_path = bool(args) and not any(a in no_path for a in args)
    full = [*args, str(tmp_path)] if needs_path else args
    ours, theirs = [
        subprocess.run([*cmd, *full], capture_output=True, text=True, timeout=30, cwd=str(tmp_path))
        for cmd in (OURS, [INOTIFYWAIT])
    ]
    assert ours.returncode == theirs.returncode == 1
    assert ours.stdout == theirs.stdout == ""
    mine = ours.stderr.replace("python -m butter.inotify", "inotifywait")
    assert INOTIFYWAIT is not None
    their = theirs.stderr.replace(INOTIFYWAIT, "inotifywait")
    if their.startswith("inotifywait: "):  # getopt's: ours adds a usage line
        assert mine.startswith(their) and "Usage:" in mine
    else:
        assert mine == their


def test_head_closes_pipe_quietly(tmp_path):
    """``python -m butter.inotify -m DIR | head -1`` ends with head, no
    traceback: the closed pipe kills it by SIGPIPE (141 under pipefail)."""
    script = f"set -o pipefail; {sys.executable} -m butter.inotify -q -m {tmp_path} | head -1"
    proc = subprocess.Popen(["bash", "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 20
    i = 0
    while proc.poll() is None and time.monotonic() < deadline:
        (tmp_path / f"f{i}").touch()
        i += 1
        time.sleep(0.1)
    out, err = proc.communicate(timeout=10)
    assert proc.returncode == 141, err
    assert out.startswith(f"{tmp_path}/ CREATE f".encode())
    assert err == b""
