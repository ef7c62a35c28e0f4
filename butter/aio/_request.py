"""A request of a :class:`~butter.aio.Context`: the object, how each kind
is built, and the batch that defers submission.

A :class:`Request` owns its ``struct iocb`` and the memory the kernel uses
for it (its *keep*: pinned buffers, butter's aligned memory, the iovec
array) until the kernel reports it complete; then :meth:`Request._finish`
records the result and lets go of the memory.  The builders (``_BUILDERS``,
one per request method of :class:`~butter.aio.Context`) check the
arguments, set that memory up and fill the ``struct iocb``: nothing reaches
the kernel until the context submits the request.  How a completion is
delivered once (``_home``, consuming by reading the result) is the
context's business, kept in :mod:`butter.aio._context`.
"""

from __future__ import annotations

import errno
import os
import sys

from .._args import RANGES, FdArg, fileno, to_int
from .._lowlevel import ffi
from ._buffers import _address, _aligned, _bounce, _copy_out, _iovecs, _new, _pin
from ._constants import (
    _ALIGN,
    _ECANCELED,
    IOCB_CMD_FDSYNC,
    IOCB_CMD_FSYNC,
    IOCB_CMD_POLL,
    IOCB_CMD_PREAD,
    IOCB_CMD_PREADV,
    IOCB_CMD_PWRITE,
    IOCB_CMD_PWRITEV,
)
from ._thin import _poll_events, _prep

TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import TracebackType
    from typing import Any, Callable, Dict, Optional, Protocol, Sequence

    from typing_extensions import Buffer

    from ._context import Context

    class _Owner(Protocol):
        """Whoever submitted a request not yet done: a
        :class:`~butter.aio.Context` or a :class:`~butter.io_uring.Ring`."""

        def _wait_for(self, req: Request) -> None: ...

    class _Home(Protocol):
        """Whoever holds a completion not yet reported: its Context (the
        cache) or an adapter it was lent to (``_Lent``)."""

        def _forget(self, req: Request) -> None: ...


__all__ = ["Request"]


class Request:
    """One request of a :class:`Context` (or of a
    :class:`butter.io_uring.Ring`, which uses the same class).

    ``done()`` is true once its completion was collected (by
    ``get_events()``, ``read_event(s)()``, ``wait()`` or by reading
    :attr:`result`/:attr:`exception`, which wait for it).  :attr:`result`
    is ``bytes`` for ``pread``, the ``poll`` revents mask for ``poll`` and
    the kernel's count (bytes transferred; 0 for ``fsync``/``fdsync``)
    otherwise.

    Reading :attr:`result` or :attr:`exception` *consumes* the completion:
    a request whose result was read before the :class:`Context` reported
    it is never reported by ``get_events()``, ``read_event(s)()``,
    ``wait()``, iteration or ``Context_async.get()`` (``done()`` alone
    does not consume it).  Requests an adapter awaits
    (:meth:`Context.submit_awaited`) are never reported at all.

    Requests come from the request methods of :class:`Context` (or, for
    adapters, :meth:`Context.prepare`); one is not made directly.
    """

    __slots__ = (
        "__weakref__",
        "_callback",
        "_cancelled",
        "_cb",
        "_copyout",
        "_done",
        "_exception",
        "_home",
        "_keep",
        "_key",
        "_owner",
        "_ptr",
        "_result",
        "fd",
        "offset",
        "op",
    )
    op: str
    fd: int
    offset: int

    def __init__(self, op: str, fd: int, offset: int) -> None:
        self.op = op
        self.fd = fd
        self.offset = offset
        self._cb: Any = None  # aio: the struct iocb; io_uring: the SQE's fields
        self._key = 0  # io_uring: the SQE's user_data
        self._keep: Any = None
        self._ptr: Any = None  # pread: where the data lands
        self._copyout: Any = None  # PyPy preadv: (bounce pointers, user buffers)
        #: The submitting Context or Ring, from submission until done (then None).
        self._owner: Optional[_Owner] = None
        #: on_done of Context.submit_awaited; cleared when it runs (once).
        self._callback: Optional[Callable[[Request], None]] = None
        self._done = False
        self._cancelled = False
        self._result: Any = None
        self._exception: Optional[OSError] = None
        #: Who holds this completion, done but not yet reported: its Context
        #: (in the cache) or a _Lent (an adapter's queue); None otherwise.
        #: Invariant: set only while done and unreported; cleared exactly
        #: once, by whoever reports it or by _claim().
        self._home: Optional[_Home] = None

    def done(self) -> bool:
        """True once the request completed (successfully or not)."""
        return self._done

    def _wait(self) -> None:
        owner = self._owner  # set on submission, cleared once done
        while not self._done:
            if owner is None:
                raise RuntimeError("the request was never submitted (see Context.prepare)")
            owner._wait_for(self)

    def _claim(self) -> None:
        """The user took the completion (read the result first): whoever
        holds it must not report it."""
        home = self._home
        if home is not None:
            self._home = None
            home._forget(self)

    @property
    def result(self) -> Any:
        """The result; waits for the request, raises its exception.
        Consumes the completion (see the class docs)."""
        if not self._done:
            self._wait()
        if self._home is not None:
            self._claim()
        if self._exception is not None:
            raise self._exception
        return self._result

    @property
    def exception(self) -> Optional[OSError]:
        """``None``, or the ``OSError`` (errno from the kernel's negative
        result) the request failed with; waits for the request.  Consumes
        the completion (see the class docs)."""
        if not self._done:
            self._wait()
        if self._home is not None:
            self._claim()
        return self._exception

    def _finish(self, res: int) -> None:
        """Record the kernel's result and let go of the buffers."""
        if res < 0:
            if res == -_ETIME and self.op == "timeout":  # io_uring: it expired
                self._result = 0
            else:
                self._exception = OSError(-res, os.strerror(-res))
        elif self._cancelled and res == 0 and self.op == "poll":
            self._exception = OSError(_ECANCELED, os.strerror(_ECANCELED))
        elif self._ptr is not None:
            self._result = _unpack(self._ptr, res)
        else:
            self._result = res
            if self._copyout is not None:
                _copy_out(self._copyout, res)
        self._done = True
        self._keep = self._ptr = self._copyout = self._owner = None

    def _fail(self, err: int, detail: str = "") -> None:
        self._exception = OSError(err, os.strerror(err) + detail)
        self._done = True
        self._keep = self._ptr = self._copyout = self._owner = None

    def __repr__(self) -> str:
        if not self._done:
            state = "pending" if self._owner is not None else "unsubmitted"
        elif self._exception is not None:
            state = f"error={self._exception.errno}"
        elif isinstance(self._result, bytes):
            state = f"result=<{len(self._result)} bytes>"
        else:
            state = f"result={self._result}"
        return f"<Request {self.op} fd={self.fd} offset={self.offset} {state}>"


# -- building requests ---------------------------------------------------------
# Each builder takes the context's eventfd (*resfd*: the kernel signals it
# when the request completes) and the arguments of the Context method of
# the same name, checks them (TypeError/ValueError/OverflowError, before
# anything is allocated for the kernel), and returns the unsubmitted request.
#
# The hot arguments (fd, offset, pread's length) take a fast path: a plain
# int already in range is used as is; anything else goes through the
# converters of butter._args, which accept or refuse it by the one rule.
_PYPY = sys.implementation.name == "pypy"
_ETIME = errno.ETIME
_unpack = ffi.unpack
_FD_MAX = RANGES["int"][1]
_OFF_MIN, _OFF_MAX = RANGES["off_t"]
_LEN_MAX = RANGES["ssize_t"][1]  # a read's count, as os.pread's length


def _new_request(op: str, fd: FdArg, offset: int) -> Request:
    if type(fd) is not int or not 0 <= fd <= _FD_MAX:
        fd = fileno(fd)
    if type(offset) is not int or not _OFF_MIN <= offset <= _OFF_MAX:
        offset = to_int("offset", offset, "off_t")
    return Request(op, fd, offset)


def _build_pread(resfd: int, fd: FdArg, length: int, offset: int) -> Request:
    if type(length) is not int or not 0 <= length <= _LEN_MAX:
        length = to_int("length", length, "ssize_t", 0)
    req = _new_request("pread", fd, offset)
    owner, ptr = _aligned(length)
    req._keep = owner
    req._ptr = ptr
    cb = req._cb = _new("struct iocb *")
    _prep(cb, IOCB_CMD_PREAD, req.fd, _address(ptr), length, req.offset, resfd, 0)
    return req


def _build_pwrite(resfd: int, fd: FdArg, data: Buffer, offset: int) -> Request:
    req = _new_request("pwrite", fd, offset)
    view = _pin(data, False)
    size = len(view)
    addr = _address(view)
    if _PYPY or addr & (_ALIGN - 1):
        # Copy into aligned memory of our own (O_DIRECT-ready, and the
        # caller may reuse its buffer at once).
        owner, ptr = _aligned(size)
        ffi.memmove(ptr, view, size)
        req._keep = owner
        addr = _address(ptr)
    else:
        req._keep = view  # pinned: aligned, zero-copy
    cb = req._cb = _new("struct iocb *")
    _prep(cb, IOCB_CMD_PWRITE, req.fd, addr, size, req.offset, resfd, 0)
    return req


def _build_vec(resfd: int, op: str, fd: FdArg, buffers: Sequence[Buffer], offset: int) -> Request:
    req = _new_request(op, fd, offset)
    reading = op == "preadv"
    opcode = IOCB_CMD_PREADV if reading else IOCB_CMD_PWRITEV
    if _PYPY:
        # PyPy cannot lock a bytearray against resizing: the kernel only
        # ever sees memory we own (aligned segments), copied in or out.
        keep, addr, n, copyout = _bounce(buffers, reading)
        req._copyout = copyout
    else:
        keep, addr, n = _iovecs(buffers, reading)
    req._keep = keep
    cb = req._cb = _new("struct iocb *")
    _prep(cb, opcode, req.fd, addr, n, req.offset, resfd, 0)
    return req


def _build_preadv(resfd: int, fd: FdArg, buffers: Sequence[Buffer], offset: int) -> Request:
    return _build_vec(resfd, "preadv", fd, buffers, offset)


def _build_pwritev(resfd: int, fd: FdArg, buffers: Sequence[Buffer], offset: int) -> Request:
    return _build_vec(resfd, "pwritev", fd, buffers, offset)


def _build_sync(resfd: int, op: str, opcode: int, fd: FdArg) -> Request:
    req = _new_request(op, fd, 0)
    cb = req._cb = _new("struct iocb *")
    _prep(cb, opcode, req.fd, 0, 0, 0, resfd, 0)
    return req


def _build_fsync(resfd: int, fd: FdArg) -> Request:
    return _build_sync(resfd, "fsync", IOCB_CMD_FSYNC, fd)


def _build_fdsync(resfd: int, fd: FdArg) -> Request:
    return _build_sync(resfd, "fdsync", IOCB_CMD_FDSYNC, fd)


def _build_poll(resfd: int, fd: FdArg, events: int) -> Request:
    if type(events) is not int or not 0 <= events <= 0xFFFF:
        events = _poll_events(events)
    req = _new_request("poll", fd, 0)
    cb = req._cb = _new("struct iocb *")
    _prep(cb, IOCB_CMD_POLL, req.fd, events, 0, 0, resfd, 0)
    return req


#: Request method name -> its builder (what Context.prepare() accepts).
_BUILDERS: Dict[str, Callable[..., Request]] = {
    "pread": _build_pread,
    "pwrite": _build_pwrite,
    "preadv": _build_preadv,
    "pwritev": _build_pwritev,
    "fsync": _build_fsync,
    "fdsync": _build_fdsync,
    "poll": _build_poll,
}


# -- the batch -------------------------------------------------------------------
class _Batch:
    """``with ctx.batch():`` -- requests made inside go to the kernel in one
    ``io_submit`` when the block ends."""

    __slots__ = ("_ctx",)

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx

    def __enter__(self) -> Context:
        ctx = self._ctx
        ctx._check_open()
        if ctx._deferred is None:
            ctx._deferred = []
            ctx._depth = 0
        ctx._depth += 1
        return ctx

    def __exit__(
        self,
        exc_type: Optional[type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        ctx = self._ctx
        ctx._depth -= 1
        if ctx._depth == 0:
            deferred = ctx._deferred or []
            ctx._deferred = None
            if ctx._ctx:
                ctx._submit_many(deferred)
