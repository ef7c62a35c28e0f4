"""The one asyncio queue behind every ``*_async`` class.

An :class:`AsyncEventQueue` wraps a sync :class:`~butter._fd.EventLike`
object (the *source*) whose fd it switches to non-blocking.  It behaves like
a read-only :class:`asyncio.Queue`:

* the fd is registered with the running loop's ``add_reader`` only while the
  queue has room (``maxsize <= 0`` means always); each wake-up reads
  everything the kernel has ready in one ``read(2)``;
* when ``maxsize`` items are queued the reader is removed: the kernel keeps
  queuing (and may coalesce or report its own overflow, as it would for a
  slow C program), butter drops nothing; events read beyond ``maxsize`` wait
  in the source's cache; reading resumes as soon as the consumer takes one;
* a getter is woken with no item attached and takes its item itself, so a
  ``get()`` cancelled at any point loses nothing; whoever takes an item
  wakes the next getter while items remain, so no getter sleeps while an
  item is queued, with several getters and any ``maxsize`` (invariant Q1
  in ``AsyncEventQueue._take()``);
* like asyncio itself it belongs to one loop and is not thread-safe;
* ``close()`` fails pending getters, then removes the reader, then hands the
  unread items back to the source and closes it (in that order, so no
  callback runs on a closed or reused fd, and whatever an unread event owns
  is released by its source: invariant O1 in ``AsyncEventQueue._release()``);
  garbage collection of an unclosed queue does the same after a
  :class:`ResourceWarning`.

Family modules subclass it in a few lines: build the source, pass it here
(the queue checks ``maxsize``, once for all), narrow the type of
:attr:`~AsyncEventQueue.source`, and forward the configuration methods
through ``AsyncEventQueue._checked()`` (one closed-check for all).  The
original Butter's spellings of ``get()``/``get_nowait()`` come from
:class:`GetEventAliases` and :class:`WaitAliases`.
"""

from __future__ import annotations

import asyncio
import os
from collections import deque
from typing import TYPE_CHECKING, Deque, Generic, List, Optional, TypeVar

from .._args import check_int
from .._fd import ReleasedOnGC

if TYPE_CHECKING:
    from types import TracebackType

    from typing_extensions import Self

    from .._fd import EventLike

__all__ = ["AsyncEventQueue", "GetEventAliases", "WaitAliases"]

E = TypeVar("E")


class AsyncEventQueue(ReleasedOnGC, Generic[E]):
    """A read-only asyncio queue of the events of one kernel fd."""

    _closed = True  # until __init__ has fully run (for __del__)

    def __init__(self, source: EventLike[E], maxsize: int = 0) -> None:
        """Own *source* (switched to non-blocking) and queue its events.

        *maxsize* is checked here, for every ``*_async`` class: an int
        (``TypeError`` otherwise, bools included), and as for
        :class:`asyncio.Queue` zero or less means unbounded.  On a bad
        *maxsize* the source is closed before the error propagates.
        """
        try:
            maxsize = check_int("maxsize", maxsize)
        except TypeError:
            source.close()
            raise
        self._source = source
        self._fd = source.fileno()
        os.set_blocking(self._fd, False)
        self._maxsize = maxsize
        self._items: Deque[E] = deque()
        self._getters: Deque[asyncio.Future[None]] = deque()
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._reading = False
        self._error: Optional[BaseException] = None
        self._closed = False
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            pass  # bound to the loop of the first get()/async with
        else:
            self._bind(loop)

    # -- loop binding and the reader -----------------------------------------
    def _bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._sync_reader()

    def _running_loop(self) -> asyncio.AbstractEventLoop:
        loop = asyncio.get_running_loop()
        if self._loop is None:
            self._bind(loop)
        elif loop is not self._loop:
            raise RuntimeError(f"{self!r} is bound to a different event loop")
        return loop

    def _has_room(self) -> bool:
        return self._maxsize <= 0 or len(self._items) < self._maxsize

    def _sync_reader(self) -> None:
        """Register the reader iff the queue has room (and is usable)."""
        loop = self._loop
        if loop is None:
            return
        want = not self._closed and self._error is None and self._has_room()
        if want != self._reading:
            if want:
                loop.add_reader(self._fd, self._on_readable)
            else:
                loop.remove_reader(self._fd)
            self._reading = want

    def _on_readable(self) -> None:
        self._pull()
        self._sync_reader()

    def _pull(self) -> None:
        """Move ready events from the kernel (or the source's cache) into
        the queue, up to ``maxsize``; wake one getter per item added."""
        if self._closed or self._error is not None:
            return
        items = self._items
        before = len(items)
        source = self._source
        cache = source._cache
        maxsize = self._maxsize
        if not cache:
            try:
                events = source._read_nonblocking()
            except BlockingIOError:
                return
            except OSError as exc:
                self._fail(exc)
                return
            if maxsize <= 0:
                items.extend(events)
            else:
                cache.extend(events)
        if cache:
            room = len(cache) if maxsize <= 0 else maxsize - len(items)
            while room > 0 and cache:
                items.append(cache.popleft())
                room -= 1
        self._wake_getters(len(items) - before)

    def _wake_getters(self, added: int) -> None:
        """Wake one waiting getter per item just queued (*added* of them)."""
        getters = self._getters
        while added > 0 and getters:
            getter = getters.popleft()
            if not getter.done():
                getter.set_result(None)
                added -= 1

    def _fail(self, exc: BaseException) -> None:
        """The fd broke: stop reading and give *exc* to every getter."""
        self._error = exc
        self._sync_reader()
        self._wake_all()

    def _wake_all(self) -> None:
        while self._getters:
            getter = self._getters.popleft()
            if not getter.done():
                getter.set_result(None)

    def _closed_error(self) -> ValueError:
        return ValueError(f"I/O operation on closed {type(self).__name__}")

    def _checked(self) -> Self:
        """``self``, once checked open: the one closed-check of every method
        that forwards to the source (``self._checked().source.watch(...)``),
        so a closed queue names itself (``"closed Signalfd_async"``), never
        its source, whatever the source would have said."""
        if self._closed:
            raise self._closed_error()
        return self

    def _check_usable(self) -> None:
        """For reads: closed (``ValueError``), or the error that broke the fd."""
        if self._closed:
            raise self._closed_error()
        if self._error is not None:
            raise self._error

    def _take(self) -> E:
        items = self._items
        item = items.popleft()
        # While the reader is registered the source's cache is empty and the
        # queue has room, so there is nothing more to refill: the hot path.
        if not self._reading:
            cache = self._source._cache
            if cache and self._has_room():
                items.append(cache.popleft())
            self._sync_reader()
        # (Q1) Every queued item has a woken getter, or no getter is waiting.
        # _pull wakes one getter per item it adds; the refill above adds one
        # without a getter of its own, and a getter woken for an item that
        # get_nowait() took goes back to sleep: so whoever takes an item
        # passes the wake-up on while items remain.
        if items and self._getters:
            self._wake_next()
        return item

    # -- the asyncio.Queue interface -----------------------------------------
    @property
    def maxsize(self) -> int:
        """Number of items allowed in the queue (``<= 0``: unbounded)."""
        return self._maxsize

    def qsize(self) -> int:
        """Number of events ready now (reads the fd if the queue is empty)."""
        if not self._items and not self._closed:
            self._pull()
        return len(self._items)

    def empty(self) -> bool:
        """True if no event is ready now."""
        return self.qsize() == 0

    def full(self) -> bool:
        """True if ``maxsize`` events are queued (reading is paused)."""
        return self._maxsize > 0 and len(self._items) >= self._maxsize

    def get_nowait(self) -> E:
        """Return an event ready now, else raise :class:`asyncio.QueueEmpty`."""
        if not self._items:
            self._check_usable()
            self._pull()
            if not self._items:
                self._check_usable()
                raise asyncio.QueueEmpty
        return self._take()

    async def get(self) -> E:
        """Wait for the next event and return it."""
        while not self._items:
            self._check_usable()
            loop = self._running_loop()
            self._pull()
            if self._items:
                break
            getter = loop.create_future()
            self._getters.append(getter)
            try:
                await getter
            except BaseException:
                getter.cancel()
                try:
                    self._getters.remove(getter)
                except ValueError:
                    pass
                # Woken, then cancelled: pass the wake-up on (Q1), lose nothing.
                if self._items and not getter.cancelled():
                    self._wake_next()
                raise
        return self._take()

    def _wake_next(self) -> None:
        while self._getters:
            getter = self._getters.popleft()
            if not getter.done():
                getter.set_result(None)
                return

    def fileno(self) -> int:
        """The kernel fd (``ValueError`` once closed)."""
        return self._checked()._fd

    @property
    def closed(self) -> bool:
        """True once :meth:`close` ran (or the queue was garbage collected)."""
        return self._closed

    @property
    def source(self) -> EventLike[E]:
        """The sync event-like object this queue reads (the
        :class:`~butter.inotify.Inotify` of an ``Inotify_async``, ...).

        The queue's configuration methods forward to it; use it for what
        they do not offer, but do not read events from it or close it: the
        queue owns it, reads it, and closes it in :meth:`close`.
        """
        return self._source

    def close(self) -> None:
        """Fail pending getters, stop reading, close the source (its fd, and
        the events read but not returned).  Idempotent."""
        if self._closed:
            return
        self._closed = True
        self._wake_all()  # each wakes, sees the queue closed, raises ValueError
        self._sync_reader()
        if self._reading and self._loop is not None:  # pragma: no cover
            self._loop.remove_reader(self._fd)
            self._reading = False
        self._release()

    def _release(self) -> None:
        """Hand the unread items back to the source, then close it.

        (O1) The source owns whatever its events own.  Items in the queue
        came from the source's cache or its last read; put back at the front
        of that cache (in order, ahead of what was read after them), they are
        disposed of by the source's ``close()`` exactly as if the queue had
        never taken them: :meth:`Fanotify.close <butter.fanotify.Fanotify.close>`
        closes the fd of every cached :class:`~butter.fanotify.FanotifyEvent`
        (even when the source was closed already), other sources drop them.
        So no ``*_async`` class needs a ``close()`` or ``__del__`` of its own.
        """
        items = self._items
        if items:
            self._source._cache.extendleft(reversed(items))
            items.clear()
        self._source.close()

    def _owns(self) -> bool:
        return not self._closed

    def _release_on_gc(self) -> None:
        # The loop may be gone (and a loop with our reader would still hold
        # us): only the source is ours to release.
        self._closed = True
        self._release()

    def __repr__(self) -> str:
        """``<Name_async fd=N source-info qsize=Q maxsize=M>``: the source's
        own details (see ``FdOwner._repr_info``), then the queue's."""
        name = type(self).__name__
        if self._closed:
            return f"<{name} closed>"
        try:
            info = self._source._repr_info()
        except Exception:  # a source closed under us, a half-built one...
            info = ""
        info = f" {info}" if info else ""
        return f"<{name} fd={self._fd}{info} qsize={len(self._items)} maxsize={self._maxsize}>"

    # -- aliases and protocols -------------------------------------------------
    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> E:
        try:
            return await self.get()
        except ValueError:
            if self._closed:
                raise StopAsyncIteration from None
            raise

    async def __aenter__(self) -> Self:
        self._check_usable()
        self._running_loop()
        return self

    async def __aexit__(
        self,
        exc_type: Optional[type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        self.close()

    def read_events_nowait(self) -> List[E]:
        """Every event ready now (possibly none), without waiting."""
        events: List[E] = []
        while True:
            try:
                events.append(self.get_nowait())
            except asyncio.QueueEmpty:
                return events


# -- the original Butter's names (SPEC: "Aliases kept from the original") ------
class GetEventAliases(AsyncEventQueue[E]):
    """An :class:`AsyncEventQueue` that also answers to the original Butter's
    ``get_event()``/``get_event_nowait()`` (inotify, fanotify)."""

    async def get_event(self) -> E:
        """The same as :meth:`~butter.asyncio._queue.AsyncEventQueue.get`."""
        return await self.get()

    def get_event_nowait(self) -> E:
        """The same as :meth:`~butter.asyncio._queue.AsyncEventQueue.get_nowait`."""
        return self.get_nowait()


class WaitAliases(AsyncEventQueue[E]):
    """An :class:`AsyncEventQueue` that also answers to the original Butter's
    ``wait()`` (and ``wait_nowait()``) (eventfd, timerfd, signalfd)."""

    async def wait(self) -> E:
        """The same as :meth:`~butter.asyncio._queue.AsyncEventQueue.get`."""
        return await self.get()

    def wait_nowait(self) -> E:
        """The same as :meth:`~butter.asyncio._queue.AsyncEventQueue.get_nowait`."""
        return self.get_nowait()
