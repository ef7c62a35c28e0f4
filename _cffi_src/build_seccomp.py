"""Build ``butter._seccomp_lowlevel``: libseccomp for :mod:`butter.seccomp`.

A second cffi module, separate from ``butter._lowlevel``, because it links
``-lseccomp``: a machine without libseccomp-dev still builds the rest of
butter (``setup.py`` only lists this builder when ``<seccomp.h>`` compiles
and links), and ``import butter.seccomp`` then says what was missing.

It is one family, ``seccomp``, in its own folder (so ``build.py`` does not
fold it into the main module): ``seccomp/seccomp.cdef.h`` (what Python
sees) and ``seccomp/seccomp.csrc.c`` (its own prelude, the includes and the
notification ioctl shims).  ``build.py``'s :func:`make_ffibuilder` joins
and checks them and adds the version stamp, as for the main module.
"""

from __future__ import annotations

import pathlib
import runpy

from cffi import FFI

HERE = pathlib.Path(__file__).resolve().parent

# Run by path, not imported: cffi runs this file without its folder on
# sys.path, and "build" is also the name of a PyPI package.
_build = runpy.run_path(str(HERE / "build.py"))


def make_ffibuilder() -> FFI:
    return _build["make_ffibuilder"](
        "butter._seccomp_lowlevel",
        HERE / "seccomp",
        ["seccomp"],
        prelude="",  # seccomp.csrc.c starts with its own
        libraries=["seccomp"],
    )


ffibuilder = make_ffibuilder()

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
