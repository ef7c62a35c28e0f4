"""Assemble butter's per-family C fragments into one cffi module.

Each kernel family has two fragments in this folder:

* ``<family>.cdef.h`` -- what Python sees (functions, ``#define X ...``
  constants and ``...``-completed structs, so the compiler supplies values
  and layouts from the system headers);
* ``<family>.csrc.c`` -- the ``#include`` lines and any tiny ``static`` shims
  (raw ``syscall(2)`` wrappers, allocation-free helpers).

:data:`FAMILIES` lists them, in order (``common`` first: its includes and
shared helpers come before the others').  The build fails, naming the
file, if a ``<family>.cdef.h`` here is not listed or a listed family lacks
one of its two fragments: a new family is never silently left out, and an
unrelated file is never silently folded in.

Every compiled module also gets a version stamp, a C function
``butter_build_version()`` returning ``__version__`` as written in
``butter/__init__.py`` (read as text: butter is not imported here).
``butter._errors.check_build`` compares it with ``butter.__version__`` at
import, so a stale compiled module is refused with a clear ``ImportError``
instead of failing later on a missing function or a wrong constant.

The result is the compiled extension ``butter._lowlevel``.  It is built when
the package is built (``setup.py``'s ``cffi_modules``); nothing compiles at
import time and these files are not installed.  Family ``seccomp`` is the
kernel side of :mod:`butter.seccomp` (notification ioctls, action values,
architecture tokens); libseccomp itself is ``build_seccomp.py``'s ABI-mode
module ``butter._seccomp_lowlevel`` (``libseccomp/``), which takes its
version stamp from :func:`abi_stamp_cdef`.
"""

from __future__ import annotations

import ast
import pathlib
import re
from typing import Any, Sequence

from cffi import FFI

HERE = pathlib.Path(__file__).resolve().parent
INIT_PY = HERE.parent / "butter" / "__init__.py"

# The families of butter._lowlevel, in the order their fragments are joined.
FAMILIES = [
    "common",
    "aio",
    "clone",
    "eventfd",
    "fanotify",
    "features",
    "inotify",
    "io_uring",
    "memfd",
    "pidfd",
    "seccomp",
    "signalfd",
    "splice",
    "system",
    "timerfd",
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

STAMP_CDEF = "const char *butter_build_version(void);"


class BuildError(Exception):
    """The C fragments or the package version are not what the build expects."""


def check_families(folder: pathlib.Path, families: Sequence[str]) -> None:
    """Raise :class:`BuildError` unless *families* lists, once each, exactly
    the families whose fragments (``*.cdef.h``, ``*.csrc.c``) are in
    *folder*, and every listed family has both."""
    problems = []
    for path in sorted([*folder.glob("*.cdef.h"), *folder.glob("*.csrc.c")]):
        family = path.name[: -len(".cdef.h")]  # the two suffixes have the same length
        if family not in families:
            problems.append(f"{path.name} is not listed: add {family!r} to the family list")
    for family in sorted({f for f in families if families.count(f) > 1}):
        problems.append(f"{family!r} is listed more than once")
    for family in dict.fromkeys(families):  # each once, in order
        for suffix in (".cdef.h", ".csrc.c"):
            if not (folder / (family + suffix)).is_file():
                problems.append(f"family {family!r} has no {family}{suffix}")
    if problems:
        raise BuildError(f"butter's C fragments in {folder}: " + "; ".join(problems))


def package_version(init_py: pathlib.Path = INIT_PY) -> str:
    """``__version__`` as assigned in *init_py* (a string literal), without
    importing the package."""
    for node in ast.parse(init_py.read_text(), str(init_py)).body:
        if (
            isinstance(node, ast.Assign)
            and [getattr(t, "id", None) for t in node.targets] == ["__version__"]
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
        ):
            version: str = node.value.value
            # PEP 440 characters only: the string goes into C source as is.
            if not re.fullmatch(r"[A-Za-z0-9.+!_-]+", version):
                raise BuildError(f"{init_py}: unexpected characters in __version__ {version!r}")
            return version
    raise BuildError(f"{init_py}: no __version__ = '...' string found")


def stamp_source(version: str) -> str:
    """The C definition behind :data:`STAMP_CDEF`."""
    return f'static const char *butter_build_version(void) {{ return "{version}"; }}\n'


def abi_stamp_cdef(version: str) -> str:
    """The version stamp of an ABI-mode module (pure Python, no C function
    to call): an enum whose one member's name carries *version* in hex,
    ``BUTTER_BUILD_VERSION_<hex>``; ``butter._errors.build_version`` reads
    it back from the module's ``ffi`` alone, without loading any library."""
    return f"enum butter_build_version {{ BUTTER_BUILD_VERSION_{version.encode().hex()} }};\n"


def make_ffibuilder(
    module: str = "butter._lowlevel",
    folder: pathlib.Path = HERE,
    families: Sequence[str] = FAMILIES,
    prelude: str = PRELUDE,
    **kwds: Any,
) -> FFI:
    """An FFI for *module*: the fragments of *families* from *folder*, joined
    in order after *prelude*, plus the version stamp.  *kwds* go to
    ``set_source`` (e.g. ``libraries``)."""
    check_families(folder, families)
    version = package_version()
    cdefs = []
    sources = [prelude]
    for family in families:
        cdefs.append(f"/* --- {family} --- */\n" + (folder / f"{family}.cdef.h").read_text())
        sources.append(f"/* --- {family} --- */\n" + (folder / f"{family}.csrc.c").read_text())
    cdefs.append("/* --- version stamp --- */\n" + STAMP_CDEF)
    sources.append("/* --- version stamp --- */\n" + stamp_source(version))
    builder = FFI()
    builder.cdef("\n".join(cdefs))
    builder.set_source(
        module,
        "\n".join(sources),
        extra_compile_args=["-O2", "-Wall", "-Wno-unused-function"],
        **kwds,
    )
    return builder


ffibuilder = make_ffibuilder()

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
