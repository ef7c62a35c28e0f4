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
