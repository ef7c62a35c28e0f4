"""seccomp(2) system call filters, through libseccomp.

Call-compatible with libseccomp's own Python bindings (``import seccomp``):
:class:`SyscallFilter`, :class:`Arg`, the actions ``KILL_PROCESS``,
``KILL``, ``TRAP``, ``ERRNO(n)``, ``TRACE(n)``, ``LOG``, ``ALLOW``,
``NOTIFY``, the operators ``NE LT LE EQ GE GT MASKED_EQ``, :class:`Arch`,
:class:`Attr`, :func:`resolve_syscall`, :class:`Notification` and
:class:`NotificationResponse`.  The same rules give byte-identical PFC and
BPF (the work is libseccomp's in both).

Kernel semantics: a loaded filter is a BPF program run on every system call
of the calling thread and of the children it creates afterwards; it can
never be removed, only made stricter by loading more filters.  Loading needs
``no_new_privs`` (libseccomp sets it, ``Attr.CTL_NNP``) or
``CAP_SYS_ADMIN``.  Test filters in a child process.

What butter adds:

* errors: a libseccomp failure raises :class:`SeccompError`, which is both an
  ``OSError`` (``errno`` from libseccomp's negative return code) and the
  ``RuntimeError`` the bindings raise; ``EINVAL`` failures (unknown syscall
  name, bad architecture, action, operator or attribute) raise
  :class:`SeccompValueError`, also a ``ValueError``;
* arguments are checked in Python before they reach libseccomp, and raise
  what the bindings raise: ``TypeError`` for a wrong type, ``OverflowError``
  for an int outside its C type, negative ones included (as Cython
  converts); butter's own calls (``notify_id_valid``, ...) follow butter's
  rule (``ValueError`` for a negative unsigned value).  A filter is locked
  while libseccomp works on it;
* architectures and actions are accepted both as the bindings give them
  (signed 32-bit) and as the C headers define them (``SCMP_ARCH_*``,
  ``SCMP_ACT_*``, unsigned) or as :class:`Arch` objects;
* ``export_pfc()``/``export_bpf()`` without a file return the bytes;
* ``reset()`` without an action really reuses the filter's default action,
  and ``merge()`` leaves the merged-in filter empty and usable (the
  bindings' versions reset to ``KILL`` and leave a dead filter);
* :class:`NotifyFd` (and ``butter.asyncio.seccomp.Notification_async``) and
  the thin wrappers :func:`notify_receive`, :func:`notify_respond`,
  :func:`notify_id_valid` work on any notify fd, e.g. one passed to a
  supervisor process over a unix socket.
"""

from __future__ import annotations

from .._public import publish
from . import _constants
from ._constants import *  # noqa: F403 - actions, operators and libseccomp's C names
from ._filter import (
    ERRNO,
    TRACE,
    Arch,
    Arg,
    Attr,
    SeccompError,
    SeccompValueError,
    SyscallFilter,
    get_api,
    resolve_syscall,
    set_api,
    system_arch,
)
from ._notify import (
    SECCOMP_USER_NOTIF_FLAG_CONTINUE,
    Notification,
    NotificationResponse,
    NotifyFd,
    notify_id_valid,
    notify_receive,
    notify_respond,
)

__all__ = [
    "ERRNO", "SECCOMP_USER_NOTIF_FLAG_CONTINUE", "TRACE", "Arch", "Arg", "Attr",
    "Notification", "NotificationResponse", "NotifyFd", "SeccompError", "SeccompValueError",
    "SyscallFilter", "get_api", "notify_id_valid", "notify_receive", "notify_respond",
    "resolve_syscall", "set_api", "system_arch",
]  # fmt: skip
__all__ += _constants.__all__

publish(__name__, globals())
