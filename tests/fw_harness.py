"""One async test, four frameworks: the harness of ``tests/frameworks/``.

butter's async classes exist twice: ``butter.asyncio.<module>`` (asyncio
only) and ``butter.anyio.<module>`` (anyio on either backend, and a plain
``trio.run``).  A test written against :class:`Framework` runs unchanged
under each of :data:`FRAMEWORKS`:

``"asyncio"``
    ``butter.asyncio`` classes under ``asyncio.run``, with asyncio's own
    tools (tasks, ``Task.cancel()``, ``asyncio.wait_for``): needs no anyio.
``"anyio-asyncio"``, ``"anyio-trio"``
    ``butter.anyio`` classes under ``anyio.run(backend=...)``, with anyio's
    tools (task groups, cancel scopes, ``fail_after``).
``"trio"``
    ``butter.anyio`` classes under a plain ``trio.run``, with trio's own
    tools (nurseries, cancel scopes, ``fail_after``): what a trio program
    that never heard of anyio does.

So each framework is driven the way its own users drive it, and
cancellation reaches butter by each framework's own mechanism (asyncio's
``CancelledError`` thrown in once; trio's and anyio's level-triggered cancel
scopes, which cancel every later checkpoint too).

:meth:`Framework.run` is bounded twice: the framework's own timeout around
the whole test (a hang fails with a traceback showing where it waited),
and the test runs in a forked child (``conftest.in_child``) that is killed
a little later if even that does not end it (a getter that swallows
cancellation).  The child also keeps what a test changes (signal masks, a
loaded seccomp filter, a half-closed loop) out of the pytest process.

The tools a test needs are methods of the framework: :meth:`sleep`,
:meth:`event`, :meth:`task_group` (``spawn(fn, *args)`` returns a handle
whose ``cancel()`` cancels that one task), :meth:`wait_for` (raises the
builtin ``TimeoutError``), :meth:`move_on_after` and :meth:`wait_readable`.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import weakref
from types import ModuleType
from typing import Any, Awaitable, Callable, Iterator, List, Optional, Type

FRAMEWORKS = ["asyncio", "anyio-asyncio", "anyio-trio", "trio"]

#: Seconds a forked test may outlive its framework-level timeout before it
#: is killed (the framework's own timeout gives the better report).
GRACE = 10.0


def missing(name: str) -> str:
    """Why *name* cannot run here ("" if it can): a reason for pytest.skip."""
    needed = {"asyncio": [], "anyio-asyncio": ["anyio"], "anyio-trio": ["anyio", "trio"]}
    for lib in needed.get(name, ["anyio", "trio"]):
        try:
            importlib.import_module(lib)
        except ImportError as exc:
            return f"{name}: {lib} is not installed ({exc})"
    return ""


class Handle:
    """One spawned task: ``cancel()`` it, ask whether it is ``done``."""

    def __init__(self, cancel: Callable[[], Any]) -> None:
        self._cancel = cancel
        self.done = False

    def cancel(self) -> None:
        self._cancel()


def _leaves(exc: BaseException) -> List[BaseException]:
    inner = getattr(exc, "exceptions", None)
    if inner is None or not isinstance(exc, BaseException):
        return [exc]
    return [leaf for e in inner for leaf in _leaves(e)]


@contextlib.contextmanager
def _unwrap_groups() -> Iterator[None]:
    """A task group that failed with one exception raises that exception,
    not an exception group of one (readable reports, ``pytest.raises``)."""
    try:
        yield
    except BaseException as exc:
        leaves = _leaves(exc)
        if len(leaves) == 1 and leaves[0] is not exc:
            raise leaves[0] from None
        raise


class Framework:
    """How tests run under one framework (see the module docs)."""

    name = ""
    #: What ``get_nowait()`` raises when nothing is ready.
    QueueEmpty: Type[BaseException] = asyncio.QueueEmpty
    #: What a getter pending at ``close()`` (and a read after it) raises.
    Closed: Type[BaseException] = ValueError
    #: The package the classes come from.
    package = "butter.asyncio"

    def module(self, family: str) -> ModuleType:
        """``butter.asyncio.<family>`` or ``butter.anyio.<family>``."""
        return importlib.import_module(f"{self.package}.{family}")

    def run(
        self,
        fn: Callable[..., Awaitable[Any]],
        *args: Any,
        timeout: float = 20.0,
        fork: bool = True,
    ) -> Any:
        """``fn(*args)`` under this framework, bounded by *timeout* seconds
        (a hang fails the test); in a forked child unless ``fork=False``."""
        if not fork:
            return self._run_bounded(fn, args, timeout)
        from conftest import in_child  # (conftest imports this module)

        return in_child(self._run_bounded, fn, args, timeout, timeout=timeout + GRACE)

    def _run_bounded(self, fn: Callable[..., Awaitable[Any]], args: Any, timeout: float) -> Any:
        raise NotImplementedError

    def _hung(self, fn: Any, timeout: float) -> AssertionError:
        name = getattr(fn, "__qualname__", repr(fn))
        return AssertionError(f"{name} still running under {self.name} after {timeout} s (hang)")

    # -- tools -------------------------------------------------------------------
    async def sleep(self, seconds: float) -> None:
        raise NotImplementedError

    def event(self) -> Any:
        """An event: ``set()``, ``is_set()``, ``await wait()``."""
        raise NotImplementedError

    def task_group(self) -> Any:
        """``async with fw.task_group() as tg: h = tg.spawn(fn, *args)``: the
        block ends when every task has; a failing task cancels the others."""
        raise NotImplementedError

    async def wait_for(self, timeout: float, fn: Callable[..., Awaitable[Any]], *args: Any) -> Any:
        """``await fn(*args)``, or the builtin ``TimeoutError`` after *timeout*."""
        raise NotImplementedError

    def move_on_after(self, timeout: float) -> Any:
        """A context manager that cancels its body after *timeout* and then
        goes on (for the asyncio framework: an ``async with``)."""
        raise NotImplementedError

    async def wait_readable(self, fd: int) -> None:
        """Wait until *fd* is readable (the framework's own way)."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<Framework {self.name}>"


# -- asyncio -----------------------------------------------------------------------
#: Tasks cancelled through their Handle (or by their group): a move_on_after
#: whose timer fired at the same time must not swallow that cancel (the
#: bookkeeping asyncio itself gained in 3.11 with Task.uncancel()).
_hard_cancelled: weakref.WeakSet[asyncio.Task[Any]] = weakref.WeakSet()


class _AsyncioGroup:
    def __init__(self) -> None:
        self._tasks: List[asyncio.Task[Any]] = []
        self._failed: Optional[BaseException] = None

    async def __aenter__(self) -> _AsyncioGroup:
        return self

    def spawn(self, fn: Callable[..., Awaitable[Any]], *args: Any) -> Handle:
        task = asyncio.ensure_future(fn(*args))

        def cancel() -> None:
            _hard_cancelled.add(task)
            task.cancel()

        handle = Handle(cancel)

        def finished(t: asyncio.Task[Any]) -> None:
            handle.done = True
            if not t.cancelled() and t.exception() is not None and self._failed is None:
                self._failed = t.exception()
                for other in self._tasks:
                    _hard_cancelled.add(other)
                    other.cancel()

        task.add_done_callback(finished)
        self._tasks.append(task)
        return handle

    async def __aexit__(self, et: Any, exc: Any, tb: Any) -> None:
        if exc is not None:
            for t in self._tasks:
                _hard_cancelled.add(t)
                t.cancel()
        try:
            while True:
                pending = [t for t in self._tasks if not t.done()]
                if not pending:
                    break
                await asyncio.wait(pending)
        except BaseException:
            for t in self._tasks:
                _hard_cancelled.add(t)
                t.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            raise
        if self._failed is not None and exc is None:
            raise self._failed


class _AsyncioMoveOn:
    """``async with``: cancel the current task after *timeout*, absorb that."""

    def __init__(self, timeout: float) -> None:
        self._timeout = timeout

    async def __aenter__(self) -> _AsyncioMoveOn:
        self._task = asyncio.current_task()
        self._fired = False
        self._handle = asyncio.get_running_loop().call_later(self._timeout, self._fire)
        return self

    def _fire(self) -> None:
        self._fired = True
        assert self._task is not None
        self._task.cancel()

    async def __aexit__(self, et: Any, exc: Any, tb: Any) -> bool:
        self._handle.cancel()
        if not self._fired:
            return False
        if et is None:
            # fired after the body's last await: the cancel is still pending
            try:
                await asyncio.sleep(0)
            except asyncio.CancelledError:
                et = asyncio.CancelledError
        if et is not asyncio.CancelledError or self._task in _hard_cancelled:
            return False  # (a task cancelled from outside stays cancelled)
        if hasattr(self._task, "uncancel"):  # 3.11+: the cancel was ours
            self._task.uncancel()
        return True


def _task_stacks(main: asyncio.Future[Any]) -> List[str]:
    import traceback

    out = []
    for task in asyncio.all_tasks():
        if task is asyncio.current_task():
            continue
        frames = traceback.format_list(traceback.extract_stack(task.get_stack()[-1]))
        out.append(f"{task.get_coro()!r}:\n{''.join(frames[-3:])}")
    return out


class AsyncioFramework(Framework):
    name = "asyncio"

    def _run_bounded(self, fn: Callable[..., Awaitable[Any]], args: Any, timeout: float) -> Any:
        async def bounded() -> Any:
            main = asyncio.ensure_future(fn(*args))
            done, _ = await asyncio.wait([main], timeout=timeout)
            if not done:  # say where every task waits, then stop them
                where = "\n".join(_task_stacks(main))
                main.cancel()
                await asyncio.wait([main], timeout=1)
                raise AssertionError(f"{self._hung(fn, timeout)}; the tasks:\n{where}")
            return main.result()

        return asyncio.run(bounded())

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)

    def event(self) -> asyncio.Event:
        return asyncio.Event()

    def task_group(self) -> _AsyncioGroup:
        return _AsyncioGroup()

    async def wait_for(self, timeout: float, fn: Callable[..., Awaitable[Any]], *args: Any) -> Any:
        try:
            return await asyncio.wait_for(fn(*args), timeout)
        except asyncio.TimeoutError:
            raise TimeoutError(f"not done after {timeout} s") from None

    def move_on_after(self, timeout: float) -> _AsyncioMoveOn:
        return _AsyncioMoveOn(timeout)

    async def wait_readable(self, fd: int) -> None:
        loop = asyncio.get_running_loop()
        ready = loop.create_future()
        loop.add_reader(fd, lambda: ready.done() or ready.set_result(None))
        try:
            await ready
        finally:
            loop.remove_reader(fd)


# -- anyio and trio ------------------------------------------------------------------
class _ScopedGroup:
    """A trio nursery or an anyio task group whose tasks each run in a
    cancel scope of their own (the handle cancels that scope)."""

    def __init__(self, lib: Any, make_group: Callable[[], Any]) -> None:
        self._lib = lib
        self._make_group = make_group

    async def __aenter__(self) -> _ScopedGroup:
        self._cm = self._make_group()
        self._group = await self._cm.__aenter__()
        return self

    def spawn(self, fn: Callable[..., Awaitable[Any]], *args: Any) -> Handle:
        scope = self._lib.CancelScope()
        handle = Handle(scope.cancel)

        async def runner() -> None:
            try:
                with scope:
                    await fn(*args)
            finally:
                handle.done = True

        self._group.start_soon(runner)
        return handle

    async def __aexit__(self, et: Any, exc: Any, tb: Any) -> Any:
        with _unwrap_groups():
            return await self._cm.__aexit__(et, exc, tb)


class _MoveOn:
    """A sync cancel scope, usable with ``async with`` too (one spelling in tests)."""

    def __init__(self, scope: Any) -> None:
        self._scope = scope

    async def __aenter__(self) -> Any:
        return self._scope.__enter__()

    async def __aexit__(self, et: Any, exc: Any, tb: Any) -> Any:
        return self._scope.__exit__(et, exc, tb)


class _BackendFramework(Framework):
    package = "butter.anyio"

    @property  # type: ignore[override]
    def QueueEmpty(self) -> Type[BaseException]:
        return importlib.import_module("butter.anyio").QueueEmpty  # type: ignore[no-any-return]

    @property  # type: ignore[override]
    def Closed(self) -> Type[BaseException]:
        return importlib.import_module("butter.anyio").ClosedResourceError  # type: ignore[no-any-return]


class AnyioFramework(_BackendFramework):
    def __init__(self, backend: str) -> None:
        self.backend = backend
        self.name = f"anyio-{backend}"

    def _run_bounded(self, fn: Callable[..., Awaitable[Any]], args: Any, timeout: float) -> Any:
        import anyio

        async def bounded() -> Any:
            try:
                with anyio.fail_after(timeout):
                    return await fn(*args)
            except TimeoutError:
                raise self._hung(fn, timeout) from None

        return anyio.run(bounded, backend=self.backend)

    async def sleep(self, seconds: float) -> None:
        import anyio

        await anyio.sleep(seconds)

    def event(self) -> Any:
        import anyio

        return anyio.Event()

    def task_group(self) -> _ScopedGroup:
        import anyio

        return _ScopedGroup(anyio, anyio.create_task_group)

    async def wait_for(self, timeout: float, fn: Callable[..., Awaitable[Any]], *args: Any) -> Any:
        import anyio

        with anyio.fail_after(timeout):
            return await fn(*args)

    def move_on_after(self, timeout: float) -> _MoveOn:
        import anyio

        return _MoveOn(anyio.move_on_after(timeout))

    async def wait_readable(self, fd: int) -> None:
        import anyio

        await anyio.wait_readable(fd)  # (anyio >= 4.7)


class TrioFramework(_BackendFramework):
    name = "trio"

    def _run_bounded(self, fn: Callable[..., Awaitable[Any]], args: Any, timeout: float) -> Any:
        import trio

        async def bounded() -> Any:
            try:
                with trio.fail_after(timeout):
                    return await fn(*args)
            except trio.TooSlowError:
                raise self._hung(fn, timeout) from None

        return trio.run(bounded)

    async def sleep(self, seconds: float) -> None:
        import trio

        await trio.sleep(seconds)

    def event(self) -> Any:
        import trio

        return trio.Event()

    def task_group(self) -> _ScopedGroup:
        import trio

        return _ScopedGroup(trio, trio.open_nursery)

    async def wait_for(self, timeout: float, fn: Callable[..., Awaitable[Any]], *args: Any) -> Any:
        import trio

        try:
            with trio.fail_after(timeout):
                return await fn(*args)
        except trio.TooSlowError:
            raise TimeoutError(f"not done after {timeout} s") from None

    def move_on_after(self, timeout: float) -> _MoveOn:
        import trio

        return _MoveOn(trio.move_on_after(timeout))

    async def wait_readable(self, fd: int) -> None:
        import trio

        await trio.lowlevel.wait_readable(fd)


def get(name: str) -> Framework:
    """The :class:`Framework` called *name* (one of :data:`FRAMEWORKS`)."""
    if name == "asyncio":
        return AsyncioFramework()
    if name == "trio":
        return TrioFramework()
    if name.startswith("anyio-"):
        return AnyioFramework(name[len("anyio-") :])
    raise ValueError(f"unknown framework {name!r}")
