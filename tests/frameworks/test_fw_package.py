"""butter.anyio as a package: the optional import, its two exceptions, the
same interface as butter.asyncio, and butter.asyncio's hint under trio."""

from __future__ import annotations

import asyncio
import importlib
import inspect
import os
import pkgutil
from typing import Any, List

import pytest
from conftest import run_python

import butter.asyncio

ASYNCIO_MODULES = sorted(
    m.name for m in pkgutil.iter_modules(butter.asyncio.__path__) if not m.name.startswith("_")
)

needs_anyio = pytest.mark.skipif(
    importlib.util.find_spec("anyio") is None, reason="anyio is not installed"
)


def test_import_without_anyio_names_the_extra() -> None:
    """With anyio unimportable (a sys.meta_path blocker, in a fresh
    interpreter) ``import butter.anyio`` and ``import butter.anyio.inotify``
    fail with an ImportError naming ``butter[anyio]``; butter.asyncio works."""
    code = """
import sys

class Blocker:
    def find_spec(self, name, path=None, target=None):
        if name == "anyio" or name.startswith("anyio."):
            raise ImportError(f"blocked: {name}")
        return None

sys.meta_path.insert(0, Blocker())
for name in ("butter.anyio", "butter.anyio.inotify"):
    try:
        __import__(name)
    except ImportError as exc:
        print(type(exc).__name__, exc)
    else:
        print("imported", name)
import butter.asyncio.inotify
print("asyncio ok")
"""
    lines = run_python(code).stdout.splitlines()
    assert lines[-1] == "asyncio ok"
    assert len(lines) == 3
    for line in lines[:2]:
        assert line.startswith("ImportError") and "butter[anyio]" in line, line


@needs_anyio
def test_the_two_exceptions() -> None:
    import anyio

    import butter.anyio as ba

    assert issubclass(ba.QueueEmpty, asyncio.QueueEmpty)
    assert issubclass(ba.QueueEmpty, anyio.WouldBlock)
    assert issubclass(ba.ClosedResourceError, ValueError)
    assert issubclass(ba.ClosedResourceError, anyio.ClosedResourceError)
    assert set(ba.__all__) >= {"QueueEmpty", "ClosedResourceError"}


def _public(cls: type) -> List[str]:
    return sorted(n for n in dir(cls) if not n.startswith("_"))


def _signature(obj: Any) -> Any:
    try:
        return inspect.signature(obj)
    except (TypeError, ValueError):
        return None


@needs_anyio
@pytest.mark.parametrize("name", ASYNCIO_MODULES)
def test_same_interface_as_butter_asyncio(name: str) -> None:
    """Every butter.asyncio.<module> has a butter.anyio.<module> exporting
    the same names: classes with the same public methods and properties
    and the same signatures (constructor included), aliases kept."""
    a = importlib.import_module(f"butter.asyncio.{name}")
    b = importlib.import_module(f"butter.anyio.{name}")
    assert sorted(a.__all__) == sorted(b.__all__)
    for export in a.__all__:
        x, y = getattr(a, export), getattr(b, export)
        assert inspect.isclass(x) == inspect.isclass(y), export
        if not inspect.isclass(x):
            assert _signature(x) == _signature(y), export
            assert inspect.iscoroutinefunction(x) == inspect.iscoroutinefunction(y), export
            continue
        assert y.__name__ == x.__name__, export
        assert _public(x) == _public(y), export
        assert _signature(x) == _signature(y), f"{export}()"
        for attr in _public(x):
            fx, fy = inspect.getattr_static(x, attr), inspect.getattr_static(y, attr)
            if callable(fx):
                assert _signature(getattr(x, attr)) == _signature(getattr(y, attr)), (
                    f"{export}.{attr}"
                )
                assert inspect.iscoroutinefunction(fx) == inspect.iscoroutinefunction(fy), (
                    f"{export}.{attr}: async in one, not the other"
                )
    # aliases: the same object under both names, as in butter.asyncio
    for export in a.__all__:
        for other in a.__all__:
            same_in_a = getattr(a, export) is getattr(a, other)
            assert same_in_a == (getattr(b, export) is getattr(b, other)), (export, other)


def test_butter_asyncio_under_trio_names_butter_anyio(framework: Any) -> None:
    """A butter.asyncio class (or splice_copy_async) awaited under trio: a
    RuntimeError that names butter.anyio, not a bare "no running event loop"."""
    fw = framework
    if not fw.name.endswith("trio"):
        pytest.skip("butter.asyncio runs under asyncio")

    async def main() -> List[str]:
        from butter.asyncio.eventfd import Eventfd_async
        from butter.asyncio.inotify import Inotify_async
        from butter.asyncio.splice import splice_copy_async

        messages = []
        e = Eventfd_async()
        try:
            with pytest.raises(RuntimeError) as info:
                await e.get()
            messages.append(str(info.value))
        finally:
            e.close()
        ino = Inotify_async()
        try:
            with pytest.raises(RuntimeError) as info:
                async with ino:
                    pass
            messages.append(str(info.value))
        finally:
            ino.close()

        r, w = os.pipe()
        try:
            with pytest.raises(RuntimeError) as info:
                await splice_copy_async(r, w)
            messages.append(str(info.value))
        finally:
            os.close(r)
            os.close(w)
        return messages

    for message in fw.run(main):
        assert "butter.anyio" in message, message
