"""anyio/trio variant of :mod:`butter.asyncio.fanotify`: the same classes,
under anyio (asyncio or trio backend) and plain trio (see :mod:`butter.anyio`)."""

from __future__ import annotations

from ..asyncio import fanotify as _asyncio_fanotify
from ._queue import AnyioQueue

__all__ = ["FanotifyTree_async", "Fanotify_async"]


class Fanotify_async(AnyioQueue, _asyncio_fanotify.Fanotify_async):
    """:class:`butter.asyncio.fanotify.Fanotify_async` for anyio and trio (same arguments
    and methods; see :mod:`butter.anyio` for the two exceptions that differ)."""


class FanotifyTree_async(AnyioQueue, _asyncio_fanotify.FanotifyTree_async):
    """:class:`butter.asyncio.fanotify.FanotifyTree_async` for anyio and trio (same arguments
    and methods; see :mod:`butter.anyio` for the two exceptions that differ)."""
