"""asyncio variant of :mod:`butter.io_uring`.

:class:`Ring_async` owns a :class:`~butter.io_uring.Ring`; its request
methods are coroutines that queue the request and return its result::

    async with Ring_async() as ring:
        await ring.pwrite(fd, b"hello", 0)
        data = await ring.pread(fd, 5, 0)

Requests awaited in the same event loop iteration go to the kernel
together: each await yields once (as ``asyncio.sleep(0)``) and the first
to resume submits them all with one
:meth:`~butter.io_uring.Ring.submit_and_collect`, so ``asyncio.gather`` of
many requests costs one ``io_uring_enter``, and a read the page cache can
serve is done when its coroutine resumes (no waiting, no trip through the
selector).  Other completions are collected when the ring's eventfd
becomes readable (``loop.add_reader``), and each resolves the await of its
own request.  Cancelling an await asks the kernel to cancel the request
(``IORING_OP_ASYNC_CANCEL``); either way its buffers stay held until the
kernel reports it complete.

As a queue, ``await get()`` returns the completed
:class:`~butter.aio.Request` objects of requests made through
:attr:`Ring_async.ring` (the sync API; what is queued there goes to the
kernel at its ``submit()``, or when ``get()`` finds the queue empty, before
it waits); awaited requests never appear there, and neither do requests
whose ``result``/``exception`` was read before ``get()`` returned them.
One task keeping many reads in flight this way (``ring.ring.pread()``,
then ``await ring.get()``) costs little more than the sync
:class:`~butter.io_uring.Ring`:
``get()`` returns a queued completion without a trip through the loop,
where each ``await ring.pread()`` costs an asyncio task step.

It is a :class:`~butter.asyncio._requests.RequestQueue`, as
:class:`butter.asyncio.aio.Context_async` is, over the same adapter
interface (:meth:`~butter.io_uring.Ring.prepare`,
:meth:`~butter.io_uring.Ring.submit_awaited`,
:meth:`~butter.io_uring.Ring.lend`, :meth:`~butter.io_uring.Ring.report`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional, Sequence

from ..aio import Request
from ..io_uring import Fixed, Ring
from ._requests import RequestQueue

if TYPE_CHECKING:
    from typing import Optional

    from typing_extensions import Buffer

    from .._args import FdArg, PathArg

__all__ = ["Ring_async"]


class Ring_async(RequestQueue):
    """An io_uring whose requests are awaited (see the module docs)."""

    _batches = True  # requests wait in the submission queue: see _flush()

    def __init__(self, entries: int = 256, flags: int = 0, maxsize: int = 0) -> None:
        self._context = Ring(entries, flags)
        super().__init__(self._context, maxsize)

    @property
    def ring(self) -> Ring:
        """The underlying :class:`~butter.io_uring.Ring` (fire-and-forget
        requests made through it come back from ``get()``; ``get()``
        submits them if ``submit()`` was not called)."""
        return self._context

    def _flush(self) -> None:
        """Submit what the awaits of this loop iteration queued, in one
        ``io_uring_enter``, and collect what is ready."""
        if self._closed or self._context.closed:
            return
        try:
            self._context.submit_and_collect()
        except OSError as exc:
            self._fail(exc)

    def _cancel(self, req: Request) -> None:
        # The cancel request is awaited by no one; submitted at once (the
        # request it names may be in flight already).
        ring = self._context
        ring.submit_awaited(ring.prepare("cancel", req), _ignore)
        ring.submit()

    # -- requests (coroutines) -------------------------------------------------------
    async def pread(self, fd: FdArg | Fixed, length: int, offset: int) -> bytes:
        """Read up to *length* bytes at *offset*; return them."""
        driver = self._start()
        req = self._context.queue_pread(fd, length, offset, self._on_done)
        result: bytes = await self._finish(req, driver)
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


def _ignore(_req: Request) -> None:
    """The on_done of internal requests (an await's cancel)."""
