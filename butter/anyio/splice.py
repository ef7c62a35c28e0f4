"""anyio/trio variant of :mod:`butter.asyncio.splice` (see :mod:`butter.anyio`)."""

from __future__ import annotations

from typing import Callable, Optional

from .._args import FdArg
from ..asyncio.splice import splice_copy_with
from ._driver import current_driver

__all__ = ["splice_copy_async"]


async def splice_copy_async(
    src: FdArg,
    dst: FdArg,
    count: Optional[int] = None,
    *,
    src_offset: Optional[int] = None,
    dst_offset: Optional[int] = None,
    pipe_size: Optional[int] = None,
    progress: Optional[Callable[[int], object]] = None,
) -> int:
    """:func:`butter.asyncio.splice.splice_copy_async` under anyio (either
    backend) or trio: copy *src* to *dst* with splice(2) until end of file
    (or *count* bytes) without blocking the event loop; return the bytes
    copied.  Sockets and character devices must be non-blocking."""
    driver = current_driver("splice.splice_copy_async", True)
    assert driver is not None
    return await splice_copy_with(
        driver, src, dst, count, src_offset, dst_offset, pipe_size, progress
    )
