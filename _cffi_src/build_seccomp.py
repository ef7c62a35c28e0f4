"""Build ``butter._seccomp_lowlevel``: libseccomp for :mod:`butter.seccomp`.

A second cffi module, separate from ``butter._lowlevel``, because it links
``-lseccomp``: a machine without libseccomp-dev still builds the rest of
butter (``setup.py`` only lists this builder when ``<seccomp.h>`` compiles
and links), and ``import butter.seccomp`` then says what was missing.

Fragments live in ``_cffi_src/seccomp/`` (not ``*.cdef.h`` at the top
level, which ``build.py`` would fold into the main module):
``seccomp.cdef.txt`` (what Python sees) and ``seccomp.csrc.c`` (includes and
the notification ioctl shims).
"""

from __future__ import annotations

import pathlib

from cffi import FFI

HERE = pathlib.Path(__file__).resolve().parent / "seccomp"


def make_ffibuilder() -> FFI:
    builder = FFI()
    builder.cdef((HERE / "seccomp.cdef.txt").read_text())
    builder.set_source(
        "butter._seccomp_lowlevel",
        (HERE / "seccomp.csrc.c").read_text(),
        libraries=["seccomp"],
        extra_compile_args=["-O2", "-Wall", "-Wno-unused-function"],
    )
    return builder


ffibuilder = make_ffibuilder()

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
