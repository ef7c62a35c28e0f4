"""asyncio variant of :mod:`butter.io_uring`.

:class:`Ring_async` owns a :class:`~butter.io_uring.Ring`; its request
methods are coroutines that queue the request and return its result::

    async with Ring_async() as ring:
        await ring.pwrite(fd, b"hello", 0)
        data = await ring.pread(fd, 5, 0)

Requests awaited in the same event loop iteration go to the kernel
together: the first one schedules one
:meth:`~butter.io_uring.Ring.submit_and_collect` (``loop.call_soon``) and
each await yields once (as ``asyncio.sleep(0)``), so ``asyncio.gather`` of
many requests costs one ``io_uring_enter``, and a read the page cache can
serve is done when its coroutine resumes (no future, no trip through the
selector).  Other completions are collected when the ring's eventfd
becomes readable (``loop.add_reader``), and each resolves the await of its
own request.  Cancelling an await asks the kernel to cancel the request
(``IORING_OP_ASYNC_CANCEL``); either way its buffers stay held until the
kernel reports it complete.

As a queue, ``await get()`` returns the completed
:class:`~butter.aio.Request` objects of requests made through
:attr:`Ring_async.ring` (the sync API: call its ``submit()``); awaited
requests never appear there, and neither do requests whose
``result``/``exception`` was read before ``get()`` returned them.

It is :class:`butter.asyncio.aio.Context_async`'s pattern, over the same
adapter interface (:meth:`~butter.io_uring.Ring.prepare`,
:meth:`~butter.io_uring.Ring.submit_awaited`,
:meth:`~butter.io_uring.Ring.lend`, :meth:`~butter.io_uring.Ring.report`).
"""

from __future__ import annotations

import asyncio
import types
import weakref
from typing import TYPE_CHECKING, Any, Callable, Generator, Optional, Sequence

from ..aio import Request
from ..io_uring import Fixed, Ring
from ._queue import AsyncEventQueue

if TYPE_CHECKING:
    from typing import Optional

    from typing_extensions import Buffer

    from .._args import FdArg, PathArg

__all__ = ["Ring_async"]


class Ring_async(AsyncEventQueue[Request]):
    """An io_uring whose requests are awaited (see the module docs)."""

    def __init__(self, entries: int = 256, flags: int = 0, maxsize: int = 0) -> None:
        self._awaiting = 0
        self._flushing = False
        self._context = Ring(entries, flags)
        super().__init__(self._context, maxsize)
        self._on_consumed = _drop_consumed(weakref.ref(self))

    @property
    def ring(self) -> Ring:
        """The underlying :class:`~butter.io_uring.Ring` (fire-and-forget
        requests made through it, then ``submit()``, come back from
        ``get()``)."""
        return self._context

    @property
    def pending(self) -> int:
        """Requests the kernel has not reported complete yet."""
        return self._context.pending

    # -- the reader: Ring.lend() fills the queue, Ring.report() empties it ---
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
        # (Q1) as in AsyncEventQueue._take: whoever takes an item passes the
        # wake-up on while items remain.
        if items and self._getters:
            self._wake_next()
        return req

    def _flush(self) -> None:
        """Submit what the awaits of this loop iteration queued, in one
        ``io_uring_enter``, and collect what is ready (``call_soon``)."""
        self._flushing = False
        if self._closed or self._context.closed:
            return
        try:
            self._context.submit_and_collect()
        except OSError as exc:
            self._fail(exc)

    async def _run(self, req: Request) -> Any:
        self._check_usable()
        ring = self._context
        waiter = _Waiter()
        ring.submit_awaited(req, waiter)
        try:
            # The awaits of one loop iteration go to the kernel together:
            # the first schedules the submit, each yields once (as
            # asyncio.sleep(0)) and finds its request done if the kernel
            # finished it inside the submit (a read from the page cache).
            if not self._flushing:
                self._flushing = True
                self._running_loop().call_soon(self._flush)
            await _yield()
            if req.done():
                return req.result
            # While _awaiting > 0, _has_room() is true whatever the queue
            # holds: the reader can change only when it goes 0 -> 1 or 1 -> 0
            # (closing and failing re-check it themselves).
            self._awaiting += 1
            try:
                future: asyncio.Future[None] = self._running_loop().create_future()
                waiter.future = future
                if req.done():  # pragma: no cover - collected meanwhile
                    return req.result
                if self._awaiting == 1:
                    self._sync_reader()
                await future
            finally:
                self._awaiting -= 1
                if not self._awaiting:
                    self._sync_reader()
        except BaseException:
            if not req.done() and not self._closed:
                try:  # best effort; the cancel request is awaited by no one
                    ring.submit_awaited(ring.prepare("cancel", req), _ignore)
                    ring.submit()
                except (OSError, ValueError):
                    pass
            raise
        return req.result

    # -- requests (coroutines) -------------------------------------------------------
    async def pread(self, fd: FdArg | Fixed, length: int, offset: int) -> bytes:
        """Read up to *length* bytes at *offset*; return them."""
        result: bytes = await self._run(self._context.prepare("pread", fd, length, offset))
        return result

    async def pwrite(self, fd: FdArg | Fixed, data: Buffer, offset: int) -> int:
        """Write *data* at *offset*; return the count written."""
        result: int = await self._run(self._context.prepare("pwrite", fd, data, offset))
        return result

    async def preadv(self, fd: FdArg | Fixed, buffers: Sequence[Buffer], offset: int) -> int:
        """Read into the writable *buffers* at *offset*; return the count."""
        result: int = await self._run(self._context.prepare("preadv", fd, buffers, offset))
        return result

    async def pwritev(self, fd: FdArg | Fixed, buffers: Sequence[Buffer], offset: int) -> int:
        """Write *buffers* at *offset*; return the count."""
        result: int = await self._run(self._context.prepare("pwritev", fd, buffers, offset))
        return result

    async def fsync(self, fd: FdArg | Fixed) -> int:
        """``fsync(fd)``; returns 0."""
        result: int = await self._run(self._context.prepare("fsync", fd))
        return result

    async def fdsync(self, fd: FdArg | Fixed) -> int:
        """``fdatasync(fd)``; returns 0."""
        result: int = await self._run(self._context.prepare("fdsync", fd))
        return result

    async def openat(
        self, dirfd: Optional[FdArg], path: PathArg, flags: int, mode: int = 0o666
    ) -> int:
        """``openat``; returns the new fd (``O_CLOEXEC``, yours to close)."""
        result: int = await self._run(self._context.prepare("openat", dirfd, path, flags, mode))
        return result

    async def close_fd(self, fd: FdArg) -> int:
        """``close(fd)`` in the kernel; returns 0.  (``close()`` with no
        argument closes the ring, as for every ``*_async`` object.)"""
        result: int = await self._run(self._context.prepare("close", fd))
        return result

    async def recv(self, sock: FdArg | Fixed, length: int, flags: int = 0) -> bytes:
        """``recv``; returns the bytes received (``b""`` at end of stream)."""
        result: bytes = await self._run(self._context.prepare("recv", sock, length, flags))
        return result

    async def send(self, sock: FdArg | Fixed, data: Buffer, flags: int = 0) -> int:
        """``send``; returns the count sent."""
        result: int = await self._run(self._context.prepare("send", sock, data, flags))
        return result

    async def accept(self, sock: FdArg | Fixed, flags: int = 0o2000000) -> int:
        """``accept4``; returns the new connection's fd (yours to close)."""
        result: int = await self._run(self._context.prepare("accept", sock, flags))
        return result

    async def splice(
        self,
        fd_in: FdArg | Fixed,
        fd_out: FdArg | Fixed,
        in_offset: Optional[int] = None,
        out_offset: Optional[int] = None,
        len: int = 65536,
        flags: int = 0,
    ) -> int:
        """``splice``; returns the count moved."""
        req = self._context.prepare("splice", fd_in, fd_out, in_offset, out_offset, len, flags)
        result: int = await self._run(req)
        return result

    async def timeout(self, seconds: float) -> int:
        """Sleep *seconds* in the kernel (``IORING_OP_TIMEOUT``); returns 0."""
        result: int = await self._run(self._context.prepare("timeout", seconds))
        return result

    async def nop(self) -> int:
        """A round trip through the ring; returns 0."""
        result: int = await self._run(self._context.prepare("nop"))
        return result


@types.coroutine
def _yield() -> Generator[None, None, None]:
    """Let the loop run once (a bare yield: the task is rescheduled)."""
    yield


class _Waiter:
    """The *on_done* of an awaited request: resolves its future, once one
    exists (a request done inside the submit never needs one)."""

    __slots__ = ("future",)

    def __init__(self) -> None:
        self.future: Optional[asyncio.Future[None]] = None

    def __call__(self, _req: Request) -> None:
        future = self.future
        if future is not None and not future.done():
            try:
                future.set_result(None)
            except RuntimeError:  # pragma: no cover - the loop is closed
                pass


def _ignore(_req: Request) -> None:
    """The on_done of internal requests (an await's cancel)."""


def _drop_consumed(ref: weakref.ReferenceType[Ring_async]) -> Callable[[Request], None]:
    """The *on_consumed* hook given to :meth:`Ring.lend`: a lent request
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
