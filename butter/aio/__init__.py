"""Linux native AIO: io_setup(2), io_submit(2), io_getevents(2), io_cancel(2),
io_destroy(2).  Everything lives in :mod:`butter.aio._context` for now.
"""

from __future__ import annotations

from .._public import publish
from ._context import *  # noqa: F403
from ._context import __all__ as __all__

publish(__name__, globals())
