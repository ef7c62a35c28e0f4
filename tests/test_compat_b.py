"""Programs written for the original Butter (0.9, 0.13.1) run unchanged:
fanotify, inotify, splice (issue 10, part B).

Every old spelling warns with a DeprecationWarning naming the new one
(pytest turns other warnings into errors).
"""

from __future__ import annotations

import asyncio
import errno
import importlib
import os
import sys
import tempfile

import pytest
from conftest import needs_fanotify

import butter.fanotify as fa
import butter.inotify as ino
import butter.splice as S
from butter.asyncio.inotify import Inotify_async
from butter.fanotify import (
    FAN_ACCESS,
    FAN_CLASS_NOTIF,
    FAN_CLOSE,
    FAN_EVENT_ON_CHILD,
    FAN_MARK_ADD,
    FAN_MODIFY,
    FAN_ONDIR,
    FAN_OPEN,
    FAN_Q_OVERFLOW,
    Fanotify,
    FanotifyEvent,
)

FLAGS = FAN_MODIFY | FAN_ONDIR | FAN_ACCESS | FAN_EVENT_ON_CHILD | FAN_OPEN | FAN_CLOSE


# -- fanotify ------------------------------------------------------------------------
@needs_fanotify
def test_fanotify_09_style_watch_and_ignore():
    # Butter 0.9's integration test, as written then (argument order (flags, mask, path)).
    with tempfile.TemporaryDirectory() as tmpdir:
        notifier = Fanotify(FAN_CLASS_NOTIF)
        with pytest.warns(DeprecationWarning, match=r"Fanotify\.watch\(path, mask, flags\)"):
            notifier.watch(0, FLAGS, tmpdir)
        os.listdir(tmpdir)
        for _, event in zip(range(3), notifier):
            assert event.pid == os.getpid()
            assert event.filename.startswith(tmpdir)
            with pytest.warns(DeprecationWarning, match="is_dir_event"):
                assert event.on_dir_event == event.is_dir_event  # (classic mode: False)
            event.close()
            os.listdir(tmpdir)
        # 0.9 ORed FAN_MARK_ADD itself: a caller that also gave it is fine.
        with pytest.warns(DeprecationWarning, match="Fanotify.ignore"):
            notifier.ignore(0, FLAGS, tmpdir)
        while True:
            event = notifier.wait(0.1)
            if event is None:
                break
            event.close()
        with pytest.warns(DeprecationWarning, match="Fanotify.watch"):
            notifier.watch(FAN_MARK_ADD, FLAGS, tmpdir)
        notifier.close()


@needs_fanotify
def test_fanotify_new_order_does_not_warn(tmp_path):
    with Fanotify() as fan:
        fan.watch(str(tmp_path), FAN_OPEN)
        fan.watch(tmp_path, FAN_OPEN, 0)
        fan.watch(os.fsencode(tmp_path), FAN_OPEN, flags=0)
        fan.ignore(tmp_path, FAN_OPEN)


@needs_fanotify
def test_fanotify_old_order_errors_keep_the_path(tmp_path):
    missing = str(tmp_path / "missing")
    fan = Fanotify()
    with fan, pytest.warns(DeprecationWarning), pytest.raises(FileNotFoundError) as info:
        fan.watch(0, FAN_OPEN, missing)
    assert info.value.filename == missing


@needs_fanotify
def test_fanotify_async_09_style_watch(tmp_path):
    from butter.asyncio.fanotify import Fanotify_async

    async def main():
        async with Fanotify_async() as fan:
            with pytest.warns(DeprecationWarning, match=r"Fanotify_async\.watch\(path"):
                fan.watch(0, FLAGS, str(tmp_path))
            os.listdir(tmp_path)
            event = await asyncio.wait_for(fan.get_event(), 10)
            assert event.pid == os.getpid()
            event.close()
            with pytest.warns(DeprecationWarning, match=r"Fanotify_async\.ignore\(path"):
                fan.ignore(0, FLAGS, str(tmp_path))

    asyncio.run(main())


@needs_fanotify
def test_fanotify_blocking():
    with Fanotify() as fan, pytest.warns(DeprecationWarning, match=r"os\.get_blocking"):
        assert fan.blocking is True
    nonblocking = Fanotify(FAN_CLASS_NOTIF | fa.FAN_NONBLOCK)
    with nonblocking as fan, pytest.warns(DeprecationWarning, match=r"os\.get_blocking"):
        assert fan.blocking is False


def test_fanotify_event_properties():
    over = FanotifyEvent(FAN_Q_OVERFLOW, fa.FAN_NOFD, 0)
    with pytest.warns(DeprecationWarning, match="overflow_event"):
        assert over.queue_overflow_event
    with pytest.warns(DeprecationWarning, match="FANOTIFY_METADATA_VERSION"):
        assert over.version == fa.FANOTIFY_METADATA_VERSION
    with pytest.warns(DeprecationWarning, match="is_dir_event"):
        assert not over.on_dir_event
    with pytest.warns(DeprecationWarning, match="FAN_EVENT_ON_CHILD"):
        assert not over.on_child_event
    d = FanotifyEvent(FAN_OPEN | FAN_ONDIR | FAN_EVENT_ON_CHILD, fa.FAN_NOFD, 0)
    with pytest.warns(DeprecationWarning):
        assert d.on_dir_event and d.on_child_event and not d.queue_overflow_event


def test_fanotify_constants_module_warns_on_import():
    sys.modules.pop("butter.fanotify_constants", None)
    with pytest.warns(DeprecationWarning, match=r"from butter\.fanotify"):
        mod = importlib.import_module("butter.fanotify_constants")
    assert mod.FAN_MODIFY == FAN_MODIFY
    names = [n for n in dir(fa) if n.startswith("FAN_")]
    assert len(names) > 50
    for name in names:
        assert getattr(mod, name) == getattr(fa, name), name
        assert name in mod.__all__


# -- inotify -------------------------------------------------------------------------
def test_inotify_09_style_drop_directory_watcher(tmp_path):
    # Butter 0.9's style: Inotify(), watch(path, mask) -> wd, read events,
    # ignore(wd)/del_watch(wd).  Only filename changed type (bytes -> str).
    notifier = ino.Inotify()
    wd = notifier.watch(str(tmp_path), ino.IN_CLOSE_WRITE | ino.IN_MOVED_TO)
    for name in ("a.txt", "b.txt"):
        with open(tmp_path / name, "w") as f:
            f.write("x")
    seen = []
    while len(seen) < 2:
        event = notifier.read_event()
        assert event.wd == wd and event.close_write_event
        seen.append(event.filename)
    assert seen == ["a.txt", "b.txt"]  # str now (0.9: bytes)
    notifier.del_watch(wd)
    assert notifier.read_event().ignored_event
    notifier.close()
    assert notifier.closed  # a property now (0.9: a method)


def test_inotify_09_style_async_consumer(tmp_path):
    # Butter 0.9's Inotify_async consumer, as a coroutine (without loop=).
    async def watcher():
        inotify = Inotify_async()
        wd = inotify.watch(str(tmp_path), ino.IN_ALL_EVENTS)
        (tmp_path / "new").touch()
        events = []
        for _ in range(3):
            events.append(await inotify.get_event())
        inotify.ignore(wd)
        while not (await inotify.get_event()).ignored_event:
            pass
        inotify.close()
        return events

    events = asyncio.run(watcher())
    assert [e.filename for e in events][:1] == ["new"]
    assert events[0].create_event


# -- splice --------------------------------------------------------------------------
def test_splice_09_style_zero_offsets_on_pipes_say_none():
    # 0 is offset 0, as in C and os.splice: on pipes that is ESPIPE, and the
    # message tells a user of the original (whose 0 meant "no offset") what to pass.
    r1, w1 = os.pipe()
    r2, w2 = os.pipe()
    try:
        os.write(w1, b"hello")
        with pytest.raises(OSError) as info:
            S.splice(r1, w2, 0, 0, 5)
        assert info.value.errno == errno.ESPIPE
        assert "in_offset=None, out_offset=None" in str(info.value)
        assert S.splice(r1, w2, None, None, 5) == 5
        assert os.read(r2, 5) == b"hello"
    finally:
        for fd in (r1, w1, r2, w2):
            os.close(fd)


def test_splice_zero_offset_on_a_file_is_offset_zero(tmp_path):
    # On a seekable fd 0 is a real offset (the contract), with no warning.
    r, w = os.pipe()
    path = tmp_path / "f"
    path.write_bytes(b"0123456789")
    try:
        with open(path, "rb") as f:
            f.seek(5)
            assert S.splice(f, w, 0, None, 3) == 3
            assert f.tell() == 5
        assert os.read(r, 3) == b"012"
    finally:
        os.close(r)
        os.close(w)


def test_splice_other_offsets_on_pipes_still_fail():
    r, w = os.pipe()
    try:
        os.write(w, b"x")
        with pytest.raises(OSError) as info:
            S.splice(r, w, 1, None, 1)
        assert info.value.errno == 29  # ESPIPE
    finally:
        os.close(r)
        os.close(w)


def test_tee_and_vmsplice_09_positional_calls():
    # tee(fd_in, fd_out, len, flags) and vmsplice(fd, vec, flags): unchanged.
    r1, w1 = os.pipe()
    r2, w2 = os.pipe()
    try:
        assert S.vmsplice(w1, [b"ab", b"cd"], 0) == 4
        assert S.tee(r1, w2, 4, 0) == 4
        assert os.read(r2, 4) == os.read(r1, 4) == b"abcd"
    finally:
        for fd in (r1, w1, r2, w2):
            os.close(fd)


# -- every old name added, one row each ----------------------------------------------
def _event(mask: int = FAN_OPEN) -> FanotifyEvent:
    return FanotifyEvent(mask, fa.FAN_NOFD, 0)


OLD_NAMES = [
    ("FanotifyEvent.version", lambda: _event().version, "FANOTIFY_METADATA_VERSION"),
    ("FanotifyEvent.on_dir_event", lambda: _event().on_dir_event, "is_dir_event"),
    ("FanotifyEvent.on_child_event", lambda: _event().on_child_event, "FAN_EVENT_ON_CHILD"),
    (
        "FanotifyEvent.queue_overflow_event",
        lambda: _event().queue_overflow_event,
        "overflow_event",
    ),
]
NEEDS_GROUP = [
    ("Fanotify.blocking", lambda fan, d: fan.blocking, r"os\.get_blocking"),
    ("Fanotify.watch(flags, mask, path)", lambda fan, d: fan.watch(0, FAN_OPEN, d), "path, mask"),
    (
        "Fanotify.ignore(flags, mask, path)",
        lambda fan, d: (fan.watch(d, FAN_OPEN), fan.ignore(0, FAN_OPEN, d)),
        "path, mask",
    ),
    (
        "fanotify_mark(fd, flags, mask, path)",
        lambda fan, d: fa.fanotify_mark(fan, FAN_MARK_ADD, FAN_OPEN, d),
        r"fanotify_mark\(fd, path, mask, flags\)",
    ),
    (
        "Fanotify.del_watch(flags, mask, path)",
        lambda fan, d: (fan.watch(d, FAN_OPEN), fan.del_watch(0, FAN_OPEN, d)),
        "path, mask",
    ),
]


@pytest.mark.parametrize(("old", "use", "new"), OLD_NAMES, ids=[row[0] for row in OLD_NAMES])
def test_every_old_name_warns_naming_the_new(old, use, new):
    with pytest.warns(DeprecationWarning, match=new) as record:
        use()
    assert len(record) == 1
    assert record[0].filename == __file__, "the warning points at the caller"


@needs_fanotify
@pytest.mark.parametrize(("old", "use", "new"), NEEDS_GROUP, ids=[row[0] for row in NEEDS_GROUP])
def test_every_old_fanotify_method_warns_naming_the_new(old, use, new, tmp_path):
    with Fanotify() as fan, pytest.warns(DeprecationWarning, match=new) as record:
        use(fan, str(tmp_path))
    assert len(record) == 1
    assert record[0].filename == __file__, "the warning points at the caller"
