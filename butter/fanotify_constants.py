"""Deprecated (Butter 0.13.1): the ``FAN_*`` constants live in :mod:`butter.fanotify`.

Compatibility with the original Butter: ``from butter.fanotify_constants
import FAN_MODIFY`` keeps working.  The first import in a process warns with
a ``DeprecationWarning`` naming ``butter.fanotify`` (Python caches modules,
so later imports are silent, like any import-time warning).
"""

from __future__ import annotations

import warnings as _warnings

from .fanotify import _constants
from .fanotify._constants import *  # noqa: F403 - the FAN_* constants, as butter.fanotify has them

__all__: list[str] = []
__all__ += _constants.__all__

_warnings.warn(
    "butter.fanotify_constants is deprecated (Butter 0.13.1): import the constants "
    "from butter.fanotify",
    DeprecationWarning,
    stacklevel=2,
)
