"""Name the public objects of a package after the package, not the file.

The big families are packages (``butter/inotify/``...) whose ``__init__``
re-exports what its private submodules define.  :func:`publish` sets
``__module__`` of those classes and functions to the package, so pickles
refer to ``butter.inotify.PathEvent`` (importable first in any process,
whatever the layout inside), and reprs, help() and the docs show the path
users import from.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Dict


def publish(package: str, namespace: Dict[str, Any]) -> None:
    """Set ``__module__`` to *package* for every name in *namespace*'s
    ``__all__`` that a submodule of *package* defines."""
    prefix = package + "."
    for name in namespace["__all__"]:
        obj = namespace[name]
        module = getattr(obj, "__module__", None)
        if isinstance(module, str) and module.startswith(prefix) and callable(obj):
            obj.__module__ = package
