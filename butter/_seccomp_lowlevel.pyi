# Stub for the ABI-mode cffi module generated from _cffi_src/build_seccomp.py
# (pure Python: an ffi describing libseccomp; butter.seccomp._lib opens
# libseccomp.so.2 with it).
from typing import Any

ffi: Any
