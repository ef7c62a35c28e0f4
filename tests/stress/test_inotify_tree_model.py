"""Model check: InotifyTree against the real tree, under random mutations.

SPEC "Recursive watching, whole filesystems": ``InotifyTree`` keeps
``paths()`` equal to the real tree under any sequence of mkdir / rename /
rmtree / unlink / writes done while it runs, and keeps reporting events in
every directory that exists.

Each sequence is drawn from ``random.Random(seed)``: nested mkdirs, renames
(of parents right after creating children, into other subtrees, over an
existing empty directory, swaps), moves out of the tree and back in,
rmtree, unlink, writes, with reads interleaved at random points (or, in the
threaded variant, a second thread mutating while this one reads with
``wait(timeout)``).  Then the events are drained and checked:

* ``paths()`` equals ``os.walk`` (roots excluded);
* the bookkeeping is sound: every known directory has a watch, on the
  inode now at its path (from ``/proc/self/fdinfo``), no watch is leaked,
  nothing is left to settle;
* the events, replayed in order onto the first ``paths()``, give the last
  one (each creation and deletion reported once; a directory moved in from
  outside is listed without events, so its contents are not compared);
* a file created in every real directory is reported by an ``IN_CREATE``
  with its path.

A failure prints the seed and the operations.  ``BUTTER_STRESS_SEQUENCES``
scales the number of sequences (default: a few seconds' worth).
"""

from __future__ import annotations

import os
import random
import shutil
import threading
import time
from typing import Dict, List, Optional, Set, Tuple

from conftest import flood, inotify_queue_limit, open_fds
from test_inotify_tree import replay, under, walk_paths

from butter.inotify import (
    IN_CREATE,
    IN_ISDIR,
    InotifyTree,
    PathEvent,
)

SCALE = int(os.environ.get("BUTTER_STRESS_SEQUENCES", "0") or 0)
SEQUENCES = SCALE or 96  # single-threaded sequences in the default run
THREADED = max(1, SCALE // 4) if SCALE else 16
STEPS = 40  # operations per sequence
MAX_ENTRIES = 60  # keep trees small: cheap on PyPy, dense in races


# -- the filesystem side ----------------------------------------------------
class Mutator:
    """Random operations on *root* (and *outside*, a sibling not watched).

    Every choice is made from sorted listings of the real tree, so a
    sequence depends only on the seed.  ``log`` holds what was done, with
    paths relative to the parent of *root*.
    """

    def __init__(self, root: str, outside: str, rng: random.Random) -> None:
        self.root = root
        self.outside = outside
        self.top = os.path.dirname(root)
        self.rng = rng
        self.log: List[str] = []
        self.n = 0

    # listings
    def _walk(self, top: str) -> Tuple[List[str], List[str]]:
        dirs, files = [top], []
        for d, subdirs, names in os.walk(top):  # (symlinks to directories are not walked)
            for name in subdirs + names:
                path = os.path.join(d, name)
                (dirs if name in subdirs and not os.path.islink(path) else files).append(path)
        return sorted(dirs), sorted(files)

    def fresh(self, parent: str, kind: str = "d") -> str:
        self.n += 1
        return os.path.join(parent, f"{kind}{self.n}")

    def rel(self, path: str) -> str:
        return os.path.relpath(path, self.top)

    def note(self, *words: str) -> None:
        self.log.append(" ".join(words))

    # primitives, logged
    def mkdir(self, path: str) -> None:
        os.mkdir(path)
        self.note("mkdir", self.rel(path))

    def write(self, path: str) -> None:
        with open(path, "w") as f:
            f.write("x")
        self.note("write", self.rel(path))

    def rename(self, src: str, dst: str) -> None:
        os.rename(src, dst)
        self.note("rename", self.rel(src), self.rel(dst))

    def rmtree(self, path: str) -> None:
        shutil.rmtree(path)
        self.note("rmtree", self.rel(path))

    def flood(self, n: int) -> None:
        """Fill the kernel queue past its limit (n events in a random
        directory), so the events of the next steps are lost to an overflow."""
        where = self.rng.choice(self._walk(self.root)[0])
        flood(where, n)
        self.note("flood", self.rel(where), str(n))

    def unlink(self, path: str) -> None:
        os.unlink(path)
        self.note("unlink", self.rel(path))

    # operations
    def step(self) -> None:
        dirs, files = self._walk(self.root)
        subdirs = dirs[1:]
        rng = self.rng
        big = len(dirs) + len(files) > MAX_ENTRIES
        ops = [
            ("mkdir", 0 if big else 20),
            ("write", 0 if big else 14),
            ("rename_dir", 12 if subdirs else 0),
            ("child_then_move_parent", 0 if big else 10),
            ("rmtree", (20 if big else 6) if subdirs else 0),
            ("unlink", 6 if files else 0),
            ("rename_file", 5 if files else 0),
            ("move_out", 5 if subdirs or files else 0),
            ("move_in", 0 if big else 5),
            ("replace_dir", 4 if subdirs else 0),
            ("swap", 4 if len(subdirs) > 1 else 0),
            ("symlink", 0 if big else 2),
        ]
        names, weights = zip(*ops)
        op = rng.choices(names, weights)[0]
        getattr(self, "op_" + op)(dirs, subdirs, files)

    def _dirs_outside_of(self, dirs: List[str], src: str) -> List[str]:
        return [d for d in dirs if d != src and not d.startswith(src + os.sep)]

    def op_mkdir(self, dirs: List[str], subdirs: List[str], files: List[str]) -> None:
        d = self.fresh(self.rng.choice(dirs))
        self.mkdir(d)
        for _ in range(self.rng.choice((0, 0, 1, 2))):  # nested
            d = self.fresh(d)
            self.mkdir(d)

    def op_write(self, dirs: List[str], subdirs: List[str], files: List[str]) -> None:
        regular = [f for f in files if not os.path.islink(f)]
        if regular and self.rng.random() < 0.3:
            self.write(self.rng.choice(regular))
        else:
            self.write(self.fresh(self.rng.choice(dirs), "f"))

    def op_rename_dir(self, dirs: List[str], subdirs: List[str], files: List[str]) -> None:
        rng = self.rng
        src = rng.choice(subdirs)
        targets = self._dirs_outside_of(dirs, src)
        empty = [
            d
            for d in targets
            if d != self.root
            and not os.listdir(d)
            and not src.startswith(d + os.sep)
            and os.path.dirname(src) != d
        ]
        if empty and rng.random() < 0.25:
            self.rename(src, rng.choice(empty))  # over an existing empty directory
        else:
            self.rename(src, self.fresh(rng.choice(targets), "r"))

    def op_child_then_move_parent(
        self, dirs: List[str], subdirs: List[str], files: List[str]
    ) -> None:
        rng = self.rng
        if subdirs and rng.random() < 0.6:
            parent = rng.choice(subdirs)
        else:
            parent = self.fresh(rng.choice(dirs))
            self.mkdir(parent)
        child = self.fresh(parent)
        self.mkdir(child)
        dirs, _ = self._walk(self.root)
        dst = self.fresh(rng.choice(self._dirs_outside_of(dirs, parent)), "r")
        self.rename(parent, dst)
        moved_child = dst + child[len(parent) :]
        what = rng.random()
        if what < 0.4:
            self.mkdir(self.fresh(moved_child))
        elif what < 0.7:
            self.write(self.fresh(moved_child, "f"))
        elif what < 0.85:  # and a new directory where the parent was
            self.mkdir(parent)
            self.mkdir(child)

    def op_rmtree(self, dirs: List[str], subdirs: List[str], files: List[str]) -> None:
        self.rmtree(self.rng.choice(subdirs))

    def op_unlink(self, dirs: List[str], subdirs: List[str], files: List[str]) -> None:
        self.unlink(self.rng.choice(files))

    def op_rename_file(self, dirs: List[str], subdirs: List[str], files: List[str]) -> None:
        rng = self.rng
        src = rng.choice(files)
        if len(files) > 1 and rng.random() < 0.3:
            self.rename(src, rng.choice([f for f in files if f != src]))  # replaces it
        else:
            self.rename(src, self.fresh(rng.choice(dirs), "m"))

    def op_move_out(self, dirs: List[str], subdirs: List[str], files: List[str]) -> None:
        src = self.rng.choice(subdirs + files)
        self.rename(src, self.fresh(self.outside, "o"))

    def op_move_in(self, dirs: List[str], subdirs: List[str], files: List[str]) -> None:
        rng = self.rng
        out_dirs, out_files = self._walk(self.outside)
        candidates = out_dirs[1:] + out_files
        if not candidates or rng.random() < 0.3:
            d = self.fresh(self.outside)
            self.mkdir(d)
            self.mkdir(self.fresh(d))
            self.write(self.fresh(d, "f"))
            candidates = [d]
        self.rename(rng.choice(candidates), self.fresh(rng.choice(dirs), "i"))

    def op_replace_dir(self, dirs: List[str], subdirs: List[str], files: List[str]) -> None:
        d = self.rng.choice(subdirs)
        self.rmtree(d)
        self.mkdir(d)
        if self.rng.random() < 0.5:
            self.mkdir(self.fresh(d))

    def op_symlink(self, dirs: List[str], subdirs: List[str], files: List[str]) -> None:
        link = self.fresh(self.rng.choice(dirs), "l")
        target = self.rng.choice(dirs)
        os.symlink(target, link)  # a file to the watcher, as to os.walk
        self.note("symlink", self.rel(target), self.rel(link))

    def op_swap(self, dirs: List[str], subdirs: List[str], files: List[str]) -> None:
        rng = self.rng
        a = rng.choice(subdirs)
        others = [
            d
            for d in subdirs
            if d != a and not d.startswith(a + os.sep) and not a.startswith(d + os.sep)
        ]
        if not others:
            return
        b = rng.choice(others)
        tmp = self.fresh(self.root, "t")
        self.rename(a, tmp)
        self.rename(b, a)
        self.rename(tmp, b)


# -- the watcher side -----------------------------------------------------------
def read_ready(tree: InotifyTree, events: List[PathEvent]) -> None:
    """Every event ready now (each read is settled before the next)."""
    while True:
        ev = tree.wait(0)
        if ev is None:
            return
        events.append(ev)


def watched_inodes(tree: InotifyTree) -> Dict[int, int]:
    """wd -> inode number of every watch the kernel holds for the tree."""
    found = {}
    with open(f"/proc/self/fdinfo/{tree.fileno()}") as f:
        for line in f:
            if line.startswith("inotify "):
                fields = dict(kv.split(":", 1) for kv in line.split()[1:])
                found[int(fields["wd"], 16)] = int(fields["ino"], 16)
    return found


def check_bookkeeping(tree: InotifyTree) -> List[str]:
    """The invariants of butter/inotify/_tree.py, once everything is read."""
    problems = []
    entries, dir_wd, wd_dir = tree._entries, tree._dir_wd, tree._wd_dir
    if tree._pending:
        problems.append(f"left to settle: {sorted(tree._pending)}")
    if {wd_dir[wd]: wd for wd in wd_dir} != dir_wd:
        problems.append("_wd_dir and _dir_wd are not inverse maps")
    kernel = watched_inodes(tree)
    if set(kernel) != set(wd_dir):
        problems.append(f"watches held {sorted(kernel)} != mapped {sorted(wd_dir)}")
    for d in entries:
        if d not in tree._roots:
            parent, name = os.path.split(d)
            if entries.get(parent, {}).get(name) is not True:
                problems.append(f"{d} known but not in its parent")
        wd = dir_wd.get(d)
        if wd is None:
            problems.append(f"{d} has no watch")
        elif not os.path.isdir(d):
            problems.append(f"{d} is not a directory")
        elif wd in kernel and kernel[wd] != os.stat(d, follow_symlinks=False).st_ino:
            problems.append(f"{d}: its watch {wd} is on another inode")
    return problems


def probe_every_directory(tree: InotifyTree, root: str) -> List[str]:
    """Create a file in every real directory: each must be reported."""
    wanted = set()
    for d, _, _ in os.walk(root):
        p = os.path.join(d, "probe")
        while os.path.lexists(p):
            p += "_"
        with open(p, "w"):
            pass
        wanted.add(p)
    seen = set()
    deadline = time.monotonic() + 5
    while wanted - seen and time.monotonic() < deadline:
        ev = tree.wait(0.2)
        if ev is not None and ev.mask & IN_CREATE:
            seen.add(ev.path)
    return sorted(wanted - seen)


def check(tree: InotifyTree, root: str, start: Set[str], events: List[PathEvent]) -> List[str]:
    problems = []
    believed, real = tree.paths(), walk_paths(root)
    if believed != real:
        problems.append(f"missing {sorted(real - believed)}")
        problems.append(f"extra {sorted(believed - real)}")
    problems += check_bookkeeping(tree)
    view, opaque, bad = replay(start, events)
    problems += bad
    view = {p for p in view if not under(os.path.dirname(p), opaque)}
    last = {p for p in believed if not under(os.path.dirname(p), opaque)}
    if view != last:
        problems.append(
            f"replayed events lack {sorted(last - view)}, have extra {sorted(view - last)}"
        )
    if not problems:
        missed = probe_every_directory(tree, root)
        if missed:
            problems.append(f"no IN_CREATE for {missed}")
    return problems


def report(seed: int, mutator: Mutator, problems: List[str], variant: str) -> str:
    ops = "\n  ".join(mutator.log)
    return (
        f"{variant} seed {seed}: "
        + "; ".join(problems)
        + f"\noperations ({len(mutator.log)}):\n  {ops}"
    )


def setup(tmp: str, seed: int) -> Tuple[str, str, Mutator]:
    base = os.path.join(tmp, f"s{seed}")
    root = os.path.join(base, "root")
    outside = os.path.join(base, "out")
    os.makedirs(root)
    os.makedirs(outside)
    mutator = Mutator(root, outside, random.Random(seed))
    for _ in range(mutator.rng.randrange(4)):  # sometimes a tree to start with
        mutator.op_mkdir([root], [], [])
    mutator.log.append("-- watching")
    return base, root, mutator


def run_sequence(
    tmp: str, seed: int, steps: int = STEPS, flood_at: Optional[int] = None
) -> Optional[str]:
    """One single-threaded sequence; the failure message, or None.
    *flood_at*: the step before which the kernel queue is made to overflow."""
    base, root, mutator = setup(tmp, seed)
    rng = mutator.rng
    read_chance = rng.choice((0.0, 0.1, 0.3, 0.6, 1.0))
    events: List[PathEvent] = []
    with InotifyTree(root) as tree:
        start = tree.paths()
        for k in range(steps):
            if k == flood_at:
                mutator.flood(inotify_queue_limit() + 1)
            mutator.step()
            if rng.random() < read_chance:
                mutator.note("-- read")
                read_ready(tree, events)
        read_ready(tree, events)
        problems = check(tree, root, start, events)
    shutil.rmtree(base)
    return report(seed, mutator, problems, "sequential") if problems else None


def flood_for(seed: int, steps: int = STEPS) -> Optional[int]:
    """Every fourth sequence overflows the kernel queue, at a step that
    depends on the seed (the sysctl is global: the queue is filled, never
    shrunk)."""
    return seed * 7 % steps if seed % 4 == 3 else None


def run_threaded(
    tmp: str, seed: int, steps: int = STEPS * 2, flood_at: Optional[int] = None
) -> Optional[str]:
    """A second thread mutates while this one reads with wait(timeout)."""
    base, root, mutator = setup(tmp, seed)
    events: List[PathEvent] = []
    errors: List[BaseException] = []
    with InotifyTree(root) as tree:
        start = tree.paths()
        done = threading.Event()

        def mutate() -> None:
            try:
                for k in range(steps):
                    if k == flood_at:  # twice the queue: the reader runs alongside
                        mutator.flood(2 * inotify_queue_limit())
                    mutator.step()
                    if mutator.rng.random() < 0.2:
                        time.sleep(0.0005)
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)
            finally:
                done.set()

        thread = threading.Thread(target=mutate)
        thread.start()
        while not done.is_set():
            ev = tree.wait(0.001)
            if ev is not None:
                events.append(ev)
        thread.join(30)
        assert not errors, errors
        read_ready(tree, events)
        problems = check(tree, root, start, events)
    shutil.rmtree(base)
    return report(seed, mutator, problems, "threaded") if problems else None


def test_model_sequential(tmp_path):
    before = open_fds()
    failures = [
        f
        for seed in range(SEQUENCES)
        if (f := run_sequence(str(tmp_path), seed, flood_at=flood_for(seed)))
    ]
    assert not failures, f"{len(failures)} of {SEQUENCES} sequences failed:\n" + failures[0]
    assert open_fds() == before


def test_model_threaded(tmp_path):
    before = open_fds()
    seeds = range(10_000, 10_000 + THREADED)
    failures = [
        f
        for seed in seeds
        if (f := run_threaded(str(tmp_path), seed, flood_at=flood_for(seed, STEPS * 2)))
    ]
    assert not failures, f"{len(failures)} of {THREADED} sequences failed:\n" + failures[0]
    assert open_fds() == before


def test_replay_catches_a_duplicate():
    """The replay check itself: a creation reported twice is caught."""
    ev = PathEvent("/r/a", IN_CREATE | IN_ISDIR, None)
    assert replay(set(), [ev, ev])[2] == ["event 1: created twice /r/a"]
