# Stub for the cffi-compiled module built from _cffi_src/ at install time.
# Every function and constant lives on ``lib``; see _cffi_src/*.cdef.h for
# the C signatures.
from typing import Any

ffi: Any
lib: Any
