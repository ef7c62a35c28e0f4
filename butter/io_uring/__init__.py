"""io_uring: io_uring_setup(2), io_uring_enter(2), io_uring_register(2).

The kernel's completion-based I/O interface (Linux 5.1+): the process and
the kernel share two rings, a *submission queue* of requests (SQEs) and a
*completion queue* of results (CQEs).  Any number of requests -- reads and
writes of any file (buffered or ``O_DIRECT``), sockets, ``openat``,
``close``, ``splice``, timeouts, ``fsync``... -- go to the kernel in one
``io_uring_enter``, and their results come back without a system call per
request.

Two levels:

* **thin wrappers**, one per syscall: :func:`io_uring_setup` returns the
  ring's fd, :func:`io_uring_enter` and :func:`io_uring_register` take what
  the kernel does; the ``IORING_*`` and ``IOSQE_*`` constants come from
  the system headers (the kernel ABI values where the headers are older).
  :func:`probe` lists the operations this kernel supports.
* :class:`Ring` maps the rings itself (no liburing), fills SQEs and reaps
  CQEs in C, and is event-like (``fileno()`` is an eventfd registered with
  ``IORING_REGISTER_EVENTFD``, readable when completions are ready).  Its
  request methods have the names, argument order and
  :class:`~butter.aio.Request` objects of :class:`butter.aio.Context`::

      import os, tempfile
      from butter.io_uring import Ring

      with tempfile.TemporaryFile() as f, Ring() as ring:
          w = ring.pwrite(f.fileno(), b"hello", 0)
          ring.get_events(min_nr=1)           # submits, then waits
          r = ring.pread(f.fileno(), 5, 0)
          assert r.result == b"hello"         # submits, waits, consumes

Batching: a request method only fills an SQE.  The queue goes to the
kernel on :meth:`Ring.submit`, in any call that waits, or when it is full.

Memory safety (what butter adds): a request's buffers stay referenced by
the ring until the kernel reports it complete; :meth:`Ring.close` cancels
what is in flight and waits for every completion before it lets any
buffer go or unmaps the rings.

Each completion is delivered once, exactly as for :mod:`butter.aio`: by
``get_events()``, ``read_event(s)()``, ``wait()``, iteration, or to
whoever reads the request's :attr:`~butter.aio.Request.result` first.
Errors (``EBADF``, ``ENOENT`` from ``openat``, ``ECANCELED`` for the rest
of a broken :meth:`~Ring.linked` chain...) are ``OSError`` in
:attr:`~butter.aio.Request.exception`; an operation the kernel lacks
raises ``OSError(EOPNOTSUPP)`` naming it when the request is made.

A ring cannot be used in a ``fork()`` child (close it there: the
parent's requests are not touched).

The package: ``_constants``, ``_thin`` (the syscalls, :func:`probe`),
``_request`` (the builders, :class:`Fixed`), ``_ring`` (:class:`Ring`)
and ``_sendfile`` (:func:`sendfile`).
"""

from __future__ import annotations

from .._public import publish
from . import _constants
from ._constants import *  # noqa: F403 - the IORING_*/IOSQE_* constants
from ._request import Fixed
from ._ring import Ring
from ._sendfile import sendfile
from ._thin import io_uring_enter, io_uring_register, io_uring_setup, probe

__all__ = [
    "Fixed", "Ring", "io_uring_enter", "io_uring_register", "io_uring_setup", "probe",
    "sendfile",
]  # fmt: skip
__all__ += _constants.__all__

publish(__name__, globals())
