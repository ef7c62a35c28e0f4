"""anyio/trio variant of :mod:`butter.asyncio.signalfd`: the same classes,
under anyio (asyncio or trio backend) and plain trio (see :mod:`butter.anyio`)."""

from __future__ import annotations

from ..asyncio import signalfd as _asyncio_signalfd
from ._queue import AnyioQueue

__all__ = ["Signalfd_async"]


class Signalfd_async(AnyioQueue, _asyncio_signalfd.Signalfd_async):
    """:class:`butter.asyncio.signalfd.Signalfd_async` for anyio and trio (same arguments
    and methods; see :mod:`butter.anyio` for the two exceptions that differ)."""
