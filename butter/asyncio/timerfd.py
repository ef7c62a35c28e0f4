"""asyncio variant of :mod:`butter.timerfd`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

from ..timerfd import CLOCK_MONOTONIC, Timer, TimerSpec
from ._queue import AsyncEventQueue

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = ["Timer_async", "Timerfd_async"]


class Timerfd_async(AsyncEventQueue[int]):
    """A timerfd whose expirations arrive through ``await get()``.

    Each event is the number of expirations since the previous read (more
    than 1 when the consumer fell behind by whole periods: none is lost).
    Configuration is :class:`~butter.timerfd.Timer`'s, fluent as there::

        timer = Timerfd_async().every(seconds=0.1).update()
        while True:
            expirations = await timer.get()

    ``wait()`` is an alias of ``get()`` kept from the original Butter.
    """

    def __init__(self, clock_type: int = CLOCK_MONOTONIC, flags: int = 0, maxsize: int = 0) -> None:
        self._timer = Timer(clock_type, flags)
        super().__init__(self._timer, maxsize)

    def _check_open(self) -> None:
        if self._closed:
            raise ValueError(f"I/O operation on closed {type(self).__name__}")

    def every(self, seconds: Optional[float] = None, nano_seconds: Optional[int] = None) -> Self:
        """Configure the period (see :meth:`Timer.every`); return ``self``."""
        self._check_open()
        self._timer.every(seconds, nano_seconds)
        return self

    def after(self, seconds: Optional[float] = None, nano_seconds: Optional[int] = None) -> Self:
        """Configure the first expiration (see :meth:`Timer.after`); return
        ``self``."""
        self._check_open()
        self._timer.after(seconds, nano_seconds)
        return self

    def update(self, absolute: bool = False, *, cancel_on_set: bool = False) -> Self:
        """Arm the timer (see :meth:`Timer.update`); return ``self``.
        Expirations already queued stay queued."""
        self._check_open()
        self._timer.update(absolute, cancel_on_set=cancel_on_set)
        return self

    def disable(self) -> Self:
        """Disarm the timer (see :meth:`Timer.disable`); return ``self``."""
        self._check_open()
        self._timer.disable()
        return self

    def get_current(self) -> TimerSpec:
        """The kernel's current setting of the timer."""
        self._check_open()
        return self._timer.get_current()

    wait = AsyncEventQueue.get
    wait_nowait = AsyncEventQueue.get_nowait


#: Alias named after :class:`~butter.timerfd.Timer`.
Timer_async = Timerfd_async
