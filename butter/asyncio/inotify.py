"""asyncio variants of :mod:`butter.inotify`.

:class:`Inotify_async` is an :class:`~butter.inotify.Inotify` whose events
arrive through ``await get()`` (alias ``get_event()``); :class:`InotifyTree_async`
does the same for the recursive watcher.  Both read the fd only while their
queue has room (``maxsize``): a slow consumer leaves events in the kernel
queue, where the kernel reports its own overflow (``IN_Q_OVERFLOW``, delivered
like any event) rather than butter dropping anything.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Dict, Optional

from ..inotify import IN_ALL_EVENTS, Inotify, InotifyEvent, InotifyTree, PathEvent
from ._queue import GetEventAliases, TreeQueue

if TYPE_CHECKING:
    from .._args import PathArg
    from ..inotify._tree import ExcludeArg

__all__ = ["InotifyTree_async", "Inotify_async"]


class Inotify_async(GetEventAliases[InotifyEvent]):
    """An inotify fd as a read-only asyncio queue of :class:`~butter.inotify.InotifyEvent`.

    Same arguments as :class:`~butter.inotify.Inotify`, plus *maxsize*.
    """

    source: Inotify  # the type of AsyncEventQueue.source here

    def __init__(self, flags: int = 0, maxsize: int = 0) -> None:
        super().__init__(Inotify(flags), maxsize)

    def watch(self, path: PathArg, events: int = IN_ALL_EVENTS) -> int:
        """Watch *path* for *events*; return the wd."""
        return self._checked().source.watch(path, events)

    def ignore(self, wd: int) -> None:
        """Remove watch *wd* (an ``IN_IGNORED`` event follows)."""
        self._checked().source.ignore(wd)

    del_watch = ignore

    @property
    def watches(self) -> Dict[int, str]:
        """A copy of the live wd -> path map."""
        return self.source.watches

    def event_path(self, event: InotifyEvent) -> Optional[str]:
        """The full path of *event* (see :meth:`~butter.inotify.Inotify.event_path`)."""
        return self._checked().source.event_path(event)


class InotifyTree_async(TreeQueue[PathEvent]):
    """:class:`~butter.inotify.InotifyTree` as an asyncio queue of
    :class:`~butter.inotify.PathEvent` (renames paired, overflow reported
    after the tree was rescanned).

    Same arguments as :class:`~butter.inotify.InotifyTree`, plus *maxsize*.
    """

    source: InotifyTree  # the type of AsyncEventQueue.source here
    #: Which kernel interface watches.
    backend = "inotify"

    def __init__(
        self,
        path: Optional[PathArg] = None,
        events: int = IN_ALL_EVENTS,
        recursive: bool = True,
        maxsize: int = 0,
        *,
        exclude: Optional[ExcludeArg] = None,
        progress: Optional[Callable[[int], object]] = None,
    ) -> None:
        super().__init__(
            InotifyTree(path, events, recursive, exclude=exclude, progress=progress), maxsize
        )


# -- compatibility with Butter 0.9/0.13.1 -------------------------------------
from .. import _compat  # noqa: E402

#: The original's ``loop=`` (ignored).
_compat.patch_init(Inotify_async, loop=True)
_compat.patch_init(InotifyTree_async, loop=True)
