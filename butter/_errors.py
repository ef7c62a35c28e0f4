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

Every module that uses ``butter._lowlevel`` imports this one first, so it
is also where the compiled module is checked: :func:`check_build` refuses,
with an ``ImportError`` saying how to fix it, a compiled module built for
another version of butter than the Python files next to it (a stale
``.so`` left by an upgrade or an in-place build).  ``butter.seccomp`` runs
the same check on ``butter._seccomp_lowlevel``.
"""

from __future__ import annotations

import os

from . import _lowlevel
from ._lowlevel import ffi, lib

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ~15 ms
if TYPE_CHECKING:
    import types
    from typing import NoReturn, Optional

    from ._args import PathArg


__all__ = ["build_version", "check_build", "raise_errno", "retry_or_raise"]


def build_version(module: types.ModuleType) -> Optional[str]:
    """The butter version *module* was built for, ``None`` if unstamped.

    ``_cffi_src/build.py`` stamps it into an API-mode (compiled) module as
    the C function ``lib.butter_build_version()``, and into an ABI-mode one
    (pure Python, ``butter._seccomp_lowlevel``) as the name of the one
    member of ``enum butter_build_version``, ``BUTTER_BUILD_VERSION_<hex>``:
    read from ``ffi`` alone, so before any library is loaded.
    """
    stamp = getattr(getattr(module, "lib", None), "butter_build_version", None)
    if stamp is not None:
        return module.ffi.string(stamp()).decode()  # type: ignore[no-any-return]
    try:
        members = module.ffi.typeof("enum butter_build_version").elements
    except module.ffi.error:
        return None
    for name in members.values():
        return bytes.fromhex(name[len("BUTTER_BUILD_VERSION_") :]).decode()
    return None  # pragma: no cover - the enum always has its member


def check_build(module: types.ModuleType) -> None:
    """Raise ``ImportError`` unless *module* (``butter._lowlevel`` or
    ``butter._seccomp_lowlevel``) was built for ``butter.__version__``.

    A module without the stamp (see :func:`build_version`) predates it and
    is refused too.
    """
    from . import __version__

    built = build_version(module) or "unknown (no stamp)"
    if built != __version__:
        raise ImportError(
            f"butter's compiled module {module.__name__} "
            f"({module.__file__}) was built for version {built} but "
            f"the Python package is {__version__}: rebuild and reinstall butter with "
            "pip install --force-reinstall --no-cache-dir butter "
            "(or, from a source checkout: rm -rf build, then "
            "pip install --force-reinstall --no-cache-dir .)",
            name=module.__name__,
        )


check_build(_lowlevel)

_EINTR: int = lib.EINTR


def raise_errno(
    err: int, filename: Optional[PathArg] = None, filename2: Optional[PathArg] = None
) -> NoReturn:
    """Raise ``OSError`` for error number *err*, naming the path(s) involved."""
    if filename2 is not None:
        raise OSError(err, os.strerror(err), filename, None, filename2)
    if filename is not None:
        raise OSError(err, os.strerror(err), filename)
    raise OSError(err, os.strerror(err))


def retry_or_raise(filename: Optional[PathArg] = None, filename2: Optional[PathArg] = None) -> None:
    """After a failed call: return if it was interrupted (retry), else raise.

    Must be called straight after the failing C call, before any other call
    into the compiled module can overwrite the saved ``errno``.
    """
    err = ffi.errno
    if err != _EINTR:
        raise_errno(err, filename, filename2)
