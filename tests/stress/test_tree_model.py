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
    assert "not reported" in check_creation_order(ok[:1], m)[0]
    assert check_creation_order(ok[::-1], m)  # out of order
    assert "out of order" in check_creation_order([*ok, ok[1]], m)[0]  # twice


def test_listed_and_fleeting_directories(tmp_path):
    m = mutator(tmp_path)
    # moved in from outside: its contents are listed, not reported
    o = os.path.join(m.outside, "o")
    m.mkdir(o)
    i = os.path.join(m.root, "i")
    m.rename(o, i)
    m.mkdir(os.path.join(i, "x"))
    # made and removed between two reads: what was made in it may be lost,
    # and so may what was made in a directory once moved into it
    t, keep = os.path.join(m.root, "t"), os.path.join(m.root, "k")
    m.mkdir(t)
    m.mkdir(os.path.join(t, "y"))
    m.mkdir(keep)
    m.rename(keep, os.path.join(t, "y", "k"))
    m.mkdir(os.path.join(t, "y", "k", "z"))
    m.rename(os.path.join(t, "y", "k"), keep)
    m.mkdir(os.path.join(keep, "w"))
    m.rmtree(t)
    events = [
        PathEvent(i, IN_MOVED_TO | IN_ISDIR, None),
        created(t),
        created(keep),
        PathEvent(keep, IN_MOVED_FROM | IN_ISDIR, None),
        PathEvent(keep, IN_MOVED_TO | IN_ISDIR, None),
    ]
    assert check_creation_order(events, m) == []
    # a read between the creation and the removal: t's contents count
    m.read_point()
    t2 = os.path.join(m.root, "t2")
    m.mkdir(t2)
    m.mkdir(os.path.join(t2, "y"))
    m.read_point()
    m.rmtree(t2)
    assert "not reported" in check_creation_order([*events, created(t2)], m)[0]
    assert check_creation_order([*events, created(t2), created(os.path.join(t2, "y"))], m) == []
