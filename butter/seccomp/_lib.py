"""The compiled libseccomp module, or an ImportError that says how to get it.

Every part of :mod:`butter.seccomp` takes ``ffi``/``lib`` from here, after
the same build check as ``butter._lowlevel`` (``butter._errors.check_build``).
"""

from __future__ import annotations

from .._errors import check_build

try:
    from .. import _seccomp_lowlevel
except ImportError as _exc:  # pragma: no cover - depends on the build machine
    raise ImportError(
        "butter.seccomp is not available: libseccomp-dev (libseccomp >= 2.5) was missing "
        "when butter was built; install it (apt-get install libseccomp-dev) and reinstall butter"
    ) from _exc

check_build(_seccomp_lowlevel)
ffi = _seccomp_lowlevel.ffi
lib = _seccomp_lowlevel.lib

__all__ = ["ffi", "lib"]
