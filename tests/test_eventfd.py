"""butter.eventfd against the real kernel and os.eventfd_* on the same fd."""

from __future__ import annotations

import fcntl
import gc
import os
import select
import selectors
import signal
import sys
import threading
import time

import pytest
from conftest import assert_clean_error, in_child, open_fds

from butter import eventfd as efd
from butter.eventfd import (
    EFD_CLOEXEC,
    EFD_NONBLOCK,
    EFD_SEMAPHORE,
    Eventfd,
    eventfd,
    eventfd_read,
    eventfd_write,
)

needs_os_eventfd = pytest.mark.skipif(
    not hasattr(os, "eventfd"), reason="os.eventfd_* needs Python >= 3.10"
)


@pytest.fixture
def fd():
    fd = eventfd()
    yield fd
    os.close(fd)


def test_constants_come_from_headers():
    assert EFD_CLOEXEC == os.O_CLOEXEC  # the kernel defines them this way
    assert EFD_NONBLOCK == os.O_NONBLOCK
    assert EFD_SEMAPHORE == 1
    if hasattr(os, "EFD_SEMAPHORE"):
        assert (EFD_CLOEXEC, EFD_NONBLOCK, EFD_SEMAPHORE) == (
            os.EFD_CLOEXEC,
            os.EFD_NONBLOCK,
            os.EFD_SEMAPHORE,
        )


def test_thin_roundtrip(fd):
    eventfd_write(fd, 5)
    eventfd_write(fd, 6)
    assert eventfd_read(fd) == 11


def test_initial_value_and_cloexec():
    fd = eventfd(7)
    try:
        assert fcntl.fcntl(fd, fcntl.F_GETFD) & fcntl.FD_CLOEXEC
        assert not os.get_inheritable(fd)
        assert eventfd_read(fd) == 7
    finally:
        os.close(fd)


@needs_os_eventfd
def test_matches_os_on_the_same_fd(fd):
    eventfd_write(fd, 3)
    assert os.eventfd_read(fd) == 3
    os.eventfd_write(fd, 2**63)
    assert eventfd_read(fd) == 2**63
    eventfd_write(fd, 0xFFFFFFFFFFFFFFFE)
    assert os.eventfd_read(fd) == 0xFFFFFFFFFFFFFFFE


@needs_os_eventfd
def test_os_created_fd_works_with_butter():
    fd = os.eventfd(4, os.EFD_SEMAPHORE | os.EFD_NONBLOCK)
    try:
        assert [eventfd_read(fd) for _ in range(4)] == [1, 1, 1, 1]
        with pytest.raises(BlockingIOError):
            eventfd_read(fd)
    finally:
        os.close(fd)


def test_semaphore_semantics():
    fd = eventfd(3, EFD_SEMAPHORE | EFD_NONBLOCK)
    try:
        assert [eventfd_read(fd) for _ in range(3)] == [1, 1, 1]
        with pytest.raises(BlockingIOError) as info:
            eventfd_read(fd)
        assert info.value.errno == 11  # EAGAIN
    finally:
        os.close(fd)


def test_nonblocking_write_overflow_is_eagain():
    fd = eventfd(0, EFD_NONBLOCK)
    try:
        eventfd_write(fd, 0xFFFFFFFFFFFFFFFE)
        with pytest.raises(BlockingIOError):
            eventfd_write(fd, 1)
        assert eventfd_read(fd) == 0xFFFFFFFFFFFFFFFE
    finally:
        os.close(fd)


def test_blocking_read_wakes_on_write_from_thread(fd):
    threading.Timer(0.05, eventfd_write, (fd, 9)).start()
    t0 = time.monotonic()
    assert eventfd_read(fd) == 9
    assert time.monotonic() - t0 >= 0.04


def test_fileno_objects_are_accepted():
    with Eventfd() as a:
        eventfd_write(a, 2)
        assert eventfd_read(a) == 2


def test_errors_are_plain_oserrors():
    r, w = os.pipe()
    os.close(r)
    os.close(w)
    with pytest.raises(OSError) as info:
        eventfd_read(r)
    assert info.value.errno == 9 and type(info.value) is OSError
    with pytest.raises(OSError) as info:
        eventfd_write(w, 1)
    assert info.value.errno == 9


def test_value_checks():
    with Eventfd() as e:
        with pytest.raises(ValueError):
            e.increment(-1)
        with pytest.raises(OSError) as info:
            e.increment(2**64 - 1)  # fits, but the kernel refuses it (as os)
        assert info.value.errno == 22
        with pytest.raises(OverflowError):
            e.increment(2**64)
        with pytest.raises(TypeError):
            e.increment(1.0)
        with pytest.raises(TypeError):
            e.increment("1")
        with pytest.raises(ValueError):
            eventfd_read(-1)
        with pytest.raises(ValueError):
            eventfd(-1)
        with pytest.raises(ValueError):
            eventfd(0, 1 << 20)


def test_eintr_is_retried():
    """A signal handler that does not raise must not surface as EINTR."""

    def child():
        fd = eventfd()
        hits = []

        def handler(signum, frame):
            hits.append(signum)
            if len(hits) == 3:
                os.eventfd_write(fd, 5) if hasattr(os, "eventfd_write") else os.write(
                    fd, (5).to_bytes(8, sys.byteorder)
                )

        signal.signal(signal.SIGALRM, handler)
        signal.setitimer(signal.ITIMER_REAL, 0.02, 0.02)
        try:
            value = eventfd_read(fd)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        return value, len(hits)

    value, hits = in_child(child)
    assert value == 5 and hits >= 3


def test_handler_exception_interrupts_blocking_read():
    def child():
        fd = eventfd()

        def handler(signum, frame):
            raise KeyboardInterrupt

        signal.signal(signal.SIGALRM, handler)
        signal.setitimer(signal.ITIMER_REAL, 0.05)
        try:
            eventfd_read(fd)
        except KeyboardInterrupt:
            return "interrupted"
        return "not interrupted"

    assert in_child(child) == "interrupted"


# -- the Eventfd object -------------------------------------------------------


def test_object_basics():
    e = Eventfd(2)
    assert repr(e) == f"<Eventfd fd={e.fileno()}>"
    e.increment()
    e.increment(4)
    assert int(e) == 7
    e.increment(1)
    assert e.read_events() == [1]
    e.close()
    e.close()
    assert e.closed and repr(e) == "<Eventfd closed>"
    for op in (e.fileno, e.read_event, e.read_events, lambda: e.increment(1), e.wait):
        with pytest.raises(ValueError, match="closed"):
            op()


def test_semaphore_object_and_nonblocking():
    with Eventfd(2, EFD_SEMAPHORE | EFD_NONBLOCK) as e:
        assert e.read_event() == 1
        assert e.read_event() == 1
        with pytest.raises(BlockingIOError):
            e.read_event()
        assert e.wait(0) is None
        e.increment(3)
        assert e.wait(0) == 1


def test_poll_select_selectors_readiness():
    with Eventfd() as e:
        p = select.poll()
        p.register(e, select.POLLIN)
        assert p.poll(0) == []
        e.increment()
        assert p.poll(0) == [(e.fileno(), select.POLLIN)]
        with selectors.DefaultSelector() as sel:
            sel.register(e, selectors.EVENT_READ)
            assert [key.fileobj for key, _ in sel.select(0)] == [e]
        assert select.select([e], [], [], 0)[0] == [e]
        e.read_event()
        assert select.select([e], [], [], 0)[0] == []


def test_wait_timeout_and_iteration():
    with Eventfd() as e:
        t0 = time.monotonic()
        assert e.wait(0.05) is None
        assert time.monotonic() - t0 >= 0.045
        threading.Timer(0.02, e.increment, (3,)).start()
        assert e.wait(5) == 3
        e.increment(1)
        assert next(iter(e)) == 1
        threading.Timer(0.02, e.increment, (2,)).start()
        for value in e:
            assert value == 2
            break


def test_context_manager_closes():
    with Eventfd() as e:
        fd = e.fileno()
    assert e.closed
    with pytest.raises(OSError):
        os.fstat(fd)


def test_resource_warning_and_close_on_gc():
    e = Eventfd()
    fd = e.fileno()
    with pytest.warns(ResourceWarning, match="unclosed <Eventfd"):
        del e
        gc.collect()
    with pytest.raises(OSError):
        os.fstat(fd)


def test_detach():
    e = Eventfd(3)
    fd = e.detach()
    assert e.closed
    assert eventfd_read(fd) == 3
    os.close(fd)


def test_fd_zero_is_a_valid_fd():
    def child():
        os.close(0)
        e = Eventfd(5)
        result = (e.fileno(), e.closed, e.read_event())
        e.close()
        return result

    assert in_child(child) == (0, False, 5)


def test_no_fd_leak_over_2000_objects():
    before = open_fds()
    for i in range(2000):
        e = Eventfd(i)
        assert e.read_event() == i if i else True
        e.close()
    for _ in range(2000):
        with Eventfd():
            pass
    for _ in range(2000):
        os.close(eventfd())
    assert open_fds() == before


# -- bad input sweep: every public function, each case in a forked child -------

CLOSED_FD = 987


@pytest.mark.parametrize(
    "args, expected",
    [
        ((None,), TypeError),
        (("1",), TypeError),
        ((1.5,), TypeError),
        ((True,), TypeError),
        ((-1,), ValueError),
        ((2**32,), OverflowError),
        ((2**100,), OverflowError),
        ((0, -1), ValueError),
        ((0, 1 << 20), ValueError),  # unknown bits
        ((0, 2**40), OverflowError),
        ((0, "x"), TypeError),
        ((0, None), TypeError),
    ],
)
def test_bad_input_eventfd(args, expected):
    assert assert_clean_error(eventfd, *args) == expected.__name__


@pytest.mark.parametrize(
    "args, expected",
    [
        ((None,), TypeError),
        (("1",), TypeError),
        ((1.5,), TypeError),
        ((-1,), ValueError),
        ((2**31,), OverflowError),
        ((2**70,), OverflowError),
        ((CLOSED_FD,), OSError),
        ((object(),), TypeError),
    ],
)
def test_bad_input_eventfd_read(args, expected):
    assert assert_clean_error(eventfd_read, *args) == expected.__name__


@pytest.mark.parametrize(
    "args, expected",
    [
        ((None, 1), TypeError),
        (("1", 1), TypeError),
        ((-1, 1), ValueError),
        ((2**31, 1), OverflowError),
        ((CLOSED_FD, 1), OSError),
        (("fd", 1), TypeError),
        ((0, -1), ValueError),
        ((0, 2**64), OverflowError),
        ((CLOSED_FD, 2**64 - 1), OSError),  # fits: the kernel refuses it
        ((0, 1.5), TypeError),
        ((0, "1"), TypeError),
        ((0, None), TypeError),
    ],
)
def test_bad_input_eventfd_write(args, expected):
    assert assert_clean_error(eventfd_write, *args) == expected.__name__


@pytest.mark.parametrize(
    "call, expected",
    [
        (lambda: Eventfd(-1), ValueError),
        (lambda: Eventfd("1"), TypeError),
        (lambda: Eventfd(0, 1 << 20), ValueError),
        (lambda: Eventfd(0, None), TypeError),
        (lambda: Eventfd(2**64), OverflowError),
        (lambda: Eventfd().increment(-5), ValueError),
        (lambda: Eventfd().increment(None), TypeError),
        (lambda: Eventfd().increment(2**200), OverflowError),
        (lambda: Eventfd().wait("soon"), TypeError),
        (lambda: Eventfd().wait(float("nan")), ValueError),
    ],
)
def test_bad_input_object(call, expected):
    assert assert_clean_error(call) == expected.__name__


def _closed():
    e = Eventfd()
    e.close()
    return e


@pytest.mark.parametrize(
    "method", ["fileno", "read_event", "read_events", "increment", "wait", "__int__", "__next__"]
)
def test_closed_object_raises_valueerror(method):
    def case():
        try:
            getattr(_closed(), method)()
        except ValueError as exc:
            return str(exc)
        return "no error"

    assert "closed" in in_child(case)


def test_module_exports_match_all():
    for name in efd.__all__:
        assert hasattr(efd, name)


def test_wait_is_not_cut_short_by_signals():
    """PEP 475: a signal whose handler returns must not end wait() early
    (PyPy's poll returns [] on EINTR; butter retries with the time left)."""

    def child():
        signal.signal(signal.SIGALRM, lambda *args: None)
        signal.setitimer(signal.ITIMER_REAL, 0.02, 0.02)
        try:
            with Eventfd() as e:
                t0 = time.monotonic()
                timed_out = e.wait(0.3)
                waited = time.monotonic() - t0
                threading.Timer(0.2, e.increment, (4,)).start()
                forever = e.wait()
                threading.Timer(0.2, e.increment, (5,)).start()
                iterated = next(iter(e))
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        return timed_out, waited, forever, iterated

    timed_out, waited, forever, iterated = in_child(child)
    assert timed_out is None and waited >= 0.29
    assert (forever, iterated) == (4, 5)
