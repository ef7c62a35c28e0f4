"""asyncio variant of :mod:`butter.signalfd`."""

from __future__ import annotations

from typing import TYPE_CHECKING, FrozenSet, Set

from .._fd import check_int
from ..signalfd import Signal, Signalfd
from ._queue import AsyncEventQueue

if TYPE_CHECKING:
    from ..signalfd import SignalNumber, SignalsArg

__all__ = ["Signalfd_async"]


class Signalfd_async(AsyncEventQueue[Signal]):
    """A signalfd whose :class:`~butter.signalfd.Signal` records arrive
    through ``await get()`` (alias ``wait()``, kept from the original).

    Same arguments as :class:`~butter.signalfd.Signalfd` plus ``maxsize``;
    the signals must be blocked as for the sync class (``block=True``
    blocks them in the calling thread, normally the loop's thread).  Unlike
    ``loop.add_signal_handler`` no Python signal handler is involved: the
    kernel queues the signal, the loop sees the fd readable.
    """

    def __init__(
        self,
        signals: SignalsArg = (),
        flags: int = 0,
        maxsize: int = 0,
        *,
        block: bool = False,
    ) -> None:
        maxsize = check_int("maxsize", maxsize)
        self._signalfd = Signalfd(signals, flags)
        super().__init__(self._signalfd, maxsize)
        if block:
            self._signalfd.block()

    @property
    def signals(self) -> FrozenSet[SignalNumber]:
        """The watched signals."""
        return self._signalfd.signals

    def __contains__(self, sig: object) -> bool:
        return sig in self._signalfd

    def enable(self, signals: SignalsArg) -> None:
        """Watch *signals* (one number or an iterable) too."""
        self._signalfd.enable(signals)

    def disable(self, signals: SignalsArg) -> None:
        """Stop watching *signals*."""
        self._signalfd.disable(signals)

    def enable_all(self) -> None:
        """Watch every signal that can be caught."""
        self._signalfd.enable_all()

    def disable_all(self) -> None:
        """Watch nothing."""
        self._signalfd.disable_all()

    def block(self) -> Set[SignalNumber]:
        """Block the watched signals in the calling thread (see
        :meth:`Signalfd.block <butter.signalfd.Signalfd.block>`)."""
        return self._signalfd.block()

    def unblock(self) -> Set[SignalNumber]:
        """Unblock the watched signals in the calling thread."""
        return self._signalfd.unblock()

    wait = AsyncEventQueue.get
    wait_nowait = AsyncEventQueue.get_nowait
