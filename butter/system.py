"""mount(2), umount2(2), pivot_root(2), hostnames and raw process ids.

Thin wrappers over the system calls that build a container's view of the
system.  They change state for the whole mount (or UTS) namespace: run
them in a child process inside fresh namespaces (:func:`butter.clone.unshare`)
unless you mean to change the host.

Errors are ``OSError`` with the path(s) involved: ``filename`` is the first
path argument (*src* for :func:`mount` when given, else *target*; *new*
for :func:`pivot_root`) and ``filename2`` the second.

:func:`getpid` and :func:`getppid` make the raw system call every time:
after ``clone(2)``/``unshare(CLONE_NEWPID)`` games a cached value (some C
libraries had one) would be wrong.
"""

from __future__ import annotations

import os

from ._args import PathArg, name_bytes, opt_path_bytes, path_bytes, to_flags
from ._errors import retry_or_raise
from ._lowlevel import ffi, lib

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Optional, Union

__all__ = [
    "MNT_DETACH",
    "MNT_EXPIRE",
    "MNT_FORCE",
    "MS_ACTIVE",
    "MS_BIND",
    "MS_DIRSYNC",
    "MS_I_VERSION",
    "MS_KERNMOUNT",
    "MS_LAZYTIME",
    "MS_MANDLOCK",
    "MS_MGC_MSK",
    "MS_MGC_VAL",
    "MS_MOVE",
    "MS_NOATIME",
    "MS_NODEV",
    "MS_NODIRATIME",
    "MS_NOEXEC",
    "MS_NOSUID",
    "MS_NOSYMFOLLOW",
    "MS_NOUSER",
    "MS_POSIXACL",
    "MS_PRIVATE",
    "MS_RDONLY",
    "MS_REC",
    "MS_RELATIME",
    "MS_REMOUNT",
    "MS_SHARED",
    "MS_SILENT",
    "MS_SLAVE",
    "MS_STRICTATIME",
    "MS_SYNCHRONOUS",
    "MS_UNBINDABLE",
    "UMOUNT_NOFOLLOW",
    "gethostname",
    "getpid",
    "getppid",
    "mount",
    "pivot_root",
    "sethostname",
    "umount",
]

MS_RDONLY: int = lib.MS_RDONLY
MS_NOSUID: int = lib.MS_NOSUID
MS_NODEV: int = lib.MS_NODEV
MS_NOEXEC: int = lib.MS_NOEXEC
MS_SYNCHRONOUS: int = lib.MS_SYNCHRONOUS
MS_REMOUNT: int = lib.MS_REMOUNT
MS_MANDLOCK: int = lib.MS_MANDLOCK
MS_DIRSYNC: int = lib.MS_DIRSYNC
MS_NOSYMFOLLOW: int = lib.MS_NOSYMFOLLOW
MS_NOATIME: int = lib.MS_NOATIME
MS_NODIRATIME: int = lib.MS_NODIRATIME
MS_BIND: int = lib.MS_BIND
MS_MOVE: int = lib.MS_MOVE
MS_REC: int = lib.MS_REC
MS_SILENT: int = lib.MS_SILENT
MS_POSIXACL: int = lib.MS_POSIXACL
MS_UNBINDABLE: int = lib.MS_UNBINDABLE
MS_PRIVATE: int = lib.MS_PRIVATE
MS_SLAVE: int = lib.MS_SLAVE
MS_SHARED: int = lib.MS_SHARED
MS_RELATIME: int = lib.MS_RELATIME
MS_KERNMOUNT: int = lib.MS_KERNMOUNT
MS_I_VERSION: int = lib.MS_I_VERSION
MS_STRICTATIME: int = lib.MS_STRICTATIME
MS_LAZYTIME: int = lib.MS_LAZYTIME
MS_ACTIVE: int = lib.MS_ACTIVE
MS_NOUSER: int = lib.MS_NOUSER
MS_MGC_VAL: int = lib.MS_MGC_VAL
MS_MGC_MSK: int = lib.MS_MGC_MSK
MNT_FORCE: int = lib.MNT_FORCE
MNT_DETACH: int = lib.MNT_DETACH
MNT_EXPIRE: int = lib.MNT_EXPIRE
UMOUNT_NOFOLLOW: int = lib.UMOUNT_NOFOLLOW

_HOST_NAME_MAX: int = lib.HOST_NAME_MAX


def _c(value: Optional[bytes]) -> object:
    return ffi.NULL if value is None else value


def mount(
    src: Optional[PathArg],
    target: PathArg,
    fs: Optional[Union[str, bytes]],
    flags: int = 0,
    data: Optional[Union[str, bytes]] = "",
) -> None:
    """Attach the filesystem *src* of type *fs* at *target* (mount(2)).

    *src* may be ``None`` where the kernel ignores it (``MS_REMOUNT``,
    propagation changes such as ``MS_PRIVATE``, ...), as may *fs*
    (``MS_BIND``, ``MS_MOVE``, remounts).  *flags* is a bitwise OR of
    ``MS_*``; *data* the filesystem's option string (``"mode=755"``,
    ``""`` or ``None`` for none).
    """
    csrc = opt_path_bytes(src, "src")
    ctarget = path_bytes(target, "target")
    cfs = opt_path_bytes(fs, "fs")
    flags = to_flags("flags", flags, ctype="unsigned long")
    cdata = opt_path_bytes(data, "data")
    if cdata == b"":
        cdata = None
    names = (src, target) if src is not None else (target, None)
    while lib.mount(_c(csrc), ctarget, _c(cfs), flags, _c(cdata)) < 0:
        retry_or_raise(*names)


def umount(target: PathArg, flags: int = 0) -> None:
    """Detach the filesystem mounted at *target* (umount2(2)).

    *flags*: ``MNT_FORCE``, ``MNT_DETACH`` (lazy: detach now, clean up when
    no longer busy), ``MNT_EXPIRE``, ``UMOUNT_NOFOLLOW``.
    """
    ctarget = path_bytes(target, "target")
    flags = to_flags("flags", flags, ctype="int")
    while lib.umount2(ctarget, flags) < 0:
        retry_or_raise(target)


def pivot_root(new: PathArg, old: PathArg) -> None:
    """Make *new* the root mount of this mount namespace and move the old
    root to *old* (which must be at or under *new*), pivot_root(2).

    Both must be mount points' directories in a namespace whose root is not
    a shared mount; afterwards ``os.chdir("/")`` and
    ``umount(old, MNT_DETACH)`` finish the switch.
    """
    cnew = path_bytes(new, "new")
    cold = path_bytes(old, "old")
    while lib.butter_pivot_root(cnew, cold) < 0:
        retry_or_raise(new, old)


def sethostname(name: Union[str, bytes]) -> None:
    """Set the hostname of this UTS namespace (sethostname(2)).

    *name* is ``str`` (encoded with ``os.fsencode``) or ``bytes``; at most
    ``HOST_NAME_MAX`` (64) bytes.
    """
    raw = name_bytes("name", name)
    if len(raw) > _HOST_NAME_MAX:
        raise ValueError(f"name is longer than {_HOST_NAME_MAX} bytes")
    while lib.sethostname(raw, len(raw)) < 0:
        retry_or_raise()


def gethostname() -> str:
    """The hostname of this UTS namespace (``uname(2)``'s nodename), as str."""
    buf = ffi.new("char[]", 256)
    while lib.butter_gethostname(buf, 256) < 0:
        retry_or_raise()
    return os.fsdecode(ffi.string(buf))


def getpid() -> int:
    """This process's id, from the getpid(2) system call (never cached)."""
    pid: int = lib.butter_getpid()
    return pid


def getppid() -> int:
    """The parent's process id, from getppid(2) (0 if the parent is in
    another PID namespace, as for a namespace's init)."""
    pid: int = lib.butter_getppid()
    return pid
