"""The queue of a completion source whose requests are also awaited.

:class:`RequestQueue` is the :class:`~butter.asyncio._queue.AsyncEventQueue`
of :class:`butter.asyncio.aio.Context_async` (and of any source with the
same adapter interface: ``prepare(op, *args)``,
``submit_awaited(request, on_done)``, ``lend(limit, on_consumed, collect=)``,
``report(request)``, ``pending``).  Two kinds of requests go through it:

* awaited ones (the coroutine request methods): each resolves the await of
  its own request (``on_done`` wakes that task's waiter) and never appears
  in the queue;
* fire-and-forget ones, submitted through the sync source: their completed
  :class:`~butter.aio.Request` objects are lent to the queue and come back
  from ``get()``; one whose result is read while it waits in the queue
  leaves it (the *on_consumed* hook).

Awaited completions are collected whether the queue is full or not (an
await never waits behind queued requests).  Under trio a task awaiting a
request can be the queue's reader like a getter (invariant R1).
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING, Any, Callable, Dict, List

from ..aio import Request
from ._queue import AsyncEventQueue

if TYPE_CHECKING:
    from typing_extensions import Protocol

    from .._queue_core import Driver, Waiter

    class RequestSource(Protocol):
        """What a source offers its :class:`RequestQueue`."""

        @property
        def pending(self) -> int: ...

        def submit_awaited(self, request: Request, on_done: Callable[[Request], None]) -> None: ...

        def lend(
            self, limit: int | None, on_consumed: Callable[[Request], None], *, collect: bool
        ) -> List[Request]: ...

        def report(self, request: Request) -> None: ...

        def fileno(self) -> int: ...


__all__ = ["RequestQueue"]


class RequestQueue(AsyncEventQueue[Request]):
    """The queue of awaited and fire-and-forget requests (see the module docs)."""

    def __init__(self, adapter: Any, maxsize: int = 0) -> None:
        self._awaiting = 0  # tasks awaiting a request
        # The waiter of each awaited request while its task waits.
        self._awaiters: Dict[Request, Waiter] = {}
        self._batch = 0  # (batching) the open batch: bumped when submitted
        self._adapter: RequestSource = adapter
        super().__init__(adapter, maxsize)
        self._on_consumed = _drop_consumed(weakref.ref(self))
        self._on_done = _resolver(weakref.ref(self))

    @property
    def pending(self) -> int:
        """Requests the kernel has not reported complete yet."""
        return self._adapter.pending

    # -- the reader: lend() fills the queue, report() empties it -------------------
    def _has_room(self) -> bool:
        # Awaited completions must always be collected, full queue or not.
        return self._awaiting > 0 or super()._has_room()

    def _on_readable(self) -> None:
        if self._closed or self._error is not None:
            return
        # Collects even when the queue is full (room 0): awaited completions
        # must never wait behind queued ones; the rest stay in the source.
        self._lend(True)
        self._sync_reader()

    def _pull(self) -> None:
        """Called with the queue empty: what the source holds, else what
        the kernel has ready (the generic queue's rule, with lending)."""
        if self._closed or self._error is not None:
            return
        if not self._lend(False):
            self._lend(True)

    def _lend(self, collect: bool) -> int:
        """Borrow completed requests from the source, up to ``maxsize``
        queued; wake one getter per request added."""
        items = self._items
        maxsize = self._maxsize
        room = None if maxsize <= 0 else max(maxsize - len(items), 0)
        try:
            got = self._adapter.lend(room, self._on_consumed, collect=collect)
        except OSError as exc:
            self._fail(exc)
            return 0
        items.extend(got)
        self._wake_getters(len(got))
        return len(got)

    def _take(self) -> Request:
        items = self._items
        req = items.popleft()
        self._adapter.report(req)  # the user has it: reading it consumes nothing more
        # While the reader is registered the source holds nothing more that
        # fits, so there is nothing to refill: the hot path.
        if not self._reading:
            if self._has_room():
                items.extend(self._adapter.lend(1, self._on_consumed, collect=False))
            self._sync_reader()
        # (Q1, R1) as in EventQueue._take.
        if self._getters or self._pulls:
            self._pass_on()
        return req

    async def _run(self, req: Request) -> Any:
        """Submit *req* (from ``prepare()``), wait until it is done, return
        its result (or raise its exception)."""
        driver = self._start()
        self._adapter.submit_awaited(req, self._on_done)
        return await self._finish(req, driver)

    def _start(self) -> Driver:
        """Before an awaited request is submitted: the queue is usable and
        belongs to the running loop (else nothing is submitted)."""
        self._check_usable()
        return self._running_driver()

    async def _finish(self, req: Request, driver: Driver) -> Any:
        """Wait until *req* (submitted with ``self._on_done``) is done;
        return its result (or raise its exception)."""
        if self._batches:
            # The awaits of one loop iteration go to the kernel together:
            # each yields once; the first to resume whose request is still
            # in the open batch submits the batch (everything queued so
            # far), so later ones find theirs submitted.  A request the
            # kernel finished inside that submit (a read the page cache
            # serves) returns without ever waiting.
            # (B1) Whoever bumps _batch submits everything queued at that
            # moment (_flush), so a request queued while batch n was open
            # is submitted once _batch > n.
            batch = self._batch
            try:
                await driver.checkpoint()
            except BaseException:
                if self._batch == batch:
                    self._batch += 1
                    self._flush()  # the others' requests must go too
                self._abandon_request(req)
                raise
            if self._batch == batch:
                self._batch += 1
                self._flush()
            if req.done():
                return req.result
        # While _awaiting > 0, _has_room() is true whatever the queue holds:
        # the reader can change only when it goes 0 -> 1 or 1 -> 0 (closing
        # and failing re-check it themselves).
        self._awaiting += 1
        awaiters = self._awaiters
        try:
            if self._awaiting == 1:
                self._sync_reader()
            # Until the request is done: woken by its completion, or
            # (pulling) after reading the fd as the queue's reader.
            while not req.done():
                waiter = driver.waiter()
                awaiters[req] = waiter  # what the completion wakes (_resolver)
                try:
                    await driver.wait(self, waiter)
                except BaseException:
                    driver.abandon(waiter)
                    self._abandon_request(req)
                    raise
                finally:
                    if awaiters.get(req) is waiter:
                        del awaiters[req]
        finally:
            self._awaiting -= 1
            if not self._awaiting:
                self._sync_reader()
            if self._pulls and self._reader is None:
                self._wake_reader()  # R1: this task may have been the reader
        return req.result

    def _abandon_request(self, req: Request) -> None:
        """The await of *req* was cancelled: ask the kernel to cancel it
        (best effort; its buffers stay held until it completes)."""
        if not req.done() and not self._closed:
            try:
                self._cancel(req)
            except (OSError, ValueError):
                pass

    # -- what the sources differ in ----------------------------------------------------
    #: True: ``submit_awaited()`` only queues (io_uring's submission queue):
    #: :meth:`_flush` submits what the awaits of one loop iteration queued.
    _batches = False

    def _flush(self) -> None:
        """Submit the queued requests (and collect what is ready)."""

    def _cancel(self, req: Request) -> None:
        """Ask the kernel to cancel *req*."""
        raise NotImplementedError

    def _wake_reader(self) -> None:
        # (R1) Getters and awaiting requests alike can read the fd.
        if not self._wake_next():
            for waiter in self._awaiters.values():
                if not waiter.done():
                    waiter.set_result(None)
                    return


def _drop_consumed(ref: weakref.ReferenceType[RequestQueue]) -> Callable[[Request], None]:
    """The *on_consumed* hook given to ``lend()``: a lent request
    whose result was read while it waited in the queue leaves the queue
    (it is never returned by ``get()``), and reading resumes if that made
    room.  A weak reference: requests must not keep a dropped queue alive."""

    def drop(req: Request) -> None:
        queue = ref()
        if queue is None:
            return
        try:
            queue._items.remove(req)
        except ValueError:
            return  # the queue was closed (and cleared) since
        queue._sync_reader()  # room again: resume reading

    return drop


def _resolver(ref: weakref.ReferenceType[RequestQueue]) -> Callable[[Request], None]:
    """The *on_done* of every awaited request (one per queue, made once):
    wakes the task waiting for it, if it waits (a request done inside the
    submit has no waiter).  A weak reference, as for :func:`_drop_consumed`."""

    def resolved(req: Request) -> None:
        queue = ref()
        if queue is None:
            return
        waiter = queue._awaiters.pop(req, None)
        if waiter is not None and not waiter.done():
            try:
                waiter.set_result(None)
            except RuntimeError:  # pragma: no cover - the loop is closed
                pass

    return resolved
