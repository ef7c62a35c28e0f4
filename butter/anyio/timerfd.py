"""anyio/trio variant of :mod:`butter.asyncio.timerfd`: the same classes,
under anyio (asyncio or trio backend) and plain trio (see :mod:`butter.anyio`)."""

from __future__ import annotations

from ..asyncio import timerfd as _asyncio_timerfd
from ._queue import AnyioQueue

__all__ = ["Timer_async", "Timerfd_async"]


class Timerfd_async(AnyioQueue, _asyncio_timerfd.Timerfd_async):
    """:class:`butter.asyncio.timerfd.Timerfd_async` for anyio and trio (same arguments
    and methods; see :mod:`butter.anyio` for the two exceptions that differ)."""


#: The same class, as in :mod:`butter.asyncio.timerfd`.
Timer_async = Timerfd_async
