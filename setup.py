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


setup(cffi_modules=_cffi_modules())
