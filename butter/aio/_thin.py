"""The thin layer: one Python function per AIO syscall, and the two records.

:func:`io_setup`, :func:`io_destroy`, :func:`io_submit`,
:func:`io_getevents` and :func:`io_cancel` take and return what the kernel
does (context ids as ``int``), with two records: :class:`Iocb` (one
``struct iocb`` plus the buffers it names) and :class:`IoEvent` (one
``struct io_event``).

What butter adds here is the *in-flight registry* (``_flight``): between a
successful ``io_submit`` and the ``io_getevents`` (or ``io_destroy``) that
ends it, butter holds each :class:`Iocb`, so dropping it cannot let the
kernel write into freed memory.  The helpers for timeouts, ``min_nr`` and
``max_nr`` and the completion buffer (``_collect``) are shared with
:class:`~butter.aio.Context`.
"""

from __future__ import annotations

from .._args import RANGES, FdArg, check_timeout, fileno, to_flags, to_int
from .._cstruct import cstruct
from .._errors import retry_or_raise
from .._lowlevel import ffi, lib
from ._buffers import _address, _iovecs, _pin
from ._constants import (
    _EINPROGRESS,
    _MAX_NR,
    _NO_BUFFER,
    _OPCODES,
    _VECTORED,
    IOCB_CMD_POLL,
    IOCB_CMD_PREAD,
    IOCB_CMD_PREADV,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, ClassVar, Dict, Iterable, List, Optional, Tuple

    Timeout = Optional[float]

__all__ = ["IoEvent", "Iocb", "io_cancel", "io_destroy", "io_getevents", "io_setup", "io_submit"]

_EVENT, _ = cstruct(ffi, "struct io_event", ("data", "obj", "res", "res2"))
_EVENT_SIZE = _EVENT.size
_iter_events = _EVENT.iter_unpack
_prep = lib.butter_iocb_prep
_submit = lib.butter_io_submit
_getevents = lib.butter_io_getevents
_new = ffi.new
_buffer = ffi.buffer
_NS_MAX = RANGES["int64_t"][1]  # the shim's timeout_ns is a long long


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
    opcode: int
    fd: int
    buf: Any
    offset: int
    data: int

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
        opcode = to_int("opcode", opcode, "int", 0)  # the shim's int
        if opcode not in _OPCODES:
            raise ValueError(f"unknown opcode {opcode}")
        fd = fileno(fd)
        offset = to_int("offset", offset, "off_t")
        data = to_int("data", data, "uint64_t")
        rfd = -1 if resfd is None else fileno(resfd)
        keep: Any = None
        if opcode in _NO_BUFFER:
            if buf is not None:
                raise TypeError(f"{_OPCODES[opcode]} takes no buffer")
            addr = nbytes = 0
        elif opcode == IOCB_CMD_POLL:
            addr = _poll_events(buf)
            nbytes = 0
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


def _poll_events(events: int) -> int:
    """A poll request's event mask: it travels in the ``uint64_t``
    ``aio_buf``, and the kernel takes its low 16 bits (``demangle_poll``):
    a bit above them is refused (``ValueError``), not dropped."""
    return to_flags("events", events, 0xFFFF, "uint64_t", "a 16-bit poll mask")


class IoEvent:
    """One ``struct io_event``: ``data`` and ``obj`` (the iocb's address)
    as submitted, ``res`` (bytes transferred or ``-errno``) and ``res2``,
    plus ``iocb``: the :class:`Iocb` it completes (``None`` if it was not
    submitted through :func:`io_submit`)."""

    __slots__ = ("data", "iocb", "obj", "res", "res2")
    data: int
    obj: int
    res: int
    res2: int
    iocb: Optional[Iocb]

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

    __hash__: ClassVar[None] = None  # type: ignore[assignment]


#: ctx id -> {iocb address: Iocb} for thin-layer iocbs the kernel may use.
_flight: Dict[int, Dict[int, Iocb]] = {}


def _ctx_id(ctx: int) -> int:
    return to_int("ctx", ctx, "unsigned long")  # aio_context_t


def io_setup(maxevents: int) -> int:
    """Create an AIO context able to hold *maxevents* requests; return its id.

    ``EAGAIN`` when the system-wide limit ``/proc/sys/fs/aio-max-nr`` would
    be exceeded (``/proc/sys/fs/aio-nr`` counts what is in use).  Free it
    with :func:`io_destroy`.
    """
    maxevents = to_int("maxevents", maxevents, "unsigned int", 1)
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
    are every module's (:func:`~butter._args.check_timeout`): ``None`` and
    ``inf`` wait forever (so does anything past 2**63 ns, ~292 years), zero
    or less polls, NaN raises ``ValueError``."""
    seconds = check_timeout(timeout)
    if seconds is None:
        return -1
    if seconds <= 0:
        return 0
    ns = -int(-seconds * 1e9 // 1)
    return -1 if ns > _NS_MAX else ns


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
    """io_getevents' ``long`` counts: *max_nr* is clipped to butter's
    buffer limit ``_MAX_NR``; a *min_nr* above it could never be met
    (``ValueError``, as for *min_nr* above *max_nr*)."""
    min_nr = to_int("min_nr", min_nr, "long", 0)
    max_nr = to_int("max_nr", max_nr, "long", 0)
    if min_nr > max_nr:
        raise ValueError(f"min_nr must not exceed max_nr, got {min_nr} > {max_nr}")
    if min_nr > _MAX_NR:
        raise ValueError(f"min_nr must be at most {_MAX_NR}, got {min_nr}")
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
