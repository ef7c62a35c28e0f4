"""PidFd_async and NotifyFd_async (seccomp) under asyncio, anyio and trio.

Each test runs in a forked child (``Framework.run``): the seccomp filters
are loaded there, and the processes watched are its own children.
"""

from __future__ import annotations

import gc
import os
import random
import warnings
from collections import Counter
from typing import Any, Dict, List, Tuple

import pytest
from conftest import in_child, open_fds

from butter.pidfd import CLD_EXITED


def fork_exit(status: int, wait_fd: int = -1) -> int:
    """A child that exits with *status* (once *wait_fd* is readable, if given)."""
    pid = os.fork()
    if pid == 0:
        try:
            if wait_fd >= 0:
                # Hold nothing of the parent's (the pipe's write end, the
                # test child's result pipe) while waiting.
                os.closerange(3, wait_fd)
                os.closerange(wait_fd + 1, 1 << 16)
                os.read(wait_fd, 1)
        finally:
            os._exit(status)
    return pid


# -- pidfd --------------------------------------------------------------------------
def test_pidfd_exit_arrives(framework: Any) -> None:
    """The exit the kernel reports (the status waitpid() still finds: not
    reaped), again on a later get(), once from ``async for`` (not at all
    once get() returned it)."""
    fw = framework

    async def main() -> Dict[str, Any]:
        mod = fw.module("pidfd")
        r, w = os.pipe()
        pid = fork_exit(7, r)
        os.close(r)
        out: Dict[str, Any] = {"pid": pid}
        async with mod.PidFd_async(pid) as pf:
            assert pf.pid == pid and pf.empty()
            with pytest.raises(fw.QueueEmpty):
                pf.get_nowait()
            got: List[Any] = []

            async def getter() -> None:
                got.append(await pf.get())

            async with fw.task_group() as tg:
                tg.spawn(getter)
                await fw.sleep(0.01)
                os.close(w)  # the child exits
            out["first"] = got[0]
            out["again"] = await fw.wait_for(5, pf.get)
            out["after_get"] = [ev async for ev in pf]  # given out already
        async with mod.PidFd_async(pid) as pf:  # the zombie, not reaped
            out["iterated"] = [ev async for ev in pf]
        out["status"] = os.waitpid(pid, 0)[1]
        return out

    out = fw.run(main)
    assert tuple(out["first"]) == (out["pid"], CLD_EXITED, 7)
    assert out["again"] == out["first"] and out["iterated"] == [out["first"]]
    assert out["after_get"] == []
    assert os.waitstatus_to_exitcode(out["status"]) == 7


@pytest.mark.parametrize("seed", range(2))
def test_pidfd_getters_cancelled_at_random(framework: Any, seed: int) -> None:
    """Getters churned by random cancels and timeouts while the process
    runs, then exits: every getter after the exit sees it; none hangs."""
    fw = framework
    rng = random.Random(f"pidfd-{fw.name}-{seed}")

    async def main() -> Tuple[int, List[Any]]:
        mod = fw.module("pidfd")
        r, w = os.pipe()
        pid = fork_exit(3, r)
        os.close(r)
        results: List[Any] = []
        async with mod.PidFd_async(pid) as pf:

            async def getter() -> None:
                while True:
                    async with fw.move_on_after(rng.random() * 0.004):
                        results.append(await pf.get())
                        return

            async with fw.task_group() as tg:
                handles = [tg.spawn(getter) for _ in range(4)]
                for step in range(60):
                    await fw.sleep(rng.random() * 0.001)
                    if rng.random() < 0.4:
                        i = rng.randrange(4)
                        handles[i].cancel()
                        handles[i] = tg.spawn(getter)
                    if step == 40:
                        os.close(w)
            results.append(await fw.wait_for(5, pf.get))
        os.waitpid(pid, 0)
        return pid, results

    pid, results = fw.run(main)
    assert results and all(tuple(ev) == (pid, CLD_EXITED, 3) for ev in results)


def test_pidfd_close_gc_leak(framework: Any) -> None:
    """close() fails pending getters; unclosed: a ResourceWarning; 30
    processes watched and closed leave no fd."""
    fw = framework

    def child() -> Tuple[List[str], set]:
        before = open_fds()

        async def main() -> set:
            mod = fw.module("pidfd")
            r, w = os.pipe()
            pid = fork_exit(0, r)
            pf = mod.PidFd_async(pid)
            errors: List[BaseException] = []

            async def getter() -> None:
                try:
                    await pf.get()
                except ValueError as exc:
                    errors.append(exc)

            async with fw.task_group() as tg:
                for _ in range(3):
                    tg.spawn(getter)
                await fw.sleep(0.01)
                pf.close()
                pf.close()
            assert len(errors) == 3 and all(isinstance(e, fw.Closed) for e in errors), errors
            with pytest.raises(ValueError):
                pf.fileno()
            os.close(w)
            os.close(r)
            os.waitpid(pid, 0)
            inner = open_fds()
            for _ in range(30):
                async with mod.PidFd_async(fork_exit(0)) as pf:
                    await fw.wait_for(5, pf.get)
                os.waitpid(pf.pid, 0)
            leaked = open_fds() - inner
            lost = mod.PidFd_async(fork_exit(0))
            await fw.wait_for(5, lost.get)
            os.waitpid(lost.pid, 0)
            return leaked

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            leaked = fw.run(main, fork=False)
            for _ in range(3):
                gc.collect()
        assert not leaked
        return [f"{w.category.__name__}: {w.message}" for w in caught], open_fds() - before

    warned, leaked = in_child(child, timeout=30)
    assert len(warned) == 1 and warned[0].startswith("ResourceWarning: unclosed <PidFd_async")
    assert not leaked


# -- seccomp user notification ----------------------------------------------------
def _seccomp() -> Any:
    try:
        import butter.seccomp as S
    except ImportError as exc:  # libseccomp.so.2 not installed
        pytest.skip(str(exc))
    return S


def _notify_filter(S: Any) -> Any:
    """A filter sending getsid(2) to the supervisor (a call no framework
    makes), loaded in this (forked) process."""
    f = S.SyscallFilter(S.ALLOW)
    f.add_rule(S.NOTIFY, "getsid")
    f.load()
    return f


def _worker(calls: List[int]) -> int:
    """A child calling getsid(n) for each n; the supervisor answers n + 1."""
    pid = os.fork()
    if pid == 0:
        ok = True
        try:
            os.closerange(3, 1 << 16)  # hold nothing of the parent's
            for n in calls:
                ok = ok and os.getsid(n) == n + 1
        finally:
            os._exit(0 if ok else 1)
    return pid


@pytest.mark.parametrize("seed", range(2))
def test_seccomp_supervisor_storm(framework: Any, seed: int) -> None:
    """Three filtered processes, 20 calls each, answered by three getters
    cancelled (and timed out) at random: every call is notified exactly
    once (a lost one would leave its process stuck: the test would hang),
    every process sees its answers."""
    S = _seccomp()
    fw = framework
    rng = random.Random(f"seccomp-{fw.name}-{seed}")
    maxsize = rng.choice([0, 1, 2])

    async def main() -> Tuple[Counter, List[Tuple[int, int]], List[int]]:
        mod = fw.module("seccomp")
        assert mod.Notification_async is mod.NotifyFd_async
        f = _notify_filter(S)
        got: Counter = Counter()
        expected: List[Tuple[int, int]] = []
        pids: List[int] = []
        async with mod.NotifyFd_async(f, maxsize=maxsize) as q:
            done = fw.event()

            async def answer(n: Any) -> None:
                got[n.pid, n.syscall_args[0]] += 1
                q.respond(S.NotificationResponse(n, val=n.syscall_args[0] + 1))
                if sum(got.values()) == 60:
                    done.set()

            async def getter() -> None:
                while True:
                    if rng.random() < 0.5:
                        async with fw.move_on_after(rng.random() * 0.003):
                            n = await q.get()
                            await answer(n)
                    else:
                        await answer(await q.get())

            async with fw.task_group() as tg:
                handles = [tg.spawn(getter) for _ in range(3)]
                for k in range(3):
                    calls = [1000 * (k + 1) + j for j in range(20)]
                    pid = _worker(calls)
                    pids.append(pid)
                    expected += [(pid, n) for n in calls]
                while not done.is_set():
                    await fw.sleep(rng.random() * 0.002)
                    if rng.random() < 0.4:
                        i = rng.randrange(3)
                        handles[i].cancel()
                        handles[i] = tg.spawn(getter)
                for h in handles:
                    h.cancel()
        codes = [os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) for pid in pids]
        return got, expected, codes

    got, expected, codes = fw.run(main, timeout=30)
    assert got == Counter(expected)
    assert codes == [0, 0, 0]


def test_seccomp_close_and_gone(framework: Any) -> None:
    """close() fails pending getters and is idempotent; a second object on
    the same filter answers a filtered child; no fd is left."""
    S = _seccomp()
    fw = framework

    async def main() -> Dict[str, Any]:
        mod = fw.module("seccomp")
        f = _notify_filter(S)
        before = open_fds()
        out: Dict[str, Any] = {"errors": []}
        q = mod.NotifyFd_async(f)

        async def getter() -> None:
            try:
                await q.get()
            except ValueError as exc:
                out["errors"].append(exc)

        async with fw.task_group() as tg:
            tg.spawn(getter)
            tg.spawn(getter)
            await fw.sleep(0.01)
            q.close()
        q.close()
        with pytest.raises(ValueError):
            q.fileno()
        out["closed_ok"] = all(isinstance(e, fw.Closed) for e in out["errors"])
        out["n_errors"] = len(out["errors"])
        del out["errors"]
        async with mod.NotifyFd_async(f) as q:
            pid = _worker([5])
            n = await fw.wait_for(5, q.get)
            q.respond(S.NotificationResponse(n, val=6))
            out["worker"] = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
        out["leaked"] = open_fds() - before
        return out

    out = fw.run(main)
    assert out["closed_ok"] and out["n_errors"] == 2
    assert out["worker"] == 0 and not out["leaked"]
