# butter -- developer entry points.
#
#   make demo   set everything up, then run the live tour (python -m butter)
#   make test   set everything up, then run the test suite on CPython and PyPy3
#
# Both work on a fresh Debian machine as root: missing apt packages are
# installed, the virtualenvs are created, and butter is built and installed
# (non-editable, like a user's `pip install`) into them.

PYTHON      ?= python3
PYPY        ?= pypy3
VENV        ?= .venv
PYPY_VENV   ?= .venv-pypy
PYTEST_ARGS ?=
APT_PACKAGES = gcc libc6-dev linux-libc-dev libffi-dev pypy3 pypy3-dev pypy3-venv \
               inotify-tools fatrace libseccomp-dev python3-seccomp strace

# Run the tests from outside the source tree so the installed package (with
# its compiled module) is imported, never ./butter.
TEST_DIR    := $(CURDIR)/tests
RUN_DIR     := $(CURDIR)/$(VENV)/run

.PHONY: all deps venv pypy-venv install demo test test-cpython test-pypy lint typecheck docs bench tox clean

all: test

deps:
	@missing=""; for p in $(APT_PACKAGES); do \
	    dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	    echo "installing apt packages:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

$(VENV)/bin/python: | deps
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q 'cffi>=1.15' pytest uvloop
	mkdir -p $(VENV)/run

$(PYPY_VENV)/bin/python: | deps
	$(PYPY) -m venv $(PYPY_VENV)
	$(PYPY_VENV)/bin/pip install -q pytest
	mkdir -p $(PYPY_VENV)/run

# Always rebuild: cheap, and the installed copy must match the tree.
install: $(VENV)/bin/python
	rm -rf build
	@# cffi and pytest come with the venv; --no-deps keeps this one build fast.
	$(VENV)/bin/pip install -q --no-deps --force-reinstall .

install-pypy: $(PYPY_VENV)/bin/python
	rm -rf build
	$(PYPY_VENV)/bin/pip install -q --no-deps --force-reinstall .

demo: install
	cd $(RUN_DIR) && $(CURDIR)/$(VENV)/bin/python -m butter

test: test-cpython test-pypy

test-cpython: install
	cd $(RUN_DIR) && $(CURDIR)/$(VENV)/bin/python -I -m pytest -p no:cacheprovider $(PYTEST_ARGS) $(TEST_DIR)

test-pypy: install-pypy
	cd $(CURDIR)/$(PYPY_VENV)/run && $(CURDIR)/$(PYPY_VENV)/bin/python -I -m pytest -p no:cacheprovider $(PYTEST_ARGS) $(TEST_DIR)

lint: install
	$(VENV)/bin/pip install -q ruff==0.17.6 mypy==2.4.1 'pyright[nodejs]==1.1.414'
	$(VENV)/bin/ruff check butter tests bench examples _cffi_src
	$(VENV)/bin/ruff format --check butter tests bench examples _cffi_src
	$(VENV)/bin/mypy
	@# The installed package as users' type checkers see it: every public
	@# name's type known (fails below 100%).
	cd $(RUN_DIR) && VIRTUAL_ENV=$(CURDIR)/$(VENV) PATH=$(CURDIR)/$(VENV)/bin:$$PATH \
	    pyright --verifytypes butter --ignoreexternal

docs: install
	@# Debian's python3-doc: the stdlib inventory for offline intersphinx links.
	@dpkg -s python3-doc >/dev/null 2>&1 || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-doc >/dev/null
	$(VENV)/bin/pip install -q sphinx
	$(VENV)/bin/sphinx-build -W -n -q -b html docs docs/_build/html

bench: install
	for b in bench/*.py; do echo "== $$b"; (cd $(RUN_DIR) && $(CURDIR)/$(VENV)/bin/python $(CURDIR)/$$b) || exit 1; done

# Every supported interpreter (CPython 3.9-3.13 from pyenv, PyPy3).
tox: $(VENV)/bin/python
	$(VENV)/bin/pip install -q tox
	PATH="$$(ls -d /root/.pyenv/versions/3.*/bin 2>/dev/null | tr '\n' ':')$$PATH" $(VENV)/bin/tox

clean:
	rm -rf build dist *.egg-info $(VENV) $(PYPY_VENV) .tox docs/_build
