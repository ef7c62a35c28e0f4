"""Model check: FanotifyTree against the real tree, under random mutations.

The sequences and checks of ``tree_model.py`` (the ones InotifyTree passes,
see test_inotify_tree_model.py), run on a fresh tmpfs and a fresh
loop-mounted ext4 in private mount namespaces (``fsenv``): the
``FAN_MARK_FILESYSTEM`` mark then covers a filesystem only the test uses,
never the host's.  On top of InotifyTree's checks, since one mark reports
every directory from its creation on:

* the creations reported are exactly those made, in the order made, at
  the path each had then: nothing created in a brand-new directory is
  found by listing it afterwards (no "files created before the watch
  landed" rescan), nothing is reported twice;
* a sequence that floods the kernel queue (16384 events unless
  ``unlimited_queue``; renames to new names, which the kernel cannot merge)
  sees exactly one ``IN_Q_OVERFLOW``, and the rescan that follows leaves
  ``paths()`` right;
* FanotifyTree's bookkeeping: a directory node for every real directory
  below the roots and no other, each under its parent by its name, keyed
  by the file handle the kernel gives for its path now.

``BUTTER_STRESS_SEQUENCES`` sets the number of single-threaded sequences
per filesystem (a quarter of it threaded); the default keeps each
filesystem's run well under a minute on CPython.
"""

from __future__ import annotations

import os
from typing import Any, List, Tuple

from conftest import needs_fanotify, open_fds
from fsenv import each_fs, in_fs

from butter.fanotify import FanotifyTree
from butter.fanotify._core import name_to_handle_at
from butter.fanotify._tree import _fsid_bytes, _key

from .tree_model import Backend, run_many, sequences

SCALE = sequences(0)
SEQUENCES = SCALE or 64  # single-threaded sequences per filesystem in the default run
THREADED = max(1, SCALE // 4) if SCALE else 12

pytestmark = needs_fanotify


def fanotify_queue_limit() -> int:
    """fs.fanotify.max_queued_events (read, never written: the sysctl is
    global), the queue of a group made without FAN_UNLIMITED_QUEUE."""
    try:
        with open("/proc/sys/fs/fanotify/max_queued_events") as f:
            return int(f.read())
    except FileNotFoundError:  # before 5.13: the compiled-in default
        return 16384


def rename_flood(directory: str, n: int) -> None:
    """*n* renames of one file, each to a new name: *n* ``FAN_RENAME``
    events the kernel cannot merge (their names differ), then the file is
    removed."""
    names = [os.path.join(directory, f".flood-{i}") for i in range(n + 1)]
    with open(names[0], "w"):
        pass
    rename = os.rename
    for a, b in zip(names, names[1:]):
        rename(a, b)
    os.unlink(names[-1])


def key_of(path: str) -> bytes:
    """The node key FanotifyTree should hold for directory *path*."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        _, htype, handle = name_to_handle_at(fd, "", 0x1000)  # AT_EMPTY_PATH
        return _key(_fsid_bytes(fd), htype, handle)
    finally:
        os.close(fd)


def check_bookkeeping(tree: Any) -> List[str]:
    """The invariants of butter/fanotify/_tree.py, once everything is read."""
    problems = []
    nodes = tree._nodes
    if tree._pending:
        problems.append(f"left to list: {len(tree._pending)} directories")
    real = set(tree.roots)
    for root in tree.roots:
        for d, subdirs, _ in os.walk(root):
            real.update(
                os.path.join(d, s) for s in subdirs if not os.path.islink(os.path.join(d, s))
            )
    known = {}
    for key, node in nodes.items():
        path = tree._path(key)
        if path is None:
            problems.append(f"a node not below a root: {node.name!r}")
            continue
        known[path] = key
        if node.root is None:
            parent = nodes.get(node.parent)
            if parent is None or parent.entries.get(node.name) != key:
                problems.append(f"{path} is not in its parent's entries")
        for name, child in node.entries.items():
            if child is not None and child not in nodes:
                problems.append(f"{os.path.join(path, name)}: an entry without a node")
    if set(known) != real:
        problems.append(
            f"directory nodes lack {sorted(real - set(known))}, "
            f"have extra {sorted(set(known) - real)}"
        )
    for path in sorted(real & set(known)):
        if key_of(path) != known[path]:
            problems.append(f"{path}: its node has another directory's handle")
    return problems


BACKEND = Backend(
    name="fanotify",
    make=FanotifyTree,
    flood=rename_flood,
    queue_limit=fanotify_queue_limit,
    bookkeeping=check_bookkeeping,
    whole_filesystem=True,
)


def run_in_fs(mountpoint: str, first: int, count: int, threaded: bool) -> Tuple[List[str], int]:
    """In the child: the sequences, their failures, and the fds left open."""
    before = open_fds()
    failures = run_many(BACKEND, mountpoint, range(first, first + count), threaded)
    return failures, len(open_fds() - before)


def run(fs: str, first: int, count: int, threaded: bool) -> None:
    failures, leaked = in_fs(
        fs, run_in_fs, first, count, threaded, timeout=120 + 3 * count, size_mb=512
    )
    assert not failures, f"{len(failures)} of {count} sequences failed:\n" + failures[0]
    assert leaked == 0, f"{leaked} fds left open"


@each_fs
def test_model_sequential(fs):
    run(fs, 0, SEQUENCES, threaded=False)


@each_fs
def test_model_threaded(fs):
    run(fs, 10_000, THREADED, threaded=True)


def made_while_reading(mountpoint: str) -> Tuple[List[str], List[str]]:
    """In the child: two new directories are read in one batch; while
    the first is listed (from the ``progress`` callback, i.e. inside the
    read, as another thread could), an entry is made in each.  Returns the
    entries made and the creations reported."""
    root = os.path.join(mountpoint, "root")
    os.mkdir(root)
    a, b = os.path.join(root, "a"), os.path.join(root, "a", "b")
    made: List[str] = []

    def progress(listed: int) -> None:
        if not made and os.path.isdir(b):
            for d in (a, b):
                made.append(os.path.join(d, "x"))
                with open(made[-1], "w"):
                    pass

    reported = []
    with FanotifyTree(root, progress=progress) as tree:
        os.mkdir(a)
        os.mkdir(b)
        while (ev := tree.wait(0.2)) is not None:
            if ev.create_event:
                reported.append(ev.path)
        assert tree.paths() == {a, b, *made}
    return made, reported


@each_fs
def test_entries_made_in_a_new_directory_while_it_is_read_are_reported(fs):
    """A directory reported by FAN_CREATE was empty when made, and the
    kernel reports every later event in it: an entry made in it while the
    tree handles the batch must be reported by its own FAN_CREATE, not
    absorbed without an event by a listing of the new directory.  (The
    threaded model finds this as "rename of unknown" / "deleted unknown"
    / "creation ... not reported" in most sequences.)"""
    made, reported = in_fs(fs, made_while_reading, timeout=30)
    assert len(made) == 2, "the progress callback did not run during the read"
    assert reported[:2] == [os.path.dirname(made[0]), os.path.dirname(made[1])]
    assert sorted(reported[2:]) == sorted(made), "created in a new directory, never reported"
