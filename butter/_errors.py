"""One way to turn a failed syscall into an exception.

The compiled module saves ``errno`` right after each C call; ``ffi.errno``
reads it back.  We raise a *plain* ``OSError(errno, strerror, filename)``:
Python then picks the subclass by itself (``FileNotFoundError``,
``PermissionError``, ``BlockingIOError``, ...), exactly as the ``os`` module
does.  ``EINTR`` is never raised: callers loop and retry (PEP 475), and
Python runs any pending signal handler between two attempts, so a handler
that raises (``KeyboardInterrupt``) still interrupts the call.

Usage, for a call that returns a negative number on failure::

    while (fd := lib.eventfd(value, flags)) < 0:
        retry_or_raise()
"""

from __future__ import annotations

import os

from ._lowlevel import ffi, lib

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ~15 ms
if TYPE_CHECKING:
    from typing import NoReturn, Optional

    from ._args import PathArg

    _PathArg = Optional[PathArg]

__all__ = ["raise_errno", "retry_or_raise"]

_EINTR: int = lib.EINTR


def raise_errno(err: int, filename: _PathArg = None, filename2: _PathArg = None) -> NoReturn:
    """Raise ``OSError`` for error number *err*, naming the path(s) involved."""
    if filename2 is not None:
        raise OSError(err, os.strerror(err), filename, None, filename2)
    if filename is not None:
        raise OSError(err, os.strerror(err), filename)
    raise OSError(err, os.strerror(err))


def retry_or_raise(filename: _PathArg = None, filename2: _PathArg = None) -> None:
    """After a failed call: return if it was interrupted (retry), else raise.

    Must be called straight after the failing C call, before any other call
    into the compiled module can overwrite the saved ``errno``.
    """
    err = ffi.errno
    if err != _EINTR:
        raise_errno(err, filename, filename2)
