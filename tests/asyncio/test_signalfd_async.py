"""butter.asyncio.signalfd.Signalfd_async against the real kernel.

Every test blocks signals, so each runs its event loop in a forked child.
"""

from __future__ import annotations

import asyncio
import ctypes
import fcntl
import os
import signal
import time
import warnings

import pytest
from conftest import in_child, open_fds

from butter.asyncio.signalfd import Signalfd_async
from butter.signalfd import SI_QUEUE, SI_USER, Signal, restore_sigmask

USR1, USR2 = signal.SIGUSR1, signal.SIGUSR2
RTMIN = signal.SIGRTMIN


def in_loop(coro_fn, *args):
    """Run ``coro_fn(*args)`` with asyncio.run in a forked child."""
    return in_child(lambda: asyncio.run(coro_fn(*args)))


def sigqueue(sig: int, value: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.sigqueue.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_void_p]
    if libc.sigqueue(os.getpid(), sig, value) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


def test_get_ready_now_and_later():
    async def main():
        async with Signalfd_async(USR1, block=True) as q:
            assert not os.get_blocking(q.fileno())
            assert bool(fcntl.fcntl(q.fileno(), fcntl.F_GETFD) & fcntl.FD_CLOEXEC)
            os.kill(os.getpid(), USR1)
            now = await q.get()  # already pending: no trip through the loop
            loop = asyncio.get_running_loop()
            loop.call_later(0.01, os.kill, os.getpid(), USR1)
            later = await asyncio.wait_for(q.wait(), 5)  # through add_reader
            os.kill(os.getpid(), USR1)
            nowait = q.wait_nowait()
            with pytest.raises(asyncio.QueueEmpty):
                q.get_nowait()
            return now, later, nowait, os.getpid()

    now, later, nowait, pid = in_loop(main)
    for ev in (now, later, nowait):
        assert isinstance(ev, Signal)
        assert (ev.signal, ev.code, ev.pid) == (USR1, SI_USER, pid)


def test_configuration_is_forwarded():
    async def main():
        q = Signalfd_async([USR1], block=True)
        try:
            q.enable(USR2)
            q.enable([RTMIN])
            assert USR2 in q and RTMIN in q and q.signals == {USR1, USR2, RTMIN}
            blocked = signal.pthread_sigmask(signal.SIG_BLOCK, [])
            assert blocked >= {USR1, USR2, RTMIN}
            q.disable(USR1)
            assert USR1 not in q
            os.kill(os.getpid(), USR2)
            ev = await q.get()
            q.enable_all()
            assert len(q.signals) == len(signal.valid_signals()) - 2
            q.disable_all()
            assert q.signals == frozenset()
            q.unblock()
            assert not signal.pthread_sigmask(signal.SIG_BLOCK, []) & {USR2, RTMIN}
            q.block()  # (nothing enabled: blocks nothing)
            return ev.signal
        finally:
            q.close()

    assert in_loop(main) == USR2


def test_async_for_and_order_of_queued_values():
    async def main():
        got = []
        async with Signalfd_async(RTMIN, block=True) as q:
            for value in range(40):  # more than one read(2) of 16
                sigqueue(RTMIN, value)
            async for ev in q:
                assert ev.code == SI_QUEUE
                got.append(ev.ptr)
                if len(got) == 40:
                    break
        return got

    assert in_loop(main) == list(range(40))


def test_cancellation_loses_nothing():
    async def main():
        received = []
        sent = 0
        async with Signalfd_async(RTMIN, block=True) as q:
            for i in range(300):
                task = asyncio.ensure_future(q.get())
                for _ in range(i % 3):
                    await asyncio.sleep(0)  # get() parked (or not yet started)
                sigqueue(RTMIN, i)
                sent += 1
                for _ in range(i % 4):
                    await asyncio.sleep(0)  # reader may have woken the getter
                task.cancel()
                try:
                    received.append((await task).ptr)
                except asyncio.CancelledError:
                    pass
            # Whatever the cancelled getters did not take is still queued.
            while True:
                try:
                    received.append((await asyncio.wait_for(q.get(), 0.05)).ptr)
                except asyncio.TimeoutError:
                    break
        return sent, received

    sent, received = in_loop(main)
    assert sorted(received) == list(range(sent))


def test_backpressure_with_maxsize():
    async def main():
        out = {}
        async with Signalfd_async(RTMIN, maxsize=3, block=True) as q:
            assert q.maxsize == 3
            for value in range(10):
                sigqueue(RTMIN, value)
            for _ in range(5):
                await asyncio.sleep(0)
            out["qsize"] = q.qsize()
            out["full"] = q.full()
            loop = asyncio.get_running_loop()
            # The reader is off while full: more signals stay in the kernel.
            out["reader_off"] = not loop.remove_reader(q.fileno())
            for value in range(10, 30):
                sigqueue(RTMIN, value)
            await asyncio.sleep(0.01)
            out["still_full"] = q.qsize()
            values = [(await q.get()).ptr for _ in range(30)]
            out["values"] = values
            out["empty"] = q.empty()
        return out

    out = in_loop(main)
    assert out["qsize"] == 3 and out["full"] and out["reader_off"]
    assert out["still_full"] == 3
    assert out["values"] == list(range(30))
    assert out["empty"]


def test_close_fails_pending_getters():
    async def main():
        q = Signalfd_async(USR1, block=True)
        getters = [asyncio.ensure_future(q.get()) for _ in range(3)]
        await asyncio.sleep(0)
        q.close()
        results = await asyncio.gather(*getters, return_exceptions=True)
        with pytest.raises(ValueError):
            await q.get()
        with pytest.raises(ValueError):
            q.enable(USR2)
        return [type(r).__name__ for r in results], q.closed

    names, closed = in_loop(main)
    assert names == ["ValueError"] * 3 and closed


def test_bad_constructor_leaks_nothing():
    before = open_fds()
    for bad in ("1", None, 1.5):
        with pytest.raises(TypeError):
            Signalfd_async(USR1, 0, bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        Signalfd_async(0)
    assert open_fds() == before


# -- the three pitfalls of block=True under asyncio (issue 11) ----------------
def sigblk(pid="self") -> set:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("SigBlk:"):
                bits = int(line.split()[1], 16)
                return {n for n in range(1, 65) if bits >> (n - 1) & 1}
    raise AssertionError("no SigBlk line")


def test_async_with_restores_the_mask_and_ctrl_c():
    async def main():
        before = sigblk()
        async with Signalfd_async([signal.SIGINT, signal.SIGTERM], block=True) as q:
            inside = sigblk()
            os.kill(os.getpid(), signal.SIGTERM)
            ev = await asyncio.wait_for(q.get(), 5)
        return before, inside, ev.signal, sigblk()

    def child():
        result = asyncio.run(main())
        try:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(1)
            return result, "no KeyboardInterrupt"
        except KeyboardInterrupt:
            return result, "KeyboardInterrupt"

    (before, inside, sig, after), ctrl_c = in_child(child)
    assert inside == before | {signal.SIGINT, signal.SIGTERM}
    assert sig == signal.SIGTERM
    assert after == before and ctrl_c == "KeyboardInterrupt"


def test_subprocess_children_with_restore_sigmask():
    """asyncio.create_subprocess_exec forks in C: the block is inherited
    unless preexec_fn=restore_sigmask; with it a SIGTERM ends ``sleep``."""

    async def main():
        cmd = ["sed", "-n", "s/^SigBlk:[[:space:]]*//p", "/proc/self/status"]
        async with Signalfd_async([signal.SIGTERM, signal.SIGINT], block=True):
            out = {}
            for name, extra in (("plain", {}), ("restored", {"preexec_fn": restore_sigmask})):
                proc = await asyncio.create_subprocess_exec(
                    *cmd, stdout=asyncio.subprocess.PIPE, **extra
                )
                data, _ = await asyncio.wait_for(proc.communicate(), 10)
                out[name] = int(data, 16)
            sleeper = await asyncio.create_subprocess_exec(
                "sleep", "30", preexec_fn=restore_sigmask
            )
            await asyncio.sleep(0.1)
            sleeper.terminate()
            out["sleep"] = await asyncio.wait_for(sleeper.wait(), 10)
        return out

    out = in_loop(main)
    term_int = (1 << (signal.SIGTERM - 1)) | (1 << (signal.SIGINT - 1))
    assert out["plain"] & term_int == term_int  # documented: C fork, no hook
    assert out["restored"] & term_int == 0
    assert out["sleep"] == -signal.SIGTERM


def test_thread_started_earlier_is_reported():
    """A thread from asyncio.to_thread started before block=True keeps
    SIGTERM unblocked: the kernel may deliver it there.  block() warns."""

    async def main():
        await asyncio.to_thread(lambda: None)  # starts an executor thread
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            async with Signalfd_async(signal.SIGTERM, block=True):
                pass
        return [(w.category.__name__, str(w.message)) for w in caught]

    caught = in_loop(main)
    assert len(caught) == 1 and caught[0][0] == "RuntimeWarning"
    assert "SIGTERM" in caught[0][1]
