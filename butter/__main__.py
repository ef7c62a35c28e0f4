"""``python -m butter [--only STEP]...``: a short live tour of butter on this machine.

Prints the version, probes which kernel features are available, then shows
each family working for real.  Takes about a second; needs no set-up.
``--only STEP`` (repeatable) runs only those steps; ``--help`` lists them,
and the command line programs that come with butter.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time

import butter

from ._cli import entry_point, run_program
from ._features import probe_all

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Callable, Dict, List, Optional


def _say(text: str = "") -> None:
    print(text, flush=True)


def tour_features() -> None:
    _say("Kernel features (probed with real calls):")
    for name, (ok, detail) in probe_all().items():
        answer = "yes" if ok else "no"
        _say(f"  {name + ':':12} {answer}{f' ({detail})' if detail else ''}")


def tour_eventfd() -> None:
    from .eventfd import EFD_SEMAPHORE, Eventfd

    _say("eventfd: a kernel counter you can poll")
    with Eventfd() as counter:
        counter.increment(2)
        counter.increment(3)
        _say(f"  increment(2), increment(3) -> read_event() = {counter.read_event()}")
    with Eventfd(3, EFD_SEMAPHORE) as sem:
        reads = [sem.read_event() for _ in range(3)]
        _say(f"  EFD_SEMAPHORE with 3: three reads give {reads}")


def tour_timerfd() -> None:
    from .timerfd import Timer

    _say("timerfd: a timer that is a file descriptor")
    start = time.monotonic()
    with Timer().every(seconds=0.05).after(seconds=0.05).update() as timer:
        for tick in range(1, 4):
            expirations = timer.read_event()
            elapsed = (time.monotonic() - start) * 1000
            _say(f"  tick {tick}: {expirations} expiration(s) at {elapsed:5.1f} ms")


def tour_signalfd() -> None:
    import signal

    from .signalfd import Signalfd, pthread_sigmask

    _say("signalfd: signals read from a file descriptor")
    old = pthread_sigmask(signal.SIG_BLOCK, [])
    try:
        wanted = [signal.SIGUSR1, signal.SIGCHLD, signal.SIGRTMIN]
        with Signalfd(wanted, block=True) as signals:
            os.kill(os.getpid(), signal.SIGUSR1)
            os.kill(os.getpid(), signal.SIGRTMIN)
            child = os.fork()
            if child == 0:
                os._exit(3)
            os.waitpid(child, 0)
            for sig in signals.read_events():  # one read(2), three records
                name = signal.Signals(sig.signal).name
                _say(
                    f"  {name:9} from pid {sig.pid} (uid {sig.uid}, "
                    f"code {sig.code}, status {sig.status})"
                )
    finally:
        pthread_sigmask(signal.SIG_SETMASK, old)


def tour_asyncio() -> None:
    import asyncio

    from .asyncio.eventfd import Eventfd_async

    async def main() -> int:
        async with Eventfd_async() as counter:
            asyncio.get_running_loop().call_later(0.01, counter.increment, 42)
            return await counter.get()

    _say(f"asyncio: Eventfd_async woke a coroutine with {asyncio.run(main())}")


def tour_inotify() -> None:
    import tempfile

    from .inotify import IN_CLOSE_WRITE, IN_CREATE, IN_MOVE, InotifyTree

    _say("inotify: a recursive watcher that keeps up with new directories")
    with tempfile.TemporaryDirectory() as top:

        def rel(path: str) -> str:
            return os.path.relpath(path, top)

        with InotifyTree(top, IN_CREATE | IN_CLOSE_WRITE | IN_MOVE) as tree:
            os.mkdir(os.path.join(top, "sub"))
            first = tree.wait(timeout=1)
            if first is not None:
                _say(f"  created {rel(first.path)} (now watched too)")
            with open(os.path.join(top, "sub", "a.txt"), "w") as f:
                f.write("hello")
            os.rename(os.path.join(top, "sub", "a.txt"), os.path.join(top, "b.txt"))
            for event in iter(lambda: tree.wait(timeout=0.2), None):
                if event.rename_event:
                    _say(f"  renamed {rel(event.src_path or '?')} -> {rel(event.path)} (one event)")
                else:
                    kind = "created" if event.create_event else "written"
                    _say(f"  {kind} {rel(event.path)}")
            _say(f"  the tree it believes in: {sorted(map(rel, tree.paths()))}")


def tour_fanotify() -> None:
    import tempfile

    from .fanotify import FAN_ACCESS, FAN_CLOSE, FAN_EVENT_ON_CHILD, FAN_MODIFY, FAN_OPEN, Fanotify
    from .fanotify._constants import mask_to_types

    _say("fanotify: who touched which file (fatrace's format)")
    if os.geteuid() != 0:
        _say("  skipped: needs root")
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "hello.txt")
        with Fanotify() as fan:
            fan.watch(tmp, FAN_OPEN | FAN_ACCESS | FAN_MODIFY | FAN_CLOSE | FAN_EVENT_ON_CHILD)
            with open(path, "w") as f:
                f.write("hi")
            with open(path) as f:
                f.read()
            for event in fan.read_events():  # one read(2): every queued event
                with event:  # closes the event's fd
                    _say(f"  python({event.pid}): {mask_to_types(event.mask):<3} {event.filename}")


def tour_watch() -> None:
    import tempfile

    _say("watch: one call picks the best recursive watcher this process may use")
    with tempfile.TemporaryDirectory() as top:
        if os.geteuid() != 0:
            _watch_demo(top)  # inotify: fanotify filesystem marks need root
            return
        # As root: fanotify marks the whole filesystem, so the demo runs in a
        # child with a private mount namespace and a fresh tmpfs of its own.
        sys.stdout.flush()
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                from . import clone, system

                clone.unshare(clone.CLONE_NEWNS)
                system.mount(None, "/", None, system.MS_REC | system.MS_PRIVATE)
                system.mount("tmpfs", top, "tmpfs", 0, "mode=0700")
                _watch_demo(top)
                code = 0
            except BaseException as exc:
                _say(f"  !! {type(exc).__name__}: {exc}")
            finally:
                sys.stdout.flush()
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        if status:
            raise RuntimeError(f"the demo's child process failed ({status:#x})")


def _watch_demo(top: str) -> None:
    from .inotify import IN_CREATE, IN_MOVE
    from .watch import watch_tree

    def rel(path: str) -> str:
        return os.path.relpath(path, top)

    with watch_tree(top, IN_CREATE | IN_MOVE) as tree:
        _say(f"  watch_tree() chose {tree.backend} ({type(tree).__name__})")
        os.makedirs(os.path.join(top, "a", "b", "c"))
        with open(os.path.join(top, "a", "b", "c", "deep.txt"), "w") as f:
            f.write("made at once")
        os.rename(os.path.join(top, "a"), os.path.join(top, "z"))
        for event in iter(lambda: tree.wait(timeout=0.2), None):
            if event.rename_event:
                _say(f"  renamed {rel(event.src_path or '?')} -> {rel(event.path)}")
            else:
                _say(f"  created {rel(event.path)}")
        _say(f"  the tree it believes in: {sorted(map(rel, tree.paths()))}")


def tour_aio() -> None:
    import tempfile

    from .aio import Context

    _say("aio: Linux native AIO (io_submit/io_getevents), completions on an eventfd")
    with tempfile.TemporaryFile(dir="/var/tmp") as f, Context() as ctx:
        block = b"butter!\n" * 512  # 4 KiB
        written = ctx.pwrite(f, block, 0)
        ctx.get_events(min_nr=1, timeout=5)
        read = ctx.pread(f, 4096, 0)
        ctx.get_events(min_nr=1, timeout=5)
        same = os.pread(f.fileno(), 4096, 0) == read.result
        _say(
            f"  pwrite -> {written.result} bytes, pread -> {read.result[:8]!r}... "
            f"({len(read.result)} bytes); os.pread agrees: {same}"
        )


def tour_uring() -> None:
    import tempfile

    from .io_uring import Ring, probe

    _say("io_uring: shared submission/completion rings, no syscall per request")
    try:
        ops = probe()
    except OSError as exc:
        _say(f"  not available here: {exc}")
        return
    short = sorted(name[len("IORING_OP_") :].lower() for name in ops)
    _say(f"  this kernel supports {len(ops)} operations: {', '.join(short)}")
    with tempfile.TemporaryFile(dir="/var/tmp") as f, Ring(8) as ring:
        with ring.linked():  # queued as a chain: the read starts after the write
            written = ring.pwrite(f, b"butter!\n" * 512, 0)
            read = ring.pread(f, 4096, 0)
        ring.get_events(min_nr=2, timeout=5)  # one io_uring_enter submits and waits
        same = os.pread(f.fileno(), 4096, 0) == read.result
        _say(
            f"  linked pwrite -> {written.result} bytes, pread -> {read.result[:8]!r}... "
            f"in one io_uring_enter; os.pread agrees: {same}"
        )


def tour_seccomp() -> None:
    import errno

    from .seccomp import ALLOW, ERRNO, SyscallFilter

    _say("seccomp: a syscall filter, loaded in a child only")
    rules = SyscallFilter(ALLOW)
    rules.add_rule(ERRNO(errno.EPERM), "uname")
    bpf = rules.export_bpf() or b""
    _say(f"  filter of {len(bpf) // 8} BPF instructions: uname -> EPERM")
    pid = os.fork()
    if pid == 0:  # a filter is for good: never load it in the tour's own process
        try:
            rules.load()
            os.uname()
            _say("  child: os.uname() succeeded?!")
        except PermissionError as exc:
            _say(f"  child {os.getpid()}: os.uname() -> {exc}")
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    _say(f"  parent unaffected: os.uname().sysname = {os.uname().sysname}")


def tour_memfd_pidfd() -> None:
    from .memfd import F_SEAL_GROW, F_SEAL_SHRINK, F_SEAL_WRITE, Memfd
    from .pidfd import PidFd

    _say("memfd and pidfd: sealed anonymous files, processes as fds")
    with Memfd("tour") as m:
        m.write(b"sealed")
        m.seal(F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE)
        _say(f"  {m!r}: size {m.size}, seals {m.seals:#x}")
    pid = os.fork()
    if pid == 0:
        os._exit(7)
    with PidFd(pid, reap=True) as process:  # nothing else waits for it
        _say(f"  child {pid} exited: {process.read_event()}")


def tour_container() -> None:
    from .container import run

    _say("container: new mount/UTS/PID namespaces, tmpfs root, pivot_root")
    if os.geteuid() != 0:
        _say("  skipped: needs root")
        return
    script = (
        'echo "  hostname=$(hostname) pid=$$ '
        'mounts=$(wc -l </proc/self/mountinfo) root=$(stat -f -c %T /)"'
    )
    read_end, write_end = os.pipe()
    try:
        status = run(["sh", "-c", script], hostname="butter-tour", stdout=write_end)
    finally:
        os.close(write_end)
    with os.fdopen(read_end) as output:
        sys.stdout.write(output.read())
    _say(f"  exit status {status}")


TOURS = [
    tour_features,
    tour_eventfd,
    tour_timerfd,
    tour_signalfd,
    tour_asyncio,
    tour_inotify,
    tour_fanotify,
    tour_watch,
    tour_aio,
    tour_uring,
    tour_seccomp,
    tour_memfd_pidfd,
    tour_container,
]


STEPS: Dict[str, Callable[[], None]] = {
    tour.__name__[len("tour_") :].replace("_", "-"): tour for tour in TOURS
}
"""The tour's steps by the name ``--only`` takes (``memfd-pidfd``...)."""

PROGRAMS = """\
command line programs that come with butter:
  python -m butter.inotify    inotifywait's output (-m, -r, -e EVENT)
                              (console script: butter-inotifywait)
  python -m butter.fanotify   fatrace's output (-c, -o, -s, -t, -p, -f, -C)
                              (console script: butter-fatrace)
  python -m butter.container  run a command in a minimal container:
                              new namespaces, tmpfs root (-- CMD)

each takes --help.
"""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m butter",
        description=(
            "A live tour of butter on this machine: the version, the kernel\n"
            "features this machine has (probed with real calls), then each\n"
            "family working for real (about a second).  Steps that need root\n"
            "say so and are skipped; a failing step does not stop the others\n"
            "(the exit status is then 1)."
        ),
        epilog=PROGRAMS,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--only",
        action="append",
        choices=list(STEPS),
        metavar="STEP",
        help=f"run only this step (repeatable); one of: {', '.join(STEPS)}",
    )
    return parser


@entry_point
def main(argv: Optional[List[str]] = None) -> int:
    """Run the tour (every step, or those of ``--only``); 1 if a step failed."""
    args = _parser().parse_args(argv)
    steps = [STEPS[name] for name in args.only] if args.only else TOURS
    _say(
        f"butter {butter.__version__} on Linux {platform.release()}, "
        f"{platform.python_implementation()} {platform.python_version()}"
    )
    _say()
    failed = 0
    for tour in steps:
        try:
            tour()
        except BrokenPipeError:
            raise  # the reader is gone: end quietly (entry_point)
        except Exception as exc:  # a tour step must never hide the others
            failed += 1
            _say(f"  !! {tour.__name__} failed: {type(exc).__name__}: {exc}")
        _say()
    return 1 if failed else 0


if __name__ == "__main__":
    run_program(main)
