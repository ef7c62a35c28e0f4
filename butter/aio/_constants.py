"""Native AIO's constants, from the system headers, and the tables and limits
the other parts share.

The bottom of :mod:`butter.aio`: imports nothing of butter but the compiled
module, so every other part can import it.
"""

from __future__ import annotations

import errno as _errno

from .._lowlevel import lib

__all__ = [
    "IOCB_CMD_FDSYNC",
    "IOCB_CMD_FSYNC",
    "IOCB_CMD_NOOP",
    "IOCB_CMD_POLL",
    "IOCB_CMD_PREAD",
    "IOCB_CMD_PREADV",
    "IOCB_CMD_PWRITE",
    "IOCB_CMD_PWRITEV",
    "IOCB_FLAG_IOPRIO",
    "IOCB_FLAG_RESFD",
]

IOCB_CMD_PREAD: int = lib.IOCB_CMD_PREAD
IOCB_CMD_PWRITE: int = lib.IOCB_CMD_PWRITE
IOCB_CMD_FSYNC: int = lib.IOCB_CMD_FSYNC
IOCB_CMD_FDSYNC: int = lib.IOCB_CMD_FDSYNC
IOCB_CMD_POLL: int = lib.IOCB_CMD_POLL
IOCB_CMD_NOOP: int = lib.IOCB_CMD_NOOP
IOCB_CMD_PREADV: int = lib.IOCB_CMD_PREADV
IOCB_CMD_PWRITEV: int = lib.IOCB_CMD_PWRITEV
IOCB_FLAG_RESFD: int = lib.IOCB_FLAG_RESFD
IOCB_FLAG_IOPRIO: int = lib.IOCB_FLAG_IOPRIO

#: Opcode -> the name used in reprs, errors and :attr:`Request.op`.
_OPCODES = {
    IOCB_CMD_PREAD: "pread",
    IOCB_CMD_PWRITE: "pwrite",
    IOCB_CMD_FSYNC: "fsync",
    IOCB_CMD_FDSYNC: "fdsync",
    IOCB_CMD_POLL: "poll",
    IOCB_CMD_NOOP: "noop",
    IOCB_CMD_PREADV: "preadv",
    IOCB_CMD_PWRITEV: "pwritev",
}
_VECTORED = (IOCB_CMD_PREADV, IOCB_CMD_PWRITEV)
_NO_BUFFER = (IOCB_CMD_FSYNC, IOCB_CMD_FDSYNC, IOCB_CMD_NOOP)

_EINTR: int = lib.EINTR
_EAGAIN: int = lib.EAGAIN
_ECANCELED = _errno.ECANCELED
_EINPROGRESS = _errno.EINPROGRESS
_EINVAL = _errno.EINVAL

_ALIGN = 4096  # O_DIRECT needs the logical block size (512 or 4096)
#: butter's limit (not a C type's): the most events one io_getevents buffer
#: holds, and so the most a Context's ring may hold (aio-max-nr's default).
_MAX_NR = 1 << 16
