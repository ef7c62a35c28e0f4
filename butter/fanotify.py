"""fanotify(7): filesystem-wide file access notification and permission checks.

What the kernel does: a fanotify *group* (the fd of :func:`fanotify_init`)
gets events for the objects it *marked* (:func:`fanotify_mark`): an inode,
a directory's children (``FAN_EVENT_ON_CHILD``), a whole mount
(``FAN_MARK_MOUNT``) or filesystem (``FAN_MARK_FILESYSTEM``).  In the
classic mode each event carries an open fd for the file: the group can read
it, and finds the path through ``/proc/self/fd``.  In *FID modes*
(``FAN_REPORT_FID``, ``FAN_REPORT_DIR_FID``, ``FAN_REPORT_NAME``,
``FAN_REPORT_DFID_NAME``, ``FAN_REPORT_TARGET_FID``) events carry file
handles and entry names instead, and directory events (create, delete,
move, attrib) become available.  Groups of ``FAN_CLASS_CONTENT`` can be
asked for *permission events* (``FAN_OPEN_PERM``, ``FAN_ACCESS_PERM``,
...): the process doing the open/read waits until the group answers
``FAN_ALLOW`` or ``FAN_DENY`` (then it gets ``EPERM``).  fanotify needs
``CAP_SYS_ADMIN`` (FID modes with inode marks work unprivileged since 5.13).

What butter adds: :func:`str_to_events` parses reads into
:class:`FanotifyEvent` objects that *own* their fds (closed by ``close()`` or
a ``with`` block; garbage collection closes a forgotten one with a
``ResourceWarning``, as for files), with the info
records parsed (:class:`FidInfo`, :class:`PidfdInfo`, ...);
:class:`Fanotify` owns the group fd, reads everything queued per
``read(2)`` (sized with ``FIONREAD``), and answers permission events with
:meth:`Fanotify.allow`/:meth:`Fanotify.deny`.  Every fd is close-on-exec,
the event fds too (``O_CLOEXEC`` is added to *event_flags*).

``python -m butter.fanotify [PATH]`` prints events as ``fatrace`` does.
"""

from __future__ import annotations

import os
import struct

from ._cstruct import cstruct
from ._errors import retry_or_raise
from ._fanotify_records import (
    ErrorInfo,
    FanotifyEvent,
    FidInfo,
    MntInfo,
    PidfdInfo,
    RangeInfo,
    RawInfo,
    str_to_events,
)
from ._fd import EventLike, FdArg, check_int, fileno
from ._lowlevel import ffi, lib

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import List, Optional, Tuple, Union

    PathArg = Union[str, bytes, "os.PathLike[str]", "os.PathLike[bytes]"]

__all__ = [
    "AT_FDCWD",
    "FANOTIFY_METADATA_VERSION",
    "FAN_ACCESS",
    "FAN_ACCESS_PERM",
    "FAN_ALLOW",
    "FAN_ALL_CLASS_BITS",
    "FAN_ALL_EVENTS",
    "FAN_ALL_INIT_FLAGS",
    "FAN_ALL_MARK_FLAGS",
    "FAN_ALL_OUTGOING_EVENTS",
    "FAN_ALL_PERM_EVENTS",
    "FAN_ATTRIB",
    "FAN_AUDIT",
    "FAN_CLASS_CONTENT",
    "FAN_CLASS_NOTIF",
    "FAN_CLASS_PRE_CONTENT",
    "FAN_CLOEXEC",
    "FAN_CLOSE",
    "FAN_CLOSE_NOWRITE",
    "FAN_CLOSE_WRITE",
    "FAN_CREATE",
    "FAN_DELETE",
    "FAN_DELETE_SELF",
    "FAN_DENY",
    "FAN_ENABLE_AUDIT",
    "FAN_EPIDFD",
    "FAN_ERRNO_BITS",
    "FAN_ERRNO_MASK",
    "FAN_ERRNO_SHIFT",
    "FAN_EVENT_INFO_TYPE_DFID",
    "FAN_EVENT_INFO_TYPE_DFID_NAME",
    "FAN_EVENT_INFO_TYPE_ERROR",
    "FAN_EVENT_INFO_TYPE_FID",
    "FAN_EVENT_INFO_TYPE_MNT",
    "FAN_EVENT_INFO_TYPE_NEW_DFID_NAME",
    "FAN_EVENT_INFO_TYPE_OLD_DFID_NAME",
    "FAN_EVENT_INFO_TYPE_PIDFD",
    "FAN_EVENT_INFO_TYPE_RANGE",
    "FAN_EVENT_METADATA_LEN",
    "FAN_EVENT_ON_CHILD",
    "FAN_FS_ERROR",
    "FAN_INFO",
    "FAN_MARK_ADD",
    "FAN_MARK_DONT_FOLLOW",
    "FAN_MARK_EVICTABLE",
    "FAN_MARK_FILESYSTEM",
    "FAN_MARK_FLUSH",
    "FAN_MARK_IGNORE",
    "FAN_MARK_IGNORED_MASK",
    "FAN_MARK_IGNORED_SURV_MODIFY",
    "FAN_MARK_IGNORE_SURV",
    "FAN_MARK_INODE",
    "FAN_MARK_MNTNS",
    "FAN_MARK_MOUNT",
    "FAN_MARK_ONLYDIR",
    "FAN_MARK_REMOVE",
    "FAN_MNT_ATTACH",
    "FAN_MNT_DETACH",
    "FAN_MODIFY",
    "FAN_MOVE",
    "FAN_MOVED_FROM",
    "FAN_MOVED_TO",
    "FAN_MOVE_SELF",
    "FAN_NOFD",
    "FAN_NONBLOCK",
    "FAN_NOPIDFD",
    "FAN_ONDIR",
    "FAN_OPEN",
    "FAN_OPEN_EXEC",
    "FAN_OPEN_EXEC_PERM",
    "FAN_OPEN_PERM",
    "FAN_PRE_ACCESS",
    "FAN_Q_OVERFLOW",
    "FAN_RENAME",
    "FAN_REPORT_DFID_NAME",
    "FAN_REPORT_DFID_NAME_TARGET",
    "FAN_REPORT_DIR_FID",
    "FAN_REPORT_FD_ERROR",
    "FAN_REPORT_FID",
    "FAN_REPORT_MNT",
    "FAN_REPORT_NAME",
    "FAN_REPORT_PIDFD",
    "FAN_REPORT_TARGET_FID",
    "FAN_REPORT_TID",
    "FAN_RESPONSE_INFO_AUDIT_RULE",
    "FAN_RESPONSE_INFO_NONE",
    "FAN_UNLIMITED_MARKS",
    "FAN_UNLIMITED_QUEUE",
    "ErrorInfo",
    "Fanotify",
    "FanotifyEvent",
    "FidInfo",
    "MntInfo",
    "PidfdInfo",
    "RangeInfo",
    "RawInfo",
    "fanotify_init",
    "fanotify_mark",
    "fsid",
    "mask_names",
    "open_by_handle_at",
    "str_to_events",
]

FAN_ACCESS: int = lib.FAN_ACCESS  # file was read
FAN_MODIFY: int = lib.FAN_MODIFY  # file was written
FAN_ATTRIB: int = lib.FAN_ATTRIB  # metadata changed (FID modes)
FAN_CLOSE_WRITE: int = lib.FAN_CLOSE_WRITE  # file opened for writing was closed
FAN_CLOSE_NOWRITE: int = lib.FAN_CLOSE_NOWRITE  # file not opened for writing was closed
FAN_OPEN: int = lib.FAN_OPEN  # file or directory was opened
FAN_MOVED_FROM: int = lib.FAN_MOVED_FROM  # an entry was renamed away (FID modes)
FAN_MOVED_TO: int = lib.FAN_MOVED_TO  # an entry was renamed here (FID modes)
FAN_CREATE: int = lib.FAN_CREATE  # an entry was created (FID modes)
FAN_DELETE: int = lib.FAN_DELETE  # an entry was deleted (FID modes)
FAN_DELETE_SELF: int = lib.FAN_DELETE_SELF  # the marked inode was deleted (FID modes)
FAN_MOVE_SELF: int = lib.FAN_MOVE_SELF  # the marked inode was moved (FID modes)
FAN_OPEN_EXEC: int = lib.FAN_OPEN_EXEC  # file was opened to be executed
FAN_Q_OVERFLOW: int = lib.FAN_Q_OVERFLOW  # the kernel queue overflowed: events were lost
FAN_FS_ERROR: int = lib.FAN_FS_ERROR  # a filesystem error (FAN_MARK_FILESYSTEM, FID modes; 5.16)
FAN_OPEN_PERM: int = lib.FAN_OPEN_PERM  # permission to open (FAN_CLASS_CONTENT and up)
FAN_ACCESS_PERM: int = lib.FAN_ACCESS_PERM  # permission to read
FAN_OPEN_EXEC_PERM: int = lib.FAN_OPEN_EXEC_PERM  # permission to open for exec
FAN_PRE_ACCESS: int = lib.FAN_PRE_ACCESS  # pre-content access hook (FAN_CLASS_PRE_CONTENT; 6.14)
FAN_MNT_ATTACH: int = lib.FAN_MNT_ATTACH  # a mount was attached (FAN_REPORT_MNT; 6.15)
FAN_MNT_DETACH: int = lib.FAN_MNT_DETACH  # a mount was detached (FAN_REPORT_MNT; 6.15)
# mark: also report events on a directory's children
FAN_EVENT_ON_CHILD: int = lib.FAN_EVENT_ON_CHILD
FAN_RENAME: int = lib.FAN_RENAME  # rename, old and new names in one event (5.17)
FAN_ONDIR: int = lib.FAN_ONDIR  # mark: also report events on directories; event: it is a directory
FAN_CLOSE: int = lib.FAN_CLOSE  # either close
FAN_MOVE: int = lib.FAN_MOVE  # either half of a rename
FAN_CLOEXEC: int = lib.FAN_CLOEXEC  # init: close-on-exec (always set by butter)
FAN_NONBLOCK: int = lib.FAN_NONBLOCK  # init: non-blocking reads
FAN_CLASS_NOTIF: int = lib.FAN_CLASS_NOTIF  # init: notification only (the default)
# init: permission events, after the content is final
FAN_CLASS_CONTENT: int = lib.FAN_CLASS_CONTENT
# init: permission events, before the content is final
FAN_CLASS_PRE_CONTENT: int = lib.FAN_CLASS_PRE_CONTENT
FAN_UNLIMITED_QUEUE: int = lib.FAN_UNLIMITED_QUEUE  # init: no limit on queued events
FAN_UNLIMITED_MARKS: int = lib.FAN_UNLIMITED_MARKS  # init: no limit on marks
FAN_ENABLE_AUDIT: int = lib.FAN_ENABLE_AUDIT  # init: allow FAN_AUDIT in responses
FAN_REPORT_PIDFD: int = lib.FAN_REPORT_PIDFD  # init: a pidfd info record per event (5.15)
FAN_REPORT_TID: int = lib.FAN_REPORT_TID  # init: pid is the thread id
FAN_REPORT_FID: int = lib.FAN_REPORT_FID  # init: file identifier records instead of fds (5.1)
FAN_REPORT_DIR_FID: int = lib.FAN_REPORT_DIR_FID  # init: directory identifier records (5.9)
FAN_REPORT_NAME: int = lib.FAN_REPORT_NAME  # init: with FAN_REPORT_DIR_FID, the entry name (5.9)
FAN_REPORT_TARGET_FID: int = lib.FAN_REPORT_TARGET_FID  # init: also the target's identifier (5.17)
# init: fd holds -errno when no fd could be opened (6.13)
FAN_REPORT_FD_ERROR: int = lib.FAN_REPORT_FD_ERROR
FAN_REPORT_MNT: int = lib.FAN_REPORT_MNT  # init: mount events (6.15)
FAN_REPORT_DFID_NAME: int = lib.FAN_REPORT_DFID_NAME  # FAN_REPORT_DIR_FID | FAN_REPORT_NAME
# FAN_REPORT_DFID_NAME | FAN_REPORT_FID | FAN_REPORT_TARGET_FID
FAN_REPORT_DFID_NAME_TARGET: int = lib.FAN_REPORT_DFID_NAME_TARGET
FAN_MARK_ADD: int = lib.FAN_MARK_ADD  # mark: add to the mask
FAN_MARK_REMOVE: int = lib.FAN_MARK_REMOVE  # mark: remove from the mask
FAN_MARK_DONT_FOLLOW: int = lib.FAN_MARK_DONT_FOLLOW  # mark: do not follow a final symlink
FAN_MARK_ONLYDIR: int = lib.FAN_MARK_ONLYDIR  # mark: fail unless the path is a directory
FAN_MARK_IGNORED_MASK: int = lib.FAN_MARK_IGNORED_MASK  # mark: change the ignore mask (old API)
# mark: the ignore mask survives a modification
FAN_MARK_IGNORED_SURV_MODIFY: int = lib.FAN_MARK_IGNORED_SURV_MODIFY
FAN_MARK_FLUSH: int = lib.FAN_MARK_FLUSH  # mark: remove every mark (of the given kind)
FAN_MARK_EVICTABLE: int = lib.FAN_MARK_EVICTABLE  # mark: may be evicted with the inode (5.19)
FAN_MARK_IGNORE: int = lib.FAN_MARK_IGNORE  # mark: change the ignore mask (6.0)
FAN_MARK_INODE: int = lib.FAN_MARK_INODE  # mark an inode (the default)
FAN_MARK_MOUNT: int = lib.FAN_MARK_MOUNT  # mark a mount
FAN_MARK_FILESYSTEM: int = lib.FAN_MARK_FILESYSTEM  # mark a whole filesystem (4.20)
FAN_MARK_MNTNS: int = lib.FAN_MARK_MNTNS  # mark a mount namespace (6.15)
# FAN_MARK_IGNORE | FAN_MARK_IGNORED_SURV_MODIFY
FAN_MARK_IGNORE_SURV: int = lib.FAN_MARK_IGNORE_SURV
FAN_ALL_CLASS_BITS: int = lib.FAN_ALL_CLASS_BITS  # deprecated aggregate (in the headers)
FAN_ALL_INIT_FLAGS: int = lib.FAN_ALL_INIT_FLAGS  # deprecated aggregate (in the headers)
FAN_ALL_MARK_FLAGS: int = lib.FAN_ALL_MARK_FLAGS  # deprecated aggregate (in the headers)
FAN_ALL_EVENTS: int = lib.FAN_ALL_EVENTS  # deprecated aggregate (in the headers)
FAN_ALL_PERM_EVENTS: int = lib.FAN_ALL_PERM_EVENTS  # deprecated aggregate (in the headers)
FAN_ALL_OUTGOING_EVENTS: int = lib.FAN_ALL_OUTGOING_EVENTS  # deprecated aggregate (in the headers)
FANOTIFY_METADATA_VERSION: int = lib.FANOTIFY_METADATA_VERSION  # the vers field of every event
FAN_EVENT_METADATA_LEN: int = lib.FAN_EVENT_METADATA_LEN  # sizeof(struct fanotify_event_metadata)
FAN_EVENT_INFO_TYPE_FID: int = lib.FAN_EVENT_INFO_TYPE_FID  # info: the object's file id
# info: the directory's file id and the entry name
FAN_EVENT_INFO_TYPE_DFID_NAME: int = lib.FAN_EVENT_INFO_TYPE_DFID_NAME
FAN_EVENT_INFO_TYPE_DFID: int = lib.FAN_EVENT_INFO_TYPE_DFID  # info: the directory's file id
FAN_EVENT_INFO_TYPE_PIDFD: int = lib.FAN_EVENT_INFO_TYPE_PIDFD  # info: a pidfd
FAN_EVENT_INFO_TYPE_ERROR: int = lib.FAN_EVENT_INFO_TYPE_ERROR  # info: a filesystem error
# info: the range of a pre-content event
FAN_EVENT_INFO_TYPE_RANGE: int = lib.FAN_EVENT_INFO_TYPE_RANGE
FAN_EVENT_INFO_TYPE_MNT: int = lib.FAN_EVENT_INFO_TYPE_MNT  # info: a mount id
# info: FAN_RENAME's old directory and name
FAN_EVENT_INFO_TYPE_OLD_DFID_NAME: int = lib.FAN_EVENT_INFO_TYPE_OLD_DFID_NAME
# info: FAN_RENAME's new directory and name
FAN_EVENT_INFO_TYPE_NEW_DFID_NAME: int = lib.FAN_EVENT_INFO_TYPE_NEW_DFID_NAME
FAN_ALLOW: int = lib.FAN_ALLOW  # response: allow
FAN_DENY: int = lib.FAN_DENY  # response: deny (the caller gets EPERM)
FAN_AUDIT: int = lib.FAN_AUDIT  # response bit: write an audit record (FAN_ENABLE_AUDIT)
FAN_INFO: int = lib.FAN_INFO  # response bit: extra information follows (6.3)
FAN_RESPONSE_INFO_NONE: int = lib.FAN_RESPONSE_INFO_NONE  # response info type: none
# response info type: audit rule
FAN_RESPONSE_INFO_AUDIT_RULE: int = lib.FAN_RESPONSE_INFO_AUDIT_RULE
FAN_ERRNO_BITS: int = lib.FAN_ERRNO_BITS  # FAN_DENY with an errno: bits of the errno (6.14)
FAN_ERRNO_SHIFT: int = lib.FAN_ERRNO_SHIFT  # FAN_DENY with an errno: its shift
FAN_ERRNO_MASK: int = lib.FAN_ERRNO_MASK  # FAN_DENY with an errno: its mask
FAN_NOFD: int = lib.FAN_NOFD  # the event has no fd
FAN_NOPIDFD: int = lib.FAN_NOPIDFD  # the event has no pidfd
FAN_EPIDFD: int = lib.FAN_EPIDFD  # the pidfd could not be created

AT_FDCWD: int = lib.AT_FDCWD  # dfd: paths relative to the current directory

_O_CLOEXEC: int = lib.O_CLOEXEC
_O_RDONLY: int = lib.O_RDONLY
_MARK_OPS = FAN_MARK_ADD | FAN_MARK_REMOVE | FAN_MARK_FLUSH

# Display names of event bits, in bit order (mask_names).
_EVENT_BITS = [
    (value, name)
    for name, value in sorted(
        ((n, v) for n, v in globals().items() if n.startswith("FAN_") and isinstance(v, int)),
        key=lambda item: item[1],
    )
    if name
    in {
        "FAN_ACCESS", "FAN_MODIFY", "FAN_ATTRIB", "FAN_CLOSE_WRITE", "FAN_CLOSE_NOWRITE",
        "FAN_OPEN", "FAN_MOVED_FROM", "FAN_MOVED_TO", "FAN_CREATE", "FAN_DELETE",
        "FAN_DELETE_SELF", "FAN_MOVE_SELF", "FAN_OPEN_EXEC", "FAN_Q_OVERFLOW", "FAN_FS_ERROR",
        "FAN_OPEN_PERM", "FAN_ACCESS_PERM", "FAN_OPEN_EXEC_PERM", "FAN_PRE_ACCESS",
        "FAN_MNT_ATTACH", "FAN_MNT_DETACH", "FAN_EVENT_ON_CHILD", "FAN_RENAME", "FAN_ONDIR",
    }
]  # fmt: skip


def mask_names(mask: int) -> List[str]:
    """The ``FAN_*`` event names of the bits in *mask*, in bit order
    (unknown bits as hex)."""
    mask = check_int("mask", mask)
    names = []
    for value, name in _EVENT_BITS:
        if mask & value:
            names.append(name)
            mask &= ~value
    if mask:
        names.append(hex(mask))
    return names


# -- thin wrappers ------------------------------------------------------------
def fanotify_init(flags: int = FAN_CLASS_NOTIF, event_flags: int = _O_RDONLY) -> int:
    """Create a fanotify group; return its fd (``fanotify_init(2)``).

    *flags*: one ``FAN_CLASS_*`` plus ``FAN_NONBLOCK``, ``FAN_REPORT_*``,
    ``FAN_UNLIMITED_*``, ...; *event_flags*: the ``open(2)`` flags of the
    event fds (``O_RDONLY``, ``O_RDWR``, ``O_LARGEFILE``, ``O_NOATIME``,
    ...).  butter always adds ``FAN_CLOEXEC`` and ``O_CLOEXEC`` (PEP 446).
    The kernel refuses unknown or conflicting flags with ``EINVAL`` and
    callers without ``CAP_SYS_ADMIN`` with ``EPERM``.
    """
    flags = check_int("flags", flags)
    event_flags = check_int("event_flags", event_flags)
    if flags < 0 or event_flags < 0:
        raise OverflowError("flags must not be negative")
    while True:
        fd: int = lib.fanotify_init(flags | FAN_CLOEXEC, event_flags | _O_CLOEXEC)
        if fd >= 0:
            return fd
        retry_or_raise()


def _path_arg(path: Optional[PathArg]) -> object:
    if path is None:
        return ffi.NULL
    if not isinstance(path, (str, bytes, os.PathLike)):
        raise TypeError(
            f"path must be str, bytes, os.PathLike or None, not {type(path).__name__!r}"
        )
    raw = os.fsencode(path)
    if b"\0" in raw:
        raise ValueError("embedded null byte")
    return raw


def _dfd_arg(dfd: FdArg) -> int:
    if type(dfd) is int and dfd == AT_FDCWD:
        return dfd
    return fileno(dfd)


def fanotify_mark(
    fd: FdArg,
    path: Optional[PathArg],
    mask: int,
    flags: int = FAN_MARK_ADD,
    dfd: FdArg = AT_FDCWD,
) -> None:
    """Add, remove or flush marks of group *fd* (``fanotify_mark(2)``).

    *path* (``str``/``bytes``/path-like, relative to *dfd*; ``None`` to
    mark *dfd* itself, or with ``FAN_MARK_FLUSH``), *mask* the ``FAN_*``
    events (64 bits), *flags* ``FAN_MARK_ADD``/``_REMOVE``/``_FLUSH`` plus
    ``FAN_MARK_MOUNT``, ``FAN_MARK_FILESYSTEM``, ``FAN_MARK_ONLYDIR``, ...
    Errors carry the path (``FileNotFoundError``, ``ENOTDIR``, ``EINVAL``
    for events the group's mode cannot report, ``EXDEV``/``ENODEV`` for
    filesystems without file handles in FID modes, ...).
    """
    fd = fileno(fd)
    c_path = _path_arg(path)
    mask = check_int("mask", mask)
    flags = check_int("flags", flags)
    c_dfd = _dfd_arg(dfd)
    while lib.butter_fanotify_mark(fd, flags, mask, c_dfd, c_path) < 0:
        retry_or_raise(path)


def fsid(path_or_fd: Union[PathArg, FdArg]) -> Tuple[int, ...]:
    """The filesystem id of a path or fd, as :attr:`FidInfo.fsid` reports it
    (``fstatfs(2)``'s ``f_fsid``)."""
    out = ffi.new("int[]", lib.BUTTER_FAN_FSID_WORDS)
    if isinstance(path_or_fd, (str, bytes, os.PathLike)):
        fd = os.open(path_or_fd, os.O_RDONLY | os.O_CLOEXEC | getattr(os, "O_PATH", 0))
        try:
            while lib.butter_fstatfs_fsid(fd, out) < 0:
                retry_or_raise(path_or_fd)
        finally:
            os.close(fd)
    else:
        fd = fileno(path_or_fd)
        while lib.butter_fstatfs_fsid(fd, out) < 0:
            retry_or_raise()
    return tuple(out)


def open_by_handle_at(
    mount_fd: Union[PathArg, FdArg], info: FidInfo, flags: int = _O_RDONLY
) -> int:
    """Open the object of a :class:`FidInfo` record (``open_by_handle_at(2)``).

    *mount_fd* is an fd (or a path) anywhere on the same filesystem (the
    record's ``fsid`` tells which); the new fd is close-on-exec.  Needs
    ``CAP_DAC_READ_SEARCH``; a deleted object gives ``ESTALE``.
    """
    if not isinstance(info, FidInfo):
        raise TypeError(f"info must be a FidInfo, not {type(info).__name__!r}")
    flags = check_int("flags", flags)
    if isinstance(mount_fd, (str, bytes, os.PathLike)):
        fd = os.open(mount_fd, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)
        try:
            return open_by_handle_at(fd, info, flags)
        finally:
            os.close(fd)
    mfd = _dfd_arg(mount_fd)
    handle = info.handle
    while True:
        result: int = lib.butter_open_by_handle_at(
            mfd, info.handle_type, handle, len(handle), flags | _O_CLOEXEC
        )
        if result >= 0:
            return result
        retry_or_raise()


# -- the event-like object --------------------------------------------------------
_REPORT_INFO = (
    FAN_REPORT_FID | FAN_REPORT_DIR_FID | FAN_REPORT_NAME | FAN_REPORT_TARGET_FID
    | FAN_REPORT_PIDFD | FAN_REPORT_MNT
)  # fmt: skip
_MIN_READ = 4096
_MAX_READ_FD = 256 * 1024  # each event of a classic group opens an fd
_MAX_READ_FID = 1024 * 1024
_pending = lib.butter_fanotify_pending
_read = os.read
_write = os.write
_RESPONSE, _ = cstruct(ffi, "struct fanotify_response", ("fd", "response"))


class Fanotify(EventLike[FanotifyEvent]):
    """A fanotify group; its events are :class:`FanotifyEvent`.

    ``Fanotify(flags=FAN_CLASS_NOTIF, event_flags=O_RDONLY)`` as
    :func:`fanotify_init`.  :meth:`watch`/:meth:`ignore` add and remove
    marks, :meth:`allow`/:meth:`deny` answer permission events.  Each
    ``read(2)`` takes everything queued (up to 256 KiB of events for a
    classic group, whose every event opens an fd: mind ``RLIMIT_NOFILE``,
    the kernel drops events it cannot open an fd for).  Events hold their
    fds until closed; :meth:`close` closes the group and the events read
    but not yet returned (pending permission events are then allowed by
    the kernel).

    Threads may share it: reads take a per-object lock (never held while
    sleeping), so each event goes to exactly one reader; ``wait(timeout)``
    returns in time even when another thread takes the event; ``close()``
    wakes every thread blocked in ``wait()``, ``read_event(s)()`` (which
    raise ``ValueError``) or iteration (which ends).
    """

    def __init__(self, flags: int = FAN_CLASS_NOTIF, event_flags: int = _O_RDONLY) -> None:
        super().__init__(fanotify_init(flags, event_flags))
        self._flags = flags
        self._max_read = _MAX_READ_FID if flags & _REPORT_INFO else _MAX_READ_FD

    @property
    def flags(self) -> int:
        """The flags the group was created with."""
        return self._flags

    def close(self) -> None:
        """Close the group, and the events read but not yet returned (their
        fds).  Calling it again does nothing."""
        cache = self._cache
        while cache:
            try:
                cache.popleft()._close()
            except OSError:  # the caller closed an fd behind our back
                pass
        super().close()

    def _read_from_kernel(self) -> List[FanotifyEvent]:
        fd = self._fd
        size = _pending(fd)
        if size < _MIN_READ:
            size = _MIN_READ
        elif size > self._max_read:
            size = self._max_read
        data = _read(fd, size)
        if not data:
            raise OSError(0, "fanotify read returned no data")
        return str_to_events(data)

    # -- marks ---------------------------------------------------------------------
    def watch(
        self, path: Optional[PathArg], mask: int, flags: int = 0, dfd: FdArg = AT_FDCWD
    ) -> None:
        """Add *mask* to the mark on *path* (``FAN_MARK_ADD | flags``).

        *flags* may add ``FAN_MARK_MOUNT``/``FAN_MARK_FILESYSTEM`` (mark the
        mount/filesystem holding *path*), ``FAN_MARK_ONLYDIR``,
        ``FAN_MARK_DONT_FOLLOW``, ``FAN_MARK_IGNORE``, ...  Add
        ``FAN_EVENT_ON_CHILD`` to *mask* for a directory's entries and
        ``FAN_ONDIR`` for events on directories.
        """
        fanotify_mark(self.fileno(), path, mask, FAN_MARK_ADD | _mark_flags(flags), dfd)

    def ignore(
        self, path: Optional[PathArg], mask: int, flags: int = 0, dfd: FdArg = AT_FDCWD
    ) -> None:
        """Remove *mask* from the mark on *path* (``FAN_MARK_REMOVE | flags``)."""
        fanotify_mark(self.fileno(), path, mask, FAN_MARK_REMOVE | _mark_flags(flags), dfd)

    del_watch = ignore

    def flush(self, flags: int = 0) -> None:
        """Remove every inode mark (``flags=FAN_MARK_MOUNT``: every mount
        mark, ``FAN_MARK_FILESYSTEM``: every filesystem mark)."""
        fanotify_mark(self.fileno(), None, 0, FAN_MARK_FLUSH | _mark_flags(flags))

    # -- permission events --------------------------------------------------------
    def respond(self, event: Union[FanotifyEvent, int], response: int) -> None:
        """Answer permission *event* (or the event fd) with *response*
        (``FAN_ALLOW``/``FAN_DENY``, optionally ``| FAN_AUDIT``).

        The kernel raises ``ENOENT`` for an fd that is not a pending
        permission event of this group.  The event's fd stays open.
        """
        gfd = self.fileno()
        efd = event.fd if isinstance(event, FanotifyEvent) else check_int("event", event)
        response = check_int("response", response)
        try:
            record = _RESPONSE.pack(efd, response)
        except struct.error:
            raise OverflowError(f"event fd {efd} or response {response} out of range") from None
        _write(gfd, record)

    def allow(self, event: Union[FanotifyEvent, int]) -> None:
        """Let the operation of permission *event* proceed."""
        self.respond(event, FAN_ALLOW)

    def deny(self, event: Union[FanotifyEvent, int]) -> None:
        """Refuse the operation of permission *event*: it fails with ``EPERM``."""
        self.respond(event, FAN_DENY)

    def __repr__(self) -> str:
        if self._fd < 0:
            return "<Fanotify closed>"
        return f"<Fanotify fd={self._fd} flags={self._flags:#x}>"


def _mark_flags(flags: int) -> int:
    flags = check_int("flags", flags)
    if flags & _MARK_OPS:
        raise ValueError("flags must not contain FAN_MARK_ADD, FAN_MARK_REMOVE or FAN_MARK_FLUSH")
    return flags


if __name__ == "__main__":
    from ._fanotify_cli import main

    raise SystemExit(main())
