"""Deprecated: the original Butter's ``butter.utils``, mapped onto butter.

Kept only so that code written for Butter 0.9/0.13.1 keeps importing;
every name here warns with a ``DeprecationWarning`` naming the new
spelling.  One difference remains: the original's ``wait(timeout)`` raised
``TimeoutError`` on timeout; butter's returns ``None`` (check for it).
"""

from __future__ import annotations

import array
import builtins
import fcntl
import termios

from . import _compat
from ._args import FdArg, fileno
from ._fd import EventLike

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Callable

__all__: list[str] = []  # nothing here is for new code

#: What the original's ``closefd=`` defaulted to on Python 3 (no
#: close-on-exec); butter's fds are always close-on-exec.
_CLOEXEC_DEFAULT = False


class _InternalError(Exception):
    """An internal bug or OS misconfiguration (Butter 0.13.1); butter raises
    ``OSError`` subclasses instead."""


class _UnknownError(Exception):
    """An unexpected errno (Butter 0.13.1); butter raises ``OSError``."""

    def __init__(self, errno: int) -> None:
        super().__init__(errno)
        self.errno = errno


def _get_buffered_length(fd: FdArg) -> int:
    """Bytes ready to read on *fd* (``ioctl(FIONREAD)``)."""
    _compat.deprecated("butter.utils.get_buffered_length()", "fcntl.ioctl(fd, termios.FIONREAD)")
    buf = array.array("i", [0])
    fcntl.ioctl(fileno(fd), termios.FIONREAD, buf)
    return buf[0]


_NAMES: dict[str, tuple[Callable[[], object], str]] = {
    "Eventlike": (lambda: EventLike, "butter's EventLike objects (no public base class)"),
    "get_buffered_length": (lambda: _get_buffered_length, "fcntl.ioctl(fd, termios.FIONREAD)"),
    "UnknownError": (lambda: _UnknownError, "OSError"),
    "InternalError": (lambda: _InternalError, "OSError"),
    "TimeoutError": (lambda: builtins.TimeoutError, "the builtin TimeoutError"),
    "CLOEXEC_DEFAULT": (lambda: _CLOEXEC_DEFAULT, "nothing: fds are always close-on-exec"),
}

if not TYPE_CHECKING:
    __getattr__ = _compat.module_getattr(
        __name__,
        {k: v[0] for k, v in _NAMES.items()},
        {k: v[1] for k, v in _NAMES.items()},
    )
