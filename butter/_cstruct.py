"""``struct.Struct`` formats derived from the compiled C layout.

Kernel records (``struct signalfd_siginfo``, ``struct inotify_event``,
``struct fanotify_event_metadata``, ...) are parsed in Python with the
:mod:`struct` module, which is faster than going through cffi field by field.
The format string must never be written by hand: field offsets, sizes and
signedness come from the system headers, through the compiler, through
``ffi.typeof(...).fields``.  :func:`cstruct` builds that format once, at
import time::

    SIGINFO, NAMES = cstruct(ffi, "struct signalfd_siginfo")
    SIGINFO.size == ffi.sizeof("struct signalfd_siginfo")   # always
    values = SIGINFO.unpack_from(buf, offset)               # in NAMES order

Everything not selected (padding, reserved fields, fields the cdef does not
name because the struct ends in ``...;``) becomes pad bytes, so the
``Struct`` always spans the whole C struct and ``iter_unpack`` walks an array
of records.
"""

from __future__ import annotations

import struct

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: see butter/_fd.py
if TYPE_CHECKING:
    from typing import Any, Iterable, List, Tuple

__all__ = ["cstruct"]

# struct codes for integers by size; lower case is signed.
_INT_CODES = {1: "b", 2: "h", 4: "i", 8: "q"}


def _code(ffi: Any, name: str, ctype: Any) -> str:
    """The struct code for one C field of type *ctype*."""
    kind = ctype.kind
    if kind == "primitive":
        cname = ctype.cname
        size = ffi.sizeof(ctype)
        if cname in ("float", "double"):
            return "f" if size == 4 else "d"
        if cname == "_Bool":
            return "?"
        if cname == "char":
            return "c"
        if size not in _INT_CODES:
            raise TypeError(f"field {name!r}: unsupported C type {cname!r}")
        code = _INT_CODES[size]
        # Signedness from the type itself: -1 stays negative only if signed.
        return code if int(ffi.cast(ctype, -1)) < 0 else code.upper()
    if kind == "enum":
        size = ffi.sizeof(ctype)
        code = _INT_CODES[size]
        return code if int(ffi.cast(ctype, -1)) < 0 else code.upper()
    if kind == "array" and ctype.length is not None:
        item = ctype.item
        if item.kind == "primitive" and ffi.sizeof(item) == 1:
            return f"{ctype.length}s"  # a fixed byte array, as bytes
    raise TypeError(f"field {name!r}: cannot unpack C type {ctype.cname!r}")


def cstruct(
    ffi: Any, cdecl: str, fields: Iterable[str] | None = None
) -> Tuple[struct.Struct, Tuple[str, ...]]:
    """Return ``(Struct, names)`` to unpack the C type *cdecl*.

    *fields* selects C field names to unpack; by default every scalar field
    whose name does not start with ``_`` (padding).  ``Struct.unpack``
    returns them in offset order, which is the order of *names*.  Integers
    keep the width and signedness of their C type, byte arrays (``char[N]``,
    ``uint8_t[N]``) become ``bytes``; anything else may not be selected.
    Flexible array members are left out: ``Struct.size`` is
    ``ffi.sizeof(cdecl)`` (the fixed part), native byte order, no implicit
    alignment (the gaps are explicit pad bytes).
    """
    ctype = ffi.typeof(cdecl)
    size = ffi.sizeof(ctype)
    all_fields = dict(ctype.fields)
    if fields is None:
        wanted = [
            name
            for name, field in all_fields.items()
            if not name.startswith("_")
            and field.type.kind in ("primitive", "enum")
            and field.bitsize < 0
        ]
    else:
        wanted = list(fields)
        missing = [name for name in wanted if name not in all_fields]
        if missing:
            raise KeyError(f"{cdecl} has no field(s) {', '.join(missing)}")
    chosen = sorted(wanted, key=lambda name: all_fields[name].offset)
    parts: List[str] = ["="]
    pos = 0
    for name in chosen:
        field = all_fields[name]
        if field.bitsize >= 0:
            raise TypeError(f"field {name!r} is a bit field")
        if field.offset < pos:
            raise TypeError(f"field {name!r} overlaps the previous one (a union?)")
        if field.offset > pos:
            parts.append(f"{field.offset - pos}x")
        parts.append(_code(ffi, name, field.type))
        pos = field.offset + ffi.sizeof(field.type)
    if pos < size:
        parts.append(f"{size - pos}x")
    result = struct.Struct("".join(parts))
    assert result.size == size, (cdecl, result.format, size)
    return result, tuple(chosen)
