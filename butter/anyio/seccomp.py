"""anyio/trio variant of :mod:`butter.asyncio.seccomp`: the same classes,
under anyio (asyncio or trio backend) and plain trio (see :mod:`butter.anyio`)."""

from __future__ import annotations

from ..asyncio import seccomp as _asyncio_seccomp
from ._queue import AnyioQueue

__all__ = ["Notification_async", "NotifyFd_async"]


class NotifyFd_async(AnyioQueue, _asyncio_seccomp.NotifyFd_async):
    """:class:`butter.asyncio.seccomp.NotifyFd_async` for anyio and trio (same arguments
    and methods; see :mod:`butter.anyio` for the two exceptions that differ)."""


#: The same class, as in :mod:`butter.asyncio.seccomp`.
Notification_async = NotifyFd_async
