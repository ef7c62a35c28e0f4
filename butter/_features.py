"""Probe which kernel features this machine offers, for real.

Each probe makes the actual call (creating and closing an fd where that is
what the feature is) and reports ``(available, detail)``.  Used by
``python -m butter``; cheap enough to call at any time.
"""

from __future__ import annotations

import errno
import os

from . import _errors  # noqa: F401  (first: it checks the compiled module's build)
from ._lowlevel import lib

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Callable, Dict, Tuple

    Probe = Tuple[bool, str]

__all__ = ["probe_all"]


def _describe(ret: int) -> Probe:
    if ret >= 0:
        return True, ""
    err = -ret
    name = errno.errorcode.get(err, str(err))
    return False, f"{name}: {os.strerror(err)}"


def _fd_probe(ret: int) -> Probe:
    if ret >= 0:
        os.close(ret)
    return _describe(ret)


def _fanotify() -> Probe:
    ok, why = _fd_probe(lib.butter_probe_fanotify(0))
    if not ok:
        return ok, why
    fid_ok, _ = _fd_probe(lib.butter_probe_fanotify(1))
    return True, f"FID modes: {'yes' if fid_ok else 'no'}"


def _seccomp() -> Probe:
    ret = lib.butter_probe_seccomp()
    if ret < 0:
        return _describe(ret)
    return True, "this process is already filtered" if ret == 2 else ""


def _landlock() -> Probe:
    ret = lib.butter_probe_landlock_abi()
    if ret < 0:
        return _describe(ret)
    return True, f"ABI v{ret}"


def probe_all() -> Dict[str, Probe]:
    """Return ``{feature: (available, detail)}`` for this machine."""
    probes: Dict[str, Callable[[], Probe]] = {
        "inotify": lambda: _fd_probe(lib.butter_probe_inotify()),
        "fanotify": _fanotify,
        "seccomp": _seccomp,
        "io_uring": lambda: _fd_probe(lib.butter_probe_io_uring()),
        "pidfd": lambda: _fd_probe(lib.butter_probe_pidfd()),
        "memfd": lambda: _fd_probe(lib.butter_probe_memfd()),
        "landlock": _landlock,
        "native AIO": lambda: _describe(lib.butter_probe_aio()),
    }
    return {name: probe() for name, probe in probes.items()}
