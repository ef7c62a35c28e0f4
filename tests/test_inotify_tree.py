"""butter.inotify.InotifyTree: recursive watching checked against os.walk."""

from __future__ import annotations

import os
import random
import shutil

import pytest
from conftest import flood, in_child, inotify_queue_limit, open_fds

import butter.inotify
from butter.inotify import (
    IN_ALL_EVENTS,
    IN_CLOSE_WRITE,
    IN_CREATE,
    IN_DELETE,
    IN_IGNORED,
    IN_ISDIR,
    IN_MOVED_FROM,
    IN_MOVED_TO,
    IN_ONESHOT,
    IN_Q_OVERFLOW,
    IN_UNMOUNT,
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


def under(path: str, tops: set[str]) -> bool:
    while path not in tops:
        parent = os.path.dirname(path)
        if parent == path:
            return False
        path = parent
    return True


def replay(start: set[str], events: list[PathEvent]) -> tuple[set[str], set[str], list[str]]:
    """Apply *events* in order to *start* (a ``paths()``): return the view
    they give, the directories moved in from outside (their contents are
    listed without events, so the view says nothing below them), and every
    event that does not fit: a creation of what exists, a deletion, move
    or rename of what does not."""
    view = set(start)
    opaque: set[str] = set()
    problems: list[str] = []

    def below(p: str) -> set[str]:
        return {x for x in view if x.startswith(p + os.sep)}

    def remove(p: str) -> None:
        view.discard(p)
        view.difference_update(below(p))
        opaque.difference_update({o for o in opaque if o == p or o.startswith(p + os.sep)})

    for i, ev in enumerate(events):
        p, strict = ev.path, not under(ev.path, opaque)
        if ev.overflow_event or ev.ignored_event:
            continue
        if ev.rename_event:
            src = ev.src_path
            assert src is not None
            if src not in view and not under(src, opaque):
                problems.append(f"event {i}: rename of unknown {src}")
            moved = {p + x[len(src) :] for x in below(src)}
            tops = {p + o[len(src) :] for o in opaque if o == src or o.startswith(src + os.sep)}
            if under(src, opaque):  # from inside a directory listed without events
                tops.add(p)
            remove(src)
            remove(p)
            view.add(p)
            view.update(moved)
            opaque.update(tops)
        elif ev.moved_from_event:
            if p not in view and strict:
                problems.append(f"event {i}: moved out unknown {p}")
            remove(p)
        elif ev.moved_to_event:
            remove(p)
            view.add(p)
            if ev.is_dir_event:
                opaque.add(p)
        elif ev.create_event:
            if p in view and strict:
                problems.append(f"event {i}: created twice {p}")
            view.add(p)
        elif ev.delete_event:
            if p not in view and strict:
                problems.append(f"event {i}: deleted unknown {p}")
            remove(p)
    return view, opaque, problems


def assert_consistent(tree: InotifyTree, root, start: set[str], events: list[PathEvent]) -> None:
    """paths() is the real tree, and the events, replayed onto the first
    paths(), give it: each change reported once, at its real path."""
    believed = tree.paths()
    assert believed == walk_paths(root)
    view, opaque, problems = replay(start, events)
    assert problems == []
    assert {p for p in view if not under(os.path.dirname(p), opaque)} == {
        p for p in believed if not under(os.path.dirname(p), opaque)
    }


def assert_reports_in_every_dir(tree: InotifyTree, root) -> None:
    """A file created in any real directory is reported, at its path."""
    wanted = set()
    for d, _, _ in os.walk(root):
        wanted.add(os.path.join(d, "probe"))
        open(os.path.join(d, "probe"), "w").close()
    assert {e.path for e in drain(tree) if e.create_event} == wanted


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
    with InotifyTree(tmp_path) as t:
        for k in range(10):
            (tmp_path / f"d{k}").mkdir()
            (tmp_path / f"d{k}" / "f").touch()
        flood(tmp_path, inotify_queue_limit())  # the queue overflows...
        for k in range(10, 20):  # ...so these events are lost
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


# -- the tree stays true when events are read late (issue 7) ----------------------
# Events name paths as they were; when they are read the paths may hold
# something else.  Each test below failed before the watcher settled every
# batch by current paths: a directory lost its watch, paths() lost entries,
# or events named paths that never held what they reported.


def test_parent_renamed_before_new_childs_event_is_read(tmp_path):
    """The reported case: mkdir a/b; mv a c; mkdir c/b/x, then read."""
    (tmp_path / "a").mkdir()
    with InotifyTree(tmp_path) as t:
        start = t.paths()
        (tmp_path / "a" / "b").mkdir()
        os.rename(tmp_path / "a", tmp_path / "c")
        (tmp_path / "c" / "b" / "x").mkdir()
        events = drain(t)
        assert_consistent(t, tmp_path, start, events)
        (tmp_path / "c" / "b" / "f").touch()
        assert [e.path for e in drain(t) if e.create_event] == [str(tmp_path / "c/b/f")]
        assert_reports_in_every_dir(t, tmp_path)


def test_deep_new_dir_then_ancestor_renamed(tmp_path):
    """The failed add of a new directory deep below a renamed ancestor."""
    with InotifyTree(tmp_path) as t:
        start = t.paths()
        (tmp_path / "a" / "b" / "c").mkdir(parents=True)
        events = drain(t)
        (tmp_path / "a" / "b" / "c" / "d").mkdir()
        os.rename(tmp_path / "a", tmp_path / "z")
        events += drain(t)
        assert_consistent(t, tmp_path, start, events)
        assert_reports_in_every_dir(t, tmp_path)


def test_moved_in_dir_renamed_with_new_child(tmp_path):
    """A directory moved in, renamed, given a child, renamed again."""
    root, outside = tmp_path / "root", tmp_path / "out"
    root.mkdir()
    (outside / "m").mkdir(parents=True)
    with InotifyTree(root) as t:
        os.rename(outside / "m", root / "m")
        drain(t)
        os.rename(root / "m", root / "n")
        (root / "n" / "child").mkdir()
        os.rename(root / "n", root / "o")
        drain(t)
        assert t.paths() == walk_paths(root)
        assert_reports_in_every_dir(t, root)


def test_name_reused_after_rename(tmp_path):
    """mkdir a/b; mv a/b a/c; mkdir a/b: two directories, one name."""
    (tmp_path / "a").mkdir()
    with InotifyTree(tmp_path) as t:
        start = t.paths()
        (tmp_path / "a" / "b").mkdir()
        (tmp_path / "a" / "b" / "old").touch()
        os.rename(tmp_path / "a" / "b", tmp_path / "a" / "c")
        (tmp_path / "a" / "b").mkdir()
        (tmp_path / "a" / "b" / "new").touch()
        events = drain(t)
        assert_consistent(t, tmp_path, start, events)
        assert_reports_in_every_dir(t, tmp_path)


def test_events_name_the_directory_they_happen_in(tmp_path):
    """A directory's watch was added by a path that, by then, held another
    directory: its events must not be reported under the old path."""
    (tmp_path / "d1").mkdir()
    with InotifyTree(tmp_path) as t:
        start = t.paths()
        (tmp_path / "d1" / "d9").mkdir()
        os.rename(tmp_path / "d1" / "d9", tmp_path / "t14")
        (tmp_path / "d1" / "d15").mkdir()
        os.rename(tmp_path / "d1" / "d15", tmp_path / "t18")
        os.rename(tmp_path / "t18", tmp_path / "d1" / "d9")
        (tmp_path / "d1" / "d9" / "d25").mkdir()
        events = drain(t)
        assert_consistent(t, tmp_path, start, events)
        assert_reports_in_every_dir(t, tmp_path)


def test_rename_over_a_directory_reports_each_entry_once(tmp_path):
    """A directory never watched (its parent was renamed first) replaces an
    empty directory: what it holds is reported once."""
    with InotifyTree(tmp_path) as t:
        start = t.paths()
        (tmp_path / "a" / "b" / "c").mkdir(parents=True)
        os.rename(tmp_path / "a", tmp_path / "r")
        (tmp_path / "r" / "b" / "c" / "d" / "e").mkdir(parents=True)
        events = drain(t)
        (tmp_path / "target").mkdir()
        os.rename(tmp_path / "r" / "b" / "c" / "d", tmp_path / "target")
        events += drain(t)
        created = [e.path for e in events if e.create_event]
        assert len(created) == len(set(created))
        assert_consistent(t, tmp_path, start, events)
        assert_reports_in_every_dir(t, tmp_path)


def test_nothing_unreported_is_reported_gone(tmp_path):
    """Entries the user never heard of are not reported deleted or moved."""
    root, outside = tmp_path / "root", tmp_path / "out"
    (root / "d30").mkdir(parents=True)
    (outside / "d39" / "d40").mkdir(parents=True)
    with InotifyTree(root) as t:
        start = t.paths()
        os.rename(outside / "d39", root / "d30" / "i42")  # listed without events
        events = drain(t)
        (root / "r47").mkdir()
        os.rename(root / "d30", root / "r47" / "r51")
        os.rename(root / "r47" / "r51" / "i42" / "d40", root / "r47" / "r52")
        events += drain(t)
        assert_consistent(t, root, start, events)
        shutil.rmtree(root / "r47")
        events += drain(t)
        assert_consistent(t, root, start, events)


def test_overflow_with_swapped_directories(tmp_path):
    """Two directories swap names while the queue is overflowing: the
    rescan finds each one's watch by its path, not by the old map."""
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        (tmp_path / name / f"in_{name}").touch()
    with InotifyTree(tmp_path) as t:
        flood(tmp_path, inotify_queue_limit())  # the queue overflows
        os.rename(tmp_path / "a", tmp_path / "tmp")
        os.rename(tmp_path / "b", tmp_path / "a")
        os.rename(tmp_path / "tmp", tmp_path / "b")
        events = drain(t)
        assert any(e.overflow_event for e in events)
        assert t.paths() == walk_paths(tmp_path)
        (tmp_path / "a" / "new").touch()
        assert [e.path for e in drain(t) if e.create_event] == [str(tmp_path / "a/new")]
        assert_reports_in_every_dir(t, tmp_path)


def test_subtree_renamed_and_its_old_name_rebuilt(tmp_path):
    """mkdir -p p/c; mv p q; mkdir -p p/c; then a child in each c."""
    with InotifyTree(tmp_path) as t:
        start = t.paths()
        (tmp_path / "p" / "c").mkdir(parents=True)
        os.rename(tmp_path / "p", tmp_path / "q")
        (tmp_path / "p" / "c").mkdir(parents=True)
        (tmp_path / "q" / "c" / "x").mkdir()
        (tmp_path / "p" / "c" / "y").mkdir()
        events = drain(t)
        assert_consistent(t, tmp_path, start, events)
        assert_reports_in_every_dir(t, tmp_path)


@pytest.mark.skipif(os.geteuid() != 0, reason="bind mounts need root")
def test_bind_mounts_listed_not_descended(tmp_path):
    """A directory reachable by two paths (a bind mount; here also the tree
    mounted inside itself) has one watch: the second path is listed by name
    and not descended, so nothing loops and each event is reported once."""
    from butter import clone, system

    root = tmp_path / "root"
    for d in ("real/sub", "alias", "loop"):
        (root / d).mkdir(parents=True)

    def child() -> tuple[set[str], list[str]]:
        clone.unshare(clone.CLONE_NEWNS)
        system.mount(None, "/", None, system.MS_REC | system.MS_PRIVATE)
        system.mount(str(root / "real"), str(root / "alias"), None, system.MS_BIND)
        system.mount(str(root), str(root / "loop"), None, system.MS_BIND)
        with InotifyTree(root) as t:
            paths = t.paths()
            (root / "real" / "sub" / "f").touch()
            created = [e.path for e in drain(t) if e.create_event]
        return paths, created

    paths, created = in_child(child)
    top = {str(root / d) for d in ("real", "alias", "loop")}
    assert top <= paths
    assert not any(p.startswith(str(root / "loop") + os.sep) for p in paths)
    subs = {str(root / "real/sub"), str(root / "alias/sub")} & paths
    assert len(subs) == 1  # one of the two paths is descended
    assert created == [os.path.join(subs.pop(), "f")]


# -- constructor checks (issue 7, item 8) ------------------------------------------


@pytest.fixture
def no_fd(monkeypatch):
    """Fail the test if an inotify fd is created."""

    def refuse(flags: int = 0) -> int:
        raise AssertionError("an inotify fd was created before the arguments were checked")

    monkeypatch.setattr(butter.inotify, "inotify_init", refuse)


@pytest.mark.parametrize("path", ["", b""])
def test_empty_path_is_enoent(tmp_path, path, no_fd):
    """As Inotify().watch(""): the kernel's ENOENT, not the current directory."""
    with pytest.raises(FileNotFoundError):
        InotifyTree(path)


def test_empty_path_to_watch(tmp_path):
    with InotifyTree(tmp_path) as t, pytest.raises(FileNotFoundError):
        t.watch("")
    with butter.inotify.Inotify() as i, pytest.raises(FileNotFoundError):
        i.watch("")  # the same answer


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"events": 0x80000000}, ValueError, "events"),  # IN_ONESHOT: not an event
        ({"events": IN_ONESHOT | IN_CREATE}, ValueError, "events"),
        ({"events": IN_ISDIR}, ValueError, "events"),
        ({"events": -1}, ValueError, "events"),
        ({"events": "all"}, TypeError, "events"),
        ({"events": True}, TypeError, "events"),
        ({"move_wait": "x"}, TypeError, "move_wait must be a real number"),
        ({"move_wait": None}, TypeError, "move_wait must be a real number"),
        ({"move_wait": float("nan")}, ValueError, "move_wait"),
        ({"move_wait": -0.001}, ValueError, "move_wait"),
        ({"move_wait": float("inf")}, ValueError, "move_wait"),
        ({"move_wait": 1e30}, OverflowError, "move_wait"),
        ({"recursive": "yes"}, TypeError, "recursive must be a bool"),
        ({"recursive": None}, TypeError, "recursive must be a bool"),
    ],
)
def test_bad_arguments_before_any_fd(tmp_path, kwargs, error, match, no_fd):
    with pytest.raises(error, match=match):
        InotifyTree(tmp_path, **kwargs)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"events": 0},
        {"events": IN_ALL_EVENTS | IN_UNMOUNT | IN_Q_OVERFLOW | IN_IGNORED},
        {"move_wait": 0},
        {"move_wait": 1},
        {"recursive": 0},
    ],
)
def test_good_arguments(tmp_path, kwargs):
    with InotifyTree(tmp_path, **kwargs) as t:
        (tmp_path / "x").mkdir()
        drain(t, quiet=0.05)
        assert t.paths() == {str(tmp_path / "x")}


# -- exclude: the tree minus what is left out -----------------------------------
EXCLUDE = [".git", "node_modules", "*.swp", "*~"]


def walk_minus(root, excluded) -> set[str]:
    """os.walk's view of *root* without the entries *excluded(path)* names,
    nor anything below them."""
    root = str(root)
    out = set()
    for d, dirs, files in os.walk(root):
        dirs[:] = [n for n in dirs if not excluded(os.path.join(d, n))]
        out.update(os.path.join(d, n) for n in dirs + files if not excluded(os.path.join(d, n)))
    return out


def by_pattern(path: str) -> bool:
    import fnmatch

    return any(fnmatch.fnmatchcase(os.path.basename(path), p) for p in EXCLUDE)


def test_exclude_patterns_scan_and_events(tmp_path):
    (tmp_path / ".git" / "objects").mkdir(parents=True)
    (tmp_path / "src" / "node_modules" / "pkg").mkdir(parents=True)
    (tmp_path / "src" / "a.py").touch()
    (tmp_path / "src" / ".a.py.swp").touch()
    with InotifyTree(tmp_path, exclude=EXCLUDE) as t:
        assert t.paths() == walk_minus(tmp_path, by_pattern) == {
            str(tmp_path / "src"), str(tmp_path / "src" / "a.py")
        }  # fmt: skip
        assert len(t._dir_wd) == 2  # the root and src: nothing below .git, node_modules
        (tmp_path / ".git" / "objects" / "x").touch()
        (tmp_path / "src" / "node_modules" / "pkg" / "y").touch()
        (tmp_path / "src" / "b.py~").touch()
        (tmp_path / "src" / ".git").mkdir()
        (tmp_path / "src" / ".git" / "z").touch()
        (tmp_path / "src" / "c.py").write_text("x")
        events = drain(t)
        assert {e.path for e in events} == {str(tmp_path / "src" / "c.py")}
        assert t.paths() == walk_minus(tmp_path, by_pattern)
        assert len(t._dir_wd) == 2


def test_exclude_single_pattern_and_callable_kinds(tmp_path):
    (tmp_path / "keep").mkdir()
    (tmp_path / "skip").mkdir()
    with InotifyTree(tmp_path, exclude="skip") as t:
        assert t.paths() == {str(tmp_path / "keep")}
    with InotifyTree(tmp_path, exclude=(p for p in ["sk*"])) as t:  # any iterable
        assert t.paths() == {str(tmp_path / "keep")}
    with InotifyTree(tmp_path, exclude=[]) as t:  # nothing excluded
        assert t.paths() == walk_paths(tmp_path)
    seen = []

    def excluded(path: str) -> bool:
        seen.append(path)
        return path.endswith("keep")

    with InotifyTree(tmp_path, exclude=excluded) as t:
        assert t.paths() == {str(tmp_path / "skip")}
    assert set(seen) == {str(tmp_path / "keep"), str(tmp_path / "skip")}  # full paths


def test_exclude_renames_in_and_out(tmp_path):
    """A rename to an excluded name is a move out, from one a move in: the
    events, replayed, give paths(), which is the tree minus the excluded."""
    (tmp_path / "d" / "sub").mkdir(parents=True)
    (tmp_path / "d" / "sub" / "f").touch()
    (tmp_path / "file").touch()
    with InotifyTree(tmp_path, exclude=EXCLUDE) as t:
        start = t.paths()
        os.rename(tmp_path / "d", tmp_path / "node_modules")  # dir: out
        os.rename(tmp_path / "file", tmp_path / "file.swp")  # file: out
        events = drain(t)
        assert [(e.path, e.mask, e.src_path) for e in events if e.mask & RENAME] == [
            (str(tmp_path / "d"), IN_MOVED_FROM | IN_ISDIR, None),
            (str(tmp_path / "file"), IN_MOVED_FROM, None),
        ]
        assert t.paths() == walk_minus(tmp_path, by_pattern) == set()
        (tmp_path / "node_modules" / "sub" / "g").touch()  # no longer watched
        assert drain(t) == []
        os.rename(tmp_path / "node_modules", tmp_path / "e")  # dir: in
        os.rename(tmp_path / "file.swp", tmp_path / "file2")  # file: in
        more = drain(t)
        assert [(e.path, e.mask, e.src_path) for e in more if e.mask & RENAME] == [
            (str(tmp_path / "e"), IN_MOVED_TO | IN_ISDIR, None),
            (str(tmp_path / "file2"), IN_MOVED_TO, None),
        ]
        assert t.paths() == walk_minus(tmp_path, by_pattern)
        assert str(tmp_path / "e" / "sub" / "g") in t.paths()  # listed when moved in
        (tmp_path / "e" / "sub" / "h").touch()  # and watched again
        os.rename(tmp_path / "file2", tmp_path / "e" / "file3")  # included both ends
        last = drain(t)
        assert [e.path for e in last if e.create_event] == [str(tmp_path / "e/sub/h")]
        assert [(e.path, e.src_path) for e in last if e.rename_event] == [
            (str(tmp_path / "e/file3"), str(tmp_path / "file2"))
        ]
        assert t.paths() == walk_minus(tmp_path, by_pattern)
        view, _, problems = replay(start, events + more + last)
        assert problems == []
        assert view <= t.paths()  # what a moved-in directory holds came without events


def test_exclude_callable_decides_anew_after_a_rename(tmp_path):
    """A test of whole paths may change its answer when a parent is renamed:
    the subtree is listed again and the differences reported."""
    hidden = str(tmp_path / "a" / "b")

    def excluded(path: str) -> bool:
        return path == hidden

    (tmp_path / "a" / "b" / "c").mkdir(parents=True)
    (tmp_path / "a" / "b" / "c" / "f").touch()
    (tmp_path / "a" / "g").touch()
    with InotifyTree(tmp_path, exclude=excluded) as t:
        start = t.paths()
        assert start == walk_minus(tmp_path, excluded) == {
            str(tmp_path / "a"), str(tmp_path / "a" / "g")
        }  # fmt: skip
        os.rename(tmp_path / "a", tmp_path / "x")  # x/b is not excluded
        events = drain(t)
        assert t.paths() == walk_minus(tmp_path, excluded) == walk_paths(tmp_path)
        assert {e.path for e in events if e.create_event} == {
            str(tmp_path / "x/b"), str(tmp_path / "x/b/c"), str(tmp_path / "x/b/c/f")
        }  # fmt: skip
        (tmp_path / "x" / "b" / "c" / "new").touch()  # watched now
        os.rename(tmp_path / "x", tmp_path / "a")  # a/b excluded again
        more = drain(t)
        created = [e.path for e in more if e.create_event]
        assert created == [str(tmp_path / "x/b/c/new")]
        assert {e.path for e in more if e.delete_event} == {str(tmp_path / "a/b")}
        assert t.paths() == walk_minus(tmp_path, excluded)
        view, _, problems = replay(start, events + more)
        assert problems == []
        assert view == t.paths()


@pytest.mark.parametrize("seed", range(3))
def test_exclude_truth_after_random_burst(tmp_path, seed):
    """Random creates/renames/deletes where renamed directories (r*) and
    some files (*7) are excluded: paths() is the tree minus them."""
    rng = random.Random(seed)
    root = tmp_path / "root"
    root.mkdir()
    patterns = ["r*", "*7"]

    def excluded(path: str) -> bool:
        import fnmatch

        return any(fnmatch.fnmatchcase(os.path.basename(path), p) for p in patterns)

    before = open_fds()
    with InotifyTree(root, exclude=patterns) as t:
        _burst(str(root), rng, 400)
        drain(t, quiet=0.3)
        assert t.paths() == walk_minus(root, excluded)
        for _ in range(4):
            _burst(str(root), rng, 100)
            t.read_events()
        drain(t, quiet=0.3)
        assert t.paths() == walk_minus(root, excluded)
        assert set(t._dir_wd) == {str(root)} | {
            p for p in t.paths() if os.path.isdir(p) and not os.path.islink(p)
        }  # every directory kept is watched, nothing excluded is
    assert open_fds() == before


def test_exclude_overflow_rescan(tmp_path):
    with InotifyTree(tmp_path, exclude=EXCLUDE) as t:
        for k in range(20):
            if k == 10:
                flood(tmp_path, inotify_queue_limit())  # the queue overflows
            (tmp_path / f"d{k}").mkdir()
            (tmp_path / f"d{k}" / "f").touch()
            (tmp_path / f"d{k}" / "f.swp").touch()
            (tmp_path / f"d{k}" / ".git").mkdir()
        events = drain(t)
        assert any(e.overflow_event for e in events)
        assert t.paths() == walk_minus(tmp_path, by_pattern)
        assert not any(by_pattern(e.path) for e in events)


# -- progress: the whole-tree listings, reported ---------------------------------
def make_dirs(root, n: int) -> None:
    for k in range(n):
        (root / f"p{k % 10}" / f"q{k}").mkdir(parents=True, exist_ok=True)


def test_progress_initial_scan_and_watch(tmp_path):
    make_dirs(tmp_path / "one", 60)
    make_dirs(tmp_path / "two", 30)
    calls: list[int] = []
    with InotifyTree(tmp_path / "one", progress=calls.append) as t:
        total = 1 + 10 + 60
        assert calls[0] >= 1 and calls[-1] == total == len(t._dir_wd)
        assert calls == sorted(calls)
        assert len(calls) <= 3  # throttled: the first, maybe one more, the total
        calls.clear()
        t.watch(tmp_path / "two")
        assert calls[-1] == total + 1 + 10 + 30
        calls.clear()
        (tmp_path / "one" / "new").mkdir()  # an ordinary settle: no progress
        drain(t, quiet=0.1)
        assert calls == []


def test_progress_throttled(tmp_path):
    make_dirs(tmp_path, 40)
    stamps: list[float] = []
    import time

    def slow(n: int) -> None:
        stamps.append(time.monotonic())
        time.sleep(0.004)  # 51 directories: ~0.2 s if called for each one

    with InotifyTree(tmp_path, progress=slow):
        pass
    gaps = [b - a for a, b in zip(stamps[:-2], stamps[1:-1])]  # the last is the total
    assert all(g >= 0.099 for g in gaps)
    assert len(stamps) < 10


def test_progress_on_overflow_rescan(tmp_path):
    calls: list[int] = []
    with InotifyTree(tmp_path, progress=calls.append) as t:
        assert calls == [1]  # an empty root
        calls.clear()
        for k in range(20):
            if k == 10:
                flood(tmp_path, inotify_queue_limit())  # the queue overflows
            (tmp_path / f"d{k}").mkdir()
            (tmp_path / f"d{k}" / "f").touch()
        drain(t)
        assert calls and calls[-1] == 21 == len(t._dir_wd)


def test_progress_raising_stops_the_scan(tmp_path):
    make_dirs(tmp_path / "one", 20)
    make_dirs(tmp_path / "two", 20)

    class Stop(Exception):
        pass

    def stop(n: int) -> None:
        raise Stop

    before = open_fds()
    with pytest.raises(Stop):
        InotifyTree(tmp_path / "one", progress=stop)
    assert open_fds() == before  # the constructor closed the tree

    armed: list[bool] = []

    def once(n: int) -> None:
        if armed and armed.pop():
            raise Stop

    with InotifyTree(tmp_path / "one", progress=once) as t:
        armed.append(True)
        with pytest.raises(Stop):
            t.watch(tmp_path / "two")  # stops at its first directory
        assert not armed
        # As if watch() had not been called: only the first root, watched.
        assert t.roots == [str(tmp_path / "one")]
        assert t.paths() == walk_paths(tmp_path / "one")
        assert len(t._dir_wd) == 1 + 10 + 20
        (tmp_path / "two" / "p1" / "late").touch()
        (tmp_path / "one" / "p1" / "new").touch()
        assert {e.path for e in drain(t, quiet=0.1)} == {str(tmp_path / "one/p1/new")}
        t.watch(tmp_path / "two")  # again, to the end
        assert t.paths() == walk_paths(tmp_path / "one") | walk_paths(tmp_path / "two")
        assert len(t._dir_wd) == 2 * (1 + 10 + 20)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"exclude": 5}, TypeError, "exclude must be"),
        ({"exclude": [b".git"]}, TypeError, "exclude patterns must be str"),
        ({"exclude": b".git"}, TypeError, "exclude patterns must be str"),
        ({"exclude": ["src/*.o"]}, ValueError, "patterns match entry names"),
        ({"progress": 5}, TypeError, "progress must be callable"),
    ],
)
def test_bad_exclude_and_progress_before_any_fd(tmp_path, kwargs, error, match, no_fd):
    with pytest.raises(error, match=match):
        InotifyTree(tmp_path, **kwargs)


def test_tree_repr(tmp_path):
    (tmp_path / "a").mkdir()
    t = InotifyTree(tmp_path)
    assert repr(t) == f"<InotifyTree fd={t.fileno()} roots=[{str(tmp_path)!r}] dirs=2>"
    t.close()
    assert repr(t) == "<InotifyTree closed>"
