"""Recursive watching and renames as one event (exported by butter.inotify).

:class:`InotifyTree` watches directory trees.  It keeps, for every directory
it knows, the names in it, so :meth:`InotifyTree.paths` is what it believes
exists; its events are :class:`PathEvent` ``(path, mask, src_path)`` with full
paths.

The rules are in :class:`InotifyTree`'s documentation.  How the bookkeeping
stays true to the filesystem:

* Events are older than the filesystem: when an event is read, the path it
  names may already hold another inode, or nothing.  So handling events
  (:meth:`InotifyTree._process`) only updates the bookkeeping, in event
  order, and never looks a path up.  Every ``inotify_add_watch`` and every
  listing happens after the whole batch is applied
  (:meth:`InotifyTree._settle`), by each directory's path as of the newest
  event read, for the directories queued in ``_pending``.
* A watch follows its inode, and ``inotify_add_watch`` on a path returns the
  wd that already watches the inode there.  That is how a stale path is
  found: a settle that gets a wd other than the one it knows for the path
  relists the directory (reporting the differences) and queues the path
  that wd belonged to; the kernel's own events queue the rest
  (``IN_IGNORED`` or ``IN_MOVE_SELF`` of a directory still believed in
  place, a failed add because the directory moved on).
"""

from __future__ import annotations

import errno
import math
import numbers
import os
import select
import time

from .._args import RANGES, PathArg, path_bytes, to_flags
from ._constants import (
    IN_ACCESS,
    IN_ALL_EVENTS,
    IN_ATTRIB,
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
    IN_UNMOUNT,
)
from ._core import (
    InotifyEvent,
    PathEvent,
    _InotifyBase,
    inotify_add_watch,
    inotify_rm_watch,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Callable, Dict, Iterable, List, Optional, Set, Tuple, Union

    #: *exclude*: glob patterns matched against names, or a test of full paths.
    ExcludeArg = Union[str, Iterable[str], Callable[[str], object]]

__all__ = ["InotifyTree"]

_TRACK = IN_CREATE | IN_DELETE | IN_MOVE | IN_DELETE_SELF | IN_MOVE_SELF
_DIR_READ = IN_OPEN | IN_ACCESS | IN_CLOSE_NOWRITE  # our own listings cause these
_EVENTS = IN_ALL_EVENTS | IN_UNMOUNT | IN_Q_OVERFLOW | IN_IGNORED  # what *events* may hold
# The path no longer names a directory: the events still to be read say why.
_GONE = (errno.ENOENT, errno.ENOTDIR, errno.ELOOP)
_INT_MAX = RANGES["int"][1]  # poll(2) takes milliseconds in a C int

# _pending flags: what to do when a queued directory is settled.
_REPORT = 1  # report the differences a listing finds (IN_CREATE / IN_DELETE)
_LIST = 2  # list it even if its watch is the one we knew (an overflow lost events)


def _check_events(events: object) -> int:
    what = "IN_* event bits (IN_ALL_EVENTS, IN_UNMOUNT, IN_Q_OVERFLOW, IN_IGNORED)"
    return to_flags("events", events, _EVENTS, "uint32_t", what)


def _check_move_wait(move_wait: object) -> int:
    """*move_wait* (seconds) as whole milliseconds, rounded up."""
    if isinstance(move_wait, bool) or not isinstance(move_wait, numbers.Real):
        raise TypeError(
            f"move_wait must be a real number of seconds, not {type(move_wait).__name__!r}"
        )
    seconds = float(move_wait)
    if not seconds >= 0 or math.isinf(seconds):  # NaN fails the comparison
        raise ValueError(f"move_wait must be a finite number of seconds >= 0, not {move_wait!r}")
    ms = int(seconds * 1000 + 0.999)
    if ms > _INT_MAX:
        raise OverflowError("move_wait is too large (poll(2) takes milliseconds in a C int)")
    return ms


def _check_exclude(exclude: object) -> Optional[Callable[[str, str], bool]]:
    """*exclude* as a test of (directory, name): True to leave the entry out."""
    if exclude is None:
        return None
    if callable(exclude):
        func = exclude

        def by_path(parent: str, name: str) -> bool:
            return bool(func(os.path.join(parent, name)))

        return by_path
    patterns = [exclude] if isinstance(exclude, str) else exclude
    try:
        patterns = list(patterns)  # type: ignore[call-overload]
    except TypeError:
        raise TypeError(
            "exclude must be a glob pattern, an iterable of them or a callable, "
            f"not {type(exclude).__name__!r}"
        ) from None
    for pattern in patterns:
        if not isinstance(pattern, str):
            raise TypeError(f"exclude patterns must be str, not {type(pattern).__name__!r}")
        if os.sep in pattern:
            raise ValueError(
                f"exclude pattern {pattern!r} has a {os.sep!r}: patterns match entry names "
                "(pass a callable to test whole paths)"
            )
    if not patterns:
        return None
    import fnmatch
    import re

    # One regex for all the patterns: one match call per name.
    match = re.compile("|".join(fnmatch.translate(p) for p in patterns)).match

    def by_name(parent: str, name: str) -> bool:
        return match(name) is not None

    return by_name


def _check_progress(progress: object) -> Optional[Callable[[int], object]]:
    if progress is not None and not callable(progress):
        raise TypeError(f"progress must be callable or None, not {type(progress).__name__!r}")
    return progress


def _root_path(path: PathArg) -> str:
    name = os.fsdecode(path_bytes(path))
    if not name:  # the kernel's answer for "" (abspath would make it the cwd)
        raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), path)
    return os.path.abspath(name)


class InotifyTree(_InotifyBase[PathEvent]):
    """Watch directory trees (or single directories with ``recursive=False``).

    ``InotifyTree(path)`` watches *path* and, recursively, every directory
    below it; :meth:`watch` adds more roots.  *events* selects what is
    reported (``IN_*`` event bits, ``ValueError`` for others; the watcher
    always tracks creations, deletions and moves internally).  Events are
    :class:`PathEvent`.

    The rules, all documented behaviour:

    * **New directories** are watched as soon as the events that reported
      them are processed (after each read), then listed: entries that
      appeared before the watch landed are reported as ``IN_CREATE`` events
      of their own (no entry is reported twice).
    * **The tree stays true**: :meth:`paths` equals the real tree once the
      events are read, whatever was created, renamed or removed meanwhile.
      When a directory turns out to be elsewhere than the events said (a
      parent renamed before its new child's event was read, a directory
      replaced under its old name...), it is listed again by its current
      path and the differences are reported as ``IN_CREATE`` /
      ``IN_DELETE``: the events, applied in order, give :meth:`paths`.
      Deleting or moving out an entry never reported is not reported.
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
    * A directory that cannot be watched (permission denied, or a second path
      of a directory already watched, as a bind mount makes) is listed by
      name but not descended.
    * **Excluded entries** (*exclude*, below) are not there as far as the
      watcher is concerned: an excluded directory is neither watched nor
      listed (nor anything below it), no event names an excluded entry, and
      :meth:`paths` leaves them out (it equals the real tree minus the
      excluded entries and everything below them).  A rename from an
      included name to an excluded one is reported as a move out of the tree
      (``IN_MOVED_FROM`` alone), the reverse as a move in (``IN_MOVED_TO``
      alone, a directory's contents then listed without events).  Roots are
      never excluded.
    * **Threads** may share it: each read, the bookkeeping it feeds and the
      pairing of renames run under the read lock, as do :meth:`watch` and
      :meth:`paths`; each event reaches one reader.  ``close()`` from another
      thread wakes threads in ``wait()``/``read_event(s)()`` (``ValueError``)
      and ends iterations.

    *exclude* leaves entries out (see above), like watchfiles' ignored
    names or a ``.gitignore`` without slashes: either glob patterns (one
    ``str`` or an iterable of them, :mod:`fnmatch` syntax, case-sensitive)
    matched against each entry's **name** (``".git"``, ``"node_modules"``,
    ``"*.swp"``, ``"*~"``), or a callable given each entry's full **path**
    that returns true to exclude it.  The callable runs while events are
    read (it must be quick, must not raise and must not use the tree); after
    a directory is renamed its subtree is listed again, so that a callable
    that looks at whole paths decides anew (differences are reported as
    ``IN_CREATE``/``IN_DELETE``).

    *progress*, if given, is called during the listing of whole trees (the
    first scan of a root, in the constructor or :meth:`watch`, and the
    rescan after an overflow) with the number of directories watched so
    far: at the first directory, then at most every 0.1 s, and once at the
    end with the total.  It runs inside the scan (it must not use the tree);
    an exception it raises stops the scan and propagates (the constructor
    then closes the tree, :meth:`watch` forgets the new root; otherwise, as
    for a root nested in another or the rescan of a read, the rest of the
    scan is done by the next read that gets events).
    """

    #: Which kernel interface watches (``"inotify"``; FanotifyTree's is ``"fanotify"``).
    backend = "inotify"

    def __init__(
        self,
        path: Optional[PathArg] = None,
        events: int = IN_ALL_EVENTS,
        recursive: bool = True,
        move_wait: float = 0.002,
        *,
        exclude: Optional[ExcludeArg] = None,
        progress: Optional[Callable[[int], object]] = None,
    ) -> None:
        # Every argument is checked before the fd exists.
        events = _check_events(events)
        if not isinstance(recursive, int):  # bool is an int
            raise TypeError(f"recursive must be a bool, not {type(recursive).__name__!r}")
        move_wait_ms = _check_move_wait(move_wait)
        self._excluded = _check_exclude(exclude)
        self._relist_moved = callable(exclude)  # a path test may change its mind
        self._progress = _check_progress(progress)
        self._progress_at = 0.0  # when progress may be called next
        self._progress_last = -1  # what it was last called with
        self._scanning = False  # a whole-tree listing is under way (for progress)
        self._requeue = False  # progress raised: what the scan left goes to _pending
        root = None if path is None else _root_path(path)
        super().__init__(0)
        self._events = events | IN_Q_OVERFLOW
        self._mask = (events & IN_ALL_EVENTS) | _TRACK | IN_ONLYDIR | IN_DONT_FOLLOW
        # While butter lists a directory its watch leaves out directory
        # reads, so listings queue no events of their own (an overflow
        # rescan could otherwise overflow the queue again, forever).
        self._quiet_mask = self._mask & ~_DIR_READ
        self._recursive = bool(recursive)
        self._move_wait = float(move_wait)
        self._move_wait_ms = move_wait_ms
        self._roots: List[str] = []
        self._wd_dir: Dict[int, str] = {}
        self._dir_wd: Dict[str, int] = {}
        self._entries: Dict[str, Dict[str, bool]] = {}  # dir -> {name: is_dir}
        self._pending: Dict[str, int] = {}  # dir -> _REPORT|_LIST: to settle
        self._from: Optional[InotifyEvent] = None  # an unpaired IN_MOVED_FROM
        if root is not None:
            try:
                self._watch_root(root)
            except BaseException:
                self.close()
                raise

    # -- public -----------------------------------------------------------
    def watch(self, path: PathArg) -> None:
        """Add the directory *path* (and, if recursive, its subtree).  If
        the scan fails (or *progress* raises), the new root is forgotten
        again before the exception propagates (unless it is nested in
        another root, or another in it: see *progress* in the class docs)."""
        root = _root_path(path)
        with self._lock:  # the bookkeeping is the readers' (EventLike's R1)
            # Forgettable if the scan fails: shares nothing with another root.
            new = not any(
                r == root
                or root.startswith(r.rstrip(os.sep) + os.sep)
                or r.startswith(root.rstrip(os.sep) + os.sep)
                for r in self._roots
            )
            try:
                self._watch_root(root)
            except BaseException:
                if new and root in self._roots and self._fd >= 0:
                    self._roots.remove(root)
                    self._drop(root)  # its watches, its bookkeeping, its queue
                    self._scanning = False
                raise

    def paths(self) -> Set[str]:
        """Every path below the roots that the watcher believes exists
        (what ``os.walk`` would list, roots excluded): the real tree once
        the events so far are read."""
        with self._lock:  # one consistent state, not one a reader is changing
            return {
                os.path.join(parent, name)
                for parent, names in self._entries.items()
                for name in names
            }

    @property
    def roots(self) -> List[str]:
        """The watched roots, as absolute paths."""
        return list(self._roots)

    def _repr_info(self) -> str:
        roots = list(self._roots)
        return f"roots={roots!r} dirs={len(self._entries)}"

    # -- bookkeeping -------------------------------------------------------
    # Kept by the methods below, and true after every settle (the end of
    # every read batch):
    #
    # 1. _wd_dir and _dir_wd are inverse maps; every mapped path is a key of
    #    _entries; every key of _entries but a root is listed as a directory
    #    in its parent's entries.
    # 2. Every directory in _entries has a live watch whose wd maps back to
    #    it, or is queued in _pending (settled by its current path after
    #    the next batch: a failed add stays queued, and the events still
    #    unread will move or drop it), or is a root whose IN_IGNORED was
    #    reported.  A directory name known in its parent but not a key of
    #    _entries is one that cannot be watched (see the class docs).
    # 3. A directory whose watch may have lost its inode (IN_IGNORED or
    #    IN_MOVE_SELF still believed in place, the target of a rename) is in
    #    _pending, so its wd is compared with what the path holds now.

    def _watch_root(self, root: str) -> None:
        fd = self.fileno()
        # Raises FileNotFoundError, NotADirectoryError, ... for a bad root.
        inotify_add_watch(fd, root, self._quiet_mask & ~IN_DONT_FOLLOW)
        if root not in self._roots:
            self._roots.append(root)
            self._entries.setdefault(root, {})
            self._scanning = True
            self._progress_at = 0.0  # the first directory is reported
            self._work([], [(root, _LIST)], absorb=False)  # listed without events
        else:
            self._work([], [(root, 0)], absorb=False)

    def _mask_for(self, path: str, quiet: bool) -> int:
        mask = self._quiet_mask if quiet else self._mask
        return mask & ~IN_DONT_FOLLOW if path in self._roots else mask

    def _queue(self, path: str, flags: int) -> None:
        self._pending[path] = self._pending.get(path, 0) | flags

    def _new_dir(self, path: str, flags: int) -> None:
        """A directory just learnt of: watched and listed at the next settle."""
        if path in self._entries:
            self._drop(path)  # stale keys of an earlier directory there
        self._entries[path] = {}
        self._pending[path] = flags

    def _subtree(self, path: str) -> List[str]:
        """*path* and the known directories below it, parents first."""
        if path not in self._entries:
            return []
        found = [path]
        for d in found:  # grows while iterated: a breadth-first walk
            for name, is_dir in self._entries[d].items():
                if is_dir:
                    child = os.path.join(d, name)
                    if child in self._entries:
                        found.append(child)
        return found

    def _drop(self, path: str) -> None:
        """Forget the directory *path* and everything below it, and remove
        their watches (their inodes are gone, or out of the tree)."""
        for d in self._subtree(path):
            del self._entries[d]
            self._pending.pop(d, None)
            wd = self._dir_wd.pop(d, None)
            if wd is not None:
                self._wd_dir.pop(wd, None)
                try:
                    inotify_rm_watch(self._fd, wd)
                except OSError:
                    pass  # already gone with its inode

    def _move(self, src: str, dst: str) -> None:
        """Re-path the known subtree *src* to *dst*: watches follow inodes, so
        each keeps its wd; what was queued for settling stays queued."""
        if dst == src:
            return
        if dst.startswith(src.rstrip(os.sep) + os.sep):  # not a real rename
            self._drop(src)
            return
        if dst in self._entries:
            self._drop(dst)
        for d in self._subtree(src):
            new = dst + d[len(src) :]
            self._entries[new] = self._entries.pop(d)
            flags = self._pending.pop(d, None)
            if flags is not None:
                self._pending[new] = flags
            wd = self._dir_wd.pop(d, None)
            if wd is not None:
                self._dir_wd[new] = wd
                self._wd_dir[wd] = new

    def _map(self, wd: int, path: str, mask: int) -> bool:
        """Record that the directory at *path* is watched by *wd* (what
        ``inotify_add_watch(path)`` just returned).  False if *wd* watches
        another known path that is the same directory (a bind mount)."""
        other = self._wd_dir.get(wd)
        if other is not None and other != path:
            # The inode we called *other* is at *path*: is it at both?
            try:
                again: Optional[int] = inotify_add_watch(
                    self._fd, other, self._mask_for(other, quiet=False)
                )
            except OSError as exc:
                if exc.errno not in _GONE and exc.errno != errno.EACCES:
                    raise
                again = None
            if again == wd:
                return False
            if again is not None and again not in self._wd_dir:
                inotify_rm_watch(self._fd, again)  # *other*'s settle adds it again
            del self._dir_wd[other]  # its directory is elsewhere: find it again
            self._queue(other, _REPORT)
        old = self._dir_wd.get(path)
        if old is not None and old != wd:
            del self._wd_dir[old]  # that inode left *path*
            try:
                inotify_rm_watch(self._fd, old)
            except OSError:
                pass
        self._wd_dir[wd] = path
        self._dir_wd[path] = wd
        return True

    def _unwatchable(self, path: str) -> None:
        """*path* stays a name in its parent, nothing below it is kept."""
        self._pending.pop(path, None)
        if path not in self._roots:
            self._drop(path)

    # -- settling: every path lookup happens here ---------------------------
    def _settle(self, out: List[PathEvent]) -> None:
        """After a batch: watch and list the queued directories by their
        current paths, reporting what the listings find into *out*."""
        if self._from is not None or self._fd < 0:
            return  # a rename's second half is still to come (or closed)
        if self._pending:
            self._work(out, [], absorb=True)

    def _work(self, out: List[PathEvent], first: List[Tuple[str, int]], absorb: bool) -> None:
        """Resolve *first* and (if *absorb*) everything queued, including
        what resolving queues; what is not there yet stays queued."""
        listed: List[str] = []  # listed with the quiet mask, to unquiet
        retry: Dict[str, int] = {}  # not there (yet): the next settle tries again
        todo = first
        rounds = 0
        try:
            while True:
                if absorb and rounds < 64:  # 64: a bound, never reached in practice
                    todo += self._pending.items()
                    self._pending = {}
                if not todo:
                    break
                rounds += 1
                # Parents first: a parent's listing may drop a stale child.
                todo.sort(key=lambda item: item[0].count(os.sep), reverse=True)
                while todo:
                    path, flags = todo.pop()
                    if path in self._entries:
                        self._resolve(path, flags, out, listed, retry, todo)
        finally:
            if self._requeue:  # progress raised: the next settle goes on
                self._requeue = False
                retry.update((path, retry.get(path, 0) | flags) for path, flags in todo)
            for path, flags in retry.items():
                if path in self._entries:
                    self._queue(path, flags)
            self._unquiet_listed(listed)
        if self._scanning:
            self._scanning = False
            count = len(self._dir_wd)
            if self._progress is not None and count != self._progress_last:
                self._progress_last = count
                self._progress(count)

    def _report_progress(self) -> None:
        """Call *progress* now and then during a whole-tree listing."""
        now = time.monotonic()
        if now >= self._progress_at:
            self._progress_at = now + 0.1
            assert self._progress is not None
            self._progress_last = count = len(self._dir_wd)
            try:
                self._progress(count)
            except BaseException:
                self._requeue = True
                raise

    def _resolve(
        self,
        path: str,
        flags: int,
        out: List[PathEvent],
        listed: List[str],
        retry: Dict[str, int],
        todo: List[Tuple[str, int]],
    ) -> None:
        """Watch *path* and compare the wd with the one known for it; list
        it if the wd changed (or it is new, or *flags* has _LIST)."""
        old = self._dir_wd.get(path)
        listing = old is None or bool(flags & _LIST)
        mask = self._mask_for(path, quiet=listing)
        try:
            wd = inotify_add_watch(self._fd, path, mask)
            if wd != old:
                if not self._map(wd, path, mask):
                    self._unwatchable(path)  # a second path of a watched directory
                    return
                if not listing:
                    listing = True
                    mask = self._mask_for(path, quiet=True)
                    inotify_add_watch(self._fd, path, mask)
        except OSError as exc:
            if exc.errno == errno.EACCES:
                self._unwatchable(path)
            elif exc.errno in _GONE:
                if path not in self._roots:  # a root's IN_IGNORED says it
                    retry[path] = retry.get(path, 0) | flags
            else:
                raise
            return
        if listing:
            listed.append(path)
            self._scan(path, flags, out, retry, todo)
            if self._scanning and self._progress is not None:
                self._report_progress()

    def _scan(
        self,
        path: str,
        flags: int,
        out: List[PathEvent],
        retry: Dict[str, int],
        todo: List[Tuple[str, int]],
    ) -> None:
        """List *path*: add what is new (reporting creations if *flags* has
        _REPORT), remove what is gone (reporting deletions); its directories
        go on *todo*, to be watched and compared (listed if new)."""
        known = self._entries[path]
        excluded = self._excluded
        try:
            with os.scandir(path) as it:
                if excluded is None:
                    found = {e.name: e.is_dir(follow_symlinks=False) for e in it}
                else:
                    found = {
                        e.name: e.is_dir(follow_symlinks=False)
                        for e in it
                        if not excluded(path, e.name)
                    }
        except OSError as exc:
            if exc.errno in _GONE:  # moved on since its watch was added
                retry[path] = retry.get(path, 0) | flags | _LIST
                return
            if exc.errno == errno.EACCES:
                self._unwatchable(path)
                return
            raise
        report = flags & _REPORT
        for name in [n for n in known if found.get(n) is not known[n]]:
            child = os.path.join(path, name)
            was_dir = known.pop(name)
            if was_dir:
                self._drop(child)
            if report:
                self._emit(out, child, IN_DELETE | (IN_ISDIR if was_dir else 0))
        subdirs: List[Tuple[str, int]] = []
        for name, is_dir in found.items():
            child = os.path.join(path, name)
            if name not in known:
                known[name] = is_dir
                if report:
                    self._emit(out, child, IN_CREATE | (IN_ISDIR if is_dir else 0))
                if is_dir and self._recursive:
                    if child in self._entries and child not in self._roots:
                        self._drop(child)  # stale keys of an earlier directory there
                    self._entries.setdefault(child, {})  # (a root keeps its own)
                    subdirs.append((child, flags & _REPORT))
            elif is_dir and self._recursive:
                if child in self._entries:
                    subdirs.append((child, flags))
                elif flags & _LIST:  # could not be watched before: try again
                    self._entries[child] = {}
                    subdirs.append((child, flags))
        todo.extend(reversed(subdirs))  # popped from the end: in listing order

    def _unquiet_listed(self, listed: List[str]) -> None:
        """Give the directories just listed their full mask back."""
        for path in listed:
            wd = self._dir_wd.get(path)
            if wd is None:
                continue  # dropped since
            try:
                got = inotify_add_watch(self._fd, path, self._mask_for(path, quiet=False))
            except OSError as exc:
                if exc.errno in _GONE or exc.errno == errno.EACCES:
                    self._queue(path, _REPORT)  # moved on: found (and unquieted) again
                    continue
                raise
            if got != wd:  # another inode took the path meanwhile
                if got not in self._wd_dir:
                    try:
                        inotify_rm_watch(self._fd, got)  # its IN_IGNORED wakes a reader
                    except OSError:
                        pass
                self._queue(path, _REPORT)

    def _rescan_all(self, out: List[PathEvent]) -> None:
        """After an overflow: list everything again at the settle (every
        watch is compared, every directory listed, differences reported)."""
        self._scanning = True
        self._progress_at = 0.0
        for root in self._roots:
            if root in self._entries:
                self._queue(root, _LIST | _REPORT)

    def _emit(self, out: List[PathEvent], path: str, mask: int, src: Optional[str] = None) -> None:
        if mask & self._events and not (mask & IN_ISDIR and mask & _DIR_READ):
            out.append(PathEvent(path, mask, src))

    # -- event processing: bookkeeping only, no path lookups ------------------
    def _unpaired_from(self, out: List[PathEvent]) -> None:
        """The pending IN_MOVED_FROM has no other half: moved out."""
        ev = self._from
        self._from = None
        assert ev is not None
        base = self._wd_dir.get(ev[0])
        if base is None:
            return
        path = os.path.join(base, ev[3])
        was = self._entries.get(base, {}).pop(ev[3], None)
        if was is None:
            return  # never reported: nothing the user knows left
        if was:
            self._drop(path)
        self._emit(out, path, ev[1])

    def _process(self, events: List[InotifyEvent], out: List[PathEvent]) -> None:
        """Apply *events*, in order, to the bookkeeping; report into *out*.
        Directories to watch or check are queued for :meth:`_settle`."""
        entries = self._entries
        excluded = self._excluded
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
                del self._wd_dir[wd]
                if self._dir_wd.get(base) == wd:
                    del self._dir_wd[base]
                if base in self._roots:
                    out.append(PathEvent(base, mask, None))  # the root is gone
                else:
                    # Its IN_DELETE follows (rmdir queues IN_IGNORED first),
                    # or the wd was not the inode at *base*: check.
                    self._queue(base, _REPORT)
                continue
            if not name:
                if base in self._roots:
                    self._emit(out, base, mask)
                elif mask & IN_MOVE_SELF:
                    self._queue(base, _REPORT)  # is it where we believe?
                continue  # a subdirectory's own event: its parent reports it
            if excluded is not None and excluded(base, name):
                # Not in the tree: a rename to this name moved its source out.
                from_ev = self._from
                if from_ev is not None and mask & IN_MOVED_TO and cookie == from_ev[2]:
                    self._unpaired_from(out)
                continue  # (a rename from this name: the IN_MOVED_TO is a move in)
            path = os.path.join(base, name)
            is_dir = bool(mask & IN_ISDIR)
            known = entries.setdefault(base, {})  # (a mapped dir is always there)
            if mask & IN_CREATE:
                was = known.get(name)
                if was is is_dir:  # already listed by a settle
                    if is_dir and path in entries:
                        self._queue(path, _REPORT)
                    continue
                if was is not None:  # the other kind was there: its end was missed
                    del known[name]
                    if was:
                        self._drop(path)
                    self._emit(out, path, IN_DELETE | (IN_ISDIR if was else 0))
                known[name] = is_dir
                self._emit(out, path, mask)
                if is_dir and self._recursive:
                    self._new_dir(path, _REPORT)
            elif mask & IN_DELETE:
                was = known.pop(name, None)
                if was is None:
                    continue  # never reported (or a listing already did)
                if was:
                    self._drop(path)
                self._emit(out, path, mask)
            elif mask & IN_MOVED_FROM:
                self._from = ev
            elif mask & IN_MOVED_TO:
                self._moved_to(ev, base, path, is_dir, out)
            else:
                if (
                    mask & IN_ATTRIB
                    and is_dir
                    and self._recursive
                    and known.get(name)
                    and path not in entries
                ):
                    self._new_dir(path, _REPORT)  # unwatchable before: permissions changed?
                self._emit(out, path, mask)

    def _moved_to(
        self, ev: InotifyEvent, base: str, path: str, is_dir: bool, out: List[PathEvent]
    ) -> None:
        src_ev, self._from = self._from, None
        known = self._entries.setdefault(base, {})
        src = None
        src_base = self._wd_dir.get(src_ev[0]) if src_ev is not None else None
        if src_ev is not None and src_base is not None:
            src_was = self._entries.setdefault(src_base, {}).pop(src_ev[3], None)
            if src_was is not None:
                src = os.path.join(src_base, src_ev[3])
                if src_was and not is_dir:  # (stale: it was a directory)
                    self._drop(src)
        was = known.pop(ev[3], None)
        if was and not (src is not None and is_dir):
            self._drop(path)  # replaced (a moved-in directory is listed afresh)
        known[ev[3]] = is_dir
        if src is None:  # moved in from outside (or from a place never listed)
            self._emit(out, path, ev[1])
            if is_dir and self._recursive:
                self._new_dir(path, 0)
            return
        self._emit(out, path, ev[1] | IN_MOVED_FROM, src)
        if is_dir and self._recursive:
            self._move(src, path)  # drops what it replaced (an empty directory)
            self._entries.setdefault(path, {})
            # Its wd should be the inode that moved; a path test decides anew.
            self._queue(path, _REPORT | (_LIST if self._relist_moved else 0))

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
            self._settle(out)  # the post-batch work, into this batch's events
        return out

    def _read_from_kernel(self) -> List[PathEvent]:
        # Called with the read lock held (EventLike's R1): the kernel read,
        # the bookkeeping and the pairing of renames happen as one unit, so
        # threads sharing the tree see one consistent state.  May return
        # [] (nothing reportable): the waiting loop then looks again.
        return self._read_once()
