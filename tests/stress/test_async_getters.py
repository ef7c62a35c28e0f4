"""Several getters x random cancellation x every maxsize, per async family.

SPEC: "A ``*_async`` queue with several waiting ``get()``s and any
``maxsize`` hands each queued event to one getter: no getter sleeps while an
event is queued", and "A ``get()`` cancelled while waiting loses no event".

Each scenario runs under ``asyncio.wait_for``: a hang fails it.  The seed is
in the test id; failures print the events lost or duplicated.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
from collections import Counter
from typing import Any, Callable, List, Tuple

import pytest
from conftest import in_child, open_fds

from butter.asyncio.eventfd import Eventfd_async
from butter.asyncio.fanotify import Fanotify_async
from butter.asyncio.inotify import Inotify_async, InotifyTree_async
from butter.asyncio.signalfd import Signalfd_async
from butter.eventfd import EFD_SEMAPHORE
from butter.fanotify import FAN_CREATE, FAN_EVENT_ON_CHILD, FAN_REPORT_DFID_NAME, fanotify_init
from butter.inotify import IN_CREATE
from butter.signalfd import SIG_BLOCK, pthread_sigmask

MAXSIZES = [0, 1, 2, 5]
SCENARIO_TIMEOUT = 20.0
FINAL = 5  # events of the last burst, after n_events

try:
    os.close(fanotify_init())
    _NO_FANOTIFY = ""
except OSError as exc:  # pragma: no cover - needs CAP_SYS_ADMIN
    _NO_FANOTIFY = f"fanotify unavailable: {exc}"


async def _storm(
    q: Any,
    produce: Callable[[int], None],
    key: Callable[[Any], Any],
    n_events: int,
    n_getters: int,
    seed: int,
    cancel_rate: float = 0.3,
) -> Tuple[Counter, List[str]]:
    """Produce *n_events* in bursts while *n_getters* tasks loop on
    ``get()`` and random ones are cancelled and replaced.  Returns the
    count of each event key received, and a log for failure messages."""
    rng = random.Random(seed)
    got: Counter = Counter()
    log: List[str] = []

    async def getter() -> None:
        while True:
            ev = await q.get()
            got[key(ev)] += 1

    tasks = [asyncio.ensure_future(getter()) for _ in range(n_getters)]
    await asyncio.sleep(0)
    made = 0
    while made < n_events:
        burst = min(n_events - made, rng.randint(1, 6))
        produce(burst)
        made += burst
        log.append(f"+{burst}")
        for _ in range(rng.randint(0, 3)):
            await asyncio.sleep(0) if rng.random() < 0.7 else await asyncio.sleep(0.001)
            if rng.random() < cancel_rate:
                i = rng.randrange(n_getters)
                tasks[i].cancel()
                tasks[i] = asyncio.ensure_future(getter())
                log.append(f"cancel {i}")
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    # The rest go to one-shot getters, all waiting at once: each must get
    # one event with no further help (a getter left asleep while an event
    # is queued times out here).
    left = n_events - sum(got.values())
    log.append(f"{left} left for one-shot getters, qsize {q.qsize()}")

    async def one() -> None:
        ev = await q.get()
        got[key(ev)] += 1

    if left > 0:
        await asyncio.wait_for(asyncio.gather(*(one() for _ in range(left))), 5)
    # Last, FINAL one-shot getters wait first, then one burst arrives: one
    # read returns several events, beyond maxsize (issue 7, case 1).
    waiting = asyncio.gather(*(one() for _ in range(FINAL)))
    await asyncio.sleep(0.001)
    produce(FINAL)
    await asyncio.wait_for(waiting, 5)
    return got, log


def _check(got: Counter, expected: List[Any], log: List[str], what: str) -> None:
    dupes = {k: c for k, c in got.items() if c > 1}
    missing = [k for k in expected if k not in got]
    assert not dupes and not missing, (
        f"{what}: {len(missing)} events never reached a getter (e.g. {missing[:3]}), "
        f"{len(dupes)} duplicated; log: {' '.join(log[-30:])}"
    )


def test_maxsize_one_two_getters_three_files(tmp_path):
    """Issue 7 case 1: the second getter slept forever with an event queued."""

    async def main() -> List[str]:
        async with Inotify_async(maxsize=1) as q:
            q.watch(tmp_path, IN_CREATE)
            a = asyncio.ensure_future(q.get())
            b = asyncio.ensure_future(q.get())
            await asyncio.sleep(0)
            for name in "xyz":
                (tmp_path / name).touch()
            done = await asyncio.wait_for(asyncio.gather(a, b), 5)
            third = await asyncio.wait_for(q.get(), 5)
            return sorted(ev.filename for ev in [*done, third])

    assert asyncio.run(main()) == ["x", "y", "z"]


@pytest.mark.parametrize("maxsize", MAXSIZES)
@pytest.mark.parametrize("getters", [2, 4])
@pytest.mark.parametrize("seed", range(3))
def test_inotify_async_storm(tmp_path, maxsize, getters, seed):
    before = open_fds()
    names: List[str] = []

    def produce(n: int) -> None:
        for _ in range(n):
            name = f"f{len(names)}"
            names.append(name)
            os.close(os.open(tmp_path / name, os.O_CREAT | os.O_WRONLY))

    async def main() -> Tuple[Counter, List[str]]:
        async with Inotify_async(maxsize=maxsize) as q:
            q.watch(tmp_path, IN_CREATE)
            return await asyncio.wait_for(
                _storm(q, produce, lambda ev: ev.filename, 150, getters, seed), SCENARIO_TIMEOUT
            )

    got, log = asyncio.run(main())
    _check(got, names, log, f"Inotify_async maxsize={maxsize} getters={getters} seed={seed}")
    assert open_fds() == before


@pytest.mark.parametrize("maxsize", MAXSIZES)
@pytest.mark.parametrize("seed", range(2))
def test_inotify_tree_async_storm(tmp_path, maxsize, seed):
    names: List[str] = []

    def produce(n: int) -> None:
        for _ in range(n):
            name = f"d{len(names) % 7}"
            (tmp_path / name).mkdir(exist_ok=True)
            path = tmp_path / name / f"f{len(names)}"
            names.append(str(path))
            path.touch()

    async def main() -> Tuple[Counter, List[str]]:
        async with InotifyTree_async(tmp_path, IN_CREATE, maxsize=maxsize) as q:
            return await asyncio.wait_for(
                _storm(q, produce, lambda ev: ev.path, 120, 3, seed), SCENARIO_TIMEOUT
            )

    got, log = asyncio.run(main())
    # The directories' own IN_CREATE events come too: check only the files.
    files = Counter({k: c for k, c in got.items() if os.path.basename(k).startswith("f")})
    _check(files, names, log, f"InotifyTree_async maxsize={maxsize} seed={seed}")


@pytest.mark.parametrize("maxsize", MAXSIZES)
@pytest.mark.parametrize("seed", range(3))
def test_eventfd_semaphore_async_storm(maxsize, seed):
    async def main() -> Tuple[int, List[str]]:
        async with Eventfd_async(0, EFD_SEMAPHORE, maxsize=maxsize) as q:
            seq = iter(range(10**9))
            got, log = await asyncio.wait_for(
                # each get() returns 1: key them by arrival so the sum counts
                _storm(q, q.increment, lambda ev: next(seq), 200, 3, seed),
                SCENARIO_TIMEOUT,
            )
            return sum(got.values()), log

    total, log = asyncio.run(main())
    assert total == 200 + FINAL, (
        f"maxsize={maxsize} seed={seed}: got {total}; {' '.join(log[-20:])}"
    )


def _signalfd_storm(maxsize: int, seed: int) -> Tuple[int, List[str]]:
    sig = signal.SIGRTMIN + 1  # real-time: queued, never coalesced
    pthread_sigmask(SIG_BLOCK, {sig})
    pid = os.getpid()

    def produce(n: int) -> None:
        for _ in range(n):
            os.kill(pid, sig)

    async def main() -> Tuple[int, List[str]]:
        async with Signalfd_async(sig, maxsize=maxsize) as q:
            seq = iter(range(10**9))
            got, log = await asyncio.wait_for(
                _storm(q, produce, lambda ev: next(seq), 200, 3, seed), SCENARIO_TIMEOUT
            )
            return sum(got.values()), log

    return asyncio.run(main())


@pytest.mark.parametrize("maxsize", MAXSIZES)
def test_signalfd_async_storm(maxsize):
    total, log = in_child(_signalfd_storm, maxsize, maxsize)
    assert total == 200 + FINAL, f"maxsize={maxsize}: got {total}; {' '.join(log[-20:])}"


@pytest.mark.skipif(bool(_NO_FANOTIFY), reason=_NO_FANOTIFY)
@pytest.mark.parametrize("maxsize", MAXSIZES)
def test_fanotify_async_storm(tmp_path, maxsize):
    names: List[str] = []

    def produce(n: int) -> None:
        for _ in range(n):
            name = f"f{len(names)}"
            names.append(name)
            os.close(os.open(tmp_path / name, os.O_CREAT | os.O_WRONLY))

    async def main() -> Tuple[Counter, List[str]]:
        async with Fanotify_async(FAN_REPORT_DFID_NAME, maxsize=maxsize) as q:
            q.watch(tmp_path, FAN_CREATE | FAN_EVENT_ON_CHILD)
            return await asyncio.wait_for(
                _storm(q, produce, lambda ev: os.path.basename(ev.filename), 120, 3, maxsize),
                SCENARIO_TIMEOUT,
            )

    got, log = asyncio.run(main())
    _check(got, names, log, f"Fanotify_async maxsize={maxsize}")


@pytest.mark.parametrize("seed", range(3))
def test_aio_context_async_cancellation_storm(tmp_path, seed):
    """Awaited requests cancelled at random: no hang, no leak, every
    request that was not cancelled returns its own data."""
    from butter.asyncio.aio import Context_async

    rng = random.Random(seed)
    path = tmp_path / "data"
    data = os.urandom(256 * 1024)
    path.write_bytes(data)
    before = open_fds()

    async def main() -> int:
        fd = os.open(path, os.O_RDONLY)
        try:
            async with Context_async(32, maxsize=rng.choice(MAXSIZES)) as ctx:
                tasks = []
                for _ in range(300):
                    off = rng.randrange(0, len(data) - 512, 512)
                    tasks.append((off, asyncio.ensure_future(ctx.pread(fd, 512, off))))
                    if rng.random() < 0.3:
                        await asyncio.sleep(0)
                    if rng.random() < 0.3:
                        rng.choice(tasks)[1].cancel()
                ok = 0
                for off, task in tasks:
                    try:
                        got = await asyncio.wait_for(task, 10)
                    except asyncio.CancelledError:
                        continue
                    assert got == data[off : off + 512]
                    ok += 1
                assert ctx.pending == 0
                return ok
        finally:
            os.close(fd)

    assert asyncio.run(main()) > 0
    assert open_fds() == before


@pytest.mark.parametrize("maxsize", MAXSIZES)
def test_timerfd_async_getters_no_hang(maxsize):
    """Several getters on a fast timer, cancelled at random: each keeps
    getting expirations (counts coalesce, so only liveness is checked)."""
    from butter.asyncio.timerfd import Timerfd_async

    async def main() -> int:
        async with Timerfd_async(maxsize=maxsize) as q:
            q.every(seconds=0.001).after(seconds=0.001).update()
            rng = random.Random(maxsize)
            got = 0

            async def getter() -> None:
                nonlocal got
                while True:
                    got += await q.get()

            tasks = [asyncio.ensure_future(getter()) for _ in range(3)]
            for _ in range(100):
                await asyncio.sleep(0.001)
                if rng.random() < 0.3:
                    i = rng.randrange(3)
                    tasks[i].cancel()
                    tasks[i] = asyncio.ensure_future(getter())
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            one = await asyncio.wait_for(q.get(), 5)  # still alive
            return got + one

    assert asyncio.run(main()) > 20
