"""anyio/trio variant of :mod:`butter.asyncio.inotify`: the same classes,
under anyio (asyncio or trio backend) and plain trio (see :mod:`butter.anyio`)."""

from __future__ import annotations

from ..asyncio import inotify as _asyncio_inotify
from ._queue import AnyioQueue

__all__ = ["InotifyTree_async", "Inotify_async"]


class Inotify_async(AnyioQueue, _asyncio_inotify.Inotify_async):
    """:class:`butter.asyncio.inotify.Inotify_async` for anyio and trio (same arguments
    and methods; see :mod:`butter.anyio` for the two exceptions that differ)."""


class InotifyTree_async(AnyioQueue, _asyncio_inotify.InotifyTree_async):
    """:class:`butter.asyncio.inotify.InotifyTree_async` for anyio and trio (same arguments
    and methods; see :mod:`butter.anyio` for the two exceptions that differ)."""
