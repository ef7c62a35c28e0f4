"""asyncio variant of :mod:`butter.eventfd`."""

from __future__ import annotations

from ..eventfd import Eventfd
from ._queue import WaitAliases

__all__ = ["Eventfd_async"]


class Eventfd_async(WaitAliases[int]):
    """An eventfd whose reads arrive through ``await get()``.

    Same arguments as :class:`~butter.eventfd.Eventfd`, plus *maxsize*.
    Each event is the counter value read (1 per read with ``EFD_SEMAPHORE``).
    ``wait()`` is an alias of ``get()`` kept from the original Butter.
    """

    source: Eventfd  # the type of AsyncEventQueue.source here

    def __init__(self, initial_value: int = 0, flags: int = 0, maxsize: int = 0) -> None:
        super().__init__(Eventfd(initial_value, flags), maxsize)

    def increment(self, value: int = 1) -> None:
        """Add *value* to the counter."""
        self._checked().source.increment(value)


# -- compatibility with Butter 0.9/0.13.1 -------------------------------------
from .. import _compat  # noqa: E402

#: The original's ``loop=`` (ignored) and ``inital_value=`` (sic).
_compat.patch_init(Eventfd_async, {"inital_value": "initial_value"}, loop=True)


async def _wait_noting_last(self: Eventfd_async) -> int:
    """The same as ``get()`` (the original Butter's name for it)."""
    item = await self.get()
    self._compat_last = item  # type: ignore[attr-defined]
    return item


def _wait_nowait_noting_last(self: Eventfd_async) -> int:
    """The same as ``get_nowait()``."""
    item = self.get_nowait()
    self._compat_last = item  # type: ignore[attr-defined]
    return item


def _get_last(self: Eventfd_async) -> int:
    """Deprecated (Butter 0.13.1): the newest counter value read from the
    fd: the last one queued, else the last one ``wait()`` returned (the
    original's only way to read), else 0; use ``get_nowait()``."""
    self._checked()  # closed: ValueError, as every method
    _compat.deprecated("Eventfd_async.get_last()", "Eventfd_async.get_nowait()")
    if not self._items:
        self._pull()
    if self._items:
        return self._items[-1]
    last: int = getattr(self, "_compat_last", 0)
    return last


TYPE_CHECKING = False
if not TYPE_CHECKING:  # type checkers see the new API only
    # Only the original's spellings note the value handed out, so get()
    # and get_nowait() pay nothing for get_last().
    for _name, _func in (
        ("wait", _wait_noting_last),
        ("wait_nowait", _wait_nowait_noting_last),
        ("get_last", _get_last),
    ):
        _func.__name__, _func.__qualname__ = _name, f"Eventfd_async.{_name}"
        setattr(Eventfd_async, _name, _func)
    del _name, _func
