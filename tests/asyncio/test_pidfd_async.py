"""butter.asyncio.pidfd.PidFd_async."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys

import pytest
from conftest import open_fds

from butter.asyncio.pidfd import PidFd_async
from butter.pidfd import CLD_EXITED


def fork_exit(status: int, delay: float = 0.0) -> int:
    pid = os.fork()
    if pid == 0:
        if delay:
            import time

            time.sleep(delay)
        os._exit(status)
    return pid


def test_get_exit_status():
    async def main():
        pid = fork_exit(6, 0.1)
        async with PidFd_async(pid) as pf:
            assert pf.empty()
            with pytest.raises(asyncio.QueueEmpty):
                pf.get_nowait()
            ev = await asyncio.wait_for(pf.get(), 10)
            assert ev == (pid, CLD_EXITED, 6)
            assert pf.exit == ev
            # The fd stays readable: the object must stop watching it.
            await asyncio.sleep(0.05)
            assert not pf._reading
            assert await pf.get() == ev  # a state: same answer
        assert os.waitpid(pid, 0) == (pid, 6 << 8)  # not reaped by butter
        return True

    assert asyncio.run(main())


def test_async_for_yields_once_and_signal():
    async def main():
        p = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        pf = PidFd_async(p.pid)
        assert pf.pid == p.pid
        pf.send_signal(signal.SIGTERM)
        events = [ev async for ev in pf]
        pf.close()
        return events, p.wait(10)

    events, code = asyncio.run(main())
    assert len(events) == 1 and events[0].returncode == -signal.SIGTERM
    assert code == -signal.SIGTERM


def test_cancelled_get_loses_nothing():
    async def main():
        pid = fork_exit(1, 0.2)
        pf = PidFd_async(pid)
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(pf.get(), 0.01)
        ev = await asyncio.wait_for(pf.get(), 10)
        pf.close()
        os.waitpid(pid, 0)
        return ev

    assert asyncio.run(main()).returncode == 1


def test_close_fails_pending_getter():
    async def main():
        p = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        try:
            pf = PidFd_async(p.pid)
            task = asyncio.ensure_future(pf.get())
            await asyncio.sleep(0.01)
            pf.close()
            with pytest.raises(ValueError):
                await task
        finally:
            p.kill()
            p.wait()

    asyncio.run(main())


def test_subprocess_children_keep_their_status():
    """The docs' pattern with a Popen or an asyncio subprocess: butter reads
    the exit, the owner's wait() still returns the real code (not 0)."""

    async def main():
        codes = []
        for how in ("popen", "pid"):
            p = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
            async with PidFd_async(p if how == "popen" else p.pid) as pf:
                ev = await asyncio.wait_for(pf.get(), 10)
            codes.append((ev.returncode, p.wait(10)))
        proc = await asyncio.create_subprocess_exec(sys.executable, "-c", "raise SystemExit(3)")
        async with PidFd_async(proc) as pf:
            ev = await asyncio.wait_for(pf.get(), 10)
        codes.append((ev.returncode, await asyncio.wait_for(proc.wait(), 10)))
        pid = fork_exit(3, 0.05)
        async with PidFd_async(pid) as pf:
            ev = await asyncio.wait_for(pf.get(), 10)
        codes.append((ev.returncode, os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])))
        return codes

    assert asyncio.run(main()) == [(3, 3)] * 4


def test_no_fd_leak():
    async def main():
        me = os.getpid()
        for _ in range(2000):
            PidFd_async(me).close()
        for _ in range(200):
            async with PidFd_async(me):
                pass

    before = open_fds()
    asyncio.run(main())
    assert open_fds() == before
