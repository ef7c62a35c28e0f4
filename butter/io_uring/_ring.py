"""The event-like :class:`Ring`: an io_uring mapped by butter, an eventfd
the kernel signals on every completion, and the bookkeeping that hands
each completion out once (the same rules, and the same
:class:`~butter.aio.Request` objects, as :class:`butter.aio.Context`).

Exported by :mod:`butter.io_uring` (whose docs describe the behaviour).
"""

from __future__ import annotations

import itertools
import os
from typing import overload

from .._args import RANGES, FdArg, to_flags, to_int
from .._errors import raise_errno, retry_or_raise
from .._lowlevel import ffi, lib
from ..aio._buffers import _address, _buffer_list, _pin
from ..aio._delivery import Completions, _call, _reported
from ..aio._request import Request
from ..aio._thin import _nr, _timeout_ns
from ._constants import (
    _EAGAIN,
    _EBUSY,
    _ECANCELED,
    _EINTR,
    _EINVAL,
    _EOPNOTSUPP,
    _ETIME,
    _OP_NAMES,
    IORING_ASYNC_CANCEL_ALL,
    IORING_ASYNC_CANCEL_ANY,
    IORING_OP_ASYNC_CANCEL,
    IORING_OP_READ,
    IORING_REGISTER_BUFFERS,
    IORING_REGISTER_EVENTFD,
    IORING_REGISTER_FILES,
    IORING_SETUP_SUBMIT_ALL,
    IORING_UNREGISTER_BUFFERS,
    IORING_UNREGISTER_FILES,
    IOSQE_IO_LINK,
)
from ._request import (
    BUILDERS,
    Fixed,
    _read_buffer,
    _recycle,
    build_accept,
    build_cancel,
    build_close,
    build_fdsync,
    build_fixed,
    build_fsync,
    build_nop,
    build_openat,
    build_pread,
    build_preadv,
    build_pwrite,
    build_pwritev,
    build_recv,
    build_send,
    build_splice,
    build_timeout,
)
from ._thin import _probe_fd

TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import TracebackType
    from typing import Any, Callable, Dict, FrozenSet, List, Optional, Sequence

    from typing_extensions import Buffer

    from .._args import PathArg
    from ..aio._thin import Timeout

__all__ = ["Ring"]

_empty = lib.butter_aio_eventfd_empty  # one syscall, whatever O_NONBLOCK
_eventfd_write = lib.eventfd_write
_prep = lib.butter_uring_prep
_prep_buf = lib.butter_uring_prep_buf
_OP_READ = IORING_OP_READ
_FD_MAX = RANGES["int"][1]
_OFF_MAX = RANGES["off_t"][1]
_LEN_MAX = RANGES["unsigned int"][1]
#: The _cb of a request queued by a fast path (a tuple: from a ring).
_INLINE = ()
_enter = lib.butter_uring_submit
_reap = lib.butter_uring_reap
_ready = lib.butter_uring_ready
_unpack = ffi.unpack
_alloc = ffi.new_allocator(should_clear_after_alloc=False)
#: How long Request.result waits before looking again whether another
#: thread collected its completion (see Ring._wait_for).
_WAIT_SLICE_NS = 20_000_000
#: The longest one wait in io_uring_enter (then look whether close() ran).
_SLICE_NS = 200_000_000
#: io_uring_enter results that only mean "look again".
_RETRY = (-_ETIME, -_EINTR, -_EBUSY, -_EAGAIN)
#: How long close() waits for the kernel to finish cancelled requests.
_CLOSE_WAIT_NS = 30_000_000_000


class Ring(Completions):
    """An io_uring (mapped by butter: no liburing) plus an eventfd the
    kernel signals on every completion.

    *entries* (1 to 32768; the kernel rounds up to a power of two) is the
    size of the submission queue; the completion queue is twice as big,
    and more requests than that may be in flight (the kernel keeps the
    overflow, ``IORING_FEAT_NODROP``).  *flags* are ``IORING_SETUP_*``
    bits (not ``SQE128``/``CQE32``/``NO_MMAP``/``NO_SQARRAY``, whose
    layouts butter does not map: ``ValueError``).

    Request methods fill a submission queue entry and return a
    :class:`~butter.aio.Request`; nothing reaches the kernel until
    :meth:`submit`, or a call that waits (:meth:`get_events`,
    :meth:`wait`, :meth:`read_event`, iteration, reading a pending
    request's :attr:`~butter.aio.Request.result`), or until the
    submission queue is full: many requests go to the kernel in one
    system call.  Completions are handed out once each, as by
    :class:`butter.aio.Context`; ``fileno()`` (the eventfd) is readable
    while some are ready -- **call submit() before waiting on fileno()
    yourself**.

    Errors of a request (bad fd, a refused operation...) never raise from
    the request method: they complete the request with ``OSError`` in
    :attr:`~butter.aio.Request.exception`.  An operation this kernel does
    not support (see :meth:`supported_ops`) raises ``OSError(EOPNOTSUPP)``
    naming it at once.

    Threads may share a ring: filling entries, publishing them and
    reaping completions are serialised in C, and each completion is
    reported to one caller.  ``close()`` wakes threads waiting in
    ``get_events()``/``wait()``.
    """

    _r: Any = None  # for close() after a failed __init__

    def __init__(self, entries: int = 256, flags: int = 0) -> None:
        entries = to_int("entries", entries, "unsigned int", 1)
        flags = to_flags("flags", flags)
        efd = lib.eventfd(0, lib.EFD_CLOEXEC)
        while efd < 0:
            retry_or_raise()
            efd = lib.eventfd(0, lib.EFD_CLOEXEC)
        super().__init__(efd)
        try:
            raw = ffi.new("struct butter_uring *")
            err = lib.butter_uring_open(raw, entries, flags | IORING_SETUP_SUBMIT_ALL)
            if err in (-_EINVAL, -_EINTR) and not flags & IORING_SETUP_SUBMIT_ALL:
                err = lib.butter_uring_open(raw, entries, flags)  # before Linux 5.18
            if err < 0:
                if err == -_EINVAL:
                    raise ValueError(
                        f"io_uring_setup refused entries={entries} flags={flags:#x} (EINVAL)"
                    )
                raise_errno(-err)
            # The mapping lives as long as this object: a thread still
            # holding it (a waiter woken by close()) never touches unmapped
            # memory; close() releases it at once when no thread waits.
            r = ffi.gc(raw, lib.butter_uring_close, 1 << 16)
            self._r = r
            arg = ffi.new("int *", efd)
            if lib.butter_io_uring_register(r.fd, IORING_REGISTER_EVENTFD, arg, 1) < 0:
                raise_errno(ffi.errno)
            self._ops = _probe_fd(r.fd)
            self._fast = IORING_OP_READ in self._ops
        except BaseException:
            self.close()
            raise
        self._entries: int = r.sq_entries
        self._cq_entries: int = r.cq_entries
        self._harvest_cap = self._cq_entries
        self._pid = os.getpid()
        self._keys = itertools.count(1)  # next() is atomic: threads may share it
        self._pending: Dict[int, Request] = {}
        self._linking: Optional[List[Request]] = None
        self._depth = 0
        self._armed = False
        self._stale = 0
        self._buffers: Optional[List[Any]] = None
        #: Reaping arrays (uint64 keys, int32 results) ready for reuse.
        self._spare: List[Any] = []
        self._files: Optional[List[int]] = None

    # -- properties ------------------------------------------------------------------
    @property
    def entries(self) -> int:
        """The size of the submission queue (a power of two)."""
        return self._entries

    @property
    def cq_entries(self) -> int:
        """The size of the completion queue."""
        return self._cq_entries

    @property
    def ring_fd(self) -> int:
        """The io_uring's own fd (``fileno()`` is the eventfd)."""
        r = self._check_open()
        fd: int = r.fd
        return fd

    @property
    def features(self) -> int:
        """The ``IORING_FEAT_*`` bits the kernel reported."""
        features: int = self._check_open().features
        return features

    @property
    def pending(self) -> int:
        """How many requests the kernel has not reported complete yet
        (queued ones included)."""
        return len(self._pending)

    def supported_ops(self) -> FrozenSet[str]:
        """The ``IORING_OP_*`` names this kernel supports
        (``IORING_REGISTER_PROBE``, asked once per process)."""
        return frozenset(_OP_NAMES[op] for op in self._ops if op in _OP_NAMES)

    def _check_open(self) -> Any:
        r = self._r
        if r is None:
            raise self._closed_error()
        return r

    def _repr_info(self) -> str:
        return (
            f"entries={getattr(self, '_entries', 0)} pending={len(getattr(self, '_pending', ()))}"
        )

    # -- closing -------------------------------------------------------------------------
    @overload
    def close(self) -> None: ...
    @overload
    def close(self, fd: FdArg) -> Request: ...

    def close(self, fd: Optional[FdArg] = None) -> Optional[Request]:
        """``close()``: close the ring (below).  ``close(fd)``: the request
        method, ``close(2)`` of *fd* as a request (``IORING_OP_CLOSE``,
        see :meth:`close_fd`).

        Closing the ring: cancel what is in flight, wait for the kernel to finish with it,
        then unmap and close the ring and the eventfd.  Idempotent.

        Queued requests are submitted first, then everything in flight is
        cancelled (``IORING_OP_ASYNC_CANCEL``, all requests): reads and
        writes already running on a file finish, sockets and timeouts stop.
        butter waits for every completion (up to 30 s; then it keeps the
        requests' memory forever rather than free what the kernel may still
        write) before it lets the buffers go, so closing never frees memory
        under the kernel.  Requests whose completion was not collected end
        with ``OSError(ECANCELED)``."""
        if fd is not None:
            return self.close_fd(fd)
        r = self._r
        if r is not None:
            self._r = None
            linking = self._linking or []
            self._linking = None
            for req in linking:
                req._fail(_ECANCELED, " (ring closed before submission)")
                _call(req)
            pending = self._pending
            ok = True
            if pending and os.getpid() == self._pid:
                ok = self._drain_all(r)
            with self._state:
                busy = self._busy
            if not busy:
                ffi.release(r)  # unmap and close the ring now
            reqs = list(pending.values())
            pending.clear()
            if not ok and reqs:
                _leaked.extend((req._keep, req._ptr) for req in reqs)
            for req in reqs:
                req._fail(_ECANCELED, " (ring closed before completion was collected)")
                _call(req)
        for req in self._cache:
            req._home = None
        self._stale = 0
        self._buffers = None
        super().close()
        return None

    def _drain_all(self, r: Any) -> bool:
        """close(): cancel every request and collect every completion;
        False if the kernel did not finish in time."""
        import time

        pending = self._pending
        flags = IORING_ASYNC_CANCEL_ANY | IORING_ASYNC_CANCEL_ALL
        while _prep(r, 0, 0, IORING_OP_ASYNC_CANCEL, -1, 0, 0, 0, flags, 0, 0) < 0:
            ret = _enter(r, 0, -1)
            if ret < 0 and ret not in _RETRY:
                return False
        deadline = time.monotonic() + _CLOSE_WAIT_NS / 1e9
        data = _alloc("uint64_t[]", self._cq_entries)
        res = _alloc("int32_t[]", self._cq_entries)
        retried = False
        while pending:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            ret = _enter(r, 1, min(int(left * 1e9), 100_000_000))
            if ret < 0 and ret not in (-_EINTR, -_ETIME, -_EAGAIN, -_EBUSY):
                return False
            n = _reap(r, data, res, self._cq_entries)
            for key, result in zip(_unpack(data, n), _unpack(res, n)):
                if key == 0:
                    if result == -_EINVAL and not retried:
                        # Before Linux 5.19 (no CANCEL_ANY): one by one.
                        retried = True
                        for k in list(pending):
                            while _prep(r, 0, 0, IORING_OP_ASYNC_CANCEL, -1, k, 0, 0, 0, 0, 0) < 0:
                                _enter(r, 0, -1)
                    continue
                req = pending.pop(key, None)
                if req is not None:
                    req._finish(result)
                    _call(req)
        return True

    # -- requests --------------------------------------------------------------------
    def linked(self) -> _Linked:
        """``with ring.linked():`` chains the requests made inside the block
        (``IOSQE_IO_LINK``): each starts when the one before it completed
        successfully; after a failure (or a short read/write) the rest
        complete with ``OSError(ECANCELED)``.  The chain is queued when the
        block ends.  Nested blocks join the outer chain."""
        return _Linked(self)

    def _queue(self, req: Request) -> Request:
        """Fill an SQE for *req* (submitting first if the queue is full)."""
        r = self._r
        if r is None:
            raise self._closed_error()
        cb = req._cb
        if cb[1] not in self._ops:
            raise _unsupported(cb[1])
        linking = self._linking
        req._owner = self
        if linking is not None:
            linking.append(req)
            return req
        key = req._key = next(self._keys)
        self._pending[key] = req  # before the kernel sees it
        if _prep(r, key, *cb) < 0:
            self._prep_full(r, key, cb, 0)
        return req

    def _prep_full(self, r: Any, key: int, cb: Any, link: int) -> None:
        """The submission queue is full: submit it, then fill the SQE."""
        while True:
            self._submit(r, 0, -1)
            if _prep(r, key, cb[0] | link, *cb[1:]) == 0:
                return
            # SQPOLL: the kernel thread has not taken them yet.
            self._cache.extend(self._harvest_into(r, 1, None, 1_000_000))
            self._settle_eventfd()

    def _queue_chain(self, reqs: List[Request]) -> None:
        r = self._r
        if r is None or not reqs:
            return
        if len(reqs) > self._entries:
            for req in reqs:
                req._fail(_EINVAL, f" (a linked chain of {len(reqs)} > {self._entries} entries)")
                self._done_now(req)
            return
        if self._entries - lib.butter_uring_queued(r) < len(reqs):
            self._submit(r, 0, -1)  # room for the whole chain: no split
        pending = self._pending
        last = len(reqs) - 1
        for i, req in enumerate(reqs):
            key = req._key = next(self._keys)
            pending[key] = req
            cb = req._cb
            link = IOSQE_IO_LINK if i < last else 0
            if _prep(r, key, cb[0] | link, *cb[1:]) < 0:
                self._prep_full(r, key, cb, link)

    def _done_now(self, req: Request) -> None:
        """*req* completed without the kernel: report it like any other."""
        if not _call(req):
            req._home = self
            self._cache.append(req)
            self._settle_eventfd()

    def pread(self, fd: FdArg | Fixed, length: int, offset: int) -> Request:
        """Read up to *length* bytes at *offset* (``IORING_OP_READ``;
        ``None``: at the file position); ``result`` is the ``bytes`` read.
        butter reads into its own 4096-byte aligned memory, so this works
        on ``O_DIRECT`` files."""
        return self.queue_pread(fd, length, offset, None)

    def queue_pread(
        self,
        fd: FdArg | Fixed,
        length: int,
        offset: int,
        on_done: Optional[Callable[[Request], None]],
    ) -> Request:
        """(For adapters.) :meth:`pread`, with *on_done* as
        :meth:`submit_awaited` takes it (``None``: a plain :meth:`pread`):
        ``prepare("pread", ...)`` + ``submit_awaited()`` in one step, the
        hot path of ``await Ring_async.pread()``."""
        r = self._r
        if (
            type(fd) is not int
            or type(length) is not int
            or type(offset) is not int
            or not 0 <= fd <= _FD_MAX
            or not 0 < length <= _LEN_MAX
            or not 0 <= offset <= _OFF_MAX
            or r is None
            or self._linking is not None
            or not self._fast
        ):
            req = build_pread(fd, length, offset)
            if on_done is None:
                return self._queue(req)
            self.submit_awaited(req, on_done)
            return req
        # The hot path: the same request as build_pread + _queue, built inline.
        req = Request("pread", fd, offset)
        req._callback = on_done
        buf = req._keep = req._ptr = _read_buffer(length)
        key = req._key = next(self._keys)
        req._owner = self
        self._pending[key] = req
        if _prep_buf(r, key, 0, _OP_READ, fd, buf, length, offset, 0) < 0:
            req._cb = (0, _OP_READ, fd, _address(buf), length, offset, 0, 0, 0)
            self._prep_full(r, key, req._cb, 0)
        else:
            req._cb = _INLINE
        return req

    def pwrite(self, fd: FdArg | Fixed, data: Buffer, offset: int) -> Request:
        """Write *data* at *offset* (``IORING_OP_WRITE``); ``result`` is the
        count.  4096-aligned buffers are pinned and used in place (CPython);
        other data is copied first, so the caller may reuse it at once."""
        return self._queue(build_pwrite(fd, data, offset))

    def preadv(self, fd: FdArg | Fixed, buffers: Sequence[Buffer], offset: int) -> Request:
        """Read into the writable *buffers* at *offset* (``IORING_OP_READV``);
        ``result`` is the count.  The buffers are held until completion."""
        return self._queue(build_preadv(fd, buffers, offset))

    def pwritev(self, fd: FdArg | Fixed, buffers: Sequence[Buffer], offset: int) -> Request:
        """Write *buffers* at *offset* (``IORING_OP_WRITEV``); ``result`` is
        the count.  The buffers are held until completion."""
        return self._queue(build_pwritev(fd, buffers, offset))

    def fsync(self, fd: FdArg | Fixed) -> Request:
        """``fsync(fd)`` as a request (``IORING_OP_FSYNC``); ``result`` is 0."""
        return self._queue(build_fsync(fd))

    def fdsync(self, fd: FdArg | Fixed) -> Request:
        """``fdatasync(fd)`` as a request (``IORING_FSYNC_DATASYNC``)."""
        return self._queue(build_fdsync(fd))

    def openat(
        self, dirfd: Optional[FdArg], path: PathArg, flags: int, mode: int = 0o666
    ) -> Request:
        """``openat(dirfd, path, flags, mode)`` (``IORING_OP_OPENAT``;
        *dirfd* ``None``: the current directory).  ``O_CLOEXEC`` is always
        added, as ``os.open`` does.  ``result`` is the new fd (yours to
        close)."""
        return self._queue(build_openat(dirfd, path, flags, mode))

    def close_fd(self, fd: FdArg) -> Request:
        """``close(fd)`` as a request (``IORING_OP_CLOSE``); the same as
        calling the request method ``close`` with an argument."""
        return self._queue(build_close(fd))

    def recv(self, sock: FdArg | Fixed, length: int, flags: int = 0) -> Request:
        """``recv(sock, length, flags)`` (``IORING_OP_RECV``); ``result`` is
        the ``bytes`` received (``b""``: the peer shut down)."""
        return self._queue(build_recv(sock, length, flags))

    def send(self, sock: FdArg | Fixed, data: Buffer, flags: int = 0) -> Request:
        """``send(sock, data, flags)`` (``IORING_OP_SEND``); ``result`` is
        the count sent."""
        return self._queue(build_send(sock, data, flags))

    def accept(self, sock: FdArg | Fixed, flags: int = 0o2000000) -> Request:
        """``accept4(sock, NULL, NULL, flags)`` (``IORING_OP_ACCEPT``;
        *flags* default ``SOCK_CLOEXEC``); ``result`` is the new
        connection's fd (yours to close, e.g. with
        ``socket.socket(fileno=fd)``)."""
        return self._queue(build_accept(sock, flags))

    def splice(
        self,
        fd_in: FdArg | Fixed,
        fd_out: FdArg | Fixed,
        in_offset: Optional[int] = None,
        out_offset: Optional[int] = None,
        len: int = 65536,
        flags: int = 0,
    ) -> Request:
        """``splice(2)`` as a request (``IORING_OP_SPLICE``), with
        :func:`butter.splice.splice`'s arguments: move up to *len* bytes
        from *fd_in* to *fd_out* (one of them a pipe); ``None`` offsets use
        the file position.  ``result`` is the count."""
        return self._queue(build_splice(fd_in, fd_out, in_offset, out_offset, len, flags))

    def timeout(self, seconds: float) -> Request:
        """A request that completes after *seconds* (``IORING_OP_TIMEOUT``,
        ``CLOCK_MONOTONIC``) with ``result`` 0; cancelled:
        ``OSError(ECANCELED)``."""
        return self._queue(build_timeout(seconds))

    def nop(self) -> Request:
        """A request that does nothing (``IORING_OP_NOP``); ``result`` 0."""
        return self._queue(build_nop())

    def cancel(self, request: Request) -> Request:
        """Ask the kernel to cancel *request* (``IORING_OP_ASYNC_CANCEL``);
        returns the cancel request: ``result`` 0 if it was found and
        stopped (it then completes with ``OSError(ECANCELED)``),
        ``OSError(ENOENT)`` if it was not found (done already),
        ``OSError(EALREADY)`` if it is running and cannot be stopped.  A
        request still waiting for its :meth:`linked` block is dropped at
        once (``ECANCELED``) and the cancel request completes with 0.
        Buffers stay held until the request completes either way."""
        if not isinstance(request, Request):
            raise TypeError(f"request must be a Request, not {type(request).__name__!r}")
        self._check_open()
        if request._owner is not self and not request._done:
            raise ValueError("the request belongs to another ring or context")
        linking = self._linking
        if linking is not None and request in linking:
            linking.remove(request)
            request._fail(_ECANCELED)
            self._done_now(request)
            req = build_cancel(request)
            req._owner = self
            req._finish(0)
            self._done_now(req)
            return req
        return self._queue(build_cancel(request))

    # -- registered buffers and files ----------------------------------------------------
    def register_buffers(self, buffers: Sequence[Buffer]) -> None:
        """Register writable *buffers* with the kernel
        (``IORING_REGISTER_BUFFERS``): it maps them once, and
        :meth:`read_fixed`/:meth:`write_fixed` then skip the per-request
        page pinning.  The ring holds (and, on CPython, pins against
        resizing) the buffers until :meth:`unregister_buffers` or
        :meth:`close`; use :func:`butter.aio.aligned_buffer` (needed for
        ``O_DIRECT``, and memory that never moves on PyPy)."""
        r = self._check_open()
        pinned = [_pin(b, True) for b in _buffer_list(buffers)]
        if not pinned:
            raise ValueError("buffers must not be empty")
        iov = ffi.new("butter_aio_iovec[]", len(pinned))
        for i, c in enumerate(pinned):
            iov[i].iov_base = c
            iov[i].iov_len = len(c)
        while lib.butter_io_uring_register(r.fd, IORING_REGISTER_BUFFERS, iov, len(pinned)) < 0:
            retry_or_raise()
        self._buffers = pinned

    def unregister_buffers(self) -> None:
        """Drop the registered buffers (``IORING_UNREGISTER_BUFFERS``;
        requests in flight keep theirs alive)."""
        r = self._check_open()
        if self._buffers is None:
            raise ValueError("no buffers are registered")
        while lib.butter_io_uring_register(r.fd, IORING_UNREGISTER_BUFFERS, ffi.NULL, 0) < 0:
            retry_or_raise()
        self._buffers = None

    def _fixed(
        self, op: str, fd: FdArg | Fixed, index: int, offset: int, length: Optional[int]
    ) -> Request:
        buffers = self._buffers
        if buffers is None:
            raise ValueError("no buffers are registered (see register_buffers)")
        index = to_int("index", index, "int", 0)
        if index >= len(buffers):
            raise ValueError(f"index {index} out of range ({len(buffers)} registered buffers)")
        buf = buffers[index]
        size = len(buf)
        n = size if length is None else to_int("length", length, "unsigned int", 0)
        if n > size:
            raise ValueError(f"length {n} is larger than registered buffer {index} ({size})")
        return self._queue(build_fixed(op, fd, buf, index, offset, n))

    def read_fixed(
        self, fd: FdArg | Fixed, index: int, offset: int, length: Optional[int] = None
    ) -> Request:
        """Read up to *length* bytes (default: the buffer's size) at
        *offset* into registered buffer *index* (``IORING_OP_READ_FIXED``);
        ``result`` is the count.  The data is in the buffer you registered."""
        return self._fixed("read_fixed", fd, index, offset, length)

    def write_fixed(
        self, fd: FdArg | Fixed, index: int, offset: int, length: Optional[int] = None
    ) -> Request:
        """Write the first *length* bytes (default: all) of registered
        buffer *index* at *offset* (``IORING_OP_WRITE_FIXED``); ``result``
        is the count."""
        return self._fixed("write_fixed", fd, index, offset, length)

    def register_files(self, fds: Sequence[FdArg]) -> None:
        """Register *fds* (``IORING_REGISTER_FILES``): pass
        ``Fixed(i)`` instead of ``fds[i]`` to a request method and the
        kernel skips the fd table lookup.  The kernel holds its own
        references: closing your fds does not close the registered files
        until :meth:`unregister_files` or :meth:`close`."""
        from .._args import fileno

        r = self._check_open()
        try:
            items = list(fds)
        except TypeError:
            raise TypeError("fds must be a sequence of file descriptors") from None
        if not items:
            raise ValueError("fds must not be empty")
        nums = [fileno(fd) for fd in items]
        array = ffi.new("int[]", nums)
        while lib.butter_io_uring_register(r.fd, IORING_REGISTER_FILES, array, len(nums)) < 0:
            retry_or_raise()
        self._files = nums

    def unregister_files(self) -> None:
        """Drop the registered files (``IORING_UNREGISTER_FILES``)."""
        r = self._check_open()
        if self._files is None:
            raise ValueError("no files are registered")
        while lib.butter_io_uring_register(r.fd, IORING_UNREGISTER_FILES, ffi.NULL, 0) < 0:
            retry_or_raise()
        self._files = None

    # -- submission and completion ---------------------------------------------------
    def submit(self) -> int:
        """Give the queued requests to the kernel (one ``io_uring_enter``);
        returns how many.  Requests in an open :meth:`linked` block wait
        for its end."""
        r = self._check_open()
        return self._submit(r, 0, -1)

    def _flush_queued(self) -> None:
        # Reading waits for completions: the queued requests must go first.
        self.submit()

    def _enter_busy(self) -> None:
        """FdOwner._enter(): a thread about to wait in the kernel."""
        super()._enter()

    def _submit(self, r: Any, min_complete: int, timeout_ns: int) -> int:
        """Submit the queued SQEs, waiting for *min_complete* completions
        (at most *timeout_ns*, ``-1``: no limit).  An interrupted or
        timed-out wait returns 0; a full completion queue (``EBUSY``) too:
        the caller reaps."""
        ret: int = _enter(r, min_complete, timeout_ns)
        if ret >= 0:
            return ret
        if ret in (-_ETIME, -_EINTR, -_EBUSY, -_EAGAIN):
            return 0
        raise_errno(-ret)

    def _harvest_into(
        self, r: Any, min_nr: int, max_nr: Optional[int], timeout_ns: int
    ) -> List[Request]:
        """Submit what is queued, wait until *min_nr* completions are in the
        completion queue (or *timeout_ns*), reap up to *max_nr*, finish the
        requests; return those nobody awaits."""
        cap = self._cq_entries
        want = cap if max_nr is None else min(max_nr, cap)
        if min_nr > want:
            min_nr = want
        if min_nr and _ready(r) >= min_nr:
            min_nr = 0  # already there: only submit
        if min_nr:
            # A wait: in slices (close() from another thread ends it), with
            # the object marked busy (close() leaves the mapping to us).
            if timeout_ns < 0 or timeout_ns > _SLICE_NS:
                timeout_ns = _SLICE_NS
            self._enter_busy()
            try:
                ret = _enter(r, min_nr, timeout_ns)
            finally:
                self._leave()
        else:
            ret = _enter(r, 0, -1)
        if ret < 0 and ret not in _RETRY:
            raise_errno(-ret)
        if not want or not _ready(r):
            return []
        spare = self._spare
        try:  # list.pop/append are atomic: each thread reaps into arrays of its own
            data, res = spare.pop()
        except IndexError:
            data = _alloc("uint64_t[]", self._cq_entries)
            res = _alloc("int32_t[]", self._cq_entries)
        n = _reap(r, data, res, want)
        keys = _unpack(data, n)
        results = _unpack(res, n)
        spare.append((data, res))
        if not n:
            return []
        pending = self._pending
        out = []
        for key, result in zip(keys, results):
            req = pending.pop(key, None)
            if req is None:
                continue  # close()'s cancel, or thin-layer use of the ring
            buf = req._ptr  # pread/recv: butter's buffer, free again once copied out
            req._finish(result)
            if buf is not None:
                _recycle(buf)
            if req._callback is None:
                req._home = self
                out.append(req)
            else:
                _call(req)
        return out

    # -- delivering each completion once (as butter.aio.Context) ---------------------

    def get_events(
        self, min_nr: int = 1, max_nr: Optional[int] = None, timeout: Timeout = None
    ) -> List[Request]:
        """Submit the queued requests, wait until at least *min_nr* completed
        (or *timeout* seconds passed; ``None``: no limit) and return up to
        *max_nr* (default: the completion queue's size) completed requests,
        in completion order, each once (requests whose result was read
        first are left out, as by :meth:`butter.aio.Context.get_events`)."""
        r = self._check_open()
        if max_nr is None:
            max_nr = self._cq_entries
        min_nr, max_nr = _nr(min_nr, max_nr)
        timeout_ns = _timeout_ns(timeout)
        out: List[Request] = []
        self._take_cached(max_nr, out)
        if len(out) < max_nr:
            if self._armed or self._cache:
                while _empty(self._fd) < 0:
                    retry_or_raise()
                self._armed = False
            out += _reported(self._harvest_ready(r, max_nr - len(out)))
            deadline = 0.0
            if timeout_ns > 0:
                import time

                deadline = time.monotonic() + timeout_ns / 1e9
            while len(out) < min_nr:
                if self._r is None:
                    raise self._closed_error()
                got = self._harvest_into(r, min_nr - len(out), max_nr - len(out), timeout_ns)
                out += _reported(got)
                if timeout_ns == 0:
                    break
                if timeout_ns > 0:
                    import time

                    timeout_ns = int((deadline - time.monotonic()) * 1e9)
                    if timeout_ns <= 0:
                        break
        self._settle_eventfd(more=len(out) >= max_nr)
        return out

    def _wait_for(self, req: Request) -> None:
        """Block until *req* completed (``Request.result``), in slices (another
        thread may collect it); others collected meanwhile are cached."""
        r = self._r
        if r is None or req._owner is not self:
            return
        if self._linking is not None and req in self._linking:
            raise RuntimeError("the request is queued until its linked() block ends")
        got = self._harvest_into(r, 1, None, _WAIT_SLICE_NS)
        if req._done:
            req._home = None
            got = [x for x in got if x is not req]
        self._cache.extend(got)
        self._settle_eventfd()

    # -- for adapters (butter.asyncio.io_uring) ----------------------------------------
    def prepare(self, op: str, *args: Any) -> Request:
        """The :class:`~butter.aio.Request` that ``getattr(ring, op)(*args)``
        would queue, not queued: hand it to :meth:`submit_awaited` (as
        :meth:`butter.aio.Context.prepare`)."""
        build = BUILDERS.get(op) if type(op) is str else None
        if build is None:
            if type(op) is not str:
                raise TypeError(f"op must be a str, not {type(op).__name__!r}")
            raise ValueError(f"unknown request {op!r} (one of {', '.join(BUILDERS)})")
        if self._r is None:
            raise self._closed_error()
        req = build(*args)
        if req._cb[1] not in self._ops:
            raise _unsupported(req._cb[1])
        return req

    def submit_awaited(self, request: Request, on_done: Callable[[Request], None]) -> None:
        """Queue *request* (from :meth:`prepare`) for an adapter that awaits
        it: its completion goes to ``on_done(request)`` and to no one else,
        with the contract of :meth:`butter.aio.Context.submit_awaited`.  The
        request is queued, not submitted: the adapter calls :meth:`submit`
        (once for many requests)."""
        if type(request) is not Request and not isinstance(request, Request):
            raise TypeError(f"request must be a Request, not {type(request).__name__!r}")
        if not callable(on_done):
            raise TypeError("on_done must be callable")
        if self._r is None:
            raise self._closed_error()
        if request._owner is not None or request._done:
            raise ValueError(f"{request!r} was already submitted")
        if type(request._cb) is not tuple:
            raise ValueError("the request was not prepared by a ring (see prepare())")
        request._callback = on_done
        self._queue(request)

    def submit_and_collect(self) -> int:
        """Submit the queued requests and collect the completions ready now,
        without waiting (for adapters: an awaited request the kernel
        finished inside the submit -- a read from the page cache -- is then
        done, its *on_done* has run, and the adapter need not wait for
        ``fileno()``).  Other completions are kept for :meth:`lend`,
        :meth:`get_events`...; ``fileno()`` stays readable for them.
        Returns how many requests were submitted."""
        r = self._r
        if r is None:
            raise self._closed_error()
        n = self._submit(r, 0, -1)
        got = self._harvest_into(r, 0, None, 0)
        if got:
            self._cache.extend(got)
            self._settle_eventfd()
        return n


def _unsupported(opcode: int) -> OSError:
    name = _OP_NAMES.get(opcode, f"opcode {opcode}")
    return OSError(_EOPNOTSUPP, f"{name} is not supported by this kernel ({os.uname().release})")


class _Linked:
    """``with ring.linked():`` (see :meth:`Ring.linked`)."""

    __slots__ = ("_ring",)

    def __init__(self, ring: Ring) -> None:
        self._ring = ring

    def __enter__(self) -> Ring:
        ring = self._ring
        ring._check_open()
        if ring._linking is None:
            ring._linking = []
            ring._depth = 0
        ring._depth += 1
        return ring

    def __exit__(
        self,
        exc_type: Optional[type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        ring = self._ring
        ring._depth -= 1
        if ring._depth == 0:
            reqs = ring._linking or []
            ring._linking = None
            ring._queue_chain(reqs)


#: Memory of requests the kernel did not finish by close(): never freed.
_leaked: List[Any] = []
