"""The checks of tree_model.py, on hand-made event lists: what the creation
order check accepts and what it catches."""

from __future__ import annotations

import os
import random

from butter.inotify import IN_CREATE, IN_ISDIR, IN_MOVED_FROM, IN_MOVED_TO, PathEvent

from .tree_model import Mutator, check_creation_order


def created(path: str, is_dir: bool = True) -> PathEvent:
    return PathEvent(path, IN_CREATE | (IN_ISDIR if is_dir else 0), None)


def mutator(tmp_path) -> Mutator:
    (tmp_path / "root").mkdir()
    (tmp_path / "out").mkdir()
    m = Mutator(str(tmp_path / "root"), str(tmp_path / "out"), random.Random(0))
    m.start_watching()
    return m


def test_creations_in_order(tmp_path):
    m = mutator(tmp_path)
    a = os.path.join(m.root, "a")
    m.mkdir(a)
    m.write(os.path.join(a, "f"))
    m.write(os.path.join(a, "f"))  # not a creation
    ok = [created(a), created(os.path.join(a, "f"), False)]
    assert check_creation_order(ok, m) == []
    assert "(2 made, 1 reported)" in check_creation_order(ok[:1], m)[0]
    assert check_creation_order(ok[::-1], m)  # out of order
    assert "(2 made, 3 reported)" in check_creation_order([*ok, ok[1]], m)[0]  # twice


def test_listed_directories(tmp_path):
    m = mutator(tmp_path)
    # moved in from outside: its contents are listed, not reported
    o = os.path.join(m.outside, "o")
    m.mkdir(o)
    m.mkdir(os.path.join(o, "old"))
    i = os.path.join(m.root, "i")
    m.rename(o, i)
    m.mkdir(os.path.join(i, "x"))
    # moved on within the tree: still listed
    m.rename(i, os.path.join(m.root, "j"))
    m.mkdir(os.path.join(m.root, "j", "y"))
    # moved out: gone; a new directory of that name is reported
    m.rename(os.path.join(m.root, "j"), os.path.join(m.outside, "j"))
    m.mkdir(os.path.join(m.root, "j"))
    m.mkdir(os.path.join(m.root, "j", "z"))
    j, z = os.path.join(m.root, "j"), os.path.join(m.root, "j", "z")
    events = [
        PathEvent(i, IN_MOVED_TO | IN_ISDIR, None),
        PathEvent(j, IN_MOVED_FROM | IN_MOVED_TO | IN_ISDIR, i),
        PathEvent(j, IN_MOVED_FROM | IN_ISDIR, None),
        created(j),
        created(z),
    ]
    assert check_creation_order(events, m) == []
    assert check_creation_order(events[:-1], m)  # z not reported
