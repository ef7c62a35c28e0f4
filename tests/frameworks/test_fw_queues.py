"""The async queue contract, per family, under asyncio, anyio and trio.

Every test runs once per framework (the ``framework`` fixture, see
``tests/fw_harness.py``) and per family of discrete events: inotify,
InotifyTree, fanotify, eventfd (``EFD_SEMAPHORE``: one event per count),
signalfd (real-time signals: queued, never merged, each with its value).
timerfd's events are counts of expirations, so it has tests of its own at
the end.  Each test runs in a forked child, bounded in time.

What the kernel did is the reference: the names created, the values
queued, a sync twin watching the same directory; what butter left unread
is read without consuming it (``FIONREAD``, ``/proc/self/fdinfo``,
``sigpending``).
"""

from __future__ import annotations

import ctypes
import fcntl
import gc
import os
import random
import signal
import struct
import termios
import time
import warnings
from collections import Counter
from typing import Any, Dict, List, Tuple

import pytest
from conftest import in_child, needs_fanotify, open_fds

from butter.eventfd import EFD_SEMAPHORE
from butter.fanotify import FAN_CREATE, FAN_EVENT_ON_CHILD, FAN_REPORT_DFID_NAME, Fanotify
from butter.inotify import IN_CREATE, Inotify, InotifyTree

RTSIG = signal.SIGRTMIN + 2  # real-time: queued with its value, never coalesced


def fionread(fd: int) -> int:
    """Bytes the kernel holds for *fd* (inotify, fanotify), unread."""
    buf = fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0")
    return int(struct.unpack("i", buf)[0])


def fdinfo(fd: int) -> Dict[str, str]:
    with open(f"/proc/self/fdinfo/{fd}") as f:
        return dict(line.rstrip("\n").split(":", 1) for line in f if ":" in line)


_libc = ctypes.CDLL(None, use_errno=True)
_libc.sigqueue.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_void_p]


def sigqueue(sig: int, value: int) -> None:
    if _libc.sigqueue(os.getpid(), sig, value) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


class Family:
    """One family of discrete events: how to make its ``*_async`` object,
    make events, name them, and see what the kernel still holds."""

    name = ""
    module = ""
    needs: Any = None  # a skip mark

    def __init__(self, fw: Any, directory: str) -> None:
        self.fw = fw
        self.dir = directory
        self.made = 0

    def make(self, maxsize: int = 0) -> Any:
        raise NotImplementedError

    def produce(self, q: Any, n: int) -> List[Any]:
        """Make *n* events now (the kernel has queued them on return);
        return their keys."""
        raise NotImplementedError

    def key(self, ev: Any) -> Any:
        raise NotImplementedError

    def kernel_holds(self, q: Any) -> bool:
        """Events are waiting in the kernel (butter did not read them)."""
        return fionread(q.fileno()) > 0

    def twin(self) -> Any:
        """A sync object seeing the same events (or None)."""
        return None

    def same(self, ev: Any) -> Any:
        """What of an event a twin must see identically."""
        return tuple(ev)

    def _new_file(self) -> str:
        path = os.path.join(self.dir, f"f{self.made}")
        self.made += 1
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o644))
        return path


class InotifyFamily(Family):
    name = module = "inotify"

    def make(self, maxsize: int = 0) -> Any:
        q = self.fw.module("inotify").Inotify_async(maxsize=maxsize)
        q.watch(self.dir, IN_CREATE)
        return q

    def produce(self, q: Any, n: int) -> List[Any]:
        return [os.path.basename(self._new_file()) for _ in range(n)]

    def key(self, ev: Any) -> Any:
        return ev.filename

    def twin(self) -> Any:
        ino = Inotify()
        ino.watch(self.dir, IN_CREATE)
        return ino

    def same(self, ev: Any) -> Any:
        return (ev.mask, ev.cookie, ev.filename)


class InotifyTreeFamily(Family):
    name = "inotify_tree"
    module = "inotify"

    def make(self, maxsize: int = 0) -> Any:
        return self.fw.module("inotify").InotifyTree_async(self.dir, IN_CREATE, maxsize=maxsize)

    def _new_file(self) -> str:
        sub = os.path.join(self.dir, f"d{self.made % 3}")
        if not os.path.isdir(sub):  # its own event: made before the files are counted
            raise AssertionError("call prepare() first")
        path = os.path.join(sub, f"f{self.made}")
        self.made += 1
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o644))
        return path

    def prepare(self) -> None:
        for i in range(3):
            os.makedirs(os.path.join(self.dir, f"d{i}"), exist_ok=True)

    def produce(self, q: Any, n: int) -> List[Any]:
        return [self._new_file() for _ in range(n)]

    def key(self, ev: Any) -> Any:
        return ev.path

    def twin(self) -> Any:
        return InotifyTree(self.dir, IN_CREATE)


class FanotifyFamily(Family):
    name = module = "fanotify"
    needs = needs_fanotify

    def make(self, maxsize: int = 0) -> Any:
        q = self.fw.module("fanotify").Fanotify_async(FAN_REPORT_DFID_NAME, maxsize=maxsize)
        q.watch(self.dir, FAN_CREATE | FAN_EVENT_ON_CHILD)
        return q

    def produce(self, q: Any, n: int) -> List[Any]:
        return [os.path.basename(self._new_file()) for _ in range(n)]

    def key(self, ev: Any) -> Any:
        return os.path.basename(ev.filename)

    def twin(self) -> Any:
        fan = Fanotify(FAN_REPORT_DFID_NAME)
        fan.watch(self.dir, FAN_CREATE | FAN_EVENT_ON_CHILD)
        return fan

    def same(self, ev: Any) -> Any:
        return (ev.mask, os.path.basename(ev.filename), ev.pid)


class EventfdFamily(Family):
    """``EFD_SEMAPHORE``: each read takes 1 off the counter; the keys are
    all 1, so the check counts them."""

    name = module = "eventfd"

    def make(self, maxsize: int = 0) -> Any:
        return self.fw.module("eventfd").Eventfd_async(0, EFD_SEMAPHORE, maxsize=maxsize)

    def produce(self, q: Any, n: int) -> List[Any]:
        q.increment(n)
        return [1] * n

    def key(self, ev: Any) -> Any:
        return ev

    def kernel_holds(self, q: Any) -> bool:
        return int(fdinfo(q.fileno())["eventfd-count"].strip(), 16) > 0


class SignalfdFamily(Family):
    """``SIGRTMIN+2`` queued to this process with ``sigqueue`` (the value is
    the key); the object blocks it (``block=True``): tests run in a child."""

    name = module = "signalfd"

    def make(self, maxsize: int = 0) -> Any:
        return self.fw.module("signalfd").Signalfd_async(RTSIG, maxsize=maxsize, block=True)

    def produce(self, q: Any, n: int) -> List[Any]:
        keys = list(range(self.made, self.made + n))
        self.made += n
        for value in keys:
            sigqueue(RTSIG, value)
        return keys

    def key(self, ev: Any) -> Any:
        assert ev.signal == RTSIG and ev.pid == os.getpid()
        return ev.ptr

    def kernel_holds(self, q: Any) -> bool:
        return RTSIG in signal.sigpending()


FAMILIES = [InotifyFamily, InotifyTreeFamily, FanotifyFamily, EventfdFamily, SignalfdFamily]


def family_params() -> List[Any]:
    return [
        pytest.param(f, id=f.name, marks=[f.needs] if f.needs is not None else []) for f in FAMILIES
    ]


@pytest.fixture(params=family_params())
def family(request: Any, framework: Any, tmp_path: Any) -> Family:
    fam: Family = request.param(framework, str(tmp_path))
    if isinstance(fam, InotifyTreeFamily):
        fam.prepare()
    return fam


async def settle(fw: Any, rounds: int = 3) -> None:
    """Let the framework run its callbacks (the asyncio reader...) a few times."""
    for _ in range(rounds):
        await fw.sleep(0.005)


# -- events arrive -------------------------------------------------------------------
def test_events_arrive(family: Family) -> None:
    """Events ready before the get(), events made while a getter waits,
    get_nowait(): all there, in the kernel's order, as a sync twin sees them."""
    fw = family.fw

    async def main() -> Tuple[List[Any], List[Any], List[Any]]:
        twin = family.twin()
        async with family.make() as q:
            assert not os.get_blocking(q.fileno())
            expected = family.produce(q, 3)
            got = [await fw.wait_for(5, q.get) for _ in range(3)]
            later: List[Any] = []

            async def one() -> None:
                later.append(await q.get())

            async with fw.task_group() as tg:
                tg.spawn(one)
                await fw.sleep(0.01)  # parked
                expected += family.produce(q, 1)
            got += later
            expected += family.produce(q, 2)
            await settle(fw)
            got.append(q.get_nowait())
            got.append(q.get_nowait())
            with pytest.raises(fw.QueueEmpty):
                q.get_nowait()
            assert q.empty() and q.qsize() == 0
        twin_agrees = True
        if twin is not None:  # the twin's reads block: the events are there
            seen: List[Any] = []
            while len(seen) < len(got):
                seen.append(twin.read_event())
            twin.close()
            twin_agrees = [family.same(ev) for ev in got] == [family.same(ev) for ev in seen]
        return [family.key(ev) for ev in got], expected, twin_agrees

    keys, expected, twin_agrees = fw.run(main)
    assert keys == expected
    assert twin_agrees is True


def test_aliases(family: Family) -> None:
    """get_event()/get_event_nowait() (inotify, fanotify) and
    wait()/wait_nowait() (eventfd, timerfd, signalfd) mean get()/get_nowait()."""
    fw = family.fw
    if family.module in ("inotify", "fanotify"):
        names = ("get_event", "get_event_nowait")
    else:
        names = ("wait", "wait_nowait")

    async def main() -> List[Any]:
        async with family.make() as q:
            expected = family.produce(q, 2)
            first = await fw.wait_for(5, getattr(q, names[0]))
            second = getattr(q, names[1])()
            with pytest.raises(fw.QueueEmpty):
                getattr(q, names[1])()
            return [[family.key(first), family.key(second)], expected]

    got, expected = fw.run(main)
    assert got == expected


# -- backpressure ---------------------------------------------------------------------
@pytest.mark.parametrize("maxsize", [1, 3])
def test_backpressure(family: Family, maxsize: int) -> None:
    """With maxsize N the object holds at most N events and then stops
    reading the fd: what the kernel made next stays in the kernel; taking
    events resumes reading; nothing is dropped and the order is the kernel's."""
    fw = family.fw

    async def main() -> Dict[str, Any]:
        out: Dict[str, Any] = {}
        async with family.make(maxsize) as q:
            assert q.maxsize == maxsize
            expected = family.produce(q, maxsize + 4)
            await settle(fw)
            out["qsize"] = q.qsize()
            out["full"] = q.full()
            expected += family.produce(q, 5)
            await settle(fw)
            out["still"] = q.qsize()
            out["kernel_holds"] = family.kernel_holds(q)
            got = []
            for _ in range(len(expected)):
                got.append(family.key(await fw.wait_for(5, q.get)))
                assert q.qsize() <= maxsize
            out["got"], out["expected"] = got, expected
            await settle(fw)
            out["empty"] = q.empty()
            out["kernel_empty"] = not family.kernel_holds(q)
        return out

    out = fw.run(main)
    # asyncio's reader reads ahead until full; under trio the fd is read
    # when asked (a get(), qsize()): one read(2) may bring less than N.
    assert 1 <= out["qsize"] <= maxsize and out["full"] == (out["qsize"] == maxsize)
    assert out["still"] == out["qsize"]
    if fw.name.endswith("asyncio"):
        assert out["full"]
    assert out["kernel_holds"], "butter read the fd while its queue was full"
    assert out["got"] == out["expected"]
    assert out["empty"] and out["kernel_empty"]


# -- several getters ---------------------------------------------------------------
@pytest.mark.parametrize("maxsize", [0, 1, 2])
def test_several_getters(family: Family, maxsize: int) -> None:
    """N getters wait at once, events come in bursts: each event reaches
    exactly one getter; then N one-shot getters and one burst of N events:
    every getter is served (none sleeps while an event is queued)."""
    fw = family.fw
    n_getters = 4

    async def main() -> Tuple[Counter, List[Any], Counter]:
        got: Counter = Counter()
        async with family.make(maxsize) as q:
            expected: List[Any] = []
            done = fw.event()

            async def getter() -> None:
                while True:
                    got[family.key(await q.get())] += 1
                    if sum(got.values()) == 60:
                        done.set()

            async with fw.task_group() as tg:
                handles = [tg.spawn(getter) for _ in range(n_getters)]
                await fw.sleep(0.005)
                while len(expected) < 60:
                    expected += family.produce(q, min(7, 60 - len(expected)))
                    await fw.sleep(0)
                await fw.wait_for(10, done.wait)
                for h in handles:
                    h.cancel()
            # one event each, all waiting first
            last: Counter = Counter()

            async def once() -> None:
                last[family.key(await q.get())] += 1

            async with fw.task_group() as tg:
                for _ in range(n_getters):
                    tg.spawn(once)
                await fw.sleep(0.005)
                burst = family.produce(q, n_getters)
            return got, expected, last - Counter(burst)

    got, expected, last_extra = fw.run(main)
    assert got == Counter(expected)
    assert not last_extra


# -- cancellation at random points -------------------------------------------------
async def storm(
    family: Family, q: Any, n_events: int, n_getters: int, rng: random.Random
) -> Tuple[Counter, List[Any], List[str]]:
    """Getters loop on get() while events come in random bursts; at random
    points a getter is cancelled (by its handle, or by its own random
    timeout) and replaced.  Then the rest goes to one-shot getters, and a
    last burst to getters that were all waiting first."""
    fw = family.fw
    got: Counter = Counter()
    expected: List[Any] = []
    log: List[str] = []

    async def getter(timeouts: bool) -> None:
        while True:
            if timeouts and rng.random() < 0.5:
                async with fw.move_on_after(rng.random() * 0.003):
                    ev = await q.get()
                    got[family.key(ev)] += 1
            else:
                got[family.key(await q.get())] += 1

    async with fw.task_group() as tg:
        handles = [tg.spawn(getter, i % 2 == 0) for i in range(n_getters)]
        while len(expected) < n_events:
            burst = min(n_events - len(expected), rng.randint(1, 6))
            expected += family.produce(q, burst)
            log.append(f"+{burst}")
            for _ in range(rng.randint(0, 3)):
                r = rng.random()
                await fw.sleep(0 if r < 0.6 else rng.random() * 0.002)
                if rng.random() < 0.35:
                    i = rng.randrange(n_getters)
                    handles[i].cancel()
                    handles[i] = tg.spawn(getter, i % 2 == 0)
                    log.append(f"cancel {i}")
        for h in handles:
            h.cancel()
    left = len(expected) - sum(got.values())
    log.append(f"{left} left, qsize {q.qsize()}")

    async def once() -> None:
        got[family.key(await q.get())] += 1

    # Bounded: a lost event leaves a getter waiting; the check says which.
    async with fw.move_on_after(5), fw.task_group() as tg:
        for _ in range(max(left, 0)):
            tg.spawn(once)
    async with fw.move_on_after(5), fw.task_group() as tg:
        for _ in range(5):
            tg.spawn(once)
        await fw.sleep(0.002)
        expected += family.produce(q, 5)
    return got, expected, log


@pytest.mark.parametrize("seed", range(3))
def test_cancellation_storm(family: Family, seed: int) -> None:
    """The adversarial one: no event lost, none duplicated, whatever
    point a get() is cancelled at (seeded: the seed is in the test id)."""
    fw = family.fw
    rng = random.Random(f"{family.name}-{fw.name}-{seed}")
    maxsize = rng.choice([0, 1, 2, 5])

    async def main() -> Tuple[Counter, List[Any], List[str]]:
        async with family.make(maxsize) as q:
            return await storm(family, q, 150, 3, rng)

    got, expected, log = fw.run(main, timeout=30)
    lost = Counter(expected) - got
    extra = got - Counter(expected)
    assert not lost and not extra, (
        f"maxsize={maxsize}: lost {sorted(lost.items())[:5]} ({sum(lost.values())}), "
        f"duplicated {sorted(extra.items())[:5]} ({sum(extra.values())}); "
        f"log: {' '.join(log[-25:])}"
    )


# -- close ---------------------------------------------------------------------------
def test_close_wakes_getters(family: Family) -> None:
    """close() fails every pending get() (ValueError; under anyio
    ClosedResourceError, a ValueError), ends ``async for``, is idempotent;
    afterwards fileno(), get(), get_nowait() and configuration raise."""
    fw = family.fw

    async def main() -> Dict[str, Any]:
        out: Dict[str, Any] = {"errors": [], "got": [], "iterated": None}
        iterated: List[Any] = []
        q = family.make()
        fd = q.fileno()

        async def getter() -> None:
            try:
                out["got"].append(family.key(await q.get()))
            except ValueError as exc:
                out["errors"].append(exc)

        async def iterate() -> None:
            async for ev in q:
                iterated.append(family.key(ev))
            out["iterated"] = iterated

        async def taken() -> None:
            while not out["got"] and not iterated:
                await fw.sleep(0.002)

        async with fw.task_group() as tg:
            for _ in range(3):
                tg.spawn(getter)
            tg.spawn(iterate)
            await fw.sleep(0.01)
            out["produced"] = family.produce(q, 1)  # to the iterator or a getter
            await fw.wait_for(5, taken)
            q.close()
        out["closed"] = q.closed
        q.close()  # idempotent
        with pytest.raises(ValueError):
            q.fileno()
        with pytest.raises(ValueError):
            q.get_nowait()
        with pytest.raises(ValueError):
            await q.get()
        try:
            os.fstat(fd)
            out["fd_open"] = True
        except OSError:
            out["fd_open"] = False
        return out

    out = fw.run(main)
    assert out["closed"] and not out["fd_open"]
    assert out["iterated"] is not None, "async for did not end at close()"
    assert all(isinstance(e, fw.Closed) for e in out["errors"]), out["errors"]
    assert len(out["errors"]) + len(out["got"]) == 3
    assert sorted(out["got"] + out["iterated"]) == out["produced"]


# -- garbage collection and fd leaks ------------------------------------------------
def test_gc_warns_and_releases(family: Family) -> None:
    """An object used under the framework, then dropped unclosed: one
    ResourceWarning naming its class, and its fd is closed."""
    fw = family.fw

    def child() -> Tuple[List[str], set]:
        before = open_fds()

        async def main() -> str:
            q = family.make(2)
            family.produce(q, 3)
            await fw.wait_for(5, q.get)
            return type(q).__name__

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            name = fw.run(main, fork=False)
            for _ in range(3):
                gc.collect()  # PyPy runs finalizers after a collection
        got = [f"{w.category.__name__}: {w.message}" for w in caught]
        assert any(name in g and g.startswith("ResourceWarning") for g in got), got
        return got, open_fds() - before

    warned, leaked = in_child(child, timeout=30)
    assert len(warned) == 1, warned
    assert not leaked


def test_no_fd_leak(family: Family) -> None:
    """Repeated create/use/close (and create/close) under the framework."""
    fw = family.fw

    async def main() -> set:
        before = open_fds()
        for i in range(30):  # (closing an inotify fd waits for the kernel: slow)
            async with family.make(i % 3) as q:
                family.produce(q, 2)
                await q.get()
        for _ in range(30):
            family.make().close()
        return open_fds() - before

    assert fw.run(main) == set()


# -- timerfd: events are counts -----------------------------------------------------
def expirations(start_ns: int, period_ns: int, t_ns: int) -> int:
    """How many times a timer first due at *start_ns*, then every
    *period_ns*, has expired by *t_ns*."""
    return 0 if t_ns < start_ns else (t_ns - start_ns) // period_ns + 1


def test_timerfd_arrives_and_backpressure(framework: Any) -> None:
    """A one-shot timer gives 1; with maxsize=1 a periodic timer's later
    expirations stay counted in the kernel (fdinfo ticks) and come back
    summed in the next event."""
    fw = framework

    async def main() -> Dict[str, Any]:
        out: Dict[str, Any] = {}
        mod = fw.module("timerfd")
        assert mod.Timer_async is mod.Timerfd_async
        async with mod.Timerfd_async() as t:
            t.every().after(seconds=0.002).update()
            out["one"] = await fw.wait_for(5, t.wait)
            with pytest.raises(fw.QueueEmpty):
                t.wait_nowait()
        async with mod.Timerfd_async(maxsize=1) as t:
            t.every(seconds=0.001).after(seconds=0.001).update()
            await fw.sleep(0.02)
            await settle(fw)
            out["full"] = t.qsize() == 1 and t.full()  # (qsize() reads if empty)
            await fw.sleep(0.01)
            out["ticks"] = int(fdinfo(t.fileno())["ticks"])
            first = await t.get()
            second = await fw.wait_for(5, t.get)
            out["counts"] = (first, second)
        return out

    out = fw.run(main)
    assert out["one"] == 1
    assert out["full"] and out["ticks"] >= 1
    assert out["counts"][0] >= 1 and out["counts"][1] >= out["ticks"]


@pytest.mark.parametrize("seed", range(2))
def test_timerfd_cancellation_storm(framework: Any, seed: int) -> None:
    """A 1 ms periodic timer (absolute start) under cancelled getters: the
    expirations received add up to what the clock says the kernel counted
    (bounds from the monotonic clock around the last read)."""
    fw = framework
    rng = random.Random(f"timerfd-{fw.name}-{seed}")
    maxsize = rng.choice([0, 1, 3])
    period = 1_000_000

    async def main() -> Tuple[int, int, int, List[str]]:
        mod = fw.module("timerfd")
        total = 0
        log: List[str] = []
        async with mod.Timerfd_async(maxsize=maxsize) as t:
            start = time.monotonic_ns() + 2_000_000
            t.every(nano_seconds=period).after(nano_seconds=start).update(absolute=True)

            async def getter() -> None:
                nonlocal total
                while True:
                    # (not ``total += await ...``: that reads total before waiting)
                    if rng.random() < 0.5:
                        async with fw.move_on_after(rng.random() * 0.003):
                            count = await t.get()
                            total += count
                    else:
                        count = await t.get()
                        total += count

            async with fw.task_group() as tg:
                handles = [tg.spawn(getter) for _ in range(3)]
                for _ in range(80):
                    await fw.sleep(rng.random() * 0.002)
                    if rng.random() < 0.4:
                        i = rng.randrange(3)
                        handles[i].cancel()
                        handles[i] = tg.spawn(getter)
                        log.append(f"cancel {i}")
                for h in handles:
                    h.cancel()
            while True:  # what was read already
                try:
                    count = t.get_nowait()
                    total += count
                except fw.QueueEmpty:
                    break
            before = time.monotonic_ns()
            count = await fw.wait_for(5, t.get)  # reads the kernel count now
            total += count
            after = time.monotonic_ns()
        return (
            total,
            expirations(start, period, before),
            expirations(start, period, after),
            log,
        )

    total, low, high, log = fw.run(main, timeout=30)
    assert low <= total <= high, f"maxsize={maxsize}: {total} not in [{low}, {high}]; {log[-10:]}"


def test_timerfd_close_gc_leak(framework: Any) -> None:
    fw = framework

    def child() -> Tuple[List[str], set]:
        before = open_fds()

        async def main() -> set:
            mod = fw.module("timerfd")
            t = mod.Timerfd_async()
            t.every(seconds=3600).after(seconds=3600).update()
            errors: List[BaseException] = []

            async def getter() -> None:
                try:
                    await t.get()
                except ValueError as exc:
                    errors.append(exc)

            async with fw.task_group() as tg:
                tg.spawn(getter)
                tg.spawn(getter)
                await fw.sleep(0.01)
                t.close()
            assert len(errors) == 2 and all(isinstance(e, fw.Closed) for e in errors)
            with pytest.raises(ValueError):
                t.fileno()
            with pytest.raises(ValueError):
                t.every(seconds=1)
            inner = open_fds()
            for _ in range(50):
                async with mod.Timerfd_async() as t:
                    t.every().after(seconds=0.0001).update()
                    await t.get()
            leaked = open_fds() - inner
            lost = mod.Timerfd_async()
            lost.every().after(seconds=0.0001).update()
            await lost.get()
            return leaked

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            leaked = fw.run(main, fork=False)
            for _ in range(3):
                gc.collect()
        assert not leaked
        return [f"{w.category.__name__}: {w.message}" for w in caught], open_fds() - before

    warned, leaked = in_child(child, timeout=30)
    assert len(warned) == 1 and warned[0].startswith("ResourceWarning") and "Timer" in warned[0]
    assert not leaked
