"""anyio/trio variant of :mod:`butter.asyncio.aio`: the same classes,
under anyio (asyncio or trio backend) and plain trio (see :mod:`butter.anyio`)."""

from __future__ import annotations

from ..asyncio import aio as _asyncio_aio
from ._queue import AnyioQueue

__all__ = ["Context_async"]


class Context_async(AnyioQueue, _asyncio_aio.Context_async):
    """:class:`butter.asyncio.aio.Context_async` for anyio and trio (same arguments
    and methods; see :mod:`butter.anyio` for the two exceptions that differ)."""
