"""seccomp filters: :class:`SyscallFilter`, :class:`Arg`, :class:`Arch`, :class:`Attr`.

Exported, with the constants and the notify fd, by :mod:`butter.seccomp`.
"""

from __future__ import annotations

import errno as _errno
import os
from _thread import allocate_lock

from .._args import RANGES, check_int, cython_int, fileno, to_int
from ._constants import _ACTIONS, _ARCHES, _ERRNO_BASE, _NR_SCMP_ERROR, _TRACE_BASE, _s32
from ._lib import ffi, lib
from ._notify import Notification, NotificationResponse, notify_receive, notify_respond

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, NoReturn, Optional, Union

    ArchArg = Union[int, "Arch"]
    SyscallArg = Union[int, str]


# Argument rules: as libseccomp's Cython bindings convert them (for
# call-compatibility), so an int outside the C type raises OverflowError,
# negative ones included where the type is unsigned (``cython_int``); for
# signed C types that is butter's general rule too (``to_int``).
_U32 = RANGES["uint32_t"][1]
_U64 = RANGES["uint64_t"][1]
_EINVAL = _errno.EINVAL


def _u32(name: str, value: object) -> int:
    """An int given signed (bindings) or unsigned (headers), as a uint32."""
    value = check_int(name, value)
    if value < 0:  # the bindings' spelling of the same 32 bits
        return cython_int(name, value, "int32_t") & _U32
    return cython_int(name, value, "uint32_t")


def ERRNO(errno: int) -> int:
    """Action: the call fails with *errno* (``errno & 0xffff``), without running."""
    return _ERRNO_BASE | (to_int("errno", errno, "int") & 0xFFFF)


def TRACE(value: int) -> int:
    """Action: notify a ptrace tracer (``PTRACE_EVENT_SECCOMP``, message *value*);
    without a tracer the call fails with ``ENOSYS``."""
    return _TRACE_BASE | (to_int("value", value, "int") & 0xFFFF)


# -- errors ----------------------------------------------------------------------
class SeccompError(OSError, RuntimeError):
    """A libseccomp call failed; ``errno`` is the (positive) error number."""


class SeccompValueError(SeccompError, ValueError):
    """libseccomp refused an argument (``EINVAL``)."""


def _fail(rc: int, what: str) -> NoReturn:
    err = -rc if rc < 0 else _EINVAL
    cls = SeccompValueError if err == _EINVAL else SeccompError
    raise cls(err, f"{what}: {os.strerror(err)}")


def _einval(message: str) -> NoReturn:
    raise SeccompValueError(_EINVAL, message)


# -- architectures and attributes ----------------------------------------------
_KNOWN_ARCHES = set(_ARCHES.values()) - {0}


class Arch:
    """An architecture token (``AUDIT_ARCH_*``), as in the bindings.

    The class attributes (``Arch.X86_64``, ``Arch.AARCH64``, ...; ``NATIVE``
    is 0) are the bindings' (signed 32-bit) values.  ``Arch(arch=NATIVE)``
    takes a token or a name (``"x86_64"``) and validates it; ``int()`` of it
    is the token (``NATIVE`` resolves to this machine's architecture).
    """

    __slots__ = ("_token",)

    def __init__(self, arch: Union[int, str] = 0) -> None:
        if isinstance(arch, str):
            if "\0" in arch:
                raise ValueError("embedded null character in architecture name")
            token = lib.seccomp_arch_resolve_name(arch.encode("ascii", "replace"))
        elif isinstance(arch, int) and not isinstance(arch, bool):
            try:
                value = _u32("arch", arch)
            except OverflowError:  # the bindings: not an architecture at all
                value = -1
            if value == 0:
                token = lib.seccomp_arch_native()
            else:
                token = value if value in _KNOWN_ARCHES else 0
        else:
            raise TypeError("Architecture must be an int or str type")
        if token == 0:
            raise ValueError("Invalid architecture")
        self._token: int = token

    def __int__(self) -> int:
        return _s32(self._token)

    __index__ = __int__

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Arch):
            return self._token == other._token
        if isinstance(other, int):
            return self._token == other & _U32
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._token)

    def __repr__(self) -> str:
        for name, token in _ARCHES.items():
            if token == self._token:
                return f"<Arch {name}>"
        return f"<Arch {self._token:#x}>"  # pragma: no cover


for _name, _token in _ARCHES.items():
    setattr(Arch, _name, _s32(_token))


class Attr:
    """Filter attributes for :meth:`SyscallFilter.get_attr`/``set_attr``.

    ``ACT_DEFAULT`` (read-only), ``ACT_BADARCH`` (action for a call from an
    architecture not in the filter), ``CTL_NNP`` (set ``no_new_privs`` on
    load, default 1), ``CTL_TSYNC`` (load for all threads), ``API_TSKIP``
    (allow syscall -1 rules), ``CTL_LOG`` (log denied calls), ``CTL_SSB``
    (disable the speculative-store-bypass mitigation), ``CTL_OPTIMIZE``
    (1: priority/complexity order, 2: binary tree), ``API_SYSRAWRC``
    (report the kernel's errno rather than ``ECANCELED``).
    """

    ACT_DEFAULT: int = lib.SCMP_FLTATR_ACT_DEFAULT
    ACT_BADARCH: int = lib.SCMP_FLTATR_ACT_BADARCH
    CTL_NNP: int = lib.SCMP_FLTATR_CTL_NNP
    CTL_TSYNC: int = lib.SCMP_FLTATR_CTL_TSYNC
    API_TSKIP: int = lib.SCMP_FLTATR_API_TSKIP
    CTL_LOG: int = lib.SCMP_FLTATR_CTL_LOG
    CTL_SSB: int = lib.SCMP_FLTATR_CTL_SSB
    CTL_OPTIMIZE: int = lib.SCMP_FLTATR_CTL_OPTIMIZE
    API_SYSRAWRC: int = lib.SCMP_FLTATR_API_SYSRAWRC


def _arch(arch: object) -> int:
    if isinstance(arch, Arch):
        return arch._token
    return _u32("arch", arch)


def system_arch() -> int:
    """This machine's architecture token (unsigned, as the bindings)."""
    return lib.seccomp_arch_native()  # type: ignore[no-any-return]


def _name_bytes(name: str) -> bytes:
    if "\0" in name:
        raise ValueError("embedded null character in syscall name")
    return name.encode("utf-8", "surrogateescape")


_NR_CACHE: dict[str, int] = {}  # native name -> number (fixed for the process)


def _syscall(syscall: object) -> int:
    """A syscall number for the native architecture (names resolved)."""
    if isinstance(syscall, str):
        nr: int = lib.seccomp_syscall_resolve_name(_name_bytes(syscall))
        if nr == _NR_SCMP_ERROR:
            _einval(f"unknown syscall {syscall!r}")
        if type(syscall) is str:
            _NR_CACHE[syscall] = nr
        return nr
    if isinstance(syscall, int) and not isinstance(syscall, bool):
        return to_int("syscall", syscall, "int")
    raise TypeError("Syscall must either be an int or str type")


def resolve_syscall(arch: ArchArg, syscall: SyscallArg) -> Union[int, bytes]:
    """Name -> number (``-1`` if unknown) or number -> name (``bytes``) on *arch*.

    As in the bindings: names are resolved with libseccomp's rewriting
    (``socket`` on x86 gives the ``socketcall`` number), an unknown number
    raises ``ValueError``.  Numbers may be libseccomp's negative
    pseudo-syscall numbers.
    """
    token = _arch(arch)
    if isinstance(syscall, str):
        nr: int = lib.seccomp_syscall_resolve_name_rewrite(token, _name_bytes(syscall))
        return nr
    if isinstance(syscall, int) and not isinstance(syscall, bool):
        name = lib.seccomp_syscall_resolve_num_arch(token, to_int("syscall", syscall, "int"))
        if name == ffi.NULL:
            raise ValueError(f"Unknown syscall {syscall} on arch {_s32(token)}")
        try:
            return ffi.string(name)  # type: ignore[no-any-return]
        finally:
            lib.free(name)
    raise TypeError("Syscall must either be an int or str type")


def get_api() -> int:
    """libseccomp's API level for this kernel (1..6: what it can use)."""
    level: int = lib.seccomp_api_get()
    return level


def set_api(level: int) -> None:
    """Force libseccomp's API level (process-wide; for testing only)."""
    level = cython_int("level", level, "unsigned int")
    rc = lib.seccomp_api_set(level)
    if rc:
        _fail(rc, "seccomp_api_set")


# -- rules -------------------------------------------------------------------------
class Arg:
    """A comparison on argument *arg* (0..5) of a call, for ``add_rule``.

    ``op`` is ``NE LT LE EQ GE GT`` (argument ``op`` *datum_a*) or
    ``MASKED_EQ`` (``(argument & datum_a) == datum_b``).  Data are unsigned
    64-bit.  As in the bindings, *arg* and *op* must fit an unsigned int
    and the data a uint64, else ``OverflowError`` (negative values too);
    libseccomp checks the argument number and operator when the rule is
    added.
    """

    __slots__ = ("_c", "arg", "datum_a", "datum_b", "op")
    arg: int
    op: int
    datum_a: int
    datum_b: int

    def __init__(self, arg: int, op: int, datum_a: int, datum_b: int = 0) -> None:
        if (
            type(arg) is int
            and type(op) is int
            and type(datum_a) is int
            and type(datum_b) is int
            and 0 <= arg <= _U32
            and 0 <= op <= _U32
            and 0 <= datum_a <= _U64
            and 0 <= datum_b <= _U64
        ):
            self.arg, self.op, self.datum_a, self.datum_b = arg, op, datum_a, datum_b
            self._c = (arg, op, datum_a, datum_b)
            return
        self.arg = cython_int("arg", arg, "unsigned int")
        self.op = cython_int("op", op, "unsigned int")
        self.datum_a = cython_int("datum_a", datum_a, "uint64_t")
        self.datum_b = cython_int("datum_b", datum_b, "uint64_t")
        self._c = (self.arg, self.op, self.datum_a, self.datum_b)

    def __repr__(self) -> str:
        return f"Arg({self.arg}, {self.op}, {self.datum_a:#x}, {self.datum_b:#x})"


def _action_name(action: int) -> str:
    """An action (``uint32_t``) as the bindings spell it: ``ALLOW``,
    ``ERRNO(1)``, ``TRACE(7)``..., else hex."""
    for name, value in _ACTIONS.items():
        if action == value and name != "SCMP_ACT_KILL_THREAD":  # (== KILL)
            return name[len("SCMP_ACT_") :]
    for name, base in (("ERRNO", _ERRNO_BASE), ("TRACE", _TRACE_BASE)):
        if action & ~0xFFFF == base:
            return f"{name}({action & 0xFFFF})"
    return f"{action:#x}"


def _arg_array(args: tuple[Arg, ...]) -> Any:
    if not args:
        return ffi.NULL
    if len(args) > 6:
        _einval("Maximum number of arguments exceeded (6)")
    for arg in args:
        if not isinstance(arg, Arg):
            raise TypeError(f"rule arguments must be Arg objects, not {type(arg).__name__!r}")
    return ffi.new("struct scmp_arg_cmp[]", [arg._c for arg in args])


_rule_add = lib.seccomp_rule_add_array
_rule_add_exact = lib.seccomp_rule_add_exact_array


class SyscallFilter:
    """A seccomp filter being built: rules, architectures, attributes.

    ``SyscallFilter(defaction)``: calls no rule matches get *defaction*.
    Nothing reaches the kernel until :meth:`load`.  libseccomp's filter state
    is freed when the object is garbage-collected; filters already loaded
    stay in force.  An object may be shared between threads.
    """

    _ctx: Any = ffi.NULL  # for __del__ when __init__ failed

    def __init__(self, defaction: int) -> None:
        action = _u32("defaction", defaction)
        ctx = lib.seccomp_init(action)
        if ctx == ffi.NULL:
            _einval(f"seccomp_init: invalid default action {defaction:#x}")
        self._lock = allocate_lock()
        self._defaction = action
        self._ctx = ctx

    def __del__(self) -> None:
        ctx = self._ctx
        if ctx != ffi.NULL:
            self._ctx = ffi.NULL
            lib.seccomp_release(ctx)

    def __repr__(self) -> str:
        return f"<SyscallFilter defaction={_action_name(self._defaction)}>"

    def _call(self, what: str, func: Callable[..., int], *args: Any) -> int:
        with self._lock:  # a NULL ctx (failed re-init) gets libseccomp's EINVAL
            rc = func(self._ctx, *args)
        if rc < 0:
            _fail(rc, what)
        return rc

    # -- state ---------------------------------------------------------------
    def reset(self, defaction: Optional[int] = None) -> None:
        """Drop every rule, architecture and attribute change; the default
        action becomes *defaction* (``None`` or -1: keep the current one)."""
        if defaction is None or defaction == -1:
            action = self._defaction
        else:
            action = _u32("defaction", defaction)
        with self._lock:
            if self._ctx == ffi.NULL:  # never reset(NULL): that resets libseccomp's globals
                ctx = lib.seccomp_init(action)
                if ctx == ffi.NULL:
                    _einval(f"seccomp_init: invalid default action {action:#x}")
                self._ctx = ctx
                rc = 0
            else:
                rc = lib.seccomp_reset(self._ctx, action)
        if rc:
            _fail(rc, "seccomp_reset")
        self._defaction = action

    def merge(self, filter: SyscallFilter) -> None:
        """Move *filter*'s rules into this one; *filter* is then reset (empty).

        Both must have the same attributes and no architecture in common.
        """
        if not isinstance(filter, SyscallFilter):
            raise TypeError(f"filter must be a SyscallFilter, not {type(filter).__name__!r}")
        if filter is self:
            _einval("cannot merge a filter into itself")
        first, second = sorted((self, filter), key=id)
        with first._lock, second._lock:
            rc = lib.seccomp_merge(self._ctx, filter._ctx)
            if rc == 0:  # libseccomp freed the source: give it a fresh, empty one
                filter._ctx = lib.seccomp_init(filter._defaction)
        if rc < 0:
            _fail(rc, "seccomp_merge")

    def exist_arch(self, arch: ArchArg) -> bool:
        """True if the filter covers architecture *arch*."""
        with self._lock:
            rc = lib.seccomp_arch_exist(self._ctx, _arch(arch))
        if rc == -_errno.EEXIST:
            return False
        if rc < 0:
            _fail(rc, "seccomp_arch_exist")
        return True

    def add_arch(self, arch: ArchArg) -> None:
        """Cover architecture *arch* too (for rules added from now on)."""
        self._call("seccomp_arch_add", lib.seccomp_arch_add, _arch(arch))

    def remove_arch(self, arch: ArchArg) -> None:
        """Stop covering *arch* (``EEXIST`` if it was not covered)."""
        self._call("seccomp_arch_remove", lib.seccomp_arch_remove, _arch(arch))

    def load(self) -> None:
        """Load the filter into the kernel for the calling thread (and its
        future children; all threads with ``Attr.CTL_TSYNC``).  Irreversible."""
        self._call("seccomp_load", lib.seccomp_load)

    def get_attr(self, attr: int) -> int:
        """The value of attribute *attr* (an :class:`Attr`)."""
        value = ffi.new("uint32_t *")
        attr = cython_int("attr", attr, "unsigned int")
        self._call("seccomp_attr_get", lib.seccomp_attr_get, attr, value)
        return value[0]  # type: ignore[no-any-return]

    def set_attr(self, attr: int, value: int) -> None:
        """Set attribute *attr* (an :class:`Attr`) to *value*."""
        attr = cython_int("attr", attr, "unsigned int")
        self._call("seccomp_attr_set", lib.seccomp_attr_set, attr, _u32("value", value))

    def syscall_priority(self, syscall: SyscallArg, priority: int) -> None:
        """Hint: place *syscall* earlier in the filter (priority 0..255)."""
        priority = to_int("priority", priority, "int")
        if not 0 <= priority <= 255:
            raise ValueError("Syscall priority must be between 0 and 255")
        nr = _syscall(syscall)
        self._call("seccomp_syscall_priority", lib.seccomp_syscall_priority, nr, priority)

    # -- rules ---------------------------------------------------------------
    def _add(self, what: str, add: Any, action: int, syscall: SyscallArg, args: Any) -> None:
        if type(action) is not int or not 0 <= action <= _U32:
            action = _u32("action", action)
        nr = _NR_CACHE.get(syscall) if type(syscall) is str else None
        if nr is None:
            nr = _syscall(syscall)
        array = _arg_array(args)
        with self._lock:
            rc = add(self._ctx, action, nr, len(args), array)
        if rc:
            _fail(rc, what)

    def add_rule(self, action: int, syscall: SyscallArg, *args: Arg) -> None:
        """Calls of *syscall* (name or native number) whose arguments match
        every :class:`Arg` get *action*.  libseccomp rewrites the rule where an
        architecture needs it (e.g. ``socket`` via ``socketcall`` on x86)."""
        self._add("seccomp_rule_add", _rule_add, action, syscall, args)

    def add_rule_exactly(self, action: int, syscall: SyscallArg, *args: Arg) -> None:
        """Like :meth:`add_rule`, but fail instead of rewriting the rule."""
        self._add("seccomp_rule_add_exact", _rule_add_exact, action, syscall, args)

    # -- output ----------------------------------------------------------------
    def _export(self, what: str, func: Callable[..., int], file: Any) -> Optional[bytes]:
        if file is None:
            import tempfile

            with tempfile.TemporaryFile() as tmp:
                self._export(what, func, tmp)
                tmp.seek(0)
                return tmp.read()
        fd = fileno(file)
        flush = getattr(file, "flush", None)
        if flush is not None:
            flush()  # what Python buffered goes first
        self._call(what, func, fd)
        return None

    def export_pfc(self, file: Any = None) -> Optional[bytes]:
        """Write the filter as readable pseudo filter code to *file* (a file
        object or fd); without *file*, return it as bytes."""
        return self._export("seccomp_export_pfc", lib.seccomp_export_pfc, file)

    def export_bpf(self, file: Any = None) -> Optional[bytes]:
        """Write the BPF program the kernel would get to *file* (a file object
        or fd; ``struct sock_filter`` records); without *file*, return it."""
        return self._export("seccomp_export_bpf", lib.seccomp_export_bpf, file)

    # -- user notification -------------------------------------------------------
    def get_notify_fd(self) -> int:
        """The notify fd of the ``NOTIFY`` filter loaded by this process.

        libseccomp owns it (do not close it); :class:`NotifyFd` makes a
        private duplicate.
        """
        fd: int = lib.seccomp_notify_fd(self._ctx)
        if fd < 0:
            raise SeccompError(
                _errno.EBADF, "Notifications not enabled/active: load a filter using NOTIFY first"
            )
        return fd

    def receive_notify(self) -> Notification:
        """Wait for the next notification (see :func:`notify_receive`)."""
        fd = self.get_notify_fd()
        try:
            return notify_receive(fd)
        except OSError as exc:
            raise SeccompError(exc.errno, f"receive_notify: {exc.strerror}") from None

    def respond_notify(self, response: NotificationResponse) -> None:
        """Answer a notification (see :func:`notify_respond`)."""
        fd = self.get_notify_fd()
        try:
            notify_respond(fd, response)
        except OSError as exc:
            raise SeccompError(exc.errno, f"respond_notify: {exc.strerror}") from None
