# Stub for the cffi-compiled module built from _cffi_src/build_seccomp.py
# (only when libseccomp-dev was present at build time).
from typing import Any

ffi: Any
lib: Any
