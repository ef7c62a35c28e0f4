"""asyncio variants of :mod:`butter.inotify`.

:class:`Inotify_async` is an :class:`~butter.inotify.Inotify` whose events
arrive through ``await get()`` (alias ``get_event()``); :class:`InotifyTree_async`
does the same for the recursive watcher.  Both read the fd only while their
queue has room (``maxsize``): a slow consumer leaves events in the kernel
queue, where the kernel reports its own overflow (``IN_Q_OVERFLOW``, delivered
like any event) rather than butter dropping anything.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Dict, Optional

from ..inotify import IN_ALL_EVENTS, Inotify, InotifyEvent, InotifyTree, PathEvent
from ._queue import AsyncEventQueue

if TYPE_CHECKING:
    from ..inotify._core import PathArg

__all__ = ["InotifyTree_async", "Inotify_async"]


class Inotify_async(AsyncEventQueue[InotifyEvent]):
    """An inotify fd as a read-only asyncio queue of :class:`InotifyEvent`."""

    def __init__(self, flags: int = 0, maxsize: int = 0) -> None:
        self._inotify = Inotify(flags)
        super().__init__(self._inotify, maxsize)

    def watch(self, path: PathArg, events: int = IN_ALL_EVENTS) -> int:
        """Watch *path* for *events*; return the wd."""
        return self._inotify.watch(path, events)

    def ignore(self, wd: int) -> None:
        """Remove watch *wd* (an ``IN_IGNORED`` event follows)."""
        self._inotify.ignore(wd)

    del_watch = ignore

    @property
    def watches(self) -> Dict[int, str]:
        """A copy of the live wd -> path map."""
        return self._inotify.watches

    def event_path(self, event: InotifyEvent) -> Optional[str]:
        """The full path of *event* (see :meth:`Inotify.event_path`)."""
        return self._inotify.event_path(event)

    get_event = AsyncEventQueue.get
    get_event_nowait = AsyncEventQueue.get_nowait


class InotifyTree_async(AsyncEventQueue[PathEvent]):
    """:class:`~butter.inotify.InotifyTree` as an asyncio queue of
    :class:`~butter.inotify.PathEvent` (renames paired, overflow reported
    after the tree was rescanned)."""

    def __init__(
        self,
        path: Optional[PathArg] = None,
        events: int = IN_ALL_EVENTS,
        recursive: bool = True,
        maxsize: int = 0,
    ) -> None:
        self._tree = InotifyTree(path, events, recursive)
        super().__init__(self._tree, maxsize)

    def watch(self, path: PathArg) -> None:
        """Add another root (see :meth:`InotifyTree.watch`)."""
        self._tree.watch(path)

    def paths(self) -> set[str]:
        """Every path the watcher believes exists under its roots."""
        return self._tree.paths()

    get_event = AsyncEventQueue.get
    get_event_nowait = AsyncEventQueue.get_nowait
