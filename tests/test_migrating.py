"""docs/migrating.rst's tables say the truth: every old name marked as
available (same / deprecated alias / renamed) exists in butter, and every
deprecated alias warns with a DeprecationWarning when used."""

from __future__ import annotations

import importlib
import inspect
import pathlib
import re
import warnings
from typing import Any, List, NamedTuple, Optional

import pytest

DOC = pathlib.Path(__file__).parent.parent / "docs" / "migrating.rst"

AVAILABLE = ("same", "deprecated alias", "renamed")
KNOWN = (*AVAILABLE, "gone", "not fixable")


class Row(NamedTuple):
    module: str
    name: str
    versions: str
    status: str


def _rows() -> List[Row]:
    if not DOC.exists():
        return []
    lines = DOC.read_text(encoding="utf-8").splitlines()
    rows: List[Row] = []
    module: Optional[str] = None
    for i, line in enumerate(lines):
        heading = re.fullmatch(r"``(butter(?:\.\w+)*)``", line)
        if heading and i + 1 < len(lines) and re.fullmatch(r"~+", lines[i + 1]):
            module = heading.group(1)
            continue
        cell = re.fullmatch(r"   \* - ``([\w.]+)``", line)
        if cell and module:
            versions = lines[i + 1].strip()[2:]
            status = lines[i + 2].strip()[2:]
            rows.append(Row(module, cell.group(1), versions, status))
    return rows


ROWS = _rows()
pytestmark = pytest.mark.skipif(not ROWS, reason="docs/migrating.rst not in this tree")


def _resolve(module: str, path: str) -> Any:
    """``module`` + dotted *path*, through getattr (submodules imported);
    the last attribute of a class is looked up statically (a property is
    not run on the class)."""
    obj: Any = importlib.import_module(module)
    parts = path.split(".")
    for i, part in enumerate(parts):
        if i == len(parts) - 1 and inspect.isclass(obj):
            obj = inspect.getattr_static(obj, part)
        elif inspect.ismodule(obj) and not hasattr(obj, part):
            obj = importlib.import_module(f"{obj.__name__}.{part}")
        else:
            obj = getattr(obj, part)
    return obj


def test_table_is_complete() -> None:
    assert len(ROWS) > 300
    for row in ROWS:
        assert row.status.startswith(KNOWN), row
        assert set(row.versions.split(", ")) <= {"0.9", "0.13.1"}, row
    modules = {r.module for r in ROWS}
    for name in ("butter.eventfd", "butter.timerfd", "butter.utils", "butter.asyncio.timerfd"):
        assert name in modules


@pytest.mark.parametrize(
    "row",
    [r for r in ROWS if r.status.startswith(AVAILABLE)],
    ids=lambda r: f"{r.module}.{r.name}",
)
def test_available(row: Row) -> None:
    if row.status.startswith("renamed"):
        new = re.search(r"``([\w.]+)", row.status)
        assert new, f"renamed without a new name: {row}"
        target = new.group(1)
        if target.startswith("butter."):
            module, _, path = target.rpartition(".")
            while module:  # the longest importable module prefix
                try:
                    importlib.import_module(module)
                    break
                except ImportError:
                    module, _, head = module.rpartition(".")
                    path = f"{head}.{path}"
            _resolve(module, path)
        else:
            _resolve(row.module, target)
        return
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        obj = _resolve(row.module, row.name)
    warned = any(issubclass(w.category, DeprecationWarning) for w in caught)
    if row.status == "same":
        return
    # deprecated alias: getting it warned (module attribute, deprecated
    # module), or it is an attribute of a class (existence is enough), or a
    # function/method documented as deprecated that warns when called.
    if warned or row.module in _DEPRECATED_MODULES or "." in row.name:
        return
    doc = inspect.getdoc(obj) or ""
    assert callable(obj) and doc.startswith("Deprecated"), f"{row}: no DeprecationWarning"


# Modules that warn once, when first imported.
_DEPRECATED_MODULES = {"butter.fanotify_constants"}


def test_deprecated_modules_warn() -> None:
    import subprocess
    import sys

    for module in _DEPRECATED_MODULES:
        code = (
            "import warnings; warnings.simplefilter('error', DeprecationWarning)\n"
            f"try:\n    import {module}\nexcept DeprecationWarning:\n    pass\n"
            "else:\n    raise SystemExit('no warning')\n"
        )
        subprocess.run([sys.executable, "-c", code], check=True)


def test_deprecated_functions_warn_when_called() -> None:
    import butter.eventfd as e

    with pytest.warns(DeprecationWarning):
        e.str_to_events(b"\x01\x00\x00\x00\x00\x00\x00\x00")
    with pytest.warns(DeprecationWarning):
        e.event_to_str(1)
