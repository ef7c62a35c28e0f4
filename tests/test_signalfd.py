"""butter.signalfd against the real kernel.

References: ``signal.sigwaitinfo`` (the same siginfo, read another way),
``signal.pthread_sigmask`` (the thread's mask), ``/proc/self/fdinfo``
(the signalfd's own mask, as the kernel prints it) and cffi's view of
``struct signalfd_siginfo`` (for the parser).  Everything that blocks a
signal runs in a forked child (``in_child``): no mask leaks into pytest.
"""

from __future__ import annotations

import ctypes
import fcntl
import gc
import os
import select
import signal
import struct
import subprocess
import threading
import time
import warnings

import cffi
import pytest
from conftest import assert_clean_error, in_child, open_fds

from butter import _cstruct
from butter import signalfd as sfd_mod
from butter._lowlevel import ffi
from butter.asyncio.signalfd import Signalfd_async
from butter.signalfd import (
    SFD_CLOEXEC,
    SFD_NONBLOCK,
    SI_QUEUE,
    SI_TKILL,
    SI_USER,
    SIG_BLOCK,
    SIG_SETMASK,
    SIG_UNBLOCK,
    Signal,
    Signalfd,
    pthread_sigmask,
    restore_sigmask,
    signalfd,
    str_to_events,
)

USR1, USR2 = signal.SIGUSR1, signal.SIGUSR2
RTMIN, RTMAX = signal.SIGRTMIN, signal.SIGRTMAX
SIZE = ffi.sizeof("struct signalfd_siginfo")


def is_cloexec(fd: int) -> bool:
    return bool(fcntl.fcntl(fd, fcntl.F_GETFD) & fcntl.FD_CLOEXEC)


def fd_sigmask(fd: int) -> set[int]:
    """The signalfd's mask as the kernel reports it in fdinfo."""
    with open(f"/proc/self/fdinfo/{fd}") as f:
        for line in f:
            if line.startswith("sigmask:"):
                bits = int(line.split()[1], 16)
                return {n for n in range(1, 65) if bits >> (n - 1) & 1}
    raise AssertionError("no sigmask in fdinfo")


def thread_mask() -> set[int]:
    return {int(s) for s in signal.pthread_sigmask(signal.SIG_BLOCK, [])}


def sigqueue(pid: int, sig: int, value: int) -> None:
    """sigqueue(3) through ctypes (Python has no wrapper).  union sigval is
    pointer-sized and passed like a pointer on the ABIs butter runs on."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.sigqueue.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_void_p]
    if libc.sigqueue(pid, sig, value) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


# -- the layout helper (butter/_cstruct.py) -----------------------------------
def test_cstruct_derives_the_siginfo_layout_from_the_compiler():
    s, names = _cstruct.cstruct(ffi, "struct signalfd_siginfo")
    assert s.size == SIZE == 128
    assert names[0] == "ssi_signo" and "ssi_status" in names
    assert not any(n.startswith("_") for n in names)
    fields = dict(ffi.typeof("struct signalfd_siginfo").fields)
    # Offsets in order, one code per field with the field's size.
    assert [fields[n].offset for n in names] == sorted(fields[n].offset for n in names)


def test_cstruct_signedness_sizes_padding_and_selection():
    abi = cffi.FFI()
    abi.cdef(
        "struct t { int8_t a; uint16_t b; int32_t c; uint64_t d; char name[5];"
        " int64_t e; unsigned char _pad; double f; };"
    )
    s, names = _cstruct.cstruct(abi, "struct t")
    assert names == ("a", "b", "c", "d", "e", "f")
    assert s.size == abi.sizeof("struct t")
    p = abi.new("struct t *", {"a": -3, "b": 65535, "c": -7, "d": 2**64 - 1})
    p.e, p.f = -(2**63), 1.5
    assert s.unpack(bytes(abi.buffer(p))) == (-3, 65535, -7, 2**64 - 1, -(2**63), 1.5)
    # An explicit selection: others become padding; byte arrays are bytes.
    s2, names2 = _cstruct.cstruct(abi, "struct t", ["name", "b"])
    assert names2 == ("b", "name") and s2.size == s.size
    p.name = b"abc"
    assert s2.unpack(bytes(abi.buffer(p))) == (65535, b"abc\0\0")
    with pytest.raises(KeyError):
        _cstruct.cstruct(abi, "struct t", ["nope"])


# -- the parser, on hand-packed bytes ---------------------------------------
def packed(**values: int) -> bytes:
    p = ffi.new("struct signalfd_siginfo *")
    for name, value in values.items():
        setattr(p, name, value)
    return bytes(ffi.buffer(p))


def test_parse_every_field_by_name():
    names = [n for n, _ in ffi.typeof("struct signalfd_siginfo").fields]
    values = {n: i + 1 for i, n in enumerate(names) if not n.startswith("_")}
    values.update(ssi_errno=-5, ssi_status=-1, ssi_code=SI_QUEUE, ssi_ptr=2**64 - 2)
    (ev,) = str_to_events(packed(**values))
    assert isinstance(ev, Signal) and isinstance(ev, tuple)
    for cname, value in values.items():
        pyname = "signal" if cname == "ssi_signo" else cname[4:]
        assert getattr(ev, pyname) == value, pyname
    assert Signal._fields[:5] == ("signal", "errno", "code", "pid", "uid")
    assert {"status", "utime", "stime", "int", "ptr", "addr_lsb"} <= set(Signal._fields)


def test_parse_several_records_and_bad_sizes():
    buf = packed(ssi_signo=1) + packed(ssi_signo=2) + packed(ssi_signo=64)
    assert [e.signal for e in str_to_events(buf)] == [1, 2, 64]
    assert [e.signal for e in str_to_events(bytearray(buf))] == [1, 2, 64]
    assert [e.signal for e in str_to_events(memoryview(buf))] == [1, 2, 64]
    assert str_to_events(b"") == []
    for bad in (buf[:-1], b"x" * 100):
        with pytest.raises(ValueError):
            str_to_events(bad)
    with pytest.raises(TypeError):
        str_to_events("text")  # type: ignore[arg-type]


def test_parse_both_paths_agree():
    """CPython's iter_unpack and PyPy's unpack_from loop, on either."""
    import array
    import random

    from butter import signalfd as sfd

    rnd = random.Random(8)
    names = [n for n, _ in ffi.typeof("struct signalfd_siginfo").fields if not n.startswith("_")]
    for count in (0, 1, 2, 16, 100):
        records = []
        for _ in range(count):
            values = {n: rnd.randrange(256) for n in names}
            values["ssi_errno"] = -rnd.randrange(2**31)
            records.append(packed(**values))
        buf = b"".join(records)
        want = sfd._records_iter(buf, len(buf))
        assert len(want) == count
        assert sfd._records_loop(buf, len(buf)) == want
        assert all(type(e) is Signal for e in sfd._records_loop(buf, len(buf)))
        wide = memoryview(array.array("I", buf))  # a buffer whose items are not bytes
        assert sfd._records_loop(wide, len(buf)) == sfd._records_iter(wide, len(buf)) == want
        assert str_to_events(wide) == want


def test_constants():
    assert SFD_CLOEXEC == os.O_CLOEXEC and SFD_NONBLOCK == os.O_NONBLOCK
    assert (SIG_BLOCK, SIG_UNBLOCK, SIG_SETMASK) == (
        signal.SIG_BLOCK,
        signal.SIG_UNBLOCK,
        signal.SIG_SETMASK,
    )
    assert SI_USER == 0


@pytest.mark.skipif(not hasattr(os, "CLD_KILLED"), reason="os.CLD_* missing (PyPy)")
def test_cld_constants_match_the_os_module():
    for name in (
        "CLD_EXITED",
        "CLD_KILLED",
        "CLD_DUMPED",
        "CLD_STOPPED",
        "CLD_CONTINUED",
    ):
        assert getattr(sfd_mod, name) == getattr(os, name), name


# -- real signals --------------------------------------------------------------
needs_sigwaitinfo = pytest.mark.skipif(
    not hasattr(signal, "sigwaitinfo"), reason="signal.sigwaitinfo missing (PyPy)"
)


def send_and_read(sig, send):
    """In a child: block *sig*, ``send()`` it, read it with a Signalfd;
    then (where the signal module has it) send it again and read it with
    ``signal.sigwaitinfo`` as the reference."""

    def child():
        with Signalfd(sig, block=True) as sfd:
            send()
            ev = sfd.read_event()
            ref = None
            if hasattr(signal, "sigwaitinfo"):
                send()
                ref = signal.sigwaitinfo([sig])
        return ev, ref, os.getpid()

    return in_child(child)


def kill_self(sig):
    return lambda: os.kill(os.getpid(), sig)


def test_kill_gives_sender_fields():
    ev, _, pid = send_and_read(USR1, kill_self(USR1))
    assert (ev.signal, ev.code, ev.pid, ev.uid) == (USR1, SI_USER, pid, os.getuid())
    assert ev.status == ev.errno == ev.int == ev.ptr == 0


@needs_sigwaitinfo
def test_kill_matches_sigwaitinfo():
    ev, ref, _ = send_and_read(USR1, kill_self(USR1))
    assert (ev.signal, ev.code, ev.pid, ev.uid, ev.status) == (
        ref.si_signo,
        ref.si_code,
        ref.si_pid,
        ref.si_uid,
        ref.si_status,
    )


def test_thread_directed_signal():
    ev, ref, pid = send_and_read(USR2, lambda: signal.pthread_kill(threading.get_ident(), USR2))
    assert (ev.signal, ev.code, ev.pid, ev.uid) == (USR2, SI_TKILL, pid, os.getuid())
    if ref is not None:
        # The kernel says SI_TKILL (strace agrees); glibc's sigwaitinfo folds
        # SI_TKILL into SI_USER on purpose (sysdeps/.../sigtimedwait.c).
        assert ref.si_code == SI_USER
        assert (ev.signal, ev.pid, ev.uid) == (ref.si_signo, ref.si_pid, ref.si_uid)


def test_sigqueue_value_and_code():
    def child():
        with Signalfd(RTMIN + 1, block=True) as sfd:
            sigqueue(os.getpid(), RTMIN + 1, 0x1234_5678_9ABC)
            return sfd.read_event(), os.getpid()

    ev, pid = in_child(child)
    assert ev.signal == RTMIN + 1 and ev.code == SI_QUEUE and ev.pid == pid
    assert ev.ptr == 0x1234_5678_9ABC
    assert ev.int == struct.unpack("=i", struct.pack("=Q", ev.ptr)[:4])[0]


def exit_child(how):
    """Fork a child that ends by ``how()``; return a sender for send_and_read
    that records the child's pid."""
    pids = []

    def send():
        pid = os.fork()
        if pid == 0:
            try:
                how()
            finally:
                os._exit(0)
        pids.append(pid)

    return pids, send


def test_sigchld_from_child_exiting_with_status_3():
    def child():
        pids, send = exit_child(lambda: os._exit(3))
        with Signalfd(signal.SIGCHLD, block=True) as sfd:
            send()
            ev = sfd.read_event()
            os.waitpid(pids[0], 0)
        return ev, pids[0]

    ev, pid = in_child(child)
    assert ev.signal == signal.SIGCHLD and ev.code == sfd_mod.CLD_EXITED
    assert ev.status == 3 and ev.pid == pid and ev.uid == os.getuid()


@needs_sigwaitinfo
def test_sigchld_matches_sigwaitinfo():
    _, send = exit_child(lambda: os._exit(3))
    ev, ref, _ = send_and_read(signal.SIGCHLD, send)  # (init reaps both)
    assert (ev.code, ev.status, ev.uid) == (ref.si_code, ref.si_status, ref.si_uid)
    assert ev.pid != ref.si_pid  # two different children


def test_sigchld_killed_child():
    def die():
        signal.pthread_sigmask(signal.SIG_SETMASK, [])
        os.kill(os.getpid(), signal.SIGTERM)

    def child():
        pids, send = exit_child(die)
        with Signalfd(signal.SIGCHLD, block=True) as sfd:
            send()
            ev = sfd.read_event()
            os.waitpid(pids[0], 0)
        return ev, pids[0]

    ev, pid = in_child(child)
    assert ev.code == sfd_mod.CLD_KILLED and ev.status == signal.SIGTERM
    assert ev.pid == pid


# -- pthread_sigmask ----------------------------------------------------------
def test_pthread_sigmask_matches_the_signal_module():
    def child():
        signal.pthread_sigmask(signal.SIG_SETMASK, [])
        results = []
        results.append(pthread_sigmask(SIG_BLOCK, [USR1, signal.SIGHUP]))
        results.append(signal.pthread_sigmask(signal.SIG_BLOCK, []))
        results.append(pthread_sigmask(SIG_BLOCK, [RTMIN, RTMAX, 40]))
        results.append(signal.pthread_sigmask(signal.SIG_BLOCK, []))
        results.append(pthread_sigmask(SIG_UNBLOCK, {signal.SIGHUP}))
        results.append(pthread_sigmask(SIG_SETMASK, signal.valid_signals()))
        results.append(signal.pthread_sigmask(signal.SIG_BLOCK, []))
        results.append(pthread_sigmask(SIG_SETMASK, []))
        results.append(pthread_sigmask(SIG_BLOCK, []))
        return results

    r = in_child(child)
    assert r[0] == set()
    assert r[1] == {USR1, signal.SIGHUP}
    assert r[2] == r[1]
    assert r[3] == {USR1, signal.SIGHUP, RTMIN, RTMAX, 40}
    assert r[4] == r[3]  # the old mask matches the signal module's view
    assert r[5] == r[3] - {signal.SIGHUP}
    valid = signal.valid_signals() - {signal.SIGKILL, signal.SIGSTOP}
    assert r[6] == valid
    assert r[7] == valid  # every real-time signal, up to bit 63
    assert r[8] == set()
    # Members are Signals where the enum knows them, ints otherwise.
    assert {type(s) for s in r[7] if s in (USR1, RTMIN)} == {signal.Signals}
    assert type(next(s for s in r[7] if s == 40)) is int


def test_pthread_sigmask_is_per_thread():
    def child():
        out = {}

        def worker():
            pthread_sigmask(SIG_BLOCK, [USR2])
            out["thread"] = thread_mask()

        signal.pthread_sigmask(signal.SIG_SETMASK, [])
        t = threading.Thread(target=worker)
        t.start()
        t.join()
        out["main"] = thread_mask()
        return out

    out = in_child(child)
    assert out == {"thread": {USR2}, "main": set()}


# -- Signalfd -----------------------------------------------------------------
def test_real_time_signals_queue_and_reach_the_fd():
    def child():
        rt = list(range(RTMIN, RTMAX + 1))
        with Signalfd(rt, block=True) as sfd:
            assert thread_mask() >= set(rt)
            for sig in (RTMAX, RTMIN, 50, 50, 50):
                os.kill(os.getpid(), sig)
            return [e.signal for e in sfd.read_events()]

    # Real-time signals queue (three 50s) and come lowest number first.
    assert in_child(child) == [RTMIN, 50, 50, 50, RTMAX]


def test_many_signals_in_one_read_and_the_cache():
    def child():
        with Signalfd([USR1, USR2, signal.SIGHUP, RTMIN], block=True) as sfd:
            for sig in (USR1, USR2, signal.SIGHUP, USR1):  # USR1 coalesces
                os.kill(os.getpid(), sig)
            first = sfd.read_events()
            for _ in range(20):
                os.kill(os.getpid(), RTMIN)
            batch1 = sfd.read_events()  # one read(2): 16 records
            one = sfd.read_event()  # from a fresh read of the remaining 4
            rest = sfd.read_events()  # the cached 3
            return [e.signal for e in first], len(batch1), one.signal, len(rest)

    first, n1, one, n_rest = in_child(child)
    assert sorted(first) == sorted([USR1, USR2, signal.SIGHUP])
    assert (n1, one, n_rest) == (16, RTMIN, 3)


def test_nonblocking_wait_iteration_poll():
    def child():
        out = []
        with Signalfd(USR1, SFD_NONBLOCK, block=True) as sfd:
            for fn in (sfd.read_event, sfd.read_events):
                try:
                    fn()
                except BlockingIOError:
                    out.append("EAGAIN")
            out.append(sfd.wait(0))
            out.append(sfd.wait(0.01))
            p = select.poll()
            p.register(sfd, select.POLLIN)
            out.append(p.poll(0))
            os.kill(os.getpid(), USR1)
            out.append(p.poll(0))
            out.append(next(iter(sfd)).signal)
            os.kill(os.getpid(), USR1)
            out.append(sfd.wait().signal)
        return out

    out = in_child(child)
    assert out[:5] == ["EAGAIN", "EAGAIN", None, None, []]
    assert out[5][0][1] & select.POLLIN
    assert out[6:] == [USR1, USR1]


def test_enable_disable_membership_and_kernel_mask():
    with Signalfd() as sfd:
        fd = sfd.fileno()
        assert sfd.signals == frozenset() and fd_sigmask(fd) == set()
        sfd.enable(USR1)
        sfd.enable([USR2, 40, signal.SIGKILL])
        assert sfd.signals == {USR1, USR2, 40} == fd_sigmask(fd)
        assert USR1 in sfd and 40 in sfd and signal.SIGHUP not in sfd
        assert "x" not in sfd and signal.SIGKILL not in sfd
        sfd.disable([USR1, signal.SIGHUP])
        assert sfd.signals == {USR2, 40} == fd_sigmask(fd)
        sfd.enable_all()
        everything = signal.valid_signals() - {signal.SIGKILL, signal.SIGSTOP}
        assert sfd.signals == everything
        assert fd_sigmask(fd) == {int(s) for s in everything}
        sfd.disable_all()
        assert sfd.signals == frozenset() and fd_sigmask(fd) == set()
        assert isinstance(sfd.signals, frozenset)
        assert repr(sfd) == f"<Signalfd fd={fd} signals={{}}>"
        sfd.enable([40, USR1])
        assert repr(sfd) == f"<Signalfd fd={fd} signals={{SIGUSR1, 40}}>"
    assert repr(sfd) == "<Signalfd closed>"


def test_block_tracks_enable_and_disable():
    def child():
        signal.pthread_sigmask(signal.SIG_SETMASK, [signal.SIGHUP])
        masks = []
        with Signalfd([USR1]) as sfd:
            masks.append(thread_mask())  # block=False: untouched
            masks.append(sfd.block())  # old mask
            masks.append(thread_mask())
            sfd.enable([USR2, RTMAX])
            masks.append(thread_mask())
            sfd.disable(USR1)
            masks.append(thread_mask())
            masks.append(sfd.unblock())
            masks.append(thread_mask())
            sfd.enable(USR1)  # not blocking any more
            masks.append(thread_mask())
        with Signalfd([USR1], block=True):
            masks.append(thread_mask())
        masks.append(thread_mask())  # close restores what block changed
        return masks

    hup = signal.SIGHUP
    assert in_child(child) == [
        {hup},
        {hup},
        {hup, USR1},
        {hup, USR1, USR2, RTMAX},
        {hup, USR2, RTMAX},
        {hup, USR2, RTMAX},
        {hup},
        {hup},
        {hup, USR1},
        {hup},
    ]


# -- what blocking leaves behind (issue 11) -----------------------------------
def sigblk(pid="self") -> set[int]:
    """The blocked signals of a process, from /proc/<pid>/status."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("SigBlk:"):
                bits = int(line.split()[1], 16)
                return {n for n in range(1, 65) if bits >> (n - 1) & 1}
    raise AssertionError("no SigBlk line")


def test_close_restores_exactly_what_was_changed():
    def child():
        signal.pthread_sigmask(signal.SIG_SETMASK, [signal.SIGHUP])
        masks = []
        a = Signalfd([USR1, signal.SIGHUP], block=True)
        masks.append(thread_mask())
        b = Signalfd([USR1, USR2], block=True)
        masks.append(thread_mask())
        a.close()  # USR1 still held by b; SIGHUP was blocked before
        masks.append(thread_mask())
        b.close()
        masks.append(thread_mask())
        b.close()  # idempotent
        with Signalfd(signal.SIGINT, block=True) as c:
            c.block()  # twice: still one hold
            masks.append(thread_mask())
        masks.append(thread_mask())  # Ctrl-C works again
        try:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(1)
            masks.append("no KeyboardInterrupt")
        except KeyboardInterrupt:
            masks.append("KeyboardInterrupt")
        return masks

    hup = signal.SIGHUP
    assert in_child(child) == [
        {hup, USR1},
        {hup, USR1, USR2},
        {hup, USR1, USR2},
        {hup},
        {hup, signal.SIGINT},
        {hup},
        "KeyboardInterrupt",
    ]


def test_children_do_not_inherit_the_block():
    """A forked child starts unblocked (os.register_at_fork); subprocess
    forks in C and needs preexec_fn=restore_sigmask; a SIGTERM then ends a
    ``sleep`` started inside the block."""

    def child():
        out = {}
        cmd = ["sed", "-n", "s/^SigBlk:[[:space:]]*//p", "/proc/self/status"]
        with Signalfd([signal.SIGTERM, signal.SIGINT], block=True) as sfd:
            out["parent"] = sigblk()
            plain = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
            fixed = subprocess.run(
                cmd, capture_output=True, text=True, timeout=10, preexec_fn=restore_sigmask
            )
            out["subprocess"] = int(plain.stdout, 16)
            out["subprocess+preexec"] = int(fixed.stdout, 16)
            r, w = os.pipe()
            pid = os.fork()
            if pid == 0:
                os.write(w, repr(sorted(sigblk())).encode())
                os._exit(0)
            os.close(w)
            out["fork"] = os.read(r, 200).decode()
            os.close(r)
            os.waitpid(pid, 0)
            sleeper = subprocess.Popen(["sleep", "30"], preexec_fn=restore_sigmask)
            time.sleep(0.1)
            sleeper.terminate()
            out["sleep"] = sleeper.wait(10)
            out["still blocked here"] = sigblk() >= {signal.SIGTERM, signal.SIGINT}
            out["still watching"] = signal.SIGTERM in sfd
        out["after"] = sigblk()
        return out

    term_int = (1 << (signal.SIGTERM - 1)) | (1 << (signal.SIGINT - 1))
    out = in_child(child)
    assert out["parent"] >= {signal.SIGTERM, signal.SIGINT}
    assert out["subprocess"] & term_int == term_int  # the documented limit
    assert out["subprocess+preexec"] & term_int == 0
    assert out["fork"] == "[]"
    assert out["sleep"] == -signal.SIGTERM
    assert out["still blocked here"] and out["still watching"]
    assert out["after"] == set()


def test_signalfd_inherited_by_a_forked_child():
    """After fork the child's inherited Signalfd blocks nothing until
    block() is called there again; then it reads the child's signals."""

    def child():
        with Signalfd(USR1, block=True) as sfd:
            r, w = os.pipe()
            pid = os.fork()
            if pid == 0:
                try:
                    before = sorted(sigblk())
                    sfd.block()
                    os.kill(os.getpid(), USR1)
                    ev = sfd.wait(5)
                    os.write(w, repr((before, ev.signal if ev else None)).encode())
                finally:
                    os._exit(0)
            os.close(w)
            got = os.read(r, 200).decode()
            os.close(r)
            os.waitpid(pid, 0)
            return got, sorted(sigblk())

    got, parent = in_child(child)
    assert got == f"([], {int(USR1)})"
    assert parent == [USR1]  # the parent's block is untouched


def test_threads_started_before_are_detected():
    def child():
        stop = threading.Event()
        early = threading.Thread(target=stop.wait)
        early.start()
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                with Signalfd(USR1, block=True):
                    later = threading.Thread(target=stop.wait)
                    later.start()  # inherits the block
                    with Signalfd(USR2, block=False):
                        pass  # blocks nothing: nothing to warn about
            first = [str(w.message) for w in caught]
            stop.set()
            early.join()
            later.join()
            # Once every thread blocks it, no warning.
            signal.pthread_sigmask(signal.SIG_BLOCK, [USR2])
            stop2 = threading.Event()
            t = threading.Thread(target=stop2.wait)
            t.start()
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                with Signalfd(USR2, block=True):
                    pass
            stop2.set()
            t.join()
            return first, [str(w.message) for w in caught]
        finally:
            stop.set()

    first, second = in_child(child)
    assert len(first) == 1 and "1 other thread(s)" in first[0] and "SIGUSR1" in first[0]
    assert second == []


def test_close_in_another_thread_warns():
    def child():
        sfd = Signalfd(USR1, block=True)
        t = threading.Thread(target=sfd.close)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            t.start()
            t.join()
        return [str(w.message) for w in caught], sorted(sigblk())

    messages, mask = in_child(child)
    assert len(messages) == 1 and "stay blocked" in messages[0]
    assert mask == [USR1]


def test_signalfd_function_creates_and_updates():
    def child():
        pthread_sigmask(SIG_BLOCK, [USR1, USR2])
        fd = signalfd([USR1])
        try:
            assert is_cloexec(fd) and os.get_blocking(fd)
            assert fd_sigmask(fd) == {USR1}
            assert signalfd(USR2, fd) == fd  # replaces the mask
            assert fd_sigmask(fd) == {USR2}

            class Holder:
                def fileno(self):
                    return fd

            assert signalfd([USR1, USR2], Holder()) == fd
            assert fd_sigmask(fd) == {USR1, USR2}
            os.kill(os.getpid(), USR2)
            data = os.read(fd, 4096)
            assert len(data) == SIZE and str_to_events(data)[0].signal == USR2
        finally:
            os.close(fd)
        fd = signalfd([USR1], flags=SFD_NONBLOCK)
        try:
            assert is_cloexec(fd) and not os.get_blocking(fd)
        finally:
            os.close(fd)
        fd = signalfd([], -1, SFD_NONBLOCK | SFD_CLOEXEC)
        os.close(fd)
        return True

    assert in_child(child)


def test_fd_not_a_signalfd_and_closed_fd():
    r, w = os.pipe()
    try:
        with pytest.raises(OSError) as exc:
            signalfd([USR1], r)
        assert exc.value.errno == 22  # EINVAL
    finally:
        os.close(r)
        os.close(w)
    with pytest.raises(OSError) as exc:
        signalfd([USR1], r)
    assert exc.value.errno == 9  # EBADF


def test_closed_object():
    sfd = Signalfd(USR1)
    sfd.close()
    sfd.close()
    assert sfd.closed
    for call in (
        sfd.read_event,
        sfd.read_events,
        sfd.fileno,
        sfd.enable_all,
        sfd.disable_all,
        sfd.block,
        sfd.unblock,
        lambda: sfd.enable(USR2),
        lambda: sfd.disable(USR1),
        lambda: sfd.wait(0),
    ):
        with pytest.raises(ValueError, match="closed"):
            call()


def test_resource_warning_on_gc():
    sfd = Signalfd(USR1)
    fd = sfd.fileno()
    with pytest.warns(ResourceWarning):
        del sfd
        gc.collect()
    with pytest.raises(OSError):
        os.fstat(fd)  # closed (open_fds() itself would reuse the number)


def test_fd_leak_and_cloexec():
    before = open_fds()
    for _ in range(2000):
        sfd = Signalfd([USR1, RTMIN], SFD_NONBLOCK)
        assert is_cloexec(sfd.fileno())
        sfd.enable(USR2)
        sfd.close()
    for _ in range(2000):
        q = Signalfd_async([USR1])
        assert is_cloexec(q.fileno())
        q.close()
    # Failed constructions leak nothing either.
    for _ in range(200):
        with pytest.raises(ValueError):
            Signalfd([USR1], flags=0x1)
        with pytest.raises(TypeError):
            Signalfd_async([USR1], maxsize="1")  # type: ignore[arg-type]
    assert open_fds() == before


# -- bad input: every public entry point ----------------------------------------
# (bad signals argument, the exception class it must raise).  Signal
# numbers out of range are ValueError however large, as in
# signal.pthread_sigmask.
BAD_SIGNALS = [
    (0, ValueError),
    (65, ValueError),
    (-1, ValueError),
    (2**31, ValueError),
    (2**64, ValueError),
    (2**200, ValueError),
    ([0], ValueError),
    ([USR1, 65], ValueError),
    ([-1], ValueError),
    ([2**100], ValueError),
    ("SIGUSR1", TypeError),
    (["SIGUSR1"], TypeError),
    (None, TypeError),
    ([None], TypeError),
    (1.5, TypeError),
    ([1.5], TypeError),
    ([True], TypeError),
    (object(), TypeError),
]


@pytest.mark.parametrize("bad, expected", BAD_SIGNALS, ids=repr)
def test_bad_signals(bad, expected):
    def make():
        return Signalfd()

    for fn, args in [
        (signalfd, (bad,)),
        (pthread_sigmask, (SIG_BLOCK, bad)),
        (Signalfd, (bad,)),
        (Signalfd_async, (bad,)),
        (lambda: make().enable(bad), ()),
        (lambda: make().disable(bad), ()),
        (lambda: Signalfd_async().enable(bad), ()),
    ]:
        assert assert_clean_error(fn, *args) == expected.__name__, (fn, args)


@pytest.mark.parametrize(
    "fd, expected",
    [
        (-2, ValueError),
        (2**31, OverflowError),
        (2**64, OverflowError),
        (-(2**64), ValueError),
        (10_000, OSError),  # EBADF
        ("3", TypeError),
        (None, TypeError),
        (1.0, TypeError),
        (b"3", TypeError),
    ],
    ids=repr,
)
def test_bad_fds(fd, expected):
    assert assert_clean_error(signalfd, [USR1], fd) == expected.__name__


@pytest.mark.parametrize(
    "flags, expected",
    [
        (-1, ValueError),
        (1, ValueError),  # unknown bits
        (2**31, OverflowError),
        (2**64, OverflowError),
        ("0", TypeError),
        (None, TypeError),
        (1.0, TypeError),
        (True, TypeError),
    ],
    ids=repr,
)
def test_bad_flags(flags, expected):
    assert assert_clean_error(signalfd, [USR1], -1, flags) == expected.__name__
    assert assert_clean_error(Signalfd, [USR1], flags) == expected.__name__
    assert assert_clean_error(Signalfd_async, [USR1], flags) == expected.__name__


@pytest.mark.parametrize(
    "action, expected",
    [
        (-1, OSError),  # the EINVAL of pthread_sigmask(3), as signal.pthread_sigmask
        (3, OSError),
        (99, OSError),
        (2**31, OverflowError),
        (2**64, OverflowError),
        ("0", TypeError),
        (None, TypeError),
        (0.0, TypeError),
    ],
    ids=repr,
)
def test_bad_action(action, expected):
    assert assert_clean_error(pthread_sigmask, action, [USR1]) == expected.__name__


def test_bad_maxsize_and_closed_fd():
    assert assert_clean_error(Signalfd_async, [USR1], 0, "x") == "TypeError"
    assert assert_clean_error(Signalfd_async, [USR1], 0, None) == "TypeError"

    def closed_then(method, *args):
        sfd = Signalfd()
        fd = sfd.fileno()
        os.close(fd)  # closed behind the object's back
        try:
            getattr(sfd, method)(*args)
        finally:
            sfd.detach()

    for method, args in [
        ("enable", (USR1,)),
        ("disable_all", ()),
        ("enable_all", ()),
        ("read_event", ()),
        ("read_events", ()),
    ]:
        assert assert_clean_error(closed_then, method, *args) == "OSError"


def test_membership_on_a_closed_signalfd_raises():
    sfd = Signalfd([signal.SIGUSR1])
    assert signal.SIGUSR1 in sfd
    sfd.close()
    with pytest.raises(ValueError, match="closed"):
        signal.SIGUSR1 in sfd  # noqa: B015
