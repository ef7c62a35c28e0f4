"""Recursive watching and renames as one event (re-exported by butter.inotify).

:class:`InotifyTree` watches directory trees.  It keeps, for every directory
it knows, the names in it, so :meth:`InotifyTree.paths` is what it believes
exists; its events are :class:`PathEvent` ``(path, mask, src_path)`` with full
paths.

The rules are in :class:`InotifyTree`'s documentation.
"""

from __future__ import annotations

import errno
import os
import select
from collections import namedtuple

from ._fd import check_int
from .inotify import (
    IN_ACCESS,
    IN_ALL_EVENTS,
    IN_CLOSE_NOWRITE,
    IN_CREATE,
    IN_DELETE,
    IN_DELETE_SELF,
    IN_DONT_FOLLOW,
    IN_IGNORED,
    IN_ISDIR,
    IN_MOVE,
    IN_MOVE_SELF,
    IN_MOVED_FROM,
    IN_MOVED_TO,
    IN_ONLYDIR,
    IN_OPEN,
    IN_Q_OVERFLOW,
    InotifyEvent,
    _EventFlags,
    _InotifyBase,
    inotify_add_watch,
    inotify_rm_watch,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Dict, List, Optional, Set

    from .inotify import PathArg

__all__ = ["InotifyTree", "PathEvent"]

_TRACK = IN_CREATE | IN_DELETE | IN_MOVE | IN_DELETE_SELF | IN_MOVE_SELF
_DIR_READ = IN_OPEN | IN_ACCESS | IN_CLOSE_NOWRITE  # our own listings cause these
_GONE = (errno.ENOENT, errno.ENOTDIR, errno.ELOOP, errno.EACCES)


class PathEvent(namedtuple("PathEvent", "path mask src_path"), _EventFlags):
    """An event with full paths: ``(path, mask, src_path)``.

    *src_path* is the old path of a rename (``mask`` then has both
    ``IN_MOVED_FROM`` and ``IN_MOVED_TO``), else ``None``.  The ``*_event``
    properties test mask bits; :attr:`rename_event` is a paired rename.
    """

    __slots__ = ()

    @property
    def rename_event(self) -> bool:
        """A whole rename: *src_path* moved to *path*."""
        mask: int = self[1]
        return mask & IN_MOVE == IN_MOVE


class InotifyTree(_InotifyBase[PathEvent]):
    """Watch directory trees (or single directories with ``recursive=False``).

    ``InotifyTree(path)`` watches *path* and, recursively, every directory
    below it; :meth:`watch` adds more roots.  *events* selects what is
    reported (``IN_*`` bits; the watcher always tracks creations, deletions
    and moves internally).  Events are :class:`PathEvent`.

    The rules, all documented behaviour:

    * **New directories** are watched as soon as their ``IN_CREATE`` is read,
      then listed: entries that appeared before the watch landed are reported
      as ``IN_CREATE`` events of their own (no entry is reported twice).
    * **Renames** are one event: ``mask`` has both ``IN_MOVED_FROM`` and
      ``IN_MOVED_TO``, ``path`` is the new path and ``src_path`` the old one
      (the halves are paired by cookie).  The kernel queues both halves back to
      back; if the ``IN_MOVED_FROM`` is the last event read, the watcher waits
      at most ``move_wait`` seconds (default 0.002) for its other half.
      **Unpaired halves**: an ``IN_MOVED_FROM`` without its ``IN_MOVED_TO`` was
      moved out of the watched tree -- reported alone (``src_path`` None) and
      handled as a deletion; an ``IN_MOVED_TO`` alone was moved in from outside
      -- reported alone and handled as a creation (a directory's contents are
      then watched and listed in :meth:`~InotifyTree.paths`, without events).
    * **Overflow** (``IN_Q_OVERFLOW``): the whole tree is listed again and
      reconciled; the differences found are reported as ``IN_CREATE`` /
      ``IN_DELETE`` events after one ``IN_Q_OVERFLOW`` event (path: the first
      root) telling the user that events were lost.
    * Directory reads (``IN_OPEN``, ``IN_ACCESS``, ``IN_CLOSE_NOWRITE`` with
      ``IN_ISDIR``) are not reported: the watcher's own listings cause them.
    * Events about a watched subdirectory itself (``IN_OPEN|IN_ISDIR`` with no
      name...) are reported once, by its parent; ``IN_IGNORED`` of internal
      watches is not reported.
    """

    def __init__(
        self,
        path: Optional[PathArg] = None,
        events: int = IN_ALL_EVENTS,
        recursive: bool = True,
        move_wait: float = 0.002,
    ) -> None:
        events = check_int("events", events)
        super().__init__(0)
        self._events = events | IN_Q_OVERFLOW
        self._mask = (events & IN_ALL_EVENTS) | _TRACK | IN_ONLYDIR | IN_DONT_FOLLOW
        # While butter lists a directory its watch leaves out directory
        # reads, so listings queue no events of their own (an overflow
        # rescan could otherwise overflow the queue again, forever).
        self._quiet_mask = self._mask & ~_DIR_READ
        self._quiet: List[str] = []
        self._recursive = bool(recursive)
        self._move_wait_ms = max(0, int(move_wait * 1000 + 0.999))
        self._roots: List[str] = []
        self._wd_dir: Dict[int, str] = {}
        self._dir_wd: Dict[str, int] = {}
        self._entries: Dict[str, Dict[str, bool]] = {}  # dir -> {name: is_dir}
        self._from: Optional[InotifyEvent] = None  # an unpaired IN_MOVED_FROM
        self._rewatching: Set[str] = set()
        if path is not None:
            try:
                self.watch(path)
            except BaseException:
                self.close()
                raise

    # -- public -----------------------------------------------------------
    def watch(self, path: PathArg) -> None:
        """Add the directory *path* (and, if recursive, its subtree)."""
        root = os.path.abspath(os.fsdecode(path))
        wd = inotify_add_watch(self.fileno(), root, self._quiet_mask & ~IN_DONT_FOLLOW)
        self._roots.append(root)
        self._map(wd, root)
        self._quiet.append(root)
        self._entries.setdefault(root, {})
        self._scan(root, [], report=False)
        self._unquiet()

    def paths(self) -> Set[str]:
        """Every path below the roots that the watcher believes exists
        (what ``os.walk`` would list, roots excluded)."""
        return {
            os.path.join(parent, name) for parent, names in self._entries.items() for name in names
        }

    @property
    def roots(self) -> List[str]:
        """The watched roots, as absolute paths."""
        return list(self._roots)

    # -- bookkeeping -------------------------------------------------------
    def _map(self, wd: int, path: str) -> None:
        old = self._wd_dir.get(wd)
        if old is not None and old != path and self._dir_wd.get(old) == wd:
            del self._dir_wd[old]  # the inode we called *old* is at *path*
        self._wd_dir[wd] = path
        self._dir_wd[path] = wd
        if old is not None and old != path and old in self._entries:
            self._rewatch(old)  # so whatever is at *old* is found again

    def _rewatch(self, path: str) -> None:
        """Re-list *path*'s subtree from scratch (its watch went astray)."""
        if path in self._rewatching:
            return  # the same inode under two paths (bind mounts)
        self._rewatching.add(path)
        try:
            self._drop(path, rm_watches=False, keep_self=True)
            self._add_dir(path, [], report=False)
        finally:
            self._rewatching.discard(path)

    def _add_dir(self, path: str, out: List[PathEvent], report: bool) -> None:
        self._entries.setdefault(path, {})
        try:
            wd = inotify_add_watch(self._fd, path, self._quiet_mask)
        except OSError as exc:
            if exc.errno in _GONE:
                return  # gone again: its parent's events tell the rest
            raise
        self._map(wd, path)
        self._quiet.append(path)
        self._scan(path, out, report)

    def _unquiet(self) -> None:
        """Give the directories listed since the last call their full mask."""
        quiet, self._quiet = self._quiet, []
        for path in quiet:
            wd = self._dir_wd.get(path)
            if wd is None:
                continue
            mask = self._mask if path not in self._roots else self._mask & ~IN_DONT_FOLLOW
            try:
                got = inotify_add_watch(self._fd, path, mask)
            except OSError as exc:
                if exc.errno in _GONE:
                    continue
                raise
            if got != wd and got not in self._wd_dir:
                inotify_rm_watch(self._fd, got)  # another inode took the path

    def _rescan_all(self, out: List[PathEvent]) -> None:
        """After an overflow: quiet every watch, list everything again."""
        for path, wd in list(self._dir_wd.items()):
            mask = (
                self._quiet_mask if path not in self._roots else self._quiet_mask & ~IN_DONT_FOLLOW
            )
            try:
                got = inotify_add_watch(self._fd, path, mask)
            except OSError as exc:
                if exc.errno in _GONE:
                    continue
                raise
            if got == wd:
                self._quiet.append(path)
            elif got not in self._wd_dir:
                inotify_rm_watch(self._fd, got)
        for root in self._roots:
            self._scan(root, out, report=True)

    def _scan(self, path: str, out: List[PathEvent], report: bool) -> None:
        """List *path*: add what is new (reporting creations if *report*),
        remove what is gone (reporting deletions), recurse into subdirs."""
        known = self._entries.setdefault(path, {})
        try:
            with os.scandir(path) as it:
                found = {e.name: e.is_dir(follow_symlinks=False) for e in it}
        except OSError as exc:
            if exc.errno in _GONE:
                return
            raise
        for name in [n for n in known if n not in found or found[n] != known[n]]:
            child = os.path.join(path, name)
            was_dir = known.pop(name)
            if was_dir:
                self._drop(child, rm_watches=True)
            if report:
                self._emit(out, child, IN_DELETE | (IN_ISDIR if was_dir else 0))
        for name, is_dir in found.items():
            child = os.path.join(path, name)
            if name not in known:
                known[name] = is_dir
                if report:
                    self._emit(out, child, IN_CREATE | (IN_ISDIR if is_dir else 0))
                if is_dir and self._recursive:
                    self._add_dir(child, out, report)
            elif is_dir and self._recursive:
                if child in self._dir_wd:
                    self._scan(child, out, report)
                else:
                    self._add_dir(child, out, report)

    def _drop(self, path: str, rm_watches: bool, keep_self: bool = False) -> None:
        """Forget the directory *path* and everything below it."""
        prefix = path + os.sep
        for d in [d for d in self._entries if d == path or d.startswith(prefix)]:
            if not (keep_self and d == path):
                del self._entries[d]
            else:
                self._entries[d] = {}
            wd = self._dir_wd.pop(d, None)
            if wd is not None:
                self._wd_dir.pop(wd, None)
                if rm_watches:
                    try:
                        inotify_rm_watch(self._fd, wd)
                    except OSError:
                        pass  # already gone with its inode

    def _move(self, src: str, dst: str) -> None:
        """Re-path the known subtree *src* to *dst* (watches follow inodes)."""
        prefix = src + os.sep
        for d in [d for d in self._entries if d == src or d.startswith(prefix)]:
            new = dst + d[len(src) :]
            self._entries[new] = self._entries.pop(d)
            wd = self._dir_wd.pop(d, None)
            if wd is not None:
                self._dir_wd[new] = wd
                self._wd_dir[wd] = new

    def _emit(self, out: List[PathEvent], path: str, mask: int, src: Optional[str] = None) -> None:
        if mask & self._events and not (mask & IN_ISDIR and mask & _DIR_READ):
            out.append(PathEvent(path, mask, src))

    # -- event processing ----------------------------------------------------
    def _unpaired_from(self, out: List[PathEvent]) -> None:
        ev = self._from
        self._from = None
        assert ev is not None
        base = self._wd_dir.get(ev[0])
        if base is None:
            return
        path = os.path.join(base, ev[3])
        if self._entries.get(base, {}).pop(ev[3], False):
            self._drop(path, rm_watches=True)
        self._emit(out, path, ev[1])

    def _process(self, events: List[InotifyEvent], out: List[PathEvent]) -> None:
        entries = self._entries
        for ev in events:
            wd, mask, cookie, name = ev
            if self._from is not None and not (mask & IN_MOVED_TO and cookie == self._from[2]):
                self._unpaired_from(out)
            if mask & IN_Q_OVERFLOW:
                self._emit(out, self._roots[0] if self._roots else "", mask)
                self._rescan_all(out)
                continue
            base = self._wd_dir.get(wd)
            if base is None:
                continue  # a watch already forgotten (its IN_IGNORED, say)
            if mask & IN_IGNORED:
                if base in self._roots:
                    out.append(PathEvent(base, mask, None))  # the root is gone
                if self._dir_wd.get(base) == wd:
                    del self._dir_wd[base]
                del self._wd_dir[wd]
                continue
            if not name:
                if base in self._roots:
                    self._emit(out, base, mask)
                continue  # a subdirectory's own event: its parent reports it
            path = os.path.join(base, name)
            is_dir = bool(mask & IN_ISDIR)
            known = entries.setdefault(base, {})
            if mask & IN_CREATE:
                if known.get(name) is is_dir and (not is_dir or path in entries):
                    continue  # already listed by a scan
                known[name] = is_dir
                self._emit(out, path, mask)
                if is_dir and self._recursive:
                    self._add_dir(path, out, report=True)
            elif mask & IN_DELETE:
                if known.pop(name, False):
                    self._drop(path, rm_watches=True)
                self._emit(out, path, mask)
            elif mask & IN_MOVED_FROM:
                self._from = ev
            elif mask & IN_MOVED_TO:
                self._moved_to(ev, base, path, is_dir, out)
            else:
                self._emit(out, path, mask)

    def _moved_to(
        self, ev: InotifyEvent, base: str, path: str, is_dir: bool, out: List[PathEvent]
    ) -> None:
        src_ev, self._from = self._from, None
        known = self._entries.setdefault(base, {})
        src_base = self._wd_dir.get(src_ev[0]) if src_ev is not None else None
        if src_ev is None or src_base is None:  # moved in from outside
            known[ev[3]] = is_dir
            self._emit(out, path, ev[1])
            if is_dir and self._recursive:
                self._drop(path, rm_watches=False)
                self._add_dir(path, out, report=False)
            return
        src = os.path.join(src_base, src_ev[3])
        self._entries.get(src_base, {}).pop(src_ev[3], None)
        old = known.pop(ev[3], None)
        if old:
            self._drop(path, rm_watches=True)  # replaced an (empty) directory
        known[ev[3]] = is_dir
        self._emit(out, path, ev[1] | IN_MOVED_FROM, src)
        if is_dir:
            self._move(src, path)
            if self._recursive and path not in self._dir_wd:
                self._add_dir(path, out, report=True)

    def _read_once(self) -> List[PathEvent]:
        """One read (plus the short wait for a rename's second half);
        possibly no event to report.  Raises BlockingIOError if the fd is
        non-blocking and nothing is queued."""
        out: List[PathEvent] = []
        events, _ = self._read_raw()
        try:
            self._process(events, out)
            while self._from is not None:
                poller = select.poll()
                poller.register(self._fd, select.POLLIN)
                if not poller.poll(self._move_wait_ms):
                    self._unpaired_from(out)
                    break
                events, _ = self._read_raw()
                self._process(events, out)
        finally:
            self._unquiet()
        return out

    def _read_from_kernel(self) -> List[PathEvent]:
        # Called with the read lock held (EventLike's R1): the kernel read,
        # the bookkeeping and the pairing of renames happen as one unit, so
        # threads sharing the tree see one consistent state.  May return
        # [] (nothing reportable): the waiting loop then looks again.
        return self._read_once()
