"""The anyio/trio side of the one queue: :class:`AnyioQueue`.

Each ``butter.anyio.<module>.<Class>_async`` is
``class <Class>_async(AnyioQueue, butter.asyncio.<module>.<Class>_async)``:
the asyncio class (configuration methods, aliases, the queue core) with the
driver of whichever framework runs (:func:`~butter.anyio._driver.current_driver`)
and the exceptions of ``butter.anyio``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, Optional, Type

from ._driver import current_driver
from ._exceptions import ClosedResourceError, QueueEmpty

if TYPE_CHECKING:
    from .._queue_core import Driver

__all__ = ["AnyioQueue"]


class AnyioQueue:
    """The mixin that makes a ``butter.asyncio`` queue class run under
    anyio (either backend) and plain trio.  List it first among the bases."""

    _Empty: ClassVar[Type[Exception]] = QueueEmpty
    _Closed: ClassVar[Type[ValueError]] = ClosedResourceError

    def _new_driver(self, required: bool) -> Optional[Driver]:
        cls = type(self)
        return current_driver(f"{cls.__module__.rsplit('.', 1)[-1]}.{cls.__name__}", required)
