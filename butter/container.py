"""A minimal container built only from butter's system calls.

``run(["hostname"])`` runs a command with:

* new mount, UTS, IPC and PID namespaces (:func:`butter.clone.unshare`),
  with every mount made private first so nothing propagates to the host;
* a fresh ``tmpfs`` as the root file system, holding read-only bind mounts
  of ``/usr`` (and of ``/bin``, ``/sbin``, ``/lib``, ``/lib64``, ... where
  the host has them as directories; where they are symlinks into ``usr/``,
  as on merged-/usr systems like Debian 12, the same symlinks), a few
  device nodes bound from the host (``/dev/null``, ``/dev/zero``,
  ``/dev/full``, ``/dev/random``, ``/dev/urandom``), a fresh ``/proc``
  and an empty ``/tmp``;
* :func:`butter.system.pivot_root` into it, the old root detached
  (``umount(MNT_DETACH)``) so no host mount stays visible;
* its own hostname (:func:`butter.system.sethostname`).

Process layout: the caller forks a *helper* that unshares the namespaces
and forks the new namespace's PID 1, the *init*; init builds the root,
forks the command (PID 2) and reaps every process of the namespace until
the command exits, then exits with the command's status.  When a
namespace's PID 1 exits the kernel kills whatever is left in it, so no
daemon the command started outlives it.  The caller reaps the helper, the
helper reaps init: no zombie is left.  Failures during setup come back to
the caller as ``OSError`` naming the step.

Signals (``forward_signals``, what the command line uses): while the
container runs the caller blocks those signals and reads them from a
:mod:`signalfd <butter.signalfd>`; each is written to a *control pipe*
that init reads, and init sends it to the command, as ``docker run`` and
``tini`` do.  The command gets each signal once: SIGINT, SIGQUIT and
SIGWINCH sent by the kernel (``SI_KERNEL`` in the signal's record:
``Ctrl-C``, ``Ctrl-\\`` and window size changes, which a terminal sends to
its whole foreground process group) already reached the command, which
shares the caller's process group, so they are not sent again (unless the
command has not started yet).  A second SIGINT or SIGTERM sent with
``kill`` escalates to SIGKILL (for a command that ignores the first);
there is no timeout, and ``Ctrl-C`` never escalates (an interactive shell
ignores it, as it should).  A signal sent with ``kill`` to the whole
process group reaches the command both directly and through the caller.
The helper and init block these signals (only SIGKILL ends them); the
command starts with the caller's signal mask and ignored signals, every
other disposition back to default (SIGPIPE and SIGXFSZ too, which Python
ignores, as :mod:`subprocess` does).

Cleanup on every exit path: when the control pipe's write end closes
(the caller returned, raised, or was killed, even by SIGKILL), init exits,
taking the whole namespace with it.  This works as ``PR_SET_PDEATHSIG``
would, without its catch (it fires when the forking *thread* exits).  The
root's mount point is an empty ``butter-container-PID-*`` folder in
:func:`tempfile.gettempdir`; the caller removes it as soon as init has
pivoted away from it, so it only exists while the container is being set
up (milliseconds).  If the caller is killed in that window the empty
folder stays; the next ``run`` removes such folders when their PID is
gone and they are more than a minute old.

Needs root (``CAP_SYS_ADMIN``; user namespaces are not used).  From the
command line::

    python -m butter.container [--hostname NAME] [--bind PATH]... -- CMD [ARG]...

exits with the command's status (128 + N if signal N killed it), 125 when
the container cannot be set up, 126/127 when the command cannot be run,
1 (with an explanation) without the privileges.
"""

from __future__ import annotations

import errno
import os
import select
import signal
import stat
import sys
import tempfile
import threading
import time

from ._cli import entry_point, run_program
from .clone import CLONE_NEWIPC, CLONE_NEWNS, CLONE_NEWPID, CLONE_NEWUTS, unshare
from .signalfd import (
    SFD_NONBLOCK,
    SI_KERNEL,
    SIG_BLOCK,
    SIG_SETMASK,
    pthread_sigmask,
    signalfd,
    str_to_events,
)
from .system import (
    MNT_DETACH,
    MS_BIND,
    MS_NODEV,
    MS_NOEXEC,
    MS_NOSUID,
    MS_PRIVATE,
    MS_RDONLY,
    MS_REC,
    MS_REMOUNT,
    mount,
    pivot_root,
    sethostname,
    umount,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import (
        AbstractSet,
        Callable,
        Iterable,
        List,
        Mapping,
        NoReturn,
        Optional,
        Sequence,
        Tuple,
    )

__all__ = ["FORWARDED_SIGNALS", "main", "run"]

#: Top-level host directories made visible (read-only) when they exist.
SYSTEM_DIRS = ("usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32")
DEVICES = ("null", "zero", "full", "random", "urandom")
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

_S = signal.Signals
#: Never forwarded: uncatchable, reporting a fault of the receiver itself
#: (SIGSEGV, ...), SIGCHLD, SIGPIPE, and job control (Ctrl-Z stops the whole
#: process group, container included; ``fg`` continues it).
_NOT_FORWARDED = frozenset(
    (
        _S.SIGKILL,
        _S.SIGSTOP,
        _S.SIGCHLD,
        _S.SIGPIPE,
        _S.SIGSEGV,
        _S.SIGBUS,
        _S.SIGILL,
        _S.SIGFPE,
        _S.SIGTRAP,
        _S.SIGSYS,
        _S.SIGABRT,
        _S.SIGTSTP,
        _S.SIGTTIN,
        _S.SIGTTOU,
        _S.SIGCONT,
    )
)
#: The signals ``python -m butter.container`` forwards to the command:
#: SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGWINCH, SIGALRM,
#: SIGURG, SIGPWR, the real-time signals, ... (every catchable signal but
#: the fault, job-control, SIGCHLD and SIGPIPE ones).
FORWARDED_SIGNALS = frozenset(int(s) for s in signal.valid_signals()) - _NOT_FORWARDED
#: What a terminal sends to its whole foreground process group (keys, a
#: new window size): when the kernel sent it, the command has it already.
_TERMINAL_SIGNALS = frozenset((int(_S.SIGINT), int(_S.SIGQUIT), int(_S.SIGWINCH)))
#: A second SIGINT/SIGTERM sent with kill(2) becomes SIGKILL.
_ESCALATE = frozenset((int(_S.SIGINT), int(_S.SIGTERM)))
#: The signals the command gets back at default unless ignored by the caller;
#: Python ignores these two itself (subprocess restores them likewise).
_RESTORED = frozenset((int(_S.SIGPIPE), int(_S.SIGXFSZ)))

_PREFIX = "butter-container-"
_STALE_AFTER = 60.0  # seconds; setup takes milliseconds
_READY = b"R"  # init -> caller: pivoted away from the mount point
_ERROR = b"E"  # then errno, step, filename, text, NUL-separated, until EOF
_FROM_TERMINAL = 0x80  # control byte flag: the command got this one already
_KILLED = 128 + int(_S.SIGKILL)


class _SetupError(Exception):
    def __init__(self, step: str, exc: BaseException) -> None:
        super().__init__(step)
        self.step = step
        self.exc = exc


def _step(name: str, fn: Callable[..., object], *args: object) -> None:
    try:
        fn(*args)
    except BaseException as exc:
        raise _SetupError(name, exc) from exc


def _bind_ro(src: str, dst: str) -> None:
    mount(src, dst, None, MS_BIND | MS_REC)
    mount(None, dst, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)


def _build_root(root: str, binds: Sequence[str], size: str) -> None:
    """Populate *root* (already a private mount namespace) and pivot into it."""
    _step(
        "mount tmpfs root",
        mount,
        "tmpfs",
        root,
        "tmpfs",
        MS_NOSUID | MS_NODEV,
        f"mode=755,size={size}",
    )
    for name in SYSTEM_DIRS:
        host = "/" + name
        inside = os.path.join(root, name)
        if os.path.islink(host):
            os.symlink(os.readlink(host), inside)
        elif os.path.isdir(host):
            os.mkdir(inside)
            _step(f"bind {host}", _bind_ro, host, inside)
    dev = os.path.join(root, "dev")
    os.mkdir(dev)
    for name in DEVICES:
        node = os.path.join(dev, name)
        open(node, "a").close()
        _step(f"bind /dev/{name}", mount, "/dev/" + name, node, None, MS_BIND)
    os.mkdir(os.path.join(root, "proc"))
    os.mkdir(os.path.join(root, "tmp"))
    os.chmod(os.path.join(root, "tmp"), 0o1777)
    for path in binds:
        path = os.path.abspath(path)
        inside = root + path
        if os.path.isdir(path):
            os.makedirs(inside, exist_ok=True)
        else:
            os.makedirs(os.path.dirname(inside), exist_ok=True)
            open(inside, "a").close()
        _step(f"bind {path}", _bind_ro, path, inside)
    old = os.path.join(root, ".old-root")
    os.mkdir(old)
    _step("pivot_root", pivot_root, root, old)
    os.chdir("/")
    _step("detach the old root", umount, "/.old-root", MNT_DETACH)
    os.rmdir("/.old-root")
    _step("mount /proc", mount, "proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)


def _report(fd: int, step: str, exc: BaseException) -> None:
    err = getattr(exc, "errno", None) or 0
    filename = getattr(exc, "filename", None)
    msg = f"{err}\0{step}\0{'' if filename is None else os.fsdecode(filename)}\0{exc}"
    try:
        os.write(fd, _ERROR + msg.encode("utf-8", "surrogateescape"))
    except OSError:
        pass


def _exit_code(status: int) -> int:
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


def _read_control(fd: int) -> Tuple[bytes, bool]:
    """Everything waiting in the (non-blocking) control pipe, and whether
    its write end is closed (the caller is gone)."""
    chunks: List[bytes] = []
    while True:
        try:
            data = os.read(fd, 4096)
        except BlockingIOError:
            return b"".join(chunks), False
        if not data:
            return b"".join(chunks), True
        chunks.append(data)


def _exec_command(
    argv: Sequence[str],
    env: Mapping[str, str],
    cwd: str,
    stdio: Sequence[Optional[int]],
    status_w: int,
    mask: AbstractSet[int],
) -> NoReturn:
    """PID 2: the caller's signal state back, then exec."""
    try:
        for target, fd in enumerate(stdio):
            if fd is not None:
                os.dup2(fd, target)
        os.chdir(cwd)
        for sig in FORWARDED_SIGNALS | _RESTORED:
            if sig in _RESTORED or signal.getsignal(sig) is not signal.SIG_IGN:
                signal.signal(sig, signal.SIG_DFL)
        # A signal init passed on before the exec is delivered here.
        pthread_sigmask(SIG_SETMASK, mask)
        os.execvpe(argv[0], list(argv), dict(env))
    except BaseException as exc:
        _report(status_w, f"exec {argv[0]}", exc)
    finally:
        os._exit(127)


def _init(  # PID 1 of the new PID namespace
    argv: Sequence[str],
    root: str,
    hostname: str,
    binds: Sequence[str],
    size: str,
    env: Mapping[str, str],
    cwd: str,
    stdio: Sequence[Optional[int]],
    status_w: int,
    ctrl_r: int,
    mask: AbstractSet[int],
) -> int:
    try:
        _build_root(root, binds, size)
        _step("sethostname", sethostname, hostname)
    except _SetupError as exc:
        _report(status_w, exc.step, exc.exc)
        return 125
    except BaseException as exc:
        _report(status_w, "building the root", exc)
        return 125
    try:
        os.write(status_w, _READY)
    except OSError:
        return _KILLED  # the caller is gone
    # SIGCHLD blocked and read from a signalfd: one poll for both inputs.
    pthread_sigmask(SIG_BLOCK, [signal.SIGCHLD])
    children = signalfd([signal.SIGCHLD], flags=SFD_NONBLOCK)
    os.set_blocking(ctrl_r, False)
    early, gone = _read_control(ctrl_r)
    if gone:
        return _KILLED
    cmd = os.fork()
    if cmd == 0:
        os.close(children)
        os.close(ctrl_r)
        _exec_command(argv, env, cwd, stdio, status_w, mask)
    # Sent before the command existed: it has not had them, even the
    # terminal's ones.  It blocks them until it restores the mask.
    for byte in early:
        os.kill(cmd, byte & ~_FROM_TERMINAL)
    poller = select.poll()
    poller.register(ctrl_r, select.POLLIN)
    poller.register(children, select.POLLIN)
    while True:
        for fd, _ in poller.poll():
            if fd == ctrl_r:
                data, gone = _read_control(ctrl_r)
                if gone:
                    return _KILLED  # exiting kills the namespace
                for byte in data:
                    if not byte & _FROM_TERMINAL:
                        os.kill(cmd, byte)  # not reaped yet: the pid is the command's
                continue
            try:
                os.read(children, 4096)
            except BlockingIOError:
                pass
            while True:  # reap everything, orphans included
                try:
                    pid, status = os.waitpid(-1, os.WNOHANG)
                except ChildProcessError:
                    break
                if pid == 0:
                    break
                if pid == cmd:
                    return _exit_code(status)


def _helper(
    argv: Sequence[str],
    root: str,
    hostname: str,
    binds: Sequence[str],
    size: str,
    env: Mapping[str, str],
    cwd: str,
    stdio: Sequence[Optional[int]],
    fds: Tuple[int, int, int, int, int],
    mask: AbstractSet[int],
) -> NoReturn:
    """The caller's child: new namespaces, then init as its child."""
    status_r, status_w, ctrl_r, ctrl_w, sfd = fds
    code = 126
    try:
        for fd in (status_r, ctrl_w, sfd):
            if fd >= 0:
                os.close(fd)
        step = "unshare"
        try:
            unshare(CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWPID)
            step = "make the mounts private"
            mount(None, "/", None, MS_REC | MS_PRIVATE)
        except OSError as exc:
            _report(status_w, step, exc)
        else:
            init = os.fork()
            if init == 0:
                code = 125
                try:
                    code = _init(
                        argv, root, hostname, binds, size, env, cwd, stdio, status_w, ctrl_r, mask
                    )
                finally:
                    os._exit(code)
            os.close(ctrl_r)
            _, status = os.waitpid(init, 0)
            code = _exit_code(status)
    finally:
        os._exit(code)


def _remove_stale_roots(tmp: str) -> None:
    """Remove the empty mount-point folders of runs killed during setup."""
    now = time.time()
    try:
        names = os.listdir(tmp)
    except OSError:
        return
    for name in names:
        pid, dash, _ = name[len(_PREFIX) :].partition("-")
        if not name.startswith(_PREFIX) or not dash or not pid.isdigit():
            continue
        if os.path.exists(f"/proc/{pid}"):
            continue
        path = os.path.join(tmp, name)
        try:
            st = os.lstat(path)
            if (
                stat.S_ISDIR(st.st_mode)
                and st.st_uid == os.geteuid()
                and now - st.st_mtime > _STALE_AFTER
            ):
                os.rmdir(path)  # only succeeds if empty
        except OSError:
            pass


def _remove_root(root: str) -> None:
    try:
        os.rmdir(root)
    except OSError:  # already removed; nothing else can be done
        pass


def _forward(sfd: int, ctrl_w: int, requests: int) -> int:
    """Pass the pending signals on to init; return how many SIGINT/SIGTERM
    were sent with kill(2) so far (the second one escalates to SIGKILL)."""
    try:
        data = os.read(sfd, 4096)
    except BlockingIOError:
        return requests
    message = bytearray()
    for info in str_to_events(data):
        sig = int(info.signal)
        if info.code == SI_KERNEL and sig in _TERMINAL_SIGNALS:
            message.append(sig | _FROM_TERMINAL)
            continue
        if sig in _ESCALATE:
            requests += 1
            if requests > 1:
                sig = int(_S.SIGKILL)
        message.append(sig)
    try:
        os.write(ctrl_w, bytes(message))
    except OSError:  # init is gone (EPIPE) or not reading (EAGAIN)
        pass
    return requests


def _supervise(status_r: int, sfd: int, ctrl_w: int, root: str) -> bytes:
    """Forward signals until the helper and init are gone (end of file on
    the status pipe); return the error report, if any."""
    poller = select.poll()
    poller.register(status_r, select.POLLIN)
    if sfd >= 0:
        poller.register(sfd, select.POLLIN)
    report = b""
    ready = False
    requests = 0
    while True:
        for fd, _ in poller.poll():
            if fd == sfd:
                requests = _forward(sfd, ctrl_w, requests)
                continue
            data = os.read(status_r, 65536)
            if not data:
                return report
            report += data
            if not ready and report[:1] == _READY:
                ready = True
                report = report[1:]
                _remove_root(root)  # init no longer uses it


def run(
    argv: Sequence[str],
    *,
    hostname: str = "butter",
    binds: Sequence[str] = (),
    size: str = "64m",
    env: Optional[Mapping[str, str]] = None,
    cwd: str = "/",
    stdin: Optional[int] = None,
    stdout: Optional[int] = None,
    stderr: Optional[int] = None,
    forward_signals: Iterable[int] = (),
) -> int:
    """Run *argv* in a fresh container and return its exit status.

    *binds*: more host paths to show read-only at the same place.  *size*:
    the root tmpfs's size limit.  *env*: the environment (default: only
    ``PATH``, ``HOME=/`` and ``TERM``).  *stdin*/*stdout*/*stderr*: fds for
    the command (default: inherited).  A command killed by signal N gives
    128 + N.  Setup failures raise ``OSError`` (``PermissionError``
    without root) whose message names the step.

    *forward_signals* (a subset of :data:`FORWARDED_SIGNALS`; main thread
    only): signals this process blocks while the container runs and passes
    on to the command (see the module's docs); the mask is restored on
    return.  Without it a signal such as SIGTERM acts on the caller as
    usual, and an exception (``KeyboardInterrupt``) ends the container:
    whatever way ``run`` exits, every process of the container is gone and
    reaped, and the temporary folder removed.
    """
    if isinstance(argv, (str, bytes)):
        raise TypeError("argv must be a sequence of arguments, not a string")
    argv = [os.fsdecode(a) for a in argv]
    if not argv:
        raise ValueError("argv must not be empty")
    if any("\0" in a for a in argv):
        raise ValueError("embedded null byte in argv")
    if not isinstance(hostname, str):
        raise TypeError("hostname must be a str")
    if len(os.fsencode(hostname)) > 64 or "\0" in hostname:
        raise ValueError("hostname must be at most 64 bytes, without NUL")
    if not isinstance(size, str):
        raise TypeError("size must be a str such as '64m'")
    binds = [os.fsdecode(b) for b in binds]
    forward = frozenset(_signal_number(s) for s in forward_signals)
    if forward - FORWARDED_SIGNALS:
        names = ", ".join(_signal_name(s) for s in sorted(forward - FORWARDED_SIGNALS))
        raise ValueError(f"cannot forward {names} (see FORWARDED_SIGNALS)")
    if forward and threading.current_thread() is not threading.main_thread():
        raise ValueError("signals can only be forwarded from the main thread")
    if env is None:
        env = {
            "PATH": DEFAULT_PATH,
            "HOME": "/",
            "TERM": os.environ.get("TERM", "dumb"),
        }
    stdio = (stdin, stdout, stderr)
    tmp = tempfile.gettempdir()
    _remove_stale_roots(tmp)
    # Blocked from before the fork: the helper and init never act on them,
    # and nothing reaches a Python handler in a child before it is ready.
    mask = {int(s) for s in pthread_sigmask(SIG_BLOCK, FORWARDED_SIGNALS)}
    status_r = status_w = ctrl_r = ctrl_w = sfd = helper = -1
    root = ""
    try:
        root = tempfile.mkdtemp(prefix=f"{_PREFIX}{os.getpid()}-", dir=tmp)
        status_r, status_w = os.pipe2(os.O_CLOEXEC)  # container -> caller
        ctrl_r, ctrl_w = os.pipe2(os.O_CLOEXEC)  # caller -> init: signals
        if forward:
            sfd = signalfd(forward, flags=SFD_NONBLOCK)
        helper = os.fork()
        if helper == 0:
            fds = (status_r, status_w, ctrl_r, ctrl_w, sfd)
            _helper(argv, root, hostname, binds, size, env, cwd, stdio, fds, mask)
        for fd in (status_w, ctrl_r):
            os.close(fd)
        status_w = ctrl_r = -1
        os.set_blocking(ctrl_w, False)
        pthread_sigmask(SIG_SETMASK, mask | forward)
        report = _supervise(status_r, sfd, ctrl_w, root)
        _, status = os.waitpid(helper, 0)
        helper = -1
    finally:
        # No interruption while cleaning up; closing the control pipe ends
        # init (and so the namespace) if it still runs.
        pthread_sigmask(SIG_BLOCK, FORWARDED_SIGNALS)
        for fd in (ctrl_w, ctrl_r, status_w, status_r):
            if fd >= 0:
                os.close(fd)
        if helper > 0:
            os.waitpid(helper, 0)
        if sfd >= 0:
            try:  # meant for the container, which is gone
                os.read(sfd, 65536)
            except BlockingIOError:
                pass
            os.close(sfd)
        if root:
            _remove_root(root)
        pthread_sigmask(SIG_SETMASK, mask)
    if report:
        err_s, step, filename, text = report[1:].decode("utf-8", "surrogateescape").split("\0", 3)
        err = int(err_s)
        if err:
            message = f"{os.strerror(err)} (container: {step})"
            if step == "unshare" and err == errno.EPERM:
                message += ": " + _NEEDS_ROOT
            raise OSError(err, message, filename or None)
        raise RuntimeError(f"container: {step}: {text}")
    return _exit_code(status)


_NEEDS_ROOT = "creating namespaces needs root (CAP_SYS_ADMIN)"


def _signal_number(sig: object) -> int:
    if not isinstance(sig, int) or isinstance(sig, bool):
        raise TypeError(f"signal numbers must be int, not {type(sig).__name__}")
    return int(sig)


def _signal_name(sig: int) -> str:
    try:
        return _S(sig).name
    except ValueError:
        return str(sig)


def _failed_step(exc: OSError) -> str:
    text = exc.strerror or ""
    start = text.find("(container: ")
    return text[start + len("(container: ") :].partition(")")[0] if start >= 0 else ""


@entry_point
def main(args: Optional[List[str]] = None) -> int:
    """``python -m butter.container [--hostname NAME] [--bind PATH]... -- CMD...``"""
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m butter.container",
        description="Run CMD in new mount/UTS/IPC/PID namespaces on a tmpfs root "
        "with read-only /usr, a fresh /proc and its own hostname.  Signals sent "
        "to this program are passed on to CMD; it exits with CMD's status.",
    )
    parser.add_argument("--hostname", default="butter", help="hostname inside (default: butter)")
    parser.add_argument(
        "--bind",
        action="append",
        default=[],
        metavar="PATH",
        help="also show this host path, read-only (repeatable)",
    )
    parser.add_argument("--size", default="64m", help="size limit of the root tmpfs")
    parser.add_argument("cmd", nargs="+", metavar="CMD", help="command and arguments (after --)")
    ns = parser.parse_args(args)
    try:
        return run(
            ns.cmd,
            hostname=ns.hostname,
            binds=ns.bind,
            size=ns.size,
            forward_signals=FORWARDED_SIGNALS,
        )
    except OSError as exc:
        step = _failed_step(exc)
        if step == "unshare" and exc.errno == errno.EPERM:
            print(
                f"{parser.prog}: cannot create the container's namespaces: "
                f"{os.strerror(exc.errno)}.\n"
                "It needs root (CAP_SYS_ADMIN); butter.container does not use user "
                "namespaces.  Run it as root, e.g.:\n"
                f"    sudo {sys.executable} -m butter.container ...\n"
                "(inside a container: give it CAP_SYS_ADMIN and a seccomp profile "
                "that allows unshare)",
                file=sys.stderr,
            )
            return 1
        print(f"{parser.prog}: {exc}", file=sys.stderr)
        if step.startswith("exec "):
            return 126 if isinstance(exc, PermissionError) else 127
        return 125
    except (ValueError, RuntimeError) as exc:
        print(f"{parser.prog}: {exc}", file=sys.stderr)
        return 125


if __name__ == "__main__":
    run_program(main)
