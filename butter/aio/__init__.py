"""Linux native AIO: io_setup(2), io_submit(2), io_getevents(2), io_cancel(2),
io_destroy(2).

The kernel keeps an *AIO context* (a ring of completion events).  You
submit ``struct iocb`` requests (read, write, vectored read/write, fsync,
fdatasync, poll) and collect one ``struct io_event`` per request when it is
done.  Reads and writes are truly asynchronous only on files opened with
``O_DIRECT`` (and block devices); on other files the kernel does the work
inside ``io_submit`` and the completion is ready when it returns.  Reading a
pipe or a socket this way blocks ``io_submit`` until data arrives.

Two levels:

* **thin wrappers**, one per syscall: :func:`io_setup` returns the context id
  (an ``int``), :func:`io_submit` takes :class:`Iocb` objects, and
  :func:`io_getevents` returns :class:`IoEvent` records.  An :class:`Iocb`
  owns its ``struct iocb`` and holds references to the buffers it names;
  between ``io_submit`` and the ``io_getevents`` (or ``io_destroy``) that
  ends it, butter also holds the :class:`Iocb`, so dropping it cannot let
  the kernel write into freed memory.
* :class:`Context` owns an AIO context and an eventfd that the kernel
  signals on every completion (``IOCB_FLAG_RESFD``): it is event-like
  (``fileno()`` is readable when completions are ready, ``read_event()`` /
  ``read_events()`` / ``get_events()`` return completed :class:`Request`
  objects).  Requests follow the ``os`` argument order::

      with Context() as ctx:
          w = ctx.pwrite(fd, b"hello", 0)
          r = ctx.pread(fd, 5, 0)
          ctx.get_events(min_nr=2)
          assert r.result == b"hello"

Memory safety (what butter adds): a request's buffers (and its
``struct iocb``) stay referenced by the :class:`Context` until the kernel
reports the request complete.  :meth:`Context.close` first collects the
completions that are ready, then calls ``io_destroy``, which cancels what
can be cancelled and *waits* for every other request of the context
(since Linux 4.2; "aio: block io_destroy() until all context requests are
completed"), and only then releases the buffers.  Requests still in
flight at close end with ``OSError(ECANCELED)``: the kernel finished or
cancelled them, but their completion events are discarded with the context.

Errors: a request the kernel refuses at submission (bad fd -> ``EBADF``,
fd not open for reading -> ``EBADF``, negative offset -> ``EINVAL``)
does not raise: it completes at once with that error in
:attr:`Request.exception`, and is reported by ``get_events()`` like any
other completion (so a batch never half-raises).

Each completion is delivered once: by ``get_events()``, ``read_event()``,
``read_events()``, ``wait()`` or iteration, *or* to whoever reads the
request's :attr:`~Request.result` / :attr:`~Request.exception` first.  A
request whose result was read (waiting for it, or after ``done()``) is not
reported again by those methods.  Errors during the I/O
(``EIO``, ``EINVAL`` for a misaligned ``O_DIRECT`` transfer, ...) arrive the
same way.  ``Request.result`` raises the request's exception.

Threads may share a :class:`Context` (see its docs); it cannot be used in
a ``fork()`` child (the kernel does not copy AIO contexts).

The package: ``_constants`` (the ``IOCB_*`` values and tables),
``_buffers`` (pinning, aligned memory, :func:`aligned_buffer`), ``_thin``
(the syscalls, :class:`Iocb`, :class:`IoEvent`, the in-flight registry),
``_request`` (:class:`Request`, its builders, the batch) and ``_context``
(:class:`Context`), each importing only those before it.
"""

from __future__ import annotations

from .._public import publish
from . import _constants
from ._buffers import aligned_buffer
from ._constants import *  # noqa: F403 - the IOCB_* constants
from ._context import Context
from ._request import Request
from ._thin import Iocb, IoEvent, io_cancel, io_destroy, io_getevents, io_setup, io_submit

__all__ = [
    "Context", "IoEvent", "Iocb", "Request", "aligned_buffer", "io_cancel", "io_destroy",
    "io_getevents", "io_setup", "io_submit",
]  # fmt: skip
__all__ += _constants.__all__

publish(__name__, globals())
