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
    mask_names,
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

    def __repr__(self) -> str:
        """The mask by name (``mask=IN_CREATE|IN_ISDIR``, which evaluates to
        the int with ``from butter.inotify import *``)."""
        return (
            f"InotifyEvent(wd={self[0]!r}, mask={_mask_repr(self[1])}, cookie={self[2]!r}, "
            f"filename={self[3]!r})"
        )


class PathEvent(_PathEventFields, _EventFlags):
    """An event with full paths: ``(path, mask, src_path)``.

    *src_path* is the old path of a rename (``mask`` then has both
    ``IN_MOVED_FROM`` and ``IN_MOVED_TO``), else ``None``.  The ``*_event``
    properties test mask bits; :attr:`rename_event` is a paired rename.
    """

    __slots__ = ()

    def __repr__(self) -> str:
        """The mask by name, as for :class:`InotifyEvent`."""
        return f"PathEvent(path={self[0]!r}, mask={_mask_repr(self[1])}, src_path={self[2]!r})"

    @property
    def rename_event(self) -> bool:
        """A whole rename: *src_path* moved to *path*."""
        mask: int = self[1]
        return mask & IN_MOVE == IN_MOVE


def _mask_repr(mask: object) -> str:
    if type(mask) is not int or mask < 0:
        return repr(mask)  # a tuple built by hand may hold anything
    return "|".join(mask_names(mask)) or "0"


_tuple_new = tuple.__new__
_parse_c = lib.butter_inotify_parse
_read_c = lib.butter_inotify_read
_scratch = ffi.new_allocator(should_clear_after_alloc=False)  # C writes before it reads
_PYPY = sys.implementation.name == "pypy"
_EVENT_P = ffi.typeof("struct inotify_event *")
if TYPE_CHECKING:
    from typing import Any


def _split(ptr: object, size: int, dedup: bool) -> Tuple[Any, int, int, List[str]]:
    """Run the C parser over *size* (> 0) bytes at *ptr*.

    Returns ``(scratch, cap, n, names)`` for *n* events: the distinct
    records' wd, mask and cookie in three int64 columns of *cap* slots at
    the start of *scratch*; ``scratch[6 * cap + i]``, the record of event
    i; ``scratch[7 * cap + 1]``, the OR of all masks; *names*, one decoded
    name per record (so ``len(names)`` records).  Decoding them all in one
    call is ``os.fsdecode`` of each: they are joined by NUL bytes, which
    the ASCII-compatible encodings Python uses for file names on Linux
    decode to lone "\\0" characters.
    """
    if size > 0xFFFF_FFFF:  # the C side counts name bytes in 32 bits
        raise ValueError("inotify buffer too large (4 GiB or more)")
    cap = size // _EVENT_SIZE
    scratch = _scratch("uint32_t[]", 7 * cap + 3 + size // 4 + 1)
    n: int = _parse_c(ptr, size, scratch, cap, dedup)
    if n < 0:
        raise ValueError("truncated inotify event in buffer")
    base = 7 * cap
    names = ffi.unpack(ffi.cast("char *", scratch + (base + 3)), scratch[base])
    return scratch, cap, n, names.decode(_FS_ENCODING, _FS_ERRORS).split("\0")


#: Below this many bytes (about 32 events) the columns path does not look
#: for repeated events: indexing them costs more than it saves.
_DEDUP_MIN = 1024


def _parse_columns(ptr: object, size: int) -> Tuple[List[InotifyEvent], int]:
    """Parse *size* bytes at cffi pointer *ptr*; return (events, OR of masks).

    For CPython: the events are built by C-level iteration (map/zip over
    ``ffi.unpack``-ed columns), with no Python code per event.  A repeated
    event (the same file written again) reuses the ints and str of its
    first occurrence instead of making new ones.
    """
    if size == 0:
        return [], 0
    scratch, cap, n, names = _split(ptr, size, size >= _DEDUP_MIN)
    k = len(names)
    col = ffi.cast("int64_t *", scratch)
    recs: Iterator[Tuple[int, int, int, str]] = zip(
        ffi.unpack(col, k), ffi.unpack(col + cap, k), ffi.unpack(col + 2 * cap, k), names
    )
    if k < n:
        recs = map(list(recs).__getitem__, ffi.unpack(scratch + 6 * cap, n))
    if n < 256 or not gc.isenabled():
        return list(map(_tuple_new, repeat(InotifyEvent), recs)), scratch[7 * cap + 1]
    # Events hold only ints and strs (no cycles): pausing the cyclic GC while
    # thousands are built saves it rescanning them (~35% of the time).
    gc.disable()
    try:
        return list(map(_tuple_new, repeat(InotifyEvent), recs)), scratch[7 * cap + 1]
    finally:
        gc.enable()


# The PyPy path.  There map/zip/list over unpacked lists (the columns path)
# are builtins the JIT does not see into, and most of the time goes to the
# GC copying new objects out of the nursery (1 MiB on a 2 MiB-L2 machine),
# since every one of them survives into the returned list.  Before records
# were folded, the columns path ran at 0.7x a plain struct.unpack_from loop
# there; folding alone makes it ~1.5-2x.  So on PyPy the events are built by
# Python loops the JIT compiles, over cdata pointers (indexing one is a plain
# load), allocating as few surviving objects as they can:
#
# * big buffers (_parse_records): one tuple per record, then per event one
#   InotifyEvent made from its record's tuple, which PyPy builds sharing the
#   tuple's item array, so an event costs one small object.  On a kernel
#   buffer of 16384 IN_MODIFY events alternating between two files:
#   ~5-7x the struct loop (best run), ~3x (median run).  On 16384 distinct
#   names no record is shared, but neighbours' ints are: ~0.9x the struct
#   loop, which leaves names undecoded (~1.3x one doing the same job).
# * small buffers (_parse_walk): no C call and no scratch array.  While the
#   events fit in the nursery they die young and cost little, so walking
#   the records beats the C shim up to ~128 records (~1024 when all names
#   differ): _WALK_MAX is 4 KiB.  A 4-event read: ~1.4x the struct loop.
#
# The CPython path's GC pause does not carry over: PyPy's gc.disable() only
# postpones major collections, and the minor ones are the cost (measured:
# no gain, noisier medians).


_NO_INT = -(1 << 40)  # equal to no wd, mask or cookie


def _parse_records(ptr: object, size: int) -> Tuple[List[InotifyEvent], int]:
    """Parse *size* bytes at cffi pointer *ptr*; return (events, OR of masks).

    For PyPy and big buffers (see above): one plain tuple (with its ints
    and str) per distinct record, then one InotifyEvent per event, made from
    its record's tuple.  Each event is still its own object, equal to what
    the other paths return.
    """
    if size == 0:
        return [], 0
    scratch, cap, n, names = _split(ptr, size, True)
    k = len(names)
    wd = ffi.cast("int64_t *", scratch)
    mask = wd + cap
    cookie = mask + cap
    rid = scratch + 6 * cap
    events: List[Any] = [None] * n
    if 2 * k > n:  # mostly distinct: a shared tuple would be one more object
        # Still, neighbours mostly share wd, mask and cookie: reusing the
        # previous event's int objects then saves allocating new ones.
        last_w = last_m = last_c = _NO_INT
        w_obj = m_obj = c_obj = 0
        for j in range(n):
            r = rid[j]
            w = wd[r]
            if w != last_w:
                last_w = w_obj = w
            m = mask[r]
            if m != last_m:
                last_m = m_obj = m
            c = cookie[r]
            if c != last_c:
                last_c = c_obj = c
            events[j] = _tuple_new(InotifyEvent, (w_obj, m_obj, c_obj, names[r]))
    else:
        recs: List[Any] = [None] * k
        for j in range(k):
            recs[j] = (wd[j], mask[j], cookie[j], names[j])
        for j in range(n):
            events[j] = _tuple_new(InotifyEvent, recs[rid[j]])
    return events, scratch[7 * cap + 1]


def _parse_walk(ptr: Any, size: int) -> Tuple[List[InotifyEvent], int]:
    """Parse *size* bytes at cffi pointer *ptr*; return (events, OR of masks).

    For PyPy and small buffers: a plain walk over the records, reading each
    header through a ``struct inotify_event *`` cast, which the JIT turns
    into plain loads.  With no C call and no scratch array it has no fixed
    cost, and while the events fit in the nursery they cost little, so up
    to :data:`_WALK_MAX` bytes it beats :func:`_parse_records`.  (Records
    of a hand-packed buffer may be unaligned; the CPUs PyPy runs on, x86-64,
    aarch64, ppc64 and s390x, load unaligned words.)
    """
    string = ffi.string
    events: List[InotifyEvent] = []
    mask_or = pos = 0
    while pos < size:
        if size - pos < _EVENT_SIZE:
            raise ValueError("truncated inotify event in buffer")
        ev = ffi.cast(_EVENT_P, ptr + pos)
        mask = ev.mask
        length = ev.len
        pos += _EVENT_SIZE + length
        if pos > size:
            raise ValueError("truncated inotify event in buffer")
        if length:
            name = string(ptr + (pos - length), length).decode(_FS_ENCODING, _FS_ERRORS)
        else:
            name = ""
        events.append(_tuple_new(InotifyEvent, (ev.wd, mask, ev.cookie, name)))
        mask_or |= mask
    return events, mask_or


#: Up to this many bytes (about 128 kernel records) PyPy walks the buffer.
_WALK_MAX = 4096


def _parse_loop(ptr: object, size: int) -> Tuple[List[InotifyEvent], int]:
    """Parse *size* bytes at cffi pointer *ptr*; return (events, OR of masks).

    The PyPy path: :func:`_parse_walk` for small buffers,
    :func:`_parse_records` for big ones.
    """
    if size <= _WALK_MAX:
        return _parse_walk(ptr, size)
    return _parse_records(ptr, size)


_parse = _parse_loop if _PYPY else _parse_columns


def str_to_events(buf: bytes) -> List[InotifyEvent]:
    """Parse the bytes read from an inotify fd into a list of events.

    Pure: works on any bytes-like object (e.g. hand-packed records).
    Names are decoded with the filesystem encoding (as ``os.fsdecode``),
    NUL padding stripped.  A truncated record raises ``ValueError``.
    """
    if type(buf) is not bytes:  # any other bytes-like object, as flat bytes
        buf = memoryview(buf).cast("B")  # type: ignore[assignment]
    return _parse(ffi.from_buffer(buf), len(buf))[0]


def _str_to_events_columns(buf: bytes) -> List[InotifyEvent]:
    """:func:`str_to_events` by the CPython path (for the tests, on both)."""
    data = memoryview(buf).cast("B")
    return _parse_columns(ffi.from_buffer(data), len(data))[0]


def _str_to_events_loop(buf: bytes) -> List[InotifyEvent]:
    """:func:`str_to_events` by the PyPy path (for the tests, on both)."""
    data = memoryview(buf).cast("B")
    return _parse_loop(ffi.from_buffer(data), len(data))[0]


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

    def _repr_info(self) -> str:
        paths = list(self._paths.values())  # a copy: watch() may run meanwhile
        shown = ", ".join(repr(p) for p in paths[:3])
        more = ", ..." if len(paths) > 3 else ""
        return f"watches={len(paths)} [{shown}{more}]" if paths else "watches=0"


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


# -- compatibility with Butter 0.9/0.13.1 -------------------------------------
# Old spellings, each warning with DeprecationWarning (see butter._compat).
from .. import _compat  # noqa: E402

if not TYPE_CHECKING:  # type checkers see the new API only
    #: 0.13.1's ``closefd=``.
    inotify_init = _compat.old_keywords(inotify_init, closefd=True, where="inotify_init(): ")
_compat.patch_init(Inotify, closefd=True)
