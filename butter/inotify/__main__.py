"""``python -m butter.inotify``: an inotifywait-compatible watcher.

Default output lines are ``inotifywait``'s: ``WATCHED_PATH EVENTS FILENAME``
(a directory's path ends with ``/``; events comma separated in
inotify-tools' order; the filename is empty for events on the watched inode
itself), progress messages on stderr.  As in inotifywait, only the events
asked for print (``IGNORED``/``UNMOUNT`` need ``-e ignored``/``-e unmount``),
``-m`` keeps running when every watch is gone, and without ``-m`` the first
event read ends the run (exit 1 if it was not asked for).  ``-m -r`` adds
watches for new and moved-in directories and drops moved-out ones.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Dict, List, NoReturn, Optional

from .._cli import entry_point, run_program
from ._constants import (
    IN_ALL_EVENTS,
    IN_CREATE,
    IN_DELETE_SELF,
    IN_DONT_FOLLOW,
    IN_IGNORED,
    IN_ISDIR,
    IN_MOVED_FROM,
    IN_MOVED_TO,
    IN_Q_OVERFLOW,
    IN_UNMOUNT,
    event_name,
)
from ._core import Inotify, InotifyEvent

# inotify-tools' order (inotifytools_event_to_str); CLOSE follows IGNORED.
_ORDER = [
    "ACCESS", "MODIFY", "ATTRIB", "CLOSE_WRITE", "CLOSE_NOWRITE", "OPEN",
    "MOVED_FROM", "MOVED_TO", "CREATE", "DELETE", "DELETE_SELF", "UNMOUNT",
    "Q_OVERFLOW", "IGNORED", "CLOSE", "MOVE_SELF", "ISDIR", "ONESHOT",
]  # fmt: skip
_BITS = [(name, int(event_name["IN_" + name])) for name in _ORDER]
_ALWAYS = IN_IGNORED | IN_UNMOUNT | IN_Q_OVERFLOW  # delivered whatever the watch mask


def events_to_str(mask: int, sep: str = ",") -> str:
    """``IN_CLOSE_WRITE`` -> ``"CLOSE_WRITE,CLOSE"``, as inotifywait prints."""
    return sep.join(name for name, bit in _BITS if mask & bit)


def str_to_mask(names: List[str]) -> int:
    """inotifywait's ``-e`` names (``modify``, ``close``, ``move``, ``all``...)."""
    mask = 0
    for arg in names:
        for name in arg.split(","):
            key = name.strip().upper()
            if key in ("ALL", "ALL_EVENTS"):
                mask |= IN_ALL_EVENTS
                continue
            value = event_name.get("IN_" + key)
            if not isinstance(value, int):
                raise SystemExit(f"Couldn't watch new file: invalid event {name!r}")
            mask |= value
    return mask


class Watcher:
    """inotifywait's bookkeeping: wd -> printed path, and (``-m -r``) new,
    moved and moved-out directories."""

    inotify: Inotify
    mask: int
    recursive: bool
    tracking: bool
    events: int
    pad: int
    kernel_mask: int

    def __init__(self, mask: int, recursive: bool, monitor: bool = True) -> None:
        self.inotify = Inotify()
        self.mask = mask  # what the user asked for: only these events print
        self.recursive = recursive
        # inotifywait tracks directories (and so asks the kernel for more than
        # the user did) only with -m -r; with -r alone it exits on the 1st event
        self.tracking = recursive and monitor
        self.events = mask | (IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM if self.tracking else 0)
        # IGNORED, UNMOUNT and Q_OVERFLOW come whatever the mask; the kernel
        # takes a mask of only those (inotifywait -e ignored) but
        # inotify_add_watch() wants an event bit: pad with DELETE_SELF (it
        # precedes the IGNORED of a deleted inode) and drop what it delivers.
        kernel_mask = self.events & ~(_ALWAYS | IN_ISDIR)
        self.pad = 0 if kernel_mask & IN_ALL_EVENTS else IN_DELETE_SELF
        self.kernel_mask = kernel_mask | self.pad
        self.paths: Dict[int, str] = {}  # wd -> printed path
        self.moved_from: Optional[str] = None  # a watched directory just moved away

    def add(self, path: str, top: bool = True) -> None:
        isdir = os.path.isdir(path)
        shown = path if not isdir or path.endswith("/") else path + "/"
        mask = self.kernel_mask if top else self.kernel_mask | IN_DONT_FOLLOW
        try:
            wd = self.inotify.watch(path, mask)
        except (FileNotFoundError, NotADirectoryError):
            if top:
                raise
            return
        self.paths[wd] = shown
        if self.recursive and isdir:
            try:
                entries = list(os.scandir(path))
            except OSError:
                return
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    self.add(shown + entry.name, top=False)

    def _remove(self, shown: str) -> None:
        """Drop the one watch printed as *shown* (not those below it, as
        inotifywait does); its IN_IGNORED then prints with an empty path."""
        for wd, p in list(self.paths.items()):
            if p == shown:
                del self.paths[wd]
                try:
                    self.inotify.ignore(wd)
                except OSError:
                    pass
                return

    def handle(self, ev: InotifyEvent) -> Optional[str]:
        """Track directories (-m -r); return the output line, or None.

        As inotifywait: only events the user asked for print (so no
        ``IGNORED``, ``UNMOUNT`` or ``Q_OVERFLOW`` line unless asked with
        ``-e``); a watch that goes away leaves the others (and -m) running.
        An overflow not asked for still gets a warning on stderr.
        """
        wd, mask, _cookie, name = ev
        base = self.paths.get(wd, "")
        line = f"{base} {events_to_str(mask)} {name}" if mask & self.mask else None
        if ev.overflow_event and line is None:
            # Never silent: stdout stays inotifywait's, the warning goes to stderr.
            sys.stderr.write(
                "Warning: the kernel's inotify queue overflowed, events were lost "
                "(raise fs.inotify.max_queued_events)\n"
            )
        if ev.ignored_event:
            self.paths.pop(wd, None)
        moved_from = self.moved_from
        if moved_from is not None and not mask & IN_MOVED_TO:
            # MOVED_FROM not followed by MOVED_TO: it left the tree
            self._remove(moved_from)
            self.moved_from = moved_from = None
        if self.tracking and wd in self.paths:
            if mask & IN_CREATE or (moved_from is None and mask & IN_MOVED_TO):
                if mask & IN_ISDIR:
                    self.add(base + name, top=False)
            elif mask & IN_MOVED_FROM:
                old = base + name + "/"
                if old in self.paths.values():
                    self.moved_from = old
            elif mask & IN_MOVED_TO and moved_from is not None:
                new = base + name + "/"
                for k, p in list(self.paths.items()):
                    if p.startswith(moved_from):
                        self.paths[k] = new + p[len(moved_from) :]
                self.moved_from = None
        return line


def _prog() -> str:
    """The name ``--help`` shows: the console script's (``butter-inotifywait``) when
    run as one, else ``python -m butter.inotify``."""
    name = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else ""
    return name if name.startswith("butter-inotifywait") else "python -m butter.inotify"


@entry_point
def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        prog=_prog(),
        description="Wait for filesystem events (inotifywait-compatible output).",
    )
    parser.add_argument("-m", "--monitor", action="store_true", help="keep listening")
    parser.add_argument("-r", "--recursive", action="store_true", help="watch subdirectories")
    parser.add_argument("-q", "--quiet", action="count", default=0, help="no progress lines")
    parser.add_argument("-e", "--event", action="append", default=[], help="event to watch")
    parser.add_argument("paths", nargs="+", metavar="PATH")
    args = parser.parse_args(argv)
    mask = str_to_mask(args.event) if args.event else IN_ALL_EVENTS
    watcher = Watcher(mask, args.recursive, args.monitor)
    out = sys.stdout
    if args.quiet == 0:
        if args.recursive:
            sys.stderr.write(
                "Setting up watches.  Beware: since -r was given, this may take a while!\n"
            )
        else:
            sys.stderr.write("Setting up watches.\n")
        sys.stderr.flush()
    try:
        for path in args.paths:
            watcher.add(path)
    except OSError as exc:
        sys.stderr.write(f"Couldn't watch {exc.filename}: {exc.strerror}\n")
        return 1
    if args.quiet == 0:
        sys.stderr.write("Watches established.\n")
        sys.stderr.flush()
    try:
        while True:
            for ev in watcher.inotify.read_events():
                if watcher.pad and not ev[1] & ~(watcher.pad | IN_ISDIR):
                    continue  # only the padding bit: the kernel would not send it
                line = watcher.handle(ev)
                if line is not None and args.quiet < 2:
                    out.write(line + "\n")
                if not args.monitor:
                    # inotifywait exits on the first event it reads, printed
                    # or not: 1 if it was not asked for (IGNORED, UNMOUNT...)
                    out.flush()
                    return 0 if ev[1] & watcher.events else 1
            out.flush()  # -m runs on even when no watch is left, as inotifywait
    except KeyboardInterrupt:
        return 130
    finally:
        watcher.inotify.close()


def program() -> NoReturn:
    """The console script's entry point."""
    run_program(main)


if __name__ == "__main__":
    program()
