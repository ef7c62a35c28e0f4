"""setuptools entry point: metadata lives in pyproject.toml.

Only the cffi build is declared here: ``_cffi_src/build.py`` assembles the
per-family C fragments into the compiled module ``butter._lowlevel``.
``_cffi_src/build_seccomp.py`` builds ``butter._seccomp_lowlevel`` (linked
with libseccomp) only when ``<seccomp.h>`` (libseccomp >= 2.5) compiles and
links here, so a machine without libseccomp-dev still builds the rest of
butter; ``import butter.seccomp`` then explains what was missing.
``BUTTER_SECCOMP=1`` makes a missing libseccomp a build error,
``BUTTER_SECCOMP=0`` skips it.
"""

import os
import shlex
import subprocess
import sys
import sysconfig
import tempfile

from setuptools import setup

_SECCOMP_PROBE = r"""
#include <seccomp.h>
#if SCMP_VER_MAJOR < 2 || (SCMP_VER_MAJOR == 2 && SCMP_VER_MINOR < 5)
#error "libseccomp >= 2.5 needed"
#endif
int main(void) { return seccomp_version() == 0; }
"""


def _have_libseccomp() -> bool:
    """Compile and link a tiny program against libseccomp."""
    cc = shlex.split(os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc")
    flags = [
        f for var in ("CPPFLAGS", "CFLAGS", "LDFLAGS") for f in shlex.split(os.environ.get(var, ""))
    ]
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "probe.c")
        with open(src, "w") as f:
            f.write(_SECCOMP_PROBE)
        try:
            proc = subprocess.run(
                [*cc, *flags, src, "-o", os.path.join(tmp, "probe"), "-lseccomp"],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        except OSError:
            return False
    return proc.returncode == 0


def _cffi_modules() -> list:
    modules = ["_cffi_src/build.py:ffibuilder"]
    want = os.environ.get("BUTTER_SECCOMP", "auto")
    if want != "0":
        if _have_libseccomp():
            modules.append("_cffi_src/build_seccomp.py:ffibuilder")
        elif want == "1":
            sys.exit(
                "BUTTER_SECCOMP=1 but libseccomp >= 2.5 was not found: "
                "apt-get install libseccomp-dev (Debian/Ubuntu) or libseccomp-devel (Fedora)"
            )
        else:
            print(
                "butter: libseccomp-dev not found, building without butter.seccomp "
                "(apt-get install libseccomp-dev to get it)",
                file=sys.stderr,
            )
    return modules


setup(cffi_modules=_cffi_modules())
