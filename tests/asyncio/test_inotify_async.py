"""butter.asyncio.inotify: the queue interface, backpressure, load, cancel."""

from __future__ import annotations

import asyncio
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from conftest import flood, inotify_queue_limit, open_fds
from test_inotify import N_LOAD, _prepare, _writer

from butter.asyncio.inotify import Inotify_async, InotifyTree_async
from butter.inotify import (
    IN_CREATE,
    IN_IGNORED,
    IN_ISDIR,
    IN_MODIFY,
    IN_MOVED_FROM,
    IN_MOVED_TO,
    IN_Q_OVERFLOW,
    InotifyEvent,
)


def run(coro):
    return asyncio.run(coro)


def test_basic(tmp_path):
    async def main():
        async with Inotify_async() as q:
            assert q.maxsize == 0
            wd = q.watch(tmp_path, IN_CREATE)
            assert q.empty() and q.qsize() == 0
            with pytest.raises(asyncio.QueueEmpty):
                q.get_nowait()
            (tmp_path / "a").touch()
            ev = await asyncio.wait_for(q.get(), 5)
            assert ev == (wd, IN_CREATE, 0, "a") and type(ev) is InotifyEvent
            assert q.event_path(ev) == str(tmp_path / "a")
            (tmp_path / "b").touch()
            assert (await asyncio.wait_for(q.get_event(), 5)).filename == "b"
            (tmp_path / "c").touch()
            await asyncio.sleep(0.05)
            assert q.get_event_nowait().filename == "c"
            q.ignore(wd)
            assert (await asyncio.wait_for(q.get(), 5)).mask == IN_IGNORED
            assert q.watches == {}
            return q

    before = open_fds()
    q = run(main())
    assert q.closed and open_fds() == before
    with pytest.raises(ValueError):
        q.fileno()


def test_async_for_and_close(tmp_path):
    async def main():
        q = Inotify_async()
        q.watch(tmp_path, IN_CREATE)
        names = []

        async def consume():
            async for ev in q:
                names.append(ev.filename)

        task = asyncio.ensure_future(consume())
        for n in "xyz":
            (tmp_path / n).touch()
        while len(names) < 3:
            await asyncio.sleep(0.01)
        q.close()  # the pending get() fails: async for ends
        await asyncio.wait_for(task, 5)
        return names

    assert run(main()) == ["x", "y", "z"]


def test_cancelled_get_loses_nothing(tmp_path):
    async def main():
        async with Inotify_async() as q:
            q.watch(tmp_path, IN_CREATE)
            got = []
            for k in range(50):
                task = asyncio.ensure_future(q.get())
                await asyncio.sleep(0)
                (tmp_path / f"f{k}").touch()
                if k % 2:
                    await asyncio.sleep(0.002)
                task.cancel()
                try:
                    got.append((await task).filename)
                except asyncio.CancelledError:
                    pass
            while len(got) < 50:
                got.append((await asyncio.wait_for(q.get(), 5)).filename)
            return got

    assert run(main()) == [f"f{k}" for k in range(50)]


def test_backpressure(tmp_path):
    """maxsize=10, 10,000 events while the consumer sleeps: all, in order."""

    async def main():
        async with Inotify_async(maxsize=10) as q:
            q.watch(tmp_path, IN_CREATE)
            for k in range(10_000):
                os.close(os.open(tmp_path / f"{k:05d}", os.O_CREAT | os.O_WRONLY))
            await asyncio.sleep(0.3)  # the consumer sleeps; the loop runs
            assert q.qsize() <= 10
            names = []
            while len(names) < 10_000:
                names.append((await asyncio.wait_for(q.get(), 5)).filename)
                assert q.qsize() <= 10
            assert q.empty()
            return names

    assert run(main()) == [f"{k:05d}" for k in range(10_000)]


async def _count_async(q: Inotify_async, path, n: int):
    pid = _writer(str(path), n)
    count = disorder = 0
    overflow = exited = False
    expect = "a"
    while True:
        try:
            events = [q.get_nowait()]
        except asyncio.QueueEmpty:
            try:
                events = [await asyncio.wait_for(q.get(), 0.5 if exited else 5)]
            except asyncio.TimeoutError:
                if exited:
                    break
                exited = os.waitpid(pid, os.WNOHANG)[0] == pid
                continue
        for ev in events:
            if ev.mask & IN_Q_OVERFLOW:
                overflow = True
            elif ev.mask & IN_MODIFY:
                count += 1
                if not overflow:
                    disorder += ev.filename != expect
                    expect = "b" if ev.filename == "a" else "a"
        if not exited and count % 4096 == 0:
            exited = os.waitpid(pid, os.WNOHANG)[0] == pid
    if not exited:
        os.waitpid(pid, 0)
    return count, disorder, overflow


@pytest.mark.slow
def test_load_default_queue(tmp_path):
    _prepare(tmp_path)

    async def main():
        async with Inotify_async() as q:
            q.watch(tmp_path, IN_MODIFY)
            return await _count_async(q, tmp_path, N_LOAD)

    count, disorder, overflow = run(main())
    assert disorder == 0
    assert count == N_LOAD or (overflow and count < N_LOAD), (count, overflow)


def test_full_queue_loses_nothing(tmp_path):
    """As much as the kernel queue holds, queued before the first get()."""
    n = inotify_queue_limit() // 2 * 2
    _prepare(tmp_path)

    async def main():
        async with Inotify_async() as q:
            q.watch(tmp_path, IN_MODIFY)
            os.waitpid(_writer(str(tmp_path), n), 0)
            return await _count_async(q, tmp_path, 0)

    assert run(main()) == (n, 0, False)


def test_overflow_reaches_async(tmp_path):
    limit = inotify_queue_limit()

    async def main():
        async with Inotify_async(maxsize=4) as q:
            q.watch(tmp_path, IN_MODIFY)
            flood(tmp_path, limit + 20)
            return [(await asyncio.wait_for(q.get(), 5)) for _ in range(limit + 1)]

    events = run(main())
    assert [e.filename for e in events[:4]] == [".flood-a", ".flood-b"] * 2
    assert not any(e.overflow_event for e in events[:limit])
    assert events[limit].overflow_event


def test_tree_async(tmp_path):
    async def main():
        async with InotifyTree_async(tmp_path) as q:
            (tmp_path / "d").mkdir()
            (tmp_path / "d" / "f").touch()
            got = []
            while str(tmp_path / "d" / "f") not in q.paths():
                got.append(await asyncio.wait_for(q.get(), 5))
            os.rename(tmp_path / "d" / "f", tmp_path / "g")
            while not any(e.rename_event for e in got):
                got.append(await asyncio.wait_for(q.get(), 5))
            assert q.paths() == {str(tmp_path / "d"), str(tmp_path / "g")}
            return got

    got = run(main())
    assert [(e.path, e.mask) for e in got[:2]] == [
        (str(tmp_path / "d"), IN_CREATE | IN_ISDIR),
        (str(tmp_path / "d" / "f"), IN_CREATE),
    ]
    ren = got[-1]
    assert ren.mask & (IN_MOVED_FROM | IN_MOVED_TO) == IN_MOVED_FROM | IN_MOVED_TO
    assert (ren.src_path, ren.path) == (str(tmp_path / "d" / "f"), str(tmp_path / "g"))


def test_tree_async_exclude_and_progress(tmp_path):
    (tmp_path / ".git" / "objects").mkdir(parents=True)
    (tmp_path / "src").mkdir()
    counts: list[int] = []

    async def main():
        async with InotifyTree_async(
            tmp_path, exclude=[".git", "*.swp"], progress=counts.append
        ) as q:
            assert q.paths() == {str(tmp_path / "src")}
            assert repr(q) == (
                f"<InotifyTree_async fd={q.fileno()} roots=[{str(tmp_path)!r}] dirs=2"
                " qsize=0 maxsize=0>"
            )
            (tmp_path / ".git" / "x").touch()
            (tmp_path / "src" / "a.swp").touch()
            (tmp_path / "src" / "a").touch()
            ev = await asyncio.wait_for(q.get(), 5)
            return ev, q.paths()

    ev, paths = run(main())
    assert ev.path == str(tmp_path / "src" / "a") and ev.create_event
    assert paths == {str(tmp_path / "src"), str(tmp_path / "src" / "a")}
    assert counts[-1] == 2  # the root and src
