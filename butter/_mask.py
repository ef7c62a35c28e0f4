"""Boolean views of an event's mask, shared by inotify and fanotify events.

Both families name their bits the same way (``event.close_write_event``,
``event.is_dir_event``...).  :class:`FileEventFlags` declares the names the
two have in common, for type checkers; each family adds its own and sets the
properties from its table of ``(name, bit, doc)`` with :func:`set_mask_flags`.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Iterable, Optional, Tuple, Type

__all__ = ["FileEventFlags", "set_mask_flags"]


class FileEventFlags:
    """The mask views every file event has (set by the family)."""

    __slots__ = ()
    access_event: bool
    modify_event: bool
    attrib_event: bool
    close_write_event: bool
    close_nowrite_event: bool
    close_event: bool
    open_event: bool
    moved_from_event: bool
    moved_to_event: bool
    create_event: bool
    delete_event: bool
    delete_self_event: bool
    move_self_event: bool
    overflow_event: bool
    is_dir_event: bool


def _flag(bit: int, doc: str, index: Optional[int]) -> property:
    if index is None:
        return property(lambda self: self.mask & bit != 0, doc=doc)
    return property(lambda self: self[index] & bit != 0, doc=doc)  # tuples: no lookup


def set_mask_flags(
    cls: Type[object], table: Iterable[Tuple[str, int, str]], index: Optional[int] = None
) -> None:
    """Give *cls* a read-only bool property per ``(name, bit, doc)``: does
    the mask (``self.mask``, or item *index* of a tuple) have *bit*?"""
    for name, bit, doc in table:
        setattr(cls, name, _flag(bit, doc, index))
