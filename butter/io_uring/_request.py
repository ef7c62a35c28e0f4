"""Building io_uring requests: one builder per request method of
:class:`~butter.io_uring.Ring`.

Each builder checks its arguments (TypeError/ValueError/OverflowError,
before anything is allocated for the kernel), sets up the memory the
kernel will use (kept in the request's *keep* until its completion), and
returns an unsubmitted :class:`~butter.aio.Request` whose ``_cb`` holds the
SQE's fields as a tuple ``(sqe_flags, opcode, fd, addr, len, off,
op_flags, buf_index, extra)``: the ring fills an SQE from it when it
queues the request.  The :class:`~butter.aio.Request` class and the
buffer helpers are :mod:`butter.aio`'s, shared.
"""

from __future__ import annotations

import os
import sys

from .._args import RANGES, FdArg, fileno, path_bytes, to_flags, to_int
from .._lowlevel import ffi, lib
from ..aio._buffers import _address, _aligned, _bounce, _iovecs, _pin
from ..aio._request import Request
from ._constants import (
    IORING_FSYNC_DATASYNC,
    IORING_OP_ACCEPT,
    IORING_OP_ASYNC_CANCEL,
    IORING_OP_CLOSE,
    IORING_OP_FSYNC,
    IORING_OP_NOP,
    IORING_OP_OPENAT,
    IORING_OP_READ,
    IORING_OP_READ_FIXED,
    IORING_OP_READV,
    IORING_OP_RECV,
    IORING_OP_SEND,
    IORING_OP_SPLICE,
    IORING_OP_TIMEOUT,
    IORING_OP_WRITE,
    IORING_OP_WRITE_FIXED,
    IORING_OP_WRITEV,
    IOSQE_FIXED_FILE,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

    from typing_extensions import Buffer

    from .._args import PathArg

__all__ = ["Fixed"]

_PYPY = sys.implementation.name == "pypy"
#: 4096-byte aligned memory from C (posix_memalign), freed with the cdata.
_alloc_aligned = ffi.new_allocator(
    alloc=lib.butter_alloc_aligned, free=lib.free, should_clear_after_alloc=False
)
#: Read buffers whose request completed (the data copied out), by size:
#: the next pread/recv of that size reuses one instead of allocating
#: (allocation dominates a 4 KiB read on PyPy).  list.pop/append are atomic.
_POOL: Dict[int, List[Any]] = {}
_POOL_MAX = 256  # buffers kept per size
_POOL_SIZES = 1 << 16  # sizes up to this are pooled


def _read_buffer(length: int) -> Any:
    """A 4096-aligned ``char[length]`` for the kernel to read into."""
    pool = _POOL.get(length)
    if pool:
        try:
            return pool.pop()
        except IndexError:
            pass
    return _alloc_aligned("char[]", length)


def _recycle(buf: Any) -> None:
    """*buf* (from :func:`_read_buffer`) is no longer used by anyone: the
    kernel completed its request and its data were copied out."""
    n = len(buf)
    if n <= _POOL_SIZES:
        pool = _POOL.get(n)
        if pool is None:
            pool = _POOL.setdefault(n, [])
        if len(pool) < _POOL_MAX:
            pool.append(buf)


_FD_MAX = RANGES["int"][1]
_OFF_MIN, _OFF_MAX = RANGES["off_t"]
_LEN_MAX = RANGES["unsigned int"][1]  # an SQE's len is 32 bits
_ALIGN = 4096
_NO_OFFSET = (1 << 64) - 1  # -1 as the SQE's u64 offset: "the file position"
_AT_FDCWD = -100
_SOCK_CLOEXEC = 0o2000000
_O_CLOEXEC = os.O_CLOEXEC


class Fixed:
    """A file registered with :meth:`Ring.register_files`, by its *index*:
    pass it as the fd of a request (``IOSQE_FIXED_FILE``: the kernel skips
    the fd table lookup)."""

    __slots__ = ("index",)
    index: int

    def __init__(self, index: int) -> None:
        self.index = to_int("index", index, "int", 0)

    def __repr__(self) -> str:
        return f"Fixed({self.index})"

    def __eq__(self, other: object) -> bool:
        return type(other) is Fixed and other.index == self.index

    def __hash__(self) -> int:
        return hash((Fixed, self.index))


def _fd(fd: FdArg | Fixed) -> Tuple[int, int]:
    """``(fd or index, sqe flags)``."""
    if type(fd) is int and 0 <= fd <= _FD_MAX:
        return fd, 0
    if type(fd) is Fixed:
        return fd.index, IOSQE_FIXED_FILE
    return fileno(fd), 0  # type: ignore[arg-type]


def _offset(offset: Optional[int], name: str = "offset") -> int:
    if type(offset) is int and 0 <= offset <= _OFF_MAX:
        return offset
    if offset is None:
        return _NO_OFFSET
    return to_int(name, offset, "off_t", 0)


def _length(length: int, name: str = "length") -> int:
    if type(length) is int and 0 <= length <= _LEN_MAX:
        return length
    return to_int(name, length, "unsigned int", 0)


def _new(op: str, fd: int, offset: int) -> Request:
    return Request(op, fd, offset if offset != _NO_OFFSET else -1)


def build_pread(fd: FdArg | Fixed, length: int, offset: int) -> Request:
    if (
        type(fd) is int
        and type(length) is int
        and type(offset) is int
        and 0 <= fd <= _FD_MAX
        and 0 < length <= _LEN_MAX
        and 0 <= offset <= _OFF_MAX
    ):
        # The common case, without the general conversions.
        req = Request("pread", fd, offset)
        buf = req._keep = req._ptr = _read_buffer(length)
        req._cb = (0, IORING_OP_READ, fd, _address(buf), length, offset, 0, 0, 0)
        return req
    f, flags = _fd(fd)
    length = _length(length)
    off = _offset(offset)
    req = _new("pread", f, off)
    ptr = req._keep = req._ptr = _read_buffer(length)
    req._cb = (flags, IORING_OP_READ, f, _address(ptr), length, off, 0, 0, 0)
    return req


def _data(data: Buffer) -> Tuple[Any, int, int]:
    """``(keep, address, size)`` of data the kernel reads: an aligned
    buffer in place (CPython), anything else copied to aligned memory."""
    view = _pin(data, False)
    size = len(view)
    addr = _address(view)
    if _PYPY or addr & (_ALIGN - 1):
        owner, ptr = _aligned(size)
        ffi.memmove(ptr, view, size)
        return owner, _address(ptr), size
    return view, addr, size


def build_pwrite(fd: FdArg | Fixed, data: Buffer, offset: int) -> Request:
    f, flags = _fd(fd)
    off = _offset(offset)
    keep, addr, size = _data(data)
    if size > _LEN_MAX:
        raise ValueError(f"data is too long for one request ({size} bytes)")
    req = _new("pwrite", f, off)
    req._keep = keep
    req._cb = (flags, IORING_OP_WRITE, f, addr, size, off, 0, 0, 0)
    return req


def _vec(op: str, fd: FdArg | Fixed, buffers: Sequence[Buffer], offset: int) -> Request:
    f, flags = _fd(fd)
    off = _offset(offset)
    reading = op == "preadv"
    req = _new(op, f, off)
    if _PYPY:
        keep, addr, n, copyout = _bounce(buffers, reading)
        req._copyout = copyout
    else:
        keep, addr, n = _iovecs(buffers, reading)
    req._keep = keep
    req._cb = (flags, IORING_OP_READV if reading else IORING_OP_WRITEV, f, addr, n, off, 0, 0, 0)
    return req


def build_preadv(fd: FdArg | Fixed, buffers: Sequence[Buffer], offset: int) -> Request:
    return _vec("preadv", fd, buffers, offset)


def build_pwritev(fd: FdArg | Fixed, buffers: Sequence[Buffer], offset: int) -> Request:
    return _vec("pwritev", fd, buffers, offset)


def build_fsync(fd: FdArg | Fixed) -> Request:
    f, flags = _fd(fd)
    req = _new("fsync", f, 0)
    req._cb = (flags, IORING_OP_FSYNC, f, 0, 0, 0, 0, 0, 0)
    return req


def build_fdsync(fd: FdArg | Fixed) -> Request:
    f, flags = _fd(fd)
    req = _new("fdsync", f, 0)
    req._cb = (flags, IORING_OP_FSYNC, f, 0, 0, 0, IORING_FSYNC_DATASYNC, 0, 0)
    return req


def build_openat(dirfd: Optional[FdArg], path: PathArg, flags: int, mode: int = 0o666) -> Request:
    d = _AT_FDCWD if dirfd is None or dirfd == _AT_FDCWD else fileno(dirfd)
    raw = path_bytes(path)
    flags = to_flags("flags", flags, None, "int")
    mode = to_flags("mode", mode, 0o7777)
    cpath = ffi.new("char[]", raw)
    req = _new("openat", d, 0)
    req._keep = cpath
    req._cb = (0, IORING_OP_OPENAT, d, _address(cpath), mode, 0, flags | _O_CLOEXEC, 0, 0)
    return req


def build_close(fd: FdArg) -> Request:
    f = fileno(fd)
    req = _new("close", f, 0)
    req._cb = (0, IORING_OP_CLOSE, f, 0, 0, 0, 0, 0, 0)
    return req


def build_recv(sock: FdArg | Fixed, length: int, flags: int = 0) -> Request:
    f, sflags = _fd(sock)
    length = _length(length)
    flags = to_flags("flags", flags, None, "int")
    req = _new("recv", f, 0)
    ptr = req._keep = req._ptr = _read_buffer(length)
    req._cb = (sflags, IORING_OP_RECV, f, _address(ptr), length, 0, flags, 0, 0)
    return req


def build_send(sock: FdArg | Fixed, data: Buffer, flags: int = 0) -> Request:
    f, sflags = _fd(sock)
    flags = to_flags("flags", flags, None, "int")
    keep, addr, size = _data(data)
    if size > _LEN_MAX:
        raise ValueError(f"data is too long for one request ({size} bytes)")
    req = _new("send", f, 0)
    req._keep = keep
    req._cb = (sflags, IORING_OP_SEND, f, addr, size, 0, flags, 0, 0)
    return req


def build_accept(sock: FdArg | Fixed, flags: int = _SOCK_CLOEXEC) -> Request:
    f, sflags = _fd(sock)
    flags = to_flags("flags", flags, None, "int")
    req = _new("accept", f, 0)
    req._cb = (sflags, IORING_OP_ACCEPT, f, 0, 0, 0, flags, 0, 0)
    return req


def build_splice(
    fd_in: FdArg | Fixed,
    fd_out: FdArg | Fixed,
    in_offset: Optional[int] = None,
    out_offset: Optional[int] = None,
    len: int = 65536,
    flags: int = 0,
) -> Request:
    fin, fl_in = _fd(fd_in)
    fout, fl_out = _fd(fd_out)
    if fl_in != fl_out:
        raise ValueError("splice: fd_in and fd_out must both be registered files or neither")
    off_in = _offset(in_offset, "in_offset")
    off_out = _offset(out_offset, "out_offset")
    length = _length(len, "len")
    flags = to_flags("flags", flags)
    req = _new("splice", fout, off_out)
    req._cb = (fl_out, IORING_OP_SPLICE, fout, off_in, length, off_out, flags, 0, fin)
    return req


def build_timeout(seconds: float) -> Request:
    if type(seconds) is not float and (
        not isinstance(seconds, (int, float)) or isinstance(seconds, bool)
    ):
        raise TypeError(f"seconds must be a number, not {type(seconds).__name__!r}")
    secs = float(seconds)
    if not secs >= 0 or secs > 2**62 / 1e9:  # NaN too
        raise ValueError(f"seconds must be between 0 and {2**62 / 1e9:g}, got {seconds!r}")
    ns = int(secs * 1e9)
    ts = ffi.new("butter_uring_timespec *")
    ts.tv_sec = ns // 1_000_000_000
    ts.tv_nsec = ns % 1_000_000_000
    req = _new("timeout", -1, 0)
    req._keep = ts
    req._cb = (0, IORING_OP_TIMEOUT, -1, _address(ts), 1, 0, 0, 0, 0)
    return req


def build_nop() -> Request:
    req = _new("nop", -1, 0)
    req._cb = (0, IORING_OP_NOP, -1, 0, 0, 0, 0, 0, 0)
    return req


def build_cancel(request: Request) -> Request:
    if not isinstance(request, Request):
        raise TypeError(f"request must be a Request, not {type(request).__name__!r}")
    req = _new("cancel", -1, 0)
    req._cb = (0, IORING_OP_ASYNC_CANCEL, -1, request._key, 0, 0, 0, 0, 0)
    return req


def build_fixed(
    op: str, fd: FdArg | Fixed, buffer: Any, buf_index: int, offset: int, length: int
) -> Request:
    """``read_fixed``/``write_fixed``: *buffer* is the registered buffer
    (a pinned cdata) at *buf_index*."""
    f, flags = _fd(fd)
    off = _offset(offset)
    req = _new(op, f, off)
    req._keep = buffer
    opcode = IORING_OP_READ_FIXED if op == "read_fixed" else IORING_OP_WRITE_FIXED
    req._cb = (flags, opcode, f, _address(buffer), length, off, 0, buf_index, 0)
    return req


#: Request method name -> its builder (what Ring.prepare() accepts).
BUILDERS: Dict[str, Callable[..., Request]] = {
    "pread": build_pread,
    "pwrite": build_pwrite,
    "preadv": build_preadv,
    "pwritev": build_pwritev,
    "fsync": build_fsync,
    "fdsync": build_fdsync,
    "openat": build_openat,
    "close": build_close,
    "recv": build_recv,
    "send": build_send,
    "accept": build_accept,
    "splice": build_splice,
    "timeout": build_timeout,
    "nop": build_nop,
    "cancel": build_cancel,
}
