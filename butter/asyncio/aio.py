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

from typing import TYPE_CHECKING, Sequence

from ..aio import Context, Request
from ._requests import RequestQueue

if TYPE_CHECKING:
    from typing_extensions import Buffer

    from .._args import FdArg

__all__ = ["Context_async"]


class Context_async(RequestQueue):
    """An AIO context whose requests are awaited (see the module docs)."""

    def __init__(self, maxevents: int = 128, maxsize: int = 0) -> None:
        self._context = Context(maxevents)
        super().__init__(self._context, maxsize)

    @property
    def context(self) -> Context:
        """The underlying :class:`~butter.aio.Context` (fire-and-forget
        requests made through it come back from ``get()``)."""
        return self._context

    def _cancel(self, req: Request) -> None:
        self._context.cancel(req)

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


# -- compatibility with Butter 0.9/0.13.1 -------------------------------------
from .. import _compat  # noqa: E402

#: The original's ``loop=`` (ignored).
_compat.patch_init(Context_async, loop=True)
