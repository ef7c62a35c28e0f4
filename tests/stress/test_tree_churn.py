"""Churn: every file of a create/write/close/unlink churn is reported once, in order.

SPEC "Recursive watching, whole filesystems": the recursive watchers report
each creation and deletion once, and the events, applied in order, give
``paths()``.  ``bench/tree.py`` measures the events per second of this
churn; this test checks what the user receives, for ``InotifyTree`` and
``FanotifyTree`` alike, on a fresh tmpfs in a private mount namespace
(``tests/fsenv.py``).

A writer process makes 20,000 files of distinct names round robin across
100 directories, each created, written once, closed and unlinked, in
bursts of 3,000 (at most 12,000 events: they fit the kernels' default
16,384-event queues, so no overflow is allowed); the next burst starts
when every create of the previous one was reported.  Then, for each file:

* exactly one ``IN_CREATE`` and one ``IN_DELETE``, and nothing else but
  ``IN_MODIFY``/``IN_CLOSE_WRITE``, in the order the writer did them
  (create, modify, close-write, delete);
* no ``IN_Q_OVERFLOW``; ``paths()`` ends with the directories alone.

This is where kernel-merged fanotify events show: while the reader is
behind, the kernel merges the create, write, close and unlink of one name
into one event (``FAN_CREATE|FAN_MODIFY|FAN_CLOSE_WRITE|FAN_DELETE``), which
``FanotifyTree`` must split in the right order even when a listing of the
directory (made after an earlier merged event) already saw the file.
"""

from __future__ import annotations

import os
import time
from typing import Any, Dict, List, Tuple

import pytest
from conftest import needs_fanotify
from fsenv import in_fs

import butter.fanotify
from butter.inotify import (
    IN_CLOSE_WRITE,
    IN_CREATE,
    IN_DELETE,
    IN_MODIFY,
    IN_Q_OVERFLOW,
    InotifyTree,
    mask_names,
)

pytestmark = pytest.mark.slow

N_DIRS = 100
N_OPS = 20_000
BURST = 3000
EVENTS = IN_CREATE | IN_MODIFY | IN_CLOSE_WRITE | IN_DELETE
STALL = 10.0  # seconds without the awaited create: the test fails


def _writer(dirs: List[str], go: int) -> None:
    """In a forked process: one burst per byte read from *go*."""
    flags = os.O_CREAT | os.O_WRONLY | os.O_EXCL
    op = 0
    while op < N_OPS and os.read(go, 1):
        for _ in range(min(BURST, N_OPS - op)):
            path = f"{dirs[op % len(dirs)]}/f{op}"
            fd = os.open(path, flags, 0o644)
            os.write(fd, b"x")
            os.close(fd)
            os.unlink(path)
            op += 1


def _churn(root: str, kind: str) -> Tuple[List[str], List[str], int]:
    """Returns (problems, paths() at the end minus the directories, files seen)."""
    dirs = [os.path.join(root, f"d{k:03d}") for k in range(N_DIRS)]
    for d in dirs:
        os.mkdir(d)
    cls: Any = InotifyTree if kind == "inotify" else butter.fanotify.FanotifyTree
    log: Dict[str, List[int]] = {}
    problems: List[str] = []
    with cls(root, EVENTS) as tree:
        go_r, go_w = os.pipe()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the writer
            try:
                os.close(go_w)
                _writer(dirs, go_r)
            finally:
                os._exit(0)
        os.close(go_r)
        try:
            created = 0
            for start in range(0, N_OPS, BURST):
                os.write(go_w, b"g")
                end = min(start + BURST, N_OPS)
                deadline = time.monotonic() + STALL
                while created < end:
                    event = tree.wait(max(0.0, deadline - time.monotonic()))
                    if event is None:
                        problems.append(f"stalled: {created} of {N_OPS} creates reported")
                        break
                    if event.mask & IN_Q_OVERFLOW:
                        problems.append("IN_Q_OVERFLOW (the bursts fit the queue)")
                        continue
                    log.setdefault(event.path, []).append(event.mask)
                    if event.mask & IN_CREATE:
                        created += 1
                        deadline = time.monotonic() + STALL
                if problems:
                    break
        finally:
            os.close(go_w)
            os.waitpid(pid, 0)
        # The deletions of the last burst.
        while True:
            event = tree.wait(0.5)
            if event is None:
                break
            log.setdefault(event.path, []).append(event.mask)
        leftover = sorted(tree.paths() - set(dirs))
    expected = ["IN_CREATE", "IN_MODIFY", "IN_CLOSE_WRITE", "IN_DELETE"]
    for path, masks in sorted(log.items()):
        names = ["|".join(mask_names(m)) for m in masks]
        if names != expected:
            problems.append(f"{path}: {names}")
    return problems, leftover, len(log)


@pytest.mark.parametrize("kind", ["inotify", pytest.param("fanotify", marks=needs_fanotify)])
def test_each_file_reported_once_in_order(kind: str) -> None:
    problems, leftover, n_files = in_fs("tmpfs", _churn, kind, timeout=120)
    assert not problems, f"{len(problems)} files misreported, e.g.:\n" + "\n".join(problems[:5])
    assert n_files == N_OPS
    assert leftover == []
