"""Which framework is running, and how to wait under trio.

:func:`current_driver` picks the :class:`~butter._queue_core.Driver` of the
running event loop: :class:`~butter.asyncio._queue.AsyncioDriver` under
asyncio (anyio's asyncio backend included), :class:`TrioDriver` under trio
(anyio's trio backend, or a plain ``trio.run``).  trio is imported only when
it is the one running.
"""

from __future__ import annotations

import asyncio
import sys
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Optional

from .._queue_core import Driver
from ..asyncio._queue import AsyncioDriver

if TYPE_CHECKING:
    from .._queue_core import EventQueue, Waiter

__all__ = ["TrioDriver", "current_driver", "current_library"]


def current_library() -> Optional[str]:
    """``"asyncio"``, ``"trio"``, ... (the running async library), or ``None``."""
    sniffio: Any = sys.modules.get("sniffio")
    if sniffio is None and "trio" in sys.modules:
        import sniffio  # trio depends on it
    if sniffio is not None:
        try:
            name: str = sniffio.current_async_library()
        except sniffio.AsyncLibraryNotFoundError:
            return None
        return name
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return None
    return "asyncio"


def current_driver(what: str, required: bool) -> Optional[Driver]:
    """The driver for the running event loop (``None`` if none and not
    *required*; else a ``RuntimeError`` naming *what* needs one)."""
    library = current_library()
    if library == "trio":
        return TrioDriver()
    if library == "asyncio":
        return AsyncioDriver(asyncio.get_running_loop())
    if not required:
        return None
    found = f", not in {library}" if library else ""
    raise RuntimeError(
        f"butter.anyio.{what} must be used inside a running asyncio or trio event loop{found}"
    )


# _TrioWaiter states
_WAITING, _WOKEN, _ABANDONED = 0, 1, 2


class _TrioWaiter:
    """What a task waits on under trio.

    A sleeping task is parked in ``trio.lowlevel.wait_task_rescheduled``:
    waking it is ``reschedule(task)``.  The reader is parked in
    ``trio.lowlevel.wait_readable(fd)``: waking it is
    ``trio.lowlevel.notify_closing(fd)``, which makes that wait raise
    ``ClosedResourceError`` (trio's documented way to interrupt waits on an
    fd; the fd stays usable, the next wait registers it again).  Neither
    costs anything unless a wake-up happens: the common path (the reader
    woken by the kernel) creates no cancel scope.  ``state`` makes each
    waiter woken or abandoned once, so ``reschedule`` runs at most once and
    only while the task is parked.
    """

    __slots__ = ("fd", "lowlevel", "state", "task")

    def __init__(self, lowlevel: Any) -> None:
        self.lowlevel = lowlevel
        self.state = _WAITING
        self.task: Any = None  # set while parked as a sleeper
        self.fd = -1  # set while parked as the reader

    def done(self) -> bool:
        return self.state != _WAITING

    def set_result(self, result: None, /) -> None:
        if self.state != _WAITING:
            return
        self.state = _WOKEN
        if self.task is not None:
            task, self.task = self.task, None
            self.lowlevel.reschedule(task)
        elif self.fd >= 0:
            self.lowlevel.notify_closing(self.fd)

    def abort(self, raise_cancel: Any) -> Any:
        """``wait_task_rescheduled``'s abort hook: cancelled while asleep."""
        self.state = _ABANDONED
        self.task = None
        return self.lowlevel.Abort.SUCCEEDED


class TrioDriver(Driver):
    """Waiting under one ``trio.run``: the queue's reader is a waiting task.

    :meth:`wait` makes the task the reader when nobody reads the fd (and the
    queue wants it read): it waits in ``trio.lowlevel.wait_readable`` and
    reads the fd for everyone when that returns; the other tasks sleep
    until woken (see ``_TrioWaiter``).  (R1: see
    ``butter._queue_core.EventQueue._pass_on()``.)
    """

    __slots__ = ("_closed_error", "_lowlevel", "_token")
    pulls = True

    def __init__(self) -> None:
        import trio

        self._lowlevel = trio.lowlevel
        self._closed_error = trio.ClosedResourceError
        self._token = trio.lowlevel.current_trio_token()

    def is_current(self) -> bool:
        try:
            return self._lowlevel.current_trio_token() is self._token
        except RuntimeError:
            return False

    def waiter(self) -> Waiter:
        return _TrioWaiter(self._lowlevel)

    async def wait(self, queue: EventQueue[Any], waiter: Waiter) -> None:
        w: _TrioWaiter = waiter  # type: ignore[assignment]
        lowlevel = self._lowlevel
        if queue._reader is not None or not queue._wants_fd():
            w.task = lowlevel.current_task()
            await lowlevel.wait_task_rescheduled(w.abort)
            return
        queue._reader = waiter
        w.fd = queue._fd
        try:
            await lowlevel.wait_readable(w.fd)
        except self._closed_error:  # woken (or the queue is closing)
            return
        finally:
            w.fd = -1
            if queue._reader is waiter:
                queue._reader = None
        queue._on_readable()

    def abandon(self, waiter: Waiter) -> bool:
        w: _TrioWaiter = waiter  # type: ignore[assignment]
        woken = w.state == _WOKEN
        w.state = _ABANDONED
        w.task = None
        return woken

    def set_reading(self, fd: int, on: bool, callback: Callable[[], None]) -> None:
        raise AssertionError("a pulling driver has no reader callback")  # pragma: no cover

    def closing(self, fd: int) -> None:
        try:
            self._lowlevel.notify_closing(fd)
        except RuntimeError:  # not inside trio.run (garbage collection...)
            pass

    async def ready(self, fd: int, write: bool) -> None:
        if write:
            await self._lowlevel.wait_writable(fd)
        else:
            await self._lowlevel.wait_readable(fd)

    def checkpoint(self) -> Awaitable[None]:
        return self._lowlevel.checkpoint()
