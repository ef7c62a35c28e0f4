"""The build: version stamps in the built modules (the compiled
``butter._lowlevel`` and the ABI-mode ``butter._seccomp_lowlevel``), the
import-time check, and ``_cffi_src/build.py``'s family list against its
folder."""

from __future__ import annotations

import importlib.util
import json
import pathlib
import re
import runpy
import types

import pytest
from conftest import run_python

import butter
from butter import _lowlevel
from butter._errors import build_version, check_build

SRC = pathlib.Path(__file__).parent.parent / "_cffi_src"
needs_src = pytest.mark.skipif(
    not (SRC / "build.py").is_file(), reason="needs the source tree's _cffi_src/"
)

# A module "uses a compiled module" if it imports one itself.
_USES_COMPILED = re.compile(r"^\s*from \.+(?: import |)_(?:seccomp_)?lowlevel\b", re.M)

# What a mismatch message says when butter.__version__ is patched to "0.0.0+mismatch".
MISMATCH = f"was built for version {butter.__version__} but the Python package is 0.0.0+mismatch"


def _stamp(module: types.ModuleType) -> str:
    if hasattr(module, "lib"):  # API mode: a C function
        return module.ffi.string(module.lib.butter_build_version()).decode()
    # ABI mode: the name of enum butter_build_version's one member
    (name,) = module.ffi.typeof("enum butter_build_version").elements.values()
    assert name.startswith("BUTTER_BUILD_VERSION_")
    return bytes.fromhex(name[len("BUTTER_BUILD_VERSION_") :]).decode()


def _have_seccomp() -> bool:
    return importlib.util.find_spec("butter._seccomp_lowlevel") is not None


# -- the stamp and the check --------------------------------------------------


def test_lowlevel_is_stamped_with_the_package_version() -> None:
    assert _stamp(_lowlevel) == butter.__version__


def test_seccomp_lowlevel_is_stamped_with_the_package_version() -> None:
    seccomp_lowlevel = pytest.importorskip("butter._seccomp_lowlevel")
    assert not hasattr(seccomp_lowlevel, "lib")  # ABI mode: no C, nothing loaded
    assert seccomp_lowlevel.__file__.endswith(".py")
    assert _stamp(seccomp_lowlevel) == butter.__version__
    assert build_version(seccomp_lowlevel) == build_version(_lowlevel) == butter.__version__


def _abi_module(cdef: str, path: pathlib.Path) -> types.SimpleNamespace:
    """An ABI-mode module generated from *cdef* as the build does, loaded by path."""
    from cffi import FFI

    builder = FFI()
    builder.cdef(cdef)
    builder.set_source("butter._seccomp_lowlevel", None)
    builder.emit_python_code(str(path))
    return types.SimpleNamespace(
        __name__="butter._seccomp_lowlevel",
        __file__=str(path),
        ffi=runpy.run_path(str(path))["ffi"],
    )


@needs_src
def test_abi_stamp_round_trips_any_version(
    build: dict[str, object], tmp_path: pathlib.Path
) -> None:
    """Whatever characters ``package_version`` lets through come back intact."""
    abi_stamp_cdef = build["abi_stamp_cdef"]
    assert callable(abi_stamp_cdef)
    for i, version in enumerate(("0.14.0", "1.0.0rc1+local.build_7", "2!3.4.post5.dev6-x")):
        module = _abi_module(abi_stamp_cdef(version), tmp_path / f"m{i}.py")
        assert build_version(module) == version  # type: ignore[arg-type]


def test_check_build_accepts_the_installed_modules() -> None:
    check_build(_lowlevel)
    if _have_seccomp():
        from butter import _seccomp_lowlevel

        check_build(_seccomp_lowlevel)


def test_check_build_refuses_a_module_without_stamp() -> None:
    # A compiled module from before the stamp existed: lib lacks the function.
    old = types.SimpleNamespace(
        __name__="butter._lowlevel", __file__="/old/_lowlevel.so", ffi=_lowlevel.ffi, lib=object()
    )
    with pytest.raises(ImportError) as info:
        check_build(old)  # type: ignore[arg-type]
    message = str(info.value)
    assert "/old/_lowlevel.so" in message
    assert "built for version unknown (no stamp)" in message
    assert f"but the Python package is {butter.__version__}" in message
    assert info.value.name == "butter._lowlevel"


def test_check_build_refuses_an_abi_module_without_stamp(tmp_path: pathlib.Path) -> None:
    # An ABI-mode module (no lib) whose ffi lacks the stamp enum.
    old = _abi_module("int seccomp_api_get(void);", tmp_path / "_seccomp_lowlevel.py")
    with pytest.raises(ImportError, match=r"built for version unknown \(no stamp\)") as info:
        check_build(old)  # type: ignore[arg-type]
    assert info.value.name == "butter._seccomp_lowlevel"
    assert str(tmp_path) in str(info.value)


def test_every_module_using_a_compiled_module_refuses_a_version_mismatch() -> None:
    """In a fresh interpreter whose ``butter.__version__`` differs from the
    stamp, importing any module that imports a compiled module raises the
    explaining ``ImportError`` (the check is on every import path, not only
    on the common ones)."""
    code = """if True:
        import importlib, json, pkgutil, sys
        import butter
        butter.__version__ = "0.0.0+mismatch"
        outcome = {}
        for info in pkgutil.walk_packages(butter.__path__, "butter."):
            if info.name.endswith(("__main__", "_lowlevel")):
                continue
            try:
                importlib.import_module(info.name)
            except ImportError as exc:
                outcome[info.name] = str(exc)
            else:
                outcome[info.name] = None
        print(json.dumps(outcome))
    """
    outcome = json.loads(run_python(code).stdout)
    checked = {"butter.eventfd", "butter.asyncio.eventfd", "butter.seccomp"}
    for name in outcome:
        spec = importlib.util.find_spec(name)
        assert spec is not None and spec.origin is not None
        if _USES_COMPILED.search(pathlib.Path(spec.origin).read_text()):
            checked.add(name)
    if not _have_seccomp():
        checked = {n for n in checked if not n.startswith("butter.seccomp")}
    for name in sorted(checked):
        message = outcome[name]
        assert message is not None, f"{name} imported despite the version mismatch"
        assert MISMATCH in message, f"{name}: {message}"
        assert "pip install --force-reinstall --no-cache-dir" in message


def test_seccomp_refuses_a_version_mismatch_of_its_own_module() -> None:
    """butter._lowlevel matches, butter._seccomp_lowlevel does not: the
    check names the seccomp module."""
    if not _have_seccomp():
        pytest.skip("butter was built with BUTTER_SECCOMP=0")
    code = """if True:
        import butter, butter._errors  # butter._lowlevel checked: it matches
        butter.__version__ = "0.0.0+mismatch"
        import butter.seccomp
    """
    proc = run_python(code, check=False)
    assert proc.returncode == 1
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("ImportError: butter's compiled module butter._seccomp_lowlevel ("), last
    assert MISMATCH in last


# -- build.py's families ------------------------------------------------------


@pytest.fixture(scope="module")
def build() -> dict[str, object]:
    """build.py's globals (it is run by path, as build_seccomp.py does)."""
    return runpy.run_path(str(SRC / "build.py"))


def _fragments(folder: pathlib.Path, suffix: str) -> set[str]:
    return {p.name[: -len(suffix)] for p in folder.glob("*" + suffix)}


@needs_src
def test_family_list_matches_the_folder(build: dict[str, object]) -> None:
    families = build["FAMILIES"]
    assert isinstance(families, list)
    assert families[0] == "common"
    assert len(set(families)) == len(families)
    assert set(families) == _fragments(SRC, ".cdef.h") == _fragments(SRC, ".csrc.c")
    # libseccomp is an ABI-mode module of its own: a cdef and no C, out of
    # the main folder's way (the kernel side is the main module's "seccomp").
    assert "seccomp" in families
    assert _fragments(SRC / "libseccomp", ".cdef.h") == {"libseccomp"}
    assert _fragments(SRC / "libseccomp", ".csrc.c") == set()


@needs_src
def test_check_families_names_what_is_wrong(
    build: dict[str, object], tmp_path: pathlib.Path
) -> None:
    check_families = build["check_families"]
    build_error = build["BuildError"]
    assert callable(check_families) and isinstance(build_error, type)
    for name in ("common.cdef.h", "common.csrc.c", "stray.cdef.h", "half.csrc.c"):
        (tmp_path / name).write_text("")
    with pytest.raises(build_error) as info:
        check_families(tmp_path, ["common", "half", "common"])
    message = str(info.value)
    assert "stray.cdef.h is not listed" in message
    assert "'common' is listed more than once" in message
    assert "family 'half' has no half.cdef.h" in message
    (tmp_path / "stray.cdef.h").unlink()
    (tmp_path / "half.csrc.c").unlink()
    check_families(tmp_path, ["common"])


@needs_src
def test_build_reads_the_package_version(build: dict[str, object]) -> None:
    package_version = build["package_version"]
    assert callable(package_version)
    assert package_version() == butter.__version__
