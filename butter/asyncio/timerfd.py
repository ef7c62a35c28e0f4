"""asyncio variant of :mod:`butter.timerfd`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

from ..timerfd import CLOCK_MONOTONIC, Timer, TimerSpec
from ._queue import WaitAliases

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = ["Timer_async", "Timerfd_async"]


class Timerfd_async(WaitAliases[int]):
    """A timerfd whose expirations arrive through ``await get()``.

    Same arguments as :class:`~butter.timerfd.Timer`, plus *maxsize*.  Each
    event is the number of expirations since the previous read (more than 1
    when the consumer fell behind by whole periods: none is lost).
    Configuration is :class:`~butter.timerfd.Timer`'s, fluent as there::

        timer = Timerfd_async().every(seconds=0.1).update()
        while True:
            expirations = await timer.get()

    ``wait()`` is an alias of ``get()`` kept from the original Butter.
    """

    source: Timer  # the type of AsyncEventQueue.source here

    def __init__(self, clock_type: int = CLOCK_MONOTONIC, flags: int = 0, maxsize: int = 0) -> None:
        super().__init__(Timer(clock_type, flags), maxsize)

    def every(self, seconds: Optional[float] = None, nano_seconds: Optional[int] = None) -> Self:
        """Configure the period (see :meth:`~butter.timerfd.Timer.every`); return ``self``."""
        self._checked().source.every(seconds, nano_seconds)
        return self

    def after(self, seconds: Optional[float] = None, nano_seconds: Optional[int] = None) -> Self:
        """Configure the first expiration (see :meth:`~butter.timerfd.Timer.after`); return
        ``self``."""
        self._checked().source.after(seconds, nano_seconds)
        return self

    def update(self, absolute: bool = False, *, cancel_on_set: bool = False) -> Self:
        """Arm the timer (see :meth:`~butter.timerfd.Timer.update`); return ``self``.
        Expirations already queued stay queued."""
        self._checked().source.update(absolute, cancel_on_set=cancel_on_set)
        return self

    def disable(self) -> Self:
        """Disarm the timer (see :meth:`~butter.timerfd.Timer.disable`); return ``self``."""
        self._checked().source.disable()
        return self

    def get_current(self) -> TimerSpec:
        """The kernel's current setting of the timer."""
        return self._checked().source.get_current()


#: Alias named after :class:`~butter.timerfd.Timer`.
Timer_async = Timerfd_async


# -- compatibility with Butter 0.9/0.13.1 -------------------------------------
from .. import _compat  # noqa: E402

#: The original's ``loop=`` (ignored).
_compat.patch_init(Timerfd_async, loop=True)

from .. import timerfd as _timerfd_mod  # noqa: E402


def _set_reoccuring(
    self: Timerfd_async,
    seconds: float,
    nano_seconds: int = 0,
    next_seconds: float = 0,
    next_nano_seconds: int = 0,
    absolute: bool = False,
) -> TimerSpec:
    """Deprecated (Butter 0.9): use ``every(...).after(...).update()``."""
    source = self._checked().source
    _compat.deprecated(
        "Timerfd_async.set_reoccuring()", "Timerfd_async.every(...).after(...).update()"
    )
    return _timerfd_mod._reoccuring(
        source, seconds, nano_seconds, next_seconds, next_nano_seconds, absolute
    )


def _set_one_off(
    self: Timerfd_async, seconds: float, nano_seconds: int = 0, absolute: bool = False
) -> TimerSpec:
    """Deprecated (Butter 0.9): use ``every().after(...).update()``."""
    source = self._checked().source
    _compat.deprecated("Timerfd_async.set_one_off()", "Timerfd_async.every().after(...).update()")
    return _timerfd_mod._one_off(source, seconds, nano_seconds, absolute)


if not TYPE_CHECKING:  # type checkers see the new API only
    Timerfd_async.set_reoccuring = _set_reoccuring
    Timerfd_async.set_one_off = _set_one_off
