"""The thin layer: one Python function per io_uring syscall, and the probe.

:func:`io_uring_setup`, :func:`io_uring_enter` and
:func:`io_uring_register` take and return what the kernel does (the ring
fd as an ``int``, counts).  Mapping the rings of a fd from
:func:`io_uring_setup` is left to the caller (``mmap`` at the
``IORING_OFF_*`` offsets); :class:`~butter.io_uring.Ring` does it all.

:func:`probe` asks the kernel (``IORING_REGISTER_PROBE``, Linux 5.6) which
opcodes it supports; the answer is cached for the process.
"""

from __future__ import annotations

from .._args import to_flags, to_int
from .._errors import raise_errno, retry_or_raise
from .._lowlevel import ffi, lib
from ._constants import _OP_NAMES

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, FrozenSet, Optional

__all__ = ["io_uring_enter", "io_uring_register", "io_uring_setup", "probe"]


def io_uring_setup(entries: int, flags: int = 0) -> int:
    """``io_uring_setup(2)``: a new ring of at least *entries* submission
    slots with the ``IORING_SETUP_*`` *flags*; returns its fd (close-on-exec,
    yours to close).  The other fields of ``struct io_uring_params`` are
    zero (use :class:`Ring` for a mapped, ready ring)."""
    entries = to_int("entries", entries, "unsigned int", 1)
    flags = to_flags("flags", flags)
    params = ffi.new("struct io_uring_params *")
    params.flags = flags
    while True:
        fd: int = lib.butter_io_uring_setup(entries, params)
        if fd >= 0:
            return fd
        retry_or_raise()


def io_uring_enter(fd: int, to_submit: int, min_complete: int, flags: int = 0) -> int:
    """``io_uring_enter(2)`` (no signal mask): submit up to *to_submit*
    queued SQEs and, with ``IORING_ENTER_GETEVENTS`` in *flags*, wait for
    *min_complete* completions.  Returns the count submitted; ``OSError``
    on failure (``EINTR`` is retried)."""
    fd = to_int("fd", fd, "int", 0)
    to_submit = to_int("to_submit", to_submit, "unsigned int", 0)
    min_complete = to_int("min_complete", min_complete, "unsigned int", 0)
    flags = to_flags("flags", flags)
    while True:
        n: int = lib.butter_io_uring_enter(fd, to_submit, min_complete, flags)
        if n >= 0:
            return n
        retry_or_raise()


def io_uring_register(fd: int, opcode: int, arg: Any, nr: int) -> int:
    """``io_uring_register(2)``: *opcode* is an ``IORING_REGISTER_*`` (or
    ``IORING_UNREGISTER_*``); *arg* is ``None`` (a NULL pointer), an
    ``int`` address, or a buffer whose memory the kernel reads or writes
    (for example the ``struct iovec`` array of ``IORING_REGISTER_BUFFERS``
    or the ``int`` array of ``IORING_REGISTER_FILES``, packed by the
    caller); *nr* is the count the opcode expects.  Returns the kernel's
    result (0 for most opcodes)."""
    fd = to_int("fd", fd, "int", 0)
    opcode = to_int("opcode", opcode, "unsigned int", 0)
    nr = to_int("nr", nr, "unsigned int", 0)
    if arg is None:
        ptr = ffi.NULL
    elif type(arg) is int or isinstance(arg, int):
        ptr = ffi.cast("void *", to_int("arg", arg, "uintptr_t", 0))
    else:
        try:
            ptr = ffi.from_buffer(arg, require_writable=False)
        except TypeError:
            raise TypeError(
                f"arg must be None, an int address or a buffer, not {type(arg).__name__!r}"
            ) from None
    while True:
        n: int = lib.butter_io_uring_register(fd, opcode, ptr, nr)
        if n >= 0:
            return n
        retry_or_raise()


_probed: Optional[FrozenSet[int]] = None


def _probe_fd(fd: int) -> FrozenSet[int]:
    """The opcodes the kernel supports, asked through ring *fd* (cached)."""
    global _probed
    if _probed is None:
        ops = ffi.new("unsigned char[256]")
        n = lib.butter_uring_probe(fd, ops, 256)
        if n == -_EINVAL_PROBE:
            # Before Linux 5.6: no probe; the ops of 5.1 (a conservative guess).
            _probed = frozenset(range(lib.IORING_OP_TIMEOUT + 1))
        elif n < 0:
            raise_errno(-n)
        else:
            _probed = frozenset(i for i in range(256) if ops[i])
    return _probed


_EINVAL_PROBE = 22  # EINVAL: the kernel does not know IORING_REGISTER_PROBE


def probe() -> FrozenSet[str]:
    """The names (``"IORING_OP_READ"``...) of the io_uring operations this
    kernel supports, asked once per process with ``IORING_REGISTER_PROBE``
    on a one-entry ring.  Operations newer than butter's headers are left
    out.  ``OSError`` if io_uring is unavailable (``ENOSYS``; ``EPERM``
    when the ``kernel.io_uring_disabled`` sysctl forbids it)."""
    if _probed is None:
        fd = io_uring_setup(1)
        try:
            _probe_fd(fd)
        finally:
            import os

            os.close(fd)
    assert _probed is not None
    return frozenset(_OP_NAMES[op] for op in _probed if op in _OP_NAMES)
