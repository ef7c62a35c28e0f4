"""fanotify(7): filesystem-wide file access notification and permission checks.

What the kernel does: a fanotify *group* (the fd of :func:`fanotify_init`)
gets events for the objects it *marked* (:func:`fanotify_mark`): an inode,
a directory's children (``FAN_EVENT_ON_CHILD``), a whole mount
(``FAN_MARK_MOUNT``) or filesystem (``FAN_MARK_FILESYSTEM``).  In the
classic mode each event carries an open fd for the file: the group can read
it, and finds the path through ``/proc/self/fd``.  In *FID modes*
(``FAN_REPORT_FID``, ``FAN_REPORT_DIR_FID``, ``FAN_REPORT_NAME``,
``FAN_REPORT_DFID_NAME``, ``FAN_REPORT_TARGET_FID``) events carry file
handles and entry names instead, and directory events (create, delete,
move, attrib) become available.  Groups of ``FAN_CLASS_CONTENT`` can be
asked for *permission events* (``FAN_OPEN_PERM``, ``FAN_ACCESS_PERM``,
...): the process doing the open/read waits until the group answers
``FAN_ALLOW`` or ``FAN_DENY`` (then it gets ``EPERM``).  fanotify needs
``CAP_SYS_ADMIN`` (FID modes with inode marks work unprivileged since 5.13).

What butter adds: :func:`str_to_events` parses reads into
:class:`FanotifyEvent` objects that *own* their fds (closed by ``close()`` or
a ``with`` block; garbage collection closes a forgotten one with a
``ResourceWarning``, as for files), with the info
records parsed (:class:`FidInfo`, :class:`PidfdInfo`, ...);
:class:`Fanotify` owns the group fd, reads everything queued per
``read(2)`` (sized with ``FIONREAD``), and answers permission events with
:meth:`Fanotify.allow`/:meth:`Fanotify.deny`.  Every fd is close-on-exec,
the event fds too (``O_CLOEXEC`` is added to *event_flags*).

``python -m butter.fanotify [PATH]`` prints events as ``fatrace`` does.
"""

from __future__ import annotations

from .._public import publish
from . import _constants
from ._constants import *  # noqa: F403 - the FAN_* constants and mask_names
from ._core import (
    Fanotify,
    fanotify_init,
    fanotify_mark,
    fsid,
    name_to_handle_at,
    open_by_handle_at,
)
from ._records import (
    ErrorInfo,
    FanotifyEvent,
    FidInfo,
    MntInfo,
    PidfdInfo,
    RangeInfo,
    RawInfo,
    str_to_events,
)
from ._tree import FanotifyTree

TYPE_CHECKING = False
if TYPE_CHECKING:  # for type checkers: the path argument type, from its one home
    from .._args import PathArg as PathArg

__all__ = [
    "ErrorInfo",
    "Fanotify",
    "FanotifyEvent",
    "FanotifyTree",
    "FidInfo",
    "MntInfo",
    "PidfdInfo",
    "RangeInfo",
    "RawInfo",
    "fanotify_init",
    "fanotify_mark",
    "fsid",
    "name_to_handle_at",
    "open_by_handle_at",
    "str_to_events",
]
__all__ += _constants.__all__

publish(__name__, globals())
