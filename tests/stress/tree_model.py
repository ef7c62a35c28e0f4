"""The tree model check, shared by the recursive watchers' stress tests.

SPEC "Recursive watching, whole filesystems": ``InotifyTree`` and
``FanotifyTree`` keep ``paths()`` equal to the real tree under any sequence
of mkdir / rename / rmtree / unlink / writes done while they run, and keep
reporting events in every directory that exists.

Each sequence is drawn from ``random.Random(seed)``: nested mkdirs, renames
(of parents right after creating children, into other subtrees, over an
existing empty directory, swaps), moves out of the tree and back in,
rmtree, unlink, writes, symlinks, with reads interleaved at random points
(or, in the threaded variant, a second thread mutating while this one reads
with ``wait(timeout)``); every fourth sequence overflows the kernel queue
once.  Then the events are drained and checked:

* ``paths()`` equals ``os.walk`` (roots excluded);
* the watcher's own bookkeeping is sound (:attr:`Backend.bookkeeping`);
* the events, replayed in order onto the first ``paths()``, give the last
  one (each creation and deletion reported once; a directory moved in from
  outside is listed without events, so its contents are not compared);
* for a watcher with one mark over the whole filesystem
  (:attr:`Backend.whole_filesystem`, fanotify): the creations reported are
  exactly the creations made, in the order they were made, at the path
  they had then: nothing found by listing a new directory afterwards; and
  a sequence that flooded the queue (with no read meanwhile) saw exactly
  one overflow event;
* a file created in every real directory is reported by an ``IN_CREATE``
  with its path.

A failure reports the seed and the operations.
"""

from __future__ import annotations

import os
import random
import shutil
import threading
import time
import traceback
from typing import Any, Callable, List, NamedTuple, Optional, Set, Tuple

from conftest import flood
from test_inotify_tree import replay, under, walk_paths

from butter.inotify import IN_CREATE, PathEvent

STEPS = 40  # operations per sequence
MAX_ENTRIES = 60  # keep trees small: cheap on PyPy, dense in races


def sequences(default: int) -> int:
    """``BUTTER_STRESS_SEQUENCES`` if set, else *default*."""
    return int(os.environ.get("BUTTER_STRESS_SEQUENCES", "0") or 0) or default


class Creation(NamedTuple):
    path: str  # at the time it was made
    listed: bool  # inside a directory moved in from outside (listed, not reported)


class Opaque:
    """The directories moved in from outside the tree, whose contents a
    watcher lists instead of reporting: the same rules as ``replay``'s, kept
    from the operations (by the Mutator) or from the events."""

    def __init__(self) -> None:
        self.tops: Set[str] = set()

    def covers(self, path: str) -> bool:
        return under(path, self.tops)

    def remove(self, path: str) -> None:
        self.tops = {t for t in self.tops if t != path and not t.startswith(path + os.sep)}

    def rename(self, src: str, dst: str) -> None:
        moved = {dst + t[len(src) :] for t in self.tops if t == src or t.startswith(src + os.sep)}
        if self.covers(src):  # from inside a listed directory: listed too
            moved.add(dst)
        self.remove(src)
        self.remove(dst)
        self.tops |= moved

    def moved_in(self, dst: str, is_dir: bool) -> None:
        self.remove(dst)
        if is_dir:
            self.tops.add(dst)


# -- the filesystem side ----------------------------------------------------
class Mutator:
    """Random operations on *root* (and *outside*, a sibling not watched).

    Every choice is made from sorted listings of the real tree, so a
    sequence depends only on the seed.  ``log`` holds what was done, with
    paths relative to the parent of *root*.
    """

    def __init__(
        self,
        root: str,
        outside: str,
        rng: random.Random,
        flooder: Callable[[str, int], None] = flood,
    ) -> None:
        self.root = root
        self.outside = outside
        self.top = os.path.dirname(root)
        self.rng = rng
        self.flooder = flooder
        self.log: List[str] = []
        self.n = 0
        self.created: List[Creation] = []  # under root, in order
        self.opaque = Opaque()

    def start_watching(self) -> None:
        self.created.clear()  # before the watch: in the first paths()
        self.log.append("-- watching")

    def read_point(self) -> None:
        self.note("-- read")

    def inside(self, path: str) -> bool:
        return path.startswith(self.root + os.sep)

    def created_now(self, path: str) -> None:
        if self.inside(path):
            self.created.append(Creation(path, self.opaque.covers(path)))

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
        self.created_now(path)

    def write(self, path: str) -> None:
        new = not os.path.lexists(path)
        with open(path, "w") as f:
            f.write("x")
        self.note("write", self.rel(path))
        if new:
            self.created_now(path)

    def symlink(self, target: str, link: str) -> None:
        os.symlink(target, link)  # a file to the watcher, as to os.walk
        self.note("symlink", self.rel(target), self.rel(link))
        self.created_now(link)

    def rename(self, src: str, dst: str) -> None:
        is_dir = os.path.isdir(src) and not os.path.islink(src)
        os.rename(src, dst)
        self.note("rename", self.rel(src), self.rel(dst))
        if self.inside(src) and self.inside(dst):
            self.opaque.rename(src, dst)
        elif self.inside(src):
            self.opaque.remove(src)
        elif self.inside(dst):
            self.opaque.moved_in(dst, is_dir)

    def rmtree(self, path: str) -> None:
        shutil.rmtree(path)
        self.note("rmtree", self.rel(path))
        self.opaque.remove(path)

    def flood(self, n: int) -> None:
        """Fill the kernel queue past its limit (n events in a random
        directory), so the events of the next steps are lost to an overflow."""
        where = self.rng.choice(self._walk(self.root)[0])
        self.flooder(where, n)
        self.note("flood", self.rel(where), str(n))

    def unlink(self, path: str) -> None:
        os.unlink(path)
        self.note("unlink", self.rel(path))
        self.opaque.remove(path)

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
        self.symlink(target, link)

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
class Backend(NamedTuple):
    """What differs between the watchers under test."""

    name: str
    make: Callable[[str], Any]  # the tree watching a root
    flood: Callable[[str, int], None]  # n unmergeable events in a directory
    queue_limit: Callable[[], int]  # events the kernel queue holds
    bookkeeping: Callable[[Any], List[str]]  # the watcher's own invariants
    # one mark reports every directory: creations come from the kernel, in
    # order, none found by listing; a flood anywhere overflows the queue
    whole_filesystem: bool


def read_ready(tree: Any, events: List[PathEvent]) -> None:
    """Every event ready now (each read is settled before the next)."""
    while True:
        ev = tree.wait(0)
        if ev is None:
            return
        events.append(ev)


def probe_every_directory(tree: Any, root: str) -> List[str]:
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


def reported_creations(events: List[PathEvent]) -> List[str]:
    """The paths of the creation events outside directories moved in from
    outside, in order (up to an overflow)."""
    opaque = Opaque()
    paths = []
    for ev in events:
        if ev.overflow_event:
            break
        if ev.rename_event:
            assert ev.src_path is not None
            opaque.rename(ev.src_path, ev.path)
        elif ev.moved_from_event or ev.delete_event:
            opaque.remove(ev.path)
        elif ev.moved_to_event:
            opaque.moved_in(ev.path, ev.is_dir_event)
        elif ev.create_event and not opaque.covers(ev.path):
            paths.append(ev.path)
    return paths


def check_creation_order(events: List[PathEvent], mutator: Mutator) -> List[str]:
    """The creations reported are the creations made, in the order made,
    each once, at the path it had when it was made: none found by listing a
    new directory after the fact, none lost (inside directories moved in
    from outside, which are listed, excepted)."""
    made = [c.path for c in mutator.created if not c.listed]
    got = reported_creations(events)
    if got == made:
        return []
    k = next((i for i, (a, b) in enumerate(zip(made, got)) if a != b), min(len(made), len(got)))
    return [
        f"creations reported not as made: from #{k}, made {made[k : k + 3]}, "
        f"reported {got[k : k + 3]} ({len(made)} made, {len(got)} reported)"
    ]


def check(
    backend: Backend,
    tree: Any,
    root: str,
    start: Set[str],
    events: List[PathEvent],
    mutator: Mutator,
    flooded: bool,
    must_overflow: bool,
) -> List[str]:
    """Everything wrong with the state after a sequence.  *flooded*: the
    queue was flooded; *must_overflow*: with no read in the meantime (a
    directory whose inotify watch is not yet placed floods nothing)."""
    problems = []
    believed, real = tree.paths(), walk_paths(root)
    if believed != real:
        problems.append(f"missing {sorted(real - believed)}")
        problems.append(f"extra {sorted(believed - real)}")
    problems += backend.bookkeeping(tree)
    view, opaque, bad = replay(start, events)
    problems += bad
    view = {p for p in view if not under(os.path.dirname(p), opaque)}
    last = {p for p in believed if not under(os.path.dirname(p), opaque)}
    if view != last:
        problems.append(
            f"replayed events lack {sorted(last - view)}, have extra {sorted(view - last)}"
        )
    overflows = sum(1 for ev in events if ev.overflow_event)
    if must_overflow and backend.whole_filesystem and overflows != 1:
        problems.append(f"the queue was flooded once: {overflows} overflow events")
    if not flooded and overflows:
        problems.append(f"{overflows} overflow events without a flood")
    if backend.whole_filesystem and not flooded:
        problems += check_creation_order(events, mutator)
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


def setup(backend: Backend, tmp: str, seed: int) -> Tuple[str, str, Mutator]:
    base = os.path.join(tmp, f"s{seed}")
    root = os.path.join(base, "root")
    outside = os.path.join(base, "out")
    os.makedirs(root)
    os.makedirs(outside)
    mutator = Mutator(root, outside, random.Random(seed), backend.flood)
    for _ in range(mutator.rng.randrange(4)):  # sometimes a tree to start with
        mutator.op_mkdir([root], [], [])
    mutator.start_watching()
    return base, root, mutator


def flood_for(seed: int, steps: int = STEPS) -> Optional[int]:
    """Every fourth sequence overflows the kernel queue, at a step that
    depends on the seed (the sysctl is global: the queue is filled, never
    shrunk)."""
    return seed * 7 % steps if seed % 4 == 3 else None


def raised(exc: BaseException) -> List[str]:
    """A problem saying what the watcher raised, and where."""
    tb = traceback.format_exception(type(exc), exc, exc.__traceback__)
    return ["raised " + "".join(tb[-4:]).strip()]


def run_sequence(
    backend: Backend,
    tmp: str,
    seed: int,
    steps: int = STEPS,
    flood_at: Optional[int] = None,
) -> Optional[str]:
    """One single-threaded sequence; the failure message, or None.
    *flood_at*: the step before which the kernel queue is made to overflow."""
    base, root, mutator = setup(backend, tmp, seed)
    rng = mutator.rng
    read_chance = rng.choice((0.0, 0.1, 0.3, 0.6, 1.0))
    events: List[PathEvent] = []
    try:
        with backend.make(root) as tree:
            start = tree.paths()
            for k in range(steps):
                if k == flood_at:
                    mutator.flood(backend.queue_limit() + 1)
                mutator.step()
                if rng.random() < read_chance:
                    mutator.read_point()
                    read_ready(tree, events)
            read_ready(tree, events)
            flooded = flood_at is not None
            problems = check(backend, tree, root, start, events, mutator, flooded, flooded)
    except Exception as exc:
        problems = raised(exc)
    shutil.rmtree(base)
    return report(seed, mutator, problems, f"{backend.name} sequential") if problems else None


def run_threaded(
    backend: Backend,
    tmp: str,
    seed: int,
    steps: int = STEPS * 2,
    flood_at: Optional[int] = None,
) -> Optional[str]:
    """A second thread mutates while this one reads with wait(timeout)."""
    base, root, mutator = setup(backend, tmp, seed)
    events: List[PathEvent] = []
    errors: List[BaseException] = []
    done = threading.Event()

    def mutate() -> None:
        try:
            for k in range(steps):
                if k == flood_at:  # twice the queue: the reader runs alongside
                    mutator.flood(2 * backend.queue_limit())
                mutator.step()
                if mutator.rng.random() < 0.2:
                    time.sleep(0.0005)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            done.set()

    try:
        with backend.make(root) as tree:
            start = tree.paths()
            thread = threading.Thread(target=mutate)
            thread.start()
            try:
                while not done.is_set():
                    ev = tree.wait(0.001)
                    if ev is not None:
                        events.append(ev)
            finally:
                thread.join(30)
            assert not errors, errors
            read_ready(tree, events)
            # the reader runs alongside the flood: it may keep up, or not
            flooded = flood_at is not None
            problems = check(backend, tree, root, start, events, mutator, flooded, False)
    except Exception as exc:
        problems = raised(exc)
    shutil.rmtree(base)
    return report(seed, mutator, problems, f"{backend.name} threaded") if problems else None


def run_many(backend: Backend, tmp: str, seeds: range, threaded: bool = False) -> List[str]:
    """The failure reports of the sequences of *seeds*."""
    failures = []
    for seed in seeds:
        if threaded:
            problem = run_threaded(backend, tmp, seed, flood_at=flood_for(seed, STEPS * 2))
        else:
            problem = run_sequence(backend, tmp, seed, flood_at=flood_for(seed))
        if problem:
            failures.append(problem)
    return failures
