"""inotify's constants, from the system headers, and their name table.

The bottom of :mod:`butter.inotify`: imports nothing of butter but the
compiled module, so every other part can import it.
"""

from __future__ import annotations

from .._lowlevel import lib

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Dict, List, Union

__all__ = [
    "IN_ACCESS",
    "IN_ALL_EVENTS",
    "IN_ATTRIB",
    "IN_CLOEXEC",
    "IN_CLOSE",
    "IN_CLOSE_NOWRITE",
    "IN_CLOSE_WRITE",
    "IN_CREATE",
    "IN_DELETE",
    "IN_DELETE_SELF",
    "IN_DONT_FOLLOW",
    "IN_EXCL_UNLINK",
    "IN_IGNORED",
    "IN_ISDIR",
    "IN_MASK_ADD",
    "IN_MASK_CREATE",
    "IN_MODIFY",
    "IN_MOVE",
    "IN_MOVED_FROM",
    "IN_MOVED_TO",
    "IN_MOVE_SELF",
    "IN_NONBLOCK",
    "IN_ONESHOT",
    "IN_ONLYDIR",
    "IN_OPEN",
    "IN_Q_OVERFLOW",
    "IN_UNMOUNT",
    "event_name",
    "mask_names",
]

IN_ACCESS: int = lib.IN_ACCESS  # file was read
IN_MODIFY: int = lib.IN_MODIFY  # file was written
IN_ATTRIB: int = lib.IN_ATTRIB  # metadata changed (permissions, times, links, xattrs)
IN_CLOSE_WRITE: int = lib.IN_CLOSE_WRITE  # file opened for writing was closed
IN_CLOSE_NOWRITE: int = lib.IN_CLOSE_NOWRITE  # file not opened for writing was closed
IN_CLOSE: int = lib.IN_CLOSE  # either close
IN_OPEN: int = lib.IN_OPEN  # file or directory was opened
IN_MOVED_FROM: int = lib.IN_MOVED_FROM  # an entry was renamed away from the directory
IN_MOVED_TO: int = lib.IN_MOVED_TO  # an entry was renamed into the directory
IN_MOVE: int = lib.IN_MOVE  # either half of a rename
IN_CREATE: int = lib.IN_CREATE  # an entry was created in the directory
IN_DELETE: int = lib.IN_DELETE  # an entry was deleted from the directory
IN_DELETE_SELF: int = lib.IN_DELETE_SELF  # the watched inode was deleted
IN_MOVE_SELF: int = lib.IN_MOVE_SELF  # the watched inode was moved
IN_UNMOUNT: int = lib.IN_UNMOUNT  # its filesystem was unmounted
IN_Q_OVERFLOW: int = lib.IN_Q_OVERFLOW  # the kernel queue overflowed: events were lost
IN_IGNORED: int = lib.IN_IGNORED  # the watch was removed
IN_ISDIR: int = lib.IN_ISDIR  # the subject of the event is a directory
IN_ONLYDIR: int = lib.IN_ONLYDIR  # watch: fail unless the path is a directory
IN_DONT_FOLLOW: int = lib.IN_DONT_FOLLOW  # watch: do not follow a final symlink
IN_EXCL_UNLINK: int = lib.IN_EXCL_UNLINK  # watch: no events for unlinked children
IN_MASK_CREATE: int = lib.IN_MASK_CREATE  # watch: fail with EEXIST if already watched
IN_MASK_ADD: int = lib.IN_MASK_ADD  # watch: add to the existing mask
IN_ONESHOT: int = lib.IN_ONESHOT  # watch: remove after the first event
IN_ALL_EVENTS: int = lib.IN_ALL_EVENTS  # every event above that a watch can ask for
IN_CLOEXEC: int = lib.IN_CLOEXEC  # init: close-on-exec (always set by butter)
IN_NONBLOCK: int = lib.IN_NONBLOCK  # init: non-blocking reads

_INIT_FLAGS = IN_CLOEXEC | IN_NONBLOCK
_WATCH_FLAGS = (
    IN_ALL_EVENTS | IN_ONLYDIR | IN_DONT_FOLLOW | IN_EXCL_UNLINK | IN_MASK_CREATE
    | IN_MASK_ADD | IN_ONESHOT
)  # fmt: skip

#: Event and watch flag names to values, and values to names
#: (``event_name["IN_CREATE"] == IN_CREATE``, ``event_name[IN_CREATE] == "IN_CREATE"``).
#: The init flags ``IN_CLOEXEC``/``IN_NONBLOCK`` are left out: their values
#: collide with event bits.
event_name: Dict[Union[str, int], Union[str, int]] = {}
for _name in __all__:
    if _name.startswith("IN_") and _name not in ("IN_CLOEXEC", "IN_NONBLOCK"):
        event_name[_name] = globals()[_name]
        event_name[globals()[_name]] = _name
del _name


# The single bits, in bit order, for mask_names (IN_CLOSE, IN_MOVE and
# IN_ALL_EVENTS are unions of them).
_BITS = sorted(
    (value, name)
    for name, value in event_name.items()
    if isinstance(name, str) and isinstance(value, int) and value & (value - 1) == 0
)


def mask_names(mask: int) -> List[str]:
    """The ``IN_*`` names of the bits set in *mask* (an event's or a
    watch's), in bit order; unknown bits come last, as one hex string.

    Unions are not named: ``mask_names(IN_CLOSE)`` is
    ``["IN_CLOSE_WRITE", "IN_CLOSE_NOWRITE"]``, and
    ``mask_names(IN_MOVED_TO | IN_ISDIR)`` is ``["IN_MOVED_TO", "IN_ISDIR"]``
    (inotifywait prints ``MOVED_TO,ISDIR``).  Plain ints in, plain strings
    out: events keep their ``int`` masks, so reading events costs nothing
    extra.
    """
    from .._args import check_int  # lazily: this module imports only lib

    mask = check_int("mask", mask)
    if mask < 0:
        raise ValueError(f"mask must be >= 0, not {mask}")
    names = []
    for value, name in _BITS:
        if mask & value:
            names.append(name)
            mask &= ~value
    if mask:
        names.append(hex(mask))
    return names
