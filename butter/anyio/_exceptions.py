"""The two exceptions of :mod:`butter.anyio` (and the import of anyio,
which fails with the name of the extra to install)."""

from __future__ import annotations

import asyncio

try:
    import anyio as _anyio
except ImportError as _exc:  # pragma: no cover - exercised in a subprocess
    raise ImportError(
        "butter.anyio needs anyio, which is not installed: "
        "pip install 'butter[anyio]' (or pip install anyio)"
    ) from _exc

__all__ = ["ClosedResourceError", "QueueEmpty"]


class QueueEmpty(asyncio.QueueEmpty, _anyio.WouldBlock):
    """``get_nowait()`` found nothing ready (also an
    :class:`asyncio.QueueEmpty` and an ``anyio.WouldBlock``)."""


class ClosedResourceError(ValueError, _anyio.ClosedResourceError):
    """The object is closed (also a ``ValueError``, what
    :mod:`butter.asyncio` raises, and an ``anyio.ClosedResourceError``)."""
