"""The inotify core: thin calls, the event types and parser, :class:`Inotify`.

Exported, with the constants and :class:`InotifyTree`, by :mod:`butter.inotify`.
"""

from __future__ import annotations

import errno
import gc
import os
import sys
from collections import namedtuple
from itertools import repeat

from .._args import FdArg, PathArg, fileno, path_bytes, to_flags, to_int
from .._errors import retry_or_raise
from .._fd import E, EventLike
from .._lowlevel import ffi, lib
from .._mask import FileEventFlags, set_mask_flags
from ._constants import (
    _INIT_FLAGS,
    _WATCH_FLAGS,
    IN_ACCESS,
    IN_ALL_EVENTS,
    IN_ATTRIB,
    IN_CLOEXEC,
    IN_CLOSE,
    IN_CLOSE_NOWRITE,
    IN_CLOSE_WRITE,
    IN_CREATE,
    IN_DELETE,
    IN_DELETE_SELF,
    IN_IGNORED,
    IN_ISDIR,
    IN_MODIFY,
    IN_MOVE,
    IN_MOVE_SELF,
    IN_MOVED_FROM,
    IN_MOVED_TO,
    IN_OPEN,
    IN_Q_OVERFLOW,
    IN_UNMOUNT,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Dict, Iterator, List, Optional, Tuple


_EVENT_SIZE: int = ffi.sizeof("struct inotify_event")
_MAX_EVENT_SIZE = _EVENT_SIZE + lib.BUTTER_NAME_MAX + 1
_FS_ENCODING = sys.getfilesystemencoding()
_FS_ERRORS = sys.getfilesystemencodeerrors()


class _EventFlags(FileEventFlags):
    """Boolean views of the mask (item 1) of InotifyEvent and PathEvent."""

    __slots__ = ()
    unmount_event: bool
    ignored_event: bool


set_mask_flags(
    _EventFlags,
    (
        ("access_event", IN_ACCESS, "The file was read."),
        ("modify_event", IN_MODIFY, "The file was written."),
        ("attrib_event", IN_ATTRIB, "Metadata changed."),
        ("close_write_event", IN_CLOSE_WRITE, "Closed after being opened for writing."),
        ("close_nowrite_event", IN_CLOSE_NOWRITE, "Closed, not opened for writing."),
        ("close_event", IN_CLOSE, "Closed (either way)."),
        ("open_event", IN_OPEN, "Opened."),
        ("moved_from_event", IN_MOVED_FROM, "Renamed away (old name)."),
        ("moved_to_event", IN_MOVED_TO, "Renamed here (new name)."),
        ("create_event", IN_CREATE, "Created in the watched directory."),
        ("delete_event", IN_DELETE, "Deleted from the watched directory."),
        ("delete_self_event", IN_DELETE_SELF, "The watched inode was deleted."),
        ("move_self_event", IN_MOVE_SELF, "The watched inode was moved."),
        ("unmount_event", IN_UNMOUNT, "The filesystem was unmounted."),
        ("overflow_event", IN_Q_OVERFLOW, "The kernel queue overflowed: events were lost."),
        ("ignored_event", IN_IGNORED, "The watch is gone (removed, or its inode)."),
        ("is_dir_event", IN_ISDIR, "The subject is a directory."),
    ),
    index=1,
)


# The field types, for type checkers; at run time plain namedtuples (importing
# typing costs ~15 ms).
if TYPE_CHECKING:
    from typing import NamedTuple

    class _InotifyEventFields(NamedTuple):
        wd: int
        mask: int
        cookie: int
        filename: str

    class _PathEventFields(NamedTuple):
        path: str
        mask: int
        src_path: Optional[str]

else:
    _InotifyEventFields = namedtuple("InotifyEvent", "wd mask cookie filename")
    _PathEventFields = namedtuple("PathEvent", "path mask src_path")


class InotifyEvent(_InotifyEventFields, _EventFlags):
    """One inotify event: ``(wd, mask, cookie, filename)``.

    *wd* is the watch it belongs to (-1 for ``IN_Q_OVERFLOW``), *mask* the
    ``IN_*`` bits, *cookie* links the two halves of a rename, *filename* the
    entry's name inside a watched directory (``""`` when the event is about
    the watched inode itself).  The ``*_event`` properties test mask bits.
    """

    __slots__ = ()


class PathEvent(_PathEventFields, _EventFlags):
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


_tuple_new = tuple.__new__
_parse_c = lib.butter_inotify_parse
_read_c = lib.butter_inotify_read


def _parse(ptr: object, size: int) -> Tuple[List[InotifyEvent], int]:
    """Parse *size* bytes at cffi pointer *ptr*; return (events, OR of masks).

    The C side splits the records into columns; the events are then built
    by C-level iteration (map/zip), with no Python code per event.
    """
    if size == 0:
        return [], 0
    cap = size // _EVENT_SIZE
    scratch = ffi.new("uint32_t[]", 3 * cap + 2 + size // 4 + 1)
    n = _parse_c(ptr, size, scratch, cap)
    if n < 0:
        raise ValueError("truncated inotify event in buffer")
    base = 3 * cap
    names = ffi.unpack(ffi.cast("char *", scratch + (base + 2)), scratch[base])
    columns = zip(
        ffi.unpack(ffi.cast("int32_t *", scratch), n),
        ffi.unpack(scratch + cap, n),
        ffi.unpack(scratch + 2 * cap, n),
        names.decode(_FS_ENCODING, _FS_ERRORS).split("\0"),
    )
    if n < 256 or not gc.isenabled():
        return list(map(_tuple_new, repeat(InotifyEvent), columns)), scratch[base + 1]
    # Events hold only ints and strs (no cycles): pausing the cyclic GC while
    # thousands are built saves it rescanning them (~35% of the time).
    gc.disable()
    try:
        return list(map(_tuple_new, repeat(InotifyEvent), columns)), scratch[base + 1]
    finally:
        gc.enable()


def str_to_events(buf: bytes) -> List[InotifyEvent]:
    """Parse the bytes read from an inotify fd into a list of events.

    Pure: works on any bytes-like object (e.g. hand-packed records).
    Names are decoded with the filesystem encoding (as ``os.fsdecode``),
    NUL padding stripped.  A truncated record raises ``ValueError``.
    """
    data = memoryview(buf).cast("B")
    return _parse(ffi.from_buffer(data), len(data))[0]


def _limit_message(err: int, sysctl: str, what: str) -> str:
    try:
        with open("/proc/sys/" + sysctl.replace(".", "/")) as f:
            value = f.read().strip()
    except OSError:  # pragma: no cover - /proc missing
        value = "?"
    return (
        f"{os.strerror(err)}: {what} (sysctl {sysctl} = {value}; raise it, e.g. "
        f"sysctl -w {sysctl}=..., or per user namespace "
        f"/proc/sys/user/max_inotify_{sysctl.rsplit('_', 1)[1]})"
    )


def _raise_limit(err: int, sysctl: str, what: str, filename: object = None) -> None:
    raise OSError(err, _limit_message(err, sysctl, what), filename)


def inotify_init(flags: int = 0) -> int:
    """Create an inotify instance and return its fd (``inotify_init1(2)``).

    *flags*: ``IN_NONBLOCK`` (``IN_CLOEXEC`` is always set, PEP 446).  When
    the per-user instance limit is hit the ``OSError`` (``EMFILE``) names
    ``fs.inotify.max_user_instances``.
    """
    flags = to_flags("flags", flags, _INIT_FLAGS, "int", "IN_NONBLOCK, IN_CLOEXEC")
    while True:
        fd: int = lib.inotify_init1(flags | IN_CLOEXEC)
        if fd >= 0:
            return fd
        if ffi.errno == errno.EMFILE:  # the fd limit or the instance limit
            _raise_limit(
                errno.EMFILE, "fs.inotify.max_user_instances",
                "too many open files or too many inotify instances",
            )  # fmt: skip
        retry_or_raise()


def inotify_add_watch(fd: FdArg, path: PathArg, mask: int) -> int:
    """Watch *path* for the events in *mask*; return the watch descriptor.

    Watching an inode that is already watched by this fd returns the same
    wd and replaces its mask (or adds to it with ``IN_MASK_ADD``).  When the
    per-user watch limit is hit the ``OSError`` (``ENOSPC``) names
    ``fs.inotify.max_user_watches``.
    """
    fd = fileno(fd)
    raw = path_bytes(path)
    mask = to_flags("mask", mask, _WATCH_FLAGS, "uint32_t", "IN_* watch bits")
    if not mask & IN_ALL_EVENTS:
        raise ValueError("inotify watch mask has no event bit (IN_ALL_EVENTS)")
    while True:
        wd: int = lib.inotify_add_watch(fd, raw, mask)
        if wd >= 0:
            return wd
        if ffi.errno == errno.ENOSPC:
            _raise_limit(
                errno.ENOSPC, "fs.inotify.max_user_watches", "inotify watch limit reached", path
            )
        retry_or_raise(path)


def inotify_rm_watch(fd: FdArg, wd: int) -> None:
    """Remove watch *wd*; the kernel then queues ``IN_IGNORED`` for it."""
    fd = fileno(fd)
    wd = to_int("wd", wd, "int")
    while lib.inotify_rm_watch(fd, wd) < 0:
        retry_or_raise()


class _InotifyBase(EventLike[E]):
    """An inotify fd and the buffer it is read into (shared with InotifyTree)."""

    _START_SIZE = 64 * 1024
    _MAX_SIZE = 16 * 1024 * 1024

    def __init__(self, flags: int = 0) -> None:
        super().__init__(inotify_init(flags))
        self._buf = (ffi.new("char[]", self._START_SIZE), self._START_SIZE)

    def _read_raw(self) -> Tuple[List[InotifyEvent], int]:
        """One read(2) into a buffer big enough for what is queued; more
        reads only if the kernel still has events (the buffer then grows).
        Returns the events and the OR of their masks.

        Called with the read lock held (EventLike's R1), so the buffer is
        never read into by two threads; it is also replaced whole (buffer and
        size in one tuple), so no read can pair a new size with an old
        buffer."""
        fd = self._fd
        if fd < 0:
            raise self._closed_error()
        buf, size = self._buf
        while True:
            n = _read_c(fd, buf, size)
            if n >= 0:
                break
            retry_or_raise()
        events, mask_or = _parse(buf, n)
        while n > size - _MAX_EVENT_SIZE:  # full: is there more?
            pending = lib.butter_inotify_pending(fd)
            if pending <= 0:
                break
            if size < self._MAX_SIZE:
                size = min(self._MAX_SIZE, max(2 * size, 2 * pending))
                buf = ffi.new("char[]", size)
                self._buf = (buf, size)
            n = _read_c(fd, buf, size)
            if n <= 0:
                break
            more, more_or = _parse(buf, n)
            events += more
            mask_or |= more_or
        return events, mask_or


class Inotify(_InotifyBase[InotifyEvent]):
    """An inotify fd: ``watch(path)``, then read events, poll it, iterate it.

    *flags*: ``IN_NONBLOCK`` (the fd is always close-on-exec).  It remembers
    the path of every wd (as given to :meth:`watch`), so :meth:`event_path`
    returns an event's full path.  A wd's path is kept after its
    ``IN_IGNORED`` for the events still queued (the kernel hands out wds in
    increasing order, so an old wd is not reused soon).

    Threads may share it: reads take a per-object lock (never held while
    sleeping), so each event goes to exactly one reader; ``wait(timeout)``
    returns in time even when another thread takes the event; ``close()``
    wakes every thread blocked in ``wait()``, ``read_event(s)()`` (which
    raise ``ValueError``) or iteration (which ends).
    """

    def __init__(self, flags: int = 0) -> None:
        super().__init__(flags)
        self._paths: Dict[int, str] = {}
        self._gone: Dict[int, str] = {}

    def watch(self, path: PathArg, events: int = IN_ALL_EVENTS) -> int:
        """Watch *path* for *events* (``IN_*`` bits); return the wd."""
        wd = inotify_add_watch(self.fileno(), path, events)
        self._paths[wd] = os.fsdecode(path)
        return wd

    def ignore(self, wd: int) -> None:
        """Remove watch *wd* (an ``IN_IGNORED`` event follows)."""
        inotify_rm_watch(self.fileno(), wd)

    del_watch = ignore

    @property
    def watches(self) -> Dict[int, str]:
        """A copy of the live wd -> path map."""
        return dict(self._paths)

    def event_path(self, event: InotifyEvent) -> Optional[str]:
        """The full path of *event* (its watch's path joined with its
        filename); ``None`` for an unknown wd (e.g. ``IN_Q_OVERFLOW``)."""
        wd = event[0]
        base = self._paths.get(wd)
        if base is None:
            base = self._gone.get(wd)
            if base is None:
                return None
        name = event[3]
        return os.path.join(base, name) if name else base

    def _read_from_kernel(self) -> List[InotifyEvent]:
        events, mask_or = self._read_raw()
        if mask_or & IN_IGNORED:
            gone = self._gone
            for ev in events:
                if ev[1] & IN_IGNORED:
                    path = self._paths.pop(ev[0], None)
                    if path is not None:
                        gone[ev[0]] = path
            while len(gone) > 4096:
                del gone[next(iter(gone))]
        return events


def watch(path: PathArg, events: int = IN_ALL_EVENTS) -> Iterator[InotifyEvent]:
    """Yield the events of one path, forever (or until its watch is gone:
    the ``IN_IGNORED`` event is the last one).  Closing the generator closes
    the inotify fd."""
    with Inotify() as inotify:
        inotify.watch(path, events)
        while True:
            for event in inotify.read_events():
                yield event
                if event[1] & IN_IGNORED:
                    return
