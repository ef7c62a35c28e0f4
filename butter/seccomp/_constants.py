"""seccomp's constants: libseccomp's C names, and actions and operators as
libseccomp's own Python bindings give them.

The bottom of :mod:`butter.seccomp`: every other part imports it.

Where the numbers come from (libseccomp is loaded at run time, so none
is read from its header):

* ``SCMP_ACT_*`` and ``SCMP_ARCH_*``: the kernel's ``SECCOMP_RET_*``
  actions and ``AUDIT_ARCH_*`` tokens, which libseccomp's are defined as,
  from ``butter._lowlevel`` (built against the kernel headers);
* ``SCMP_CMP_*``, ``SCMP_FLTATR_*``, ``__NR_SCMP_ERROR``: libseccomp's own
  ABI, written out in ``_cffi_src/libseccomp/libseccomp.cdef.h``;
* ``SCMP_VER_MAJOR``/``MINOR``/``MICRO``: the version of the libseccomp
  loaded here (``seccomp_version()``), not of a header.
"""

from __future__ import annotations

from .._lowlevel import lib as _klib
from ._lib import VERSION, lib

__all__ = [
    "ALLOW", "EQ", "GE", "GT", "KILL", "KILL_PROCESS", "LE", "LOG", "LT", "MASKED_EQ",
    "NE", "NOTIFY", "TRAP",
]  # fmt: skip

_INT_MAX = 0x7FFFFFFF


def _s32(value: int) -> int:
    """The value as a C ``int`` would hold it (the bindings' view)."""
    return value - 0x100000000 if value > _INT_MAX else value


# -- C names ---------------------------------------------------------------------
_ACTIONS = {
    "SCMP_ACT_KILL_PROCESS": _klib.SECCOMP_RET_KILL_PROCESS,
    "SCMP_ACT_KILL_THREAD": _klib.SECCOMP_RET_KILL_THREAD,
    "SCMP_ACT_KILL": _klib.SECCOMP_RET_KILL_THREAD,
    "SCMP_ACT_TRAP": _klib.SECCOMP_RET_TRAP,
    "SCMP_ACT_NOTIFY": _klib.SECCOMP_RET_USER_NOTIF,
    "SCMP_ACT_LOG": _klib.SECCOMP_RET_LOG,
    "SCMP_ACT_ALLOW": _klib.SECCOMP_RET_ALLOW,
}
# libseccomp's SCMP_ACT_ERRNO(x) and SCMP_ACT_TRACE(x): these | (x & 0xffff).
_ERRNO_BASE: int = _klib.SECCOMP_RET_ERRNO
_TRACE_BASE: int = _klib.SECCOMP_RET_TRACE

# Architecture names as libseccomp spells them -> token (SCMP_ARCH_<name>).
_ARCHES = {
    "NATIVE": lib.SCMP_ARCH_NATIVE,
    "X86": _klib.AUDIT_ARCH_I386,
    "X86_64": _klib.AUDIT_ARCH_X86_64,
    "X32": _klib.BUTTER_SCMP_ARCH_X32,
    "ARM": _klib.AUDIT_ARCH_ARM,
    "AARCH64": _klib.AUDIT_ARCH_AARCH64,
    "MIPS": _klib.AUDIT_ARCH_MIPS,
    "MIPS64": _klib.AUDIT_ARCH_MIPS64,
    "MIPS64N32": _klib.AUDIT_ARCH_MIPS64N32,
    "MIPSEL": _klib.AUDIT_ARCH_MIPSEL,
    "MIPSEL64": _klib.AUDIT_ARCH_MIPSEL64,
    "MIPSEL64N32": _klib.AUDIT_ARCH_MIPSEL64N32,
    "PARISC": _klib.AUDIT_ARCH_PARISC,
    "PARISC64": _klib.AUDIT_ARCH_PARISC64,
    "PPC": _klib.AUDIT_ARCH_PPC,
    "PPC64": _klib.AUDIT_ARCH_PPC64,
    "PPC64LE": _klib.AUDIT_ARCH_PPC64LE,
    "S390": _klib.AUDIT_ARCH_S390,
    "S390X": _klib.AUDIT_ARCH_S390X,
    "RISCV64": _klib.AUDIT_ARCH_RISCV64,
}

_C_VALUES = {
    **_ACTIONS,
    **{n: getattr(lib, n) for n in dir(lib) if n.startswith(("SCMP_CMP_", "SCMP_FLTATR_"))},
    **{"SCMP_ARCH_" + name: token for name, token in _ARCHES.items()},
    "SCMP_VER_MAJOR": VERSION[0],
    "SCMP_VER_MINOR": VERSION[1],
    "SCMP_VER_MICRO": VERSION[2],
}
_C_NAMES = sorted(_C_VALUES)
globals().update(_C_VALUES)

# libseccomp's "unknown syscall" from its resolvers.
_NR_SCMP_ERROR: int = lib.__NR_SCMP_ERROR

# -- actions and operators (values as the bindings give them) -------------------
KILL_PROCESS: int = _s32(_ACTIONS["SCMP_ACT_KILL_PROCESS"])
KILL: int = _s32(_ACTIONS["SCMP_ACT_KILL"])
TRAP: int = _s32(_ACTIONS["SCMP_ACT_TRAP"])
LOG: int = _s32(_ACTIONS["SCMP_ACT_LOG"])
ALLOW: int = _s32(_ACTIONS["SCMP_ACT_ALLOW"])
NOTIFY: int = _s32(_ACTIONS["SCMP_ACT_NOTIFY"])

NE: int = lib.SCMP_CMP_NE
LT: int = lib.SCMP_CMP_LT
LE: int = lib.SCMP_CMP_LE
EQ: int = lib.SCMP_CMP_EQ
GE: int = lib.SCMP_CMP_GE
GT: int = lib.SCMP_CMP_GT
MASKED_EQ: int = lib.SCMP_CMP_MASKED_EQ

__all__ += _C_NAMES
