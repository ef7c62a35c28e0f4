"""asyncio variant of :mod:`butter.signalfd`."""

from __future__ import annotations

from typing import TYPE_CHECKING, FrozenSet, Set

from ..signalfd import Signal, Signalfd
from ._queue import WaitAliases

if TYPE_CHECKING:
    from ..signalfd import SignalNumber, SignalsArg

__all__ = ["Signalfd_async"]


class Signalfd_async(WaitAliases[Signal]):
    """A signalfd whose :class:`~butter.signalfd.Signal` records arrive
    through ``await get()`` (alias ``wait()``, kept from the original).

    Same arguments as :class:`~butter.signalfd.Signalfd` plus ``maxsize``;
    the signals must be blocked as for the sync class (``block=True``
    blocks them in the calling thread, normally the loop's thread, and
    ``close()``/``async with`` restore what it changed).  Unlike
    ``loop.add_signal_handler`` no Python signal handler is involved: the
    kernel queues the signal, the loop sees the fd readable.  Unlike it
    too, the block is a property of threads and children: threads started
    earlier (``asyncio.to_thread``) do not block (``RuntimeWarning``), and
    ``asyncio.create_subprocess_exec`` children inherit the block unless
    given ``preexec_fn=``:func:`~butter.signalfd.restore_sigmask`.
    """

    source: Signalfd  # the type of AsyncEventQueue.source here

    def __init__(
        self,
        signals: SignalsArg = (),
        flags: int = 0,
        maxsize: int = 0,
        *,
        block: bool = False,
    ) -> None:
        super().__init__(Signalfd(signals, flags), maxsize)
        if block:
            self.source.block()

    @property
    def signals(self) -> FrozenSet[SignalNumber]:
        """The watched signals."""
        return self.source.signals

    def __contains__(self, sig: object) -> bool:
        return sig in self.source

    def enable(self, signals: SignalsArg) -> None:
        """Watch *signals* (one number or an iterable) too."""
        self._checked().source.enable(signals)

    def disable(self, signals: SignalsArg) -> None:
        """Stop watching *signals*."""
        self._checked().source.disable(signals)

    def enable_all(self) -> None:
        """Watch every signal that can be caught."""
        self._checked().source.enable_all()

    def disable_all(self) -> None:
        """Watch nothing."""
        self._checked().source.disable_all()

    def block(self) -> Set[SignalNumber]:
        """Block the watched signals in the calling thread (see
        :meth:`Signalfd.block <butter.signalfd.Signalfd.block>`)."""
        return self._checked().source.block()

    def unblock(self) -> Set[SignalNumber]:
        """Unblock the watched signals in the calling thread."""
        return self._checked().source.unblock()


# -- compatibility with Butter 0.9/0.13.1 -------------------------------------
from .. import _compat  # noqa: E402

#: The original's ``loop=`` (ignored) and ``sigmask=``.
_compat.patch_init(Signalfd_async, {"sigmask": "signals"}, loop=True)
