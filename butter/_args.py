"""Argument conversion: the one place butter's argument rules live.

The kernel takes C values: an ``int`` fd, an ``unsigned int`` flag word, a
``uint64_t`` mask, a NUL-terminated path.  Handing it a Python value that
does not fit makes cffi raise whatever its conversion raises, or worse, a
value that wraps around.  Every public function of butter therefore
converts its arguments here first, before any syscall, by one rule:

* wrong type: ``TypeError`` (``bool`` is not accepted where an int is
  meant: ``flags=True`` is a bug, not ``1``; int subclasses such as
  ``enum.IntFlag`` members are accepted);
* negative where the C type is unsigned, or below the smallest value the
  call accepts (``pid`` must be positive): ``ValueError``;
* too large for the C type, or too small for a signed one: ``OverflowError``,
  as ``os`` raises for ints that do not fit;
* a flag word with bits the call does not know: ``ValueError``.

Messages name the argument and the C type (``"flags must be a non-negative
int (unsigned int), got -1"``, ``"count does not fit in a C int64_t"``).

Paths are ``str``, ``bytes`` or ``os.PathLike`` (encoded with
``os.fsencode``, ``TypeError`` for anything else, ``ValueError`` for an
embedded NUL, as ``os`` does); fds are ints or objects with ``fileno()``;
timeouts are seconds, ``None`` or ``math.inf``.

:func:`cython_int` is the one deliberate exception: ``butter.seccomp``
mirrors libseccomp's Cython bindings, which raise ``OverflowError`` for a
negative value of an unsigned type too.
"""

from __future__ import annotations

import os

from . import _errors  # noqa: F401  (first: it checks the compiled module's build)
from ._lowlevel import ffi

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ~15 ms

__all__ = [
    "RANGES", "FdArg", "PathArg", "check_int", "check_timeout", "cython_int",
    "fileno", "name_bytes", "opt_path_bytes", "path_bytes", "to_flags", "to_int",
]  # fmt: skip

if TYPE_CHECKING:
    from typing import Dict, Optional, Protocol, Tuple, Union

    class _HasFileno(Protocol):
        def fileno(self) -> int: ...

    #: An fd argument: an ``int`` or an object with ``fileno()``.
    FdArg = Union[int, _HasFileno]
    #: A path argument: ``str``, ``bytes`` or ``os.PathLike``.
    PathArg = Union[str, bytes, "os.PathLike[str]", "os.PathLike[bytes]"]
else:
    FdArg = PathArg = None  # annotations only (they are strings at run time)


# -- the table of C types ----------------------------------------------------------
def _c_range(ctype: str, signed: bool) -> Tuple[int, int]:
    bits = 8 * ffi.sizeof(ctype)
    if signed:
        return -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    return 0, (1 << bits) - 1


#: C type name -> (smallest, largest) value, with the sizes of this platform.
RANGES: Dict[str, Tuple[int, int]] = {
    ctype: _c_range(ctype, signed)
    for ctype, signed in (
        ("int", True),
        ("unsigned int", False),
        ("long", True),
        ("unsigned long", False),
        ("size_t", False),
        ("ssize_t", True),
        ("int32_t", True),
        ("uint32_t", False),
        ("int64_t", True),
        ("uint64_t", False),
    )
}
RANGES["pid_t"] = RANGES["int"]  # Linux: int on every architecture
RANGES["off_t"] = RANGES["int64_t"]  # the kernel's loff_t (glibc: 64 bits with LFS)

_INT_MAX = RANGES["int"][1]


def _show(value: int) -> str:
    """*value* for a message (a huge int would be a huge, or refused, str)."""
    if value.bit_length() <= 128:
        return str(value)
    return f"{'a negative' if value < 0 else 'an'} int of {value.bit_length()} bits"


# -- ints ----------------------------------------------------------------------------
def check_int(name: str, value: object) -> int:
    """Return *value* as an ``int`` or raise ``TypeError`` naming *name*.

    Accepts ``int`` and its subclasses (``IntFlag`` members, ...) except
    ``bool``; no range check (see :func:`to_int`)."""
    if type(value) is int:
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return int(value)
    raise TypeError(f"{name} must be an integer, not {type(value).__name__!r}")


def _below(name: str, value: int, ctype: str, minimum: int) -> ValueError:
    if minimum == 0:
        what = "a non-negative int"
    elif minimum == 1:
        what = "a positive int"
    else:
        what = f"an int >= {minimum}"
    return ValueError(f"{name} must be {what} ({ctype}), got {_show(value)}")


def to_int(name: str, value: object, ctype: str = "int", minimum: Optional[int] = None) -> int:
    """Return *value* as an ``int`` that fits the C type *ctype* (a key of
    :data:`RANGES`), and is at least *minimum* if given.

    ``TypeError`` for a non-int (or a ``bool``); ``ValueError`` below
    *minimum* or, for an unsigned type, below 0; ``OverflowError`` when it
    does not fit *ctype* otherwise (as ``os`` raises).
    """
    low, high = RANGES[ctype]
    num = value if type(value) is int else check_int(name, value)
    if low <= num <= high and (minimum is None or num >= minimum):
        return num
    if minimum is not None and num < minimum:
        raise _below(name, num, ctype, minimum)
    if num < 0 and low == 0:
        raise _below(name, num, ctype, 0)
    raise OverflowError(f"{name} does not fit in a C {ctype}, got {_show(num)}")


def to_flags(
    name: str,
    value: object,
    allowed: Optional[int] = None,
    ctype: str = "unsigned int",
    what: str = "",
) -> int:
    """Return the flag word *value*, a bitwise OR of the bits in *allowed*.

    Checked as :func:`to_int` with *minimum* 0 whatever *ctype*'s sign (a
    negative flag word is a mistake: in Python it has infinitely many bits
    set), then ``ValueError`` for bits outside *allowed* (when given),
    described by *what* (e.g. ``"IN_* event bits"``) or else as a hex mask.
    """
    value = to_int(name, value, ctype, 0)
    if allowed is not None and value & ~allowed:
        known = what or f"{allowed:#x}"
        raise ValueError(f"{name} has unknown bits {value & ~allowed:#x} (allowed: {known})")
    return value


def cython_int(name: str, value: object, ctype: str) -> int:
    """Return *value* as an ``int`` that fits *ctype*, the way Cython
    converts it: ``TypeError`` for a non-int, ``OverflowError`` for *any*
    value outside the type, negative ones included.

    Only for ``butter.seccomp``, whose classes are call-compatible with
    libseccomp's Cython bindings (``import seccomp``) and raise what they
    raise.  Everything else uses :func:`to_int`.
    """
    low, high = RANGES[ctype]
    num = value if type(value) is int else check_int(name, value)
    if low <= num <= high:
        return num
    if num < 0 and low == 0:
        raise OverflowError(f"{name} must not be negative ({ctype}), got {_show(num)}")
    raise OverflowError(f"{name} does not fit in a C {ctype}, got {_show(num)}")


# -- fds -----------------------------------------------------------------------------
def fileno(obj: FdArg) -> int:
    """Return the fd for *obj*: an ``int`` or an object with ``fileno()``.

    Mirrors ``selectors``/``os``: wrong types raise ``TypeError``, negative
    fds ``ValueError``, fds beyond a C ``int`` ``OverflowError``; a closed
    butter object raises ``ValueError`` from its own ``fileno()``.  fd 0 is
    a valid fd.
    """
    if type(obj) is int:
        fd = obj
    elif isinstance(obj, int) and not isinstance(obj, bool):
        fd = int(obj)
    else:
        try:
            method = obj.fileno  # type: ignore[union-attr]  # bool: AttributeError
        except AttributeError:
            raise TypeError(
                f"argument must be an int, or have a fileno() method, not {type(obj).__name__!r}"
            ) from None
        fd = method()
        if type(fd) is not int:
            if isinstance(fd, int) and not isinstance(fd, bool):
                fd = int(fd)
            else:
                raise TypeError(f"fileno() returned a non-integer: {type(fd).__name__!r}")
    if fd < 0:
        raise ValueError(f"file descriptor cannot be a negative integer ({_show(fd)})")
    if fd > _INT_MAX:
        raise OverflowError(f"fd does not fit in a C int, got {_show(fd)}")
    return fd


# -- paths and names -------------------------------------------------------------------
def path_bytes(path: PathArg, name: str = "path") -> bytes:
    """*path* (``str``, ``bytes`` or ``os.PathLike``) as the bytes the
    kernel gets: ``os.fsencode``, ``TypeError`` naming *name* for anything
    else, ``ValueError`` for an embedded NUL (the kernel would see a
    shorter path)."""
    if type(path) is bytes:
        raw = path
    else:
        try:
            raw = os.fsencode(path)
        except TypeError:
            raise TypeError(
                f"{name} must be str, bytes or os.PathLike, not {type(path).__name__!r}"
            ) from None
    if b"\0" in raw:
        raise ValueError(f"{name}: embedded null byte")
    return raw


def opt_path_bytes(path: Optional[PathArg], name: str = "path") -> Optional[bytes]:
    """:func:`path_bytes`, with ``None`` passed through (a NULL pointer)."""
    return None if path is None else path_bytes(path, name)


def name_bytes(name: str, value: Union[str, bytes]) -> bytes:
    """A name that is not a path (a hostname, a memfd name): ``str``
    (encoded with ``os.fsencode``) or ``bytes``, ``TypeError`` otherwise,
    ``ValueError`` for an embedded NUL."""
    if isinstance(value, str):
        raw = os.fsencode(value)
    elif isinstance(value, bytes):
        raw = bytes(value)
    else:
        raise TypeError(f"{name} must be str or bytes, not {type(value).__name__!r}")
    if b"\0" in raw:
        raise ValueError(f"{name}: embedded null byte")
    return raw


# -- timeouts ------------------------------------------------------------------------
_INF = float("inf")


def check_timeout(timeout: object) -> Optional[float]:
    """Validate a ``timeout`` argument the one way every module does:
    ``None`` or ``math.inf`` (returned as ``None``) wait forever, any other
    real number is seconds (zero or less: poll), NaN raises ``ValueError``,
    anything else ``TypeError``.  bools are refused."""
    if timeout is None:
        return None
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
        try:
            import numbers

            if isinstance(timeout, bool) or not isinstance(timeout, numbers.Real):
                raise TypeError
            timeout = float(timeout)
        except TypeError:
            raise TypeError(
                f"timeout must be a number or None, not {type(timeout).__name__!r}"
            ) from None
    if timeout != timeout:
        raise ValueError("timeout must not be NaN")
    if timeout == _INF:
        return None
    return timeout
