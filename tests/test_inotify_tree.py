"""butter.inotify.InotifyTree: recursive watching checked against os.walk."""

from __future__ import annotations

import os
import random
import shutil

import pytest
from conftest import open_fds
from test_inotify import raised_queue

from butter.inotify import (
    IN_CLOSE_WRITE,
    IN_CREATE,
    IN_DELETE,
    IN_ISDIR,
    IN_MOVED_FROM,
    IN_MOVED_TO,
    IN_Q_OVERFLOW,
    InotifyTree,
    PathEvent,
)

RENAME = IN_MOVED_FROM | IN_MOVED_TO


def walk_paths(root) -> set[str]:
    root = str(root)
    return {os.path.join(d, n) for d, dirs, files in os.walk(root) for n in dirs + files}


def drain(tree: InotifyTree, quiet: float = 0.2) -> list[PathEvent]:
    events = []
    while True:
        ev = tree.wait(timeout=quiet)
        if ev is None:
            return events
        events.append(ev)


def test_initial_scan_and_basic_events(tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "b" / "f").touch()
    (tmp_path / "top").touch()
    with InotifyTree(tmp_path) as t:
        assert t.paths() == walk_paths(tmp_path)
        assert t.roots == [str(tmp_path)]
        (tmp_path / "a" / "b" / "g").write_text("x")
        events = drain(t)
        assert [(e.path, e.mask) for e in events if e.mask & (IN_CREATE | IN_CLOSE_WRITE)] == [
            (str(tmp_path / "a/b/g"), IN_CREATE),
            (str(tmp_path / "a/b/g"), IN_CLOSE_WRITE),
        ]
        shutil.rmtree(tmp_path / "a")
        events = drain(t)
        deletes = {(e.path, e.mask) for e in events if e.delete_event}
        assert deletes == {
            (str(tmp_path / "a/b/f"), IN_DELETE),
            (str(tmp_path / "a/b/g"), IN_DELETE),
            (str(tmp_path / "a/b"), IN_DELETE | IN_ISDIR),
            (str(tmp_path / "a"), IN_DELETE | IN_ISDIR),
        }
        assert t.paths() == walk_paths(tmp_path) == {str(tmp_path / "top")}


def test_new_dir_contents_reported(tmp_path):
    """Files created in a new directory before its watch landed are reported."""
    with InotifyTree(tmp_path) as t:
        deep = tmp_path / "n1" / "n2" / "n3"
        deep.mkdir(parents=True)
        for k in range(5):
            (deep / f"f{k}").touch()
        events = drain(t)
        created = [e.path for e in events if e.create_event]
        assert sorted(created) == sorted(walk_paths(tmp_path))
        assert len(created) == len(set(created))  # each exactly once
        assert t.paths() == walk_paths(tmp_path)


def test_rename_pairs_and_unpaired_halves(tmp_path):
    inside = tmp_path / "in"
    outside = tmp_path / "out"
    inside.mkdir()
    outside.mkdir()
    (inside / "d").mkdir()
    (inside / "d" / "f").touch()
    (outside / "x").mkdir()
    (outside / "x" / "y").touch()
    with InotifyTree(inside) as t:
        os.rename(inside / "d", inside / "e")  # a directory, inside
        ev = [e for e in drain(t) if e.mask & RENAME]
        assert ev == [PathEvent(str(inside / "e"), RENAME | IN_ISDIR, str(inside / "d"))]
        assert ev[0].rename_event and ev[0].is_dir_event
        (inside / "e" / "f2").touch()  # the moved directory's watch follows it
        assert [e.path for e in drain(t) if e.create_event] == [str(inside / "e/f2")]
        os.rename(inside / "e" / "f", outside / "f")  # moved out: IN_MOVED_FROM alone
        os.rename(outside / "x", inside / "x")  # moved in: IN_MOVED_TO alone
        ev = [e for e in drain(t) if e.mask & RENAME]
        assert ev == [
            PathEvent(str(inside / "e/f"), IN_MOVED_FROM, None),
            PathEvent(str(inside / "x"), IN_MOVED_TO | IN_ISDIR, None),
        ]
        assert t.paths() == walk_paths(inside)
        (inside / "x" / "z").touch()  # the moved-in directory is watched
        assert [e.path for e in drain(t) if e.create_event] == [str(inside / "x/z")]
        os.rename(inside / "e", outside / "e")  # a directory moved out
        drain(t)
        (outside / "e" / "late").touch()  # no longer watched
        assert [e for e in drain(t) if "late" in e.path] == []
        assert t.paths() == walk_paths(inside)


def test_overflow_rescans_and_reports(tmp_path):
    with raised_queue(32):
        t = InotifyTree(tmp_path)
    with t:
        for k in range(20):
            (tmp_path / f"d{k}").mkdir()
            (tmp_path / f"d{k}" / "f").touch()
        events = drain(t)
        assert events[0].overflow_event or any(e.overflow_event for e in events)
        over = [e for e in events if e.mask & IN_Q_OVERFLOW]
        assert over[0].path == str(tmp_path)
        assert t.paths() == walk_paths(tmp_path)
        created = {e.path for e in events if e.create_event}
        assert created == walk_paths(tmp_path)  # nothing went unreported


def _burst(root: str, rng: random.Random, steps: int) -> None:
    dirs = [root]
    files: list[str] = []
    for _ in range(steps):
        op = rng.random()
        try:
            if op < 0.25:
                d = os.path.join(rng.choice(dirs), f"d{rng.randrange(10**6)}")
                os.mkdir(d)
                dirs.append(d)
            elif op < 0.55:
                f = os.path.join(rng.choice(dirs), f"f{rng.randrange(10**6)}")
                with open(f, "w") as fh:
                    fh.write("x")
                files.append(f)
            elif op < 0.75 and len(dirs) > 1:
                src = rng.choice(dirs[1:])
                parent = rng.choice(dirs)
                if parent == src or parent.startswith(src + os.sep):
                    continue
                dst = os.path.join(parent, f"r{rng.randrange(10**6)}")
                os.rename(src, dst)
                dirs = [dst + d[len(src) :] if d == src or d.startswith(src + os.sep) else d
                        for d in dirs]  # fmt: skip
                files = [dst + f[len(src) :] if f.startswith(src + os.sep) else f for f in files]
            elif op < 0.85 and files:
                f = files.pop(rng.randrange(len(files)))
                dst = os.path.join(rng.choice(dirs), f"m{rng.randrange(10**6)}")
                os.rename(f, dst)
                files.append(dst)
            elif op < 0.93 and files:
                os.unlink(files.pop(rng.randrange(len(files))))
            elif len(dirs) > 1:
                d = rng.choice(dirs[1:])
                shutil.rmtree(d)
                dirs = [x for x in dirs if not (x == d or x.startswith(d + os.sep))]
                files = [x for x in files if not x.startswith(d + os.sep)]
        except FileNotFoundError:
            pass


@pytest.mark.parametrize("seed", range(6))
def test_truth_after_random_burst(tmp_path, seed):
    """After a burst of random nested creates/renames/deletes, what the
    watcher believes exists equals os.walk."""
    rng = random.Random(seed)
    root = tmp_path / "root"
    root.mkdir()
    before = open_fds()
    with InotifyTree(root) as t:
        _burst(str(root), rng, 600)
        drain(t, quiet=0.3)
        assert t.paths() == walk_paths(root)
        # once more, interleaving reads with the burst
        for _ in range(5):
            _burst(str(root), rng, 100)
            t.read_events()
        drain(t, quiet=0.3)
        assert t.paths() == walk_paths(root)
    assert open_fds() == before


def test_non_recursive(tmp_path):
    (tmp_path / "sub").mkdir()
    with InotifyTree(tmp_path, recursive=False) as t:
        (tmp_path / "sub" / "x").touch()
        (tmp_path / "y").touch()
        assert [e.path for e in drain(t) if e.create_event] == [str(tmp_path / "y")]


def test_bad_root(tmp_path):
    (tmp_path / "file").touch()
    before = open_fds()
    with pytest.raises(NotADirectoryError):
        InotifyTree(tmp_path / "file")
    with pytest.raises(FileNotFoundError):
        InotifyTree(tmp_path / "missing")
    with pytest.raises(TypeError):
        InotifyTree(42)  # type: ignore[arg-type]
    assert open_fds() == before
