"""setuptools entry point: metadata lives in pyproject.toml.

Only the cffi build is declared here: ``_cffi_src/build.py`` assembles the
per-family C fragments into the compiled module ``butter._lowlevel``, and
``_cffi_src/build_seccomp.py`` generates ``butter._seccomp_lowlevel``, an
ABI-mode module that loads the system's ``libseccomp.so.2`` at import (no
libseccomp headers or library are needed to build).  ``BUTTER_SECCOMP=0``
leaves it out (``import butter.seccomp`` then fails).
"""

import os

from setuptools import setup


def _cffi_modules() -> list:
    modules = ["_cffi_src/build.py:ffibuilder"]
    if os.environ.get("BUTTER_SECCOMP") != "0":
        modules.append("_cffi_src/build_seccomp.py:ffibuilder")
    return modules


# --- build-tools probe (issue 9) --------------------------------------------
# Kept apart from the rest of this file on purpose: it imports what it needs
# itself and is called once, just before setup().

# The commands that compile butter's C module; the others (sdist, egg_info,
# dist_info: what pip and build run to read metadata) need no compiler.
_COMPILING_COMMANDS = {
    "bdist_wheel",
    "bdist_egg",
    "build",
    "build_ext",
    "develop",
    "editable_wheel",
    "install",
}

_BUILD_TOOLS_HELP = """\
butter: cannot build from source: {problem}.

Building butter from source compiles a small C module, which needs a C
compiler, the Python headers (Python.h) and the Linux kernel headers
(linux/types.h).  Install them with your distribution's package manager:

    Debian/Ubuntu:  apt-get install gcc python3-dev linux-libc-dev
    Fedora/RHEL:    dnf install gcc python3-devel kernel-headers
    Alpine:         apk add gcc musl-dev linux-headers python3-dev
    Arch:           pacman -S gcc linux-api-headers

(for PyPy, the headers come with PyPy itself or its -dev package, e.g.
pypy3-dev on Debian) and run the install again.

None of this is needed with the prebuilt wheels (x86_64 Linux with glibc
2.28 or newer, CPython 3.9+ and PyPy3): a plain `pip install butter` picks
one; `pip install --only-binary=butter butter` refuses to build at all.
"""


def _probe_compile(cc: list, source: str, tmp: str, include_dirs: list) -> tuple:
    """Compile *source* (to an object file) with *cc*: (ok, compiler output)."""
    import os
    import subprocess

    src = os.path.join(tmp, "probe.c")
    with open(src, "w") as f:
        f.write(source)
    argv = [*cc, *(f"-I{d}" for d in include_dirs), "-c", src, "-o", os.path.join(tmp, "probe.o")]
    try:
        proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    except OSError as exc:
        return False, exc.strerror or str(exc)
    return proc.returncode == 0, proc.stdout


def _build_tools_problem() -> "str | None":
    """What is missing to compile butter here (None: nothing).

    Uses the compiler and flags the build itself will use: ``$CC`` (or the
    one Python was built with) with ``$CFLAGS``/``$CPPFLAGS``, and Python's
    include directories."""
    import os
    import shlex
    import sysconfig
    import tempfile

    cc = shlex.split(os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc")
    if not cc:
        return "no C compiler is configured ($CC is empty)"
    cc += [f for var in ("CPPFLAGS", "CFLAGS") for f in shlex.split(os.environ.get(var, ""))]
    paths = sysconfig.get_paths()
    includes = list(dict.fromkeys(filter(None, (paths.get("include"), paths.get("platinclude")))))
    with tempfile.TemporaryDirectory() as tmp:
        ok, out = _probe_compile(cc, "int butter_probe(void) { return 0; }\n", tmp, [])
        if not ok:
            detail = out.strip().splitlines()[-1] if out.strip() else "it failed"
            return f"no working C compiler (tried {shlex.join(cc[:1])}: {detail})"
        # The kernel headers first: the C library's <errno.h>, which Python.h
        # includes, needs them too.
        ok, _ = _probe_compile(cc, "#include <linux/types.h>\n", tmp, [])
        if not ok:
            return "the Linux kernel headers (linux/types.h) are missing"
        ok, _ = _probe_compile(cc, "#include <Python.h>\n", tmp, includes)
        if not ok:
            where = ", ".join(includes) or "Python's include directory"
            return f"the Python headers (Python.h) are missing (looked in {where})"
    return None


def _check_build_tools() -> None:
    """Exit with one clear message if this build would compile butter's C
    module and cannot: instead of cffi's and setuptools' generic
    "command ... returned non-zero exit status 1" after a page of output.
    ``BUTTER_SKIP_BUILD_PROBE=1`` skips the probe (a toolchain it misjudges)."""
    import os
    import sys

    if not _COMPILING_COMMANDS.intersection(sys.argv[1:]):
        return
    if os.environ.get("BUTTER_SKIP_BUILD_PROBE") == "1":  # the probe is wrong here
        return
    problem = _build_tools_problem()
    if problem is not None:
        sys.exit(_BUILD_TOOLS_HELP.format(problem=problem))


_check_build_tools()


setup(cffi_modules=_cffi_modules())
