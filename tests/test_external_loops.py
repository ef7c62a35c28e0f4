"""Event-like objects under a loop of one's own (docs/external-loops.rst):
events butter read already do not make the fd readable, ``buffered()``
says how many there are, and the documented patterns get them all."""

from __future__ import annotations

import os
import pathlib
import re
import selectors
import signal
import tempfile

import pytest
from conftest import in_child, run_python

from butter.inotify import IN_CREATE, IN_NONBLOCK, Inotify
from butter.pidfd import PidFd
from butter.signalfd import SFD_NONBLOCK, Signalfd

DOC = pathlib.Path(__file__).resolve().parent.parent / "docs" / "external-loops.rst"


def five_events(ino: Inotify, d: str) -> None:
    ino.watch(d, IN_CREATE)
    for i in range(5):
        open(os.path.join(d, f"f{i}"), "w").close()


def test_the_pitfall_and_buffered():
    """read_event() once per readable leaves four events the fd no longer
    reports; buffered() counts them."""
    with tempfile.TemporaryDirectory() as d, Inotify(IN_NONBLOCK) as ino:
        assert ino.buffered() == 0
        five_events(ino, d)
        with selectors.DefaultSelector() as sel:
            sel.register(ino, selectors.EVENT_READ)
            assert sel.select(timeout=5)
            first = ino.read_event()
            assert ino.buffered() == 4
            assert sel.select(timeout=0.1) == []  # the fd says nothing more
            rest = []
            while ino.buffered():
                rest.append(ino.read_event())
            assert ino.buffered() == 0
        assert [e.filename for e in [first, *rest]] == [f"f{i}" for i in range(5)]
    assert ino.buffered() == 0  # closed


@pytest.mark.parametrize("pattern", ["read_events", "buffered"])
def test_selectors_patterns_get_all_five(pattern):
    with tempfile.TemporaryDirectory() as d, Inotify(IN_NONBLOCK) as ino:
        five_events(ino, d)
        names = []
        with selectors.DefaultSelector() as sel:
            sel.register(ino, selectors.EVENT_READ)
            while len(names) < 5:
                assert sel.select(timeout=5), f"hang: only {names}"
                if pattern == "read_events":
                    events = ino.read_events()
                    assert ino.buffered() == 0
                else:
                    events = [ino.read_event()]
                    while ino.buffered():
                        events.append(ino.read_event())
                names.extend(ev.filename for ev in events)
        assert names == [f"f{i}" for i in range(5)]


def test_signalfd_five_signals_with_selectors():
    """Five queued real-time signals, one read(2): the same patterns."""

    def child():
        rt = signal.SIGRTMIN + 2
        got = []
        for pattern in ("read_events", "buffered"):
            with Signalfd(rt, SFD_NONBLOCK, block=True) as sfd:
                for _ in range(5):
                    os.kill(os.getpid(), rt)  # real-time signals queue
                values = []
                with selectors.DefaultSelector() as sel:
                    sel.register(sfd, selectors.EVENT_READ)
                    while len(values) < 5:
                        if not sel.select(timeout=5):
                            return f"{pattern}: hang after {values}"
                        if pattern == "read_events":
                            events = sfd.read_events()
                        else:
                            events = [sfd.read_event()]
                            while sfd.buffered():
                                events.append(sfd.read_event())
                        values.extend(ev.signal for ev in events)
                got.append(values)
        return got

    assert in_child(child) == [[signal.SIGRTMIN + 2] * 5] * 2


def test_counters_and_pidfd_hold_nothing():
    with PidFd(os.getpid()) as pf:
        assert pf.buffered() == 0


def test_the_docs_example_runs():
    if not DOC.exists():
        pytest.skip("docs/external-loops.rst not in this tree")
    text = DOC.read_text(encoding="utf-8")
    block = re.search(r"\.\. code-block:: python\n\n((?:    .*\n|\n)+)", text)
    assert block and "selectors" in block.group(1)
    code = "\n".join(line[4:] for line in block.group(1).splitlines())
    out = run_python(code, timeout=30)
    assert out.stdout.strip() == str([f"file{i}" for i in range(5)])
