"""Assemble butter's per-family C fragments into one cffi module.

Each kernel family has two fragments in this folder:

* ``<family>.cdef.h`` -- what Python sees (functions, ``#define X ...``
  constants and ``...``-completed structs, so the compiler supplies values
  and layouts from the system headers);
* ``<family>.csrc.c`` -- the ``#include`` lines and any tiny ``static`` shims
  (raw ``syscall(2)`` wrappers, allocation-free helpers).

The result is the compiled extension ``butter._lowlevel``.  It is built when
the package is built (``setup.py``'s ``cffi_modules``); nothing compiles at
import time and these files are not installed.
"""

from __future__ import annotations

import pathlib

from cffi import FFI

HERE = pathlib.Path(__file__).resolve().parent

# Every "<family>.cdef.h" here is a family; "common" comes first.
FAMILIES = [
    "common",
    *sorted(p.name[: -len(".cdef.h")] for p in HERE.glob("*.cdef.h") if p.name != "common.cdef.h"),
]

PRELUDE = r"""
#define _GNU_SOURCE 1
#if !defined(__linux__)
#error "butter only supports Linux"
#endif
#if !defined(__has_include)
#define __has_include(x) 1
#endif
#if !__has_include(<linux/types.h>)
#error "butter needs the Linux kernel headers to build: \
apt-get install linux-libc-dev (Debian/Ubuntu) or kernel-headers (Fedora)"
#endif
"""


def _read(name: str) -> str:
    return (HERE / name).read_text()


def make_ffibuilder() -> FFI:
    builder = FFI()
    cdefs = []
    sources = [PRELUDE]
    for family in FAMILIES:
        cdefs.append(f"/* --- {family} --- */\n" + _read(f"{family}.cdef.h"))
        sources.append(f"/* --- {family} --- */\n" + _read(f"{family}.csrc.c"))
    builder.cdef("\n".join(cdefs))
    builder.set_source(
        "butter._lowlevel",
        "\n".join(sources),
        extra_compile_args=["-O2", "-Wall", "-Wno-unused-function"],
    )
    return builder


ffibuilder = make_ffibuilder()

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
