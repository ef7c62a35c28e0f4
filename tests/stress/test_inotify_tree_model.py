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

The sequences and checks live in ``tree_model.py`` (shared with the
FanotifyTree model); here are InotifyTree's own invariants.  A failure
prints the seed and the operations.  ``BUTTER_STRESS_SEQUENCES`` scales the
number of sequences (default: a few seconds' worth).
"""

from __future__ import annotations

import os
import random
from typing import Dict, List

from conftest import flood, inotify_queue_limit, open_fds
from test_inotify_tree import replay

from butter.inotify import IN_CREATE, IN_ISDIR, InotifyTree, PathEvent

from .tree_model import (
    Backend,
    Mutator,
    check_creation_order,
    run_many,
    sequences,
)

SCALE = sequences(0)
SEQUENCES = SCALE or 96  # single-threaded sequences in the default run
THREADED = max(1, SCALE // 4) if SCALE else 16


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


BACKEND = Backend(
    name="inotify",
    make=InotifyTree,
    flood=flood,
    queue_limit=inotify_queue_limit,
    bookkeeping=check_bookkeeping,
    whole_filesystem=False,  # a watch per directory, added after its creation is read
)


def test_model_sequential(tmp_path):
    before = open_fds()
    failures = run_many(BACKEND, str(tmp_path), range(SEQUENCES))
    assert not failures, f"{len(failures)} of {SEQUENCES} sequences failed:\n" + failures[0]
    assert open_fds() == before


def test_model_threaded(tmp_path):
    before = open_fds()
    failures = run_many(BACKEND, str(tmp_path), range(10_000, 10_000 + THREADED), threaded=True)
    assert not failures, f"{len(failures)} of {THREADED} sequences failed:\n" + failures[0]
    assert open_fds() == before


def test_replay_catches_a_duplicate():
    """The replay check itself: a creation reported twice is caught."""
    ev = PathEvent("/r/a", IN_CREATE | IN_ISDIR, None)
    assert replay(set(), [ev, ev])[2] == ["event 1: created twice /r/a"]


def test_creation_order_check_catches_listing(tmp_path):
    """The creation order check (the FanotifyTree model's) catches
    InotifyTree finding what was created in a new directory before its
    watch landed by listing it, out of the order it was made in."""
    root, outside = tmp_path / "root", tmp_path / "out"
    root.mkdir()
    outside.mkdir()
    mutator = Mutator(str(root), str(outside), random.Random(0))
    events: List[PathEvent] = []
    with InotifyTree(str(root)) as tree:
        mutator.mkdir(str(root / "d"))
        mutator.mkdir(str(root / "d" / "e"))
        mutator.write(str(root / "f"))
        mutator.write(str(root / "d" / "e" / "g"))
        while (ev := tree.wait(0.1)) is not None:
            events.append(ev)
    problems = check_creation_order(events, mutator)
    # all four reported, once each, but not in the order they were made
    assert problems and "4 made, 4 reported" in problems[0], (problems, events)
