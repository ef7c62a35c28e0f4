"""A request of a :class:`~butter.aio.Context`, and the batch that defers
submission.

A :class:`Request` owns its ``struct iocb`` and the memory the kernel uses
for it (its *keep*: pinned buffers, butter's aligned memory, the iovec
array) until the kernel reports it complete; then :meth:`Request._finish`
records the result and lets go of the memory.  How a completion is
delivered once (``_home``, consuming by reading the result) is the
context's business, kept in :mod:`butter.aio._context`.
"""

from __future__ import annotations

import os

from ._buffers import _buffer, _copy_out
from ._constants import _ECANCELED

TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import TracebackType
    from typing import Any, Callable, Optional

    from ._context import Context

__all__ = ["Request"]


class Request:
    """One request of a :class:`Context`.

    ``done()`` is true once its completion was collected (by
    ``get_events()``, ``read_event(s)()``, ``wait()`` or by reading
    :attr:`result`/:attr:`exception`, which wait for it).  :attr:`result`
    is ``bytes`` for ``pread``, the ``poll`` revents mask for ``poll`` and
    the kernel's count (bytes transferred; 0 for ``fsync``/``fdsync``)
    otherwise.

    Reading :attr:`result` or :attr:`exception` *consumes* the completion:
    a request whose result was read before the :class:`Context` reported
    it is never reported by ``get_events()``, ``read_event(s)()``,
    ``wait()``, iteration or ``Context_async.get()`` (``done()`` alone
    does not consume it).
    """

    __slots__ = (
        "__weakref__",
        "_callback",
        "_cancelled",
        "_cb",
        "_copyout",
        "_done",
        "_exception",
        "_home",
        "_keep",
        "_owner",
        "_ptr",
        "_result",
        "fd",
        "offset",
        "op",
    )

    def __init__(self, op: str, fd: int, offset: int) -> None:
        self.op = op
        self.fd = fd
        self.offset = offset
        self._cb: Any = None
        self._keep: Any = None
        self._ptr: Any = None  # pread: where the data lands
        self._copyout: Any = None  # PyPy preadv: (bounce pointers, user buffers)
        self._owner: Optional[Context] = None
        self._callback: Optional[Callable[[Request], None]] = None
        self._done = False
        self._cancelled = False
        self._result: Any = None
        self._exception: Optional[OSError] = None
        #: The Context holding this completion, not yet reported to the user.
        self._home: Optional[Context] = None

    def done(self) -> bool:
        """True once the request completed (successfully or not)."""
        return self._done

    def _wait(self) -> None:
        owner = self._owner
        while not self._done:
            if owner is None:  # pragma: no cover - done requests have no owner
                break
            owner._wait_for(self)

    def _claim(self) -> None:
        """The user took the completion: its context must not report it."""
        home = self._home
        if home is not None:
            self._home = None
            home._forget(self)

    @property
    def result(self) -> Any:
        """The result; waits for the request, raises its exception.
        Consumes the completion (see the class docs)."""
        if not self._done:
            self._wait()
        if self._home is not None:
            self._claim()
        if self._exception is not None:
            raise self._exception
        return self._result

    @property
    def exception(self) -> Optional[OSError]:
        """``None``, or the ``OSError`` (errno from the kernel's negative
        result) the request failed with; waits for the request.  Consumes
        the completion (see the class docs)."""
        if not self._done:
            self._wait()
        if self._home is not None:
            self._claim()
        return self._exception

    def _finish(self, res: int) -> None:
        """Record the kernel's result and let go of the buffers."""
        if res < 0:
            self._exception = OSError(-res, os.strerror(-res))
        elif self._cancelled and res == 0 and self.op == "poll":
            self._exception = OSError(_ECANCELED, os.strerror(_ECANCELED))
        elif self._ptr is not None:
            self._result = _buffer(self._ptr, res)[:]
        else:
            self._result = res
            if self._copyout is not None:
                _copy_out(self._copyout, res)
        self._done = True
        self._keep = self._ptr = self._copyout = self._owner = None

    def _fail(self, err: int, detail: str = "") -> None:
        self._exception = OSError(err, os.strerror(err) + detail)
        self._done = True
        self._keep = self._ptr = self._copyout = self._owner = None

    def __repr__(self) -> str:
        if not self._done:
            state = "pending"
        elif self._exception is not None:
            state = f"error={self._exception.errno}"
        elif isinstance(self._result, bytes):
            state = f"result=<{len(self._result)} bytes>"
        else:
            state = f"result={self._result}"
        return f"<Request {self.op} fd={self.fd} offset={self.offset} {state}>"


class _Batch:
    """``with ctx.batch():`` -- requests made inside go to the kernel in one
    ``io_submit`` when the block ends."""

    __slots__ = ("_ctx",)

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx

    def __enter__(self) -> Context:
        ctx = self._ctx
        ctx._check_open()
        if ctx._deferred is None:
            ctx._deferred = []
            ctx._depth = 0
        ctx._depth += 1
        return ctx

    def __exit__(
        self,
        exc_type: Optional[type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        ctx = self._ctx
        ctx._depth -= 1
        if ctx._depth == 0:
            deferred = ctx._deferred or []
            ctx._deferred = None
            if ctx._ctx:
                ctx._submit_many(deferred)
