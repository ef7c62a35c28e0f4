"""Recursive watching with one fanotify mark (exported by butter.fanotify).

:class:`FanotifyTree` watches directory trees like
:class:`butter.inotify.InotifyTree` (same interface, same
:class:`~butter.inotify.PathEvent` events, same rules), with one
``FAN_MARK_FILESYSTEM`` mark per filesystem instead of one inotify watch
per directory.  The kernel then reports, for every directory of the
filesystem, each event with the *file handle* of the directory and the
entry name (``FAN_REPORT_DFID_NAME``), plus the handle of the entry itself
(``FAN_REPORT_TARGET_FID``), and renames as one event with both names
(``FAN_RENAME``).

How the bookkeeping works:

* Directories are *nodes* keyed by their handle (the raw ``fsid`` +
  ``struct file_handle`` bytes as the kernel reports them, so an event's
  directory is found with one dict lookup on a slice of the read buffer,
  before anything else is decoded): each node knows its parent node and
  its name, and its entries ``{name: handle of a directory, or None for
  anything else}``.  A path is built by walking up to a root (and cached
  until a directory is renamed or removed); a rename moves one node.
* Events whose directory is not a node are outside the roots (the mark
  covers the whole filesystem) and are dropped.  That needs no lookup:
  every directory inside the roots became a node when it was listed or
  when its ``FAN_CREATE``/``FAN_RENAME`` event (which carries its handle)
  was read, and the kernel queues that event before any event inside it.
* Events are older than the filesystem: handling them only updates the
  bookkeeping, idempotently (a creation already listed, the deletion of a
  name never seen are no-ops).  Listings (of a new root, of a directory
  moved in, after an overflow) open directories by handle
  (``open_by_handle_at(2)``), so they list the directory the handle names
  wherever it is now, and happen after the whole batch is applied
  (:meth:`FanotifyTree._settle`).  A listing is newer than the events:
  a directory the events put elsewhere that it finds has a rename still
  queued (or lost to an overflow), so a listing never moves such a
  directory silently (:meth:`FanotifyTree._moved_later`): every node is
  where the events read so far put it, and the events reported, applied
  in order, give :meth:`~FanotifyTree.paths`.
* The kernel *merges* an event into an unread one with the same
  directory, name, entry and process (``mkdir d; rmdir d`` reads as one
  ``FAN_CREATE|FAN_DELETE|FAN_ONDIR``), at the place of the older one.  A
  merged event is split in the order the operations must have happened,
  and if it both adds and removes a name its directory is listed again at
  the settle (differences reported as ``IN_CREATE``/``IN_DELETE``), since
  the events in between may be out of order.
"""

from __future__ import annotations

import errno
import os
import struct
import sys
import time

from .._args import PathArg
from .._fd import EventLike
from .._lowlevel import ffi as _ffi
from .._lowlevel import lib
from ..inotify._constants import (
    IN_ACCESS,
    IN_ALL_EVENTS,
    IN_ATTRIB,
    IN_CLOSE_NOWRITE,
    IN_CLOSE_WRITE,
    IN_CREATE,
    IN_DELETE,
    IN_DELETE_SELF,
    IN_IGNORED,
    IN_ISDIR,
    IN_MODIFY,
    IN_MOVE_SELF,
    IN_MOVED_FROM,
    IN_MOVED_TO,
    IN_OPEN,
    IN_Q_OVERFLOW,
)
from ..inotify._core import PathEvent
from ..inotify._tree import _check_events, _check_exclude, _check_progress, _root_path
from ._constants import (
    _O_RDONLY,
    FAN_CLASS_NOTIF,
    FAN_CREATE,
    FAN_DELETE,
    FAN_DELETE_SELF,
    FAN_MARK_ADD,
    FAN_MARK_FILESYSTEM,
    FAN_MARK_MOUNT,
    FAN_MOVE_SELF,
    FAN_ONDIR,
    FAN_Q_OVERFLOW,
    FAN_RENAME,
    FAN_REPORT_DFID_NAME,
    FAN_REPORT_FID,
    FAN_REPORT_TARGET_FID,
    FAN_UNLIMITED_QUEUE,
)
from ._core import fanotify_init, fanotify_mark, name_to_handle_at
from ._records import _FILE_HANDLE, _FSID, _FSID_OFF, _FSID_SIZE, _HANDLE_OFF, _HDR, _META

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Dict, List, Optional, Set, Tuple

    from ..inotify._tree import ExcludeArg

    Key = bytes  # fsid + struct file_handle, as the kernel reports them

__all__ = ["FanotifyTree"]

_M = lib
_INIT_FLAGS = FAN_CLASS_NOTIF | FAN_REPORT_DFID_NAME | FAN_REPORT_FID | FAN_REPORT_TARGET_FID
# What the tree needs whatever *events* asks for.
_TRACK = FAN_CREATE | FAN_DELETE | FAN_RENAME | FAN_DELETE_SELF | FAN_MOVE_SELF | FAN_ONDIR
_DIR_READ = IN_OPEN | IN_ACCESS | IN_CLOSE_NOWRITE  # listings cause these
# The IN_* bits with a FAN_* bit of the same value (IN_MOVED_FROM/TO come from FAN_RENAME).
_SHARED = IN_ALL_EVENTS & ~(IN_MOVED_FROM | IN_MOVED_TO)
# The bits that do not add or remove names, in the order inotify queues them.
_CONTENT_ORDER = (IN_OPEN, IN_ACCESS, IN_MODIFY, IN_ATTRIB, IN_CLOSE_WRITE, IN_CLOSE_NOWRITE)
_CONTENT = IN_OPEN | IN_ACCESS | IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE | IN_CLOSE_NOWRITE

_FID = _M.FAN_EVENT_INFO_TYPE_FID
_DFID_NAME = _M.FAN_EVENT_INFO_TYPE_DFID_NAME
_OLD_DFID_NAME = _M.FAN_EVENT_INFO_TYPE_OLD_DFID_NAME
_NEW_DFID_NAME = _M.FAN_EVENT_INFO_TYPE_NEW_DFID_NAME
_DFID = _M.FAN_EVENT_INFO_TYPE_DFID

_META_SIZE = _META.size
_HDR_SIZE = _HDR.size
_FH_SIZE = _FILE_HANDLE.size
_meta_unpack = _META.unpack_from
_hdr_unpack = _HDR.unpack_from
_fh_unpack = _FILE_HANDLE.unpack_from
if _FSID_OFF + _FSID_SIZE != _HANDLE_OFF:  # pragma: no cover - a new ABI
    raise ImportError("butter.fanotify: padding between fsid and handle")
_u32 = struct.Struct("=I").unpack_from
_HANDLE_START = _FSID_SIZE + _FH_SIZE  # where f_handle starts in a key
_KEY_ROOM: int = lib.BUTTER_HANDLE_KEY_ROOM
_LIST_OUT_SIZE: int = lib.BUTTER_LIST_OUT_SIZE
_LIST_HEADER: int = lib.BUTTER_LIST_HEADER
_list_header = struct.Struct("=BxHiI").unpack_from
_MAX_HELD = 64  # directory fds a listing holds (one per level), deeper: by handle
_fsdecode = os.fsdecode

_GONE = (errno.ESTALE, errno.ENOENT, errno.ENOTDIR, errno.ELOOP)
_O_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC
_MAX_READ = 4 * 1024 * 1024
_MIN_READ = 64 * 1024
_pending = lib.butter_fanotify_pending
_UNWATCHED = b""  # an entry that is a directory not watched (another filesystem...)


def _key(fsid: bytes, handle_type: int, handle: bytes) -> bytes:
    """The node key of a handle, laid out as the kernel reports it."""
    return fsid + _FILE_HANDLE.pack(len(handle), handle_type) + handle


def _fsid_bytes(fd: int) -> bytes:
    from ._core import fsid

    return _FSID.pack(*fsid(fd))


def _fs_type(path: str) -> str:
    """The filesystem type of *path* (from ``/proc/self/mountinfo``)."""
    try:
        dev = os.stat(path).st_dev
        want = f"{os.major(dev)}:{os.minor(dev)}"
        with open("/proc/self/mountinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                fields = line.split()
                if len(fields) > 2 and fields[2] == want and " - " in line:
                    return line.split(" - ", 1)[1].split()[0]
    except OSError:
        pass
    return "unknown"


def _no_handles(exc: OSError, path: str) -> OSError:
    return OSError(
        exc.errno,
        f"{os.strerror(exc.errno or 0)}: FanotifyTree needs a filesystem that gives "
        f"file handles, and {path!r} is on a {_fs_type(path)!r} filesystem that does not "
        "(use butter.inotify.InotifyTree, or butter.watch.watch_tree to choose)",
        path,
    )


def _mount_top(path: str) -> str:
    """The top directory of the mount holding *path* (an absolute path)."""
    while not os.path.ismount(path):
        path = os.path.dirname(path)
    return path


def _needs_admin(exc: OSError) -> PermissionError:
    return PermissionError(
        exc.errno,
        "FanotifyTree needs CAP_SYS_ADMIN (run as root), as every fanotify mark on a "
        "filesystem does: use butter.inotify.InotifyTree, or butter.watch.watch_tree, "
        "which picks what works",
    )


class _Node:
    """A directory: where it is (parent node, name; a root has its path)
    and what is in it."""

    __slots__ = ("entries", "mnt", "name", "parent", "root")

    def __init__(
        self, parent: Optional[bytes], name: str, mnt: int, root: Optional[str] = None
    ) -> None:
        self.parent = parent
        self.name = name
        self.mnt = mnt  # its mount id (a mount point below it has another)
        self.root = root
        # name -> key (directories), _UNWATCHED (directories not watched) or None
        self.entries: Dict[str, Optional[bytes]] = {}


class FanotifyTree(EventLike[PathEvent]):
    """Watch directory trees with one fanotify mark per filesystem.

    ``FanotifyTree(path)`` watches *path* and every directory below it;
    :meth:`watch` adds more roots.  The interface, the events
    (:class:`~butter.inotify.PathEvent`, with ``IN_*`` masks: the ``FAN_*``
    and ``IN_*`` values agree) and the rules are those of
    :class:`~butter.inotify.InotifyTree`: :meth:`paths` is the real tree
    once the events are read, renames are one event (``IN_MOVED_FROM |
    IN_MOVED_TO``, ``src_path`` the old path; moved out of the roots:
    ``IN_MOVED_FROM`` alone, moved in: ``IN_MOVED_TO`` alone, a directory's
    contents then listed without events), an overflow is reported as one
    ``IN_Q_OVERFLOW`` event (path: the first root) followed by the
    differences a full rescan finds, as ``IN_CREATE``/``IN_DELETE``, and
    *exclude*, *progress* and threads behave the same.

    What differs, and why it may be worth it:

    * **No watch limit, no per-directory cost**: one
      ``FAN_MARK_FILESYSTEM`` mark covers every directory of the filesystem
      (``fs.inotify.max_user_watches`` does not apply), and the initial
      scan only lists the tree.
    * **No window after mkdir**: a new directory's events are reported from
      the first one (with inotify, entries created in a brand-new directory
      before its watch lands are found by listing it).
    * Events elsewhere on the same filesystem are read and dropped (one
      dict lookup each): a busy filesystem costs reads.
    * The kernel merges an unread event with a newer one about the same
      entry by the same process (``mkdir d; rmdir d`` reads as one
      event): the merged event is reported as its parts, in the order they
      must have happened, and events of a directory created and removed
      before the read may not be reported (only it is).
    * Directory reads (``IN_OPEN``, ``IN_ACCESS``, ``IN_CLOSE_NOWRITE`` with
      ``IN_ISDIR``) are not reported, as with InotifyTree; ``IN_UNMOUNT``
      is never reported.  A directory's own events (``IN_ATTRIB`` of a
      ``chmod``) are reported once, with its path.

    Needs ``CAP_SYS_ADMIN`` (``PermissionError`` without it: use
    :class:`~butter.inotify.InotifyTree`, or
    :func:`butter.watch.watch_tree`, which chooses), Linux 5.17
    (``FAN_REPORT_TARGET_FID``, ``FAN_RENAME``) and a filesystem that gives
    file handles (``OSError`` naming the filesystem otherwise; ext4, xfs,
    btrfs, tmpfs do).

    *mark*: ``"filesystem"`` (``FAN_MARK_FILESYSTEM``) or ``"mount"``
    (``FAN_MARK_MOUNT``: only the mount of each root; the kernel refuses
    create/delete/rename events on mount marks up to at least 6.18, so this
    raises ``ValueError`` there).  *unlimited_queue*: ``FAN_UNLIMITED_QUEUE``
    (the kernel queue, 16384 events by default, grows without bound: no
    overflow, but a reader that falls behind costs kernel memory).
    *exclude*, *progress*: as for InotifyTree.
    """

    #: Which kernel interface watches (``"fanotify"``; InotifyTree's is ``"inotify"``).
    backend = "fanotify"

    def __init__(
        self,
        path: Optional[PathArg] = None,
        events: int = IN_ALL_EVENTS,
        *,
        mark: str = "filesystem",
        unlimited_queue: bool = False,
        exclude: Optional[ExcludeArg] = None,
        progress: Optional[Callable[[int], object]] = None,
    ) -> None:
        events = _check_events(events)
        if mark not in ("filesystem", "mount"):
            if not isinstance(mark, str):
                raise TypeError(f"mark must be a str, not {type(mark).__name__!r}")
            raise ValueError(f"mark must be 'filesystem' or 'mount', not {mark!r}")
        if not isinstance(unlimited_queue, int):
            raise TypeError(
                f"unlimited_queue must be a bool, not {type(unlimited_queue).__name__!r}"
            )
        self._excluded = _check_exclude(exclude)
        self._relist_moved = callable(exclude)  # a path test may change its mind
        self._progress = _check_progress(progress)
        root = None if path is None else _root_path(path)
        flags = _INIT_FLAGS | (FAN_UNLIMITED_QUEUE if unlimited_queue else 0)
        try:
            fd = fanotify_init(flags, _O_RDONLY)
        except PermissionError as exc:
            raise _needs_admin(exc) from None
        except OSError as exc:
            if exc.errno == errno.EINVAL:
                raise OSError(
                    exc.errno,
                    "FanotifyTree needs Linux 5.17 or later (FAN_REPORT_TARGET_FID, "
                    "FAN_RENAME): use butter.inotify.InotifyTree",
                ) from None
            raise
        super().__init__(fd)
        self._mark_flag = FAN_MARK_FILESYSTEM if mark == "filesystem" else FAN_MARK_MOUNT
        self._markname = mark
        self._unlimited = bool(unlimited_queue)
        self._events = events | IN_Q_OVERFLOW | IN_IGNORED
        self._fan_mask = (events & _SHARED & ~_M.FAN_OPEN_EXEC) | _TRACK
        self._roots: List[str] = []
        self._root_keys: Dict[str, bytes] = {}
        self._nodes: Dict[bytes, _Node] = {}
        self._paths: Dict[bytes, str] = {}  # path cache, cleared when a directory moves
        self._mounts: Dict[bytes, int] = {}  # fsid -> an fd for open_by_handle_at
        self._marked: Set[object] = set()  # fsids (or mount ids) marked
        self._listbuf: Any = None  # butter_list_dir's output, made on first need
        self._last: List[PathEvent] = []  # reported at the end of the batch
        # Entries (directory, name) removed by merged events (with the handle
        # of the object), applied at the end of the batch.
        self._removing: Dict[Tuple[bytes, str], Optional[bytes]] = {}  # -> the object
        self._away: Set[Tuple[bytes, str]] = set()  # ... whose object was renamed away
        # The renames of the batch, by object: (old dir, old name, new dir, new name).
        self._moves: Dict[bytes, List[Tuple[Optional[bytes], str, Optional[bytes], str]]] = {}
        self._pending: Dict[bytes, bool] = {}  # node -> report differences, listed at the settle
        self._progress_at = 0.0
        self._progress_last = -1
        self._scanning = False  # a whole-tree listing is under way (for progress)
        self._listed = 0  # directories listed in the current whole-tree scan
        if root is not None:
            try:
                self._watch_root(root)
            except BaseException:
                self.close()
                raise

    # -- public -----------------------------------------------------------
    def watch(self, path: PathArg) -> None:
        """Add the directory *path* and its subtree (see
        :meth:`butter.inotify.InotifyTree.watch`)."""
        root = _root_path(path)
        with self._lock:
            self.fileno()
            self._watch_root(root)

    def paths(self) -> Set[str]:
        """Every path below the roots that the watcher believes exists
        (what ``os.walk`` would list, roots excluded)."""
        with self._lock:
            out: Set[str] = set()
            for key, node in self._nodes.items():
                if node.entries:
                    base = self._path(key)
                    if base is None:
                        continue
                    out.update(os.path.join(base, name) for name in node.entries)
            return out

    @property
    def roots(self) -> List[str]:
        """The watched roots, as absolute paths."""
        return list(self._roots)

    @property
    def mark(self) -> str:
        """``"filesystem"`` or ``"mount"``: the kind of mark placed."""
        return self._markname

    def close(self) -> None:
        """Close the fanotify group and the fds kept to open handles.
        Calling it again does nothing."""
        mounts, self._mounts = getattr(self, "_mounts", {}), {}
        for fd in mounts.values():
            try:
                os.close(fd)
            except OSError:
                pass
        super().close()

    def _owns(self) -> bool:
        return self._fd >= 0 or bool(getattr(self, "_mounts", None))

    def _repr_info(self) -> str:
        return f"roots={list(self._roots)!r} dirs={len(self._nodes)}"

    # -- roots and marks -------------------------------------------------------
    def _watch_root(self, root: str) -> None:
        fd = os.open(root, _O_DIR)  # FileNotFoundError, NotADirectoryError...
        try:
            try:
                mount_id, htype, handle = name_to_handle_at(fd, "", _M.AT_EMPTY_PATH)
            except OSError as exc:
                if exc.errno in (errno.EOPNOTSUPP, errno.ENOSYS):
                    raise _no_handles(exc, root) from None
                raise
            fsid = _fsid_bytes(fd)
            key = _key(fsid, htype, handle)
            self._place(fd, fsid, mount_id, root, top=False)
        finally:
            if fd >= 0:
                os.close(fd)
        if root in self._roots:
            return
        self._roots.append(root)
        self._root_keys[root] = key
        node = self._nodes.get(key)
        new = node is None
        if node is None:
            node = self._nodes[key] = _Node(None, "", mount_id, root)
        else:
            node.root = root  # a directory already watched: it is a root too
        self._paths.clear()
        self._start_scan()
        try:
            self._scan(key, report=False, out=[], whole=True)
            self._end_scan()  # (progress may raise here too)
        except BaseException:
            self._scanning = False
            # Forgotten again (what it shares with other roots stays).
            self._roots.remove(root)
            del self._root_keys[root]
            node.root = None
            if new:
                self._forget_subtree(key)
            self._paths.clear()
            raise

    def _place(self, fd: int, fsid: bytes, mount_id: int, path: str, top: bool) -> None:
        """Mark the filesystem (or mount) of the directory *fd* if not yet
        done, and keep an fd to open handles of that filesystem with: a
        copy of *fd* if it is the top of its mount (*top*), else one of the
        top of the mount (found from *path*): an fd pins its directory, and
        the kernel queues ``FAN_DELETE_SELF`` of a removed directory only
        once nothing holds it.  *fd* stays the caller's."""
        where = mount_id if self._mark_flag == FAN_MARK_MOUNT else fsid
        if where not in self._marked:
            try:
                fanotify_mark(self._fd, None, self._fan_mask, FAN_MARK_ADD | self._mark_flag, fd)
            except OSError as exc:
                if exc.errno in (errno.EXDEV, errno.EOPNOTSUPP, errno.ENODEV):
                    raise _no_handles(exc, path) from None
                if exc.errno == errno.EPERM:
                    raise _needs_admin(exc) from None
                if exc.errno == errno.EINVAL and self._mark_flag == FAN_MARK_MOUNT:
                    raise ValueError(
                        "mark='mount': this kernel refuses directory entry events "
                        "(create, delete, rename) on mount marks, which FanotifyTree "
                        "needs: use mark='filesystem'"
                    ) from None
                raise
            self._marked.add(where)
        if fsid not in self._mounts:
            self._mounts[fsid] = os.dup(fd) if top else os.open(_mount_top(path), _O_DIR)

    def _submount(self, dfd: int, name: str, mount_id: int, parent_fsid: bytes) -> bytes:
        """The key of directory *name* of *dfd*, a mount point: its
        filesystem is marked too.  ``b""`` if it cannot be watched (no file
        handles there, or a bind mount of the parent's filesystem, whose
        directories are reported under their other path)."""
        try:
            fd = os.open(name, _O_DIR | os.O_NOFOLLOW, dir_fd=dfd)
        except OSError:
            return _UNWATCHED
        try:
            fsid = _fsid_bytes(fd)
            if fsid == parent_fsid or fsid == bytes(len(fsid)):
                return _UNWATCHED
            _, htype, handle = name_to_handle_at(fd, "", _M.AT_EMPTY_PATH)
            self._place(fd, fsid, mount_id, name, top=True)
        except (OSError, ValueError):
            return _UNWATCHED
        finally:
            if fd >= 0:
                os.close(fd)
        return _key(fsid, htype, handle)

    # -- paths -----------------------------------------------------------------
    def _path(self, key: bytes) -> Optional[str]:
        """The path of node *key*, or None if it is not below a root."""
        cache = self._paths
        path = cache.get(key)
        if path is not None:
            return path
        nodes = self._nodes
        names: List[str] = []
        k: Optional[bytes] = key
        seen = 0
        while k is not None:
            node = nodes.get(k)
            if node is None:
                return None
            if node.root is not None:
                path = node.root
                break
            cached = cache.get(k)
            if cached is not None:
                path = cached
                break
            names.append(node.name)
            k = node.parent
            seen += 1
            if seen > len(nodes):  # a loop: never true of a real tree
                return None
        if path is None:
            return None
        for name in reversed(names):
            path = os.path.join(path, name)
        cache[key] = path
        return path

    # -- listing ---------------------------------------------------------------
    def _scan(self, key: bytes, report: bool, out: List[PathEvent], whole: bool) -> None:
        """List directory *key* and the new directories found in it (all
        known ones too if *whole*), reporting differences if *report*.

        The first directory is opened by handle (``open_by_handle_at``:
        the directory itself, wherever it is now), the others relative to
        their parent's fd, held while its subdirectories are listed (up to
        a depth), each checked against the handle the parent's listing
        found (else opened by handle): a rename meanwhile never makes it
        list another directory."""
        nodes = self._nodes
        kbuf = _ffi.new("unsigned char[]", _FSID_SIZE + _KEY_ROOM)
        mid = _ffi.new("int *")
        handle_key = lib.butter_handle_key
        buffer = _ffi.buffer
        frames: List[Tuple[int, List[Tuple[bytes, str]]]] = []
        try:
            fd = self._open_key(key, out)
            if fd < 0:
                return
            frames.append((fd, []))
            frames[-1] = (fd, self._list(key, fd, report, out, whole))
            while frames:
                pfd, children = frames[-1]
                if not children:
                    frames.pop()
                    if pfd >= 0:
                        os.close(pfd)
                    continue
                ckey, name = children.pop()
                if ckey not in nodes:
                    continue
                fd = -1
                if pfd >= 0:
                    try:
                        fd = os.open(name, _O_DIR | os.O_NOFOLLOW, dir_fd=pfd)
                    except OSError:
                        pass
                    else:
                        n = handle_key(fd, b"", _M.AT_EMPTY_PATH, mid, kbuf, _FSID_SIZE)
                        if n < 0 or buffer(kbuf, n)[_FSID_SIZE:] != ckey[_FSID_SIZE:]:
                            os.close(fd)  # another directory took the name
                            fd = -1
                if fd < 0:
                    fd = self._open_key(ckey, out)
                    if fd < 0:
                        continue
                try:
                    grand = self._list(ckey, fd, report, out, whole)
                except BaseException:
                    os.close(fd)
                    raise
                if len(frames) >= _MAX_HELD and fd >= 0:
                    os.close(fd)  # deeper down, open by handle
                    fd = -1
                frames.append((fd, grand))
        finally:
            for pfd, _ in frames:
                if pfd >= 0:
                    os.close(pfd)

    def _open_key(self, key: bytes, out: List[PathEvent]) -> int:
        """Open directory *key* by handle; -1 if it is gone (its entry is
        then removed)."""
        node = self._nodes[key]
        mfd = self._mounts.get(key[:_FSID_SIZE], -1)
        nbytes, htype = _fh_unpack(key, _FSID_SIZE)
        open_handle = lib.butter_open_by_handle_at
        while True:
            fd: int = open_handle(mfd, htype, key[_HANDLE_START:], nbytes, _O_DIR)
            if fd >= 0:
                return fd
            err = _ffi.errno
            if err != errno.EINTR:
                break
        if err not in _GONE:
            raise OSError(err, os.strerror(err), node.root or self._path(key))
        if node.root is None:
            self._vanished(key, out)
        return -1

    def _list(
        self,
        k: bytes,
        fd: int,
        report: bool,
        out: List[PathEvent],
        whole: bool,
    ) -> List[Tuple[bytes, str]]:
        """List the open directory *fd* of node *k* and reconcile its
        entries; return the subdirectories to list next (the new ones, all
        of them if *whole*), last first."""
        nodes = self._nodes
        node = nodes[k]
        excluded = self._excluded
        fsid = k[:_FSID_SIZE]
        mnt = node.mnt
        base = self._path(k) if (excluded is not None or report) else None
        found: Dict[str, Optional[bytes]] = {}
        mounts: Dict[str, int] = {}
        listbuf = self._listbuf
        if listbuf is None:
            listbuf = self._listbuf = _ffi.new("unsigned char[]", _LIST_OUT_SIZE)
        list_dir = lib.butter_list_dir
        header = _list_header
        decode = _fsdecode
        while True:
            n = list_dir(fd, listbuf)
            if n <= 0:
                if n == 0:
                    break
                err = _ffi.errno
                if err == errno.EINTR:
                    continue
                if err in _GONE:
                    return []
                raise OSError(err, os.strerror(err), base or self._path(k))
            data = _ffi.buffer(listbuf, n)[:]
            pos = 0
            while pos < n:
                kind, namelen, info, keylen = header(data, pos)
                start = pos + _LIST_HEADER
                name = decode(data[start : start + namelen])
                pos = start + namelen + keylen
                if excluded is not None and base is not None and excluded(base, name):
                    continue
                if kind == 0:
                    found[name] = None
                elif kind == 1:
                    if info != mnt:  # a mount point
                        found[name] = self._submount(fd, name, info, fsid)
                        mounts[name] = info
                    else:
                        found[name] = fsid + data[start + namelen : pos]
                elif info in _GONE:
                    continue
                elif info in (errno.EOPNOTSUPP, errno.EOVERFLOW):
                    found[name] = _UNWATCHED  # a mount without file handles
                else:
                    raise OSError(info, os.strerror(info), os.path.join(base or "", name))
        self._listed += 1
        if self._scanning and self._progress is not None:
            self._report_progress()
        descend: List[Tuple[bytes, str]] = []
        known = node.entries
        if not known and not report:  # the usual first listing: all new
            for name, child in found.items():
                if child:
                    if child in nodes:
                        if self._moved_later(child, k, name, report):
                            continue  # see _moved_later: not an entry yet
                        self._adopt(child, k, name)
                    else:
                        nodes[child] = _Node(k, name, mounts.get(name, mnt))
                    descend.append((child, name))
                node.entries[name] = child
            descend.reverse()
            return descend
        # Directories gone from here may have been renamed within it: their
        # removal waits until the new entries are known.
        gone: Dict[str, bytes] = {}
        for name in [n for n in known if n not in found or found[n] != known[n]]:
            was = known.pop(name)
            if was and name not in found:
                gone[name] = was
                continue
            if was:
                self._forget(was, k, name)
            if report and base is not None:
                isdir = IN_ISDIR if was is not None else 0
                self._emit(out, os.path.join(base, name), IN_DELETE | isdir)
        for name, child in found.items():
            if k not in nodes:
                return []  # dropped meanwhile: it was inside a directory gone
            if name in known:
                if whole and child:
                    descend.append((child, name))
                continue
            if child and self._moved_later(child, k, name, report, gone):
                continue  # see _moved_later: not an entry yet
            known[name] = child
            path = os.path.join(base, name) if report and base is not None else None
            if not child:
                if path is not None:
                    self._emit(out, path, IN_CREATE | (IN_ISDIR if child is not None else 0))
                continue
            other = nodes.get(child)
            if other is None or other.root is not None:
                if path is not None:
                    self._emit(out, path, IN_CREATE | IN_ISDIR)
                self._adopt(child, k, name, mounts.get(name))
                descend.append((child, name))
                continue
            # A directory known elsewhere: it moved here.  Reported as the
            # rename it was if it was still listed there, else it is listed
            # afresh (its contents reported as creations).
            parent = nodes.get(other.parent) if other.parent is not None else None
            listed = parent is not None and parent.entries.get(other.name) == child
            if other.parent == k and gone.get(other.name) == child:
                listed = True  # renamed within this directory
                del gone[other.name]
            src = self._path(child) if path is not None and listed else None
            if path is not None and src is None:
                self._drop(child)
                self._emit(out, path, IN_CREATE | IN_ISDIR)
            self._adopt(child, k, name, mounts.get(name))
            if src is not None:
                assert path is not None
                self._emit(out, path, IN_MOVED_FROM | IN_MOVED_TO | IN_ISDIR, src)
                if whole:
                    descend.append((child, name))
            else:
                descend.append((child, name))
        for name, was in gone.items():
            self._forget(was, k, name)
            if report and base is not None:
                self._emit(out, os.path.join(base, name), IN_DELETE | IN_ISDIR)
        descend.reverse()
        return descend

    def _moved_later(
        self,
        child: bytes,
        k: bytes,
        name: str,
        report: bool,
        gone: Optional[Dict[str, bytes]] = None,
    ) -> bool:
        """Whether a listing of node *k* that found directory *child* (a
        node known elsewhere) at *name* must leave it where the events put
        it: True then, and the entry is not made.

        The invariant: every node is where the events read so far put it
        (a listing never moves a reported directory without reporting the
        move), so the events reported, applied in order, give
        :meth:`paths`.  A listing shows the filesystem *now*: a directory
        known elsewhere that it finds here moved after the events read, so
        that move's ``FAN_RENAME`` is still queued (or lost to an overflow,
        whose rescan follows).  Therefore:

        * a listing that reports nothing (of a directory moved in, whose
          contents are listed without events) leaves it if its parent still
          lists it: taking it would move a reported directory silently (its
          queued rename then finds it already there and says nothing);
        * a reporting listing (rescan, merged events) takes it, reported as
          the rename it was -- unless *k* is below *child* as far as the
          events say: *k* itself moved too, its place is stale, and taking
          *child* would make a loop of nodes (lost from every root);
        * a rename within *k* (its old name among the entries *gone* from
          this listing) is taken either way: it stays inside *k*.
        """
        other = self._nodes.get(child)
        if other is None or other.root is not None:
            return False  # new here; or a root below another: it is where it is
        if other.parent == k and gone is not None and gone.get(other.name) == child:
            return False
        if other.parent == k and other.name == name:
            return False
        nodes = self._nodes
        if not report:
            parent = nodes.get(other.parent) if other.parent is not None else None
            return parent is not None and parent.entries.get(other.name) == child
        up: Optional[bytes] = k
        seen = 0
        while up is not None and seen <= len(nodes):
            if up == child:
                return True
            above = nodes.get(up)
            if above is None or above.root is not None:
                break
            up = above.parent
            seen += 1
        return False

    def _start_scan(self) -> None:
        """A whole-tree listing starts (for *progress*)."""
        self._scanning = True
        self._listed = 0
        self._progress_at = 0.0  # the first directory is reported
        self._progress_last = -1

    def _end_scan(self) -> None:
        """The listing is done: *progress* is told the total (not after
        it raised)."""
        if self._scanning:
            self._scanning = False
            if sys.exc_info()[0] is not None:
                return
            if self._progress is not None and self._listed != self._progress_last:
                self._progress_last = self._listed
                self._progress(self._listed)

    def _report_progress(self) -> None:
        """Call *progress* now and then during a whole-tree listing."""
        now = time.monotonic()
        if now >= self._progress_at:
            self._progress_at = now + 0.1
            assert self._progress is not None
            self._progress_last = self._listed
            self._progress(self._listed)

    # -- the node model -----------------------------------------------------------
    def _adopt(self, child: bytes, parent: bytes, name: str, mnt: Optional[int] = None) -> bool:
        """Make node *child* the entry *name* of *parent* (*mnt*: its mount
        id, if not its parent's).  True if the node is new (its contents
        are unknown)."""
        node = self._nodes.get(child)
        if node is None:
            if mnt is None:
                owner = self._nodes.get(parent)
                mnt = owner.mnt if owner is not None else 0
            self._nodes[child] = _Node(parent, name, mnt)
            return True
        old_parent, old_name = node.parent, node.name
        if (
            node.root is None
            and old_parent is not None
            and (old_parent, old_name) != (parent, name)
        ):
            # Known elsewhere: that entry is stale.
            other = self._nodes.get(old_parent)
            if other is not None and other.entries.get(old_name) == child:
                del other.entries[old_name]
        node.parent = parent
        node.name = name
        self._paths.clear()
        return False

    def _drop(self, key: bytes) -> None:
        """Forget what is known below directory *key* (it stays a node,
        with no entries)."""
        node = self._nodes[key]
        entries, node.entries = node.entries, {}
        for name, child in entries.items():
            if child:
                self._forget(child, key, name)

    def _forget_subtree(self, key: bytes) -> None:
        """Drop node *key* and the nodes below it (not other roots)."""
        todo = [key]
        while todo:
            k = todo.pop()
            n = self._nodes.pop(k, None)
            self._pending.pop(k, None)
            if n is None:
                continue
            for child in n.entries.values():
                if child:
                    c = self._nodes.get(child)
                    if c is not None and c.parent == k and c.root is None:
                        todo.append(child)

    def _forget(self, key: bytes, parent: bytes, name: str) -> None:
        """Drop node *key* (removed as *parent*'s entry *name*) and its
        subtree, unless it already lives elsewhere."""
        node = self._nodes.get(key)
        if node is None or node.root is not None:
            return
        if (node.parent, node.name) != (parent, name):
            return  # moved on: that entry was stale
        self._forget_subtree(key)
        self._paths.clear()

    def _vanished(self, key: bytes, out: List[PathEvent]) -> None:
        """Directory *key* no longer exists: remove its entry (reported:
        the entry was)."""
        node = self._nodes.get(key)
        if node is None or node.parent is None:
            return
        parent = self._nodes.get(node.parent)
        path = self._path(key)
        if parent is not None and parent.entries.get(node.name) == key:
            del parent.entries[node.name]
            if path is not None:
                self._emit(out, path, IN_DELETE | IN_ISDIR)
        self._forget(key, node.parent, node.name)

    def _emit(self, out: List[PathEvent], path: str, mask: int, src: Optional[str] = None) -> None:
        if mask & self._events and not (mask & IN_ISDIR and mask & _DIR_READ):
            out.append(PathEvent(path, mask, src))

    # -- reading ---------------------------------------------------------------------
    def _read_from_kernel(self) -> List[PathEvent]:
        # Called with the read lock held (EventLike's R1): the read, the
        # bookkeeping and the listings it needs happen as one unit.
        fd = self._fd
        if fd < 0:
            raise self._closed_error()
        size = _pending(fd)
        size = _MIN_READ if size < _MIN_READ else _MAX_READ if size > _MAX_READ else size
        data = os.read(fd, size)
        out: List[PathEvent] = []
        try:
            self._process(data, out)
        finally:
            try:
                self._moves.clear()
                self._apply_removed(out)
                self._settle(out)
            finally:
                if self._last:
                    out += self._last
                    self._last = []
        return out

    def _apply_removed(self, out: List[PathEvent]) -> None:
        """The removals of merged events (see :meth:`_entry_event`)."""
        removing, self._removing = self._removing, {}
        away, self._away = self._away, set()
        nodes = self._nodes
        for (dkey, name), child in removing.items():
            if (dkey, name) in away:
                continue  # it left, and never came back: nothing to remove here
            node = nodes.get(dkey)
            if node is None or name not in node.entries:
                continue
            value = node.entries[name]
            if value and value != child:
                continue  # another directory has the name now
            base = self._path(dkey)
            if base is not None:
                self._vanish(dkey, node, name, os.path.join(base, name), value, out)

    def _settle(self, out: List[PathEvent]) -> None:
        """After a batch: list the directories it queued (moved in: listed
        without events; merged events: differences reported)."""
        while self._pending and self._fd >= 0:
            key, report = self._pending.popitem()
            if key in self._nodes:
                self._scan(key, report, out, whole=not report)

    def _process(self, data: bytes, out: List[PathEvent]) -> None:
        """Apply the events in *data*, in order, to the bookkeeping;
        report into *out*."""
        nodes = self._nodes
        pos = 0
        end = len(data)
        while pos + _META_SIZE <= end:
            event_len, _vers, meta_len, mask, _fd, _pid = _meta_unpack(data, pos)
            if event_len < _META_SIZE or pos + event_len > end:
                break  # pragma: no cover - the kernel writes whole events
            ev_end = pos + event_len
            if mask & FAN_Q_OVERFLOW:
                self._overflow(out)
                pos = ev_end
                continue
            # The info records.  A directory is looked up (a slice and a
            # dict lookup) before its entry name is decoded: events outside
            # the roots stop here.
            dir_key = old_key = new_key = child = None
            dir_name = old_name = new_name = ""
            p = pos + meta_len
            relevant = False
            while p + _HDR_SIZE <= ev_end:
                info_type, length = _hdr_unpack(data, p)
                if length < _HDR_SIZE or p + length > ev_end:
                    break  # pragma: no cover - the kernel writes whole records
                kend = p + _HANDLE_OFF + _FH_SIZE + _u32(data, p + _HANDLE_OFF)[0]
                key = data[p + _FSID_OFF : kend]
                if info_type == _FID:
                    child = key
                elif key in nodes:
                    relevant = True
                    raw = data[kend : p + length]
                    nul = raw.find(b"\0")
                    name = _fsdecode(raw if nul < 0 else raw[:nul])
                    if info_type == _DFID_NAME:
                        dir_key, dir_name = key, name
                    elif info_type == _OLD_DFID_NAME:
                        old_key, old_name = key, name
                    elif info_type == _NEW_DFID_NAME:
                        new_key, new_name = key, name
                p += length
            pos = ev_end
            if not relevant:
                continue  # outside the roots (or a file's own event)
            if mask & FAN_RENAME:
                self._rename(mask, old_key, old_name, new_key, new_name, child, out)
            elif dir_key is not None:
                self._entry_event(mask, dir_key, dir_name, child, out)

    def _entry_event(
        self, mask: int, dkey: bytes, name: str, child: Optional[bytes], out: List[PathEvent]
    ) -> None:
        """An event about entry *name* of directory *dkey* (``"."``: the
        directory itself), possibly several merged by the kernel."""
        node = self._nodes[dkey]
        is_dir = mask & FAN_ONDIR
        isdir = IN_ISDIR if is_dir else 0
        if name == ".":  # the directory's own event
            if node.root is not None:
                self._root_event(dkey, node, mask, out)
                return
            content = mask & _CONTENT
            path = self._path(dkey) if content else None
            if path is not None:
                self._emit_content(out, path, content, IN_ISDIR)
            return
        base = self._paths.get(dkey) or self._path(dkey)
        if base is None:
            return
        excluded = self._excluded
        if excluded is not None and excluded(base, name):
            return
        path = base + "/" + name if base != "/" else "/" + name
        content = mask & _CONTENT
        appear = mask & FAN_CREATE
        vanish = mask & FAN_DELETE
        value = child if is_dir else None
        if is_dir and child is None:  # pragma: no cover - FAN_REPORT_TARGET_FID gives it
            self._pending[dkey] = True
            return
        if appear and vanish:
            # Merged by the kernel, in the place of the older event.  If
            # the entry is known as this object it went, then came back (a
            # file's identity is not kept: a listing of the directory at the
            # settle checks).  Else it came, then went -- at some point
            # after, unknown: the events in between may be about it, or
            # inside it, so its removal waits for the end of the batch (or
            # for another object taking its name, see _appear).
            same = node.entries.get(name, 0) == value
            if same and self._removing.get((dkey, name), child) == child:
                if not is_dir:
                    self._pending[dkey] = True
                self._vanish(dkey, node, name, path, value, out)
                self._emit_content(out, path, content, isdir)
                self._appear(dkey, node, name, path, value, out, child)
            else:
                self._appear(dkey, node, name, path, value, out, child)
                self._emit_content(out, path, content, isdir)
                self._removing[(dkey, name)] = child
        elif appear:
            self._appear(dkey, node, name, path, value, out, child)
            self._emit_content(out, path, content, isdir)
        elif vanish:
            self._emit_content(out, path, content, isdir)
            self._vanish(dkey, node, name, path, value, out)
        elif content:
            self._emit_content(out, path, content, isdir)

    def _emit_content(self, out: List[PathEvent], path: str, content: int, isdir: int) -> None:
        """Report the non-entry bits of an event one by one, in the order
        inotify would have queued them."""
        if content:
            if not content & (content - 1):  # one bit: the usual case
                if content & self._events and not (isdir and content & _DIR_READ):
                    out.append(PathEvent(path, content | isdir, None))
                return
            for bit in _CONTENT_ORDER:
                if content & bit:
                    self._emit(out, path, bit | isdir)

    def _appear(
        self,
        dkey: bytes,
        node: _Node,
        name: str,
        path: str,
        value: Optional[bytes],
        out: List[PathEvent],
        child: Optional[bytes] = None,
    ) -> None:
        """*name* was created in *dkey* (as *value*: a directory's key;
        *child*: the object's handle)."""
        entries = node.entries
        if self._removing:
            self._placing(dkey, node, name, path, child, out)
        if name in entries:
            was = entries[name]
            if was == value:
                return  # already listed
            del entries[name]  # another object: its end was missed
            if was:
                self._forget(was, dkey, name)
            self._emit(out, path, IN_DELETE | (IN_ISDIR if was is not None else 0))
        entries[name] = value
        self._emit(out, path, IN_CREATE | (IN_ISDIR if value is not None else 0))
        if value is not None:
            # Not listed: it was empty when made, and every entry made in it
            # since has its own event, queued after this one.
            self._adopt(value, dkey, name)

    def _placing(
        self,
        dkey: bytes,
        node: _Node,
        name: str,
        path: str,
        child: Optional[bytes],
        out: List[PathEvent],
    ) -> None:
        """An object (*child*) is put at *name* of *dkey*, which has a
        merged removal still to apply: if the object removed is there (as
        far as the events say), its removal came first, so it is applied
        now; if it left (renamed away), it comes back only if *child* is
        it (the removal then waits on)."""
        where = (dkey, name)
        gone = self._removing.get(where, _UNWATCHED)
        if gone == _UNWATCHED:
            return
        if where in self._away:
            if gone == child:
                self._away.discard(where)  # back where it will be removed
            return
        del self._removing[where]
        if name in node.entries:
            self._vanish(dkey, node, name, path, node.entries[name], out)

    def _vanish(
        self,
        dkey: bytes,
        node: _Node,
        name: str,
        path: str,
        value: Optional[bytes],
        out: List[PathEvent],
    ) -> None:
        """*name* (*value*) was removed from *dkey*."""
        entries = node.entries
        if name not in entries:
            return  # never reported (or a listing already removed it)
        was = entries[name]
        if was and value is not None and was != value:
            return  # another directory is there now (a listing saw it)
        del entries[name]
        if was:
            self._forget(was, dkey, name)
        self._emit(out, path, IN_DELETE | (IN_ISDIR if was is not None else 0))

    def _rename(
        self,
        mask: int,
        old_key: Optional[bytes],
        old_name: str,
        new_key: Optional[bytes],
        new_name: str,
        child: Optional[bytes],
        out: List[PathEvent],
        replay: bool = False,
    ) -> None:
        """``FAN_RENAME``: *old_name* of *old_key* became *new_name* of
        *new_key* (either directory may be outside the roots: None).
        *replay*: a rename the kernel merged into an earlier one, applied
        again (see below)."""
        nodes = self._nodes
        excluded = self._excluded
        isdir = IN_ISDIR if mask & FAN_ONDIR else 0
        value = child if isdir else None
        if not replay and isdir and new_key is not None and new_key in nodes:
            # A directory in the way (a rename never replaces a directory
            # that is not empty, nor one the events say was moved away): if
            # a rename of this batch took it from here before, the kernel
            # merged a repeat of that rename into it, which happened before
            # this one: applied now.
            occupant = nodes[new_key].entries.get(new_name)
            if occupant and occupant != child:
                for before in self._moves.get(occupant, ()):
                    if before[0] == new_key and before[1] == new_name:
                        self._rename(mask, *before, occupant, out, replay=True)
                        break
        if child is not None and not replay:
            # The kernel merges a rename into an unread identical one (same
            # names, same object, same process): if the object comes back
            # where an earlier rename of this batch took it from, that
            # rename may have happened again since.  Both directories are
            # then listed at the settle (differences reported).
            moves = self._moves.setdefault(child, [])
            for before in moves:
                if before[0] == new_key and before[1] == new_name:
                    for where in (before[0], before[2]):
                        if where is not None and where in nodes:
                            self._pending[where] = True
            moves.append((old_key, old_name, new_key, new_name))
        src = dst = None
        if old_key is not None:
            base = self._path(old_key)
            if base is not None and not (excluded is not None and excluded(base, old_name)):
                src = os.path.join(base, old_name)
        if new_key is not None:
            base = self._path(new_key)
            if base is not None and not (excluded is not None and excluded(base, new_name)):
                dst = os.path.join(base, new_name)
        moved = False  # the source entry is known (it was reported)
        if src is not None:
            assert old_key is not None
            sentries = nodes[old_key].entries
            if old_name in sentries:
                was = sentries[old_name]
                if not isdir or was in (_UNWATCHED, value):
                    moved = True
                    value = was
        if self._removing:
            if old_key is not None:
                left = (old_key, old_name)
                if self._removing.get(left, _UNWATCHED) == child:
                    self._away.add(left)  # not removed yet: it left
            if dst is not None:
                assert new_key is not None
                self._placing(new_key, nodes[new_key], new_name, dst, child, out)
                if moved and old_key is not None:
                    moved = old_name in nodes[old_key].entries
        if dst is None:
            if moved:  # moved out of the tree
                assert old_key is not None and src is not None
                del nodes[old_key].entries[old_name]
                if value:
                    self._forget(value, old_key, old_name)
                self._emit(out, src, IN_MOVED_FROM | isdir)
            return
        assert new_key is not None
        dentries = nodes[new_key].entries
        if not moved and new_name in dentries and dentries[new_name] == value:
            return  # a listing already saw it there
        if moved:
            assert old_key is not None
            del nodes[old_key].entries[old_name]
        replaced = dentries.pop(new_name, None)
        if replaced and replaced != value:
            self._forget(replaced, new_key, new_name)  # an empty directory
        dentries[new_name] = value
        if moved:
            self._emit(out, dst, IN_MOVED_FROM | IN_MOVED_TO | isdir, src)
            if value:
                self._adopt(value, new_key, new_name)
                if self._relist_moved:
                    self._pending[value] = True  # a path test decides anew
            return
        self._emit(out, dst, IN_MOVED_TO | isdir)  # moved in
        if value and self._adopt(value, new_key, new_name):
            self._pending.setdefault(value, False)  # its contents, without events

    def _root_event(self, key: bytes, node: _Node, mask: int, out: List[PathEvent]) -> None:
        """An event of a root itself: reported with its path; once it is
        deleted, ``IN_IGNORED`` follows (as InotifyTree's)."""
        root = node.root
        assert root is not None
        self._emit_content(out, root, mask & _CONTENT, IN_ISDIR)
        # The kernel may have merged these into an older event of the root
        # (rmtree opens it first): reported at the end of the batch, after
        # the events of what was inside.
        if mask & FAN_MOVE_SELF:
            self._emit(self._last, root, IN_MOVE_SELF)
        if mask & FAN_DELETE_SELF:
            self._emit(self._last, root, IN_DELETE_SELF)
            self._last.append(PathEvent(root, IN_IGNORED, None))

    def _overflow(self, out: List[PathEvent]) -> None:
        """Events were lost: report it, then list every root again."""
        out.append(PathEvent(self._roots[0] if self._roots else "", IN_Q_OVERFLOW, None))
        self._removing.clear()  # the listings below find what is left
        self._away.clear()
        self._start_scan()
        try:
            for root in list(self._roots):
                key = self._root_keys.get(root)
                if key is not None and key in self._nodes:
                    self._scan(key, report=True, out=out, whole=True)
        finally:
            self._end_scan()
