"""Watch a directory tree with the best interface the system allows.

:func:`watch_tree` returns a :class:`butter.fanotify.FanotifyTree` (one
fanotify mark per filesystem: no watch limit, no window after ``mkdir``)
where it can, else a :class:`butter.inotify.InotifyTree` (one inotify watch
per directory, works for every user).  Both have the same interface and
produce the same :class:`~butter.inotify.PathEvent` events; the returned
object's ``backend`` attribute says which one it is (``"fanotify"`` or
``"inotify"``).  :func:`watch_tree_async` does the same for the asyncio
classes.

fanotify is chosen (``backend="auto"``) when all of these hold:

* the process has ``CAP_SYS_ADMIN`` (the kernel's condition for
  filesystem marks), and the kernel makes a group with the FID flags
  FanotifyTree needs (5.17: ``FAN_REPORT_TARGET_FID``): checked once per
  process (:func:`fanotify_usable`);
* the path's filesystem gives file handles (tmpfs, ext4, xfs, btrfs...;
  not /proc, sysfs, devpts, FUSE filesystems without export support), and
  its mark is allowed -- both are tried on the path itself: a
  ``FanotifyTree`` that fails with ``PermissionError`` or an ``OSError``
  of that kind is replaced by an ``InotifyTree``.

Other errors (the path does not exist, is not a directory) are raised as
they are.  ``backend="fanotify"`` or ``"inotify"`` forces one: nothing
falls back then.
"""

from __future__ import annotations

import errno

from ._args import PathArg
from .inotify import IN_ALL_EVENTS

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Dict, Optional, Union

    import butter.asyncio.fanotify
    import butter.asyncio.inotify

    from .asyncio.fanotify import FanotifyTree_async
    from .asyncio.inotify import InotifyTree_async
    from .fanotify import FanotifyTree
    from .inotify import InotifyTree
    from .inotify._tree import ExcludeArg

__all__ = ["BACKENDS", "fanotify_usable", "watch_tree", "watch_tree_async"]

#: The values of *backend*.
BACKENDS = ("auto", "fanotify", "inotify")

# errnos of a FanotifyTree that cannot work here (auto falls back to inotify):
# no privilege, a kernel without the FID flags, a filesystem without handles.
_FALLBACK = frozenset((errno.EPERM, errno.EACCES, errno.EINVAL, errno.ENOSYS))
_FALLBACK |= {errno.EOPNOTSUPP, errno.EXDEV, errno.ENODEV}  # no file handles
_usable: Optional[bool] = None


def fanotify_usable() -> bool:
    """Whether this process can make the fanotify group FanotifyTree
    needs (``CAP_SYS_ADMIN``, Linux 5.17+).  Asked of the kernel once; the
    answer is remembered (a process rarely gains or drops the capability:
    :func:`watch_tree` still falls back if the group or the mark fails)."""
    global _usable
    if _usable is None:
        _usable = _has_cap_sys_admin() and _fid_group_works()
    return _usable


_CAP_SYS_ADMIN = 21  # linux/capability.h


def _has_cap_sys_admin() -> bool:
    """CAP_SYS_ADMIN in the effective set (``/proc/self/status``: fanotify
    groups in FID modes are open to every user since 5.13, filesystem
    marks are not)."""
    try:
        with open("/proc/self/status", "rb") as f:
            for line in f:
                if line.startswith(b"CapEff:"):
                    return bool(int(line.split()[1], 16) >> _CAP_SYS_ADMIN & 1)
    except (OSError, ValueError):
        pass
    return False


def _fid_group_works() -> bool:
    import os

    from .fanotify import fanotify_init
    from .fanotify._tree import _INIT_FLAGS

    try:
        os.close(fanotify_init(_INIT_FLAGS))
    except OSError:
        return False
    return True


def _check_backend(backend: object) -> str:
    if not isinstance(backend, str):
        raise TypeError(f"backend must be a str, not {type(backend).__name__!r}")
    if backend not in BACKENDS:
        raise ValueError(
            f"backend must be one of {', '.join(map(repr, BACKENDS))}, not {backend!r}"
        )
    return backend


def _build(
    make_fanotify: Callable[[], Any],
    make_inotify: Callable[[], Any],
    backend: str,
    kwargs: Dict[str, Any],
) -> Any:
    if backend == "auto" and not kwargs.get("recursive", True):
        backend = "inotify"  # FanotifyTree is always recursive
    if backend == "inotify" or (backend == "auto" and not fanotify_usable()):
        return make_inotify()
    try:
        return make_fanotify()
    except OSError as exc:
        if backend == "fanotify" or exc.errno not in _FALLBACK:
            raise
    except ValueError:  # a mark the kernel refuses (mark="mount")
        if backend == "fanotify":
            raise
    return make_inotify()


def watch_tree(
    path: PathArg,
    events: int = IN_ALL_EVENTS,
    backend: str = "auto",
    *,
    exclude: Optional[ExcludeArg] = None,
    progress: Optional[Callable[[int], object]] = None,
    **kwargs: Any,
) -> Union[FanotifyTree, InotifyTree]:
    """Watch *path* and its subtree: a :class:`~butter.fanotify.FanotifyTree`
    where fanotify can do it, else an :class:`~butter.inotify.InotifyTree`
    (see the module documentation for the choice); ``.backend`` on the
    result says which.

    *events*, *exclude*, *progress*: as for both classes.  The other
    keyword arguments go to the class that takes them:
    ``mark=``/``unlimited_queue=`` to FanotifyTree, ``recursive=``/
    ``move_wait=`` to InotifyTree (``recursive=False`` makes ``"auto"``
    choose InotifyTree, FanotifyTree being always recursive); with a forced
    *backend*, the other class's arguments are a ``TypeError``.  ``backend="fanotify"``
    raises what FanotifyTree raises (``PermissionError`` without
    ``CAP_SYS_ADMIN``...) instead of falling back.
    """
    backend = _check_backend(backend)
    inotify_kw = {k: v for k, v in kwargs.items() if k in ("recursive", "move_wait")}
    fanotify_kw = {k: v for k, v in kwargs.items() if k in ("mark", "unlimited_queue")}
    _check_kwargs(kwargs, backend)

    def fan() -> FanotifyTree:
        from .fanotify import FanotifyTree

        return FanotifyTree(path, events, exclude=exclude, progress=progress, **fanotify_kw)

    def ino() -> InotifyTree:
        from .inotify import InotifyTree

        return InotifyTree(path, events, exclude=exclude, progress=progress, **inotify_kw)

    result: Union[FanotifyTree, InotifyTree] = _build(fan, ino, backend, kwargs)
    return result


def watch_tree_async(
    path: PathArg,
    events: int = IN_ALL_EVENTS,
    backend: str = "auto",
    maxsize: int = 0,
    *,
    exclude: Optional[ExcludeArg] = None,
    progress: Optional[Callable[[int], object]] = None,
    **kwargs: Any,
) -> Union[butter.asyncio.fanotify.FanotifyTree_async, butter.asyncio.inotify.InotifyTree_async]:
    """:func:`watch_tree` for asyncio: a
    :class:`~butter.asyncio.fanotify.FanotifyTree_async` or an
    :class:`~butter.asyncio.inotify.InotifyTree_async` (*maxsize* as for
    both).  Called under trio (plain, or anyio's trio backend), the same
    classes from ``butter.anyio`` (which needs ``butter[anyio]``)."""
    backend = _check_backend(backend)
    inotify_kw = {k: v for k, v in kwargs.items() if k == "recursive"}
    fanotify_kw = {k: v for k, v in kwargs.items() if k in ("mark", "unlimited_queue")}
    _check_kwargs(kwargs, backend, asynchronous=True)

    package = "butter.anyio" if _under_trio() else "butter.asyncio"

    def fan() -> FanotifyTree_async:
        from importlib import import_module

        cls: type[FanotifyTree_async] = import_module(f"{package}.fanotify").FanotifyTree_async
        return cls(path, events, maxsize, exclude=exclude, progress=progress, **fanotify_kw)

    def ino() -> InotifyTree_async:
        from importlib import import_module

        cls: type[InotifyTree_async] = import_module(f"{package}.inotify").InotifyTree_async
        return cls(path, events, maxsize=maxsize, exclude=exclude, progress=progress, **inotify_kw)

    result: Union[FanotifyTree_async, InotifyTree_async] = _build(fan, ino, backend, kwargs)
    return result


def _under_trio() -> bool:
    """Is the calling task trio's?  (sniffio, loaded by trio, knows.)"""
    import sys

    sniffio: Any = sys.modules.get("sniffio")
    if sniffio is None:
        return False
    try:
        return bool(sniffio.current_async_library() == "trio")
    except sniffio.AsyncLibraryNotFoundError:
        return False


def _check_kwargs(kwargs: Dict[str, Any], backend: str, asynchronous: bool = False) -> None:
    """Refuse keyword arguments neither class takes, or (with a forced
    *backend*) that the chosen class does not take."""
    fanotify = {"mark", "unlimited_queue"}
    inotify = {"recursive"} if asynchronous else {"recursive", "move_wait"}
    allowed = {"auto": fanotify | inotify, "fanotify": fanotify, "inotify": inotify}[backend]
    for name in kwargs:
        if name not in allowed:
            where = "watch_tree_async" if asynchronous else "watch_tree"
            raise TypeError(f"{where}() got an unexpected keyword argument {name!r}")
