"""Packaging (issue 9): what ``pip install butter`` leaves behind -- the
version above the original Butter's, the console scripts, the ``cp39-abi3``
compiled module on CPython -- and ``setup.py``'s probe for the build tools.

The probe tests need the source tree's ``setup.py`` (and setuptools); the
sdist test runs only when ``BUTTER_SDIST`` names an sdist (``make
test-wheel`` sets it, in an environment without a compiler).
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import pathlib
import platform
import re
import shutil
import stat
import subprocess
import sys
import sysconfig
from typing import Tuple

import pytest

import butter
from butter import _lowlevel

SETUP_PY = pathlib.Path(__file__).resolve().parent.parent / "setup.py"
SCRIPTS = {
    "butter-inotifywait": "butter.inotify.__main__:program",
    "butter-fatrace": "butter.fanotify.__main__:program",
}
ORIGINAL_BUTTER = (0, 13, 1)  # the last release of the original Butter on PyPI

# The message setup.py prints when it cannot build (its first line varies).
HELP_LINES = [
    "Debian/Ubuntu:  apt-get install gcc python3-dev linux-libc-dev",
    "Fedora/RHEL:    dnf install gcc python3-devel kernel-headers",
    "Alpine:         apk add gcc musl-dev linux-headers python3-dev",
    "Arch:           pacman -S gcc linux-api-headers",
    "None of this is needed with the prebuilt wheels",
]


def _release(version: str) -> Tuple[int, ...]:
    match = re.match(r"\d+(?:\.\d+)*", version)
    assert match, version
    return tuple(int(part) for part in match.group().split("."))


def _limited_api_build() -> bool:
    """Whether cffi builds against the limited API here (it does not on a
    debug or free-threaded CPython)."""
    return (
        platform.python_implementation() == "CPython"
        and not hasattr(sys, "gettotalrefcount")
        and not sysconfig.get_config_var("Py_GIL_DISABLED")
    )


# -- the installed distribution ------------------------------------------------


def test_installed_version_is_the_package_version() -> None:
    assert importlib.metadata.version("butter") == butter.__version__


def test_version_upgrades_the_original_butter() -> None:
    # `pip install -U butter` must move a user of the original forward; a
    # pre-release would not be picked over 0.13.1 without --pre.
    assert _release(butter.__version__) > ORIGINAL_BUTTER
    assert re.fullmatch(r"\d+(\.\d+)*", butter.__version__), "a final release"


def test_console_scripts_are_declared() -> None:
    eps = importlib.metadata.distribution("butter").entry_points
    declared = {ep.name: ep.value for ep in eps if ep.group == "console_scripts"}
    assert declared == SCRIPTS


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_console_script_runs(name: str) -> None:
    script = pathlib.Path(sysconfig.get_path("scripts")) / name
    if not script.exists():
        pytest.skip(f"{name} not installed next to {sys.executable}")
    proc = subprocess.run(
        [str(script), "--help"], capture_output=True, text=True, timeout=60, check=False
    )
    if name == "butter-inotifywait":  # inotifywait's --help: its own text, status 1
        assert proc.returncode == 1, proc.stderr
        assert f"\nUsage: {name} [ options ]" in proc.stdout
        return
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"usage: {name} ")


def test_console_script_entry_points_load() -> None:
    for ep in importlib.metadata.distribution("butter").entry_points:
        if ep.group == "console_scripts":
            assert callable(ep.load())


def test_license_metadata_is_spdx() -> None:
    meta = importlib.metadata.metadata("butter")
    assert meta["License-Expression"] == "BSD-3-Clause"
    assert not [c for c in meta.get_all("Classifier") or [] if c.startswith("License ::")]
    urls = [*(meta.get_all("Project-URL") or []), *(meta.get_all("Home-page") or [])]
    assert not [url for url in urls if "example.invalid" in url]


@pytest.mark.skipif(not _limited_api_build(), reason="limited API: CPython release builds only")
def test_compiled_module_is_abi3() -> None:
    assert _lowlevel.__file__ is not None
    assert _lowlevel.__file__.endswith(".abi3.so")
    wheel = importlib.metadata.distribution("butter").read_text("WHEEL") or ""
    tags = re.findall(r"^Tag: (\S+)$", wheel, re.M)
    assert tags and all(tag.startswith("cp39-abi3-") for tag in tags), tags


# -- setup.py's build-tools probe ------------------------------------------------


def _setuptools_release() -> Tuple[int, ...]:
    try:
        return _release(importlib.metadata.version("setuptools"))
    except importlib.metadata.PackageNotFoundError:
        return ()


needs_setup_py = pytest.mark.skipif(
    not SETUP_PY.is_file() or not _setuptools_release(),
    reason="needs the source tree's setup.py and setuptools",
)
# Reading pyproject.toml's SPDX license string takes setuptools >= 77.
needs_setuptools_77 = pytest.mark.skipif(
    _setuptools_release() < (77,), reason="needs setuptools >= 77"
)


def _fake_cc(tmp_path: pathlib.Path, refuse: str) -> str:
    """A compiler that fails on sources mentioning *refuse* and otherwise
    succeeds without compiling anything."""
    cc = tmp_path / "fake-cc"
    cc.write_text(
        "#!/bin/sh\n"
        'for a; do case "$a" in *.c) '
        f'grep -q "{refuse}" "$a" && {{ echo "fatal error: {refuse}: missing" >&2; exit 1; }};; '
        "esac; done\nexit 0\n"
    )
    cc.chmod(cc.stat().st_mode | stat.S_IXUSR)
    return str(cc)


def _run_setup(cc: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CC": cc}
    env.pop("BUTTER_SKIP_BUILD_PROBE", None)
    return subprocess.run(
        [sys.executable, str(SETUP_PY), *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=str(SETUP_PY.parent),
        timeout=120,
        check=False,
    )


@needs_setup_py
@pytest.mark.parametrize(
    ("cc", "problem"),
    [
        ("/nonexistent/cc", "no working C compiler (tried /nonexistent/cc: "),
        ("false", "no working C compiler (tried false: "),
        ("Python.h", "the Python headers (Python.h) are missing"),
        ("linux/types.h", "the Linux kernel headers (linux/types.h) are missing"),
    ],
)
def test_setup_probe_names_what_is_missing(tmp_path: pathlib.Path, cc: str, problem: str) -> None:
    if cc.endswith(".h"):
        cc = _fake_cc(tmp_path, cc)
    proc = _run_setup(cc, "build_ext", "--help")
    assert proc.returncode == 1
    assert proc.stderr.startswith(f"butter: cannot build from source: {problem}"), proc.stderr
    for line in HELP_LINES:
        assert line in proc.stderr


@needs_setup_py
@needs_setuptools_77
def test_setup_probe_leaves_metadata_commands_alone() -> None:
    # sdist/egg_info/--version need no compiler: the probe must not run.
    proc = _run_setup("/nonexistent/cc", "--version")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == butter.__version__


@pytest.mark.skipif(not os.environ.get("BUTTER_SDIST"), reason="BUTTER_SDIST not set")
def test_sdist_without_compiler_fails_with_the_message(tmp_path: pathlib.Path) -> None:
    # make test-wheel runs this where PATH has no compiler and CC=false.
    sdist = os.environ["BUTTER_SDIST"]
    assert shutil.which("gcc") is None and shutil.which("cc") is None, "a compiler is on PATH"
    pip = [sys.executable, "-m", "pip", "install", "--no-cache-dir"]
    proc = subprocess.run(
        [*pip, "--target", str(tmp_path), sdist],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out
    assert "butter: cannot build from source: no working C compiler" in out, out
    for line in HELP_LINES:
        assert line in out
