"""``python -m butter.fanotify [options] [PATH]``: a ``fatrace`` work-alike.

Prints one line per event in fatrace's format, ``comm(pid): TYPES path``,
with fatrace's type letters in its order: ``R`` read, ``C`` close, ``W``
write (a modification, or closing a file opened for writing: a closed
written file is ``CW``), ``O`` open, ``+`` create, ``D`` delete, ``<``
moved from, ``>`` moved to (directory events name the directory).  Like
fatrace it uses a FID mode with filesystem marks (directory events need
it; butter takes ``FAN_REPORT_DFID_NAME``, which also names files deleted
before their event was read), falls back to mount marks with event fds on
old kernels, and ignores its own process.  Needs root (``CAP_SYS_ADMIN``).

What is watched, as fatrace (0.17) decides it:

* no option: every real (device-backed) mount;
* ``-c``/``--current-mount``: the filesystem of the current directory (the
  mark is fatrace's, on ``.``), every event on it, wherever its path is;
* butter's own ``PATH`` (or ``--under PATH``): the filesystem holding PATH,
  but only events on PATH or below it are printed.

The other options are fatrace's, with its meanings and checks: ``-o FILE``
(created, never overwritten), ``-s SECONDS`` (butter also takes a fraction),
``-t`` (once: ``HH:MM:SS.usec``; twice: seconds since the epoch; one time
per batch read, as fatrace takes it), ``-p PID`` (repeatable), ``-f TYPES``
(any case; an event is shown if one of its letters is asked for, and then
with all its letters), ``-C COMM``.  A usage error exits with fatrace's
status, 1, as does a watch that cannot be set up; Ctrl-C ends with 0.
"""

from __future__ import annotations

import argparse
import errno
import math
import os
import re
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
    """Mount points backed by a device (or a bind of a real path), as fatrace
    picks them: ``/`` first, then each mount whose source is an existing
    absolute path, and ZFS datasets (whose sources are not paths)."""
    result = ["/"]
    with open("/proc/self/mounts") as f:
        for line in f:
            fields = line.split()
            if len(fields) < 3:
                continue
            source, fstype = fields[0], fields[2]
            target = fields[1].replace("\\040", " ").replace("\\011", "\t")
            target = target.replace("\\012", "\n").replace("\\134", "\\")
            real = source.startswith("/") and os.path.exists(source)
            if (real or fstype == "zfs") and target != "/":
                result.append(target)
    return result


class CannotWatch(Exception):
    """The monitor could not start; the message says why, as fatrace would."""


class Monitor:
    """The watcher: marks, path resolution, line formatting.

    *target* is what to mark: ``None`` for every real mount, else a path
    whose filesystem is marked (``"."`` for ``-c``); a mark that fails on an
    explicit target is fatal, as in fatrace.  *under*, if given, keeps only
    the events on that path or below it.
    """

    ignored: Set[int]
    command: Optional[str]
    prefix: Optional[str]
    filter_mask: int
    fan: fa.Fanotify
    fid: bool

    def __init__(
        self,
        target: Optional[str],
        filter_mask: int = ~0,
        ignored: AbstractSet[int] = frozenset(),
        command: Optional[str] = None,
        under: Optional[str] = None,
    ) -> None:
        self.ignored = set(ignored) | {os.getpid()}
        self.command = command
        self.prefix = os.path.realpath(under) if under is not None else None
        self.filter_mask = filter_mask
        self.mount_fds: Dict[Tuple[int, ...], int] = {}
        self.comm_cache: Tuple[int, str] = (-1, "")
        try:
            self.fan = fa.Fanotify(fa.FAN_REPORT_DFID_NAME)
            self.fid = True
            kind = fa.FAN_MARK_FILESYSTEM
        except OSError as exc:
            if exc.errno != errno.EINVAL:
                message = f"Cannot initialize fanotify: {exc.strerror}"
                if exc.errno == errno.EPERM:
                    message += "\nYou need to run this program as root."
                raise CannotWatch(message) from None
            self.fan = fa.Fanotify()
            self.fid = False
            kind = fa.FAN_MARK_MOUNT
        try:
            if target is not None:
                try:
                    self._mark(target, kind, fatal=True)
                except OSError as exc:
                    raise CannotWatch(f"Failed to add watch for {target}: {exc.strerror}") from None
            elif not sum(self._mark_or_warn(mount, kind) for mount in _real_mounts()):
                raise CannotWatch("no mount could be watched")
        except BaseException:
            self.close()
            raise

    def _mark_or_warn(self, target: str, kind: int) -> bool:
        try:
            return self._mark(target, kind, fatal=False)
        except OSError as exc:
            print(f"Failed to add watch for {target}: {exc.strerror}", file=sys.stderr)
            return False

    def _mark(self, target: str, kind: int, fatal: bool) -> bool:
        """Mark *target*'s filesystem (or mount); False if it was skipped."""
        mask = _MARK_MASK | (_DIR if self.fid else 0)
        try:
            self.fan.watch(target, mask, kind)
        except OSError as exc:
            skip = exc.errno in (errno.EXDEV, errno.ENODEV, errno.EOPNOTSUPP)
            if fatal or not (self.fid and skip):
                raise
            # No file handles here (e.g. some virtual filesystems): skip it.
            return False
        if self.fid:
            # An fd on the mount resolves its file handles to paths.
            fd = os.open(target, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)
            key = fa.fsid(fd)
            if key in self.mount_fds:
                os.close(fd)
            else:
                self.mount_fds[key] = fd
        return True

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
        """``(pid, mask, path)`` to print for *event* (none if filtered out).

        As in fatrace, ``-f`` keeps a line if one of its letters was asked
        for, and the line then shows all of them."""
        if event.pid in self.ignored or not event.mask & self.filter_mask:
            return []
        if self.command is not None and self.comm(event.pid) != self.command:
            return []
        prefix = self.prefix
        result = []
        for mask, path in self.paths(event):
            if not mask & self.filter_mask:
                continue
            if prefix is not None and not (
                path == prefix or path.startswith(prefix.rstrip("/") + "/")
            ):
                continue
            result.append((event.pid, mask, path))
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
    """fatrace's ``-t`` (*mode* 1) and ``-t -t`` (2) stamps, trailing space included."""
    seconds, usec = divmod(time.time_ns() // 1000, 1_000_000)
    if mode == 1:
        return time.strftime("%H:%M:%S", time.localtime(seconds)) + f".{usec:06d} "
    return f"{seconds}.{usec:06d} "


def _prog() -> str:
    """The name ``--help`` shows: the console script's (``butter-fatrace``) when
    run as one, else ``python -m butter.fanotify``."""
    name = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else ""
    return name if name.startswith("butter-fatrace") else "python -m butter.fanotify"


USAGE_ERROR = 1
"""fatrace's status for a usage error (``EXIT_FAILURE``; argparse's own is 2)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(USAGE_ERROR, f"{self.prog}: error: {message}\n")


def _seconds(text: str) -> float:
    """``-s``: a positive number of seconds (fatrace takes whole ones only)."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0 < value < math.inf:
        raise argparse.ArgumentTypeError("Invalid number of seconds")
    return value


def _pid(text: str) -> int:
    """``-p``: a positive process id, written as ``strtol`` reads one."""
    if not re.fullmatch(r"\s*[+-]?[0-9]+", text) or int(text) <= 0:
        raise argparse.ArgumentTypeError("Invalid PID")
    return int(text)


def _types(text: str) -> int:
    """``-f``: fatrace's type letters, any case, to the event bits they select."""
    for letter in text:
        try:
            types_to_mask(letter)
        except ValueError:
            raise argparse.ArgumentTypeError(f"Unknown --filter type {letter!r}") from None
    return types_to_mask(text)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=_prog(),
        description=(
            "Report file access events in fatrace's format, from every real "
            "mount, from the current directory's filesystem (-c), or from "
            "below PATH only."
        ),
        epilog=(
            "Options are fatrace's, with its meanings; PATH/--under is "
            "butter's. Usage errors exit with status 1, as fatrace's do."
        ),
    )
    parser.add_argument(
        "path",
        nargs="?",
        metavar="PATH",
        help="watch PATH's filesystem, print only events at or below PATH (butter's)",
    )
    parser.add_argument(
        "-c",
        "--current-mount",
        action="store_true",
        help="only record events on the partition/mount of the current directory (all of it)",
    )
    parser.add_argument(
        "-o", "--output", metavar="FILE", help="write events to FILE (a new file) instead of stdout"
    )
    parser.add_argument(
        "-s",
        "--seconds",
        type=_seconds,
        metavar="SECONDS",
        help="stop after SECONDS (a positive number)",
    )
    parser.add_argument(
        "-t",
        "--timestamp",
        action="count",
        default=0,
        help="add a timestamp to events; give twice for seconds since the epoch",
    )
    parser.add_argument(
        "-p",
        "--ignore-pid",
        type=_pid,
        action="append",
        default=[],
        metavar="PID",
        help="ignore events for this process ID (repeatable)",
    )
    parser.add_argument(
        "-f",
        "--filter",
        type=_types,
        metavar="TYPES",
        help="show only the given event types, from C, R, O, W, +, D, < and > (e.g. -f OC)",
    )
    parser.add_argument("-C", "--command", metavar="COMM", help="show only events for this command")
    parser.add_argument("--under", metavar="PATH", help="the same as PATH (butter's)")
    return parser


def _open_output(path: str) -> TextIO:
    """``-o``: a new file (``O_EXCL``, mode 0666 less the umask), as fatrace opens it."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
    return os.fdopen(os.open(path, flags, 0o666), "w")


@entry_point
def main(argv: Optional[List[str]] = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.timestamp > 2:
        parser.error("--timestamp option can be given at most two times")
    if args.path is not None and args.under is not None:
        parser.error("PATH and --under are the same option: give one")
    under = args.path if args.path is not None else args.under
    if args.current_mount and under is not None:
        parser.error("-c/--current-mount and PATH/--under are mutually exclusive")
    target = "." if args.current_mount else under
    filter_mask = ~0 if args.filter is None else args.filter
    deadline = None if args.seconds is None else time.monotonic() + args.seconds
    try:
        monitor = Monitor(target, filter_mask, set(args.ignore_pid), args.command, under)
    except CannotWatch as exc:
        print(f"{parser.prog}: {exc}", file=sys.stderr)
        return 1
    out: TextIO = sys.stdout
    try:
        if args.output is not None:
            try:
                out = _open_output(args.output)
            except OSError as exc:
                print(f"{parser.prog}: Failed to open output file: {exc.strerror}", file=sys.stderr)
                return 1
        poller = select.poll()
        poller.register(monitor.fan, select.POLLIN)
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
            stamp = _timestamp(args.timestamp) if args.timestamp else ""
            for line in monitor.format_batch(events):
                out.write(stamp + line + "\n")
            out.flush()
    except KeyboardInterrupt:
        pass  # fatrace stops on SIGINT with status 0
    finally:
        monitor.close()
        if out is not sys.stdout:
            out.close()
    return 0


def program() -> NoReturn:
    """The console script's entry point."""
    run_program(main)


if __name__ == "__main__":
    program()
