# Sphinx configuration for butter's documentation.
#
# autodoc imports the *installed* butter (make docs installs it first): the
# source tree has no compiled module.
import os

import butter

project = "butter"
author = "the butter developers"
copyright = "2026, the butter developers"
release = version = butter.__version__

extensions = ["sphinx.ext.autodoc", "sphinx.ext.intersphinx", "sphinx.ext.viewcode"]
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True, "show-inheritance": True}
# Offline builds: links to the standard library come from Debian's python3-doc
# inventory (make docs installs it); nothing is fetched from the network.
_PY_INVENTORY = "/usr/share/doc/python3/html/objects.inv"
intersphinx_mapping = (
    {"python": ("https://docs.python.org/3", _PY_INVENTORY)}
    if os.path.exists(_PY_INVENTORY)
    else {}
)
# Every reference must resolve (sphinx -n): the argument type aliases are
# documented in types.rst.  Only these are exempt: private bases and helpers
# that show-inheritance or a type annotation names (butter.*._x), and
# ``builtins.int`` (a field called ``int`` makes annotations spell it out).
nitpicky = True
nitpick_ignore_regex = [
    (r"py:.*", r"butter(\.\w+)*\._\w+.*"),
    (r"py:class", r"builtins\.int"),
    # The queue core's protocol of what a task sleeps on (type-checking only).
    (r"py:class", r"Waiter"),
    # Bases shown by show-inheritance: anyio has no inventory here, and
    # asyncio's is under its public name only.
    (r"py:class", r"anyio\..*"),
    (r"py:class", r"asyncio\.queues\.QueueEmpty"),
]
exclude_patterns = ["_build"]
html_theme = "alabaster"
