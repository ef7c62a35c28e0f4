"""unshare(2) and setns(2): move this process into new or existing namespaces.

:func:`unshare` gives the calling process new namespaces (``CLONE_NEW*``)
or private copies of shared state (``CLONE_FILES``, ``CLONE_FS``,
``CLONE_SYSVSEM``).  :func:`setns` joins the namespace an fd refers to
(``/proc/PID/ns/*`` or a pidfd).  Both match ``os.unshare``/``os.setns``
(Python 3.12+) and work on every Python butter supports.

What the kernel does that surprises people:

* ``CLONE_NEWPID`` does not move the caller: its *next child* becomes PID 1
  of the new namespace (and when that child exits, no further fork works).
* ``CLONE_NEWUSER`` fails with ``EINVAL`` in a multi-threaded process.
* ``CLONE_NEWNS`` copies the mount table; mounts are still *propagated*
  to and from the host while they are shared: make them private first,
  ``mount(None, "/", None, MS_REC | MS_PRIVATE)``, before changing any.

These calls change the calling process for good: run them in a child
(``os.fork()``) unless that is what you want.
"""

from __future__ import annotations

from ._args import FdArg, fileno, to_flags
from ._errors import retry_or_raise
from ._lowlevel import lib

__all__ = [
    "CLONE_FILES",
    "CLONE_FS",
    "CLONE_NEWCGROUP",
    "CLONE_NEWIPC",
    "CLONE_NEWNET",
    "CLONE_NEWNS",
    "CLONE_NEWPID",
    "CLONE_NEWTIME",
    "CLONE_NEWUSER",
    "CLONE_NEWUTS",
    "CLONE_SIGHAND",
    "CLONE_SYSVSEM",
    "CLONE_THREAD",
    "CLONE_VM",
    "setns",
    "unshare",
]

CLONE_NEWNS: int = lib.CLONE_NEWNS
CLONE_NEWUTS: int = lib.CLONE_NEWUTS
CLONE_NEWIPC: int = lib.CLONE_NEWIPC
CLONE_NEWUSER: int = lib.CLONE_NEWUSER
CLONE_NEWPID: int = lib.CLONE_NEWPID
CLONE_NEWNET: int = lib.CLONE_NEWNET
CLONE_NEWCGROUP: int = lib.CLONE_NEWCGROUP
CLONE_NEWTIME: int = lib.CLONE_NEWTIME
CLONE_FILES: int = lib.CLONE_FILES
CLONE_FS: int = lib.CLONE_FS
CLONE_SYSVSEM: int = lib.CLONE_SYSVSEM
CLONE_THREAD: int = lib.CLONE_THREAD
CLONE_SIGHAND: int = lib.CLONE_SIGHAND
CLONE_VM: int = lib.CLONE_VM


def unshare(flags: int) -> None:
    """Give the calling process the new namespaces / private state in
    *flags* (a bitwise OR of ``CLONE_*``).  Needs ``CAP_SYS_ADMIN`` for
    most namespaces (or ``CLONE_NEWUSER`` together with them).  *flags*
    is a C ``int`` flag word: negative raises ``ValueError``, beyond
    ``INT_MAX`` ``OverflowError``."""
    flags = to_flags("flags", flags, ctype="int")
    while lib.unshare(flags) < 0:
        retry_or_raise()


def setns(fd: FdArg, nstype: int = 0) -> None:
    """Join the namespace(s) *fd* refers to.

    *fd* is an open ``/proc/PID/ns/<type>`` file (or an object with
    ``fileno()``), or a pidfd, in which case *nstype* selects which of the
    process's namespaces to join (a bitwise OR of ``CLONE_NEW*``).  For a
    namespace file, *nstype* 0 accepts any type; a ``CLONE_NEW*`` value
    makes the kernel check the type (``EINVAL`` on a mismatch).
    """
    fd = fileno(fd)
    nstype = to_flags("nstype", nstype, ctype="int")
    while lib.setns(fd, nstype) < 0:
        retry_or_raise()
