"""butter's async classes for anyio and trio.

For every ``butter.asyncio.<module>`` there is a ``butter.anyio.<module>``
with the same class names and interface, which runs under anyio on either
backend (asyncio, trio) and inside a plain ``trio.run``::

    from butter.anyio.inotify import Inotify_async

    async with Inotify_async() as ino:
        ino.watch("/tmp")
        async for event in ino:
            ...

They are the :mod:`butter.asyncio` classes with another way of waiting
(see :mod:`butter._queue_core`): on asyncio the loop's reader callback
reads the fd, as in :mod:`butter.asyncio`; on trio one of the waiting tasks
does (``trio.lowlevel.wait_readable``), and closing tells trio first
(``trio.lowlevel.notify_closing``).  An object belongs to the event loop
(the ``trio.run``) it is first used in.  Cancellation follows the
framework's rules (cancel scopes, ``Task.cancel``) and loses no event.

Two exceptions differ from :mod:`butter.asyncio`, each a subclass of both
spellings so either ``except`` works: ``get_nowait()`` with nothing ready
raises :class:`QueueEmpty` (an :class:`asyncio.QueueEmpty` and an
``anyio.WouldBlock``), and using a closed object (or a ``get()``
pending when it is closed) raises :class:`ClosedResourceError` (a
``ValueError``, as in :mod:`butter.asyncio`, and an
``anyio.ClosedResourceError``).

anyio is an optional dependency: ``pip install butter[anyio]``.
"""

from __future__ import annotations

from .._public import publish
from ._exceptions import ClosedResourceError, QueueEmpty

__all__ = ["ClosedResourceError", "QueueEmpty"]

publish(__name__, globals())
