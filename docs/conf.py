# Sphinx configuration for butter's documentation.
#
# autodoc imports the *installed* butter (make docs installs it first): the
# source tree has no compiled module.
import butter

project = "butter"
author = "the butter developers"
copyright = "2026, the butter developers"
release = version = butter.__version__

extensions = ["sphinx.ext.autodoc", "sphinx.ext.intersphinx", "sphinx.ext.viewcode"]
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True, "show-inheritance": True}
intersphinx_mapping = {}  # offline builds: no inventories fetched
nitpicky = False
exclude_patterns = ["_build"]
html_theme = "alabaster"
