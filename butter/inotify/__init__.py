"""inotify(7): watch files and directories for changes.

Thin wrappers (:func:`inotify_init`, :func:`inotify_add_watch`,
:func:`inotify_rm_watch`) call the kernel directly; :func:`str_to_events`
parses what ``read(2)`` returns into :class:`InotifyEvent` named tuples;
:class:`Inotify` owns the fd; :func:`watch` is a generator for one path.

What the kernel does: each watch (a *wd*) reports the events in its mask
for one inode (a directory also reports events on its entries, with the
entry's name in ``filename``).  Events queue in the kernel until read; when
``fs.inotify.max_queued_events`` are queued the kernel drops further events
and queues one ``IN_Q_OVERFLOW`` (wd -1) instead.  Removing a watch, or the
watched inode going away, queues ``IN_IGNORED`` for its wd.

What butter adds: reads always drain everything the kernel has (the read
buffer grows to fit, sized with ``FIONREAD``); overflow is an ordinary event
(``overflow_event``) in every layer, never hidden; :class:`Inotify` keeps
the wd -> path map so :meth:`Inotify.event_path` gives an event's full path;
hitting a kernel limit raises ``OSError`` naming the sysctl to raise.
Recursive watching and renames as one event live in :class:`InotifyTree`.
"""

from __future__ import annotations

from .._public import publish
from . import _constants
from ._constants import *  # noqa: F403 - the IN_* constants and event_name
from ._core import (
    Inotify,
    InotifyEvent,
    PathEvent,
    inotify_add_watch,
    inotify_init,
    inotify_rm_watch,
    str_to_events,
    watch,
)
from ._tree import InotifyTree

TYPE_CHECKING = False
if TYPE_CHECKING:  # for type checkers: the path argument type, from its one home
    from .._args import PathArg as PathArg
    from ._tree import ExcludeArg as ExcludeArg

__all__ = [
    "Inotify", "InotifyEvent", "InotifyTree", "PathEvent", "inotify_add_watch",
    "inotify_init", "inotify_rm_watch", "str_to_events", "watch",
]  # fmt: skip
__all__ += _constants.__all__

publish(__name__, globals())
