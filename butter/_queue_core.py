"""The one event queue behind every ``*_async`` class, for any framework.

An :class:`EventQueue` wraps a sync :class:`~butter._fd.EventLike` object
(the *source*) whose fd it switches to non-blocking.  It behaves like a
read-only :class:`asyncio.Queue`:

* it reads the fd only while the queue has room (``maxsize <= 0`` means
  always); each read takes everything the kernel has ready in one
  ``read(2)``;
* when ``maxsize`` items are queued it stops reading: the kernel keeps
  queuing (and may coalesce or report its own overflow, as it would for a
  slow C program), butter drops nothing; events read beyond ``maxsize`` wait
  in the source's cache; reading resumes as soon as the consumer takes one;
* a getter is woken with no item attached and takes its item itself, so a
  ``get()`` cancelled at any point loses nothing; whoever takes an item
  wakes the next getter while items remain, so no getter sleeps while an
  item is queued, with several getters and any ``maxsize`` (invariant Q1
  in ``EventQueue._take()``);
* it belongs to one event loop (one ``trio.run``) and is not thread-safe;
* ``close()`` fails pending getters, then stops watching the fd (and tells
  the framework it is closing), then hands the unread items back to the
  source and closes it (in that order, so no callback runs on a closed or
  reused fd, and whatever an unread event owns is released by its source:
  invariant O1 in ``EventQueue._release()``); garbage collection of an
  unclosed queue does the same after a :class:`ResourceWarning`.

What differs between frameworks is only how a task waits: a
:class:`Driver` (one per queue, chosen when the queue meets its event loop)
makes the *waiters* getters sleep on, and says who reads the fd:

* asyncio (:mod:`butter.asyncio._queue`): the loop does, from a reader
  callback registered while the queue has room; getters sleep on futures;
* trio (:mod:`butter.anyio._driver`): trio has no callbacks, so one of the
  waiting getters is the *reader*: it waits for the fd to be readable
  (``trio.lowlevel.wait_readable``) and reads it for everyone; the others
  sleep.  Whoever leaves the reader's role with getters still waiting
  wakes one of them to take it over (invariant R1 in
  ``EventQueue._pass_on()``).

A waiter is anything with ``done()`` and ``set_result(None)`` (an asyncio
future is one): waking is ``set_result``, and a done waiter is never woken
again.  The framework-specific classes (``butter.asyncio.<module>``,
``butter.anyio.<module>``) differ only in the driver they pick
(``EventQueue._new_driver()``) and in the exceptions they raise for an
empty or closed queue.
"""

from __future__ import annotations

import os
from collections import deque
from typing import (
    TYPE_CHECKING,
    Any,
    Awaitable,
    Callable,
    ClassVar,
    Deque,
    Generic,
    List,
    Optional,
    Type,
    TypeVar,
)

from ._args import check_int
from ._fd import ReleasedOnGC

if TYPE_CHECKING:
    from types import TracebackType

    from typing_extensions import Protocol, Self

    from ._fd import EventLike

    class Waiter(Protocol):
        """What a task sleeps on (an :class:`asyncio.Future` is one)."""

        def done(self) -> bool: ...

        def set_result(self, result: None, /) -> None: ...

else:
    Waiter = Any

__all__ = ["Driver", "EventQueue"]

E = TypeVar("E")


class Driver:
    """How one framework waits, for one queue bound to one event loop.

    Subclasses fill in every method; :attr:`pulls` says who reads the fd.
    """

    __slots__ = ()

    #: True: a waiting task reads the fd (:meth:`wait` does, as the queue's
    #: reader); False: the framework calls ``queue._on_readable()`` itself
    #: while :meth:`set_reading` says so.
    pulls = False

    def is_current(self) -> bool:
        """True if called from the event loop this driver belongs to."""
        raise NotImplementedError

    def waiter(self) -> Waiter:
        """A new waiter for the running task."""
        raise NotImplementedError

    async def wait(self, queue: EventQueue[Any], waiter: Waiter) -> None:
        """Sleep until *waiter* is woken (or, pulling, until the fd that
        *queue* reads is readable: then read it by ``queue._on_readable()``).
        Returns with *waiter* possibly not done (pulling)."""
        raise NotImplementedError

    def abandon(self, waiter: Waiter) -> bool:
        """The task of *waiter* leaves by an exception: make *waiter* done;
        return True if it had been woken (its wake-up is to be passed on)."""
        raise NotImplementedError

    def set_reading(self, fd: int, on: bool, callback: Callable[[], None]) -> None:
        """(Not pulling.) Start or stop calling *callback* when *fd* is readable."""
        raise NotImplementedError

    def closing(self, fd: int) -> None:
        """*fd* is about to be closed: tell the framework (before the close)."""

    async def ready(self, fd: int, write: bool) -> None:
        """Wait until *fd* is readable (writable if *write*)."""
        raise NotImplementedError

    def checkpoint(self) -> Awaitable[None]:
        """Let the other tasks run (and deliver a pending cancellation):
        ``await driver.checkpoint()``.  Returns the awaitable (a driver can
        hand out its framework's own, without a frame of ours around it)."""
        raise NotImplementedError


class EventQueue(ReleasedOnGC, Generic[E]):
    """A read-only queue of the events of one kernel fd (framework-neutral
    core: see the module docs)."""

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
        self._getters: Deque[Waiter] = deque()
        self._driver: Optional[Driver] = None
        self._pulls = False  # the driver's (read on every hot path)
        self._reading = False  # not pulling: the reader callback is registered
        self._reader: Optional[Waiter] = None  # pulling: the task reading the fd
        self._error: Optional[BaseException] = None
        self._closed = False
        driver = self._new_driver(False)
        if driver is not None:
            self._bind(driver)

    # -- what the framework-specific classes define ---------------------------
    #: What ``get_nowait()`` raises when nothing is ready.
    _Empty: ClassVar[Type[Exception]] = Exception
    #: What any use of the closed queue raises (a ``ValueError``).
    _Closed: ClassVar[Type[ValueError]] = ValueError

    def _new_driver(self, required: bool) -> Optional[Driver]:
        """The driver for the running event loop; ``None`` if there is none
        and not *required* (else ``RuntimeError`` saying what is needed)."""
        raise NotImplementedError

    def _closed_error(self) -> ValueError:
        return self._Closed(f"I/O operation on closed {type(self).__name__}")

    # -- loop binding and the reader -----------------------------------------
    def _bind(self, driver: Driver) -> Driver:
        self._driver = driver
        self._pulls = driver.pulls
        self._sync_reader()
        return driver

    def _running_driver(self) -> Driver:
        """The driver, checked to belong to the running loop (binding the
        queue to it on first use)."""
        driver = self._driver
        if driver is None:
            new = self._new_driver(True)
            assert new is not None
            return self._bind(new)
        if not driver.is_current():
            raise RuntimeError(f"{self!r} is bound to a different event loop")
        return driver

    def _has_room(self) -> bool:
        return self._maxsize <= 0 or len(self._items) < self._maxsize

    def _wants_fd(self) -> bool:
        """Should the fd be read (open, not failed, room in the queue)?"""
        return not self._closed and self._error is None and self._has_room()

    def _sync_reader(self) -> None:
        """(Not pulling.) Register the reader iff the queue wants the fd."""
        driver = self._driver
        if driver is None or self._pulls:
            return
        want = self._wants_fd()
        if want != self._reading:
            driver.set_reading(self._fd, want, self._on_readable)
            self._reading = want

    def _on_readable(self) -> None:
        """The fd is readable: read it (the reader callback, or the pulling
        reader task)."""
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
        getters = self._getters
        while getters:
            getter = getters.popleft()
            if not getter.done():
                getter.set_result(None)

    def _wake_next(self) -> bool:
        """Wake the first waiting getter; False if none waits."""
        getters = self._getters
        while getters:
            getter = getters.popleft()
            if not getter.done():
                getter.set_result(None)
                return True
        return False

    def _wake_reader(self) -> None:
        """(R1) Wake a waiting task to become the reader (pulling)."""
        self._wake_next()

    def _pass_on(self) -> None:
        """A getter left (with an item, or by an exception after a wake-up).

        (Q1) Every queued item has a woken getter, or no getter is waiting:
        ``_pull`` wakes one getter per item it adds; a refill from the cache
        adds one without a getter of its own, and a getter woken for an item
        that ``get_nowait()`` took goes back to sleep: so whoever takes an
        item passes the wake-up on while items remain.
        (R1) Pulling, while getters wait for an empty queue one of them is
        the reader: a reader that leaves (with an item, cancelled, or by an
        error) has cleared ``_reader``, so the next waiting task is woken to
        read in its place.
        """
        if self._items:
            if self._getters:
                self._wake_next()
        elif self._pulls and self._reader is None:
            self._wake_reader()

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
        if self._getters or self._pulls:
            self._pass_on()  # Q1, R1
        return item

    async def _sleep(self, driver: Driver) -> None:
        """Wait, as a getter, until woken (or, pulling, the fd was read)."""
        getter = driver.waiter()
        getters = self._getters
        getters.append(getter)
        try:
            await driver.wait(self, getter)
        except BaseException:
            woken = driver.abandon(getter)
            try:
                getters.remove(getter)
            except ValueError:
                pass
            # Woken, then cancelled: pass the wake-up on (Q1), lose nothing;
            # a reader cancelled: hand the reading on (R1).
            if woken or self._pulls:
                self._pass_on()
            raise
        if not getter.done():  # pulling: the reader read the fd, unwoken
            try:
                getters.remove(getter)
            except ValueError:  # pragma: no cover - done ones are popped
                pass

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
        """Return an event ready now, else raise the framework's
        queue-empty exception (:class:`asyncio.QueueEmpty`, or
        ``butter.anyio.QueueEmpty``, which is also one)."""
        if not self._items:
            self._check_usable()
            self._pull()
            if not self._items:
                self._check_usable()
                raise self._Empty
        return self._take()

    async def get(self) -> E:
        """Wait for the next event and return it.

        Returns at once, without a checkpoint, when an event is queued (as
        :meth:`asyncio.Queue.get` does)."""
        while not self._items:
            self._check_usable()
            driver = self._running_driver()
            self._pull()
            if self._items:
                break
            await self._sleep(driver)
        return self._take()

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
        driver = self._driver
        if driver is not None:
            driver.closing(self._fd)
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
        self._running_driver()
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
            except self._Empty:
                return events
