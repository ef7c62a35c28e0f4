"""Linux native AIO: io_setup(2), io_submit(2), io_getevents(2), io_cancel(2),
io_destroy(2).

The kernel keeps an *AIO context* (a ring of completion events).  You
submit ``struct iocb`` requests (read, write, vectored read/write, fsync,
fdatasync, poll) and collect one ``struct io_event`` per request when it is
done.  Reads and writes are truly asynchronous only on files opened with
``O_DIRECT`` (and block devices); on other files the kernel does the work
inside ``io_submit`` and the completion is ready when it returns.  Reading a
pipe or a socket this way blocks ``io_submit`` until data arrives.

Two levels:

* **thin wrappers**, one per syscall: :func:`io_setup` returns the context id
  (an ``int``), :func:`io_submit` takes :class:`Iocb` objects, and
  :func:`io_getevents` returns :class:`IoEvent` records.  An :class:`Iocb`
  owns its ``struct iocb`` and holds references to the buffers it names;
  between ``io_submit`` and the ``io_getevents`` (or ``io_destroy``) that
  ends it, butter also holds the :class:`Iocb`, so dropping it cannot let
  the kernel write into freed memory.
* :class:`Context` owns an AIO context and an eventfd that the kernel
  signals on every completion (``IOCB_FLAG_RESFD``): it is event-like
  (``fileno()`` is readable when completions are ready, ``read_event()`` /
  ``read_events()`` / ``get_events()`` return completed :class:`Request`
  objects).  Requests follow the ``os`` argument order::

      with Context() as ctx:
          w = ctx.pwrite(fd, b"hello", 0)
          r = ctx.pread(fd, 5, 0)
          ctx.get_events(min_nr=2)
          assert r.result == b"hello"

Memory safety (what butter adds): a request's buffers (and its
``struct iocb``) stay referenced by the :class:`Context` until the kernel
reports the request complete.  :meth:`Context.close` first collects the
completions that are ready, then calls ``io_destroy``, which cancels what
can be cancelled and *waits* for every other request of the context
(since Linux 4.2; "aio: block io_destroy() until all context requests are
completed"), and only then releases the buffers.  Requests still in
flight at close end with ``OSError(ECANCELED)``: the kernel finished or
cancelled them, but their completion events are discarded with the context.

Errors: a request the kernel refuses at submission (bad fd -> ``EBADF``,
fd not open for reading -> ``EBADF``, negative offset -> ``EINVAL``)
does not raise: it completes at once with that error in
:attr:`Request.exception`, and is reported by ``get_events()`` like any
other completion (so a batch never half-raises).

Each completion is delivered once: by ``get_events()``, ``read_event()``,
``read_events()``, ``wait()`` or iteration, *or* to whoever reads the
request's :attr:`~Request.result` / :attr:`~Request.exception` first.  A
request whose result was read (waiting for it, or after ``done()``) is not
reported again by those methods.  Errors during the I/O
(``EIO``, ``EINVAL`` for a misaligned ``O_DIRECT`` transfer, ...) arrive the
same way.  ``Request.result`` raises the request's exception.

A :class:`Context` is not thread-safe and cannot be used in a ``fork()``
child (the kernel does not copy AIO contexts).
"""

from __future__ import annotations

import errno as _errno
import os
import sys

from .._cstruct import cstruct
from .._errors import raise_errno, retry_or_raise
from .._fd import EventLike, FdArg, check_int, check_timeout, fileno
from .._lowlevel import ffi, lib

TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import TracebackType
    from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple

    from typing_extensions import Buffer

    Timeout = Optional[float]

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
    "Context",
    "IoEvent",
    "Iocb",
    "Request",
    "aligned_buffer",
    "io_cancel",
    "io_destroy",
    "io_getevents",
    "io_setup",
    "io_submit",
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

_EINTR: int = lib.EINTR
_EAGAIN: int = lib.EAGAIN
_ECANCELED = _errno.ECANCELED
_EINPROGRESS = _errno.EINPROGRESS
_PYPY = sys.implementation.name == "pypy"
_ALIGN = 4096  # O_DIRECT needs the logical block size (512 or 4096)
_S64_MAX = (1 << 63) - 1
_U64_MAX = (1 << 64) - 1
_INT_MAX = (1 << 31) - 1
_MAX_NR = 1 << 16  # upper bound for one io_getevents buffer (aio-max-nr's default)
_EVENT, _EVENT_FIELDS = cstruct(ffi, "struct io_event", ("data", "obj", "res", "res2"))
_EVENT_SIZE = _EVENT.size
_iter_events = _EVENT.iter_unpack
_alloc = ffi.new_allocator(should_clear_after_alloc=False)
_prep = lib.butter_iocb_prep
_submit = lib.butter_io_submit
_getevents = lib.butter_io_getevents
_drain = lib.butter_aio_eventfd_drain
_eventfd_write = lib.eventfd_write
_new = ffi.new
_cast = ffi.cast
_buffer = ffi.buffer
_from_buffer = ffi.from_buffer

_VECTORED = (IOCB_CMD_PREADV, IOCB_CMD_PWRITEV)
_READS = (IOCB_CMD_PREAD, IOCB_CMD_PREADV)
_NO_BUFFER = (IOCB_CMD_FSYNC, IOCB_CMD_FDSYNC, IOCB_CMD_NOOP)
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


# -- buffers -------------------------------------------------------------------
def _address(cdata: Any) -> int:
    return int(_cast("uintptr_t", cdata))


def _pin(obj: Any, writable: bool) -> Any:
    """``ffi.from_buffer``: the cdata keeps *obj* alive and (on CPython)
    holds a buffer export, so a ``bytearray`` cannot be resized under the
    kernel.  ``TypeError`` for anything that is not a contiguous buffer."""
    try:
        return _from_buffer(obj, require_writable=writable)
    except BufferError as exc:
        what = "a writable" if writable else "a contiguous"
        raise TypeError(f"{what} bytes-like object is required ({exc})") from None


def _aligned(nbytes: int) -> Tuple[Any, Any]:
    """``(owner, pointer)``: *nbytes* of uninitialised memory at a 4096-byte
    boundary; *owner* frees it when collected."""
    owner = _alloc("char[]", nbytes + _ALIGN)
    ptr = owner + (-_address(owner) & (_ALIGN - 1))
    return owner, ptr


def aligned_buffer(size: int, alignment: int = 4096) -> memoryview:
    """Return a writable, zero-filled buffer of *size* bytes whose address
    is a multiple of *alignment* (a power of two), as ``O_DIRECT`` needs.

    The memory is an anonymous ``mmap`` (page aligned, never moved, on
    PyPy too); the returned ``memoryview`` keeps it alive.  Use it with
    :meth:`Context.preadv` / :meth:`Context.pwritev` / :meth:`Context.pwrite`
    or ``os.preadv``/``os.readv``.
    """
    size = check_int("size", size)
    alignment = check_int("alignment", alignment)
    if size < 0:
        raise ValueError("size must not be negative")
    if alignment <= 0 or alignment & (alignment - 1):
        raise ValueError("alignment must be a positive power of two")
    if size > _S64_MAX or alignment > _S64_MAX:
        raise OverflowError("size or alignment too large")
    import mmap  # lazily: keeps ``import butter.aio`` fast

    page = mmap.PAGESIZE
    extra = 0 if alignment <= page else alignment
    mem = mmap.mmap(-1, max(size + extra, 1))
    start = -_address(_from_buffer(mem)) & (alignment - 1) if extra else 0
    return memoryview(mem)[start : start + size]


# -- thin layer ----------------------------------------------------------------
class Iocb:
    """One ``struct iocb`` for the thin :func:`io_submit`.

    *opcode* is an ``IOCB_CMD_*``; *buf* depends on it: a writable buffer
    (``IOCB_CMD_PREAD``), any buffer (``IOCB_CMD_PWRITE``), a sequence of
    buffers (``IOCB_CMD_PREADV``: writable; ``IOCB_CMD_PWRITEV``), the
    ``poll`` event mask as an ``int`` (``IOCB_CMD_POLL``), or ``None``
    (``IOCB_CMD_FSYNC``, ``IOCB_CMD_FDSYNC``, ``IOCB_CMD_NOOP``).  The
    buffers are used in place (no copy): for ``O_DIRECT`` they must be
    aligned (see :func:`aligned_buffer`).  *data* is returned in the event;
    *resfd* is an eventfd to signal on completion (sets
    ``IOCB_FLAG_RESFD``).  The object holds the buffers; while submitted
    and not yet collected, butter holds the object.
    """

    __slots__ = ("__weakref__", "_cb", "_ctx", "_keep", "buf", "data", "fd", "offset", "opcode")

    def __init__(
        self,
        opcode: int,
        fd: FdArg,
        buf: Any = None,
        offset: int = 0,
        *,
        data: int = 0,
        resfd: Optional[FdArg] = None,
    ) -> None:
        opcode = check_int("opcode", opcode)
        if opcode not in _OPCODES:
            raise ValueError(f"unknown opcode {opcode}")
        fd = fileno(fd)
        if fd > _INT_MAX:
            raise OverflowError("fd does not fit in an int")
        offset = _offset(offset)
        data = check_int("data", data)
        if not 0 <= data <= _U64_MAX:
            raise OverflowError("data must fit in an unsigned 64-bit integer")
        rfd = -1
        if resfd is not None:
            rfd = fileno(resfd)
            if rfd > _INT_MAX:
                raise OverflowError("resfd does not fit in an int")
        keep: Any = None
        if opcode in _NO_BUFFER:
            if buf is not None:
                raise TypeError(f"{_OPCODES[opcode]} takes no buffer")
            addr = nbytes = 0
        elif opcode == IOCB_CMD_POLL:
            addr = 0
            nbytes = 0
            events = check_int("poll events", buf)
            if not 0 <= events <= 0xFFFF:
                raise ValueError("poll events must be a 16-bit mask")
            addr = events
        elif opcode in _VECTORED:
            keep, addr, nbytes = _iovecs(buf, opcode == IOCB_CMD_PREADV)
        else:
            keep = _pin(buf, opcode == IOCB_CMD_PREAD)
            addr = _address(keep)
            nbytes = len(keep)
        cb = _new("struct iocb *")
        _prep(cb, opcode, fd, addr, nbytes, offset, rfd, data)
        self._cb = cb
        self._keep = keep
        self._ctx = 0
        self.opcode = opcode
        self.fd = fd
        self.buf = buf
        self.offset = offset
        self.data = data

    @property
    def address(self) -> int:
        """The address of the ``struct iocb`` (``IoEvent.obj`` names it)."""
        return _address(self._cb)

    @property
    def in_flight(self) -> bool:
        """True between a successful :func:`io_submit` and its collection."""
        return self._ctx != 0

    def __repr__(self) -> str:
        state = " in flight" if self._ctx else ""
        return f"<Iocb {_OPCODES[self.opcode]} fd={self.fd} offset={self.offset}{state}>"


def _offset(offset: int) -> int:
    offset = check_int("offset", offset)
    if not -_S64_MAX - 1 <= offset <= _S64_MAX:
        raise OverflowError("offset does not fit in a signed 64-bit integer")
    return offset


def _iovecs(buffers: Any, writable: bool) -> Tuple[Any, int, int]:
    """Pin each buffer; return ``(keep, address of the iovec array, count)``."""
    if isinstance(buffers, (bytes, bytearray, memoryview, str)):
        raise TypeError("buffers must be a sequence of bytes-like objects")
    try:
        items = list(buffers)
    except TypeError:
        raise TypeError("buffers must be a sequence of bytes-like objects") from None
    pinned = [_pin(b, writable) for b in items]
    iov = _new("butter_aio_iovec[]", max(len(pinned), 1))
    for i, c in enumerate(pinned):
        iov[i].iov_base = c
        iov[i].iov_len = len(c)
    return (pinned, iov), _address(iov), len(pinned)


class IoEvent:
    """One ``struct io_event``: ``data`` and ``obj`` (the iocb's address)
    as submitted, ``res`` (bytes transferred or ``-errno``) and ``res2``,
    plus ``iocb``: the :class:`Iocb` it completes (``None`` if it was not
    submitted through :func:`io_submit`)."""

    __slots__ = ("data", "iocb", "obj", "res", "res2")

    def __init__(self, data: int, obj: int, res: int, res2: int, iocb: Optional[Iocb]) -> None:
        self.data = data
        self.obj = obj
        self.res = res
        self.res2 = res2
        self.iocb = iocb

    def __repr__(self) -> str:
        return f"IoEvent(data={self.data}, obj={self.obj:#x}, res={self.res}, res2={self.res2})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, IoEvent):
            return NotImplemented
        return (self.data, self.obj, self.res, self.res2, self.iocb) == (
            other.data,
            other.obj,
            other.res,
            other.res2,
            other.iocb,
        )

    __hash__ = None  # type: ignore[assignment]


#: ctx id -> {iocb address: Iocb} for thin-layer iocbs the kernel may use.
_flight: Dict[int, Dict[int, Iocb]] = {}


def _ctx_id(ctx: int) -> int:
    ctx = check_int("ctx", ctx)
    if not 0 <= ctx <= _U64_MAX:
        raise OverflowError("ctx must fit in an unsigned long")
    return ctx


def io_setup(maxevents: int) -> int:
    """Create an AIO context able to hold *maxevents* requests; return its id.

    ``EAGAIN`` when the system-wide limit ``/proc/sys/fs/aio-max-nr`` would
    be exceeded (``/proc/sys/fs/aio-nr`` counts what is in use).  Free it
    with :func:`io_destroy`.
    """
    maxevents = check_int("maxevents", maxevents)
    if maxevents <= 0:
        raise ValueError("maxevents must be positive")
    if maxevents > 0xFFFFFFFF:
        raise OverflowError("maxevents does not fit in an unsigned int")
    out = _new("aio_context_t *")
    while lib.butter_io_setup(maxevents, out) < 0:
        retry_or_raise()
    return int(out[0])


def io_destroy(ctx: int) -> None:
    """Destroy an AIO context: cancel its cancellable requests and wait for
    all the others to complete (Linux 4.2+), then free it.  Completions not
    yet collected are discarded; the thin layer then releases the
    :class:`Iocb` objects it held for that context."""
    ctx = _ctx_id(ctx)
    while lib.butter_io_destroy(ctx) < 0:
        retry_or_raise()
    for iocb in _flight.pop(ctx, {}).values():
        iocb._ctx = 0


def io_submit(ctx: int, iocbs: Iterable[Iocb]) -> int:
    """Submit *iocbs* (one ``io_submit`` call); return how many the kernel
    accepted (the first ones, in order).

    If the very first is refused the kernel's error is raised (``EBADF``,
    ``EINVAL``, ``EAGAIN`` when the context is full, ...).  An :class:`Iocb`
    already in flight cannot be submitted again (``ValueError``).
    """
    ctx = _ctx_id(ctx)
    if isinstance(iocbs, Iocb):
        raise TypeError("iocbs must be a sequence of Iocb objects")
    items = list(iocbs)
    for iocb in items:
        if not isinstance(iocb, Iocb):
            raise TypeError(f"iocbs must be Iocb objects, not {type(iocb).__name__!r}")
        if iocb._ctx:
            raise ValueError(f"{iocb!r} is already in flight")
    if len(set(map(id, items))) != len(items):
        raise ValueError("the same Iocb appears twice")
    array = _new("struct iocb *[]", [iocb._cb for iocb in items] or 1)
    # Registered before the call: another thread may collect them at once.
    flight = _flight.setdefault(ctx, {})
    for iocb in items:
        flight[_address(iocb._cb)] = iocb
        iocb._ctx = ctx
    n: int = -1
    try:
        while True:
            n = _submit(ctx, len(items), array)
            if n >= 0:
                return n
            retry_or_raise()
    finally:
        for iocb in items[max(n, 0) :]:
            iocb._ctx = 0
            flight.pop(_address(iocb._cb), None)
        if not flight:
            _flight.pop(ctx, None)


def _timeout_ns(timeout: Timeout) -> int:
    """Seconds -> nanoseconds for the shim; -1 means no timeout.  The rules
    are every module's (:func:`~butter._fd.check_timeout`): ``None`` and
    ``inf`` wait forever (so does anything past 2**63 ns, ~292 years), zero
    or less polls, NaN raises ``ValueError``."""
    seconds = check_timeout(timeout)
    if seconds is None:
        return -1
    if seconds <= 0:
        return 0
    ns = -int(-seconds * 1e9 // 1)
    return -1 if ns > _S64_MAX else ns


def _collect(
    ctx: int, min_nr: int, max_nr: int, timeout_ns: int, events: Any
) -> List[Tuple[int, int, int, int]]:
    """io_getevents into *events*, retrying EINTR with the time left."""
    deadline = 0.0
    if timeout_ns > 0:
        import time

        deadline = time.monotonic() + timeout_ns / 1e9
    while True:
        n: int = _getevents(ctx, min_nr, max_nr, events, timeout_ns)
        if n >= 0:
            return list(_iter_events(_buffer(events, n * _EVENT_SIZE)))
        retry_or_raise()
        if timeout_ns > 0:
            import time

            timeout_ns = max(0, int((deadline - time.monotonic()) * 1e9))


def _nr(min_nr: int, max_nr: int) -> Tuple[int, int]:
    min_nr = check_int("min_nr", min_nr)
    max_nr = check_int("max_nr", max_nr)
    if min_nr < 0 or max_nr < 0:
        raise ValueError("min_nr and max_nr must not be negative")
    if min_nr > max_nr:
        raise ValueError("min_nr must not exceed max_nr")
    if min_nr > _MAX_NR:
        raise OverflowError(f"min_nr must be at most {_MAX_NR}")
    return min_nr, min(max_nr, _MAX_NR)


def io_getevents(ctx: int, min_nr: int, max_nr: int, timeout: Timeout = None) -> List[IoEvent]:
    """Wait for at least *min_nr* completions (or *timeout* seconds; ``None``
    waits forever) and return up to *max_nr* :class:`IoEvent` records.

    Events of iocbs submitted through :func:`io_submit` carry that
    :class:`Iocb` (which butter stops holding); others have ``iocb=None``.
    """
    ctx = _ctx_id(ctx)
    min_nr, max_nr = _nr(min_nr, max_nr)
    timeout_ns = _timeout_ns(timeout)
    raw = _collect(ctx, min_nr, max_nr, timeout_ns, _new("struct io_event[]", max(max_nr, 1)))
    flight = _flight.get(ctx, {})
    out = []
    for data, obj, res, res2 in raw:
        iocb = flight.pop(obj, None)
        if iocb is not None:
            iocb._ctx = 0
        out.append(IoEvent(data, obj, res, res2, iocb))
    if not flight:
        _flight.pop(ctx, None)
    return out


def io_cancel(ctx: int, iocb: Iocb) -> None:
    """Ask the kernel to cancel *iocb*.

    Returns once the cancellation is under way (the kernel answers
    ``EINPROGRESS``): the request's event then arrives through
    :func:`io_getevents` as usual.  ``EINVAL`` if it cannot be cancelled:
    on current kernels only ``IOCB_CMD_POLL`` (and some USB gadget I/O) can
    be; reads and writes of files always run to completion.
    """
    ctx = _ctx_id(ctx)
    if not isinstance(iocb, Iocb):
        raise TypeError(f"iocb must be an Iocb, not {type(iocb).__name__!r}")
    result = _new("struct io_event *")
    while lib.butter_io_cancel(ctx, iocb._cb, result) < 0:
        if ffi.errno == _EINPROGRESS:
            return
        retry_or_raise()


# -- Context -------------------------------------------------------------------
class Request:
    """One request of a :class:`Context`.

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
    does not consume it).
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
        "_owner",
        "_ptr",
        "_result",
        "fd",
        "offset",
        "op",
    )

    def __init__(self, op: str, fd: int, offset: int) -> None:
        self.op = op
        self.fd = fd
        self.offset = offset
        self._cb: Any = None
        self._keep: Any = None
        self._ptr: Any = None  # pread: where the data lands
        self._copyout: Any = None  # PyPy preadv: (bounce pointers, user buffers)
        self._owner: Optional[Context] = None
        self._callback: Optional[Callable[[Request], None]] = None
        self._done = False
        self._cancelled = False
        self._result: Any = None
        self._exception: Optional[OSError] = None
        #: The Context holding this completion, not yet reported to the user.
        self._home: Optional[Context] = None

    def done(self) -> bool:
        """True once the request completed (successfully or not)."""
        return self._done

    def _wait(self) -> None:
        owner = self._owner
        while not self._done:
            if owner is None:  # pragma: no cover - done requests have no owner
                break
            owner._wait_for(self)

    def _claim(self) -> None:
        """The user took the completion: its context must not report it."""
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
            self._exception = OSError(-res, os.strerror(-res))
        elif self._cancelled and res == 0 and self.op == "poll":
            self._exception = OSError(_ECANCELED, os.strerror(_ECANCELED))
        elif self._ptr is not None:
            self._result = _buffer(self._ptr, res)[:]
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
            state = "pending"
        elif self._exception is not None:
            state = f"error={self._exception.errno}"
        elif isinstance(self._result, bytes):
            state = f"result=<{len(self._result)} bytes>"
        else:
            state = f"result={self._result}"
        return f"<Request {self.op} fd={self.fd} offset={self.offset} {state}>"


def _copy_out(copyout: Any, count: int) -> None:
    """PyPy preadv: copy *count* bytes from the bounce segments into the
    user's buffers (the kernel wrote the bounce memory, never theirs)."""
    for ptr, user in copyout:
        if count <= 0:
            break
        n = min(count, len(user))
        user[:n] = _buffer(ptr, n)[:]
        count -= n


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


class Context(EventLike[Request]):
    """An AIO context plus an eventfd signalled on every completion.

    Request methods (``pread``, ``pwrite``, ``preadv``, ``pwritev``,
    ``fsync``, ``fdsync``, ``poll``) submit at once (one ``io_submit`` each)
    or, inside ``with ctx.batch():``, together when the block ends; each
    returns a :class:`Request`.  Completed requests come back (once each)
    from :meth:`get_events`, :meth:`read_event`, :meth:`read_events`,
    :meth:`wait` and iteration -- except those whose :attr:`Request.result`
    or :attr:`Request.exception` was read first (a completion is delivered
    exactly once); ``fileno()`` (the eventfd) is readable while some are
    ready.  More requests than the context holds may be submitted:
    when it is full, butter first collects completions (waiting for one if
    needed) and keeps them for the next ``get_events()``.

    Threads may share a context: submissions and harvests use memory of
    their own per call, and each completion is reported to one caller.
    ``close()`` wakes threads in ``get_events()``/``wait()``, which raise
    ``ValueError``.
    """

    _ctx = 0  # for close() after a failed __init__

    def __init__(self, maxevents: int = 128) -> None:
        maxevents = check_int("maxevents", maxevents)
        if maxevents <= 0:
            raise ValueError("maxevents must be positive")
        if maxevents > _MAX_NR:
            raise OverflowError(f"maxevents must be at most {_MAX_NR}")
        efd = lib.eventfd(0, lib.EFD_CLOEXEC)
        while efd < 0:
            retry_or_raise()
            efd = lib.eventfd(0, lib.EFD_CLOEXEC)
        super().__init__(efd)
        try:
            self._ctx = io_setup(maxevents)
        except BaseException:
            self.close()
            raise
        self._maxevents = maxevents
        self._pid = os.getpid()
        self._pending: Dict[int, Request] = {}
        self._deferred: Optional[List[Request]] = None
        self._depth = 0
        self._armed = False
        self._stale = 0  # cached requests whose result the user already took
        self._claim_hook: Optional[Callable[[Request], bool]] = None

    # -- fd ownership --------------------------------------------------------------
    @property
    def maxevents(self) -> int:
        return self._maxevents

    def _check_open(self) -> int:
        ctx = self._ctx
        if not ctx:
            raise self._closed_error()
        return ctx

    def close(self) -> None:
        """Destroy the AIO context (waiting for in-flight requests), then
        close the eventfd.  Idempotent.  Requests not yet completed end with
        ``OSError(ECANCELED)`` (see the module docs).

        ``io_destroy`` waits for an RCU grace period, so closing takes a few
        to tens of milliseconds: reuse one context rather than making many
        short-lived ones."""
        ctx = self._ctx
        if ctx:
            self._ctx = 0
            pending = self._pending
            deferred = self._deferred or []
            self._deferred = None
            for req in deferred:
                req._fail(_ECANCELED, " (context closed before submission)")
                _call(req)
            ok = True
            if os.getpid() == self._pid:  # a fork child has no AIO contexts
                if pending:
                    try:
                        for req in self._harvest_ready(ctx):
                            req._home = None
                    except OSError:
                        pass
                ok = lib.butter_io_destroy(ctx) == 0
            reqs = list(pending.values())
            pending.clear()
            if not ok and reqs:
                # Cannot prove the kernel is done with the memory: keep it.
                _leaked.extend(req._keep for req in reqs)
                _leaked.extend(req._ptr for req in reqs)
            for req in reqs:
                req._fail(_ECANCELED, " (context closed before completion was collected)")
                _call(req)
        for req in self._cache:
            req._home = None
        self._stale = 0
        super().close()

    def __repr__(self) -> str:
        if self._fd < 0:
            return "<Context closed>"
        return f"<Context fd={self._fd} maxevents={self._maxevents} pending={len(self._pending)}>"

    # -- requests ------------------------------------------------------------------
    def batch(self) -> _Batch:
        """``with ctx.batch():`` defers submission to the end of the block
        (one ``io_submit`` for all).  Nests."""
        return _Batch(self)

    def _new_request(self, op: str, fd: FdArg, offset: int) -> Request:
        self._check_open()
        fd = fileno(fd)
        if fd > _INT_MAX:
            raise OverflowError("fd does not fit in an int")
        return Request(op, fd, _offset(offset))

    def _prep_pread(self, fd: FdArg, length: int, offset: int) -> Request:
        length = check_int("length", length)
        if length < 0:
            raise ValueError("length must not be negative")
        if length > _S64_MAX:
            raise OverflowError("length too large")
        req = self._new_request("pread", fd, offset)
        owner, ptr = _aligned(length)
        req._keep = owner
        req._ptr = ptr
        cb = req._cb = _new("struct iocb *")
        _prep(cb, IOCB_CMD_PREAD, req.fd, _address(ptr), length, req.offset, self._fd, 0)
        return req

    def _prep_pwrite(self, fd: FdArg, data: Buffer, offset: int) -> Request:
        req = self._new_request("pwrite", fd, offset)
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
        _prep(cb, IOCB_CMD_PWRITE, req.fd, addr, size, req.offset, self._fd, 0)
        return req

    def _prep_vec(self, op: str, fd: FdArg, buffers: Sequence[Buffer], offset: int) -> Request:
        req = self._new_request(op, fd, offset)
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
        _prep(cb, opcode, req.fd, addr, n, req.offset, self._fd, 0)
        return req

    def _prep_sync(self, op: str, opcode: int, fd: FdArg) -> Request:
        req = self._new_request(op, fd, 0)
        cb = req._cb = _new("struct iocb *")
        _prep(cb, opcode, req.fd, 0, 0, 0, self._fd, 0)
        return req

    def _prep_poll(self, fd: FdArg, events: int) -> Request:
        events = check_int("events", events)
        if not 0 <= events <= 0xFFFF:
            raise ValueError("events must be a 16-bit poll mask")
        req = self._new_request("poll", fd, 0)
        cb = req._cb = _new("struct iocb *")
        _prep(cb, IOCB_CMD_POLL, req.fd, events, 0, 0, self._fd, 0)
        return req

    def pread(self, fd: FdArg, length: int, offset: int) -> Request:
        """Read up to *length* bytes at *offset*; ``result`` is the ``bytes``
        read (shorter at end of file).  butter reads into its own 4096-byte
        aligned memory, so this works on ``O_DIRECT`` files (when *length*
        and *offset* are multiples of the block size)."""
        return self._submit_one(self._prep_pread(fd, length, offset))

    def pwrite(self, fd: FdArg, data: Buffer, offset: int) -> Request:
        """Write the bytes-like *data* at *offset*; ``result`` is the count
        written.  4096-aligned buffers (:func:`aligned_buffer`) are pinned
        and used in place; any other data is first copied to aligned
        memory, so the caller may reuse it at once.  On an ``O_DIRECT``
        file the length and *offset* must still be multiples of the block
        size: otherwise the request completes with ``OSError(EINVAL)``."""
        return self._submit_one(self._prep_pwrite(fd, data, offset))

    def preadv(self, fd: FdArg, buffers: Sequence[Buffer], offset: int) -> Request:
        """Read into the writable *buffers* (filled in order) at *offset*;
        ``result`` is the total count.  The buffers are used in place and
        held until completion (read-only buffers: ``TypeError``).  For
        ``O_DIRECT``, use :func:`aligned_buffer`."""
        return self._submit_one(self._prep_vec("preadv", fd, buffers, offset))

    def pwritev(self, fd: FdArg, buffers: Sequence[Buffer], offset: int) -> Request:
        """Write *buffers* in order at *offset*; ``result`` is the count.
        The buffers are used in place and held until completion."""
        return self._submit_one(self._prep_vec("pwritev", fd, buffers, offset))

    def fsync(self, fd: FdArg) -> Request:
        """``fsync(fd)`` as a request (``IOCB_CMD_FSYNC``); ``result`` is 0."""
        return self._submit_one(self._prep_sync("fsync", IOCB_CMD_FSYNC, fd))

    def fdsync(self, fd: FdArg) -> Request:
        """``fdatasync(fd)`` as a request (``IOCB_CMD_FDSYNC``)."""
        return self._submit_one(self._prep_sync("fdsync", IOCB_CMD_FDSYNC, fd))

    def poll(self, fd: FdArg, events: int) -> Request:
        """One-shot ``poll`` (``IOCB_CMD_POLL``, Linux 4.18): completes when
        *fd* has one of *events* (``select.POLLIN``, ...); ``result`` is the
        revents mask.  The one request kind :meth:`cancel` can stop."""
        return self._submit_one(self._prep_poll(fd, events))

    # -- submission ----------------------------------------------------------------
    def _submit_one(self, req: Request) -> Request:
        deferred = self._deferred
        if deferred is not None:
            deferred.append(req)
            req._owner = self
            return req
        ctx = self._ctx
        cb = req._cb
        key = _address(cb)
        req._owner = self
        self._pending[key] = req  # before the call: never unreferenced in flight
        # A fresh one-slot array per call: threads sharing the context must
        # never submit each other's request through one shared slot.
        one = _new("struct iocb *[1]", [cb])
        while True:
            if _submit(ctx, 1, one) == 1:
                return req
            err = ffi.errno
            if err == _EINTR:
                continue
            if err == _EAGAIN and len(self._pending) > 1:
                self._make_room(ctx)
                continue
            del self._pending[key]
            self._refused(req, err)
            return req

    def _submit_many(self, reqs: List[Request]) -> None:
        if not reqs:
            return
        ctx = self._ctx
        pending = self._pending
        for req in reqs:
            pending[_address(req._cb)] = req
        array = _new("struct iocb *[]", [req._cb for req in reqs])
        i = 0
        total = len(reqs)
        while i < total:
            n: int = _submit(ctx, total - i, array + i)
            if n > 0:
                i += n
                continue
            err = ffi.errno
            if err == _EINTR:
                continue
            if err == _EAGAIN and len(pending) > total - i:
                self._make_room(ctx)
                continue
            req = reqs[i]
            del pending[_address(req._cb)]
            self._refused(req, err)
            i += 1

    def _refused(self, req: Request, err: int) -> None:
        """The kernel refused *req* at submission: it completes now, with
        the error, and is reported like any completion."""
        req._fail(err)
        if not _call(req):
            req._home = self
            self._cache.append(req)
            self._settle_eventfd()  # keep fileno() readable for it

    def _make_room(self, ctx: int) -> None:
        """The ring is full: collect completions (waiting for one)."""
        self._cache.extend(self._harvest_into(ctx, 1, None, -1))
        self._settle_eventfd()

    # -- completion ----------------------------------------------------------------
    def _harvest_into(
        self, ctx: int, min_nr: int, max_nr: Optional[int], timeout_ns: int
    ) -> List[Request]:
        """One io_getevents; finish the requests; return those that nobody
        awaits (requests with a callback are handed to it instead).

        The completions land in a buffer of this call's own: threads
        harvesting at once each parse only what the kernel gave them (the
        kernel hands each completion to one io_getevents)."""
        cap = self._maxevents
        want = cap if max_nr is None else min(max_nr, cap)
        events = _new("struct io_event[]", max(want, 1))
        min_nr = min(min_nr, want)
        pending = self._pending
        out = []
        try:
            done = _collect(ctx, min_nr, want, timeout_ns, events)
        except OSError as exc:
            if exc.errno == _errno.EINVAL and not self._ctx:
                raise self._closed_error() from None  # close() ended our wait
            raise
        for _data, obj, res, _res2 in done:
            req = pending.pop(obj, None)
            if req is None:
                continue  # not ours (thin-layer use of the same context)
            req._finish(res)
            if not _call(req):
                req._home = self
                out.append(req)
        return out

    def _harvest_ready(self, ctx: int, limit: Optional[int] = None) -> List[Request]:
        """Everything completed now, without waiting (loops past the
        buffer size: the eventfd was drained, so leave nothing behind)."""
        out: List[Request] = []
        cap = self._maxevents
        while limit is None or len(out) < limit:
            before = len(self._pending)
            got = self._harvest_into(ctx, 0, None if limit is None else limit - len(out), 0)
            out.extend(got)
            if before - len(self._pending) < cap:
                break
        return out

    def _settle_eventfd(self, more: bool = False) -> None:
        """Keep ``fileno()`` readable exactly while there is something to
        report: signal it while completions wait in the cache (or may wait
        in the ring, *more*); empty it when nothing is left to report or to
        wait for.  Spurious readiness can remain (a completion collected
        between the kernel's signal and our read of it): every reader
        tolerates it."""
        fd = self._fd
        if fd < 0:
            return
        if self._stale and self._stale >= len(self._cache):
            self._purge()  # only consumed requests left: nothing to report
        if self._cache or (more and self._pending):
            if not self._armed:
                _eventfd_write(fd, 1)
                self._armed = True
        elif not self._pending:
            _drain(fd)
            self._armed = False

    def _read_from_kernel(self) -> List[Request]:
        ctx = self._check_open()
        while True:
            mode = _drain(self._fd)
            if mode < 0:
                retry_or_raise()
                continue
            self._armed = False
            if mode:  # O_NONBLOCK
                events = self._harvest_ready(ctx)
                if not events:
                    raise BlockingIOError(_EAGAIN, os.strerror(_EAGAIN))
            else:
                events = self._harvest_into(ctx, 1, None, -1)
                events += self._harvest_ready(ctx)
                if not events:
                    continue
            return events

    # -- delivering each completion once ------------------------------------------
    def _forget(self, req: Request) -> None:
        """The user read *req*'s result before it was reported: it must not
        be reported.  Lazy: the cache skips it when it gets there, and is
        emptied at once when nothing else is left in it."""
        hook = self._claim_hook
        if hook is not None and hook(req):
            return  # it was in the asyncio queue, not in the cache
        self._stale += 1
        if self._stale >= len(self._cache):
            self._purge()
            self._settle_eventfd()

    def _purge(self) -> None:
        """Drop the consumed requests from the cache."""
        if self._stale:
            cache = self._cache
            live = [req for req in cache if req._home is self]
            cache.clear()
            cache.extend(live)
            self._stale = 0

    def _take_cached(self, limit: int, out: List[Request]) -> None:
        """Move up to *limit* unconsumed requests from the cache to *out*
        (they are now reported)."""
        cache = self._cache
        popleft = cache.popleft
        n = 0
        while cache and n < limit:
            req = popleft()
            if req._home is self:
                req._home = None
                out.append(req)
                n += 1
            elif self._stale:
                self._stale -= 1

    def read_event(self) -> Request:
        """One completed request (blocking unless ``fileno()`` is
        non-blocking; a blocking read with nothing in flight waits forever,
        like reading an idle eventfd).  Requests whose result was already
        read are skipped."""
        out: List[Request] = []
        self._take_cached(1, out)
        if not out:
            out.append(super().read_event())  # from the kernel: the rest is cached
            out[0]._home = None
        self._settle_eventfd()
        return out[0]

    def read_events(self) -> List[Request]:
        """The completed requests ready now (at least one when blocking),
        except those whose result was already read."""
        self._purge()
        events = super().read_events()
        for req in events:
            req._home = None
        self._settle_eventfd()
        return events

    def get_events(
        self, min_nr: int = 1, max_nr: Optional[int] = None, timeout: Timeout = None
    ) -> List[Request]:
        """Wait until at least *min_nr* requests completed (or *timeout*
        seconds passed; ``None``: no limit) and return up to *max_nr*
        (default: ``maxevents``) completed requests, in completion order.
        Each completion is returned once; requests whose
        :attr:`~Request.result` was read first are not returned (and do
        not count towards *min_nr*).

        Waiting for more requests than are in flight returns at the
        timeout (or never, with no timeout), as ``io_getevents`` does.
        """
        ctx = self._check_open()
        if max_nr is None:
            max_nr = self._maxevents
        min_nr, max_nr = _nr(min_nr, max_nr)
        timeout_ns = _timeout_ns(timeout)
        out: List[Request] = []
        self._take_cached(max_nr, out)
        if len(out) < max_nr:
            while _drain(self._fd) < 0:
                retry_or_raise()
            self._armed = False
            out += _reported(self._harvest_ready(ctx, max_nr - len(out)))
            deadline = 0.0
            if timeout_ns > 0:
                import time

                deadline = time.monotonic() + timeout_ns / 1e9
            while len(out) < min_nr:
                got = self._harvest_into(ctx, min_nr - len(out), max_nr - len(out), timeout_ns)
                out += _reported(got)
                if timeout_ns == 0 or (not got and timeout_ns > 0):
                    break
                if timeout_ns > 0:
                    import time

                    timeout_ns = int((deadline - time.monotonic()) * 1e9)
                    if timeout_ns <= 0:
                        break
        self._settle_eventfd(more=len(out) >= max_nr)
        return out

    def wait(self, timeout: Optional[float] = None) -> Optional[Request]:
        """Wait up to *timeout* seconds (``None``: forever) for one completed
        request and return it, or ``None`` on timeout (requests whose result
        was already read are skipped)."""
        self._purge()
        if self._cache:
            return self.read_event()
        self._check_open()
        events = self.get_events(1, 1, timeout)
        return events[0] if events else None

    def _wait_for(self, req: Request) -> None:
        """Block until *req* completed (``Request.result``); other
        completions collected meanwhile are kept for ``get_events()``, *req*
        itself is consumed by the waiter and never reported."""
        ctx = self._ctx
        if not ctx:
            return
        if req._owner is not self:
            return
        if self._deferred is not None and req in self._deferred:
            raise RuntimeError("the request is deferred until its batch() block ends")
        got = self._harvest_into(ctx, 1, None, -1)
        if req._done:
            req._home = None
            got = [r for r in got if r is not req]
        self._cache.extend(got)
        self._settle_eventfd()

    def cancel(self, request: Request) -> bool:
        """Try to cancel *request*.  True if it was stopped (a request still
        waiting for its ``batch()`` block, or one the kernel agreed to
        cancel -- only ``poll`` requests on current kernels): it completes
        with ``OSError(ECANCELED)``.  False if it is done or cannot be
        cancelled (file reads and writes always run to completion); its
        buffers stay held until it completes either way."""
        if not isinstance(request, Request):
            raise TypeError(f"request must be a Request, not {type(request).__name__!r}")
        ctx = self._check_open()
        if request._done:
            return False
        if request._owner is not self:
            raise ValueError("the request belongs to another context")
        deferred = self._deferred
        if deferred is not None and request in deferred:
            deferred.remove(request)
            self._refused(request, _ECANCELED)
            return True
        result = _new("struct io_event *")  # unused by current kernels
        while lib.butter_io_cancel(ctx, request._cb, result) < 0:
            err = ffi.errno
            if err == _EINPROGRESS:
                request._cancelled = True
                return True
            if err == _EINTR:
                continue
            if err in (_errno.EINVAL, _EAGAIN):
                return False
            raise_errno(err)
        request._cancelled = True
        return True

    @property
    def pending(self) -> int:
        """How many requests the kernel has not reported complete yet."""
        return len(self._pending)


def _reported(reqs: List[Request]) -> List[Request]:
    """*reqs* go to the user now: their context no longer holds them."""
    for req in reqs:
        req._home = None
    return reqs


def _call(req: Request) -> bool:
    """Run the request's completion callback (asyncio); False if none."""
    callback = req._callback
    if callback is None:
        return False
    req._callback = None
    callback(req)
    return True


def _bounce(buffers: Any, reading: bool) -> Tuple[Any, int, int, Any]:
    """Vectored I/O through memory butter owns (PyPy): each segment starts
    on a 4096-byte boundary; writes copy the data in now, reads copy it out
    on completion."""
    if isinstance(buffers, (bytes, bytearray, memoryview, str)):
        raise TypeError("buffers must be a sequence of bytes-like objects")
    try:
        items = list(buffers)
    except TypeError:
        raise TypeError("buffers must be a sequence of bytes-like objects") from None
    views = []
    for b in items:
        _pin(b, reading)  # type and writability checks
        views.append(memoryview(b).cast("B"))
    iov = _new("butter_aio_iovec[]", max(len(views), 1))
    keep = [iov]
    copyout = []
    for i, view in enumerate(views):
        owner, ptr = _aligned(len(view))
        keep.append(owner)
        if reading:
            copyout.append((ptr, view))
        else:
            ffi.memmove(ptr, view, len(view))
        iov[i].iov_base = ptr
        iov[i].iov_len = len(view)
    return keep, _address(iov), len(views), (copyout if reading else None)


#: Memory of requests whose context could not be destroyed: the kernel may
#: still use it, so it is never freed (should never happen).
_leaked: List[Any] = []
