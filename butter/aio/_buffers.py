"""Memory the kernel reads or writes behind Python's back.

Between ``io_submit`` and the completion the kernel holds raw addresses:
the buffer must neither move, shrink nor be freed.  Everything here returns,
next to the address it computes, the Python object that keeps the memory
alive (the *keep*); whoever submits holds the keep until the completion.

* :func:`_pin`: a caller's buffer used in place.  ``ffi.from_buffer`` keeps
  the object alive and, on CPython, holds a buffer export, so a
  ``bytearray`` cannot be resized under the kernel.
* :func:`_aligned`: butter's own 4096-byte-aligned memory (``O_DIRECT``
  needs aligned addresses), for ``pread`` results and copied ``pwrite`` data.
* :func:`_iovecs` / :func:`_bounce`: the ``struct iovec`` array of a
  vectored request: the caller's buffers pinned (CPython), or aligned bounce
  segments copied in now (writes) or out by :func:`_copy_out` on completion
  (reads; PyPy, which cannot lock a ``bytearray`` against resizing).
* :func:`aligned_buffer`: the public way to get ``O_DIRECT``-ready memory.
"""

from __future__ import annotations

from .._args import to_int
from .._lowlevel import ffi
from ._constants import _ALIGN

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, List, Tuple

__all__ = ["aligned_buffer"]

_alloc = ffi.new_allocator(should_clear_after_alloc=False)
_new = ffi.new
_cast = ffi.cast
_buffer = ffi.buffer
_from_buffer = ffi.from_buffer


def _address(cdata: Any) -> int:
    return int(_cast("uintptr_t", cdata))


def _pin(obj: Any, writable: bool) -> Any:
    """``ffi.from_buffer``: the cdata keeps *obj* alive and (on CPython)
    holds a buffer export, so a ``bytearray`` cannot be resized under the
    kernel.  ``TypeError`` for anything that is not a contiguous buffer."""
    try:
        return _from_buffer(obj, require_writable=writable)
    except BufferError as exc:
        what = "a writable" if writable else "a contiguous"
        raise TypeError(f"{what} bytes-like object is required ({exc})") from None


def _aligned(nbytes: int) -> Tuple[Any, Any]:
    """``(owner, pointer)``: *nbytes* of uninitialised memory at a 4096-byte
    boundary; *owner* frees it when collected."""
    owner = _alloc("char[]", nbytes + _ALIGN)
    ptr = owner + (-_address(owner) & (_ALIGN - 1))
    return owner, ptr


def aligned_buffer(size: int, alignment: int = 4096) -> memoryview:
    """Return a writable, zero-filled buffer of *size* bytes whose address
    is a multiple of *alignment* (a power of two), as ``O_DIRECT`` needs.

    The memory is an anonymous ``mmap`` (page aligned, never moved, on
    PyPy too); the returned ``memoryview`` keeps it alive.  Use it with
    :meth:`Context.preadv` / :meth:`Context.pwritev` / :meth:`Context.pwrite`
    or ``os.preadv``/``os.readv``.
    """
    size = to_int("size", size, "ssize_t", 0)  # mmap's length
    alignment = to_int("alignment", alignment, "ssize_t", 1)
    if alignment & (alignment - 1):
        raise ValueError(f"alignment must be a power of two, got {alignment}")
    import mmap  # lazily: keeps ``import butter.aio`` fast

    page = mmap.PAGESIZE
    extra = 0 if alignment <= page else alignment
    mem = mmap.mmap(-1, max(size + extra, 1))
    start = -_address(_from_buffer(mem)) & (alignment - 1) if extra else 0
    return memoryview(mem)[start : start + size]


def _buffer_list(buffers: Any) -> List[Any]:
    """The items of a sequence of buffers (``TypeError`` for a single buffer
    or a non-iterable: a ``bytes`` is not a sequence of buffers here)."""
    if isinstance(buffers, (bytes, bytearray, memoryview, str)):
        raise TypeError("buffers must be a sequence of bytes-like objects")
    try:
        return list(buffers)
    except TypeError:
        raise TypeError("buffers must be a sequence of bytes-like objects") from None


def _iovecs(buffers: Any, writable: bool) -> Tuple[Any, int, int]:
    """Pin each buffer; return ``(keep, address of the iovec array, count)``."""
    pinned = [_pin(b, writable) for b in _buffer_list(buffers)]
    iov = _new("butter_aio_iovec[]", max(len(pinned), 1))
    for i, c in enumerate(pinned):
        iov[i].iov_base = c
        iov[i].iov_len = len(c)
    return (pinned, iov), _address(iov), len(pinned)


def _bounce(buffers: Any, reading: bool) -> Tuple[Any, int, int, Any]:
    """Vectored I/O through memory butter owns (PyPy): each segment starts
    on a 4096-byte boundary; writes copy the data in now, reads copy it out
    on completion.  Returns ``(keep, iovec address, count, copyout)``;
    *copyout* (reads only, else ``None``) is for :func:`_copy_out`."""
    views = []
    for b in _buffer_list(buffers):
        _pin(b, reading)  # type and writability checks
        views.append(memoryview(b).cast("B"))
    iov = _new("butter_aio_iovec[]", max(len(views), 1))
    keep = [iov]
    copyout = []
    for i, view in enumerate(views):
        owner, ptr = _aligned(len(view))
        keep.append(owner)
        if reading:
            copyout.append((ptr, view))
        else:
            ffi.memmove(ptr, view, len(view))
        iov[i].iov_base = ptr
        iov[i].iov_len = len(view)
    return keep, _address(iov), len(views), (copyout if reading else None)


def _copy_out(copyout: Any, count: int) -> None:
    """PyPy preadv: copy *count* bytes from the bounce segments into the
    user's buffers (the kernel wrote the bounce memory, never theirs)."""
    for ptr, user in copyout:
        if count <= 0:
            break
        n = min(count, len(user))
        user[:n] = _buffer(ptr, n)[:]
        count -= n
