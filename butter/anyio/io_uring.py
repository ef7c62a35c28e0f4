"""anyio/trio variant of :mod:`butter.asyncio.io_uring`: the same class,
under anyio (asyncio or trio backend) and plain trio (see :mod:`butter.anyio`)."""

from __future__ import annotations

from ..asyncio import io_uring as _asyncio_io_uring
from ._queue import AnyioQueue

__all__ = ["Ring_async"]


class Ring_async(AnyioQueue, _asyncio_io_uring.Ring_async):
    """:class:`butter.asyncio.io_uring.Ring_async` for anyio and trio (same arguments
    and methods; see :mod:`butter.anyio` for the two exceptions that differ)."""
