"""butter.asyncio.seccomp.NotifyFd_async (alias Notification_async): a
supervisor on an event loop.

Filters are loaded only in forked children.
"""

from __future__ import annotations

import asyncio
import errno
import os
import socket

import pytest
from conftest import in_child, open_fds

try:
    import butter.seccomp as S
except ImportError as exc:  # libseccomp.so.2 not installed
    pytest.skip(str(exc), allow_module_level=True)
from butter.asyncio.seccomp import Notification_async, NotifyFd_async


def _supervise(use_uvloop):
    f = S.SyscallFilter(S.ALLOW)
    f.add_rule(S.NOTIFY, "getppid")
    f.add_rule(S.NOTIFY, "getsid")  # not uname: libuv calls it
    f.load()
    pid = os.fork()
    if pid == 0:
        ok = os.getppid() == 777
        try:
            os.getsid(0)
            ok = False
        except PermissionError:
            pass
        os._exit(0 if ok else 1)

    async def main():
        async with NotifyFd_async(f) as q:
            n = await asyncio.wait_for(q.get(), 10)
            assert n.pid == pid and n.syscall_name == "getppid"
            assert q.id_valid(n.id)
            q.respond(S.NotificationResponse(n, val=777))
            names = []
            async for n in q:
                names.append(n.syscall_name)
                q.respond(S.NotificationResponse(n, error=-errno.EPERM))
                break
            assert names == ["getsid"]
            with pytest.raises(asyncio.QueueEmpty):
                q.get_nowait()
        assert q.closed
        with pytest.raises(ValueError):
            q.respond(S.NotificationResponse(n))
        return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])

    if use_uvloop:
        uvloop = pytest.importorskip("uvloop")
        return uvloop.run(main()) if hasattr(uvloop, "run") else asyncio.run(main())
    return asyncio.run(main())


@pytest.mark.parametrize("use_uvloop", [False, True], ids=["asyncio", "uvloop"])
def test_notification_async_supervisor(use_uvloop):
    try:
        import uvloop  # noqa: F401
    except ImportError:
        if use_uvloop:
            pytest.skip("uvloop not installed")
    assert in_child(_supervise, use_uvloop) == 0


def _passed_fd_and_hangup():
    """The notify fd arrives over a unix socket; once the filtered process is
    gone, a waiting get() raises ProcessLookupError instead of hanging."""
    parent_sock, child_sock = socket.socketpair()
    pid = os.fork()
    if pid == 0:
        parent_sock.close()
        f = S.SyscallFilter(S.ALLOW)
        f.add_rule(S.NOTIFY, "getppid")
        f.load()
        socket.send_fds(child_sock, [b"x"], [f.get_notify_fd()])
        child_sock.recv(1)
        os._exit(0 if os.getppid() == 5 else 1)
    child_sock.close()
    _, fds, _, _ = socket.recv_fds(parent_sock, 1, 1)
    before = open_fds()

    async def main():
        q = NotifyFd_async(fds[0], maxsize=1)
        os.close(fds[0])
        assert q.empty()
        parent_sock.send(b"g")
        n = await asyncio.wait_for(q.get(), 10)
        q.respond(S.NotificationResponse(n, val=5))
        loop = asyncio.get_running_loop()
        status = await loop.run_in_executor(None, lambda: os.waitpid(pid, 0)[1])
        with pytest.raises(ProcessLookupError):
            await asyncio.wait_for(q.get(), 10)
        q.close()
        return os.waitstatus_to_exitcode(status)

    result = asyncio.run(main())
    parent_sock.close()
    assert not open_fds() - before
    return result


def test_notification_async_passed_fd_and_hangup():
    assert in_child(_passed_fd_and_hangup) == 0


def test_notification_async_bad_input():
    def bad():
        out = []
        for arg in (S.SyscallFilter(S.ALLOW), -1, "x", 2**20):
            try:
                NotifyFd_async(arg)
            except (TypeError, ValueError, OSError) as exc:
                out.append(type(exc).__name__)
        return out

    assert in_child(bad) == ["SeccompError", "ValueError", "TypeError", "OSError"]


def test_named_after_the_sync_class():
    """``<Class>_async`` after butter.seccomp.NotifyFd; the contract's
    ``Notification_async`` is the very same class."""
    assert Notification_async is NotifyFd_async
    assert NotifyFd_async.__name__ == S.NotifyFd.__name__ + "_async"
    import butter.asyncio.seccomp as module

    assert {"NotifyFd_async", "Notification_async"} <= set(module.__all__)
