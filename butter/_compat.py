"""Compatibility with Butter 0.9 and 0.13.1: the shared helpers.

Everything here exists only so that code written for the original Butter
keeps running, with a ``DeprecationWarning`` that names the new spelling.
Each module lists its old names in a section marked
``# -- compatibility with Butter 0.9/0.13.1 --`` at its bottom; removing
that section and this module removes the compatibility layer.
"""

from __future__ import annotations

import os

# Imported for type checkers only: butter's modules load without typing.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Dict, Mapping, Optional, TypeVar

    F = TypeVar("F", bound=Callable[..., Any])


def deprecated(old: str, new: str, stacklevel: int = 3) -> None:
    """Warn that *old* (a spelling of the original Butter) is now *new*."""
    import warnings  # only when an old spelling is used

    warnings.warn(
        f"{old} is deprecated (Butter 0.9/0.13.1 spelling); use {new}",
        DeprecationWarning,
        stacklevel=stacklevel,
    )


def pop_loop(kwargs: Dict[str, Any], stacklevel: int = 4) -> None:
    """Remove an old ``loop=`` keyword from *kwargs*, warning if present.

    The ``*_async`` classes use the running loop; ``loop=`` is ignored."""
    if "loop" in kwargs:
        del kwargs["loop"]
        deprecated("the loop= argument", "nothing: the running loop is used", stacklevel)


def old_keywords(
    func: F,
    renames: Optional[Mapping[str, str]] = None,
    *,
    closefd: bool = False,
    loop: bool = False,
    where: str = "",
) -> F:
    """Wrap *func* so it also accepts the original's keyword spellings.

    *renames* maps old keyword names to new ones.  With *closefd*, 0.13.1's
    ``closefd=`` is accepted: there it meant "set close-on-exec" (and
    defaulted to false on Python 3); butter's fds are always close-on-exec,
    so ``closefd=False`` makes the new fd inheritable instead.  With
    *loop*, ``loop=`` is accepted and ignored.  Each old keyword warns.
    The result of *func* (an fd) or its first argument (an object being
    initialised) gives the fd for ``closefd=False``.
    """
    names = dict(renames or {})
    watched = set(names)
    if closefd:
        watched.add("closefd")
    if loop:
        watched.add("loop")

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not kwargs or watched.isdisjoint(kwargs):
            return func(*args, **kwargs)
        for old, new in names.items():
            if old in kwargs:
                if new in kwargs:
                    raise TypeError(f"{where}got both {old}= and {new}=")
                deprecated(f"{where}{old}=", f"{new}=")
                kwargs[new] = kwargs.pop(old)
        if loop:
            pop_loop(kwargs, stacklevel=4)
        inheritable = False
        if closefd and "closefd" in kwargs:
            deprecated(
                f"{where}closefd=",
                "nothing (fds are always close-on-exec; os.set_inheritable(fd, True) undoes it)",
            )
            inheritable = not kwargs.pop("closefd")
        result = func(*args, **kwargs)
        if inheritable:
            fd = result if isinstance(result, int) else args[0].fileno()
            os.set_inheritable(fd, True)
        return result

    # functools.wraps by hand (functools is not otherwise loaded here);
    # __wrapped__ keeps inspect.signature() showing the new signature.
    for attr in ("__module__", "__name__", "__qualname__", "__doc__"):
        setattr(wrapper, attr, getattr(func, attr))
    wrapper.__dict__.update(func.__dict__)
    wrapper.__wrapped__ = func  # type: ignore[attr-defined]
    return wrapper  # type: ignore[return-value]


def patch_init(
    cls: type,
    renames: Optional[Mapping[str, str]] = None,
    *,
    closefd: bool = False,
    loop: bool = False,
) -> None:
    """Give ``cls.__init__`` the old keywords (see :func:`old_keywords`)."""
    init = cls.__dict__["__init__"]
    wrapped = old_keywords(init, renames, closefd=closefd, loop=loop, where=f"{cls.__name__}(): ")
    setattr(cls, "__init__", wrapped)  # noqa: B010


def alias_property(cls: type, old: str, new: str, owner: str = "") -> None:
    """Add to *cls* a read-only property *old* that warns and reads *new*."""
    label = owner or cls.__name__

    def getter(self: Any) -> Any:
        deprecated(f"{label}.{old}", f"{label}.{new}")
        return getattr(self, new)

    getter.__name__ = old
    getter.__doc__ = f"Deprecated (original Butter): use :attr:`{new}`."
    setattr(cls, old, property(getter))


def alias_method(cls: type, old: str, new: str) -> None:
    """Add to *cls* a method *old* that warns and calls *new*."""

    def method(self: Any, *args: Any, **kwargs: Any) -> Any:
        deprecated(f"{cls.__name__}.{old}()", f"{cls.__name__}.{new}()")
        return getattr(self, new)(*args, **kwargs)

    method.__name__ = old
    method.__qualname__ = f"{cls.__name__}.{old}"
    method.__doc__ = f"Deprecated (original Butter): use :meth:`{new}`."
    setattr(cls, old, method)


def module_getattr(
    module: str, names: Mapping[str, Callable[[], Any]], news: Mapping[str, str]
) -> Callable[[str], Any]:
    """A PEP 562 ``__getattr__`` serving deprecated module attributes."""

    def __getattr__(name: str) -> Any:
        if name in names:
            deprecated(f"{module}.{name}", news[name])
            return names[name]()
        raise AttributeError(f"module {module!r} has no attribute {name!r}")

    return __getattr__
