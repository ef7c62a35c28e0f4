"""Scale: a tree of 250,000 directories, beyond inotify's watch limit.

SPEC "Recursive watching, whole filesystems": ``FanotifyTree`` watches a
whole tree with one fanotify mark, so it has no watch limit, where
``InotifyTree`` needs one inotify watch per directory and hits
``fs.inotify.max_user_watches`` (192,536 on the machine this was written
on).  On a fresh tmpfs in a private mount namespace (``tests/fsenv.py``),
a tree of 250,000 directories (fan-out 10 for five full levels, then a
chain of 40 more: the deepest directory is 46 levels down):

* ``InotifyTree`` raises ``OSError(ENOSPC)`` whose message names
  ``fs.inotify.max_user_watches``, leaks no fd, and gives every watch
  back (a small tree can be watched right after);
* ``FanotifyTree`` starts, lists all 250,000 directories in ``paths()``,
  and reports a file created in the deepest directory; on tmpfs and on a
  loop-mounted ext4 (whose file handles, unlike tmpfs's, are read from
  disk-backed inodes).

Why the full 250,000 and not a smaller tree under a lowered limit: measured
here, making the tree takes about 1.3 s on tmpfs (15 s on ext4),
``InotifyTree`` fails after about 4 s, and ``os.walk`` of it takes about
2.5 s; the tests take about 10 s, 16 s and 40 s (ext4), so the real scale
is affordable and the tests check the case the issue is about.  Two
precautions:

* ``InotifyTree`` runs in a grandchild with a uid of its own (2,000,123):
  the watch limit is per user, so filling it as root would, for a few
  seconds, starve every other inotify user running as root on the machine
  (other tests among them).  The tree is world-readable, which is all an
  inotify watch needs.
* Where the host's limit is not below 250,000, that grandchild first moves
  to a user namespace of its own and lowers *that namespace's* limit
  (``/proc/sys/user/max_inotify_watches``, which its creator may write) to
  125,000: the host's sysctl is never written.

No timings are asserted here: ``bench/tree.py`` measures them (start time
against ``os.walk``, events per second against ``InotifyTree``, watchdog and
watchfiles).
"""

from __future__ import annotations

import errno
import os
import time
from typing import List, NamedTuple, Optional, Tuple

import pytest
from conftest import in_child, needs_fanotify, open_fds
from fsenv import each_fs, in_fs

import butter.fanotify
from butter.inotify import IN_CREATE, InotifyTree

pytestmark = pytest.mark.slow

N_DIRS = 250_000
FANOUT = 10
CHAIN = 40
OTHER_UID = 2_000_123
LIMIT_SYSCTL = "/proc/sys/fs/inotify/max_user_watches"
TIMEOUT = 240.0  # the whole child: mkdir of the tree, the watcher, the checks


def build_tree(root: str, n: int) -> Tuple[str, List[str]]:
    """*n* directories under *root*: full levels of FANOUT children, breadth
    first, then a chain of CHAIN under the last one made.  Returns the
    deepest directory and a few directories spread over the tree."""
    mkdir = os.mkdir
    target = n - CHAIN
    made = 0
    level = [root]
    last = root
    samples = []
    while made < target:
        below = []
        for parent in level:
            for k in range(FANOUT):
                last = f"{parent}/d{k}"
                mkdir(last)
                below.append(last)
                made += 1
                if made == target:
                    break
            if made == target:
                break
        samples += below[:: max(1, len(below) // 5)]
        level = below
    for k in range(CHAIN):
        last = f"{last}/c{k}"
        mkdir(last)
    return last, samples


def watch_limit() -> int:
    with open(LIMIT_SYSCTL) as f:
        return int(f.read())


def _inotify_tree_as_other_user(
    root: str, small: str, lower_to: int
) -> Tuple[Optional[int], str, str, int, List[int]]:
    """In a grandchild: InotifyTree(root) with a watch budget of its own.
    Returns (errno, message, exception type, dirs of a small tree watched
    right after, fds leaked by the failure)."""
    os.setgroups([])
    os.setgid(OTHER_UID)
    os.setuid(OTHER_UID)
    if lower_to:
        from butter.clone import CLONE_NEWUSER, unshare

        unshare(CLONE_NEWUSER)  # its creator has every capability in it
        with open("/proc/sys/user/max_inotify_watches", "w") as f:
            f.write(str(lower_to))
    before = open_fds()
    try:
        tree = InotifyTree(root)
    except OSError as exc:
        failure = (exc.errno, str(exc), type(exc).__name__)
    else:
        n = len(tree.paths())
        tree.close()
        return None, f"no error: {n} paths watched", "", 0, []
    leaked = sorted(open_fds() - before)
    with InotifyTree(small) as tree:  # the failed one gave its watches back
        n_small = sum(1 for _ in os.walk(small))
        assert len(tree.paths()) == n_small - 1
    return (*failure, n_small, leaked)


def _inotify_scenario(root: str) -> Tuple[Optional[int], str, str, int, List[int]]:
    _, samples = build_tree(root, N_DIRS)
    limit = watch_limit()
    lower_to = 0 if limit < N_DIRS else N_DIRS // 2
    small = samples[len(samples) // 2]  # a directory some levels down
    return in_child(_inotify_tree_as_other_user, root, small, lower_to, timeout=TIMEOUT)


def test_inotify_tree_hits_the_watch_limit() -> None:
    code, message, kind, n_small, leaked = in_fs("tmpfs", _inotify_scenario, timeout=TIMEOUT)
    assert code == errno.ENOSPC, (code, message)
    assert kind == "OSError"
    assert "fs.inotify.max_user_watches" in message, message
    assert leaked == [], f"fds leaked by the failed constructor: {leaked}"
    assert n_small > 1


class Outcome(NamedTuple):
    n_paths: int  # len(paths()) once started
    missing: List[str]  # sample directories (and the deepest) not in paths()
    found: bool  # the file in the deepest directory was reported
    seen: List[str]  # the events read while looking for it
    leaked: List[int]  # fds left open after close()


def _fanotify_scenario(root: str) -> Outcome:
    deepest, samples = build_tree(root, N_DIRS)
    before = open_fds()
    with butter.fanotify.FanotifyTree(root) as tree:
        paths = tree.paths()
        n_paths = len(paths)
        missing = [p for p in [deepest, *samples] if p not in paths]
        del paths
        new = os.path.join(deepest, "new-file")
        with open(new, "w") as f:
            f.write("x")
        seen: List[str] = []
        found = False
        deadline = time.monotonic() + 10
        while not found and time.monotonic() < deadline:
            event = tree.wait(max(0.0, deadline - time.monotonic()))
            if event is None:
                break
            seen.append(f"{event.path} {event.mask:#x}")
            found = event.path == new and bool(event.mask & IN_CREATE)
    return Outcome(n_paths, missing, found, seen, sorted(open_fds() - before))


@needs_fanotify
@each_fs
def test_fanotify_tree_watches_beyond_the_limit(fs: str) -> None:
    # ext4: one 4 KiB block per directory (about 1 GiB of the sparse image)
    # and an inode each.
    out = in_fs(fs, _fanotify_scenario, timeout=TIMEOUT, size_mb=4096, inodes=N_DIRS + 10_000)
    assert out.n_paths == N_DIRS + (fs == "ext4")  # lost+found
    assert out.missing == []
    assert out.found, f"no IN_CREATE for the file in the deepest directory; events: {out.seen[:20]}"
    assert out.leaked == [], f"fds leaked: {out.leaked}"
