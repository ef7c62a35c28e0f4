"""Handing each completion out exactly once: what :class:`butter.aio.Context`
and :class:`butter.io_uring.Ring` share.

Both own an eventfd the kernel signals on every completion, harvest
completions into :class:`~butter.aio.Request` objects, and keep the ones
not yet reported in the event-like cache.  :class:`Completions` holds the
rules once: a completion goes to one caller (``read_event(s)``,
``get_events``, ``wait``, iteration, an adapter's :meth:`~Completions.lend`),
never to anyone once its :attr:`~butter.aio.Request.result` was read (the
cache skips such *stale* requests lazily), and ``fileno()`` is readable
exactly while something waits to be reported.  A subclass supplies the
kernel side: ``_check_open()`` (its handle, ``ValueError`` once closed),
``_harvest_into(handle, min_nr, max_nr, timeout_ns)``, ``get_events()``,
``_harvest_cap`` (how many completions one harvest returns at most) and,
if requests can wait before reaching the kernel, ``_flush_queued()``.
"""

from __future__ import annotations

import os
import sys

from .._args import to_int
from .._errors import retry_or_raise
from .._fd import EventLike
from .._lowlevel import lib
from ._constants import _EAGAIN
from ._request import Request

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Dict, List, Optional

    from ._thin import Timeout

__all__ = ["Completions"]

_drain = lib.butter_aio_eventfd_drain  # tells O_NONBLOCK: read_event
_empty = lib.butter_aio_eventfd_empty  # one syscall, whatever O_NONBLOCK
_eventfd_write = lib.eventfd_write


class Completions(EventLike[Request]):
    """The completion delivery of :class:`~butter.aio.Context` and
    :class:`~butter.io_uring.Ring` (see the module docs)."""

    _pending: Dict[int, Request]  # in flight, by key
    _armed: bool  # butter wrote to the eventfd (a report is signalled)
    _stale: int  # cached requests whose result the user already took
    _harvest_cap: int  # at most this many completions per harvest

    # -- the kernel side: defined by each subclass ---------------------------------
    def _check_open(self) -> Any:
        raise NotImplementedError

    def _harvest_into(
        self, handle: Any, min_nr: int, max_nr: Optional[int], timeout_ns: int
    ) -> List[Request]:
        raise NotImplementedError

    def get_events(
        self, min_nr: int = 1, max_nr: Optional[int] = None, timeout: Timeout = None
    ) -> List[Request]:
        raise NotImplementedError

    def _flush_queued(self) -> None:
        """Send requests still queued in userspace to the kernel (none here)."""

    # -- delivery --------------------------------------------------------------------
    def _harvest_ready(self, ctx: Any, limit: Optional[int] = None) -> List[Request]:
        """Everything completed now, without waiting (loops past the
        buffer size: the eventfd was drained, so leave nothing behind)."""
        out: List[Request] = []
        cap = self._harvest_cap
        while limit is None or len(out) < limit:
            before = len(self._pending)
            got = self._harvest_into(ctx, 0, None if limit is None else limit - len(out), 0)
            out.extend(got)
            if before - len(self._pending) < cap:
                break
        return out

    def _settle_eventfd(self, more: bool = False) -> None:
        """Keep ``fileno()`` readable exactly while there is something to
        report: signal it while completions wait in the cache (or may wait
        in the ring, *more*); empty it when nothing is left to report or to
        wait for.  Spurious readiness can remain (a completion collected
        between the kernel's signal and our read of it): every reader
        tolerates it."""
        fd = self._fd
        if fd < 0:
            return
        if self._stale and self._stale >= len(self._cache):
            self._purge()  # only consumed requests left: nothing to report
        if self._cache or (more and self._pending):
            if not self._armed:
                _eventfd_write(fd, 1)
                self._armed = True
        elif not self._pending:
            _empty(fd)
            self._armed = False

    def _read_from_kernel(self) -> List[Request]:
        ctx = self._check_open()
        while True:
            mode = _drain(self._fd)
            if mode < 0:
                retry_or_raise()
                continue
            self._armed = False
            if mode:  # O_NONBLOCK
                events = self._harvest_ready(ctx)
                if not events:
                    raise BlockingIOError(_EAGAIN, os.strerror(_EAGAIN))
            else:
                events = self._harvest_into(ctx, 1, None, -1)
                events += self._harvest_ready(ctx)
                if not events:
                    ctx = self._check_open()  # closed meanwhile: ValueError
                    continue
            return events

    def _forget(self, req: Request) -> None:
        """The user read *req*'s result before it was reported: it must not
        be reported.  Lazy: the cache skips it when it gets there, and is
        emptied at once when nothing else is left in it.  (Requests lent
        to an adapter have a :class:`_Lent` home instead: see ``lend()``.)"""
        self._stale += 1
        if self._stale >= len(self._cache):
            self._purge()
            self._settle_eventfd()

    def _purge(self) -> None:
        """Drop the consumed requests from the cache."""
        if self._stale:
            cache = self._cache
            live = [req for req in cache if req._home is self]
            cache.clear()
            cache.extend(live)
            self._stale = 0

    def _take_cached(self, limit: int, out: List[Request]) -> None:
        """Move up to *limit* unconsumed requests from the cache to *out*
        (they are now reported)."""
        cache = self._cache
        popleft = cache.popleft
        n = 0
        while cache and n < limit:
            req = popleft()
            if req._home is self:
                req._home = None
                out.append(req)
                n += 1
            elif self._stale:
                self._stale -= 1

    def read_event(self) -> Request:
        """One completed request (blocking unless ``fileno()`` is
        non-blocking; a blocking read with nothing in flight waits forever,
        like reading an idle eventfd).  Requests whose result was already
        read are skipped.  (A ring submits its queued requests first.)"""
        out: List[Request] = []
        self._take_cached(1, out)
        if not out:
            self._flush_queued()
            out.append(super().read_event())  # from the kernel: the rest is cached
            out[0]._home = None
        self._settle_eventfd()
        return out[0]

    def read_events(self) -> List[Request]:
        """The completed requests ready now (at least one when blocking),
        except those whose result was already read."""
        self._purge()
        if not self._cache:
            self._flush_queued()
        events = super().read_events()
        for req in events:
            req._home = None
        self._settle_eventfd()
        return events

    def wait(self, timeout: Optional[float] = None) -> Optional[Request]:
        """Wait up to *timeout* seconds (``None``: forever) for one completed
        request and return it, or ``None`` on timeout (requests whose result
        was already read are skipped)."""
        self._purge()
        if self._cache:
            return self.read_event()
        self._check_open()
        events = self.get_events(1, 1, timeout)
        return events[0] if events else None

    def lend(
        self,
        limit: Optional[int],
        on_consumed: Callable[[Request], None],
        *,
        collect: bool = True,
    ) -> List[Request]:
        """Hand up to *limit* (``None``: all) completed, unreported requests
        to an adapter's queue, oldest first, without blocking.

        With *collect* (the default) the context first collects what the
        kernel has ready (awaited requests go to their *on_done*, see
        :meth:`~butter.aio.Context.submit_awaited`) and drains ``fileno()``, which then signals
        only new completions: call it when ``fileno()`` is readable (a
        *limit* of 0 only collects).  With ``collect=False`` it only takes
        what the context already holds, with no system call.

        The returned requests are *lent*: still not reported, so the rule
        "a completion is delivered once" holds across the adapter's queue.

        * If the user reads the :attr:`~butter.aio.Request.result` or
          :attr:`~butter.aio.Request.exception` of a lent request before the adapter
          hands it out, the read consumes the completion and
          ``on_consumed(request)`` runs, once, inside that read, on its
          thread: the adapter must drop the request from its queue (it is
          never to be reported).  *on_consumed* must not block; exceptions
          propagate to the reader.
        * When the adapter hands a lent request to its user it calls
          ``report()``; from then on reading the result calls nothing.
        * ``close()`` does not take lent requests back: *on_consumed*
          may still run for them afterwards (an adapter that cleared its
          queue just ignores it).

        Requests the context keeps (beyond *limit*) are still held for
        ``lend()``, ``get_events()``, ``read_events()``... in order.
        """
        if limit is not None:
            limit = to_int("limit", limit, "ssize_t", 0)  # a count, as len()
        if collect:
            ctx = self._check_open()
            while _empty(self._fd) < 0:
                retry_or_raise()
            self._armed = False
            self._cache.extend(self._harvest_ready(ctx))
        self._purge()  # consumed requests are never lent
        out: List[Request] = []
        self._take_cached(len(self._cache) if limit is None else limit, out)
        if out:
            lent = _Lent(on_consumed)
            for req in out:
                req._home = lent
        return out

    def report(self, request: Request) -> None:
        """The adapter hands *request*, lent by ``lend()``, to its user:
        it counts as reported, and reading its result no longer calls the
        adapter's *on_consumed*.  Reporting it again does nothing;
        ``ValueError`` for a request this context holds (not lent)."""
        if not isinstance(request, Request):
            raise TypeError(f"request must be a Request, not {type(request).__name__!r}")
        home = request._home
        if type(home) is _Lent:
            request._home = None
        elif home is not None:
            raise ValueError(f"{request!r} was not lent by lend()")


def _reported(reqs: List[Request]) -> List[Request]:
    """*reqs* go to the user now: their context no longer holds them."""
    for req in reqs:
        req._home = None
    return reqs


def _call(req: Request) -> bool:
    """Run the request's *on_done* hook (:meth:`Context.submit_awaited`);
    False if it has none.  Exactly once: the hook is cleared before it
    runs.  It runs in the middle of the bookkeeping (a harvest loop, close):
    an exception from it goes to ``sys.excepthook`` so that the other
    completions of the same call are still recorded and delivered."""
    callback = req._callback
    if callback is None:
        return False
    req._callback = None
    try:
        callback(req)
    except Exception as exc:
        sys.excepthook(type(exc), exc, exc.__traceback__)
    return True


class _Lent:
    """The home of the requests lent by one :meth:`Context.lend` call: when
    the user consumes one (:meth:`Request._claim`), the adapter hears of it
    through its *on_consumed* instead of the context's cache bookkeeping."""

    __slots__ = ("_on_consumed",)

    def __init__(self, on_consumed: Callable[[Request], None]) -> None:
        self._on_consumed = on_consumed

    def _forget(self, req: Request) -> None:
        self._on_consumed(req)
