"""Build ``butter._seccomp_lowlevel``: libseccomp for :mod:`butter.seccomp`.

An out-of-line **ABI-mode** cffi module (``set_source(..., None)``): the
build writes a small pure-Python module describing the functions, types and
constants of ``libseccomp/libseccomp.cdef.h``; :mod:`butter.seccomp._lib`
opens the system's ``libseccomp.so.2`` with it at import.  So building
butter needs neither libseccomp's headers nor its library, no LGPL code is
linked into (or shipped with) butter, and a machine without libseccomp
still installs butter: ``import butter.seccomp`` then says which package to
install.  Only libseccomp is used this way; the kernel-facing part of
seccomp (notification ioctls, ``SECCOMP_RET_*``, ``AUDIT_ARCH_*``) is the
``seccomp`` family of the API-mode ``butter._lowlevel`` (``build.py``).

The version stamp is ``build.py``'s :func:`abi_stamp_cdef`, as there is no C
to return it from.
"""

from __future__ import annotations

import pathlib
import runpy

from cffi import FFI

HERE = pathlib.Path(__file__).resolve().parent
CDEF = HERE / "libseccomp" / "libseccomp.cdef.h"

# Run by path, not imported: cffi runs this file without its folder on
# sys.path, and "build" is also the name of a PyPI package.
_build = runpy.run_path(str(HERE / "build.py"))


def make_ffibuilder() -> FFI:
    version = _build["package_version"]()
    builder = FFI()
    stamp = "\n/* --- version stamp --- */\n" + _build["abi_stamp_cdef"](version)
    builder.cdef(CDEF.read_text() + stamp)
    builder.set_source("butter._seccomp_lowlevel", None)
    return builder


ffibuilder = make_ffibuilder()

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
