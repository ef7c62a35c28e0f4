"""butter._args: the argument converters, and the one rule every family follows.

The rule (SPEC "Errors"): wrong type -> TypeError, negative where the C
type is unsigned (or below what the call accepts) -> ValueError, too large
for the C type (or too small for a signed one) -> OverflowError, before any
syscall.  butter.seccomp follows libseccomp's bindings instead where they
differ (OverflowError for a negative unsigned value too).
"""

from __future__ import annotations

import enum
import fractions
import math
import os
import pathlib
import signal
import subprocess
import sys

import pytest
from conftest import assert_clean_error

from butter._args import (
    RANGES,
    check_int,
    check_timeout,
    cython_int,
    fileno,
    name_bytes,
    opt_path_bytes,
    path_bytes,
    to_flags,
    to_int,
)
from butter._lowlevel import ffi

UNSIGNED = [c for c, (low, _) in RANGES.items() if low == 0]
SIGNED = [c for c, (low, _) in RANGES.items() if low < 0]


class Flag(enum.IntFlag):
    A = 1
    B = 2


class Number(enum.IntEnum):
    SEVEN = 7


# -- the table --------------------------------------------------------------------
@pytest.mark.parametrize("ctype", sorted(RANGES))
def test_ranges_match_the_c_types(ctype):
    """Every bound is the C type's own: cffi stores it, and refuses one more."""
    ctype_c = {"pid_t": "int", "off_t": "int64_t"}.get(ctype, ctype)
    low, high = RANGES[ctype]
    cell = ffi.new(f"{ctype_c} *")
    for value in (low, high):
        cell[0] = value
        assert cell[0] == value
    for value in (low - 1, high + 1):
        with pytest.raises(OverflowError):
            cell[0] = value


def test_platform_types():
    assert RANGES["int"] == (-(2**31), 2**31 - 1)
    assert RANGES["uint32_t"] == (0, 2**32 - 1)
    assert RANGES["uint64_t"] == (0, 2**64 - 1)
    assert RANGES["int64_t"] == (-(2**63), 2**63 - 1)
    assert RANGES["pid_t"] == RANGES["int"]
    assert RANGES["off_t"] == RANGES["int64_t"]
    bits = 8 * ffi.sizeof("long")
    assert RANGES["unsigned long"] == (0, 2**bits - 1)
    assert RANGES["size_t"][1] == 2 ** (8 * ffi.sizeof("size_t")) - 1


# -- to_int -----------------------------------------------------------------------
@pytest.mark.parametrize("ctype", sorted(RANGES))
def test_to_int_bounds(ctype):
    low, high = RANGES[ctype]
    assert to_int("n", low, ctype) == low
    assert to_int("n", high, ctype) == high
    assert to_int("n", 0, ctype) == 0
    with pytest.raises(OverflowError, match=f"n does not fit in a C {ctype}"):
        to_int("n", high + 1, ctype)
    if low == 0:
        with pytest.raises(ValueError, match=rf"n must be a non-negative int \({ctype}\), got -1"):
            to_int("n", -1, ctype)
        with pytest.raises(ValueError):
            to_int("n", -(2**200), ctype)  # negative: ValueError however far
    else:
        with pytest.raises(OverflowError, match=f"n does not fit in a C {ctype}"):
            to_int("n", low - 1, ctype)


@pytest.mark.parametrize("bad", [True, False, 1.0, 1.5, "1", b"1", None, [1], math.nan])
@pytest.mark.parametrize("convert", [to_int, to_flags, check_int])
def test_wrong_types_are_type_errors(convert, bad):
    with pytest.raises(TypeError, match="count must be an integer"):
        convert("count", bad)


@pytest.mark.parametrize("bad", [True, 1.0, "1", None])
def test_cython_int_wrong_types(bad):
    with pytest.raises(TypeError):
        cython_int("count", bad, "uint32_t")


def test_int_subclasses_are_accepted_as_plain_ints():
    for convert in (to_int, to_flags, check_int):
        value = convert("flags", Flag.A | Flag.B)
        assert value == 3 and type(value) is int
    value = to_int("n", Number.SEVEN, "uint32_t")
    assert value == 7 and type(value) is int
    value = cython_int("n", Number.SEVEN, "uint32_t")
    assert value == 7 and type(value) is int


def test_minimum():
    assert to_int("pid", 1, "pid_t", 1) == 1
    with pytest.raises(ValueError, match=r"pid must be a positive int \(pid_t\), got 0"):
        to_int("pid", 0, "pid_t", 1)
    with pytest.raises(ValueError, match="non-negative"):
        to_int("fd", -1, "int", 0)
    with pytest.raises(ValueError, match="non-negative"):
        to_int("fd", -(2**70), "int", 0)  # below the minimum first, not overflow
    with pytest.raises(ValueError, match=r"n must be an int >= 5 \(int\), got 4"):
        to_int("n", 4, "int", 5)
    with pytest.raises(OverflowError):
        to_int("size", 2**31, "int", 1)


def test_messages_stay_short_for_huge_ints():
    with pytest.raises(OverflowError) as info:
        to_int("n", 10**5000, "int")  # str() of it would refuse (or take long)
    assert "int of 16610 bits" in str(info.value) and len(str(info.value)) < 100
    with pytest.raises(ValueError) as info:
        to_int("n", -(10**5000), "uint32_t")
    assert "negative int of" in str(info.value)


# -- flag words ---------------------------------------------------------------------
def test_to_flags():
    assert to_flags("flags", 0) == 0
    assert to_flags("flags", 5, 7) == 5
    assert to_flags("flags", 2**32 - 1) == 2**32 - 1  # unsigned int by default
    with pytest.raises(ValueError, match=r"flags has unknown bits 0x8 \(allowed: 0x7\)"):
        to_flags("flags", 8, 7)
    with pytest.raises(ValueError, match=r"unknown bits 0x8 \(allowed: A, B\)"):
        to_flags("flags", 9, 7, what="A, B")
    # Negative is ValueError even for a signed C type: a flag word is a bit set.
    with pytest.raises(ValueError, match=r"flags must be a non-negative int \(int\), got -1"):
        to_flags("flags", -1, 7, "int")
    with pytest.raises(OverflowError, match="flags does not fit in a C int"):
        to_flags("flags", 2**31, None, "int")
    # Too large wins over unknown bits: the value cannot even reach C.
    with pytest.raises(OverflowError):
        to_flags("flags", 2**40, 7, "int")
    assert to_flags("mask", 2**64 - 1, None, "uint64_t") == 2**64 - 1


# -- the bindings' rule (seccomp) -------------------------------------------------------
@pytest.mark.parametrize("ctype", sorted(RANGES))
def test_cython_int(ctype):
    low, high = RANGES[ctype]
    assert cython_int("n", low, ctype) == low
    assert cython_int("n", high, ctype) == high
    for value in (low - 1, high + 1, -(2**100), 2**100):
        with pytest.raises(OverflowError, match="n "):
            cython_int("n", value, ctype)


# -- fds --------------------------------------------------------------------------------
class _Fileno:
    def __init__(self, value):
        self.value = value

    def fileno(self):
        if isinstance(self.value, Exception):
            raise self.value
        return self.value


def test_fileno_accepts():
    assert fileno(0) == 0
    assert fileno(RANGES["int"][1]) == RANGES["int"][1]
    assert fileno(Number.SEVEN) == 7 and type(fileno(Number.SEVEN)) is int
    assert fileno(_Fileno(3)) == 3
    assert type(fileno(_Fileno(Number.SEVEN))) is int
    with open(os.devnull) as f:
        assert fileno(f) == f.fileno()


@pytest.mark.parametrize(
    "obj, expected",
    [
        (-1, ValueError),
        (-(2**70), ValueError),
        (2**31, OverflowError),
        (2**64, OverflowError),
        (True, TypeError),
        (1.0, TypeError),
        ("3", TypeError),
        (None, TypeError),
        (object(), TypeError),
        (_Fileno(-1), ValueError),
        (_Fileno(2**31), OverflowError),
        (_Fileno("3"), TypeError),
        (_Fileno(3.0), TypeError),
        (_Fileno(True), TypeError),
        (_Fileno(None), TypeError),
        (_Fileno(ValueError("I/O operation on closed thing")), ValueError),
    ],
    ids=repr,
)
def test_fileno_rejects(obj, expected):
    with pytest.raises(expected):
        fileno(obj)


# -- paths and names -------------------------------------------------------------------------
class _PathLike:
    def __init__(self, value):
        self.value = value

    def __fspath__(self):
        return self.value


def test_path_bytes_accepts():
    assert path_bytes("/tmp/x") == b"/tmp/x"
    assert path_bytes(b"/tmp/x") == b"/tmp/x"
    assert path_bytes(pathlib.Path("/tmp/x")) == b"/tmp/x"
    assert path_bytes(_PathLike(b"/tmp/\xff")) == b"/tmp/\xff"
    assert path_bytes(_PathLike("a")) == b"a"
    assert path_bytes("\udcff") == os.fsencode("\udcff")  # surrogateescape, as os
    assert path_bytes("") == b""  # the kernel says ENOENT, not butter
    assert opt_path_bytes(None) is None
    assert opt_path_bytes("x") == b"x"


@pytest.mark.parametrize(
    "path, expected",
    [
        ("a\0b", ValueError),
        (b"a\0b", ValueError),
        (pathlib.Path("a\0b"), ValueError),
        (_PathLike(b"\0"), ValueError),
        (None, TypeError),
        (3, TypeError),
        (bytearray(b"x"), TypeError),
        (memoryview(b"x"), TypeError),
        (_PathLike(3), TypeError),
        (["x"], TypeError),
    ],
    ids=repr,
)
def test_path_bytes_rejects(path, expected):
    with pytest.raises(expected, match="target"):
        path_bytes(path, "target")


def test_opt_path_bytes_rejects_like_path_bytes():
    with pytest.raises(ValueError):
        opt_path_bytes("a\0", "src")
    with pytest.raises(TypeError, match=r"src must be str, bytes or os\.PathLike"):
        opt_path_bytes(3, "src")  # type: ignore[arg-type]


def test_name_bytes():
    assert name_bytes("name", "host") == b"host"
    assert name_bytes("name", b"host") == b"host"
    assert name_bytes("name", "\udcff") == b"\xff"
    for bad in (None, 3, bytearray(b"x"), pathlib.Path("x")):
        with pytest.raises(TypeError, match="name must be str or bytes"):
            name_bytes("name", bad)  # type: ignore[arg-type]
    for bad in ("a\0", b"a\0"):
        with pytest.raises(ValueError, match="name: embedded null byte"):
            name_bytes("name", bad)


# -- timeouts -------------------------------------------------------------------------------
def test_check_timeout():
    assert check_timeout(None) is None
    assert check_timeout(math.inf) is None
    assert check_timeout(0) == 0
    assert check_timeout(-1) == -1
    assert check_timeout(1.5) == 1.5
    assert check_timeout(fractions.Fraction(1, 2)) == 0.5
    assert check_timeout(-math.inf) == -math.inf  # polls
    with pytest.raises(ValueError, match="NaN"):
        check_timeout(math.nan)
    for bad in (True, "1", b"1", [1], 1j):
        with pytest.raises(TypeError):
            check_timeout(bad)


def test_importing_args_stays_cheap():
    """No ``typing`` (~15 ms) at run time: the aliases are for type checkers."""
    code = "import sys, butter._args; print('typing' in sys.modules)"
    out = subprocess.run([sys.executable, "-I", "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "False", out.stderr


# -- one rule in every family -----------------------------------------------------------------
def _families():
    """(name, call with a flag word, class a negative flag raises).

    Every call fails on its arguments before any syscall, so none needs
    privileges or real fds."""
    from butter import aio, clone, eventfd, fanotify, inotify, memfd, pidfd, splice, system, timerfd
    from butter.signalfd import Signalfd, signalfd

    def aio_poll(events):
        with aio.Context(1) as ctx:  # io_setup, then the poll is refused
            ctx.poll(0, events)

    families = [
        ("unshare", clone.unshare, ValueError),
        ("setns nstype", lambda v: clone.setns(0, v), ValueError),
        ("eventfd", lambda v: eventfd.eventfd(0, v), ValueError),
        ("Eventfd", lambda v: eventfd.Eventfd(0, v), ValueError),
        ("timerfd", lambda v: timerfd.timerfd(timerfd.CLOCK_MONOTONIC, v), ValueError),
        ("Timer", lambda v: timerfd.Timer(timerfd.CLOCK_MONOTONIC, v), ValueError),
        (
            "timerfd_settime",
            lambda v: timerfd.timerfd_settime(0, timerfd.TimerSpec(), v),
            ValueError,
        ),
        ("signalfd", lambda v: signalfd([signal.SIGUSR1], -1, v), ValueError),
        ("Signalfd", lambda v: Signalfd([signal.SIGUSR1], v), ValueError),
        ("inotify_init", inotify.inotify_init, ValueError),
        ("Inotify", inotify.Inotify, ValueError),
        ("inotify_add_watch mask", lambda v: inotify.inotify_add_watch(0, "/", v), ValueError),
        ("InotifyTree events", lambda v: inotify.InotifyTree(None, v), ValueError),
        ("fanotify_init", fanotify.fanotify_init, ValueError),
        ("fanotify_init event_flags", lambda v: fanotify.fanotify_init(0, v), ValueError),
        ("Fanotify", fanotify.Fanotify, ValueError),
        ("fanotify_mark flags", lambda v: fanotify.fanotify_mark(0, "/", 1, v), ValueError),
        ("fanotify_mark mask", lambda v: fanotify.fanotify_mark(0, "/", v), ValueError),
        ("memfd_create", lambda v: memfd.memfd_create("x", v), ValueError),
        ("Memfd", lambda v: memfd.Memfd("x", v), ValueError),
        ("add_seals", lambda v: memfd.add_seals(0, v), ValueError),
        ("pidfd_open", lambda v: pidfd.pidfd_open(1, v), ValueError),
        ("pidfd_send_signal", lambda v: pidfd.pidfd_send_signal(0, 0, None, v), ValueError),
        ("pidfd_getfd", lambda v: pidfd.pidfd_getfd(0, 0, v), ValueError),
        ("waitid_pidfd", lambda v: pidfd.waitid_pidfd(0, v), ValueError),
        ("splice", lambda v: splice.splice(0, 1, None, None, 1, v), ValueError),
        ("tee", lambda v: splice.tee(0, 1, 1, v), ValueError),
        ("vmsplice", lambda v: splice.vmsplice(1, b"x", v), ValueError),
        ("mount", lambda v: system.mount("none", "/", None, v), ValueError),
        ("umount", lambda v: system.umount("/", v), ValueError),
        ("aio Iocb poll events", lambda v: aio.Iocb(aio.IOCB_CMD_POLL, 0, v), ValueError),
        ("aio Context.poll events", aio_poll, ValueError),
    ]
    try:
        from butter import seccomp
    except ImportError:  # pragma: no cover - libseccomp.so.2 not installed
        pass
    else:
        # As libseccomp's bindings: a negative flags field is OverflowError.
        families.append(
            (
                "seccomp notify_respond flags",
                lambda v: seccomp.notify_respond(0, seccomp.NotificationResponse(1, flags=v)),
                OverflowError,
            )
        )
    return families


FAMILIES = _families()


@pytest.mark.parametrize("family, call, negative", FAMILIES, ids=[name for name, _, _ in FAMILIES])
def test_one_rule_in_every_family(family, call, negative):
    for value, expected in (
        (-1, negative),
        (2**64, OverflowError),
        (1.0, TypeError),
        ("1", TypeError),
        (True, TypeError),
    ):
        raised = assert_clean_error(call, value)  # in a forked child
        assert raised == expected.__name__, (family, value, raised)
