"""File -> socket (or any fd) over a :class:`~butter.io_uring.Ring`: two
linked splices per chunk through a pipe, the data never entering Python."""

from __future__ import annotations

import os

from .._args import FdArg, fileno, to_int
from ._ring import Ring

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Optional

__all__ = ["sendfile"]

_CHUNK = 1 << 16  # a pipe's default capacity


def sendfile(
    ring: Ring, src: FdArg, dst: FdArg, count: Optional[int] = None, offset: int = 0
) -> int:
    """Copy *count* bytes (``None``: to the end of the file) of the regular
    file *src* from *offset* to *dst* (a socket, a pipe, a file) with
    ``IORING_OP_SPLICE`` requests on *ring*; return the count copied.

    Per 64 KiB chunk, two splices are queued as one linked chain (file ->
    pipe, pipe -> *dst*) and submitted together: one ``io_uring_enter``
    per chunk, no copy through Python.  The file position of *src* is not
    used or moved.  Errors raise the request's ``OSError``; a *dst* that
    stops accepting data (peer closed) raises as ``socket.send`` would
    (``EPIPE``...).  The ring is used synchronously: this waits for its
    own requests only (others' completions are kept for ``get_events``)."""
    if not isinstance(ring, Ring):
        raise TypeError(f"ring must be a butter.io_uring.Ring, not {type(ring).__name__!r}")
    sfd = fileno(src)
    dfd = fileno(dst)
    offset = to_int("offset", offset, "off_t", 0)
    end = os.fstat(sfd).st_size if count is None else offset + to_int("count", count, "off_t", 0)
    rd, wr = os.pipe2(os.O_CLOEXEC)
    sent = 0
    try:
        pos = offset
        while pos < end:
            n = min(_CHUNK, end - pos)
            with ring.linked():
                into = ring.splice(sfd, wr, pos, None, n)
                out = ring.splice(rd, dfd, None, None, n)
            got = into.result  # OSError of the file side
            if got == 0:
                out.exception  # noqa: B018 - cancelled by the short link: collect it
                break
            done = _result(out, got)
            while done < got:  # a short write to dst: the rest is in the pipe
                done += ring.splice(rd, dfd, None, None, got - done).result
            pos += got
            sent += got
    finally:
        os.close(rd)
        os.close(wr)
    return sent


def _result(req: object, expected: int) -> int:
    """The pipe -> dst count; a chain cut by a short file read (ECANCELED
    would be wrong here: the link only breaks on errors) is retried by the
    caller."""
    from ..aio import Request

    assert isinstance(req, Request)
    exc = req.exception
    if exc is not None:
        import errno

        if exc.errno == errno.ECANCELED:
            return 0  # the file read was short: nothing was moved yet
        raise exc
    n: int = req.result
    return n
