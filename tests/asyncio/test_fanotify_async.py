"""butter.asyncio.fanotify.Fanotify_async against the real kernel."""

from __future__ import annotations

import asyncio
import fcntl
import gc
import os
import sys
import warnings

import pytest
from conftest import in_child, needs_fanotify, open_fds

from butter.asyncio.fanotify import Fanotify_async
from butter.fanotify import (
    FAN_CLOSE_WRITE,
    FAN_CREATE,
    FAN_EVENT_ON_CHILD,
    FAN_REPORT_DFID_NAME,
)

pytestmark = needs_fanotify


def test_get_and_aliases(tmp_path):
    async def main():
        async with Fanotify_async() as q:
            assert not os.get_blocking(q.fileno())
            assert fcntl.fcntl(q.fileno(), fcntl.F_GETFD) & fcntl.FD_CLOEXEC
            q.watch(tmp_path, FAN_CLOSE_WRITE | FAN_EVENT_ON_CHILD)
            getter = asyncio.ensure_future(q.get_event())
            await asyncio.sleep(0)
            (tmp_path / "a").write_text("x")
            ev = await asyncio.wait_for(getter, 5)
            assert ev.close_write_event and ev.filename == str(tmp_path / "a")
            assert ev.pid == os.getpid()
            ev.close()
            with pytest.raises(asyncio.QueueEmpty):
                q.get_event_nowait()
            q.ignore(tmp_path, FAN_CLOSE_WRITE | FAN_EVENT_ON_CHILD)
            (tmp_path / "b").write_text("x")
            await asyncio.sleep(0.05)
            assert q.empty()
            q.watch(tmp_path, FAN_CLOSE_WRITE | FAN_EVENT_ON_CHILD)
            q.del_watch(tmp_path, FAN_CLOSE_WRITE | FAN_EVENT_ON_CHILD)
        return True

    assert asyncio.run(main())


def test_fid_mode_and_maxsize(tmp_path):
    async def main():
        async with Fanotify_async(FAN_REPORT_DFID_NAME, maxsize=2) as q:
            q.watch(tmp_path, FAN_CREATE | FAN_EVENT_ON_CHILD)
            for i in range(5):
                (tmp_path / f"f{i}").write_text("x")
            names = []
            for _ in range(5):
                ev = await asyncio.wait_for(q.get(), 5)
                assert q.qsize() <= 2
                names.append(ev.filename)
            assert names == [f"f{i}" for i in range(5)]
        return True

    assert asyncio.run(main())


def test_uvloop(tmp_path):
    uvloop = pytest.importorskip("uvloop")

    async def main():
        async with Fanotify_async() as q:
            q.watch(tmp_path, FAN_CLOSE_WRITE | FAN_EVENT_ON_CHILD)
            (tmp_path / "u").write_text("x")
            ev = await asyncio.wait_for(q.get(), 5)
            ev.close()
            return ev.filename

    assert in_child(lambda: uvloop.run(main())) == str(tmp_path / "u")


def test_fd_leak_2000(tmp_path):
    async def main():
        before = open_fds()
        for _ in range(2000):
            q = Fanotify_async()
            q.close()
        # Unread events die with the queue, their fds too.
        q = Fanotify_async()
        q.watch(tmp_path, FAN_CLOSE_WRITE | FAN_EVENT_ON_CHILD)
        for i in range(20):
            (tmp_path / f"x{i}").write_text("x")
        await asyncio.sleep(0.05)
        assert q.qsize() == 20
        q.close()
        gc.collect()
        return open_fds() - before

    assert asyncio.run(main()) == set()


def test_close_closes_queued_and_cached_events(tmp_path):
    """Events in the queue and beyond maxsize (in the source's cache) are
    closed by close(), not left to the garbage collector."""

    async def main():
        before = open_fds()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            for maxsize in (0, 3):
                q = Fanotify_async(maxsize=maxsize)
                q.watch(tmp_path, FAN_CLOSE_WRITE | FAN_EVENT_ON_CHILD)
                for i in range(10):
                    (tmp_path / f"c{i}").write_text("x")
                await asyncio.sleep(0.05)
                assert q.qsize() == (maxsize or 10)
                q.close()
                assert open_fds() == before
            gc.collect()
            gc.collect()  # PyPy runs finalizers after a collection
        assert not caught
        return True

    assert asyncio.run(main())


def test_unclosed_queue_warns_once(tmp_path):
    """GC of an unclosed queue: its own ResourceWarning, its events closed
    silently.  Built outside a loop, so no reader keeps it alive."""
    before = open_fds()
    q = Fanotify_async()
    q.watch(tmp_path, FAN_CLOSE_WRITE | FAN_EVENT_ON_CHILD)
    for i in range(5):
        (tmp_path / f"d{i}").write_text("x")
    assert q.qsize() == 5  # read without a loop
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        del q
        gc.collect()
        gc.collect()  # PyPy runs finalizers after a collection
    assert [w.category for w in caught] == [ResourceWarning]
    assert "Fanotify_async" in str(caught[0].message)
    assert open_fds() == before


def test_no_close_of_its_own():
    """The queue owns the fd story (issue 8 item 1): Fanotify_async adds no
    close() or __del__; unread events go back to the group, which closes them."""
    assert "close" not in vars(Fanotify_async)
    assert "__del__" not in vars(Fanotify_async)


def _queue_unread(tmp_path, prefix, maxsize, count=8):
    """A queue holding *count* unread events: up to *maxsize* in the queue,
    the rest in the group's cache."""
    q = Fanotify_async(maxsize=maxsize)
    q.watch(tmp_path, FAN_CLOSE_WRITE | FAN_EVENT_ON_CHILD)
    for i in range(count):
        (tmp_path / f"{prefix}{i}").write_text("x")
    assert q.qsize() == (maxsize or count)  # read without a loop
    assert len(q.source._cache) == count - q.qsize()
    return q


@pytest.mark.parametrize("maxsize", [0, 3])
def test_gc_with_warnings_as_errors_closes_event_fds(tmp_path, maxsize):
    """Even when the ResourceWarning is an error (raised inside __del__,
    reported as unraisable) the queue still releases every event fd."""
    before = open_fds()
    q = _queue_unread(tmp_path, f"e{maxsize}_", maxsize)
    assert len(open_fds() - before) == 1 + 8  # the group and one fd per event
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        unraisable = []
        old_hook = sys.unraisablehook
        sys.unraisablehook = unraisable.append
        try:
            del q
            gc.collect()
            gc.collect()  # PyPy runs finalizers after a collection
        finally:
            sys.unraisablehook = old_hook
    assert [type(u.exc_value) for u in unraisable] == [ResourceWarning]
    assert open_fds() == before


@pytest.mark.parametrize("maxsize", [0, 3])
def test_close_after_the_group_was_closed(tmp_path, maxsize):
    """Closing the group through ``source`` first still leaves no event fd
    behind once the queue is closed (the group's close() drains its cache
    every time it runs)."""
    before = open_fds()
    q = _queue_unread(tmp_path, f"g{maxsize}_", maxsize)
    q.source.close()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        q.close()
    assert q.closed
    assert open_fds() == before
