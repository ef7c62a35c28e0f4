"""The asyncio side of the one queue behind every ``*_async`` class.

:class:`AsyncEventQueue` is :class:`butter._queue_core.EventQueue` (where
the backpressure, loss-free cancellation and close-order rules live, with
their invariants) bound to asyncio by :class:`AsyncioDriver`: the fd is
registered with the running loop's ``add_reader`` while the queue has room,
each wake-up reads everything the kernel has ready, and getters sleep on
futures.  It raises :class:`asyncio.QueueEmpty` and ``ValueError`` (closed).

Family modules subclass it in a few lines: build the source, pass it here
(the queue checks ``maxsize``, once for all), narrow the type of
``source``, and forward the configuration methods
through ``AsyncEventQueue._checked()`` (one closed-check for all).  The
original Butter's spellings of ``get()``/``get_nowait()`` come from
:class:`GetEventAliases` and :class:`WaitAliases`.  The classes of
``butter.anyio`` are these classes with another driver.
"""

from __future__ import annotations

import asyncio
import types
from typing import (
    TYPE_CHECKING,
    Any,
    Awaitable,
    Callable,
    ClassVar,
    Generator,
    List,
    Optional,
    Set,
    Type,
    TypeVar,
    cast,
)

from .._queue_core import Driver, EventQueue

if TYPE_CHECKING:
    from typing_extensions import Protocol

    from .._args import PathArg
    from .._queue_core import Waiter

    class TreeSource(Protocol):
        """What a tree watcher offers its queue (``InotifyTree``, ``FanotifyTree``)."""

        def watch(self, path: PathArg) -> None: ...

        def paths(self) -> Set[str]: ...

        @property
        def roots(self) -> List[str]: ...


__all__ = ["AsyncEventQueue", "AsyncioDriver", "GetEventAliases", "TreeQueue", "WaitAliases"]

E = TypeVar("E")


class AsyncioDriver(Driver):
    """Waiting on one asyncio loop: futures, and a reader callback."""

    __slots__ = ("loop",)

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop

    def is_current(self) -> bool:
        return asyncio.get_running_loop() is self.loop

    def waiter(self) -> Waiter:
        return self.loop.create_future()

    async def wait(self, queue: EventQueue[Any], waiter: Waiter) -> None:
        await waiter  # type: ignore[misc]

    def abandon(self, waiter: Waiter) -> bool:
        future: asyncio.Future[None] = waiter  # type: ignore[assignment]
        # cancel() is False when the future was done: it had been woken.
        return not future.cancel() and not future.cancelled()

    def set_reading(self, fd: int, on: bool, callback: Callable[[], None]) -> None:
        if on:
            self.loop.add_reader(fd, callback)
        else:
            self.loop.remove_reader(fd)

    async def ready(self, fd: int, write: bool) -> None:
        loop = self.loop
        fut = loop.create_future()

        def wake() -> None:
            if not fut.done():
                fut.set_result(None)

        if write:
            loop.add_writer(fd, wake)
        else:
            loop.add_reader(fd, wake)
        try:
            await fut
        finally:
            if write:
                loop.remove_writer(fd)
            else:
                loop.remove_reader(fd)

    def checkpoint(self) -> Awaitable[None]:
        return _yield()  # asyncio.sleep(0) without its frames


@types.coroutine
def _yield() -> Generator[None, None, None]:
    """Let the loop run once: a bare ``yield`` reschedules the task at once."""
    yield


def asyncio_driver(what: str, required: bool) -> Optional[AsyncioDriver]:
    """The driver of the running asyncio loop; without one ``None``, or if
    *required* a ``RuntimeError`` that points trio/anyio users to
    ``butter.anyio`` (*what*: the ``module.Class`` needing the loop)."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        if not required:
            return None
        raise RuntimeError(
            f"butter.asyncio.{what} needs a running asyncio event loop"
            f"; under trio (or anyio) use butter.anyio.{what}"
        ) from None
    return AsyncioDriver(loop)


class AsyncEventQueue(EventQueue[E]):
    """A read-only asyncio queue of the events of one kernel fd."""

    _Empty: ClassVar[Type[Exception]] = asyncio.QueueEmpty

    def _new_driver(self, required: bool) -> Optional[Driver]:
        cls = type(self)
        return asyncio_driver(f"{cls.__module__.rsplit('.', 1)[-1]}.{cls.__name__}", required)


# -- the original Butter's names (SPEC: "Aliases kept from the original") ------
class GetEventAliases(AsyncEventQueue[E]):
    """An :class:`AsyncEventQueue` that also answers to the original Butter's
    ``get_event()``/``get_event_nowait()`` (inotify, fanotify)."""

    async def get_event(self) -> E:
        """The same as :meth:`~butter._queue_core.EventQueue.get`."""
        return await self.get()

    def get_event_nowait(self) -> E:
        """The same as :meth:`~butter._queue_core.EventQueue.get_nowait`."""
        return self.get_nowait()


class WaitAliases(AsyncEventQueue[E]):
    """An :class:`AsyncEventQueue` that also answers to the original Butter's
    ``wait()`` (and ``wait_nowait()``) (eventfd, timerfd, signalfd)."""

    async def wait(self) -> E:
        """The same as :meth:`~butter._queue_core.EventQueue.get`."""
        return await self.get()

    def wait_nowait(self) -> E:
        """The same as :meth:`~butter._queue_core.EventQueue.get_nowait`."""
        return self.get_nowait()


class TreeQueue(GetEventAliases[E]):
    """The queue of a tree watcher (``InotifyTree_async``,
    ``FanotifyTree_async``): its roots and the paths it knows."""

    def _tree(self) -> TreeSource:
        return cast("TreeSource", self._checked().source)

    def watch(self, path: PathArg) -> None:
        """Add another root (see :meth:`butter.inotify.InotifyTree.watch`)."""
        self._tree().watch(path)

    def paths(self) -> Set[str]:
        """Every path the watcher believes exists under its roots."""
        return self._tree().paths()

    @property
    def roots(self) -> List[str]:
        """The watched roots, as absolute paths."""
        return cast("TreeSource", self.source).roots
