"""butter.fanotify.FanotifyTree against the real kernel.

Every test that marks a filesystem runs in a forked child, in a private
mount namespace, on a fresh tmpfs (or loop-mounted ext4) from
:mod:`fsenv`: no mark is ever put on the host's filesystems.  The
reference for events is :class:`butter.inotify.InotifyTree` watching the
same tree (the same actions must give the same PathEvents), the reference
for :meth:`paths` is ``os.walk``.
"""

from __future__ import annotations

import asyncio
import errno
import os
import random
import shutil
import subprocess
import threading

import pytest
from conftest import needs_fanotify, open_fds
from fsenv import each_fs, in_fs

from butter.fanotify import AT_EMPTY_PATH, AT_FDCWD, FanotifyTree, FidInfo, name_to_handle_at
from butter.inotify import (
    IN_ALL_EVENTS,
    IN_ATTRIB,
    IN_CLOSE_WRITE,
    IN_CREATE,
    IN_DELETE,
    IN_DELETE_SELF,
    IN_IGNORED,
    IN_ISDIR,
    IN_MODIFY,
    IN_MOVED_FROM,
    IN_MOVED_TO,
    IN_OPEN,
    IN_Q_OVERFLOW,
    InotifyTree,
    PathEvent,
)

pytestmark = [
    needs_fanotify,
    pytest.mark.skipif(os.geteuid() != 0, reason="FanotifyTree needs CAP_SYS_ADMIN"),
]


def walk(root):
    """What ``paths()`` must equal: everything below *root*."""
    found = set()
    for parent, dirs, files in os.walk(root):
        found.update(os.path.join(parent, name) for name in dirs + files)
    return found


def drain(tree, first=2.0, then=0.05):
    """The events of *tree* until it is quiet (bounded: wait() times out)."""
    out = []
    event = tree.wait(first)
    while event is not None:
        out.append(event)
        event = tree.wait(then)
    return out


def write(path, data="x"):
    with open(path, "w") as f:
        f.write(data)


# -- name_to_handle_at -----------------------------------------------------------
def test_name_to_handle_at_matches_the_handles_events_carry():
    def body(mnt):
        from butter.fanotify import (
            FAN_CLASS_NOTIF,
            FAN_CREATE,
            FAN_MARK_FILESYSTEM,
            FAN_ONDIR,
            FAN_REPORT_DFID_NAME,
            FAN_REPORT_FID,
            FAN_REPORT_TARGET_FID,
            Fanotify,
        )

        flags = FAN_CLASS_NOTIF | FAN_REPORT_DFID_NAME | FAN_REPORT_FID | FAN_REPORT_TARGET_FID
        with Fanotify(flags) as group:
            group.watch(mnt, FAN_CREATE | FAN_ONDIR, FAN_MARK_FILESYSTEM)
            os.mkdir(os.path.join(mnt, "d"))
            (event,) = group.read_events()
        dir_info, child_info = event.info
        assert isinstance(dir_info, FidInfo) and dir_info.name == "d"
        _, htype, handle = name_to_handle_at(AT_FDCWD, mnt)
        assert (htype, handle) == (dir_info.handle_type, dir_info.handle)
        mount_id, htype, handle = name_to_handle_at(AT_FDCWD, os.path.join(mnt, "d"))
        assert (htype, handle) == (child_info.handle_type, child_info.handle)
        fd = os.open(mnt, os.O_RDONLY)
        try:
            assert name_to_handle_at(fd, "d")[1:] == (htype, handle)
            assert name_to_handle_at(fd, "", AT_EMPTY_PATH)[1:] == (
                dir_info.handle_type,
                dir_info.handle,
            )
        finally:
            os.close(fd)
        with open("/proc/self/mountinfo") as f:
            ids = {int(line.split()[0]) for line in f}
        assert mount_id in ids
        return True

    assert in_fs("tmpfs", body)


def test_name_to_handle_at_errors():
    with pytest.raises(FileNotFoundError):
        name_to_handle_at(AT_FDCWD, "/nonexistent/x")
    with pytest.raises(OSError) as info:
        name_to_handle_at(AT_FDCWD, "/proc/self")
    assert info.value.errno == errno.EOPNOTSUPP
    with pytest.raises(TypeError):
        name_to_handle_at(AT_FDCWD, 3.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        name_to_handle_at(-5, "x")


# -- the tree model ----------------------------------------------------------------
@each_fs
def test_initial_scan_and_paths(fs):
    def body(mnt):
        root = os.path.join(mnt, "root")
        os.makedirs(os.path.join(root, "a", "b", "c"))
        os.makedirs(os.path.join(root, "e"))
        write(os.path.join(root, "a", "f"))
        os.symlink("a", os.path.join(root, "link"))
        with FanotifyTree(root) as tree:
            assert tree.backend == "fanotify"
            assert tree.roots == [root]
            assert tree.mark == "filesystem"
            assert tree.paths() == walk(root)
            assert "dirs=5" in repr(tree)
        return True

    assert in_fs(fs, body)


def test_events_match_inotify_tree_side_by_side():
    """The same actions, read after each, give the same PathEvents."""

    def body(mnt):
        root = os.path.join(mnt, "root")
        out = os.path.join(mnt, "out")
        os.mkdir(root)
        os.mkdir(out)
        write(os.path.join(out, "o"))
        os.mkdir(os.path.join(out, "od"))
        r = lambda *p: os.path.join(root, *p)  # noqa: E731
        steps = [
            ("mkdir", lambda: os.mkdir(r("a"))),
            ("create", lambda: write(r("a", "f"))),
            ("append", lambda: open(r("a", "f"), "a").close()),
            ("read", lambda: open(r("a", "f")).close()),
            ("chmod file", lambda: os.chmod(r("a", "f"), 0o600)),
            ("chmod dir", lambda: os.chmod(r("a"), 0o700)),
            ("chmod root", lambda: os.chmod(root, 0o755)),
            ("rename file", lambda: os.rename(r("a", "f"), r("a", "g"))),
            ("rename dir", lambda: os.rename(r("a"), r("b"))),
            ("makedirs", lambda: os.makedirs(r("b", "c", "d"))),
            ("file in new dir", lambda: write(r("b", "c", "d", "x"))),
            ("rename over", lambda: (write(r("b", "h")), os.rename(r("b", "g"), r("b", "h")))),
            ("move dir across", lambda: os.rename(r("b", "c"), r("c2"))),
            ("move out", lambda: os.rename(r("b", "h"), os.path.join(out, "h"))),
            ("move in file", lambda: os.rename(os.path.join(out, "o"), r("o"))),
            ("move in dir", lambda: os.rename(os.path.join(out, "od"), r("od"))),
            ("write in moved-in dir", lambda: write(r("od", "z"))),
            ("move dir out", lambda: os.rename(r("od"), os.path.join(out, "od2"))),
            ("outside", lambda: write(os.path.join(out, "od2", "zz"))),
            ("symlink", lambda: os.symlink("x", r("ln"))),
            ("hard link", lambda: os.link(r("o"), r("o2"))),
            ("unlink", lambda: os.unlink(r("o2"))),
            ("truncate", lambda: os.truncate(r("o"), 0)),
            ("utime", lambda: os.utime(r("o"))),
            ("mkdir rmdir", lambda: (os.mkdir(r("t")), os.rmdir(r("t")))),
            ("create unlink", lambda: (write(r("t")), os.unlink(r("t")))),
            ("rmtree", lambda: shutil.rmtree(r("b"))),
        ]
        diffs = []
        with FanotifyTree(root) as fan, InotifyTree(root) as ino:
            for name, action in steps:
                action()
                got, want = drain(fan, 1.0), drain(ino, 1.0)
                if got != want:
                    diffs.append((name, got, want))
            assert fan.paths() == ino.paths() == walk(root)
            shutil.rmtree(root)
            got, want = drain(fan, 1.0), drain(ino, 1.0)
            if got != want:
                diffs.append(("rmtree root", got, want))
        return diffs

    assert in_fs("tmpfs", body) == []


def test_rename_is_one_event_and_moves_the_subtree():
    def body(mnt):
        root = os.path.join(mnt, "root")
        os.makedirs(os.path.join(root, "a", "b"))
        with FanotifyTree(root) as tree:
            os.rename(os.path.join(root, "a"), os.path.join(root, "z"))
            write(os.path.join(root, "z", "b", "f"))
            events = drain(tree)
            assert events[0] == PathEvent(
                os.path.join(root, "z"),
                IN_MOVED_FROM | IN_MOVED_TO | IN_ISDIR,
                os.path.join(root, "a"),
            )
            assert events[0].rename_event
            assert events[1] == PathEvent(os.path.join(root, "z", "b", "f"), IN_CREATE, None)
            assert tree.paths() == walk(root)
        return True

    assert in_fs("tmpfs", body)


def test_events_outside_the_roots_are_not_reported():
    def body(mnt):
        root = os.path.join(mnt, "root")
        sibling = os.path.join(mnt, "sibling")
        os.mkdir(root)
        os.mkdir(sibling)
        with FanotifyTree(root, IN_ALL_EVENTS) as tree:
            for i in range(50):
                write(os.path.join(sibling, f"f{i}"))
                os.mkdir(os.path.join(sibling, f"d{i}"))
            os.chmod(mnt, 0o755)
            write(os.path.join(mnt, "top"))
            assert drain(tree, 0.5) == []
            assert tree.paths() == set()
            write(os.path.join(root, "in"))
            events = drain(tree)
            assert {e.path for e in events} == {os.path.join(root, "in")}
        return True

    assert in_fs("tmpfs", body)


def test_no_window_after_mkdir():
    """Files made in a new directory at once (before any read) are each
    reported by their own event: the mark covers the directory from its
    creation."""

    def body(mnt):
        with FanotifyTree(mnt, IN_CREATE) as tree:
            os.makedirs(os.path.join(mnt, "a", "b", "c"))
            for d in ("a", "a/b", "a/b/c"):
                write(os.path.join(mnt, d, "f"))
            events = drain(tree)
            created = [e.path[len(mnt) + 1 :] for e in events]
            assert created == ["a", "a/b", "a/b/c", "a/f", "a/b/f", "a/b/c/f"]
            assert tree.paths() == walk(mnt)
        return True

    assert in_fs("tmpfs", body)


@pytest.mark.parametrize(
    "dance",
    [
        "mkdir t; mv t u; mv u t; rmdir t",
        "touch t; mv t u; mv u t; rm t",
        "mkdir t; mkdir t/x; mv t u; rmdir u/x; mv u t; rmdir t",
        "touch t; ln t u; rm t; mv u t",
        "mkdir t; rmdir t; mkdir t",
        "mkdir t; mv t u; mkdir t; mv u t/u",
        "mkdir t; mkdir t/x; mv t/x y; rmdir t",
        "touch t; mv t u; touch t; mv t v; mv u t; rm t",
        "touch t; ln t u; rm t; ln u t; rm u; rm t; touch t",
        "touch t; rm t; touch t; rm t; touch t",
        "mkdir t; mkdir t/x; touch t/x/f; mv t/x y; rmdir t; mkdir t",
    ],
)
def test_merged_events_keep_paths_true(dance):
    """The kernel merges unread events about the same entry by the same
    process, in the place of the older one: the tree stays true."""

    def body(mnt):
        def run(cmd):
            argv = cmd.split()
            p = lambda n: os.path.join(mnt, n)  # noqa: E731
            if argv[0] == "mkdir":
                os.mkdir(p(argv[1]))
            elif argv[0] == "rmdir":
                os.rmdir(p(argv[1]))
            elif argv[0] == "touch":
                write(p(argv[1]))
            elif argv[0] == "rm":
                os.unlink(p(argv[1]))
            elif argv[0] == "mv":
                os.rename(p(argv[1]), p(argv[2]))
            elif argv[0] == "ln":
                os.link(p(argv[1]), p(argv[2]))

        with FanotifyTree(mnt) as tree:
            for cmd in dance.split("; "):
                run(cmd)
            events = drain(tree)
            assert tree.paths() == walk(mnt), events
            # Applying the events in order gives paths() (from nothing).
            model = set()
            for e in events:
                if e.mask & (IN_DELETE | IN_MOVED_FROM) and not e.mask & IN_MOVED_TO:
                    model = {p for p in model if p != e.path and not p.startswith(e.path + "/")}
                elif e.mask & IN_MOVED_TO and e.src_path:
                    model = {
                        e.path + p[len(e.src_path) :]
                        if p == e.src_path or p.startswith(e.src_path + "/")
                        else p
                        for p in model
                    }
                elif e.mask & (IN_CREATE | IN_MOVED_TO):
                    model.add(e.path)
            assert model == walk(mnt), events
        return events

    events = in_fs("tmpfs", body)
    if "mv t/x y" in dance:
        # t's removal is applied at the end of the batch: what left it
        # before is a rename, not a move in from nowhere.
        (rename,) = [e for e in events if e.path.endswith("/y")]
        assert rename.rename_event and rename.src_path.endswith("/t/x"), events


@each_fs
def test_random_mutations_keep_paths_true(fs):
    """A small model check (the big one is tests/stress/): random nested
    mkdir, renames of parents, rmtree, writes, reads in between."""

    def body(mnt, seed):
        rng = random.Random(seed)
        root = os.path.join(mnt, "root")
        os.mkdir(root)
        with FanotifyTree(root) as tree:
            for _round in range(30):
                for _ in range(rng.randrange(1, 15)):
                    dirs = [root, *sorted(p for p in walk(root) if os.path.isdir(p))]
                    d = rng.choice(dirs)
                    op = rng.random()
                    name = f"n{rng.randrange(30)}"
                    target = os.path.join(d, name)
                    try:
                        if op < 0.35:
                            os.makedirs(os.path.join(target, f"s{rng.randrange(3)}"))
                        elif op < 0.55:
                            write(target)
                        elif op < 0.8 and d != root:
                            dest = os.path.join(rng.choice(dirs), name)
                            os.rename(d, dest)
                        elif d != root:
                            shutil.rmtree(d)
                    except OSError:
                        pass  # EEXIST, EINVAL (into itself), ENOTEMPTY...
                if rng.random() < 0.7:
                    drain(tree, 0.2, 0.01)
                    assert tree.paths() == walk(root)
            drain(tree, 0.2, 0.01)
            assert tree.paths() == walk(root)
            # A file made in every directory is reported.
            dirs = [p for p in walk(root) if os.path.isdir(p)] + [root]
            for d in dirs:
                write(os.path.join(d, "probe"))
            seen = {e.path for e in drain(tree) if e.mask & IN_CREATE}
            assert seen == {os.path.join(d, "probe") for d in dirs}
        return True

    for seed in range(3):
        assert in_fs(fs, body, seed)


def test_overflow_rescans_and_reports_one_overflow():
    """More than the kernel queue holds (16384 events by default): one
    IN_Q_OVERFLOW event (path: the first root), then the differences."""

    def body(mnt):
        with open("/proc/sys/fs/fanotify/max_queued_events") as f:
            limit = int(f.read())
        root = os.path.join(mnt, "root")
        os.mkdir(root)
        os.mkdir(os.path.join(root, "gone"))
        with FanotifyTree(root, IN_CREATE | IN_DELETE) as tree:
            for i in range(limit + 500):
                write(os.path.join(root, f"f{i}"))
            os.rmdir(os.path.join(root, "gone"))
            events = drain(tree, 5.0, 0.5)
            overflows = [i for i, e in enumerate(events) if e.mask & IN_Q_OVERFLOW]
            assert len(overflows) == 1
            assert events[overflows[0]].path == root
            assert tree.paths() == walk(root)
            # Every file was reported once, as a creation.
            created = [e.path for e in events if e.mask & IN_CREATE]
            assert sorted(created) == sorted(
                os.path.join(root, f"f{i}") for i in range(limit + 500)
            )
            assert PathEvent(os.path.join(root, "gone"), IN_DELETE | IN_ISDIR, None) in events
        return True

    assert in_fs("tmpfs", body, timeout=120)


def test_unlimited_queue_does_not_overflow():
    def body(mnt):
        with open("/proc/sys/fs/fanotify/max_queued_events") as f:
            limit = int(f.read())
        with FanotifyTree(mnt, IN_CREATE, unlimited_queue=True) as tree:
            for i in range(limit + 500):
                write(os.path.join(mnt, f"f{i}"))
            events = drain(tree, 5.0, 0.5)
            assert not [e for e in events if e.mask & IN_Q_OVERFLOW]
            assert len(events) == limit + 500
        return True

    assert in_fs("tmpfs", body, timeout=120)


def test_root_deleted():
    def body(mnt):
        root = os.path.join(mnt, "root")
        os.mkdir(root)
        write(os.path.join(root, "f"))
        with FanotifyTree(root) as tree:
            shutil.rmtree(root)
            events = drain(tree)
            assert events[0] == PathEvent(os.path.join(root, "f"), IN_DELETE, None)
            assert events[-2:] == [
                PathEvent(root, IN_DELETE_SELF, None),
                PathEvent(root, IN_IGNORED, None),
            ]
            assert tree.paths() == set()
        return True

    assert in_fs("tmpfs", body)


def test_watch_adds_roots_and_nested_roots():
    def body(mnt):
        a, b = os.path.join(mnt, "a"), os.path.join(mnt, "b")
        os.makedirs(os.path.join(a, "sub"))
        os.mkdir(b)
        with FanotifyTree(a) as tree:
            tree.watch(b)
            tree.watch(os.path.join(a, "sub"))  # nested: changes nothing
            tree.watch(b)  # twice: the same
            assert tree.roots == [a, b, os.path.join(a, "sub")]
            write(os.path.join(b, "x"))
            write(os.path.join(a, "sub", "y"))
            paths = {e.path for e in drain(tree)}
            assert paths == {os.path.join(b, "x"), os.path.join(a, "sub", "y")}
            assert tree.paths() == walk(a) | walk(b)
            with pytest.raises(NotADirectoryError):
                tree.watch(os.path.join(b, "x"))
            with pytest.raises(FileNotFoundError):
                tree.watch(os.path.join(b, "nothing"))
        return True

    assert in_fs("tmpfs", body)


def test_mount_points_below_a_root():
    """Another filesystem mounted below a root is marked too; one without
    file handles (proc) is listed by name and not descended."""

    def body(mnt):
        from butter import system

        inner = os.path.join(mnt, "inner")
        proc = os.path.join(mnt, "proc")
        os.mkdir(inner)
        os.mkdir(proc)
        system.mount("tmpfs", inner, "tmpfs", 0, "mode=0755")
        os.mkdir(os.path.join(inner, "d"))
        system.mount("proc", proc, "proc", 0, None)
        with FanotifyTree(mnt) as tree:
            paths = tree.paths()
            assert os.path.join(inner, "d") in paths and proc in paths
            assert not [p for p in paths if p.startswith(proc + "/")]
            write(os.path.join(inner, "d", "f"))
            events = drain(tree)
            assert PathEvent(os.path.join(inner, "d", "f"), IN_CREATE, None) in events
        return True

    assert in_fs("tmpfs", body)


def test_exclude_and_progress():
    def body(mnt):
        for d in ("a/.git/objects", "a/src", "b/node_modules/x"):
            os.makedirs(os.path.join(mnt, d))
        calls = []
        with FanotifyTree(mnt, exclude=[".git", "node_modules"], progress=calls.append) as tree:
            assert calls[0] == 1 and calls[-1] == 4  # mnt, a, a/src, b
            assert tree.paths() == {
                os.path.join(mnt, p) for p in ("a", "a/.git", "a/src", "b", "b/node_modules")
            } - {os.path.join(mnt, "a/.git"), os.path.join(mnt, "b/node_modules")}
            write(os.path.join(mnt, "a", ".git", "objects", "o"))
            write(os.path.join(mnt, "a", ".git", "HEAD"))
            os.mkdir(os.path.join(mnt, "a", ".git2"))
            os.rename(os.path.join(mnt, "a", "src"), os.path.join(mnt, "a", ".git", "src"))
            events = drain(tree)
            assert events == [
                PathEvent(os.path.join(mnt, "a", ".git2"), IN_CREATE | IN_ISDIR, None),
                PathEvent(os.path.join(mnt, "a", "src"), IN_MOVED_FROM | IN_ISDIR, None),
            ]
        with FanotifyTree(mnt, exclude=lambda p: p.endswith("src")) as tree:
            assert os.path.join(mnt, "a", ".git", "src") not in tree.paths()
        return True

    assert in_fs("tmpfs", body)


def test_progress_exception_closes_the_tree():
    def body(mnt):
        os.makedirs(os.path.join(mnt, "a", "b"))
        before = open_fds()

        def stop(count):
            raise KeyboardInterrupt

        with pytest.raises(KeyboardInterrupt):
            FanotifyTree(mnt, progress=stop)
        assert open_fds() == before
        return True

    assert in_fs("tmpfs", body)


def test_watch_forgets_a_root_whose_scan_fails():
    def body(mnt):
        a, b = os.path.join(mnt, "a"), os.path.join(mnt, "b")
        os.makedirs(os.path.join(a, "x"))
        os.makedirs(os.path.join(b, "y", "z"))
        calls = []

        def progress(count):
            calls.append(count)
            if len(calls) > 1:
                raise KeyboardInterrupt

        with FanotifyTree(a) as tree:
            tree._progress = progress  # only the second root's scan raises
            with pytest.raises(KeyboardInterrupt):
                tree.watch(b)
            assert tree.roots == [a]
            assert tree.paths() == walk(a)
            assert len(tree._nodes) == 2  # a and a/x
            write(os.path.join(b, "y", "f"))
            write(os.path.join(a, "x", "f"))
            assert [e.path for e in drain(tree)] == [os.path.join(a, "x", "f")] * 4
        return True

    assert in_fs("tmpfs", body)


def test_no_fd_leak():
    def body(mnt):
        before = open_fds()
        for _ in range(3):
            with FanotifyTree(mnt) as tree:
                os.makedirs(os.path.join(mnt, "a", "b"))
                os.rename(os.path.join(mnt, "a"), os.path.join(mnt, "c"))
                shutil.rmtree(os.path.join(mnt, "c"))
                drain(tree, 0.5)
        tree = FanotifyTree(mnt)
        tree.close()
        tree.close()  # idempotent
        assert open_fds() == before
        return True

    assert in_fs("tmpfs", body)


def test_threads_share_a_tree():
    def body(mnt):
        got = []
        with FanotifyTree(mnt, IN_CREATE) as tree:

            def reader():
                while True:
                    try:
                        event = tree.wait(2.0)
                    except ValueError:  # closed
                        return
                    if event is None:
                        return
                    got.append(event.path)

            threads = [threading.Thread(target=reader) for _ in range(3)]
            for t in threads:
                t.start()
            for i in range(200):
                write(os.path.join(mnt, f"f{i}"))
                tree.paths()
            for t in threads:
                t.join(10)
        assert sorted(got) == sorted(os.path.join(mnt, f"f{i}") for i in range(200))
        return True

    assert in_fs("tmpfs", body)


def test_masks_without_directory_reads():
    """Directory reads (its own listings) are not reported; IN_OPEN of a
    file is, when asked for."""

    def body(mnt):
        os.mkdir(os.path.join(mnt, "d"))
        write(os.path.join(mnt, "d", "f"))
        with FanotifyTree(mnt, IN_OPEN | IN_MODIFY | IN_CLOSE_WRITE | IN_ATTRIB) as tree:
            os.listdir(os.path.join(mnt, "d"))
            write(os.path.join(mnt, "d", "f"), "y")
            events = drain(tree)
            f = os.path.join(mnt, "d", "f")
            assert events == [
                PathEvent(f, IN_OPEN, None),
                PathEvent(f, IN_MODIFY, None),
                PathEvent(f, IN_CLOSE_WRITE, None),
            ]
        return True

    assert in_fs("tmpfs", body)


# -- errors ----------------------------------------------------------------------------
def test_bad_arguments():
    with pytest.raises(ValueError, match="mark"):
        FanotifyTree("/", mark="inode")
    with pytest.raises(TypeError):
        FanotifyTree("/", mark=1)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        FanotifyTree("/", events=1 << 20)
    with pytest.raises(TypeError):
        FanotifyTree("/", exclude=5)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        FanotifyTree("/", progress=5)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        FanotifyTree("/", unlimited_queue="yes")  # type: ignore[arg-type]
    with pytest.raises(FileNotFoundError):
        FanotifyTree("")


def test_mount_mark_is_refused_clearly():
    def body(mnt):
        with pytest.raises(ValueError, match="mark='filesystem'"):
            FanotifyTree(mnt, mark="mount")
        return True

    assert in_fs("tmpfs", body)


def test_permission_error_without_cap_sys_admin():
    def body(mnt):
        os.chmod(mnt, 0o777)
        os.setgid(65534)
        os.setuid(65534)  # every capability gone
        with pytest.raises(PermissionError, match="CAP_SYS_ADMIN"):
            FanotifyTree(mnt)
        from butter import watch

        watch._usable = None  # asked again as this user
        with watch.watch_tree(mnt) as tree:
            assert tree.backend == "inotify"
        with pytest.raises(PermissionError, match="CAP_SYS_ADMIN"):
            watch.watch_tree(mnt, backend="fanotify")
        return True

    assert in_fs("tmpfs", body)


def test_filesystem_without_file_handles():
    with pytest.raises(OSError, match="'proc' filesystem") as info:
        FanotifyTree("/proc/self")
    assert info.value.errno == errno.EOPNOTSUPP
    assert "/proc/self" in str(info.value)


def test_not_a_directory():
    def body(mnt):
        write(os.path.join(mnt, "f"))
        with pytest.raises(NotADirectoryError):
            FanotifyTree(os.path.join(mnt, "f"))
        with pytest.raises(FileNotFoundError):
            FanotifyTree(os.path.join(mnt, "none"))
        return True

    assert in_fs("tmpfs", body)


# -- asyncio ----------------------------------------------------------------------------
def test_async_tree():
    def body(mnt):
        from butter.asyncio.fanotify import FanotifyTree_async

        async def main():
            async with FanotifyTree_async(mnt, IN_CREATE) as tree:
                assert tree.backend == "fanotify" and tree.roots == [mnt]
                os.makedirs(os.path.join(mnt, "a", "b"))
                first = await asyncio.wait_for(tree.get(), 5)
                second = await asyncio.wait_for(tree.get(), 5)
                assert [first.path, second.path] == [
                    os.path.join(mnt, "a"),
                    os.path.join(mnt, "a", "b"),
                ]
                assert tree.paths() == walk(mnt)
            return True

        before = open_fds()
        assert asyncio.run(main())
        assert open_fds() == before
        return True

    assert in_fs("tmpfs", body)


def test_child_process_sees_no_fds():
    def body(mnt):
        with FanotifyTree(mnt) as tree:
            fds = set(os.listdir("/proc/self/fd"))
            out = subprocess.run(
                ["ls", "/proc/self/fd"], capture_output=True, text=True, check=True
            ).stdout.split()
            assert str(tree.fileno()) in fds and str(tree.fileno()) not in out
        return True

    assert in_fs("tmpfs", body)


# -- python -m butter.inotify -r --fanotify -------------------------------------------
def _cli_both(mnt, opts):
    """``-m -r`` and ``-m -r --fanotify`` on the same actions: their lines."""
    import sys
    import time

    def start(cmd):
        proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd="/"
        )
        deadline = time.monotonic() + 20
        line = ""
        while time.monotonic() < deadline:
            line = proc.stderr.readline()
            if line.startswith("Watches established") or not line:
                break
        assert line.startswith("Watches established"), line
        return proc

    def stop(proc):
        time.sleep(0.3)
        proc.terminate()
        out, _ = proc.communicate(timeout=10)
        return out.splitlines()

    j = os.path.join
    d = j(mnt, "w")
    os.makedirs(j(d, "pre"))
    os.makedirs(j(mnt, "out", "od"))
    cli = [sys.executable, "-m", "butter.inotify", "-m", "-r"]
    procs = [start([*cli, *opts, d]), start([*cli, "--fanotify", *opts, d])]
    try:
        os.mkdir(j(d, "a"))
        time.sleep(0.2)  # inotifywait -r's window: let it watch a
        write(j(d, "a", "x"), "1")
        os.chmod(j(d, "a"), 0o700)
        os.rename(j(d, "a"), j(d, "b"))
        time.sleep(0.1)
        write(j(d, "b", "y"), "2")
        os.unlink(j(d, "b", "x"))
        os.rename(j(mnt, "out", "od"), j(d, "od"))
        time.sleep(0.1)
        os.rename(j(d, "od"), j(mnt, "out", "od2"))
        time.sleep(0.1)
        shutil.rmtree(j(d, "b"))
        os.chmod(d, 0o755)
        os.rmdir(j(d, "pre"))
    finally:
        outputs = [stop(p) for p in procs]
    return outputs


def test_cli_fanotify_prints_what_r_prints():
    opts = ["-e", "create,close_write,delete,moved_from,moved_to,attrib,modify"]
    opts[-1] += ",delete_self,move_self"
    inotify, fanotify = in_fs("tmpfs", _cli_both, opts)
    assert len(inotify) > 15
    assert fanotify == inotify


def test_cli_fanotify_default_events_but_directory_reads():
    inotify, fanotify = in_fs("tmpfs", _cli_both, [])
    reads = ("OPEN,ISDIR", "ACCESS,ISDIR", "CLOSE_NOWRITE,CLOSE,ISDIR")
    assert fanotify == [line for line in inotify if line.split(" ")[1] not in reads]
