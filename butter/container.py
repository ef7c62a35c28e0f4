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

Process layout: the caller forks a helper that unshares the namespaces and
forks the new namespace's PID 1; PID 1 builds the root, then forks the
command (PID 2) and reaps everything until the command exits.  Failures
during setup come back to the caller as ``OSError`` naming the step.

Needs root (``CAP_SYS_ADMIN``).  From the command line::

    python -m butter.container [--hostname NAME] [--bind PATH]... -- CMD [ARG]...
"""

from __future__ import annotations

import os
import sys
import tempfile

from .clone import CLONE_NEWIPC, CLONE_NEWNS, CLONE_NEWPID, CLONE_NEWUTS, unshare
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
    from typing import Callable, List, Mapping, Optional, Sequence

__all__ = ["main", "run"]

#: Top-level host directories made visible (read-only) when they exist.
SYSTEM_DIRS = ("usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32")
DEVICES = ("null", "zero", "full", "random", "urandom")
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


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
        os.write(fd, msg.encode("utf-8", "surrogateescape"))
    except OSError:
        pass


def _exit_code(status: int) -> int:
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


def _init(  # PID 1 of the new PID namespace
    argv: Sequence[str],
    root: str,
    hostname: str,
    binds: Sequence[str],
    size: str,
    env: Mapping[str, str],
    cwd: str,
    stdio: Sequence[Optional[int]],
    errfd: int,
) -> int:
    try:
        _build_root(root, binds, size)
        _step("sethostname", sethostname, hostname)
    except _SetupError as exc:
        _report(errfd, exc.step, exc.exc)
        return 125
    except BaseException as exc:
        _report(errfd, "building the root", exc)
        return 125
    cmd = os.fork()
    if cmd == 0:
        try:
            for target, fd in enumerate(stdio):
                if fd is not None:
                    os.dup2(fd, target)
            os.chdir(cwd)
            os.execvpe(argv[0], list(argv), dict(env))
        except BaseException as exc:
            _report(errfd, f"exec {argv[0]}", exc)
        finally:
            os._exit(127)
    os.close(errfd)
    while True:
        try:
            pid, status = os.waitpid(-1, 0)
        except ChildProcessError:
            return 0
        if pid == cmd:
            return _exit_code(status)


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
) -> int:
    """Run *argv* in a fresh container and return its exit status.

    *binds*: more host paths to show read-only at the same place.  *size*:
    the root tmpfs's size limit.  *env*: the environment (default: only
    ``PATH``, ``HOME=/`` and ``TERM``).  *stdin*/*stdout*/*stderr*: fds for
    the command (default: inherited).  A command killed by signal N gives
    128 + N.  Setup failures raise ``OSError`` (``PermissionError``
    without root) whose message names the step.
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
    if env is None:
        env = {
            "PATH": DEFAULT_PATH,
            "HOME": "/",
            "TERM": os.environ.get("TERM", "dumb"),
        }
    stdio = (stdin, stdout, stderr)
    root = tempfile.mkdtemp(prefix="butter-container-")
    r, w = os.pipe2(os.O_CLOEXEC)
    try:
        helper = os.fork()
        if helper == 0:  # new namespaces; its next child is PID 1 there
            code = 126
            try:
                os.close(r)
                try:
                    unshare(CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWPID)
                    mount(None, "/", None, MS_REC | MS_PRIVATE)
                except OSError as exc:
                    _report(w, "unshare", exc)
                else:
                    init = os.fork()
                    if init == 0:
                        code = 125
                        try:
                            code = _init(argv, root, hostname, binds, size, env, cwd, stdio, w)
                        finally:
                            os._exit(code)
                    os.close(w)
                    _, status = os.waitpid(init, 0)
                    code = _exit_code(status)
            finally:
                os._exit(code)
        os.close(w)
        w = -1
        chunks = []
        while True:
            data = os.read(r, 4096)
            if not data:
                break
            chunks.append(data)
        _, status = os.waitpid(helper, 0)
    finally:
        os.close(r)
        if w >= 0:
            os.close(w)
        try:
            os.rmdir(root)
        except OSError:
            pass
    if chunks:
        err_s, step, filename, text = (
            b"".join(chunks).decode("utf-8", "surrogateescape").split("\0", 3)
        )
        err = int(err_s)
        if err:
            raise OSError(err, f"{os.strerror(err)} (container: {step})", filename or None)
        raise RuntimeError(f"container: {step}: {text}")
    return _exit_code(status)


def main(args: Optional[List[str]] = None) -> int:
    """``python -m butter.container [--hostname NAME] [--bind PATH]... -- CMD...``"""
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m butter.container",
        description="Run CMD in new mount/UTS/IPC/PID namespaces on a tmpfs root "
        "with read-only /usr, a fresh /proc and its own hostname.",
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
        return run(ns.cmd, hostname=ns.hostname, binds=ns.bind, size=ns.size)
    except OSError as exc:
        print(f"{parser.prog}: {exc}", file=sys.stderr)
        return 127 if "(container: exec " in str(exc) else 125


if __name__ == "__main__":
    sys.exit(main())
