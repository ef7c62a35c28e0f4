"""Shared test helpers.

* ``open_fds()``: the fds this process has open (from /proc/self/fd).
* ``in_child(fn, *args)``: run *fn* in a forked child and return what it
  returned (or re-raise what it raised).  A crash in the child (SIGSEGV,
  SIGABRT, ...) fails the test with the signal's name instead of killing the
  test run.  Used for anything that changes process state (signal masks,
  namespaces, seccomp) and for the bad-input sweeps.
* ``run_python(code)``: run *code* in a fresh interpreter, outside the
  source tree (so the installed butter is what gets imported).
* ``framework``: a fixture over :data:`fw_harness.FRAMEWORKS` (asyncio,
  anyio on asyncio, anyio on trio, plain trio) giving a
  :class:`fw_harness.Framework` (skipped where anyio or trio is missing).
* ``needs_fanotify``: skips a test where this process cannot make a
  fanotify group (no CAP_SYS_ADMIN, or a kernel without fanotify).
"""

from __future__ import annotations

import os
import pickle
import signal
import socket
import subprocess
import sys
import tempfile
import traceback
from typing import Any, Callable

import pytest
from fw_harness import FRAMEWORKS

import butter

# The tests must exercise the installed package, never the source tree
# (which has no compiled module).
_here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if os.path.dirname(os.path.abspath(butter.__file__)) == os.path.join(_here, "butter"):
    raise RuntimeError(
        "tests imported butter from the source tree; install it "
        "(make test does) and run pytest without the source dir on sys.path"
    )


def _fanotify_unavailable() -> str:
    from butter.fanotify import fanotify_init

    try:
        os.close(fanotify_init())
    except OSError as exc:
        return f"fanotify unavailable: {exc}"
    return ""


_NO_FANOTIFY = _fanotify_unavailable()
needs_fanotify = pytest.mark.skipif(bool(_NO_FANOTIFY), reason=_NO_FANOTIFY)


@pytest.fixture(params=FRAMEWORKS)
def framework(request: pytest.FixtureRequest) -> Any:
    import fw_harness

    reason = fw_harness.missing(request.param)
    if reason:
        pytest.skip(reason)
    return fw_harness.get(request.param)


def open_fds() -> set[int]:
    return {int(name) for name in os.listdir("/proc/self/fd")}


def inotify_queue_limit() -> int:
    """fs.inotify.max_queued_events, read and never written: the sysctl is
    global (no namespace holds it), so tests that need an overflow fill the
    queue with :func:`flood` instead of shrinking it for everyone."""
    with open("/proc/sys/fs/inotify/max_queued_events") as f:
        return int(f.read())


def flood(directory: Any, n: int) -> None:
    """*n* writes alternating between ``.flood-a`` and ``.flood-b`` in
    *directory*: *n* IN_MODIFY events the kernel cannot merge (consecutive
    ones differ), enough to overflow a queue when *n* exceeds
    :func:`inotify_queue_limit`."""
    fds = [
        os.open(os.path.join(directory, name), os.O_WRONLY | os.O_CREAT, 0o644)
        for name in (".flood-a", ".flood-b")
    ]
    try:
        a, b = fds
        write = os.write
        for _ in range(n // 2):
            write(a, b"x")
            write(b, b"x")
        if n % 2:
            write(a, b"x")
    finally:
        for fd in fds:
            os.close(fd)


class ChildCrashed(AssertionError):
    pass


def in_child(fn: Callable[..., Any], *args: Any, timeout: float = 30.0) -> Any:
    """Run ``fn(*args)`` in a forked child; return its result or re-raise."""
    rfd, wfd = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        code = 0
        try:
            os.close(rfd)
            try:
                payload = ("ok", fn(*args))
            except BaseException as exc:
                payload = ("err", (exc, traceback.format_exc()))
            try:
                data = pickle.dumps(payload)
            except Exception:  # unpicklable result or exception
                data = pickle.dumps(("err", (RuntimeError(repr(payload[1])), "")))
            with os.fdopen(wfd, "wb") as f:
                f.write(data)
        except BaseException:
            code = 70
        finally:
            os._exit(code)
    os.close(wfd)
    # Bounded: a child that hangs is killed and fails the test (a hang must
    # never stall the run).
    import select
    import time

    deadline = time.monotonic() + timeout
    chunks = []
    with os.fdopen(rfd, "rb", buffering=0) as f:
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([f], [], [], left)[0]:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                raise ChildCrashed(f"child still running after {timeout} s: {fn!r}{args!r}")
            chunk = f.read(65536)
            if not chunk:
                break
            chunks.append(chunk)
    data = b"".join(chunks)
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        sig = signal.Signals(os.WTERMSIG(status)).name
        raise ChildCrashed(f"child crashed with {sig} running {fn!r}{args!r}")
    if not data:
        raise ChildCrashed(f"child exited with status {os.waitstatus_to_exitcode(status)}")
    kind, value = pickle.loads(data)
    if kind == "ok":
        return value
    exc, tb = value
    if tb:
        exc.__notes__ = [*getattr(exc, "__notes__", []), "in child:\n" + tb]
    raise exc


def run_python(
    code: str, *args: str, timeout: float = 60.0, check: bool = True, **kwargs: Any
) -> subprocess.CompletedProcess[str]:
    with tempfile.TemporaryDirectory() as cwd:
        proc = subprocess.run(
            [sys.executable, "-c", code, *args],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=timeout,
            **kwargs,
        )
    if proc.returncode < 0:
        raise ChildCrashed(
            f"python crashed with {signal.Signals(-proc.returncode).name}:\n{proc.stderr}"
        )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"exit {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
        )
    return proc


def assert_clean_error(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> str:
    """Call ``fn(*args, **kwargs)`` in a forked child; it must raise
    TypeError, ValueError, OverflowError or OSError, and must not crash.
    Returns the name of the exception type raised."""

    def case() -> tuple[bool, str]:
        try:
            fn(*args, **kwargs)
        except (TypeError, ValueError, OverflowError, OSError) as exc:
            return True, type(exc).__name__
        except BaseException as exc:
            return False, f"unexpected {type(exc).__name__}: {exc}"
        return False, "no error raised"

    ok, name = in_child(case)
    assert ok, f"{getattr(fn, '__qualname__', fn)}{args!r} {kwargs!r}: {name}"
    return name


@pytest.fixture
def no_fd_leak():
    """Fail the test if it leaves more fds open than it found."""
    before = open_fds()
    yield
    leaked = open_fds() - before
    assert not leaked, f"leaked fds: {sorted(leaked)}"


def run_bounded(fn: Callable[[Any], Any], cases: list, timeout: float = 15.0) -> None:
    """Call ``fn(case)`` for each case in a forked child; ``fn`` returns None
    or a string saying what went wrong.  Fails the test on a wrong result,
    an exception, or a case that does not finish within *timeout* seconds
    (a deadlock)."""
    import pickle
    import select
    import signal
    import traceback

    rfd, wfd = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        os.close(rfd)
        try:
            for case in cases:
                try:
                    problem = fn(case)
                except BaseException as exc:  # report it, keep the child's exit clean
                    problem = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
                blob = pickle.dumps((case, problem))
                os.write(wfd, len(blob).to_bytes(4, "little") + blob)
        finally:
            os._exit(0)
    os.close(wfd)
    failures = []
    try:
        with os.fdopen(rfd, "rb") as reader:
            poller = select.poll()
            poller.register(reader, select.POLLIN)
            for case in cases:
                if not poller.poll(int(timeout * 1000)):
                    os.kill(pid, signal.SIGKILL)
                    failures.append(f"{case}: still copying after {timeout} s (deadlock)")
                    break
                head = reader.read(4)
                if len(head) < 4:
                    failures.append(f"{case}: the child died")
                    break
                done_case, problem = pickle.loads(reader.read(int.from_bytes(head, "little")))
                assert done_case == case
                if problem:
                    failures.append(f"{case}: {problem}")
    finally:
        _, status = os.waitpid(pid, 0)
    assert not failures, "\n".join(failures)
    assert os.waitstatus_to_exitcode(status) == 0


def stream_pair(kind: str) -> tuple[socket.socket, socket.socket]:
    """A connected pair of stream sockets: TCP on loopback for kinds that
    start with ``"tcp"``, else a Unix socketpair."""
    if not kind.startswith("tcp"):
        return socket.socketpair()
    with socket.socket() as srv:
        srv.bind(("127.0.0.1", 0))
        srv.listen(1)
        a = socket.create_connection(srv.getsockname())
        b, _ = srv.accept()
    return a, b
