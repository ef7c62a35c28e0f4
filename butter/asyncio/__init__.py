"""asyncio variants of butter's event-like objects.

Each ``butter.asyncio.<family>`` module offers ``<Class>_async``: a
read-only :class:`asyncio.Queue` fed from the kernel fd (see
:class:`butter.asyncio._queue.AsyncEventQueue`).  Nothing is imported here.
"""
