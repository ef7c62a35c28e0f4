"""libseccomp, opened at import, or an ImportError that says how to get it.

``butter._seccomp_lowlevel`` is an ABI-mode cffi module generated when
butter was built (``_cffi_src/build_seccomp.py``): it describes libseccomp's
functions and types, and :func:`load` opens the system's ``libseccomp.so.2``
with it.  Nothing is compiled and no header is read here.  Every part of
:mod:`butter.seccomp` takes ``ffi``/``lib`` from this module, after the same
build check as ``butter._lowlevel`` (``butter._errors.check_build``).

``VERSION`` is the loaded library's version, ``(major, minor, micro)`` from
``seccomp_version()``; below :data:`MIN_VERSION` the import fails.
"""

from __future__ import annotations

from .._errors import check_build

try:
    from .. import _seccomp_lowlevel
except ImportError as _exc:  # pragma: no cover - depends on the build
    raise ImportError(
        "butter.seccomp is not available: this butter was built without it "
        "(BUTTER_SECCOMP=0); reinstall butter without that setting",
        name=__name__,
    ) from _exc

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Tuple

__all__ = ["LIBRARY", "MIN_VERSION", "VERSION", "ffi", "lib", "load"]

LIBRARY = "libseccomp.so.2"
MIN_VERSION = (2, 5, 0)

# The package that provides LIBRARY, by distribution family.
_INSTALL = (
    "with the system's package manager: libseccomp2 on Debian/Ubuntu "
    "(apt-get install libseccomp2) and openSUSE, libseccomp on Fedora/RHEL "
    "(dnf install libseccomp), Arch (pacman -S libseccomp) and Alpine (apk add libseccomp)"
)
_FINE = (
    "butter itself is installed correctly and needs no rebuild; "
    "only butter.seccomp needs the library."
)

check_build(_seccomp_lowlevel)
ffi = _seccomp_lowlevel.ffi


def check_version(version: Tuple[int, int, int], path: str = LIBRARY) -> None:
    """Raise ``ImportError`` if *version* is older than :data:`MIN_VERSION`."""
    if version < MIN_VERSION:
        have = ".".join(map(str, version)) if any(version) else "older than 2.3"
        need = ".".join(map(str, MIN_VERSION[:2]))
        raise ImportError(
            f"butter.seccomp needs the libseccomp library >= {need}, but the {path} "
            f"found is {have}. Upgrade it {_INSTALL}. {_FINE}",
            name=__name__,
        )


def load(name: str = LIBRARY) -> Tuple[Any, Tuple[int, int, int]]:
    """Open libseccomp *name*: ``(lib, version)``, or ``ImportError``
    naming the package to install."""
    try:
        lib = ffi.dlopen(name)
    except OSError as exc:
        raise ImportError(
            f"butter.seccomp needs the libseccomp library >= {MIN_VERSION[0]}.{MIN_VERSION[1]}, "
            f"but {name} could not be loaded ({exc}). Install it {_INSTALL}. {_FINE}",
            name=__name__,
        ) from exc
    try:
        v = lib.seccomp_version()  # libseccomp >= 2.3
    except AttributeError:
        version = (0, 0, 0)  # unknown: older than 2.3
    else:
        version = (v.major, v.minor, v.micro)
    check_version(version, name)
    return lib, version


lib, VERSION = load()
