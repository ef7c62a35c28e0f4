"""asyncio variant of :func:`butter.splice.splice_copy`."""

from __future__ import annotations

import os
import stat
from typing import Callable, Optional

from .._args import FdArg
from .._queue_core import Driver
from ..splice import SPLICE_F_MOVE, SPLICE_F_NONBLOCK, _check_progress, _Pump
from ._queue import asyncio_driver

__all__ = ["splice_copy_async"]

# Bytes moved between two visits to the event loop when nothing blocks.
_BUDGET = 1 << 24


def _needs_nonblocking(mode: int) -> bool:
    return stat.S_ISSOCK(mode) or stat.S_ISCHR(mode)


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
    """Copy *src* to *dst* with splice(2) until end of file (or *count*
    bytes) without blocking the event loop; return the bytes copied.

    Arguments as :func:`butter.splice.splice_copy`.  Sockets and character
    devices must be non-blocking (``sock.setblocking(False)``, as asyncio's
    own ``sock_*`` methods require); pipes are driven with
    ``SPLICE_F_NONBLOCK``.  As with ``loop.sendfile``, reading a regular file
    may still wait for the disk (page cache misses).  Every 16 MiB the
    coroutine yields to the loop even when nothing would block.  If it is
    cancelled, the bytes in flight are lost.  *progress* is called after
    each chunk as for :func:`~butter.splice.splice_copy`.
    """
    driver = asyncio_driver("splice.splice_copy_async", True)
    assert driver is not None
    return await splice_copy_with(
        driver, src, dst, count, src_offset, dst_offset, pipe_size, progress
    )


async def splice_copy_with(
    driver: Driver,
    src: FdArg,
    dst: FdArg,
    count: Optional[int],
    src_offset: Optional[int],
    dst_offset: Optional[int],
    pipe_size: Optional[int],
    progress: Optional[Callable[[int], object]],
) -> int:
    """:func:`splice_copy_async` for any framework: *driver* waits."""
    _check_progress(progress)
    pump = _Pump(
        src,
        dst,
        count,
        src_offset,
        dst_offset,
        pipe_size,
        SPLICE_F_MOVE | SPLICE_F_NONBLOCK,
        _BUDGET,
    )
    try:
        for fd, mode in ((pump.fd_in, pump.in_mode), (pump.fd_out, pump.out_mode)):
            if _needs_nonblocking(mode) and os.get_blocking(fd):
                raise ValueError(f"fd {fd} must be non-blocking (it would block the event loop)")
        # Every splice is non-blocking here.  After EAGAIN the pump names
        # what to wait for; it never waits on src while its pipe holds
        # undelivered bytes (see butter.splice._Pump).
        if progress is not None:
            pump.per_chunk()
        reported = yielded = 0
        while True:
            r = pump.step()
            if progress is not None:
                done = pump.done
                if done != reported:
                    reported = done
                    progress(done)
                if r > 0 and done - yielded < _BUDGET:
                    continue  # a chunk, not yet the budget: on, as without progress
                yielded = done
            if r == 0:
                return pump.done
            waits = pump.waits() if r < 0 else []
            if not waits:  # budget used up, or only regular files involved
                await driver.checkpoint()
            for fd, write in waits:
                await driver.ready(fd, write)
    finally:
        pump.close()
