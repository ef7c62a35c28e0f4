"""The compiled libseccomp module, or an ImportError that says how to get it.

Every part of :mod:`butter.seccomp` takes ``ffi``/``lib`` from here.
"""

from __future__ import annotations

try:
    from .._seccomp_lowlevel import ffi, lib
except ImportError as _exc:  # pragma: no cover - depends on the build machine
    raise ImportError(
        "butter.seccomp is not available: libseccomp-dev (libseccomp >= 2.5) was missing "
        "when butter was built; install it (apt-get install libseccomp-dev) and reinstall butter"
    ) from _exc

__all__ = ["ffi", "lib"]
