"""List the public names of Butter 0.9 and 0.13.1 and what butter has today.

Run by hand (not at build time) with the installed butter importable::

    python docs/_tools/old_names.py OLD-0.9/butter OLD-0.13.1/butter > tables.rst

It prints the per-module tables that end ``docs/migrating.rst`` (everything
after the hand-written introduction), and the counts on stderr.

For each public module file of the old trees (files and packages whose name
does not start with ``_``), the names are read with :mod:`ast`: module-level
``def``/``class``/assignments not starting with ``_``, plus names imported
from the package itself (relative imports, ``*`` expanded), or ``__all__``
where the module has one; and the public methods/properties/class
attributes of its public classes (``Class.attr``).  Each name is looked up
on the installed butter at the same module path (``getattr``, warnings
recorded): present and silent is "same"; present with a
``DeprecationWarning`` (or a "Deprecated" docstring: functions, methods and
properties warn when used) is "deprecated alias"; otherwise the manual
tables below (filled by reading both codebases) say "renamed", "gone" or
"not fixable".
"""

from __future__ import annotations

import ast
import importlib
import inspect
import re
import sys
import warnings
from pathlib import Path
from typing import Any

_B = "cffi internals (butter's compiled module is private)"
_DEMO = "demo code (see ``examples/``)"
_ERR = "errors are ``OSError`` subclasses picked by errno (``e.errno``)"

# "module.name" -> new spelling (relative to the module, or "butter....")
# and how to use it
RENAMED: dict[str, str] = {
    "butter.memfd.revoke": "``add_seals`` (``add_seals(fd, seals)``)",
    "butter.memfd.seal": "``add_seals`` (``add_seals(fd, F_SEAL_SEAL)``)",
    "butter.memfd.flags": "``get_seals``",
    "butter.memfd.Memfd.revoke": "``Memfd.seal`` (``m.seal(seals)``)",
    "butter.memfd.Memfd.seal": "``Memfd.seal`` (``m.seal(F_SEAL_SEAL)``: it takes the seals)",
    "butter.memfd.Memfd.flags": "``Memfd.seals``",
    "butter.memfd.Memfd.shrinkable": "``Memfd.seals`` (``not m.seals & F_SEAL_SHRINK``;"
    " set: ``m.seal(F_SEAL_SHRINK)``)",
    "butter.memfd.Memfd.growable": "``Memfd.seals`` (``not m.seals & F_SEAL_GROW``;"
    " set: ``m.seal(F_SEAL_GROW)``)",
    "butter.memfd.Memfd.writable": "``Memfd.seals`` (``not m.seals & F_SEAL_WRITE``;"
    " set: ``m.seal(F_SEAL_WRITE)``)",
    "butter.seccomp.condition": "``Arg`` (``Arg(arg, op, datum_a, datum_b=0)``)",
    "butter.timerfd.TimerSpec.one_off": "``TimerSpec.initial``",
    "butter.timerfd.TimerSpec.one_off_seconds": "``TimerSpec.initial_ns`` (``// 10**9``)",
    "butter.timerfd.TimerSpec.one_off_nano_seconds": "``TimerSpec.initial_ns`` (``% 10**9``)",
    "butter.timerfd.TimerSpec.reoccuring": "``TimerSpec.interval``",
    "butter.timerfd.TimerSpec.reoccuring_seconds": "``TimerSpec.interval_ns`` (``// 10**9``)",
    "butter.timerfd.TimerSpec.reoccuring_nano_seconds": "``TimerSpec.interval_ns`` (``% 10**9``)",
    "butter.timerfd.TimerSpec.next_event_seconds": "``TimerSpec.initial_ns`` (``// 10**9``)",
    "butter.timerfd.TimerSpec.next_event_nano_seconds": "``TimerSpec.initial_ns`` (``% 10**9``)",
    "butter.timerfd.TimerSpec.disable": "``TimerSpec.after`` (``spec.after(0)``)",
    "butter.timerfd.TimerVal.disable": "``TimerSpec.after`` (``spec.after(0)``)",
    "butter.timerfd.TimerVal.period": "``TimerSpec.interval_ns``"
    " (``divmod(spec.interval_ns, 10**9)``)",
    "butter.clone.SETNS_ANY": "``setns`` (pass ``0``, its default)",
    "butter.system.Retry": "``butter.system.umount`` (``MNT_EXPIRE`` raises"
    " ``BlockingIOError``, ``EAGAIN``)",
}
# "module.name" -> one short reason
GONE: dict[str, str] = {
    "butter.asyncio.signalfd.watcher": _DEMO,
    "butter.asyncio.signalfd.main": _DEMO,
    "butter.asyncio.timerfd.watcher": _DEMO,
    "butter.asyncio.timerfd.main": _DEMO,
    "butter.asyncio.timerfd.Timerfd_async.enabled": "was the unbound property object"
    " (unusable); ``(await t.get_current())`` instead",
    "butter.asyncio.timerfd.Timerfd_async.disabled": "was the unbound property object (unusable)",
    "butter.clone.main": _DEMO,
    "butter.prctl.main": _DEMO,
    "butter.seccomp.main": _DEMO,
    "butter.clone.ffi": _B,
    "butter.prctl.ffi": _B,
    "butter.utils.lib": _B,
    "butter.clone.PermissionError": "the builtin ``PermissionError``",
    "butter.utils.PermissionError": "the builtin ``PermissionError``",
    "butter.system.PermissionError": "the builtin ``PermissionError``",
    "butter.system.InternalError": _ERR,
    "butter.clone.UnknownError": _ERR,
    "butter.clone.UnknownError.errno": _ERR,
    "butter.splice.UnknownError": _ERR,
    "butter.splice.UnknownError.errno": _ERR,
    "butter.system.UnknownError": _ERR,
    "butter.system.UnknownError.errno": _ERR,
    "butter.utils.UnknownError.errno": _ERR,
    "butter.splice.IOV_MAX": "``os.sysconf('SC_IOV_MAX')``",
    "butter.splice.NULL_TERMINATOR": "internal (always 1)",
    "butter.system.HOST_NAME_MAX": "``os.sysconf('SC_HOST_NAME_MAX')``",
    "butter.system.MAXPATHLEN": "internal (0.13.1's 256 was wrong; the kernel checks)",
    "butter.seccomp.READ_EVENTS_MAX": "unused in 0.9",
    "butter.prctl.prctl": "0.13.1's module failed to import (``NameError``); no prctl wrapper",
    "butter.prctl.prctl.capbset": "0.13.1's module failed to import",
    "butter.prctl.prctl.sub_reaper": "0.13.1's module failed to import",
    "butter.prctl.prctl.dumpable": "0.13.1's module failed to import",
    "butter.inotify.Inotify.blocking": "0.9 set it to the undefined name ``false``"
    " (``NameError``); ``os.get_blocking(i.fileno())``",
    "butter.fanotify.FAN_MODIFY_DIR": "never in Linux (a proposed flag)",
    "butter.fanotify_constants.FAN_MODIFY_DIR": "never in Linux (a proposed flag)",
}
for _clock in (
    "PROCESS_CPUTIME_ID",
    "THREAD_CPUTIME_ID",
    "MONOTONIC_RAW",
    "MONOTONIC_COARSE",
    "REALTIME_COARSE",
):
    GONE[f"butter.timerfd.CLOCK_{_clock}"] = "``timerfd_create`` refuses this clock (EINVAL)"
for _name in (
    "isatty",
    "mode",
    "name",
    "read",
    "readable",
    "readlines",
    "seek",
    "seekable",
    "tell",
    "truncate",
    "write",
    "writable",
    "writelines",
):
    GONE[f"butter.utils.Eventlike.{_name}"] = "file-object stubs (returned nothing useful)"
# "module.name" -> the fix (the four differences that cannot be papered over)
NOT_FIXABLE: dict[str, str] = {
    "butter.inotify.InotifyEvent.filename": "``str``, was ``bytes``:"
    " ``os.fsencode(event.filename)``",
    "butter.utils.Eventlike.closed": "a property, was a method: drop the ``()``",
    "butter.inotify.watch": "returns a generator, 0.13.1 returned one event:"
    " ``next(watch(path, events))``",
    "butter.utils.Eventlike.close": "a second ``close()`` is a no-op (was ``ValueError``)",
}


def module_files(root: Path) -> dict[str, Path]:
    """``butter.x.y`` -> file, for the public modules under *root*."""
    out = {}
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root.parent).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts.pop()
        if any(p.startswith("_") for p in parts):
            continue
        out[".".join(parts)] = path
    return out


def _top_statements(body: list[ast.stmt]) -> list[ast.stmt]:
    out: list[ast.stmt] = []
    for node in body:
        if isinstance(node, ast.If):
            out += _top_statements(node.body) + _top_statements(node.orelse)
        elif isinstance(node, ast.Try):
            out += _top_statements(node.body)
            for h in node.handlers:
                out += _top_statements(h.body)
            out += _top_statements(node.orelse) + _top_statements(node.finalbody)
        else:
            out.append(node)
    return out


def _targets(node: ast.stmt) -> list[str]:
    names: list[str] = []
    targets: list[ast.expr] = []
    if isinstance(node, ast.Assign):
        targets = list(node.targets)
    elif isinstance(node, (ast.AnnAssign, ast.AugAssign)):
        targets = [node.target]
    for t in targets:
        for n in ast.walk(t):
            if isinstance(n, ast.Name):
                names.append(n.id)
    return names


def _classes(path: Path) -> dict[str, ast.ClassDef]:
    if not path.exists():
        return {}
    tree = ast.parse(path.read_text(encoding="utf-8", errors="replace"))
    return {n.name: n for n in _top_statements(tree.body) if isinstance(n, ast.ClassDef)}


def _namedtuple_fields(path: Path) -> dict[str, list[str]]:
    if not path.exists():
        return {}
    found = re.findall(
        r"^(\w+) = namedtuple\(['\"]\w+['\"], *['\"]([\w ]+)['\"]\)",
        path.read_text(encoding="utf-8", errors="replace"),
        re.M,
    )
    return {name: fields.split() for name, fields in found}


def _dynamic_constants(tree: ast.Module, path: Path, root: Path) -> list[str]:
    """``for key in dir(lib): if key.startswith('IN_'): ...``: the C
    constants of that prefix, read from the ``#define`` lines of the cffi
    declarations (the module, its private twin, ``build/<name>.py``)."""
    prefixes = []
    for node in tree.body:
        if isinstance(node, ast.For):
            for sub in ast.walk(node):
                if (
                    isinstance(sub, ast.Call)
                    and isinstance(sub.func, ast.Attribute)
                    and sub.func.attr == "startswith"
                    and sub.args
                    and isinstance(sub.args[0], ast.Constant)
                ):
                    prefixes.append(str(sub.args[0].value))
    if not prefixes:
        return []
    stem = path.stem.replace("_constants", "")
    texts = ""
    for f in (path, path.with_name(f"_{stem}.py"), root / "build" / f"{stem}.py"):
        if f.exists():
            texts += f.read_text(encoding="utf-8", errors="replace")
    out: list[str] = []
    for prefix in prefixes:
        out += re.findall(rf"(?m)^[ \t]*#define ({re.escape(prefix)}\w+)", texts)
    return list(dict.fromkeys(out))


def names_of(modname: str, path: Path, root: Path, seen: set[str] | None = None) -> list[str]:
    """Public module-level names and ``Class.attr`` of *path*."""
    seen = seen if seen is not None else set()
    seen.add(str(path))
    tree = ast.parse(path.read_text(encoding="utf-8", errors="replace"))
    body = _top_statements(tree.body)
    names: list[str] = []
    classes: dict[str, ast.ClassDef] = {}
    all_: list[str] | None = None
    for node in body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            names.append(node.name)
        elif isinstance(node, ast.ClassDef):
            names.append(node.name)
            classes[node.name] = node
        elif isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets
        ):
            all_ = [str(e.value) for e in ast.walk(node.value) if isinstance(e, ast.Constant)]
        elif isinstance(node, ast.ImportFrom) and node.level:
            src = path.parent
            for _ in range(node.level - 1):
                src = src.parent
            for part in (node.module or "").split("."):
                if part:
                    src = src / part
            f = src / "__init__.py" if src.is_dir() else src.with_suffix(".py")
            defined = _classes(f)
            for alias in node.names:
                if alias.name == "*":
                    if f.exists() and str(f) not in seen:
                        names += [n for n in names_of("", f, root, seen) if "." not in n]
                        classes.update(defined)
                else:
                    names.append(alias.asname or alias.name)
                    if alias.name in defined:  # a class re-exported: list its attributes
                        classes[alias.asname or alias.name] = defined[alias.name]
        else:
            names += _targets(node)
    if all_ is not None:
        names = list(all_) + [n for n in names if n in classes]
    names += _dynamic_constants(tree, path, root)
    if modname:  # the objects the module hands out, defined in its private twin
        for cname, cnode in _classes(path.with_name(f"_{path.name}")).items():
            if not cname.startswith("_") and cname not in classes:
                names.append(cname)
                classes[cname] = cnode
    fields = _namedtuple_fields(path) | _namedtuple_fields(path.with_name(f"_{path.name}"))
    out = [n for n in dict.fromkeys(names) if not n.startswith("_")]
    for cname in [n for n in out if n in classes]:
        for node in classes[cname].body:
            attrs: list[str] = []
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                attrs = [node.name]
            else:
                attrs = _targets(node)
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for sub in ast.walk(node):  # instance attributes: self.x = ...
                    if (
                        isinstance(sub, ast.Attribute)
                        and isinstance(sub.ctx, ast.Store)
                        and isinstance(sub.value, ast.Name)
                        and sub.value.id == "self"
                    ):
                        attrs.append(sub.attr)
            out += [f"{cname}.{a}" for a in attrs if not a.startswith("_")]
        for base in classes[cname].bases:  # class X(namedtuple(...)) fields
            if isinstance(base, ast.Name) and base.id in fields:
                out += [f"{cname}.{f}" for f in fields[base.id]]
    return list(dict.fromkeys(out))


_DEPRECATED_MODULES: set[str] = set()


def resolve(modname: str, name: str) -> tuple[bool, bool]:
    """(exists, deprecated) for ``modname.name`` on the installed butter."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            obj: Any = importlib.import_module(modname)
        except ImportError:
            return False, False
        if any(issubclass(w.category, DeprecationWarning) for w in caught):
            _DEPRECATED_MODULES.add(modname)  # it warns once, on first import
        warned = modname in _DEPRECATED_MODULES
        parts = name.split(".")
        for i, part in enumerate(parts):
            caught.clear()
            try:
                if i == len(parts) - 1 and inspect.isclass(obj):
                    attr = inspect.getattr_static(obj, part)
                    obj = attr.fget if isinstance(attr, property) else getattr(obj, part)
                else:
                    obj = getattr(obj, part)
            except AttributeError:
                if not inspect.ismodule(obj):
                    return False, False
                try:  # a subpackage listed in __all__
                    obj = importlib.import_module(f"{obj.__name__}.{part}")
                except ImportError:
                    return False, False
            warned = warned or any(issubclass(w.category, DeprecationWarning) for w in caught)
    doc = (getattr(obj, "__doc__", None) or "").lstrip()
    if callable(obj) and doc.startswith("Deprecated"):
        warned = True
    return True, warned


def classify(modname: str, name: str) -> str:
    key = f"{modname}.{name}"
    if modname.startswith("butter.build."):
        return "gone: 0.13.1's cffi build script (butter builds from ``_cffi_src``)"
    for table, word in ((NOT_FIXABLE, "not fixable"), (RENAMED, "renamed"), (GONE, "gone")):
        if key in table:
            return f"{word}: {table[key]}"
    exists, deprecated = resolve(modname, name)
    if exists:
        return "deprecated alias" if deprecated else "same"
    return "UNKNOWN"


def main(argv: list[str]) -> int:
    roots = [Path(a) for a in argv[1:3]]
    versions = ("0.9", "0.13.1")
    where: dict[str, dict[str, list[str]]] = {}
    counts = {}
    for version, root in zip(versions, roots):
        n = 0
        for modname, path in module_files(root).items():
            for name in names_of(modname, path, root):
                where.setdefault(modname, {}).setdefault(name, []).append(version)
                n += 1
        counts[version] = n
    tally: dict[str, int] = {}
    for modname in sorted(where):
        title = f"``{modname}``"
        print(title)
        print("~" * len(title))
        print()
        print(".. list-table::")
        print("   :header-rows: 1")
        print("   :widths: 30 15 55")
        print()
        print("   * - old name")
        print("     - in")
        print("     - now")
        for name, vs in where[modname].items():
            status = classify(modname, name)
            tally[status.split(":")[0]] = tally.get(status.split(":")[0], 0) + 1
            print(f"   * - ``{name}``")
            print(f"     - {', '.join(vs)}")
            print(f"     - {status}")
        print()
    print(f"names: {counts}; rows: {tally}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
