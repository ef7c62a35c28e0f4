"""asyncio variants of :mod:`butter.fanotify`.

:class:`Fanotify_async` is a :class:`~butter.fanotify.Fanotify` whose events
arrive through ``await get()`` (alias ``get_event()``);
:class:`FanotifyTree_async` does the same for the recursive watcher.  It reads the fd only
while its queue has room (``maxsize``); a slow consumer leaves events in the
kernel queue (which reports its own ``FAN_Q_OVERFLOW``).  Permission events
must still be answered (:meth:`allow`/:meth:`deny`): the process that caused
one waits until then.
"""

from __future__ import annotations

from os import O_RDONLY as _O_RDONLY
from typing import TYPE_CHECKING, Callable, Optional, Union

from ..fanotify import AT_FDCWD, FAN_CLASS_NOTIF, Fanotify, FanotifyEvent, FanotifyTree
from ..fanotify._compat import mark_args
from ..inotify import IN_ALL_EVENTS, PathEvent
from ._queue import GetEventAliases, TreeQueue

if TYPE_CHECKING:
    from .._args import FdArg, PathArg
    from ..inotify._tree import ExcludeArg

__all__ = ["FanotifyTree_async", "Fanotify_async"]


class Fanotify_async(GetEventAliases[FanotifyEvent]):
    """A fanotify group as a read-only asyncio queue of :class:`~butter.fanotify.FanotifyEvent`.

    Same arguments as :class:`~butter.fanotify.Fanotify`, plus *maxsize*.
    Closing it (or garbage collection) closes the fds of the events read but
    not returned: the queue hands them back to the group, whose ``close()``
    closes its unread events.
    """

    source: Fanotify  # the type of AsyncEventQueue.source here

    def __init__(
        self, flags: int = FAN_CLASS_NOTIF, event_flags: int = _O_RDONLY, maxsize: int = 0
    ) -> None:
        super().__init__(Fanotify(flags, event_flags), maxsize)

    @property
    def flags(self) -> int:
        """The flags the group was created with."""
        return self.source.flags

    def watch(
        self, path: Optional[PathArg], mask: int, flags: int = 0, dfd: FdArg = AT_FDCWD
    ) -> None:
        """Add *mask* to the mark on *path* (see :meth:`~butter.fanotify.Fanotify.watch`)."""
        path, mask, flags, dfd = mark_args("Fanotify_async.watch", path, mask, flags, dfd)
        self._checked().source.watch(path, mask, flags, dfd)

    def ignore(
        self, path: Optional[PathArg], mask: int, flags: int = 0, dfd: FdArg = AT_FDCWD
    ) -> None:
        """Remove *mask* from the mark on *path* (see :meth:`~butter.fanotify.Fanotify.ignore`)."""
        path, mask, flags, dfd = mark_args("Fanotify_async.ignore", path, mask, flags, dfd)
        self._checked().source.ignore(path, mask, flags, dfd)

    del_watch = ignore

    def flush(self, flags: int = 0) -> None:
        """Remove every mark of a kind (see :meth:`~butter.fanotify.Fanotify.flush`)."""
        self._checked().source.flush(flags)

    def respond(self, event: Union[FanotifyEvent, int], response: int) -> None:
        """Answer a permission event (see :meth:`~butter.fanotify.Fanotify.respond`)."""
        self._checked().source.respond(event, response)

    def allow(self, event: Union[FanotifyEvent, int]) -> None:
        """Let the operation of permission *event* proceed."""
        self._checked().source.allow(event)

    def deny(self, event: Union[FanotifyEvent, int]) -> None:
        """Refuse the operation of permission *event* (``EPERM``)."""
        self._checked().source.deny(event)


class FanotifyTree_async(TreeQueue[PathEvent]):
    """:class:`~butter.fanotify.FanotifyTree` as an asyncio queue of
    :class:`~butter.inotify.PathEvent` (renames paired, overflow reported
    after the tree was rescanned).

    Same arguments as :class:`~butter.fanotify.FanotifyTree`, plus
    *maxsize*.  Events wait in the kernel queue while the asyncio queue is
    full: size it with ``unlimited_queue=True`` for bursts.
    """

    source: FanotifyTree  # the type of AsyncEventQueue.source here
    #: Which kernel interface watches.
    backend = "fanotify"

    def __init__(
        self,
        path: Optional[PathArg] = None,
        events: int = IN_ALL_EVENTS,
        maxsize: int = 0,
        *,
        mark: str = "filesystem",
        unlimited_queue: bool = False,
        exclude: Optional[ExcludeArg] = None,
        progress: Optional[Callable[[int], object]] = None,
    ) -> None:
        super().__init__(
            FanotifyTree(
                path,
                events,
                mark=mark,
                unlimited_queue=unlimited_queue,
                exclude=exclude,
                progress=progress,
            ),
            maxsize,
        )


# -- compatibility with Butter 0.9/0.13.1 -------------------------------------
from .. import _compat  # noqa: E402

#: The original's ``loop=`` (ignored).
_compat.patch_init(Fanotify_async, loop=True)
#: 0.9/0.13.1's ``watch(path, event_mask, ...)``/``ignore(...)`` keyword.
for _name in ("watch", "ignore"):
    setattr(
        Fanotify_async,
        _name,
        _compat.old_keywords(
            getattr(Fanotify_async, _name),
            {"event_mask": "mask"},
            where=f"Fanotify_async.{_name}(): ",
        ),
    )
del _name
