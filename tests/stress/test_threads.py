"""N threads on one event-like object: every event exactly once, no hang.

SPEC "Threads, races and timeouts": concurrent ``read_event()``,
``read_events()``, ``wait()`` and iteration deliver every event exactly once;
``wait(timeout)`` returns within its timeout even when another thread takes
the event first; ``close()`` from another thread wakes blocked readers.

Every thread is joined with a deadline, so a hang fails the test instead of
stalling the run.  Seeds are printed in assertion messages.
"""

from __future__ import annotations

import os
import random
import signal
import threading
import time
from collections import Counter
from typing import Any, Callable, List, Tuple

import pytest
from conftest import in_child, open_fds

from butter.eventfd import EFD_NONBLOCK, EFD_SEMAPHORE, Eventfd
from butter.inotify import IN_CREATE, IN_NONBLOCK, Inotify, InotifyTree
from butter.signalfd import SFD_NONBLOCK, SIG_BLOCK, Signalfd, pthread_sigmask
from butter.timerfd import Timer

JOIN = 20.0  # seconds: generous, a hang still fails


def run_threads(targets: List[Callable[[], Any]], join: float = JOIN) -> List[Any]:
    """Run each target in a thread; return their results; fail on a hang or
    re-raise the first exception."""
    results: List[Any] = [None] * len(targets)
    errors: List[BaseException] = []

    def wrap(i: int, fn: Callable[[], Any]) -> None:
        try:
            results[i] = fn()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [
        threading.Thread(target=wrap, args=(i, fn), daemon=True) for i, fn in enumerate(targets)
    ]
    for t in threads:
        t.start()
    deadline = time.monotonic() + join
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    stuck = [t.name for t in threads if t.is_alive()]
    assert not stuck, f"threads hung: {stuck}"
    if errors:
        raise errors[0]
    return results


# -- inotify: three readers, one writer ---------------------------------------------
@pytest.mark.parametrize("flags", [0, IN_NONBLOCK], ids=["blocking", "nonblocking"])
@pytest.mark.parametrize("seed", range(2))
def test_inotify_readers_get_each_event_once(tmp_path, flags, seed):
    rng = random.Random(seed)
    n_files = 1500
    before = open_fds()
    ino = Inotify(flags)
    ino.watch(tmp_path, IN_CREATE)
    done = threading.Event()
    names = [f"f{i}" for i in range(n_files)]

    def writer() -> None:
        for name in names:
            os.close(os.open(tmp_path / name, os.O_CREAT | os.O_WRONLY))
        done.set()

    def reader(kind: str) -> List[str]:
        got: List[str] = []
        idle = 0
        while idle < 3:
            evs: List[Any] = []
            if kind == "wait":
                ev = ino.wait(0.2)
                evs = [] if ev is None else [ev]
            elif flags:  # non-blocking: the plain reads
                try:
                    evs = ino.read_events() if kind == "read_events" else [ino.read_event()]
                except BlockingIOError:
                    time.sleep(rng.random() / 1000)
            else:  # blocking: wait, then read what is cached or ready
                ev = ino.wait(0.2)
                if ev is not None:
                    evs = [ev]
                    extra = ino.wait(0) if rng.random() < 0.5 else None
                    if extra is not None:
                        evs.append(extra)
            got.extend(e.filename for e in evs)
            idle = idle + 1 if (not evs and done.is_set()) else 0
        return got

    kinds = ["wait", "read_events", "read_event"]
    results = run_threads([writer, *(lambda k=k: reader(k) for k in kinds)])
    ino.close()
    counts = Counter(name for got in results[1:] for name in got)
    dupes = {n: c for n, c in counts.items() if c > 1}
    missing = set(names) - set(counts)
    assert not dupes, f"seed {seed}: {len(dupes)} duplicated events, e.g. {list(dupes)[:5]}"
    assert not missing, f"seed {seed}: {len(missing)} lost events, e.g. {sorted(missing)[:5]}"
    assert open_fds() == before


def test_inotify_iteration_threads_share_events(tmp_path):
    ino = Inotify()
    ino.watch(tmp_path, IN_CREATE)
    n = 600
    seen: List[str] = []
    lock = threading.Lock()

    def iterate() -> None:
        for ev in ino:  # ends when the main thread closes the object
            with lock:
                seen.append(ev.filename)

    threads = [threading.Thread(target=iterate, daemon=True) for _ in range(3)]
    for t in threads:
        t.start()
    for i in range(n):
        os.close(os.open(tmp_path / f"f{i}", os.O_CREAT | os.O_WRONLY))
    deadline = time.monotonic() + JOIN
    while len(seen) < n and time.monotonic() < deadline:
        time.sleep(0.01)
    ino.close()  # wakes the iterating threads: iteration stops
    for t in threads:
        t.join(5)
    assert not any(t.is_alive() for t in threads), "close() did not end the iterations"
    assert sorted(seen) == sorted(f"f{i}" for i in range(n))


# -- eventfd / timerfd: counters ----------------------------------------------------
def test_two_waiters_one_increment_both_return_in_time():
    """Issue 7 case 4: the loser of the race used to block in read(2)."""
    for _ in range(5):
        with Eventfd() as efd:
            start = time.monotonic()
            barrier = threading.Barrier(3)

            def waiter(barrier: threading.Barrier = barrier, efd: Eventfd = efd) -> Any:
                barrier.wait()
                return efd.wait(0.5)

            def incr(barrier: threading.Barrier = barrier, efd: Eventfd = efd) -> None:
                barrier.wait()
                efd.increment(1)

            results = run_threads([waiter, waiter, incr], join=10)
            assert time.monotonic() - start < 5
            assert sorted(results[:2], key=lambda v: v is None) == [1, None]


@pytest.mark.parametrize("flags", [EFD_SEMAPHORE, EFD_SEMAPHORE | EFD_NONBLOCK])
def test_eventfd_semaphore_threads_count_each_unit_once(flags):
    total = 5000
    with Eventfd(0, flags) as efd:
        stop = threading.Event()

        def producer() -> int:
            for _ in range(total):
                efd.increment(1)
            stop.set()
            return 0

        def consumer(kind: int) -> int:
            got = 0
            while True:
                if kind == 0:
                    v = efd.wait(0.05)
                elif flags & EFD_NONBLOCK:
                    try:
                        v = efd.read_event()
                    except BlockingIOError:
                        v = None
                else:
                    v = efd.wait(0.05)
                if v is None:
                    if not stop.is_set():
                        continue
                    v = efd.wait(0)  # a last look: what it takes counts too
                    if v is None:
                        return got
                got += v

        results = run_threads([producer, *(lambda k=k: consumer(k % 2) for k in range(3))])
        assert sum(results[1:]) == total


def test_timer_threads_share_expirations():
    with Timer() as timer:
        timer.every(seconds=0.001).after(seconds=0.001).update()
        stop = time.monotonic() + 0.5

        def reader(kind: int) -> int:
            got = 0
            while time.monotonic() < stop:
                v = timer.wait(0.05) if kind else timer.read_event()
                got += v or 0
            return got

        results = run_threads([lambda k=k: reader(k % 2) for k in range(3)])
        timer.disable()
        # Roughly 500 expirations, none counted twice (each read resets).
        assert 200 < sum(results) <= 600


# -- signalfd: queued real-time signals, in a child (signal mask) ----------------
def _signalfd_threads(flags: int) -> int:
    sig = signal.SIGRTMIN
    pthread_sigmask(SIG_BLOCK, {sig})
    n = 2000
    with Signalfd(sig, flags) as sfd:
        stop = threading.Event()

        def producer() -> int:
            for _ in range(n):
                signal.pthread_sigmask(signal.SIG_BLOCK, {sig})
                os.kill(os.getpid(), sig)
            stop.set()
            return 0

        def consumer() -> int:
            got = 0
            while True:
                ev = sfd.wait(0.05)
                if ev is None:
                    if not stop.is_set():
                        continue
                    ev = sfd.wait(0)  # a last look: what it takes counts too
                    if ev is None:
                        return got
                got += 1

        results = run_threads([producer, consumer, consumer, consumer])
    return sum(results[1:])


@pytest.mark.parametrize("flags", [0, SFD_NONBLOCK])
def test_signalfd_threads_each_signal_once(flags):
    # Real-time signals queue (up to RLIMIT_SIGPENDING): none coalesce.
    assert in_child(_signalfd_threads, flags, timeout=60) == 2000


# -- close() wakes a blocked reader ------------------------------------------------
def _blocked_and_closed(obj: Any, call: Callable[[], Any]) -> Any:
    """Start *call* in a thread, close *obj* while it blocks, return what the
    thread raised or returned."""
    out: List[Any] = []
    started = threading.Event()

    def run() -> None:
        started.set()
        try:
            out.append(("ok", call()))
        except BaseException as exc:
            out.append(("err", exc))

    t = threading.Thread(target=run, daemon=True)
    t.start()
    started.wait()
    time.sleep(0.1)  # let it block
    obj.close()
    t.join(5)
    assert not t.is_alive(), f"close() did not wake {call}"
    return out[0]


def _objects(tmp_path, how):
    sub = tmp_path / "tree"
    sub.mkdir(exist_ok=True)
    ino = Inotify()
    ino.watch(tmp_path)
    if how != "read_event":
        # A blocking Eventfd/Timer/Signalfd read_event() sleeps in read(2),
        # which close() cannot interrupt (documented); the rest wake.
        yield "Eventfd", Eventfd()
        yield "Timer", Timer()
    yield "Inotify", ino
    yield "InotifyTree", InotifyTree(sub)


@pytest.mark.parametrize("how", ["wait", "wait_timeout", "read_event", "read_events", "iterate"])
def test_close_wakes_blocked_reader(tmp_path, how):
    before = open_fds()
    for name, obj in _objects(tmp_path, how):
        call = {
            "wait": obj.wait,
            "wait_timeout": lambda o=obj: o.wait(30),
            "read_event": obj.read_event,
            "read_events": obj.read_events,
            "iterate": lambda o=obj: list(o),
        }[how]
        kind, value = _blocked_and_closed(obj, call)
        if how == "iterate":
            assert (kind, value) == ("ok", []), name
        else:
            assert kind == "err" and isinstance(value, ValueError), (name, kind, value)
            assert "closed" in str(value)
    assert open_fds() == before


def _signalfd_close_wakes() -> str:
    pthread_sigmask(SIG_BLOCK, {signal.SIGUSR1})
    sfd = Signalfd(signal.SIGUSR1)
    kind, value = _blocked_and_closed(sfd, sfd.wait)
    return f"{kind} {type(value).__name__}"


def test_close_wakes_blocked_signalfd_reader():
    assert in_child(_signalfd_close_wakes) == "err ValueError"


def test_close_during_many_waiters_leaks_no_fd(tmp_path):
    before = open_fds()
    for _ in range(30):
        efd = Eventfd()
        threads = [
            threading.Thread(target=_swallow, args=(efd.wait,), daemon=True) for _ in range(4)
        ]
        for t in threads:
            t.start()
        time.sleep(0.005)
        efd.close()
        for t in threads:
            t.join(5)
        assert not any(t.is_alive() for t in threads)
    assert open_fds() == before


def _swallow(fn: Callable[[], Any]) -> None:
    try:
        fn()
    except ValueError:
        pass


# -- InotifyTree shared by threads --------------------------------------------------
def test_inotify_tree_three_threads_consistent(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    tree = InotifyTree(root)
    stop = threading.Event()

    def mutate() -> None:
        rng = random.Random(7)
        for i in range(300):
            d = root / f"d{i % 30}"
            d.mkdir(exist_ok=True)
            (d / f"f{i}").write_bytes(b"x")
            if rng.random() < 0.2:
                (d / f"sub{i}").mkdir()
        stop.set()

    def read() -> None:
        idle = 0
        while idle < 3:
            ev = tree.wait(0.1)
            idle = idle + 1 if (ev is None and stop.is_set()) else 0

    run_threads([mutate, read, read, read])
    while tree.wait(0.2) is not None:
        pass
    real = set()
    for dirpath, dirnames, filenames in os.walk(root):
        real.update(os.path.join(dirpath, n) for n in dirnames + filenames)
    believed = tree.paths()
    tree.close()
    assert believed == real, (sorted(real - believed)[:5], sorted(believed - real)[:5])


# -- aio: threads submitting and harvesting on one Context -----------------------
def test_aio_context_threads_each_completion_once(tmp_path):
    from butter.aio import Context

    path = tmp_path / "data"
    path.write_bytes(os.urandom(64 * 1024))
    fd = os.open(path, os.O_RDONLY)
    per_thread = 300
    try:
        with Context(64) as ctx:
            submitted: List[Any] = []
            lock = threading.Lock()

            def worker(seed: int) -> List[Any]:
                rng = random.Random(seed)
                got: List[Any] = []
                for _ in range(per_thread):
                    req = ctx.pread(fd, 512, rng.randrange(0, 64 * 1024, 512))
                    with lock:
                        submitted.append(req)
                    if rng.random() < 0.3:
                        got += ctx.get_events(0, timeout=0)
                    elif rng.random() < 0.2:
                        ev = ctx.wait(0.01)
                        if ev is not None:
                            got.append(ev)
                return got

            results = run_threads([lambda s=s: worker(s) for s in range(3)])
            rest: List[Any] = []
            deadline = time.monotonic() + 10
            while sum(map(len, results)) + len(rest) < len(submitted):
                assert time.monotonic() < deadline, "completions lost"
                rest += ctx.get_events(1, timeout=1)
        counts = Counter(id(r) for got in [*results, rest] for r in got)
        assert len(counts) == len(submitted) == 3 * per_thread
        assert max(counts.values()) == 1, "a completion was reported twice"
        assert all(r.done() and len(r.result) == 512 for r in submitted)
    finally:
        os.close(fd)


@pytest.mark.parametrize("how", ["get_events", "wait"])
def test_close_wakes_aio_waiter(how):
    from butter.aio import Context

    ctx = Context()
    call = ctx.wait if how == "wait" else lambda: ctx.get_events(1)
    kind, value = _blocked_and_closed(ctx, call)
    assert kind == "err" and isinstance(value, ValueError), (kind, value)


# -- seccomp user notification: supervisor threads share one NotifyFd -------------
def _seccomp_supervisor_threads() -> Tuple[int, int, int]:
    import socket

    from butter import seccomp as S

    parent_sock, child_sock = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    calls_per_thread, n_threads = 100, 4
    pid = os.fork()
    if pid == 0:  # the supervised process: four threads calling getppid
        code = 1
        try:
            parent_sock.close()
            f = S.SyscallFilter(S.ALLOW)
            f.add_rule(S.NOTIFY, "getppid")
            f.load()
            socket.send_fds(child_sock, [b"x"], [f.get_notify_fd()])
            bad: List[int] = []

            def call() -> None:
                for _ in range(calls_per_thread):
                    v = os.getppid()
                    if v != 4242:
                        bad.append(v)

            ts = [threading.Thread(target=call) for _ in range(n_threads)]
            for t in ts:
                t.start()
            for t in ts:
                t.join()
            code = 0 if not bad else 1
        finally:
            os._exit(code)
    child_sock.close()
    _, fds, _, _ = socket.recv_fds(parent_sock, 1, 1)
    seen: Counter = Counter()
    seen_lock = threading.Lock()
    total = calls_per_thread * n_threads
    with S.NotifyFd(fds[0]) as nfd:
        os.close(fds[0])

        def supervise() -> int:
            answered = 0
            while True:
                with seen_lock:
                    if sum(seen.values()) >= total:
                        break
                try:
                    n = nfd.wait(0.1)
                except ProcessLookupError:
                    break  # the child is done
                if n is None:
                    continue
                with seen_lock:
                    seen[n.id] += 1
                nfd.respond(S.NotificationResponse(n, val=4242))
                answered += 1
            return answered

        run_threads([supervise, supervise, supervise], join=30)
    status = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
    return status, len(seen), max(seen.values())


def test_seccomp_notify_threads_each_notification_once():
    try:
        from butter import seccomp  # noqa: F401
    except ImportError as exc:  # pragma: no cover - libseccomp missing
        pytest.skip(f"butter.seccomp unavailable: {exc}")
    status, distinct, most = in_child(_seccomp_supervisor_threads, timeout=60)
    assert (status, distinct, most) == (0, 400, 1)


def test_fanotify_readers_get_each_event_once(tmp_path):
    from butter.fanotify import (
        FAN_CREATE,
        FAN_EVENT_ON_CHILD,
        FAN_REPORT_DFID_NAME,
        Fanotify,
    )

    try:
        fan = Fanotify(FAN_REPORT_DFID_NAME)
    except OSError as exc:  # pragma: no cover - needs CAP_SYS_ADMIN
        pytest.skip(f"fanotify unavailable: {exc}")
    fan.watch(tmp_path, FAN_CREATE | FAN_EVENT_ON_CHILD)
    names = [f"f{i}" for i in range(1500)]
    done = threading.Event()

    def writer() -> List[str]:
        for name in names:
            os.close(os.open(tmp_path / name, os.O_CREAT | os.O_WRONLY))
        done.set()
        return []

    def reader() -> List[str]:
        got: List[str] = []
        idle = 0
        while idle < 3:
            ev = fan.wait(0.2)
            if ev is None:
                idle = idle + 1 if done.is_set() else 0
                continue
            got.append(os.path.basename(ev.filename))
            ev.close()
        return got

    results = run_threads([writer, reader, reader, reader])
    fan.close()
    counts = Counter(n for got in results for n in got)
    assert max(counts.values()) == 1, "an event was delivered twice"
    assert set(counts) == set(names)
