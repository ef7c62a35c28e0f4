"""The event-like :class:`Context`: an AIO context, its eventfd, and the
bookkeeping that hands each completion out once.

Exported, with the thin layer, :class:`Request` and :func:`aligned_buffer`,
by :mod:`butter.aio` (whose docs describe the behaviour).
"""

from __future__ import annotations

import os

from .._args import FdArg, to_int
from .._errors import raise_errno, retry_or_raise
from .._lowlevel import ffi, lib
from ._buffers import _address, _new
from ._constants import _EAGAIN, _ECANCELED, _EINPROGRESS, _EINTR, _EINVAL, _MAX_NR
from ._delivery import Completions, _call, _reported
from ._request import (
    _BUILDERS,
    Request,
    _Batch,
    _build_fdsync,
    _build_fsync,
    _build_poll,
    _build_pread,
    _build_preadv,
    _build_pwrite,
    _build_pwritev,
)
from ._thin import _collect, _nr, _submit, _timeout_ns, io_setup

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Dict, List, Optional, Sequence

    from typing_extensions import Buffer

    from ._thin import Timeout

__all__ = ["Context"]

_empty = lib.butter_aio_eventfd_empty  # one syscall, whatever O_NONBLOCK
_eventfd_write = lib.eventfd_write
#: How long Request.result waits in io_getevents before looking again whether
#: another thread collected its completion (see Context._wait_for).
_WAIT_SLICE_NS = 20_000_000


class Context(Completions):
    """An AIO context plus an eventfd signalled on every completion.

    *maxevents* (1 to 65536, butter's limit; more is ``ValueError``) is how
    many requests the kernel's ring holds.
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

    **Adapters** (:class:`butter.asyncio.aio.Context_async`; an anyio or
    trio one would do the same) drive a context through ``fileno()`` and
    four methods, whose docstrings are the contract: :meth:`prepare` builds
    an unsubmitted request; :meth:`submit_awaited` submits it with the
    completion hook that resolves the await; :meth:`lend`, called when
    ``fileno()`` is readable, collects completions and lends the others to
    the adapter's queue; :meth:`report` marks a lent request handed out.
    """

    _ctx = 0  # for close() after a failed __init__

    def __init__(self, maxevents: int = 128) -> None:
        maxevents = to_int("maxevents", maxevents, "unsigned int", 1)  # io_setup's
        if maxevents > _MAX_NR:  # butter's limit: one io_getevents buffer
            raise ValueError(f"maxevents must be at most {_MAX_NR}, got {maxevents}")
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
        self._maxevents = self._harvest_cap = maxevents
        self._pid = os.getpid()
        self._pending: Dict[int, Request] = {}
        self._deferred: Optional[List[Request]] = None
        self._depth = 0
        self._armed = False
        self._stale = 0  # cached requests whose result the user already took

    # -- fd ownership --------------------------------------------------------------
    @property
    def maxevents(self) -> int:
        """How many requests the kernel's ring holds (more may be submitted:
        see the class docs)."""
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

    def _repr_info(self) -> str:
        return f"maxevents={self._maxevents} pending={len(self._pending)}"

    # -- requests ------------------------------------------------------------------
    def batch(self) -> _Batch:
        """``with ctx.batch():`` defers submission to the end of the block
        (one ``io_submit`` for all).  Nests."""
        return _Batch(self)

    def _resfd(self) -> int:
        """The eventfd new requests signal (``ValueError`` once closed)."""
        if not self._ctx:
            raise self._closed_error()
        return self._fd

    def pread(self, fd: FdArg, length: int, offset: int) -> Request:
        """Read up to *length* bytes at *offset*; ``result`` is the ``bytes``
        read (shorter at end of file).  butter reads into its own 4096-byte
        aligned memory, so this works on ``O_DIRECT`` files (when *length*
        and *offset* are multiples of the block size)."""
        return self._submit_one(_build_pread(self._resfd(), fd, length, offset))

    def pwrite(self, fd: FdArg, data: Buffer, offset: int) -> Request:
        """Write the bytes-like *data* at *offset*; ``result`` is the count
        written.  4096-aligned buffers (:func:`aligned_buffer`) are pinned
        and used in place; any other data is first copied to aligned
        memory, so the caller may reuse it at once.  On an ``O_DIRECT``
        file the length and *offset* must still be multiples of the block
        size: otherwise the request completes with ``OSError(EINVAL)``."""
        return self._submit_one(_build_pwrite(self._resfd(), fd, data, offset))

    def preadv(self, fd: FdArg, buffers: Sequence[Buffer], offset: int) -> Request:
        """Read into the writable *buffers* (filled in order) at *offset*;
        ``result`` is the total count.  The buffers are used in place and
        held until completion (read-only buffers: ``TypeError``).  For
        ``O_DIRECT``, use :func:`aligned_buffer`."""
        return self._submit_one(_build_preadv(self._resfd(), fd, buffers, offset))

    def pwritev(self, fd: FdArg, buffers: Sequence[Buffer], offset: int) -> Request:
        """Write *buffers* in order at *offset*; ``result`` is the count.
        The buffers are used in place and held until completion."""
        return self._submit_one(_build_pwritev(self._resfd(), fd, buffers, offset))

    def fsync(self, fd: FdArg) -> Request:
        """``fsync(fd)`` as a request (``IOCB_CMD_FSYNC``); ``result`` is 0."""
        return self._submit_one(_build_fsync(self._resfd(), fd))

    def fdsync(self, fd: FdArg) -> Request:
        """``fdatasync(fd)`` as a request (``IOCB_CMD_FDSYNC``)."""
        return self._submit_one(_build_fdsync(self._resfd(), fd))

    def poll(self, fd: FdArg, events: int) -> Request:
        """One-shot ``poll`` (``IOCB_CMD_POLL``, Linux 4.18): completes when
        *fd* has one of *events* (``select.POLLIN``, ...); ``result`` is the
        revents mask.  The one request kind :meth:`cancel` can stop."""
        return self._submit_one(_build_poll(self._resfd(), fd, events))

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
            if exc.errno == _EINVAL and not self._ctx:
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

    # -- delivering each completion once ------------------------------------------

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
            while _empty(self._fd) < 0:
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
        # Waits in slices, not forever: another thread's get_events() may
        # collect *req* (the kernel hands each completion to one caller), and
        # then no completion would ever end an unbounded wait here.
        # Invariant: a waiter on a completed request returns within one slice.
        got = self._harvest_into(ctx, 1, None, _WAIT_SLICE_NS)
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
            if err in (_EINVAL, _EAGAIN):
                return False
            raise_errno(err)
        request._cancelled = True
        return True

    @property
    def pending(self) -> int:
        """How many requests the kernel has not reported complete yet."""
        return len(self._pending)

    # -- for adapters (butter.asyncio.aio and the like) ----------------------------
    def prepare(self, op: str, *args: Any) -> Request:
        """The :class:`Request` that ``getattr(ctx, op)(*args)``
        would submit -- arguments checked, memory pinned, copied or
        allocated the same way -- but not submitted: hand it to
        :meth:`submit_awaited`.  *op* names a request method: ``"pread"``,
        ``"pwrite"``, ``"preadv"``, ``"pwritev"``, ``"fsync"``, ``"fdsync"``
        or ``"poll"``.  Until it is submitted the request is not
        :meth:`~Request.done` and reading its result raises
        ``RuntimeError``; dropping it frees its memory."""
        build = _BUILDERS.get(op) if type(op) is str else None
        if build is None:
            if type(op) is not str:
                raise TypeError(f"op must be a str, not {type(op).__name__!r}")
            raise ValueError(f"unknown request {op!r} (one of {', '.join(_BUILDERS)})")
        if not self._ctx:
            raise self._closed_error()
        return build(self._fd, *args)

    def submit_awaited(self, request: Request, on_done: Callable[[Request], None]) -> None:
        """Submit *request* (from :meth:`prepare`) for an adapter that awaits
        it: its completion goes to ``on_done(request)`` and to no one else.

        The contract of *on_done*, the one completion hook:

        * **exactly once**, when the request is done (:meth:`Request.done`
          is true and its result is recorded): completed by the kernel,
          refused at submission (``EBADF``...), cancelled, or ended by
          :meth:`close` with ``OSError(ECANCELED)``;
        * **where**: inside whichever call of this context collects the
          completion, on that call's thread -- :meth:`lend`,
          :meth:`get_events`, :meth:`read_event`, :meth:`read_events`,
          :meth:`wait`, iteration, reading another request's result (which
          waits), a submission that finds the ring full, :meth:`cancel` of
          a request still in a :meth:`batch`, :meth:`close` -- or inside
          this call if the kernel refuses the request (or at the end of the
          enclosing :meth:`batch` block, which defers it).  An adapter that
          drives the context from one event loop thread (and lets nobody
          else collect) therefore always runs it on that thread;
        * it should only record the completion (``future.set_result``) and
          return: it runs in the middle of butter's bookkeeping, must not
          block and must not call back into the context.  An
          ``Exception`` it raises goes to :func:`sys.excepthook` and the
          bookkeeping goes on (``KeyboardInterrupt`` and the like
          propagate);
        * the request is **never reported**: not by ``get_events()``,
          ``read_event(s)()``, ``wait()``, iteration, :meth:`lend` or an
          adapter's queue.  Reading its :attr:`~Request.result` is always
          allowed: before completion it waits, collecting completions (so
          *on_done* runs first, from that call); it consumes nothing.

        ``TypeError`` if *request* is not a :class:`Request` or *on_done*
        not callable, ``ValueError`` if the context is closed or the request
        was already submitted or prepared by another context.
        """
        if type(request) is not Request and not isinstance(request, Request):
            raise TypeError(f"request must be a Request, not {type(request).__name__!r}")
        if not callable(on_done):
            raise TypeError("on_done must be callable")
        if not self._ctx:
            raise self._closed_error()
        if request._owner is not None or request._done:
            raise ValueError(f"{request!r} was already submitted")
        cb = request._cb
        # The iocb names the eventfd the kernel signals: it must be ours.
        if cb is None or cb.aio_resfd != self._fd:
            raise ValueError("the request was not prepared by this context (see prepare())")
        request._callback = on_done
        self._submit_one(request)


#: Memory of requests whose context could not be destroyed: the kernel may
#: still use it, so it is never freed (should never happen).
_leaked: List[Any] = []
