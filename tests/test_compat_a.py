"""Compatibility with Butter 0.9/0.13.1 (issue 10, part A): eventfd,
timerfd, signalfd, their asyncio variants and ``butter.utils``.

Programs written in the original's style run unchanged; every old spelling
warns with a ``DeprecationWarning`` naming the new one (pytest turns
warnings into errors, so each is expected explicitly).  Signals are blocked
only in forked children (``in_child``).
"""

from __future__ import annotations

import array
import asyncio
import fcntl
import inspect
import os
import select
import signal
import termios
import warnings

import pytest
from conftest import in_child

from butter import eventfd as efd_mod
from butter import signalfd as sfd_mod
from butter import timerfd as tfd_mod
from butter import utils
from butter.asyncio.eventfd import Eventfd_async
from butter.asyncio.signalfd import Signalfd_async
from butter.asyncio.timerfd import Timerfd_async

DW = DeprecationWarning


def test_old_keywords_of_eventfd_timerfd_signalfd():
    with pytest.warns(DW, match="initial_value="):
        fd = efd_mod.eventfd(inital_value=4)
    try:
        assert efd_mod.eventfd_read(fd) == 4
        assert not os.get_inheritable(fd)
    finally:
        os.close(fd)
    with pytest.warns(DW, match="initial_value="), efd_mod.Eventfd(inital_value=2) as ev:
        assert int(ev) == 2
    with pytest.raises(TypeError, match="both"):
        efd_mod.Eventfd(inital_value=1, initial_value=1)
    with pytest.warns(DW, match=r"action="):
        old = sfd_mod.pthread_sigmask(how=sfd_mod.SIG_BLOCK, signals=[])
    assert old == set(signal.pthread_sigmask(signal.SIG_BLOCK, []))
    with pytest.warns(DW, match="signals="), sfd_mod.Signalfd(sigmask=[signal.SIGUSR1]) as sfd:
        assert signal.SIGUSR1 in sfd


@pytest.mark.parametrize(
    "make",
    [
        lambda **kw: efd_mod.Eventfd(**kw),
        lambda **kw: tfd_mod.Timer(**kw),
        lambda **kw: sfd_mod.Signalfd(**kw),
    ],
    ids=["Eventfd", "Timer", "Signalfd"],
)
def test_closefd_of_0_13_1(make):
    # 0.13.1: closefd=True set close-on-exec (butter always does);
    # closefd=False left the fd inheritable.
    with pytest.warns(DW, match="close-on-exec"), make(closefd=True) as obj:
        assert not os.get_inheritable(obj.fileno())
    with pytest.warns(DW, match="close-on-exec"), make(closefd=False) as obj:
        assert os.get_inheritable(obj.fileno())


def test_closefd_of_the_thin_wrappers():
    for create in (efd_mod.eventfd, tfd_mod.timerfd):
        with pytest.warns(DW, match="close-on-exec"):
            fd = create(closefd=False)
        assert os.get_inheritable(fd)
        os.close(fd)
    with pytest.warns(DW, match="close-on-exec"):
        fd = sfd_mod.signalfd([signal.SIGUSR1], closefd=True)
    assert not os.get_inheritable(fd)
    os.close(fd)


def test_eventfd_str_to_events_and_event_to_str():
    with pytest.warns(DW, match="eventfd_write"):
        data = efd_mod.event_to_str(7)
    assert data == (7).to_bytes(8, "little" if os.sys.byteorder == "little" else "big")
    with pytest.warns(DW, match="eventfd_read"):
        assert efd_mod.str_to_events(data) == [7]
    # The 0.9 way to use them: raw os.write/os.read on the fd.
    with efd_mod.Eventfd() as ev, warnings.catch_warnings():
        warnings.simplefilter("ignore", DW)
        os.write(ev.fileno(), efd_mod.event_to_str(3))
        assert efd_mod.str_to_events(os.read(ev.fileno(), 8)) == [3]


def test_timerfd_periodic_job_0_9_style():
    """A 0.9 program: ``Timerfd().set_reoccuring(...)``, read expirations."""
    fired = 0
    with pytest.warns(DW, match=r"every\(\.\.\.\)\.after\(\.\.\.\)\.update\(\)"):
        timer = tfd_mod.Timerfd(tfd_mod.CLOCK_MONOTONIC)
        old = timer.set_reoccuring(0, 20_000_000)  # every 20 ms
    with timer:
        assert (old.initial_ns, old.interval_ns) == (0, 0)
        with pytest.warns(DW, match="initial_ns != 0"):
            assert timer.enabled
        with pytest.warns(DW, match="initial_ns == 0"):
            assert not timer.disabled
        while fired < 3:
            fired += timer.read_event()
        with pytest.warns(DW, match="TimerSpec.initial"):
            next_event = timer.get_current().next_event
        assert 0 < next_event <= 0.02
        assert timer.get_current().interval_ns == 20_000_000
        timer.disable()
        with pytest.warns(DW, match="initial_ns == 0"):
            assert timer.disabled
        with pytest.warns(DW, match="every\\(\\)"):
            old = timer.set_one_off(0, 1_000_000)
        assert old == (0.0, 0.0)
        assert timer.read_event() == 1
        assert timer.get_current() == (0.0, 0.0)
    assert fired >= 3


def test_timerfd_periodic_job_0_13_1_style():
    """A 0.13.1 program: fluent ``occuring.every().after()`` then update()."""
    with tfd_mod.Timer() as timer:
        with pytest.warns(DW, match=r"Timer itself"):
            t = timer.occuring
        t.every(nano_seconds=10_000_000).after(nano_seconds=1_000_000)
        timer.update()
        assert timer.read_event() >= 1
        with pytest.warns(DW, match=r"Timer\.after\(\)"):
            timer.offset(seconds=1)
        with pytest.warns(DW, match=r"Timer itself"):
            chained = timer.and_repeats
        with pytest.warns(DW, match=r"Timer\.every\(\)"):
            chained.repeats(seconds=2)
        assert timer.timer_spec == (1.0, 2.0)
    with pytest.warns(DW, match="TimerSpec"):
        timer_val = tfd_mod.TimerVal
    assert timer_val is tfd_mod.TimerSpec
    with pytest.warns(DW, match="TimerSpec"):
        pair_type = tfd_mod.TimePair
    assert pair_type(1, 2).nano_seconds == 2


def test_utils_module():
    with pytest.warns(DW, match="EventLike"):
        base = utils.Eventlike
    with efd_mod.Eventfd() as ev:
        assert isinstance(ev, base)
    with pytest.warns(DW, match="OSError"):
        assert issubclass(utils.UnknownError, Exception)
    with pytest.warns(DW, match="OSError"):
        assert issubclass(utils.InternalError, Exception)
    with pytest.warns(DW, match="builtin TimeoutError"):
        assert utils.TimeoutError is TimeoutError
    with pytest.warns(DW, match="close-on-exec"):
        assert utils.CLOEXEC_DEFAULT is False
    r, w = os.pipe()
    try:
        os.write(w, b"abc")
        with pytest.warns(DW, match="FIONREAD"):
            assert utils.get_buffered_length(r) == 3
    finally:
        os.close(r)
        os.close(w)
    with pytest.raises(AttributeError):
        utils.no_such_name  # noqa: B018
    # butter keeps returning None from wait(timeout) (0.13.1 raised TimeoutError).
    with efd_mod.Eventfd() as ev:
        assert ev.wait(0.001) is None


def _old_style_select_loop():
    """A 0.9-style main loop: select() over signalfd + eventfd + timerfd."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sfd_mod.pthread_sigmask(how=sfd_mod.SIG_BLOCK, signals=[signal.SIGUSR1])
        sig = sfd_mod.Signalfd(sigmask=[signal.SIGUSR1])
        ev = efd_mod.Eventfd(inital_value=0)
        timer = tfd_mod.Timerfd(tfd_mod.CLOCK_REALTIME)
        timer.set_one_off(0, 5_000_000)
    seen = []
    ev.increment(5)
    os.kill(os.getpid(), signal.SIGUSR1)
    while len(seen) < 3:
        readable, _, _ = select.select([sig, ev, timer], [], [], 5)
        assert readable, "nothing became readable"
        for obj in readable:
            if obj is sig:
                s = sig.read_event()
                with warnings.catch_warnings(record=True) as more:
                    warnings.simplefilter("always")
                    seen.append(("signal", s.signal, s.signal_code == s.code))
                caught.extend(more)
            elif obj is ev:
                seen.append(("event", ev.read_event()))
            else:
                seen.append(("timer", timer.read_event()))
    for obj in (sig, ev, timer):
        obj.close()
    messages = sorted({str(w.message).split(" is deprecated")[0] for w in caught})
    categories = {w.category for w in caught}
    return sorted(seen, key=repr), messages, categories


def test_select_main_loop_in_old_style():
    seen, messages, categories = in_child(_old_style_select_loop)
    assert seen == [
        ("event", 5),
        ("signal", int(signal.SIGUSR1), True),
        ("timer", 1),
    ]
    assert categories == {DW}
    assert messages == [
        "Eventfd(): inital_value=",
        "Signal.signal_code",
        "Signalfd(): sigmask=",
        "Timer.set_one_off()",
        "pthread_sigmask(): how=",
    ]


def _signal_properties():
    sfd_mod.pthread_sigmask(sfd_mod.SIG_BLOCK, [signal.SIGUSR2])
    with sfd_mod.Signalfd([signal.SIGUSR2]) as sig:
        os.kill(os.getpid(), signal.SIGUSR2)
        s = sig.read_event()
    out = {}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for old, new in OLD_SIGNAL_FIELDS:
            out[old] = (getattr(s, old), getattr(s, new))
    return out, [str(w.message) for w in caught]


OLD_SIGNAL_FIELDS = [
    ("signal_code", "code"),
    ("sigio_fd", "fd"),
    ("timer_id", "tid"),
    ("sigio_band", "band"),
    ("child_status", "status"),
    ("child_user_time", "utime"),
    ("child_system_time", "stime"),
]


def test_signal_properties_of_0_13_1_on_a_real_signal():
    values, messages = in_child(_signal_properties)
    for old, _new in OLD_SIGNAL_FIELDS:
        assert values[old][0] == values[old][1]
    assert len(messages) == len(OLD_SIGNAL_FIELDS)
    for (old, new), msg in zip(OLD_SIGNAL_FIELDS, messages):
        assert f"Signal.{old} is deprecated" in msg and f"Signal.{new}" in msg


def _fields(**kw):
    values = dict.fromkeys(sfd_mod.Signal._fields, 0)
    values.update(kw)
    return sfd_mod.Signal(**values)


# Table: (old access, new access, what the new name is in the warning).
SAMPLE = _fields(signal=10, code=-6, fd=7, tid=8, band=9, status=3, utime=11, stime=12)
TABLE = [
    (lambda: SAMPLE.signal_code, lambda: SAMPLE.code, "Signal.code"),
    (lambda: SAMPLE.sigio_fd, lambda: SAMPLE.fd, "Signal.fd"),
    (lambda: SAMPLE.timer_id, lambda: SAMPLE.tid, "Signal.tid"),
    (lambda: SAMPLE.sigio_band, lambda: SAMPLE.band, "Signal.band"),
    (lambda: SAMPLE.child_status, lambda: SAMPLE.status, "Signal.status"),
    (lambda: SAMPLE.child_user_time, lambda: SAMPLE.utime, "Signal.utime"),
    (lambda: SAMPLE.child_system_time, lambda: SAMPLE.stime, "Signal.stime"),
    (lambda: sfd_mod.NEW_SIGNALFD, lambda: -1, "-1"),
    (
        lambda: sfd_mod.signum_to_signame[int(signal.SIGTERM)],
        lambda: signal.Signals(signal.SIGTERM).name,
        "signal.Signals",
    ),
    (lambda: tfd_mod.TimerVal, lambda: tfd_mod.TimerSpec, "TimerSpec"),
    (lambda: tfd_mod.TimerSpec(1.5).next_event, lambda: tfd_mod.TimerSpec(1.5).initial, "initial"),
    (lambda: tfd_mod.TimerSpec(1.5).enabled, lambda: True, "initial_ns != 0"),
    (lambda: tfd_mod.TimerSpec().disabled, lambda: True, "initial_ns == 0"),
    (
        lambda: tfd_mod.TimerSpec().repeats(seconds=2),
        lambda: tfd_mod.TimerSpec().every(seconds=2),
        r"TimerSpec\.every\(\)",
    ),
    (
        lambda: tfd_mod.TimerSpec().repeat(seconds=2),
        lambda: tfd_mod.TimerSpec().every(seconds=2),
        r"TimerSpec\.every\(\)",
    ),
    (
        lambda: tfd_mod.TimerSpec().offset(seconds=3),
        lambda: tfd_mod.TimerSpec().after(seconds=3),
        r"TimerSpec\.after\(\)",
    ),
    (lambda: tfd_mod.TimerSpec(2, 1).occuring, lambda: tfd_mod.TimerSpec(2, 1), "TimerSpec itself"),
    (
        lambda: tfd_mod.TimerSpec(2, 1).and_repeats,
        lambda: tfd_mod.TimerSpec(2, 1),
        "TimerSpec itself",
    ),
    (lambda: efd_mod.event_to_str(9), lambda: (9).to_bytes(8, os.sys.byteorder), "eventfd_write"),
    (
        lambda: efd_mod.str_to_events((9).to_bytes(8, os.sys.byteorder)),
        lambda: [9],
        "eventfd_read",
    ),
    (lambda: utils.TimeoutError, lambda: TimeoutError, "TimeoutError"),
    (lambda: utils.CLOEXEC_DEFAULT, lambda: False, "close-on-exec"),
]


@pytest.mark.parametrize(("old", "new", "named"), TABLE)
def test_every_old_name_warns_and_means_the_new_one(old, new, named):
    with pytest.warns(DW, match=named):
        value = old()
    assert value == new()


def test_old_names_are_absent_from_all_and_unknown_names_still_fail():
    for mod in (efd_mod, tfd_mod, sfd_mod):
        assert not {"NEW_SIGNALFD", "signum_to_signame", "TimerVal", "TimePair"} & set(mod.__all__)
        with pytest.raises(AttributeError):
            mod.no_such_name  # noqa: B018


# -- asyncio ----------------------------------------------------------------------
def test_loop_keyword_is_ignored_with_a_warning():
    async def main():
        loop = asyncio.get_running_loop()
        with pytest.warns(DW, match="running loop"):
            ev = Eventfd_async(loop=loop)
        with pytest.warns(DW, match="running loop"):
            timer = Timerfd_async(loop=loop)
        with pytest.warns(DW) as record:
            sig = Signalfd_async(sigmask=[signal.SIGUSR1], loop=loop)
        assert len(record) == 2
        assert any("signals=" in str(w.message) for w in record)
        for obj in (ev, timer, sig):
            obj.close()

    asyncio.run(main())


def test_other_async_adapters_accept_loop():
    from butter.asyncio.aio import Context_async
    from butter.asyncio.pidfd import PidFd_async

    async def main():
        loop = asyncio.get_running_loop()
        with pytest.warns(DW, match="running loop"):
            ctx = Context_async(loop=loop)
        ctx.close()
        with pytest.warns(DW, match="running loop"):
            pfd = PidFd_async(os.getpid(), loop=loop, reap=False)
        pfd.close()

    asyncio.run(main())


def test_watcher_adapters_accept_loop(tmp_path):
    # The 0.9 consumer: Inotify_async(loop=loop), Fanotify_async(loop=loop).
    from butter.asyncio.fanotify import Fanotify_async
    from butter.asyncio.inotify import Inotify_async, InotifyTree_async
    from butter.inotify import IN_CREATE

    async def main():
        loop = asyncio.get_running_loop()
        with pytest.warns(DW, match="running loop"):
            ino = Inotify_async(loop=loop)
        ino.watch(tmp_path, IN_CREATE)
        (tmp_path / "new").touch()
        assert (await asyncio.wait_for(ino.get_event(), 5)).filename == "new"
        ino.close()
        with pytest.warns(DW, match="running loop"):
            InotifyTree_async(tmp_path, loop=loop).close()
        if os.geteuid() == 0:
            with pytest.warns(DW, match="running loop"):
                Fanotify_async(loop=loop).close()

    asyncio.run(main())


def test_eventfd_async_0_13_1_program():
    async def main():
        with pytest.warns(DW) as record:
            ev = Eventfd_async(inital_value=5, loop=None)
        assert "initial_value=" in str(record[0].message)
        assert "running loop" in str(record[1].message)
        async with ev:
            with pytest.warns(DW, match="get_nowait"):
                assert ev.get_last() == 5
            assert await ev.wait() == 5
            with pytest.warns(DW, match="get_nowait"):
                assert ev.get_last() == 5
            ev.increment(2)
            with pytest.warns(DW, match="get_nowait"):
                assert ev.get_last() == 2
            assert await ev.wait() == 2
            ev.increment(4)
            assert ev.wait_nowait() == 4
            with pytest.warns(DW, match="get_nowait"):
                assert ev.get_last() == 4
            assert Eventfd_async.wait.__qualname__ == "Eventfd_async.wait"

    asyncio.run(main())


def test_timerfd_async_0_9_program():
    async def main():
        async with Timerfd_async() as timer:
            with pytest.warns(DW, match=r"Timerfd_async\.every"):
                old = timer.set_reoccuring(0, 5_000_000)
            assert old == (0.0, 0.0)
            assert await timer.wait() >= 1
            with pytest.warns(DW, match=r"Timerfd_async\.every\(\)"):
                old = timer.set_one_off(0, 1_000_000)
            assert old.interval_ns == 5_000_000
            assert await timer.wait() >= 1
            assert timer.get_current() == (0.0, 0.0)

    asyncio.run(main())


def test_get_buffered_length_matches_fionread_on_an_eventfd_free_pipe():
    r, w = os.pipe()
    try:
        os.write(w, b"x" * 10)
        buf = array.array("i", [0])
        fcntl.ioctl(r, termios.FIONREAD, buf)
        with pytest.warns(DW):
            assert utils.get_buffered_length(r) == buf[0] == 10
    finally:
        os.close(r)
        os.close(w)


def test_old_methods_on_a_closed_object_raise_valueerror_before_warning():
    timer = tfd_mod.Timerfd()
    timer.close()
    for call in (
        lambda: timer.set_reoccuring(1),
        lambda: timer.set_one_off(1),
        lambda: timer.enabled,
        lambda: timer.disabled,
    ):
        with pytest.raises(ValueError, match="closed"):
            call()

    async def main():
        ev = Eventfd_async()
        ev.close()
        with pytest.raises(ValueError, match="closed"):
            ev.get_last()
        timer = Timerfd_async()
        timer.close()
        with pytest.raises(ValueError, match="closed"):
            timer.set_reoccuring(1)
        with pytest.raises(ValueError, match="closed"):
            timer.set_one_off(1)

    asyncio.run(main())


def test_wrapped_callables_keep_the_new_signature_and_names():
    assert "initial_value" in str(inspect.signature(efd_mod.Eventfd))
    assert "inital" not in str(inspect.signature(efd_mod.eventfd))
    assert "action" in str(inspect.signature(sfd_mod.pthread_sigmask))
    assert str(inspect.signature(Eventfd_async)).startswith("(initial_value")
    assert efd_mod.eventfd.__name__ == "eventfd"
    assert sfd_mod.Signalfd.__init__.__qualname__ == "Signalfd.__init__"
    assert tfd_mod.timerfd.__doc__.startswith("Create a disarmed timer")
