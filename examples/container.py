#!/usr/bin/env python3
"""A container in one page, using nothing but butter's system calls.

    sudo python3 examples/container.py [CMD [ARG]...]

runs CMD (default: ``hostname`` and ``cat /proc/self/mountinfo``) with its
own mount, UTS and PID namespaces, on a tmpfs root that holds a read-only
/usr (plus the /bin, /lib, ... symlinks of a merged-/usr system such as
Debian 12), /dev/null and a fresh /proc.  The host's mounts and hostname
are never touched: everything happens in forked children, after the mounts
were made private.  ``python -m butter.container`` is the reusable version.
"""

import os
import sys
import tempfile

from butter.clone import CLONE_NEWNS, CLONE_NEWPID, CLONE_NEWUTS, unshare
from butter.system import (
    MNT_DETACH,
    MS_BIND,
    MS_NODEV,
    MS_NOSUID,
    MS_PRIVATE,
    MS_RDONLY,
    MS_REC,
    MS_REMOUNT,
    getpid,
    mount,
    pivot_root,
    sethostname,
    umount,
)


def build_root(root):
    """In the new mount namespace: populate a tmpfs root and switch to it."""
    mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, "mode=755,size=16m")
    for name in ("usr", "bin", "sbin", "lib", "lib64"):
        host, inside = "/" + name, os.path.join(root, name)
        if os.path.islink(host):  # Debian 12: /bin -> usr/bin
            os.symlink(os.readlink(host), inside)
        elif os.path.isdir(host):  # read-only bind mount
            os.mkdir(inside)
            mount(host, inside, None, MS_BIND | MS_REC)
            mount(None, inside, None, MS_REMOUNT | MS_BIND | MS_RDONLY)
    os.mkdir(os.path.join(root, "dev"))
    open(os.path.join(root, "dev/null"), "w").close()
    mount("/dev/null", os.path.join(root, "dev/null"), None, MS_BIND)
    os.mkdir(os.path.join(root, "proc"))
    os.mkdir(os.path.join(root, "old"))
    pivot_root(root, os.path.join(root, "old"))  # root becomes "/"
    os.chdir("/")
    umount("/old", MNT_DETACH)  # and the host's tree disappears
    os.rmdir("/old")
    mount("proc", "/proc", "proc")  # a /proc for our PID namespace


def main(argv):
    argv = argv or ["sh", "-c", "hostname; cat /proc/self/mountinfo"]
    root = tempfile.mkdtemp(prefix="container-example-")
    helper = os.fork()
    if helper == 0:
        code = 1
        try:
            unshare(CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWPID)
            mount(None, "/", None, MS_REC | MS_PRIVATE)  # stop propagation first
            init = os.fork()  # PID 1 of the new PID namespace
            if init == 0:
                try:
                    assert getpid() == 1
                    build_root(root)
                    sethostname("example")
                    os.execvpe(argv[0], argv, {"PATH": "/usr/bin:/bin"})
                finally:
                    os._exit(127)
            _, status = os.waitpid(init, 0)
            code = os.waitstatus_to_exitcode(status)
        finally:
            os._exit(code & 0xFF)
    _, status = os.waitpid(helper, 0)
    os.rmdir(root)
    return os.waitstatus_to_exitcode(status)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
