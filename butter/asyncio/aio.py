"""asyncio variant of :mod:`butter.aio`.

:class:`Context_async` owns a :class:`~butter.aio.Context`; its request
methods are coroutines that submit the request and return its result::

    async with Context_async() as ctx:
        await ctx.pwrite(fd, b"hello", 0)
        data = await ctx.pread(fd, 5, 0)

Completions are collected when the context's eventfd becomes readable
(``loop.add_reader``), and each resolves the await of its own request.
Cancelling an await asks the kernel to cancel the request (``io_cancel``;
file reads and writes cannot be cancelled and run to completion); either
way its buffers stay held until the kernel reports it complete.

As a queue, ``await get()`` returns the completed :class:`~butter.aio.Request`
objects of requests submitted through :attr:`Context_async.context` (the
sync API); awaited requests never appear there, and neither do requests
whose ``result``/``exception`` was read before ``get()`` returned them (a
completion is delivered once, see :class:`~butter.aio.Request`).

It drives the context only through its documented adapter interface
(:meth:`~butter.aio.Context.prepare`,
:meth:`~butter.aio.Context.submit_awaited`, :meth:`~butter.aio.Context.lend`,
:meth:`~butter.aio.Context.report`): the queue holds lent requests, and a
lent request whose result is read leaves the queue through the
*on_consumed* hook.
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING, Any, Callable, Sequence

from ..aio import Context, Request
from ._queue import AsyncEventQueue

if TYPE_CHECKING:
    from typing_extensions import Buffer

    from .._args import FdArg
    from .._queue_core import Waiter

__all__ = ["Context_async"]


class Context_async(AsyncEventQueue[Request]):
    """An AIO context whose requests are awaited (see the module docs)."""

    def __init__(self, maxevents: int = 128, maxsize: int = 0) -> None:
        self._awaiting = 0
        self._awaiters: list[Waiter] = []  # tasks awaiting a request
        self._context = Context(maxevents)
        super().__init__(self._context, maxsize)
        self._on_consumed = _drop_consumed(weakref.ref(self))

    @property
    def context(self) -> Context:
        """The underlying :class:`~butter.aio.Context` (fire-and-forget
        requests made through it come back from ``get()``)."""
        return self._context

    @property
    def pending(self) -> int:
        """Requests the kernel has not reported complete yet."""
        return self._context.pending

    # -- the reader: Context.lend() fills the queue, Context.report() empties it ---
    def _has_room(self) -> bool:
        # Awaited completions must always be collected, full queue or not.
        return self._awaiting > 0 or super()._has_room()

    def _on_readable(self) -> None:
        if self._closed or self._error is not None:
            return
        # Collects even when the queue is full (room 0): awaited completions
        # must never wait behind queued ones; the rest stay in the context.
        self._lend(True)
        self._sync_reader()

    def _pull(self) -> None:
        """Called with the queue empty: what the context holds, else what
        the kernel has ready (the generic queue's rule, with lending)."""
        if self._closed or self._error is not None:
            return
        if not self._lend(False):
            self._lend(True)

    def _lend(self, collect: bool) -> int:
        """Borrow completed requests from the context, up to ``maxsize``
        queued; wake one getter per request added."""
        items = self._items
        maxsize = self._maxsize
        room = None if maxsize <= 0 else max(maxsize - len(items), 0)
        try:
            got = self._context.lend(room, self._on_consumed, collect=collect)
        except OSError as exc:
            self._fail(exc)
            return 0
        items.extend(got)
        self._wake_getters(len(got))
        return len(got)

    def _take(self) -> Request:
        items = self._items
        req = items.popleft()
        self._context.report(req)  # the user has it: reading it consumes nothing more
        # While the reader is registered the context holds nothing more that
        # fits, so there is nothing to refill: the hot path.
        if not self._reading:
            if self._has_room():
                items.extend(self._context.lend(1, self._on_consumed, collect=False))
            self._sync_reader()
        # (Q1, R1) as in EventQueue._take.
        if self._getters or self._pulls:
            self._pass_on()
        return req

    async def _run(self, req: Request) -> Any:
        self._check_usable()
        driver = self._running_driver()
        # The waiter the request's completion wakes (a new one each round).
        current: list[Waiter] = []

        def resolved(_req: Request) -> None:
            if current and not current[0].done():
                try:
                    current[0].set_result(None)
                except RuntimeError:  # pragma: no cover - the loop is closed
                    pass

        # While _awaiting > 0, _has_room() is true whatever the queue holds:
        # the reader can change only when it goes 0 -> 1 or 1 -> 0 (closing
        # and failing re-check it themselves).
        self._awaiting += 1
        awaiters = self._awaiters
        try:
            self._context.submit_awaited(req, resolved)
            if self._awaiting == 1:
                self._sync_reader()
            # Until the request is done: woken by its completion, or
            # (pulling) after reading the fd as the queue's reader.
            while not req.done():
                waiter = driver.waiter()
                current[:] = [waiter]
                awaiters.append(waiter)
                try:
                    await driver.wait(self, waiter)
                except BaseException:
                    driver.abandon(waiter)
                    if not req.done() and not self._closed:
                        try:
                            self._context.cancel(req)  # best effort
                        except (OSError, ValueError):
                            pass
                    raise
                finally:
                    awaiters.remove(waiter)
        finally:
            self._awaiting -= 1
            if not self._awaiting:
                self._sync_reader()
            if self._pulls and self._reader is None:
                self._wake_reader()  # R1: this task may have been the reader
        return req.result

    def _wake_reader(self) -> None:
        # (R1) Getters and awaiting requests alike can read the fd.
        if not self._wake_next():
            for waiter in self._awaiters:
                if not waiter.done():
                    waiter.set_result(None)
                    return

    # -- requests (coroutines) -------------------------------------------------------
    async def pread(self, fd: FdArg, length: int, offset: int) -> bytes:
        """Read up to *length* bytes at *offset*; return them."""
        result: bytes = await self._run(self._context.prepare("pread", fd, length, offset))
        return result

    async def pwrite(self, fd: FdArg, data: Buffer, offset: int) -> int:
        """Write *data* at *offset*; return the count written."""
        result: int = await self._run(self._context.prepare("pwrite", fd, data, offset))
        return result

    async def preadv(self, fd: FdArg, buffers: Sequence[Buffer], offset: int) -> int:
        """Read into the writable *buffers* at *offset*; return the count."""
        result: int = await self._run(self._context.prepare("preadv", fd, buffers, offset))
        return result

    async def pwritev(self, fd: FdArg, buffers: Sequence[Buffer], offset: int) -> int:
        """Write *buffers* at *offset*; return the count."""
        result: int = await self._run(self._context.prepare("pwritev", fd, buffers, offset))
        return result

    async def fsync(self, fd: FdArg) -> int:
        """``fsync(fd)``; returns 0."""
        result: int = await self._run(self._context.prepare("fsync", fd))
        return result

    async def fdsync(self, fd: FdArg) -> int:
        """``fdatasync(fd)``; returns 0."""
        result: int = await self._run(self._context.prepare("fdsync", fd))
        return result

    async def poll(self, fd: FdArg, events: int) -> int:
        """Wait (in the kernel, ``IOCB_CMD_POLL``) for *events* on *fd*;
        return the revents mask.  Cancelling the await cancels the poll."""
        result: int = await self._run(self._context.prepare("poll", fd, events))
        return result


def _drop_consumed(ref: weakref.ReferenceType[Context_async]) -> Callable[[Request], None]:
    """The *on_consumed* hook given to :meth:`Context.lend`: a lent request
    whose result was read while it waited in the queue leaves the queue
    (it is never returned by ``get()``), and reading resumes if that made
    room.  A weak reference: requests must not keep a dropped queue alive."""

    def drop(req: Request) -> None:
        queue = ref()
        if queue is None:
            return
        try:
            queue._items.remove(req)
        except ValueError:
            return  # the queue was closed (and cleared) since
        queue._sync_reader()  # room again: resume reading

    return drop


# -- compatibility with Butter 0.9/0.13.1 -------------------------------------
from .. import _compat  # noqa: E402

#: The original's ``loop=`` (ignored).
_compat.patch_init(Context_async, loop=True)
