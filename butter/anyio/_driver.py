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
from typing import TYPE_CHECKING, Any, Callable, Optional

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


class _TrioWaiter:
    """What a getter sleeps in under trio: a cancel scope that waking
    cancels (so the same waiter serves a sleeping task and the reader)."""

    __slots__ = ("_done", "scope")

    def __init__(self, scope: Any) -> None:
        self.scope = scope
        self._done = False

    def done(self) -> bool:
        return self._done

    def set_result(self, result: None, /) -> None:
        self._done = True
        self.scope.cancel()


class TrioDriver(Driver):
    """Waiting under one ``trio.run``: the queue's reader is a waiting task.

    :meth:`wait` makes the task the reader when nobody reads the fd (and the
    queue wants it read): it waits in ``trio.lowlevel.wait_readable`` inside
    its waiter's cancel scope, and reads the fd for everyone when it returns;
    the other tasks sleep until woken.  (R1: see
    ``butter._queue_core.EventQueue._pass_on()``.)
    """

    __slots__ = ("_token", "_trio")
    pulls = True

    def __init__(self) -> None:
        import trio

        self._trio = trio
        self._token = trio.lowlevel.current_trio_token()

    def is_current(self) -> bool:
        try:
            return self._trio.lowlevel.current_trio_token() is self._token
        except RuntimeError:
            return False

    def waiter(self) -> Waiter:
        return _TrioWaiter(self._trio.CancelScope())

    async def wait(self, queue: EventQueue[Any], waiter: Waiter) -> None:
        trio = self._trio
        scope = waiter.scope  # type: ignore[attr-defined]
        if queue._reader is not None or not queue._wants_fd():
            with scope:
                await trio.sleep_forever()
            return
        queue._reader = waiter
        readable = False
        try:
            with scope:
                await trio.lowlevel.wait_readable(queue._fd)
                readable = True
        except trio.ClosedResourceError:  # notify_closing(): closed under us
            pass
        finally:
            if queue._reader is waiter:
                queue._reader = None
        if readable:
            queue._on_readable()

    def abandon(self, waiter: Waiter) -> bool:
        woken: bool = waiter._done  # type: ignore[attr-defined]
        waiter._done = True  # type: ignore[attr-defined]
        return woken

    def set_reading(self, fd: int, on: bool, callback: Callable[[], None]) -> None:
        raise AssertionError("a pulling driver has no reader callback")  # pragma: no cover

    def closing(self, fd: int) -> None:
        try:
            self._trio.lowlevel.notify_closing(fd)
        except RuntimeError:  # not inside trio.run (garbage collection...)
            pass

    async def ready(self, fd: int, write: bool) -> None:
        lowlevel = self._trio.lowlevel
        if write:
            await lowlevel.wait_writable(fd)
        else:
            await lowlevel.wait_readable(fd)

    async def checkpoint(self) -> None:
        await self._trio.lowlevel.checkpoint()
