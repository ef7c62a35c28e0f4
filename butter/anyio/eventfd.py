"""anyio/trio variant of :mod:`butter.asyncio.eventfd`: the same classes,
under anyio (asyncio or trio backend) and plain trio (see :mod:`butter.anyio`)."""

from __future__ import annotations

from ..asyncio import eventfd as _asyncio_eventfd
from ._queue import AnyioQueue

__all__ = ["Eventfd_async"]


class Eventfd_async(AnyioQueue, _asyncio_eventfd.Eventfd_async):
    """:class:`butter.asyncio.eventfd.Eventfd_async` for anyio and trio (same arguments
    and methods; see :mod:`butter.anyio` for the two exceptions that differ)."""
