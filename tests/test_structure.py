"""The package's shape: every module imports first, no import circles, events pickle.

Checked on the installed package (what users get), not the source tree.
"""

from __future__ import annotations

import ast
import os
import pickle
import pkgutil
import subprocess
import sys

import pytest
from conftest import run_python

import butter

PACKAGE_DIR = os.path.dirname(butter.__file__)


def _all_modules() -> list[str]:
    names = ["butter"]
    for info in pkgutil.walk_packages([PACKAGE_DIR], prefix="butter."):
        names.append(info.name)
    return sorted(names)


MODULES = _all_modules()


def _skip_without_libseccomp():
    """butter.seccomp imports only where libseccomp.so.2 is installed."""
    try:
        import butter.seccomp  # noqa: F401
    except ImportError as exc:
        pytest.skip(str(exc))


def test_the_walk_sees_the_packages():
    # The walk itself is what the other tests trust: it must see inside packages.
    for name in ("butter.inotify._tree", "butter.fanotify.__main__"):
        assert name in MODULES
    _skip_without_libseccomp()  # the walk cannot import butter.seccomp then
    assert "butter.seccomp._notify" in MODULES


@pytest.mark.parametrize("module", MODULES)
def test_every_module_imports_first_in_a_fresh_interpreter(module):
    if module.startswith(("butter.seccomp", "butter.asyncio.seccomp")):
        _skip_without_libseccomp()
    proc = run_python(f"import {module}\n", check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "", "importing must not print (a CLI ran?)"


@pytest.mark.parametrize("package", ["butter.inotify", "butter.fanotify"])
def test_a_cli_runs_once_as_the_package_main(package):
    # python -m on a module that the package imports runs it twice (runpy
    # warns); a package's __main__ is imported by nothing else.
    proc = subprocess.run(
        [sys.executable, "-W", "error", "-m", package, "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    # inotifywait's --help exits 1, and butter's copy does the same
    assert proc.returncode == (1 if package == "butter.inotify" else 0), proc.stderr
    assert f"sage: python -m {package}" in proc.stdout
    assert proc.stderr == ""


# -- no import circles -------------------------------------------------------------
def _module_file(module: str) -> str:
    rel = module.split(".")[1:]
    path = os.path.join(PACKAGE_DIR, *rel)
    return os.path.join(path, "__init__.py") if os.path.isdir(path) else path + ".py"


def _is_type_checking(test: ast.expr) -> bool:
    return isinstance(test, ast.Name) and test.id == "TYPE_CHECKING"


def _imports(module: str) -> set[str]:
    """The butter modules *module* imports (at any depth, lazily too), except
    under ``if TYPE_CHECKING:``."""
    if not os.path.exists(_module_file(module)):
        return set()  # the compiled modules import nothing of butter
    with open(_module_file(module)) as f:
        tree = ast.parse(f.read())
    is_package = _module_file(module).endswith("__init__.py")
    package = module if is_package else module.rpartition(".")[0]
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("butter"):
                    found.add(alias.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.startswith("butter"):
                for alias in node.names:
                    sub = f"{target}.{alias.name}"
                    found.add(sub if sub in MODULES else target)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    # Importing a submodule runs its parents' __init__ first; those are not
    # edges this module chose (and a parent importing its child is normal).
    return {m for m in found if m in MODULES and m != module}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    result: list[list[str]] = []

    def strong(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                result.append(sorted(component))

    for v in graph:
        if v not in index:
            strong(v)
    return result


def test_no_import_circles_inside_the_package():
    graph = {m: _imports(m) for m in MODULES}
    assert _cycles(graph) == []


def test_the_circle_finder_finds_circles():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_package_init_imports_no_submodule_that_imports_it_back():
    # The shape of the big families: __init__ re-exports, parts import
    # siblings (never the package), so any part can be imported first.
    for module in MODULES:
        if _module_file(module).endswith("__init__.py") and module != "butter":
            for part in MODULES:
                if part.startswith(module + ".") and part.rpartition(".")[2] != "__main__":
                    assert module not in _imports(part), f"{part} imports {module}"


# -- pickling every event type in a fresh process ------------------------------------
def _events() -> list[object]:
    from butter.aio import IoEvent
    from butter.fanotify import (
        FAN_CREATE,
        FAN_EVENT_INFO_TYPE_DFID_NAME,
        FAN_NOFD,
        FanotifyEvent,
        FidInfo,
    )
    from butter.inotify import IN_CREATE, IN_MOVE, InotifyEvent, PathEvent
    from butter.pidfd import ProcessExit
    from butter.signalfd import Signal
    from butter.timerfd import TimerSpec

    events: list[object] = [
        InotifyEvent(1, IN_CREATE, 0, "a"),
        PathEvent("/x/b", IN_MOVE, "/x/a"),
        FanotifyEvent(
            FAN_CREATE,
            FAN_NOFD,
            123,
            (FidInfo(FAN_EVENT_INFO_TYPE_DFID_NAME, (1, 2), 1, b"\x01\x02", "new"),),
        ),
        ProcessExit(1234, 1, 3),
        Signal(*range(len(Signal._fields))),
        TimerSpec(1.5, 0.25),
        IoEvent(7, 0x1000, 4096, 0, None),
    ]
    try:
        from butter.seccomp import Notification, NotificationResponse
    except ImportError:  # pragma: no cover - libseccomp.so.2 not installed
        return events
    note = Notification(7, 100, 0, 39, 0xC000003E, 0x1234, (1, 2, 3, 4, 5, 6))
    events += [note, NotificationResponse(note, 0, 0, 0)]
    return events


def _fields(obj: object) -> object:
    if isinstance(obj, tuple):
        return tuple(obj)
    slots = [s for cls in type(obj).__mro__ for s in getattr(cls, "__slots__", ())]
    fields = {s: getattr(obj, s) for s in slots if not s.startswith("__") and hasattr(obj, s)}
    fields.update(getattr(obj, "__dict__", {}))
    assert fields, f"{type(obj).__name__}: nothing to compare"
    return fields


def test_every_event_type_pickles_across_processes():
    events = _events()
    blob = pickle.dumps(events).hex()
    proc = run_python(
        "import pickle, sys\n"
        "evs = pickle.loads(bytes.fromhex(sys.argv[1]))\n"
        "print(pickle.dumps(evs).hex())\n",
        blob,
    )
    back = pickle.loads(bytes.fromhex(proc.stdout.strip()))
    assert [type(e) for e in back] == [type(e) for e in events]
    for mine, theirs in zip(events, back):
        assert type(theirs).__module__.count(".") == 1, "pickles name the public module"
        assert _fields(theirs) == _fields(mine)


def test_an_event_owning_an_fd_refuses_to_pickle():
    # Its fd number would mean another file (or nothing) in the other process,
    # and the copy would close it there.
    from butter.fanotify import FAN_OPEN, FanotifyEvent

    fd = os.open("/", os.O_RDONLY | os.O_CLOEXEC)
    with FanotifyEvent(FAN_OPEN, fd, os.getpid()) as event, pytest.raises(TypeError, match="fd"):
        pickle.dumps(event)
    assert event.closed


@pytest.mark.parametrize(
    "package", [m for m in MODULES if _module_file(m).endswith("__init__.py") and m != "butter"]
)
def test_public_classes_name_their_public_module(package):
    if package == "butter.seccomp":
        _skip_without_libseccomp()
    mod = __import__(package, fromlist=["__all__"])
    if package != "butter.asyncio":
        for name in mod.__all__:
            obj = getattr(mod, name)
            if isinstance(obj, type):
                assert obj.__module__ == package, name
