"""fanotify records: :class:`FanotifyEvent`, the info records, the parser.

Kept apart from ``butter.fanotify._core`` (the calls and the fd owner) to keep
both readable.  Every layout comes from the compiled headers (see
:mod:`butter._cstruct`); nothing here is a hand-written offset.
"""

from __future__ import annotations

import os
import struct
import sys
from collections import namedtuple

from .. import _errors  # noqa: F401  (first: it checks the compiled module's build)
from .._cstruct import cstruct
from .._fd import Resource
from .._lowlevel import ffi, lib
from .._mask import FileEventFlags, set_mask_flags
from ._compat import FanotifyEventCompat
from ._constants import mask_names

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import List, NamedTuple, Optional, Tuple, Union


__all__ = [
    "ErrorInfo",
    "FanotifyEvent",
    "FidInfo",
    "MntInfo",
    "PidfdInfo",
    "RangeInfo",
    "RawInfo",
    "str_to_events",
]

_M = lib  # constants, by their C names
_FID_TYPES = frozenset(
    (
        _M.FAN_EVENT_INFO_TYPE_FID,
        _M.FAN_EVENT_INFO_TYPE_DFID,
        _M.FAN_EVENT_INFO_TYPE_DFID_NAME,
        _M.FAN_EVENT_INFO_TYPE_OLD_DFID_NAME,
        _M.FAN_EVENT_INFO_TYPE_NEW_DFID_NAME,
    )
)
_NAMED_TYPES = frozenset(
    (
        _M.FAN_EVENT_INFO_TYPE_DFID_NAME,
        _M.FAN_EVENT_INFO_TYPE_OLD_DFID_NAME,
        _M.FAN_EVENT_INFO_TYPE_NEW_DFID_NAME,
    )
)

# -- layouts, from the compiler ------------------------------------------------
_META, _ = cstruct(
    ffi,
    "struct fanotify_event_metadata",
    ("event_len", "vers", "metadata_len", "mask", "fd", "pid"),
)
META_SIZE: int = _META.size
_HDR, _ = cstruct(ffi, "struct fanotify_event_info_header", ("info_type", "len"))
_HDR_SIZE = _HDR.size
_layout = ffi.new("size_t[4]")
lib.butter_fan_fid_layout(_layout)
_FSID_OFF, _FSID_SIZE, _HANDLE_OFF = int(_layout[1]), int(_layout[2]), int(_layout[3])
del _layout
#: ``__kernel_fsid_t`` is ``int val[N]``; N comes from the headers.
FSID_WORDS: int = lib.BUTTER_FAN_FSID_WORDS
_FSID = struct.Struct(f"={FSID_WORDS}i")
if _FSID.size != _FSID_SIZE:  # pragma: no cover - would be a new ABI
    raise ImportError("butter.fanotify: unexpected __kernel_fsid_t layout")
_FILE_HANDLE, _ = cstruct(ffi, "struct file_handle", ("handle_bytes", "handle_type"))
_PIDFD, _ = cstruct(ffi, "struct fanotify_event_info_pidfd", ("pidfd",))
_ERROR, _ = cstruct(ffi, "struct fanotify_event_info_error", ("error", "error_count"))
_RANGE, _ = cstruct(ffi, "struct fanotify_event_info_range", ("offset", "count"))
_MNT, _ = cstruct(ffi, "struct fanotify_event_info_mnt", ("mnt_id",))
_VERSION: int = lib.FANOTIFY_METADATA_VERSION

# -- info records -----------------------------------------------------------------
if TYPE_CHECKING:

    class FidInfo(NamedTuple):
        type: int
        fsid: Tuple[int, ...]
        handle_type: int
        handle: bytes
        name: Optional[str]

        @property
        def file_handle(self) -> bytes: ...

    class PidfdInfo(NamedTuple):
        type: int
        pidfd: int

    class ErrorInfo(NamedTuple):
        type: int
        error: int
        error_count: int

    class RangeInfo(NamedTuple):
        type: int
        offset: int
        count: int  # type: ignore[assignment]  # the kernel name shadows tuple.count

    class MntInfo(NamedTuple):
        type: int
        mnt_id: int

    class RawInfo(NamedTuple):
        type: int
        data: bytes

    Info = Union[FidInfo, PidfdInfo, ErrorInfo, RangeInfo, MntInfo, RawInfo]

else:

    class FidInfo(namedtuple("FidInfo", "type fsid handle_type handle name")):
        """A file identifier record (``FAN_EVENT_INFO_TYPE_FID``, ``_DFID``,
        ``_DFID_NAME``, ``_OLD_DFID_NAME``, ``_NEW_DFID_NAME``).

        ``fsid`` is the filesystem id (the ints of ``__kernel_fsid_t``, as
        :func:`butter.fanotify.fsid` returns for a path), ``handle_type`` and
        ``handle`` the ``struct file_handle`` (``f_handle`` bytes) to pass to
        ``open_by_handle_at(2)`` (:func:`butter.fanotify.open_by_handle_at`),
        ``name`` the directory entry (decoded with ``os.fsdecode``) for the
        ``*DFID_NAME`` types, else ``None``.
        """

        __slots__ = ()

        @property
        def file_handle(self):
            """The whole ``struct file_handle`` as bytes (header + f_handle)."""
            return _FILE_HANDLE.pack(len(self.handle), self.handle_type) + self.handle

    PidfdInfo = namedtuple("PidfdInfo", "type pidfd")
    PidfdInfo.__doc__ = """``FAN_REPORT_PIDFD``: a pidfd for the event's process
    (negative: ``FAN_NOPIDFD``/``FAN_EPIDFD``).  Owned by the event: closed
    by :meth:`FanotifyEvent.close`."""
    ErrorInfo = namedtuple("ErrorInfo", "type error error_count")
    ErrorInfo.__doc__ = """``FAN_FS_ERROR``: the first error (an errno) and how many
    errors happened since the last report."""
    RangeInfo = namedtuple("RangeInfo", "type offset count")
    RangeInfo.__doc__ = "``FAN_PRE_ACCESS``: the byte range about to be accessed."
    MntInfo = namedtuple("MntInfo", "type mnt_id")
    MntInfo.__doc__ = "``FAN_MNT_ATTACH``/``FAN_MNT_DETACH``: the mount's id."
    RawInfo = namedtuple("RawInfo", "type data")
    RawInfo.__doc__ = "An info record butter does not know: its type and payload bytes."


def _parse_info(buf: bytes, pos: int, end: int) -> List[Info]:
    """Parse the info records of one event in ``buf[pos:end]``."""
    records: List[Info] = []
    while pos < end:
        if end - pos < _HDR_SIZE:
            raise ValueError("truncated fanotify info record header")
        info_type, length = _HDR.unpack_from(buf, pos)
        if length < _HDR_SIZE or length > end - pos:
            raise ValueError(f"bad fanotify info record length {length}")
        rec_end = pos + length
        if info_type in _FID_TYPES:
            hstart = pos + _HANDLE_OFF
            if hstart + _FILE_HANDLE.size > rec_end:
                raise ValueError("truncated fanotify file handle")
            nbytes, htype = _FILE_HANDLE.unpack_from(buf, hstart)
            fstart = hstart + _FILE_HANDLE.size
            if fstart + nbytes > rec_end:
                raise ValueError("truncated fanotify file handle")
            name = None
            if info_type in _NAMED_TYPES:
                raw = bytes(buf[fstart + nbytes : rec_end])
                nul = raw.find(b"\0")
                name = os.fsdecode(raw if nul < 0 else raw[:nul])
            records.append(
                FidInfo(
                    info_type,
                    _FSID.unpack_from(buf, pos + _FSID_OFF),
                    htype,
                    bytes(buf[fstart : fstart + nbytes]),
                    name,
                )
            )
        elif info_type == _M.FAN_EVENT_INFO_TYPE_PIDFD and length >= _PIDFD.size:
            records.append(PidfdInfo(info_type, *_PIDFD.unpack_from(buf, pos)))
        elif info_type == _M.FAN_EVENT_INFO_TYPE_ERROR and length >= _ERROR.size:
            records.append(ErrorInfo(info_type, *_ERROR.unpack_from(buf, pos)))
        elif info_type == _M.FAN_EVENT_INFO_TYPE_RANGE and length >= _RANGE.size:
            records.append(RangeInfo(info_type, *_RANGE.unpack_from(buf, pos)))
        elif info_type == _M.FAN_EVENT_INFO_TYPE_MNT and length >= _MNT.size:
            records.append(MntInfo(info_type, *_MNT.unpack_from(buf, pos)))
        else:
            records.append(RawInfo(info_type, bytes(buf[pos + _HDR_SIZE : rec_end])))
        pos = rec_end
    return records


# -- the event ---------------------------------------------------------------------
_UNSET: object = object()
_close = os.close
_strerror = os.strerror


class FanotifyEvent(Resource, FileEventFlags, FanotifyEventCompat):
    """One fanotify event.

    ``mask`` is the ``FAN_*`` bits, ``pid`` the process (or thread, with
    ``FAN_REPORT_TID``) that caused it, ``fd`` an open file descriptor for
    the object (``FAN_NOFD``, -1, in FID modes and for ``FAN_Q_OVERFLOW``;
    a negative errno with ``FAN_REPORT_FD_ERROR``), ``info`` the parsed info
    records (FID modes, pidfd, error, ...), ``filename`` the path (see
    there).

    The event owns ``fd`` (and the pidfd of ``FAN_REPORT_PIDFD``), like a
    file: :meth:`fileno` returns it, :meth:`close` or leaving a ``with``
    block closes them, and garbage collection of an event that still owns
    an fd closes it with a ``ResourceWarning``.  :meth:`detach` takes the
    fd over.  The ``*_event`` properties test mask bits, named as in
    :mod:`butter.inotify`.
    """

    __slots__ = ("__weakref__", "_filename", "_released", "fd", "info", "mask", "pid")

    mask: int
    fd: int
    pid: int
    info: Tuple[Info, ...]

    def __init__(self, mask: int, fd: int, pid: int, info: Tuple[Info, ...] = ()) -> None:
        self.mask = mask
        self.fd = fd
        self.pid = pid
        self.info = info
        self._filename: object = _UNSET
        self._released = False  # close() or detach() ran

    @property
    def filename(self) -> Optional[str]:
        """The path of the object, or ``None`` if unknown.

        With an event fd: where ``/proc/self/fd/N`` points, read the first
        time this is asked or at :meth:`close` (a deleted file reads
        ``"... (deleted)"``).  In FID modes: the reported entry name of the
        first named record (``FAN_REPORT_NAME``; for ``FAN_RENAME`` the old
        name), ``None`` without ``FAN_REPORT_NAME``.
        """
        name = self._filename
        if name is _UNSET:
            name = None
            for record in self.info:
                if type(record) is FidInfo and record.name is not None:
                    name = record.name
                    break
            if name is None and self.fd >= 0:
                try:
                    name = os.readlink(f"/proc/self/fd/{self.fd}")
                except OSError:
                    name = None
            self._filename = name
        return name  # type: ignore[return-value]

    @property
    def pidfd(self) -> int:
        """The pidfd of ``FAN_REPORT_PIDFD`` (``FAN_NOPIDFD``, -1, if none)."""
        for record in self.info:
            if type(record) is PidfdInfo:
                return record.pidfd
        return _M.FAN_NOPIDFD  # type: ignore[no-any-return]

    @property
    def names(self) -> Tuple[str, ...]:
        """Every reported entry name, in record order (``FAN_RENAME``: old, new)."""
        return tuple(r.name for r in self.info if type(r) is FidInfo and r.name is not None)

    def fileno(self) -> int:
        """The event's fd (``fd``), for ``os.fstat``, ``os.read``, ``select``...

        ``ValueError`` once the event was closed or its fd detached, and
        for events the kernel gave no fd (``FAN_NOFD``: FID modes,
        ``FAN_Q_OVERFLOW``; a negative errno with ``FAN_REPORT_FD_ERROR``).
        """
        fd = self.fd
        if fd >= 0:
            return fd
        if self._released:
            raise ValueError("I/O operation on closed FanotifyEvent")
        if fd == _M.FAN_NOFD:
            raise ValueError(
                "FanotifyEvent has no fd (FAN_NOFD: a FID mode event or a queue overflow)"
            )
        raise ValueError(f"FanotifyEvent has no fd: the kernel could not open it: {_strerror(-fd)}")

    @property
    def closed(self) -> bool:
        """True if the event owns no fd: closed, or it never had one (a
        detached event is closed once it holds no pidfd either)."""
        return self.fd < 0 and self.pidfd < 0

    def close(self) -> None:
        """Close the event's fd (and pidfd).  Idempotent.  :attr:`filename`
        is read first, so it stays available."""
        if self._filename is _UNSET:
            self.filename  # noqa: B018 - resolves and caches it
        self._released = True
        self._close()

    def _close(self) -> None:
        fd = self.fd
        if fd >= 0:
            self.fd = _M.FAN_NOFD
            _close(fd)
        info = self.info
        if info:
            for i, r in enumerate(info):
                if type(r) is PidfdInfo and r.pidfd >= 0:
                    self.info = info = (
                        *info[:i],
                        PidfdInfo(r.type, _M.FAN_NOPIDFD),
                        *info[i + 1 :],
                    )
                    _close(r.pidfd)

    def detach(self) -> int:
        """Return the fd and stop owning it (the caller closes it)."""
        fd = self.fd
        self.fd = _M.FAN_NOFD
        self._released = True
        return fd

    def _owns(self) -> bool:
        return self.fd >= 0 or self.pidfd >= 0

    def __reduce__(self) -> Tuple[object, ...]:
        # An fd number means another file (or none) in another process, and
        # the copy would close it there: like files, refuse.
        if self._owns():
            raise TypeError(
                "cannot pickle a FanotifyEvent that owns an fd: close() or detach() it first"
            )
        args = (self.mask, self.fd, self.pid, self.info)
        name = self._filename
        if name is _UNSET:
            return (FanotifyEvent, args)
        return (FanotifyEvent, args, (None, {"_filename": name}))

    def _release_on_gc(self) -> None:
        try:
            self._close()  # no /proc lookup for the filename at collection time
        except OSError:
            pass

    def __repr__(self) -> str:
        parts = [f"mask={'|'.join(mask_names(self.mask)) or '0'}", f"pid={self.pid}"]
        if self.fd >= 0 or not self.info:
            parts.append(f"fd={self.fd}")
        name = self._filename
        if name is not _UNSET and name is not None:
            parts.append(f"filename={name!r}")
        if self.info:
            parts.append(f"info={list(self.info)!r}")
        return f"<FanotifyEvent {' '.join(parts)}>"

    # Boolean views of the mask beyond the shared ones (set below), for type checkers.
    open_exec_event: bool
    move_event: bool
    rename_event: bool
    fs_error_event: bool
    access_perm_event: bool
    open_perm_event: bool
    open_exec_perm_event: bool
    pre_access_event: bool
    perm_event: bool
    mnt_attach_event: bool
    mnt_detach_event: bool


_PERM = _M.FAN_OPEN_PERM | _M.FAN_ACCESS_PERM | _M.FAN_OPEN_EXEC_PERM | _M.FAN_PRE_ACCESS
set_mask_flags(
    FanotifyEvent,
    (
        ("access_event", _M.FAN_ACCESS, "The file was read."),
        ("modify_event", _M.FAN_MODIFY, "The file was written."),
        ("attrib_event", _M.FAN_ATTRIB, "Metadata changed (FID modes)."),
        ("close_write_event", _M.FAN_CLOSE_WRITE, "Closed after being opened for writing."),
        ("close_nowrite_event", _M.FAN_CLOSE_NOWRITE, "Closed, not opened for writing."),
        ("close_event", _M.FAN_CLOSE, "Closed (either way)."),
        ("open_event", _M.FAN_OPEN, "Opened."),
        ("open_exec_event", _M.FAN_OPEN_EXEC, "Opened to be executed."),
        ("moved_from_event", _M.FAN_MOVED_FROM, "Renamed away (old name; FID modes)."),
        ("moved_to_event", _M.FAN_MOVED_TO, "Renamed here (new name; FID modes)."),
        ("move_event", _M.FAN_MOVE, "Either half of a rename (FID modes)."),
        ("rename_event", _M.FAN_RENAME, "Renamed: old and new name in one event."),
        ("create_event", _M.FAN_CREATE, "Created in a watched directory (FID modes)."),
        ("delete_event", _M.FAN_DELETE, "Deleted from a watched directory (FID modes)."),
        ("delete_self_event", _M.FAN_DELETE_SELF, "The marked inode was deleted."),
        ("move_self_event", _M.FAN_MOVE_SELF, "The marked inode was moved."),
        ("fs_error_event", _M.FAN_FS_ERROR, "A filesystem error (see the ErrorInfo record)."),
        ("access_perm_event", _M.FAN_ACCESS_PERM, "A read waits for allow()/deny()."),
        ("open_perm_event", _M.FAN_OPEN_PERM, "An open waits for allow()/deny()."),
        ("open_exec_perm_event", _M.FAN_OPEN_EXEC_PERM, "An exec open waits for allow()/deny()."),
        ("pre_access_event", _M.FAN_PRE_ACCESS, "Pre-content access waits for a response."),
        ("perm_event", _PERM, "Any event that needs allow()/deny()."),
        ("mnt_attach_event", _M.FAN_MNT_ATTACH, "A mount was attached (FAN_REPORT_MNT)."),
        ("mnt_detach_event", _M.FAN_MNT_DETACH, "A mount was detached (FAN_REPORT_MNT)."),
        ("overflow_event", _M.FAN_Q_OVERFLOW, "The kernel queue overflowed: events were lost."),
        ("is_dir_event", _M.FAN_ONDIR, "The subject is a directory (if FAN_ONDIR was marked)."),
    ),
)


# -- the parser ----------------------------------------------------------------------
_iter_meta = _META.iter_unpack
_unpack_meta = _META.unpack_from


def _meta_rows_iter(buf: bytes, size: int) -> List[Tuple[int, ...]]:
    """Every META_SIZE record of *buf* (*size* bytes) unpacked (CPython)."""
    return list(_iter_meta(buf))


def _meta_rows_loop(buf: bytes, size: int) -> List[Tuple[int, ...]]:
    """The same for PyPy: its JIT turns struct.unpack_from in a loop into
    plain loads, but not iter_unpack, which is ~10x slower there."""
    return [_unpack_meta(buf, off) for off in range(0, size, META_SIZE)]


_meta_rows = _meta_rows_loop if sys.implementation.name == "pypy" else _meta_rows_iter


def _bad(msg: str) -> ValueError:
    return ValueError(f"malformed fanotify buffer: {msg}")


def str_to_events(buf: bytes) -> List[FanotifyEvent]:
    """Parse the bytes read from a fanotify fd into :class:`FanotifyEvent`.

    *buf* is any bytes-like object holding whole events (``ValueError``
    otherwise: truncated records, a metadata version other than
    ``FANOTIFY_METADATA_VERSION``).  The events own the fds named in the
    records: they close them when closed (or, with a ``ResourceWarning``,
    when collected).  Nothing is created
    before the whole buffer was validated.
    """
    size = memoryview(buf).nbytes
    if size and size % META_SIZE == 0:
        # Fast path: plain records (no info), one C-level unpack.
        rows = _meta_rows(buf, size)
        for row in rows:
            if row[0] != META_SIZE or row[2] != META_SIZE or row[1] != _VERSION:
                break
        else:
            return [FanotifyEvent(row[3], row[4], row[5]) for row in rows]
    pending = []
    pos = 0
    while pos < size:
        if size - pos < META_SIZE:
            raise _bad(f"{size - pos} trailing bytes")
        event_len, vers, meta_len, mask, fd, pid = _unpack_meta(buf, pos)
        if vers != _VERSION:
            raise _bad(f"metadata version {vers}, expected {_VERSION}")
        if meta_len < META_SIZE or event_len < meta_len or event_len > size - pos:
            raise _bad(f"event_len {event_len}, metadata_len {meta_len}")
        info = _parse_info(buf, pos + meta_len, pos + event_len) if event_len > meta_len else ()
        pending.append((mask, fd, pid, tuple(info)))
        pos += event_len
    return [FanotifyEvent(*args) for args in pending]
