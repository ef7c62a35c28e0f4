"""seccomp's constants: libseccomp's C names, and actions and operators as
libseccomp's own Python bindings give them.

The bottom of :mod:`butter.seccomp`: every other part imports it.
"""

from __future__ import annotations

from ._lib import lib

__all__ = [
    "ALLOW", "EQ", "GE", "GT", "KILL", "KILL_PROCESS", "LE", "LOG", "LT", "MASKED_EQ",
    "NE", "NOTIFY", "TRAP",
]  # fmt: skip

_INT_MAX = 0x7FFFFFFF


def _s32(value: int) -> int:
    """The value as a C ``int`` would hold it (the bindings' view)."""
    return value - 0x100000000 if value > _INT_MAX else value


# -- C names (values from the headers) -----------------------------------------
_C_NAMES = [n for n in dir(lib) if n.startswith(("SCMP_ACT_", "SCMP_CMP_", "SCMP_FLTATR_"))]
_C_NAMES += [
    n
    for n in dir(lib)
    if n.startswith("SCMP_ARCH_") and (getattr(lib, n) or n == "SCMP_ARCH_NATIVE")
]
_C_NAMES += ["SCMP_VER_MAJOR", "SCMP_VER_MINOR", "SCMP_VER_MICRO"]
globals().update({n: getattr(lib, n) for n in _C_NAMES})

# -- actions and operators (values as the bindings give them) -------------------
KILL_PROCESS: int = _s32(lib.SCMP_ACT_KILL_PROCESS)
KILL: int = _s32(lib.SCMP_ACT_KILL)
TRAP: int = _s32(lib.SCMP_ACT_TRAP)
LOG: int = _s32(lib.SCMP_ACT_LOG)
ALLOW: int = _s32(lib.SCMP_ACT_ALLOW)
NOTIFY: int = _s32(lib.SCMP_ACT_NOTIFY)
_ERRNO_BASE: int = lib.BUTTER_SCMP_ACT_ERRNO_BASE
_TRACE_BASE: int = lib.BUTTER_SCMP_ACT_TRACE_BASE

NE: int = lib.SCMP_CMP_NE
LT: int = lib.SCMP_CMP_LT
LE: int = lib.SCMP_CMP_LE
EQ: int = lib.SCMP_CMP_EQ
GE: int = lib.SCMP_CMP_GE
GT: int = lib.SCMP_CMP_GT
MASKED_EQ: int = lib.SCMP_CMP_MASKED_EQ

__all__ += sorted(_C_NAMES)
