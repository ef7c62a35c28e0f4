"""``python -m butter.inotify``: an inotifywait-compatible watcher.

Default output lines are ``inotifywait``'s: ``WATCHED_PATH EVENTS FILENAME``
(a directory's path ends with ``/``; events comma separated in
inotify-tools' order; the filename is empty for events on the watched inode
itself), progress messages on stderr.  ``-r`` adds watches for new and
moved-in directories, as inotifywait does.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Dict, List, Optional

from .inotify import (
    IN_ALL_EVENTS,
    IN_CREATE,
    IN_DONT_FOLLOW,
    IN_IGNORED,
    IN_ISDIR,
    IN_MOVED_FROM,
    IN_MOVED_TO,
    IN_ONESHOT,
    Inotify,
    InotifyEvent,
    event_name,
)

# inotify-tools' order (inotifytools_event_to_str); CLOSE follows IGNORED.
_ORDER = [
    "ACCESS", "MODIFY", "ATTRIB", "CLOSE_WRITE", "CLOSE_NOWRITE", "OPEN",
    "MOVED_FROM", "MOVED_TO", "CREATE", "DELETE", "DELETE_SELF", "UNMOUNT",
    "Q_OVERFLOW", "IGNORED", "CLOSE", "MOVE_SELF", "ISDIR", "ONESHOT",
]  # fmt: skip
_BITS = [(name, int(event_name["IN_" + name])) for name in _ORDER]


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
    def __init__(self, mask: int, recursive: bool) -> None:
        self.inotify = Inotify()
        self.mask = mask
        self.recursive = recursive
        self.paths: Dict[int, str] = {}  # wd -> printed path

    def add(self, path: str, top: bool = True) -> None:
        isdir = os.path.isdir(path)
        shown = path if not isdir or path.endswith("/") else path + "/"
        mask = self.mask if top else self.mask | IN_DONT_FOLLOW
        if self.recursive and isdir:
            mask |= IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM
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

    def handle(self, ev: InotifyEvent, moves: Dict[int, str]) -> Optional[str]:
        """Track directories (-r); return the output line, or None."""
        wd, mask, cookie, name = ev
        base = self.paths.get(wd, "")
        if ev.ignored_event:
            self.paths.pop(wd, None)
        if self.recursive and mask & IN_ISDIR and name:
            if mask & IN_MOVED_FROM:
                moves[cookie] = base + name + "/"
            elif mask & (IN_CREATE | IN_MOVED_TO):
                old = moves.pop(cookie, None) if mask & IN_MOVED_TO else None
                new = base + name + "/"
                if old is not None:
                    for k, p in list(self.paths.items()):
                        if p.startswith(old):
                            self.paths[k] = new + p[len(old) :]
                else:
                    self.add(new, top=False)
        if not mask & (self.mask | IN_IGNORED) & ~IN_ONESHOT and not ev.overflow_event:
            return None  # a tracking-only event (-r) the user did not ask for
        return f"{base} {events_to_str(mask)} {name}"


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m butter.inotify",
        description="Wait for filesystem events (inotifywait-compatible output).",
    )
    parser.add_argument("-m", "--monitor", action="store_true", help="keep listening")
    parser.add_argument("-r", "--recursive", action="store_true", help="watch subdirectories")
    parser.add_argument("-q", "--quiet", action="count", default=0, help="no progress lines")
    parser.add_argument("-e", "--event", action="append", default=[], help="event to watch")
    parser.add_argument("paths", nargs="+", metavar="PATH")
    args = parser.parse_args(argv)
    mask = str_to_mask(args.event) if args.event else IN_ALL_EVENTS
    watcher = Watcher(mask, args.recursive)
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
    moves: Dict[int, str] = {}
    try:
        while True:
            for ev in watcher.inotify.read_events():
                line = watcher.handle(ev, moves)
                if line is None or args.quiet > 1:
                    continue
                out.write(line + "\n")
                if not args.monitor:
                    out.flush()
                    return 0
            out.flush()
            if not watcher.paths:
                return 0
    except KeyboardInterrupt:
        return 130
    finally:
        watcher.inotify.close()
