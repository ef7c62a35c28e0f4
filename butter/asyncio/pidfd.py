"""asyncio variant of :mod:`butter.pidfd`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

from ..pidfd import PidFd, ProcessExit

if TYPE_CHECKING:
    from ..pidfd import ProcessArg
from ._queue import AsyncEventQueue

__all__ = ["PidFd_async"]


class PidFd_async(AsyncEventQueue[ProcessExit]):
    """A process whose exit arrives through ``await get()``.

    Same arguments as :class:`~butter.pidfd.PidFd`, plus *maxsize*: by
    default the exit status is read without reaping the child, so an
    ``asyncio.subprocess.Process`` or ``subprocess.Popen`` (which may be
    passed itself) still gets it from its own ``wait()``.
    ``await get()`` returns the :class:`~butter.pidfd.ProcessExit` once the
    process has exited (and again on later calls: an exit is a state, not
    a stream); ``async for`` yields it once.  A pidfd stays readable after
    the exit, so the object stops watching the fd once the exit was read.
    """

    source: PidFd  # the type of AsyncEventQueue.source here

    def __init__(
        self, pid: ProcessArg, flags: int = 0, maxsize: int = 0, *, reap: bool = False
    ) -> None:
        super().__init__(PidFd(pid, flags, reap=reap), maxsize)

    @property
    def pid(self) -> int:
        """The process id."""
        return self.source.pid

    @property
    def exit(self) -> Optional[ProcessExit]:
        """The exit once it was read, else ``None``."""
        return self.source.exit

    def send_signal(self, sig: int) -> None:
        """Send *sig* to the process."""
        self._checked().source.send_signal(sig)

    def getfd(self, targetfd: int) -> int:
        """Duplicate the process's fd *targetfd*."""
        return self._checked().source.getfd(targetfd)

    def _has_room(self) -> bool:
        # After the exit the fd stays readable for good: stop watching it.
        if self.source.exit is not None:
            return False
        return super()._has_room()

    async def __anext__(self) -> ProcessExit:
        if self.source.exit is not None and not self._items:
            raise StopAsyncIteration
        return await super().__anext__()


# -- compatibility with Butter 0.9/0.13.1 -------------------------------------
from .. import _compat  # noqa: E402

#: The original's ``loop=`` (ignored).
_compat.patch_init(PidFd_async, loop=True)
