"""anyio/trio variant of :mod:`butter.asyncio.pidfd`: the same classes,
under anyio (asyncio or trio backend) and plain trio (see :mod:`butter.anyio`)."""

from __future__ import annotations

from ..asyncio import pidfd as _asyncio_pidfd
from ._queue import AnyioQueue

__all__ = ["PidFd_async"]


class PidFd_async(AnyioQueue, _asyncio_pidfd.PidFd_async):
    """:class:`butter.asyncio.pidfd.PidFd_async` for anyio and trio (same arguments
    and methods; see :mod:`butter.anyio` for the two exceptions that differ)."""
