"""setuptools entry point: metadata lives in pyproject.toml.

Only the cffi build is declared here: ``_cffi_src/build.py`` assembles the
per-family C fragments into the compiled module ``butter._lowlevel``.
"""

from setuptools import setup

setup(cffi_modules=["_cffi_src/build.py:ffibuilder"])
