"""memfd_create(2): anonymous memory-backed files, optionally sealed.

:func:`memfd_create` is ``os.memfd_create`` (same arguments and default)
on every Python butter supports.  :class:`Memfd` owns such a file: it reads,
writes and resizes it like a file, maps it with :meth:`Memfd.mmap`, and
manages *seals* (``fcntl(F_ADD_SEALS)``): once a seal is added nobody,
including this process, can undo it:

* ``F_SEAL_SHRINK`` / ``F_SEAL_GROW``: the size can no longer go down / up;
* ``F_SEAL_WRITE``: the contents can no longer change (refused with
  ``EBUSY`` while a writable shared mapping exists);
* ``F_SEAL_FUTURE_WRITE``: no *new* writes or writable mappings, existing
  writable mappings keep working;
* ``F_SEAL_EXEC`` (Linux 6.3): the exec bits can no longer change;
* ``F_SEAL_SEAL``: no further seals.

A sealed memfd is a safe way to hand data to a less trusted process: it can
check ``seals`` and then rely on the contents not changing under it.
"""

from __future__ import annotations

import mmap
import os

from ._args import FdArg, check_int, fileno, name_bytes, to_flags, to_int
from ._errors import retry_or_raise
from ._fd import FdOwner
from ._lowlevel import lib

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Optional, Union

__all__ = [
    "F_ADD_SEALS",
    "F_GET_SEALS",
    "F_SEAL_EXEC",
    "F_SEAL_FUTURE_WRITE",
    "F_SEAL_GROW",
    "F_SEAL_SEAL",
    "F_SEAL_SHRINK",
    "F_SEAL_WRITE",
    "MFD_ALLOW_SEALING",
    "MFD_CLOEXEC",
    "MFD_EXEC",
    "MFD_HUGETLB",
    "MFD_HUGE_1GB",
    "MFD_HUGE_1MB",
    "MFD_HUGE_2GB",
    "MFD_HUGE_2MB",
    "MFD_HUGE_8MB",
    "MFD_HUGE_16GB",
    "MFD_HUGE_16MB",
    "MFD_HUGE_32MB",
    "MFD_HUGE_64KB",
    "MFD_HUGE_256MB",
    "MFD_HUGE_512KB",
    "MFD_HUGE_512MB",
    "MFD_HUGE_MASK",
    "MFD_HUGE_SHIFT",
    "MFD_NOEXEC_SEAL",
    "Memfd",
    "add_seals",
    "get_seals",
    "memfd_create",
]

MFD_CLOEXEC: int = lib.MFD_CLOEXEC
MFD_ALLOW_SEALING: int = lib.MFD_ALLOW_SEALING
MFD_HUGETLB: int = lib.MFD_HUGETLB
MFD_NOEXEC_SEAL: int = lib.MFD_NOEXEC_SEAL
MFD_EXEC: int = lib.MFD_EXEC
MFD_HUGE_SHIFT: int = lib.MFD_HUGE_SHIFT
MFD_HUGE_MASK: int = lib.MFD_HUGE_MASK
MFD_HUGE_64KB: int = lib.MFD_HUGE_64KB
MFD_HUGE_512KB: int = lib.MFD_HUGE_512KB
MFD_HUGE_1MB: int = lib.MFD_HUGE_1MB
MFD_HUGE_2MB: int = lib.MFD_HUGE_2MB
MFD_HUGE_8MB: int = lib.MFD_HUGE_8MB
MFD_HUGE_16MB: int = lib.MFD_HUGE_16MB
MFD_HUGE_32MB: int = lib.MFD_HUGE_32MB
MFD_HUGE_256MB: int = lib.MFD_HUGE_256MB
MFD_HUGE_512MB: int = lib.MFD_HUGE_512MB
MFD_HUGE_1GB: int = lib.MFD_HUGE_1GB
MFD_HUGE_2GB: int = lib.MFD_HUGE_2GB
MFD_HUGE_16GB: int = lib.MFD_HUGE_16GB
F_ADD_SEALS: int = lib.F_ADD_SEALS
F_GET_SEALS: int = lib.F_GET_SEALS
F_SEAL_SEAL: int = lib.F_SEAL_SEAL
F_SEAL_SHRINK: int = lib.F_SEAL_SHRINK
F_SEAL_GROW: int = lib.F_SEAL_GROW
F_SEAL_WRITE: int = lib.F_SEAL_WRITE
F_SEAL_FUTURE_WRITE: int = lib.F_SEAL_FUTURE_WRITE
F_SEAL_EXEC: int = lib.F_SEAL_EXEC

_WRITE_SEALS = F_SEAL_WRITE | F_SEAL_FUTURE_WRITE


def memfd_create(name: Union[str, bytes], flags: int = MFD_CLOEXEC) -> int:
    """Create an anonymous file in memory; return its fd.

    *name* (at most 249 bytes) only shows in ``/proc/PID/fd`` as
    ``memfd:NAME``.  *flags*: ``MFD_CLOEXEC`` (the default, as
    ``os.memfd_create``; pass flags without it to get an inheritable fd),
    ``MFD_ALLOW_SEALING``, ``MFD_HUGETLB`` + ``MFD_HUGE_*``,
    ``MFD_NOEXEC_SEAL``/``MFD_EXEC``.
    """
    raw = name_bytes("name", name)
    flags = to_flags("flags", flags, ctype="unsigned int")
    while True:
        fd: int = lib.butter_memfd_create(raw, flags)
        if fd >= 0:
            return fd
        retry_or_raise()


def get_seals(fd: FdArg) -> int:
    """The seals of *fd* (``F_GET_SEALS``), a bitwise OR of ``F_SEAL_*``."""
    fd = fileno(fd)
    while True:
        r: int = lib.butter_fcntl_int(fd, F_GET_SEALS, 0)
        if r >= 0:
            return r
        retry_or_raise()


def add_seals(fd: FdArg, seals: int) -> None:
    """Add *seals* (``F_SEAL_*``) to *fd* for good (``F_ADD_SEALS``).

    ``EPERM`` if the memfd was created without ``MFD_ALLOW_SEALING`` or is
    already sealed with ``F_SEAL_SEAL``; ``EBUSY`` for ``F_SEAL_WRITE``
    while a writable shared mapping exists.
    """
    fd = fileno(fd)
    seals = to_flags("seals", seals, ctype="int")
    while lib.butter_fcntl_int(fd, F_ADD_SEALS, seals) < 0:
        retry_or_raise()


class Memfd(FdOwner):
    """An anonymous in-memory file that owns its fd.

    File-like helpers (:meth:`write`, :meth:`read`, :meth:`seek`,
    :meth:`truncate`, :attr:`size`) work on the fd's own position; seals
    via :meth:`seal` and :attr:`seals`; :meth:`mmap` maps the contents.  A
    memfd produces no events, so it has the fd-owning interface only
    (``fileno``, ``close``, ``closed``, ``detach``, context manager), no
    ``read_event()``/``wait()``.
    """

    def __init__(
        self, name: Union[str, bytes] = "", flags: int = MFD_CLOEXEC | MFD_ALLOW_SEALING
    ) -> None:
        super().__init__(memfd_create(name, flags))
        self._name = os.fsdecode(name)  # (checked by memfd_create())

    def _repr_info(self) -> str:
        return f"name={self._name!r}"

    def seal(self, flags: int) -> None:
        """Add the seals *flags* (``F_SEAL_*``); they cannot be removed."""
        add_seals(self.fileno(), flags)

    @property
    def seals(self) -> int:
        """The current seals (bitwise OR of ``F_SEAL_*``)."""
        return get_seals(self.fileno())

    @property
    def size(self) -> int:
        """The file size in bytes."""
        return os.fstat(self.fileno()).st_size

    def truncate(self, size: int) -> None:
        """Set the size to *size* bytes (new bytes read as zeros)."""
        os.ftruncate(self.fileno(), check_int("size", size))

    def write(self, data: bytes) -> int:
        """Write *data* at the current position; return the count written."""
        return os.write(self.fileno(), data)

    def read(self, size: int = -1) -> bytes:
        """Read up to *size* bytes from the current position (``-1``: all)."""
        fd = self.fileno()
        if size is None or size < 0:
            size = max(self.size - os.lseek(fd, 0, os.SEEK_CUR), 0)
        return os.read(fd, size)

    def seek(self, pos: int, whence: int = os.SEEK_SET) -> int:
        """Move the position (``os.lseek``); return the new one."""
        return os.lseek(self.fileno(), check_int("pos", pos), check_int("whence", whence))

    def mmap(self, length: Optional[int] = None, access: Optional[int] = None) -> mmap.mmap:
        """Map the file: ``mmap.mmap(fd, length, access=...)``.

        *length* defaults to the current size.  *access* defaults to
        ``mmap.ACCESS_WRITE`` (a shared, writable mapping), or
        ``mmap.ACCESS_READ`` once a write seal is set (the kernel refuses
        writable shared mappings then).  The mapping stays valid after
        ``close()``.
        """
        fd = self.fileno()
        length = self.size if length is None else to_int("length", length, "size_t")
        if access is not None:
            access = check_int("access", access)
        if access is None:
            access = mmap.ACCESS_READ if get_seals(fd) & _WRITE_SEALS else mmap.ACCESS_WRITE
        return mmap.mmap(fd, length, access=access)
