"""The fanotify core: thin calls and :class:`Fanotify`, the group fd owner.

Exported, with the constants and the records, by :mod:`butter.fanotify`.
"""

from __future__ import annotations

import os

from .._args import FdArg, PathArg, fileno, path_bytes, to_flags, to_int
from .._cstruct import cstruct
from .._errors import retry_or_raise
from .._fd import EventLike
from .._lowlevel import ffi, lib
from ._compat import FanotifyCompat, mark_args
from ._constants import (
    _MARK_OPS,
    _O_CLOEXEC,
    _O_RDONLY,
    AT_FDCWD,
    FAN_ALLOW,
    FAN_CLASS_NOTIF,
    FAN_CLOEXEC,
    FAN_DENY,
    FAN_MARK_ADD,
    FAN_MARK_FLUSH,
    FAN_MARK_REMOVE,
    FAN_REPORT_DIR_FID,
    FAN_REPORT_FID,
    FAN_REPORT_MNT,
    FAN_REPORT_NAME,
    FAN_REPORT_PIDFD,
    FAN_REPORT_TARGET_FID,
    init_flag_names,
)
from ._records import (
    FanotifyEvent,
    FidInfo,
    str_to_events,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import List, Optional, Tuple, Union


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
    flags = to_flags("flags", flags)
    event_flags = to_flags("event_flags", event_flags)
    while True:
        fd: int = lib.fanotify_init(flags | FAN_CLOEXEC, event_flags | _O_CLOEXEC)
        if fd >= 0:
            return fd
        retry_or_raise()


def _path_arg(path: Optional[PathArg]) -> object:
    return ffi.NULL if path is None else path_bytes(path)


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
    filesystems without file handles in FID modes, ...).  (0.9's order
    ``(fd, flags, mask, path)`` still works, with a ``DeprecationWarning``.)
    """
    path, mask, flags, dfd = mark_args("fanotify_mark", path, mask, flags, dfd)
    fd = fileno(fd)
    c_path = _path_arg(path)
    mask = to_flags("mask", mask, ctype="uint64_t")
    flags = to_flags("flags", flags)
    c_dfd = _dfd_arg(dfd)
    while lib.butter_fanotify_mark(fd, flags, mask, c_dfd, c_path) < 0:
        retry_or_raise(path)


def fsid(path_or_fd: Union[PathArg, FdArg]) -> Tuple[int, ...]:
    """The filesystem id of a path or fd, as ``FidInfo.fsid`` reports it
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
    flags = to_flags("flags", flags, ctype="int")
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


def name_to_handle_at(dirfd: FdArg, path: PathArg, flags: int = 0) -> Tuple[int, int, bytes]:
    """The file handle of *path* (``name_to_handle_at(2)``): return
    ``(mount_id, handle_type, handle)``.

    *path* is relative to *dirfd* (``AT_FDCWD``: the working directory);
    *flags*: ``AT_SYMLINK_FOLLOW``, ``AT_EMPTY_PATH`` (the handle of
    *dirfd* itself, with ``path=""``), ``AT_HANDLE_FID`` (6.5: a handle
    meant for comparison, as fanotify reports, that need not be openable).
    ``handle_type`` and ``handle`` are what a :class:`FidInfo` of the same
    object holds (``FidInfo.handle_type``, ``FidInfo.handle``), so a handle
    read from an event can be compared with this one; ``mount_id`` is the
    id in ``/proc/self/mountinfo``.  A filesystem that cannot make handles
    raises ``EOPNOTSUPP``.
    """
    flags = to_flags("flags", flags, ctype="int")
    c_dfd = _dfd_arg(dirfd)
    c_path = path_bytes(path)
    mount_id = ffi.new("int *")
    handle_type = ffi.new("int *")
    size = ffi.new("unsigned int *")
    buf = ffi.new("unsigned char[]", lib.BUTTER_MAX_HANDLE_SZ)
    while lib.butter_name_to_handle_at(c_dfd, c_path, flags, mount_id, handle_type, buf, size) < 0:
        retry_or_raise(path)
    return mount_id[0], handle_type[0], ffi.buffer(buf, size[0])[:]


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


class Fanotify(EventLike[FanotifyEvent], FanotifyCompat):
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
        ``FAN_ONDIR`` for events on directories.  (0.9's order ``(flags,
        mask, path)`` still works, with a ``DeprecationWarning``.)
        """
        path, mask, flags, dfd = mark_args("Fanotify.watch", path, mask, flags, dfd)
        fanotify_mark(self.fileno(), path, mask, FAN_MARK_ADD | _mark_flags(flags), dfd)

    def ignore(
        self, path: Optional[PathArg], mask: int, flags: int = 0, dfd: FdArg = AT_FDCWD
    ) -> None:
        """Remove *mask* from the mark on *path* (``FAN_MARK_REMOVE | flags``)."""
        path, mask, flags, dfd = mark_args("Fanotify.ignore", path, mask, flags, dfd)
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
        efd = event.fd if isinstance(event, FanotifyEvent) else to_int("event", event, "int32_t")
        response = to_flags("response", response, ctype="uint32_t")
        _write(gfd, _RESPONSE.pack(efd, response))

    def allow(self, event: Union[FanotifyEvent, int]) -> None:
        """Let the operation of permission *event* proceed."""
        self.respond(event, FAN_ALLOW)

    def deny(self, event: Union[FanotifyEvent, int]) -> None:
        """Refuse the operation of permission *event*: it fails with ``EPERM``."""
        self.respond(event, FAN_DENY)

    def _repr_info(self) -> str:
        return f"flags={init_flag_names(self._flags)}"


def _mark_flags(flags: int) -> int:
    flags = to_flags("flags", flags)
    if flags & _MARK_OPS:
        raise ValueError("flags must not contain FAN_MARK_ADD, FAN_MARK_REMOVE or FAN_MARK_FLUSH")
    return flags


# -- compatibility with Butter 0.9/0.13.1 -------------------------------------
# Old spellings, each warning with DeprecationWarning (see butter._compat).
from .. import _compat  # noqa: E402

if not TYPE_CHECKING:  # type checkers see the new API only
    #: 0.13.1's ``closefd=``.
    fanotify_init = _compat.old_keywords(fanotify_init, closefd=True, where="fanotify_init(): ")
_compat.patch_init(Fanotify, closefd=True)
