"""Compatibility with the original Butter (0.9 and 0.13.1) for butter.fanotify.

Every old spelling here keeps working and warns with a ``DeprecationWarning``
that names the new one:

* ``Fanotify.watch(flags, mask, path[, dfd])`` and ``ignore(...)`` in 0.9's
  argument order (butter, like 0.13.1, takes ``(path, mask, flags=0,
  dfd=AT_FDCWD)``): told apart by type, an ``int`` first and a path third
  is the old order (:func:`mark_args`);
* ``fanotify_mark(fd, flags, mask, path[, dfd])`` (0.9's order of the thin
  wrapper; butter: ``(fd, path, mask, flags=FAN_MARK_ADD, dfd=AT_FDCWD)``),
  told apart the same way;
* ``Fanotify.blocking`` (0.9's class attribute): ``os.get_blocking(f.fileno())``;
* ``FanotifyEvent.version``: every event has ``FANOTIFY_METADATA_VERSION``
  (:func:`~butter.fanotify.str_to_events` refuses any other);
* ``FanotifyEvent.on_dir_event`` (``FAN_ONDIR``): ``is_dir_event``;
* ``FanotifyEvent.queue_overflow_event`` (``FAN_Q_OVERFLOW``): ``overflow_event``;
* ``FanotifyEvent.on_child_event``: ``event.mask & FAN_EVENT_ON_CHILD``, as
  in 0.9 (that bit marks directories, the kernel never sets it in an event);
* the module ``butter.fanotify_constants`` (0.13.1): ``butter.fanotify``.

The classes take these through :class:`FanotifyCompat` and
:class:`FanotifyEventCompat`; this module imports only the constants.
"""

from __future__ import annotations

import os
import warnings

from ._constants import (
    FAN_EVENT_ON_CHILD,
    FAN_MARK_ADD,
    FAN_MARK_REMOVE,
    FAN_ONDIR,
    FAN_Q_OVERFLOW,
    FANOTIFY_METADATA_VERSION,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Optional, Tuple

    from .._args import FdArg, PathArg

__all__ = ["FanotifyCompat", "FanotifyEventCompat", "deprecated", "mark_args"]

_PATH_TYPES = (str, bytes, os.PathLike)


def deprecated(old: str, new: str, stacklevel: int = 2) -> None:
    """Warn that the original Butter's *old* spelling is deprecated for *new*
    (*stacklevel* counts from the caller of this function)."""
    warnings.warn(
        f"{old} is deprecated (original Butter): use {new}",
        DeprecationWarning,
        stacklevel=stacklevel + 1,
    )


def mark_args(
    method: str, path: object, mask: object, flags: object, dfd: FdArg, stacklevel: int = 2
) -> Tuple[Optional[PathArg], int, int, FdArg]:
    """``(path, mask, flags, dfd)`` of ``Fanotify.watch``/``ignore`` (or
    :func:`~butter.fanotify.fanotify_mark`, *method* ``"fanotify_mark"``) in
    butter's order.

    A ``str``/``bytes``/path-like/``None`` first argument is butter's order
    and passes through unchanged (bad types are left to the checks that
    follow).  An ``int`` first with a path third is 0.9's ``(flags, mask,
    path)``: it warns and is reordered; the ``FAN_MARK_ADD`` (watch) or
    ``FAN_MARK_REMOVE`` (ignore) that 0.9 ORed in itself is dropped from
    *flags* if the caller gave it too.
    """
    if (
        isinstance(path, int)
        and not isinstance(path, bool)
        and (isinstance(flags, _PATH_TYPES) or flags is None)
    ):
        fd = "fd, " if method == "fanotify_mark" else ""
        deprecated(
            f"{method}({fd}flags, mask, path)",
            f"{method}({fd}path, mask, flags)",
            stacklevel + 1,
        )
        if method.endswith(".watch"):
            path &= ~FAN_MARK_ADD
        elif method.endswith(".ignore"):
            path &= ~FAN_MARK_REMOVE
        return flags, mask, path, dfd  # type: ignore[return-value]
    return path, mask, flags, dfd  # type: ignore[return-value]


class FanotifyCompat:
    """The 0.9 attributes of :class:`~butter.fanotify.Fanotify` (deprecated)."""

    __slots__ = ()

    if TYPE_CHECKING:

        def fileno(self) -> int: ...

    @property
    def blocking(self) -> bool:
        """Deprecated (0.9): ``os.get_blocking(f.fileno())``."""
        deprecated("Fanotify.blocking", "os.get_blocking(f.fileno())")
        return os.get_blocking(self.fileno())


class FanotifyEventCompat:
    """The 0.9/0.13.1 attributes of :class:`~butter.fanotify.FanotifyEvent`
    (deprecated)."""

    __slots__ = ()
    mask: int

    @property
    def version(self) -> int:
        """Deprecated: ``butter.fanotify.FANOTIFY_METADATA_VERSION`` (every
        event has it)."""
        deprecated("FanotifyEvent.version", "butter.fanotify.FANOTIFY_METADATA_VERSION")
        return FANOTIFY_METADATA_VERSION

    @property
    def on_dir_event(self) -> bool:
        """Deprecated: ``is_dir_event``."""
        deprecated("FanotifyEvent.on_dir_event", "FanotifyEvent.is_dir_event")
        return self.mask & FAN_ONDIR != 0

    @property
    def on_child_event(self) -> bool:
        """Deprecated: ``event.mask & FAN_EVENT_ON_CHILD`` (a mark flag: the
        kernel does not set it in events)."""
        deprecated("FanotifyEvent.on_child_event", "event.mask & FAN_EVENT_ON_CHILD")
        return self.mask & FAN_EVENT_ON_CHILD != 0

    @property
    def queue_overflow_event(self) -> bool:
        """Deprecated: ``overflow_event``."""
        deprecated("FanotifyEvent.queue_overflow_event", "FanotifyEvent.overflow_event")
        return self.mask & FAN_Q_OVERFLOW != 0
