"""butter: direct, fast, safe access to Linux's low-level kernel interfaces.

Each kernel family lives in its own module (``butter.eventfd``,
``butter.timerfd``, ``butter.signalfd``, ...) with thin wrappers, an
event-like object and an asyncio variant in ``butter.asyncio``.  Importing
``butter`` itself loads nothing else.
"""

__version__ = "0.14.0"

__all__ = ["__version__"]
