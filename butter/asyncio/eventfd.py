"""asyncio variant of :mod:`butter.eventfd`."""

from __future__ import annotations

from ..eventfd import Eventfd
from ._queue import AsyncEventQueue

__all__ = ["Eventfd_async"]


class Eventfd_async(AsyncEventQueue[int]):
    """An eventfd whose reads arrive through ``await get()``.

    Each event is the counter value read (1 per read with ``EFD_SEMAPHORE``).
    ``wait()`` is an alias of ``get()`` kept from the original Butter.
    """

    def __init__(self, initial_value: int = 0, flags: int = 0, maxsize: int = 0) -> None:
        self._eventfd = Eventfd(initial_value, flags)
        super().__init__(self._eventfd, maxsize)

    def increment(self, value: int = 1) -> None:
        """Add *value* to the counter."""
        self._eventfd.increment(value)

    wait = AsyncEventQueue.get
    wait_nowait = AsyncEventQueue.get_nowait
