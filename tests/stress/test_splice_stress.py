"""splice_copy under random pipe sizes, fd kinds, data sizes and timing.

Issue 7: the copy pump deadlocked when its pipe filled up (small pipe
sizes, sockets that spread a few bytes over many pipe buffers).  Here
several copies run at once, each with a random pipe size (4 KiB up to the
default), source (file at a random offset, pipe, socketpair, TCP; blocking
or not), destination (file, pipe, socketpair, TCP; blocking or not), data size
(around multiples of the pipe size, or up to 4 MiB) and *count*, with
writers and readers that pause at random.  Every byte must arrive
unchanged, and no copy may stall.  The writer of a pipe source closes it
while the copy may still be waiting for a socket: a copy that held the
pipe's lock meanwhile made that close wait, and on PyPy, whose os.close
keeps the GIL, froze the whole child.

Everything runs in a forked child that reports each copy as it starts and
ends; the parent kills it when no copy finished for STALL_S seconds and
names the copies still in flight.  The seed is in every failure message
(rerun with ``BUTTER_STRESS_SEED=<seed>``).  About 8 s in all.
"""

from __future__ import annotations

import ast
import asyncio
import faulthandler
import os
import random
import select
import signal
import socket
import tempfile
import threading
import time
import traceback
from typing import Any, Callable, List, Optional, Tuple

from conftest import stream_pair

from butter.asyncio.splice import splice_copy_async
from butter.splice import DEFAULT_PIPE_SIZE, set_pipe_size, splice_copy

PAGE = os.sysconf("SC_PAGE_SIZE")
SYNC_S = 5.0  # seconds of threaded copies
ASYNC_S = 3.0  # seconds of asyncio copies
WORKERS = 4  # copies at once
STALL_S = 15.0  # no copy finished for this long: a deadlock
PIPE_SIZES = [4096, 8192, 12288, 16384, 65536, 200000, None]
SOURCES = ["file", "pipe", "socketpair", "tcp", "socketpair+nb", "tcp+nb"]
DESTS = ["file", "pipe", "pipe+nb", "socketpair", "tcp", "socketpair+nb", "tcp+nb"]


def _capacity(pipe_size: Optional[int]) -> int:
    """What the kernel makes of *pipe_size*: a power-of-two number of pages."""
    pages = -(-(pipe_size or DEFAULT_PIPE_SIZE) // PAGE)
    return PAGE << (pages - 1).bit_length()


def _pick(rng: random.Random, asynchronous: bool) -> Tuple[Any, ...]:
    src, dst = rng.choice(SOURCES), rng.choice(DESTS)
    if asynchronous:  # asyncio needs non-blocking sockets anyway
        src, dst = src.split("+")[0], dst.split("+")[0]
    pipe_size = rng.choice(PIPE_SIZES)
    p = _capacity(pipe_size)
    size = rng.choice(
        [
            0,
            1,
            rng.randrange(1, 3 * p),
            max(0, rng.randrange(1, 5) * p // 2 + rng.randrange(-1, 2)),
            rng.randrange(1, 4 << 20),
        ]
    )
    offset = rng.choice([0, 0, 1, rng.randrange(PAGE)]) if src == "file" else 0
    count = None
    if src == "file" and rng.random() < 0.3:  # a stream source would be left unread
        count = rng.randrange(0, size + 2)
    return src, dst, pipe_size, size, offset, count, rng.randrange(1 << 30)


def _jitter(rng: random.Random) -> None:
    if rng.random() < 0.02:
        time.sleep(rng.random() * 0.003)


def _one(case: Tuple[Any, ...], asynchronous: bool) -> Optional[str]:
    src_kind, dst_kind, pipe_size, size, offset, count, seed = case
    rng = random.Random(seed)
    data = os.urandom(size)
    want = data if count is None else data[:count]
    closers: List[Callable[[], None]] = []
    threads: List[threading.Thread] = []
    got: List[bytes] = []
    errors: List[str] = []

    def thread(fn: Callable[[], None]) -> None:
        def run() -> None:
            try:
                fn()
            except BaseException:
                errors.append(traceback.format_exc())

        t = threading.Thread(target=run, daemon=True)
        t.start()
        threads.append(t)

    def feed(fd: int, done: Callable[[], None]) -> None:
        frng = random.Random(seed + 1)
        view = memoryview(data)
        while view:
            n = rng_size(frng)
            view = view[os.write(fd, view[:n]) :]
            _jitter(frng)
        done()

    def rng_size(r: random.Random) -> int:
        return r.choice([1, r.randrange(1, 200), r.randrange(1, 9000), 65536, 1 << 20])

    try:
        kw: dict = {"pipe_size": pipe_size}
        if src_kind == "file":
            f = tempfile.TemporaryFile(dir="/dev/shm")  # noqa: SIM115 - closed below
            closers.append(f.close)
            f.write(b"\0" * offset + data)
            f.flush()
            src = f.fileno()
            if rng.random() < 0.5:
                kw["src_offset"] = offset
            else:  # from the file's position
                os.lseek(src, offset, os.SEEK_SET)
        elif src_kind == "pipe":
            src, w = os.pipe2(os.O_CLOEXEC)
            closers.append(lambda: os.close(src))
            if asynchronous:
                os.set_blocking(src, False)
            if pipe_size:
                set_pipe_size(w, pipe_size)
            thread(lambda: feed(w, lambda: os.close(w)))
        else:
            a, b = stream_pair(src_kind)
            closers += [a.close, b.close]
            src = b.fileno()
            os.set_blocking(src, not (asynchronous or src_kind.endswith("+nb")))
            thread(lambda: feed(a.fileno(), lambda: a.shutdown(socket.SHUT_WR)))
        after: Optional[Callable[[], None]] = None
        if dst_kind == "file":
            out = tempfile.TemporaryFile(dir="/dev/shm")  # noqa: SIM115 - closed below
            closers.append(out.close)
            dst = out.fileno()
        elif dst_kind.startswith("pipe"):
            rd, wd = os.pipe2(os.O_CLOEXEC)
            closers.append(lambda: os.close(rd))
            dst = wd
            os.set_blocking(dst, not (asynchronous or dst_kind.endswith("+nb")))
            if pipe_size:
                set_pipe_size(dst, pipe_size)
            open_wd = [wd]

            def close_wd() -> None:  # the end of the data for the reader
                if open_wd:
                    os.close(open_wd.pop())

            closers.append(close_wd)

            def pipe_sink() -> None:
                srng = random.Random(seed + 2)
                while chunk := os.read(rd, rng_size(srng)):
                    got.append(chunk)
                    _jitter(srng)

            thread(pipe_sink)
            after = close_wd
        else:
            c, d = stream_pair(dst_kind)
            closers += [c.close, d.close]
            dst = c.fileno()
            os.set_blocking(dst, not (asynchronous or dst_kind.endswith("+nb")))
            # A small receive buffer: EAGAIN, partial splices.  (Not on TCP:
            # a window below the loopback MSS trickles on the persist timer.)
            if dst_kind.startswith("socketpair") and rng.random() < 0.3:
                d.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)

            def sink() -> None:
                srng = random.Random(seed + 2)
                while chunk := d.recv(rng_size(srng)):
                    got.append(chunk)
                    _jitter(srng)

            thread(sink)
            after = lambda: c.shutdown(socket.SHUT_WR)  # noqa: E731
        if asynchronous:
            n = asyncio.run(splice_copy_async(src, dst, count, **kw))
        else:
            n = splice_copy(src, dst, count, **kw)
        if after is not None:
            after()
        for t in threads:
            t.join(STALL_S)
            if t.is_alive():
                return "a feeding or draining thread never finished"
        if errors:
            return errors[0]
        copied = os.pread(dst, size + 1, 0) if dst_kind == "file" else b"".join(got)
        if n != len(want):
            return f"returned {n}, expected {len(want)}"
        if copied != want:
            return f"{len(copied)} bytes arrived that differ from the {len(want)} sent"
        return None
    finally:
        for close in reversed(closers):
            close()


def _kernel_waits(pid: int) -> str:
    """Where each thread of *pid* sleeps in the kernel: wchan and syscall."""
    lines = []
    try:
        for tid in sorted(os.listdir(f"/proc/{pid}/task"), key=int):
            info = []
            for name in ("wchan", "syscall"):
                try:
                    with open(f"/proc/{pid}/task/{tid}/{name}") as f:
                        info.append(f.read().strip())
                except OSError as exc:
                    info.append(f"({exc.strerror})")
            lines.append(f"  thread {tid}: {info[0]}, syscall {info[1]}")
    except OSError as exc:
        lines.append(f"  ({exc})")
    return "\n".join(lines)


def _child(wfd: int, seed: int) -> None:
    # On a stall the parent asks for every thread's Python stack (stderr).
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    lock = threading.Lock()

    def report(*msg: Any) -> None:
        line = (repr(msg) + "\n").encode()
        with lock:
            os.write(wfd, line)

    def worker(rng: random.Random, asynchronous: bool, until: float) -> None:
        i = 0
        while time.monotonic() < until:
            case = _pick(rng, asynchronous)
            key = f"{threading.get_ident()}-{i}"
            i += 1
            report("start", key, case, asynchronous)
            try:
                problem = _one(case, asynchronous)
            except BaseException:
                problem = traceback.format_exc()
            report("done", key, problem)

    master = random.Random(seed)
    for asynchronous, seconds in ((False, SYNC_S), (True, ASYNC_S)):
        until = time.monotonic() + seconds
        workers = [
            threading.Thread(
                target=worker, args=(random.Random(master.randrange(1 << 30)), asynchronous, until)
            )
            for _ in range(WORKERS)
        ]
        for t in workers:
            t.start()
        for t in workers:
            t.join()
    report("end")


def test_splice_copy_stress() -> None:
    seed = int(os.environ.get("BUTTER_STRESS_SEED", random.randrange(1 << 30)))
    rfd, wfd = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(rfd)
            _child(wfd, seed)
        finally:
            os._exit(0)
    os.close(wfd)
    in_flight: dict = {}
    failures: List[str] = []
    copies = 0
    ended = False
    try:
        # Lines are split here, not by a buffered reader: poll() cannot see
        # lines a reader has already taken from the pipe into its buffer.
        poller = select.poll()
        poller.register(rfd, select.POLLIN)
        buf = b""
        while not ended:
            if b"\n" not in buf:
                if not poller.poll(int(STALL_S * 1000)):
                    waits = _kernel_waits(pid)
                    os.kill(pid, signal.SIGUSR1)  # Python stacks to stderr
                    time.sleep(1)
                    os.kill(pid, signal.SIGKILL)
                    stuck = "\n".join(f"  {c}" for c in in_flight.values())
                    failures.append(
                        f"no copy finished for {STALL_S} s; in flight:\n{stuck}\n"
                        f"kernel waits (Python stacks on stderr):\n{waits}"
                    )
                    break
                data = os.read(rfd, 1 << 16)
                if not data:
                    failures.append("the child died")
                    break
                buf += data
                continue
            line, buf = buf.split(b"\n", 1)
            msg = ast.literal_eval(line.decode())
            if msg[0] == "start":
                in_flight[msg[1]] = msg[2:]
            elif msg[0] == "done":
                case = in_flight.pop(msg[1])
                copies += 1
                if msg[2]:
                    failures.append(f"{case}: {msg[2]}")
            else:
                ended = True
    finally:
        os.close(rfd)
        os.waitpid(pid, 0)
    assert not failures, f"seed {seed}:\n" + "\n".join(failures[:5])
    assert copies > 20, f"seed {seed}: only {copies} copies"
