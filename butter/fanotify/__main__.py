"""``python -m butter.fanotify [options] [PATH]``: a ``fatrace`` work-alike.

Prints one line per event in fatrace's format, ``comm(pid): TYPES path``,
with fatrace's type letters in its order: ``R`` read, ``C`` close, ``W``
write (a modification, or closing a file opened for writing: a closed
written file is ``CW``), ``O`` open, ``+`` create, ``D`` delete, ``<``
moved from, ``>`` moved to (directory events name the directory).  Like
fatrace it uses a FID mode with filesystem marks (directory events need
it; butter takes ``FAN_REPORT_DFID_NAME``, which also names files deleted
before their event was read), falls back to mount marks with event fds on
old kernels, and ignores its own process.  Without PATH every real
(device-backed) mount is watched; with PATH the filesystem holding PATH is
watched and only events on PATH or below it are printed.  Needs root (``CAP_SYS_ADMIN``).
"""

from __future__ import annotations

import argparse
import errno
import os
import select
import sys
import time

from .. import fanotify as fa
from .._cli import entry_point, run_program
from ._constants import mask_to_types, types_to_mask

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import AbstractSet, Dict, List, NoReturn, Optional, Set, TextIO, Tuple

_IO = fa.FAN_ACCESS | fa.FAN_MODIFY | fa.FAN_OPEN | fa.FAN_CLOSE
_DIR = fa.FAN_CREATE | fa.FAN_DELETE | fa.FAN_MOVE
_O_PATH = getattr(os, "O_PATH", os.O_RDONLY)
_MARK_MASK = _IO | fa.FAN_ONDIR | fa.FAN_EVENT_ON_CHILD


def _real_mounts() -> List[str]:
    """Mount points backed by a device (or a bind of a real path), as fatrace picks."""
    result = ["/"]
    with open("/proc/self/mounts") as f:
        for line in f:
            fields = line.split()
            if len(fields) < 2:
                continue
            source = fields[0]
            target = fields[1].replace("\\040", " ").replace("\\011", "\t")
            target = target.replace("\\012", "\n").replace("\\134", "\\")
            if source.startswith("/") and os.path.exists(source) and target != "/":
                result.append(target)
    return result


class Monitor:
    """The watcher: marks, path resolution, line formatting."""

    ignored: Set[int]
    command: Optional[str]
    prefix: Optional[str]
    filter_mask: int
    fan: fa.Fanotify
    fid: bool

    def __init__(
        self,
        path: Optional[str],
        filter_mask: int = ~0,
        ignored: AbstractSet[int] = frozenset(),
        command: Optional[str] = None,
    ) -> None:
        self.ignored = set(ignored) | {os.getpid()}
        self.command = command
        self.prefix = os.path.realpath(path) if path is not None else None
        self.filter_mask = filter_mask
        self.mount_fds: Dict[Tuple[int, ...], int] = {}
        self.comm_cache: Tuple[int, str] = (-1, "")
        targets = [path] if path is not None else _real_mounts()
        try:
            self.fan = fa.Fanotify(fa.FAN_REPORT_DFID_NAME)
            self.fid = True
            kind = fa.FAN_MARK_FILESYSTEM
        except OSError as exc:
            if exc.errno != errno.EINVAL:
                raise
            self.fan = fa.Fanotify()
            self.fid = False
            kind = fa.FAN_MARK_MOUNT
        marked = 0
        for target in targets:
            try:
                self._mark(target, kind)
            except OSError as exc:
                if path is not None:
                    raise
                print(f"Failed to add watch for {target}: {exc.strerror}", file=sys.stderr)
                continue
            marked += 1
        if not marked:
            raise SystemExit("no mount could be watched")

    def _mark(self, target: str, kind: int) -> None:
        mask = _MARK_MASK | (_DIR if self.fid else 0)
        try:
            self.fan.watch(target, mask, kind)
        except OSError as exc:
            if not (self.fid and exc.errno in (errno.EXDEV, errno.ENODEV, errno.EOPNOTSUPP)):
                raise
            # No file handles here (e.g. some virtual filesystems): skip it.
            return
        if self.fid:
            fd = os.open(target, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)
            key = fa.fsid(fd)
            if key in self.mount_fds:
                os.close(fd)
            else:
                self.mount_fds[key] = fd

    def close(self) -> None:
        self.fan.close()
        for fd in self.mount_fds.values():
            os.close(fd)
        self.mount_fds.clear()

    def comm(self, pid: int) -> str:
        try:
            with open(f"/proc/{pid}/comm", "rb") as f:
                name = os.fsdecode(f.read().rstrip(b"\n"))
        except OSError:
            # The process may be gone already: reuse the last name if it was it.
            cached_pid, cached = self.comm_cache
            return cached if cached_pid == pid and cached else "unknown"
        self.comm_cache = (pid, name)
        return name or "unknown"

    def _dir_path(self, info: fa.FidInfo) -> Optional[str]:
        mount_fd = self.mount_fds.get(info.fsid, fa.AT_FDCWD)
        try:
            fd = fa.open_by_handle_at(mount_fd, info, _O_PATH)
        except OSError:
            return None  # the directory is gone (ESTALE)
        try:
            return os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            st = os.fstat(fd)
            return f"device {os.major(st.st_dev)}:{os.minor(st.st_dev)} inode {st.st_ino}"
        finally:
            os.close(fd)

    def paths(self, event: fa.FanotifyEvent) -> List[Tuple[int, str]]:
        """``(mask, path)`` pairs to print for *event*.

        Event fds give the path directly.  With ``FAN_REPORT_DFID_NAME`` the
        event names its directory (a handle, resolved here) and the entry:
        like fatrace, directory-entry events (create, delete, move) print
        the directory and the others the file; an event the kernel merged
        from both kinds becomes two lines.  Resolving through the directory
        also names files that were deleted before their event was read.
        """
        mask = event.mask
        if not self.fid:
            fd = event.fd
            if fd < 0:
                return [(mask, "(deleted)")]
            try:
                return [(mask, os.readlink(f"/proc/self/fd/{fd}"))]
            except OSError:
                st = os.fstat(fd)
                dev = f"{os.major(st.st_dev)}:{os.minor(st.st_dev)}"
                return [(mask, f"device {dev} inode {st.st_ino}")]
        for info in event.info:
            if isinstance(info, fa.FidInfo):
                break
        else:
            return [(mask, "(deleted)")]
        directory = self._dir_path(info)
        if directory is None:
            return [(mask, "(deleted)")]
        name = info.name
        if name is None or name == ".":
            return [(mask, directory)]
        child = os.path.join(directory, name)
        result = []
        if mask & _DIR:
            result.append((mask & ~_IO, directory))
        if mask & _IO:
            result.append((mask & ~_DIR, child))
        return result

    def entries(self, event: fa.FanotifyEvent) -> List[Tuple[int, int, str]]:
        """``(pid, mask, path)`` to print for *event* (none if filtered out)."""
        if event.pid in self.ignored or not event.mask & self.filter_mask:
            return []
        if self.command is not None and self.comm(event.pid) != self.command:
            return []
        prefix = self.prefix
        result = []
        for mask, path in self.paths(event):
            if prefix is not None and not (
                path == prefix or path.startswith(prefix.rstrip("/") + "/")
            ):
                continue
            result.append((event.pid, mask & self.filter_mask, path))
        return result

    def format_batch(self, events: List[fa.FanotifyEvent]) -> List[str]:
        """The fatrace lines for events read together.  fatrace's FID mode
        gets one event per directory for the entry events queued together
        (``<>`` for a rename in place); with names, the kernel keeps them
        apart, so they are joined here."""
        merged: List[Tuple[int, int, str]] = []
        for event in events:
            with event:
                for pid, mask, path in self.entries(event):
                    if merged:
                        last_pid, last_mask, last_path = merged[-1]
                        if last_pid == pid and last_path == path and not (mask | last_mask) & _IO:
                            merged[-1] = (pid, last_mask | mask, path)
                            continue
                    merged.append((pid, mask, path))
        return [
            f"{self.comm(pid)}({pid}): {mask_to_types(mask):<3} {path}"
            for pid, mask, path in merged
        ]


def _timestamp(mode: int) -> str:
    now = time.time()
    if mode == 1:
        return time.strftime("%H:%M:%S", time.localtime(now)) + f".{int(now % 1 * 1e6):06d} "
    return f"{now:.6f} "


def _prog() -> str:
    """The name ``--help`` shows: the console script's (``butter-fatrace``) when
    run as one, else ``python -m butter.fanotify``."""
    name = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else ""
    return name if name.startswith("butter-fatrace") else "python -m butter.fanotify"


@entry_point
def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        prog=_prog(),
        description="Report file access events (fatrace's output format).",
    )
    parser.add_argument(
        "path",
        nargs="?",
        metavar="PATH",
        help="watch PATH's filesystem, print events at or below PATH",
    )
    parser.add_argument(
        "-c",
        "--current-mount",
        action="store_true",
        help="watch the filesystem of the current directory (PATH=.)",
    )
    parser.add_argument("-o", "--output", metavar="FILE", help="write events to FILE")
    parser.add_argument("-s", "--seconds", type=float, metavar="SECONDS", help="stop after SECONDS")
    parser.add_argument(
        "-t",
        "--timestamp",
        action="count",
        default=0,
        help="add a timestamp (twice: seconds since the epoch)",
    )
    parser.add_argument(
        "-p",
        "--ignore-pid",
        type=int,
        action="append",
        default=[],
        metavar="PID",
        help="ignore events of PID (repeatable)",
    )
    parser.add_argument(
        "-f",
        "--filter",
        metavar="TYPES",
        help="only these event types (from C, R, O, W, +, D, <, >)",
    )
    parser.add_argument("-C", "--command", metavar="COMM", help="only events of COMM")
    args = parser.parse_args(argv)  # fmt: skip
    try:
        filter_mask = types_to_mask(args.filter) if args.filter else ~0
    except ValueError as exc:
        parser.error(str(exc))
    path = args.path
    if path is None and args.current_mount:
        path = os.getcwd()
    out: TextIO = sys.stdout
    if args.output:
        out = open(args.output, "x")  # noqa: SIM115 - closed below
    deadline = None if args.seconds is None else time.monotonic() + args.seconds
    try:
        monitor = Monitor(path, filter_mask, set(args.ignore_pid), args.command)
    except OSError as exc:
        print(f"Cannot watch: {exc}", file=sys.stderr)
        if exc.errno == errno.EPERM:
            print("You need to run this program as root.", file=sys.stderr)
        return 1
    poller = select.poll()
    poller.register(monitor.fan, select.POLLIN)
    try:
        while True:
            if deadline is None:
                ms = -1
            else:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                ms = int(left * 1000) + 1
            if not poller.poll(ms):
                continue
            events = monitor.fan.read_events()
            for line in monitor.format_batch(events):
                if args.timestamp:
                    line = _timestamp(args.timestamp) + line
                out.write(line + "\n")
            out.flush()
    except KeyboardInterrupt:
        pass
    finally:
        monitor.close()
        out.flush()
        if out is not sys.stdout:
            out.close()
    return 0


def program() -> NoReturn:
    """The console script's entry point."""
    run_program(main)


if __name__ == "__main__":
    program()
