"""asyncio variant of :mod:`butter.seccomp`'s user notification.

:class:`NotifyFd_async` is a :class:`~butter.seccomp.NotifyFd` whose
:class:`~butter.seccomp.Notification` records arrive through ``await
get()``; ``Notification_async`` (the name the contract gives it) is the same
class.
"""

from __future__ import annotations

from typing import Any

from ..seccomp import Notification, NotificationResponse, NotifyFd
from ._queue import AsyncEventQueue

__all__ = ["Notification_async", "NotifyFd_async"]


class NotifyFd_async(AsyncEventQueue[Notification]):
    """Seccomp notifications through ``await get()``; answer with ``respond()``.

    *filter* is a :class:`~butter.seccomp.SyscallFilter` whose ``NOTIFY``
    filter was loaded in this process, or a notify fd (e.g. received from
    the filtered process over a unix socket), as for
    :class:`~butter.seccomp.NotifyFd`; the object owns a private duplicate
    of the fd.  Once no process uses the filter any more, pending and later
    ``get()`` calls raise ``ProcessLookupError``.
    """

    source: NotifyFd  # the type of AsyncEventQueue.source here

    def __init__(self, filter: Any, maxsize: int = 0) -> None:
        super().__init__(NotifyFd(filter), maxsize)

    def respond(self, response: NotificationResponse) -> None:
        """Answer a notification (the stopped call returns at once)."""
        self._checked().source.respond(response)

    def id_valid(self, id: int) -> bool:
        """True while notification *id* is still pending."""
        return self._checked().source.id_valid(id)


#: The name in the contract (SPEC ``butter.seccomp``), kept: the same class.
Notification_async = NotifyFd_async


# -- compatibility with Butter 0.9/0.13.1 -------------------------------------
from .. import _compat  # noqa: E402

#: The original's ``loop=`` (ignored).
_compat.patch_init(NotifyFd_async, loop=True)
