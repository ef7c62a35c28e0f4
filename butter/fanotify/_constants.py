"""fanotify's constants, from the system headers, and its bit tables.

The bottom of :mod:`butter.fanotify`: every other part imports it.
"""

from __future__ import annotations

from .._args import check_int
from .._lowlevel import lib

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import List

__all__ = [
    "AT_EMPTY_PATH",
    "AT_FDCWD",
    "AT_HANDLE_FID",
    "AT_SYMLINK_FOLLOW",
    "FANOTIFY_METADATA_VERSION",
    "FAN_ACCESS",
    "FAN_ACCESS_PERM",
    "FAN_ALLOW",
    "FAN_ALL_CLASS_BITS",
    "FAN_ALL_EVENTS",
    "FAN_ALL_INIT_FLAGS",
    "FAN_ALL_MARK_FLAGS",
    "FAN_ALL_OUTGOING_EVENTS",
    "FAN_ALL_PERM_EVENTS",
    "FAN_ATTRIB",
    "FAN_AUDIT",
    "FAN_CLASS_CONTENT",
    "FAN_CLASS_NOTIF",
    "FAN_CLASS_PRE_CONTENT",
    "FAN_CLOEXEC",
    "FAN_CLOSE",
    "FAN_CLOSE_NOWRITE",
    "FAN_CLOSE_WRITE",
    "FAN_CREATE",
    "FAN_DELETE",
    "FAN_DELETE_SELF",
    "FAN_DENY",
    "FAN_ENABLE_AUDIT",
    "FAN_EPIDFD",
    "FAN_ERRNO_BITS",
    "FAN_ERRNO_MASK",
    "FAN_ERRNO_SHIFT",
    "FAN_EVENT_INFO_TYPE_DFID",
    "FAN_EVENT_INFO_TYPE_DFID_NAME",
    "FAN_EVENT_INFO_TYPE_ERROR",
    "FAN_EVENT_INFO_TYPE_FID",
    "FAN_EVENT_INFO_TYPE_MNT",
    "FAN_EVENT_INFO_TYPE_NEW_DFID_NAME",
    "FAN_EVENT_INFO_TYPE_OLD_DFID_NAME",
    "FAN_EVENT_INFO_TYPE_PIDFD",
    "FAN_EVENT_INFO_TYPE_RANGE",
    "FAN_EVENT_METADATA_LEN",
    "FAN_EVENT_ON_CHILD",
    "FAN_FS_ERROR",
    "FAN_INFO",
    "FAN_MARK_ADD",
    "FAN_MARK_DONT_FOLLOW",
    "FAN_MARK_EVICTABLE",
    "FAN_MARK_FILESYSTEM",
    "FAN_MARK_FLUSH",
    "FAN_MARK_IGNORE",
    "FAN_MARK_IGNORED_MASK",
    "FAN_MARK_IGNORED_SURV_MODIFY",
    "FAN_MARK_IGNORE_SURV",
    "FAN_MARK_INODE",
    "FAN_MARK_MNTNS",
    "FAN_MARK_MOUNT",
    "FAN_MARK_ONLYDIR",
    "FAN_MARK_REMOVE",
    "FAN_MNT_ATTACH",
    "FAN_MNT_DETACH",
    "FAN_MODIFY",
    "FAN_MOVE",
    "FAN_MOVED_FROM",
    "FAN_MOVED_TO",
    "FAN_MOVE_SELF",
    "FAN_NOFD",
    "FAN_NONBLOCK",
    "FAN_NOPIDFD",
    "FAN_ONDIR",
    "FAN_OPEN",
    "FAN_OPEN_EXEC",
    "FAN_OPEN_EXEC_PERM",
    "FAN_OPEN_PERM",
    "FAN_PRE_ACCESS",
    "FAN_Q_OVERFLOW",
    "FAN_RENAME",
    "FAN_REPORT_DFID_NAME",
    "FAN_REPORT_DFID_NAME_TARGET",
    "FAN_REPORT_DIR_FID",
    "FAN_REPORT_FD_ERROR",
    "FAN_REPORT_FID",
    "FAN_REPORT_MNT",
    "FAN_REPORT_NAME",
    "FAN_REPORT_PIDFD",
    "FAN_REPORT_TARGET_FID",
    "FAN_REPORT_TID",
    "FAN_RESPONSE_INFO_AUDIT_RULE",
    "FAN_RESPONSE_INFO_NONE",
    "FAN_UNLIMITED_MARKS",
    "FAN_UNLIMITED_QUEUE",
    "mask_names",
]

FAN_ACCESS: int = lib.FAN_ACCESS  # file was read
FAN_MODIFY: int = lib.FAN_MODIFY  # file was written
FAN_ATTRIB: int = lib.FAN_ATTRIB  # metadata changed (FID modes)
FAN_CLOSE_WRITE: int = lib.FAN_CLOSE_WRITE  # file opened for writing was closed
FAN_CLOSE_NOWRITE: int = lib.FAN_CLOSE_NOWRITE  # file not opened for writing was closed
FAN_OPEN: int = lib.FAN_OPEN  # file or directory was opened
FAN_MOVED_FROM: int = lib.FAN_MOVED_FROM  # an entry was renamed away (FID modes)
FAN_MOVED_TO: int = lib.FAN_MOVED_TO  # an entry was renamed here (FID modes)
FAN_CREATE: int = lib.FAN_CREATE  # an entry was created (FID modes)
FAN_DELETE: int = lib.FAN_DELETE  # an entry was deleted (FID modes)
FAN_DELETE_SELF: int = lib.FAN_DELETE_SELF  # the marked inode was deleted (FID modes)
FAN_MOVE_SELF: int = lib.FAN_MOVE_SELF  # the marked inode was moved (FID modes)
FAN_OPEN_EXEC: int = lib.FAN_OPEN_EXEC  # file was opened to be executed
FAN_Q_OVERFLOW: int = lib.FAN_Q_OVERFLOW  # the kernel queue overflowed: events were lost
FAN_FS_ERROR: int = lib.FAN_FS_ERROR  # a filesystem error (FAN_MARK_FILESYSTEM, FID modes; 5.16)
FAN_OPEN_PERM: int = lib.FAN_OPEN_PERM  # permission to open (FAN_CLASS_CONTENT and up)
FAN_ACCESS_PERM: int = lib.FAN_ACCESS_PERM  # permission to read
FAN_OPEN_EXEC_PERM: int = lib.FAN_OPEN_EXEC_PERM  # permission to open for exec
FAN_PRE_ACCESS: int = lib.FAN_PRE_ACCESS  # pre-content access hook (FAN_CLASS_PRE_CONTENT; 6.14)
FAN_MNT_ATTACH: int = lib.FAN_MNT_ATTACH  # a mount was attached (FAN_REPORT_MNT; 6.15)
FAN_MNT_DETACH: int = lib.FAN_MNT_DETACH  # a mount was detached (FAN_REPORT_MNT; 6.15)
# mark: also report events on a directory's children
FAN_EVENT_ON_CHILD: int = lib.FAN_EVENT_ON_CHILD
FAN_RENAME: int = lib.FAN_RENAME  # rename, old and new names in one event (5.17)
FAN_ONDIR: int = lib.FAN_ONDIR  # mark: also report events on directories; event: it is a directory
FAN_CLOSE: int = lib.FAN_CLOSE  # either close
FAN_MOVE: int = lib.FAN_MOVE  # either half of a rename
FAN_CLOEXEC: int = lib.FAN_CLOEXEC  # init: close-on-exec (always set by butter)
FAN_NONBLOCK: int = lib.FAN_NONBLOCK  # init: non-blocking reads
FAN_CLASS_NOTIF: int = lib.FAN_CLASS_NOTIF  # init: notification only (the default)
# init: permission events, after the content is final
FAN_CLASS_CONTENT: int = lib.FAN_CLASS_CONTENT
# init: permission events, before the content is final
FAN_CLASS_PRE_CONTENT: int = lib.FAN_CLASS_PRE_CONTENT
FAN_UNLIMITED_QUEUE: int = lib.FAN_UNLIMITED_QUEUE  # init: no limit on queued events
FAN_UNLIMITED_MARKS: int = lib.FAN_UNLIMITED_MARKS  # init: no limit on marks
FAN_ENABLE_AUDIT: int = lib.FAN_ENABLE_AUDIT  # init: allow FAN_AUDIT in responses
FAN_REPORT_PIDFD: int = lib.FAN_REPORT_PIDFD  # init: a pidfd info record per event (5.15)
FAN_REPORT_TID: int = lib.FAN_REPORT_TID  # init: pid is the thread id
FAN_REPORT_FID: int = lib.FAN_REPORT_FID  # init: file identifier records instead of fds (5.1)
FAN_REPORT_DIR_FID: int = lib.FAN_REPORT_DIR_FID  # init: directory identifier records (5.9)
FAN_REPORT_NAME: int = lib.FAN_REPORT_NAME  # init: with FAN_REPORT_DIR_FID, the entry name (5.9)
FAN_REPORT_TARGET_FID: int = lib.FAN_REPORT_TARGET_FID  # init: also the target's identifier (5.17)
# init: fd holds -errno when no fd could be opened (6.13)
FAN_REPORT_FD_ERROR: int = lib.FAN_REPORT_FD_ERROR
FAN_REPORT_MNT: int = lib.FAN_REPORT_MNT  # init: mount events (6.15)
FAN_REPORT_DFID_NAME: int = lib.FAN_REPORT_DFID_NAME  # FAN_REPORT_DIR_FID | FAN_REPORT_NAME
# FAN_REPORT_DFID_NAME | FAN_REPORT_FID | FAN_REPORT_TARGET_FID
FAN_REPORT_DFID_NAME_TARGET: int = lib.FAN_REPORT_DFID_NAME_TARGET
FAN_MARK_ADD: int = lib.FAN_MARK_ADD  # mark: add to the mask
FAN_MARK_REMOVE: int = lib.FAN_MARK_REMOVE  # mark: remove from the mask
FAN_MARK_DONT_FOLLOW: int = lib.FAN_MARK_DONT_FOLLOW  # mark: do not follow a final symlink
FAN_MARK_ONLYDIR: int = lib.FAN_MARK_ONLYDIR  # mark: fail unless the path is a directory
FAN_MARK_IGNORED_MASK: int = lib.FAN_MARK_IGNORED_MASK  # mark: change the ignore mask (old API)
# mark: the ignore mask survives a modification
FAN_MARK_IGNORED_SURV_MODIFY: int = lib.FAN_MARK_IGNORED_SURV_MODIFY
FAN_MARK_FLUSH: int = lib.FAN_MARK_FLUSH  # mark: remove every mark (of the given kind)
FAN_MARK_EVICTABLE: int = lib.FAN_MARK_EVICTABLE  # mark: may be evicted with the inode (5.19)
FAN_MARK_IGNORE: int = lib.FAN_MARK_IGNORE  # mark: change the ignore mask (6.0)
FAN_MARK_INODE: int = lib.FAN_MARK_INODE  # mark an inode (the default)
FAN_MARK_MOUNT: int = lib.FAN_MARK_MOUNT  # mark a mount
FAN_MARK_FILESYSTEM: int = lib.FAN_MARK_FILESYSTEM  # mark a whole filesystem (4.20)
FAN_MARK_MNTNS: int = lib.FAN_MARK_MNTNS  # mark a mount namespace (6.15)
# FAN_MARK_IGNORE | FAN_MARK_IGNORED_SURV_MODIFY
FAN_MARK_IGNORE_SURV: int = lib.FAN_MARK_IGNORE_SURV
FAN_ALL_CLASS_BITS: int = lib.FAN_ALL_CLASS_BITS  # deprecated aggregate (in the headers)
FAN_ALL_INIT_FLAGS: int = lib.FAN_ALL_INIT_FLAGS  # deprecated aggregate (in the headers)
FAN_ALL_MARK_FLAGS: int = lib.FAN_ALL_MARK_FLAGS  # deprecated aggregate (in the headers)
FAN_ALL_EVENTS: int = lib.FAN_ALL_EVENTS  # deprecated aggregate (in the headers)
FAN_ALL_PERM_EVENTS: int = lib.FAN_ALL_PERM_EVENTS  # deprecated aggregate (in the headers)
FAN_ALL_OUTGOING_EVENTS: int = lib.FAN_ALL_OUTGOING_EVENTS  # deprecated aggregate (in the headers)
FANOTIFY_METADATA_VERSION: int = lib.FANOTIFY_METADATA_VERSION  # the vers field of every event
FAN_EVENT_METADATA_LEN: int = lib.FAN_EVENT_METADATA_LEN  # sizeof(struct fanotify_event_metadata)
FAN_EVENT_INFO_TYPE_FID: int = lib.FAN_EVENT_INFO_TYPE_FID  # info: the object's file id
# info: the directory's file id and the entry name
FAN_EVENT_INFO_TYPE_DFID_NAME: int = lib.FAN_EVENT_INFO_TYPE_DFID_NAME
FAN_EVENT_INFO_TYPE_DFID: int = lib.FAN_EVENT_INFO_TYPE_DFID  # info: the directory's file id
FAN_EVENT_INFO_TYPE_PIDFD: int = lib.FAN_EVENT_INFO_TYPE_PIDFD  # info: a pidfd
FAN_EVENT_INFO_TYPE_ERROR: int = lib.FAN_EVENT_INFO_TYPE_ERROR  # info: a filesystem error
# info: the range of a pre-content event
FAN_EVENT_INFO_TYPE_RANGE: int = lib.FAN_EVENT_INFO_TYPE_RANGE
FAN_EVENT_INFO_TYPE_MNT: int = lib.FAN_EVENT_INFO_TYPE_MNT  # info: a mount id
# info: FAN_RENAME's old directory and name
FAN_EVENT_INFO_TYPE_OLD_DFID_NAME: int = lib.FAN_EVENT_INFO_TYPE_OLD_DFID_NAME
# info: FAN_RENAME's new directory and name
FAN_EVENT_INFO_TYPE_NEW_DFID_NAME: int = lib.FAN_EVENT_INFO_TYPE_NEW_DFID_NAME
FAN_ALLOW: int = lib.FAN_ALLOW  # response: allow
FAN_DENY: int = lib.FAN_DENY  # response: deny (the caller gets EPERM)
FAN_AUDIT: int = lib.FAN_AUDIT  # response bit: write an audit record (FAN_ENABLE_AUDIT)
FAN_INFO: int = lib.FAN_INFO  # response bit: extra information follows (6.3)
FAN_RESPONSE_INFO_NONE: int = lib.FAN_RESPONSE_INFO_NONE  # response info type: none
# response info type: audit rule
FAN_RESPONSE_INFO_AUDIT_RULE: int = lib.FAN_RESPONSE_INFO_AUDIT_RULE
FAN_ERRNO_BITS: int = lib.FAN_ERRNO_BITS  # FAN_DENY with an errno: bits of the errno (6.14)
FAN_ERRNO_SHIFT: int = lib.FAN_ERRNO_SHIFT  # FAN_DENY with an errno: its shift
FAN_ERRNO_MASK: int = lib.FAN_ERRNO_MASK  # FAN_DENY with an errno: its mask
FAN_NOFD: int = lib.FAN_NOFD  # the event has no fd
FAN_NOPIDFD: int = lib.FAN_NOPIDFD  # the event has no pidfd
FAN_EPIDFD: int = lib.FAN_EPIDFD  # the pidfd could not be created

AT_FDCWD: int = lib.AT_FDCWD  # dfd: paths relative to the current directory
AT_EMPTY_PATH: int = lib.AT_EMPTY_PATH  # name_to_handle_at: the handle of dirfd itself
AT_SYMLINK_FOLLOW: int = lib.AT_SYMLINK_FOLLOW  # name_to_handle_at: follow a final symlink
AT_HANDLE_FID: int = lib.AT_HANDLE_FID  # name_to_handle_at: a handle to compare, not open (6.5)

_O_CLOEXEC: int = lib.O_CLOEXEC
_O_RDONLY: int = lib.O_RDONLY
_MARK_OPS = FAN_MARK_ADD | FAN_MARK_REMOVE | FAN_MARK_FLUSH

# Display names of event bits, in bit order (mask_names).
_EVENT_BITS = [
    (value, name)
    for name, value in sorted(
        ((n, v) for n, v in globals().items() if n.startswith("FAN_") and isinstance(v, int)),
        key=lambda item: item[1],
    )
    if name
    in {
        "FAN_ACCESS", "FAN_MODIFY", "FAN_ATTRIB", "FAN_CLOSE_WRITE", "FAN_CLOSE_NOWRITE",
        "FAN_OPEN", "FAN_MOVED_FROM", "FAN_MOVED_TO", "FAN_CREATE", "FAN_DELETE",
        "FAN_DELETE_SELF", "FAN_MOVE_SELF", "FAN_OPEN_EXEC", "FAN_Q_OVERFLOW", "FAN_FS_ERROR",
        "FAN_OPEN_PERM", "FAN_ACCESS_PERM", "FAN_OPEN_EXEC_PERM", "FAN_PRE_ACCESS",
        "FAN_MNT_ATTACH", "FAN_MNT_DETACH", "FAN_EVENT_ON_CHILD", "FAN_RENAME", "FAN_ONDIR",
    }
]  # fmt: skip


def mask_names(mask: int) -> List[str]:
    """The ``FAN_*`` event names of the bits in *mask*, in bit order
    (unknown bits as hex)."""
    mask = check_int("mask", mask)
    names = []
    for value, name in _EVENT_BITS:
        if mask & value:
            names.append(name)
            mask &= ~value
    if mask:
        names.append(hex(mask))
    return names


# The single-bit init flags, for init_flag_names (the class is a 2-bit field).
_INIT_BITS = [
    (globals()[name], name)
    for name in (
        "FAN_CLOEXEC", "FAN_NONBLOCK", "FAN_UNLIMITED_QUEUE", "FAN_UNLIMITED_MARKS",
        "FAN_ENABLE_AUDIT", "FAN_REPORT_PIDFD", "FAN_REPORT_TID", "FAN_REPORT_FID",
        "FAN_REPORT_DIR_FID", "FAN_REPORT_NAME", "FAN_REPORT_TARGET_FID",
        "FAN_REPORT_FD_ERROR", "FAN_REPORT_MNT",
    )
]  # fmt: skip
_CLASSES = {
    FAN_CLASS_NOTIF: "FAN_CLASS_NOTIF",
    FAN_CLASS_CONTENT: "FAN_CLASS_CONTENT",
    FAN_CLASS_PRE_CONTENT: "FAN_CLASS_PRE_CONTENT",
}


def init_flag_names(flags: int) -> str:
    """*flags* of :func:`fanotify_init` as ``FAN_CLASS_...|FAN_REPORT_FID...``
    (the class first, even ``FAN_CLASS_NOTIF``, which is 0; unknown bits
    as hex): for display."""
    cls = flags & FAN_ALL_CLASS_BITS
    names = [_CLASSES.get(cls, hex(cls))]
    rest = flags & ~FAN_ALL_CLASS_BITS
    for value, name in _INIT_BITS:
        if rest & value:
            names.append(name)
            rest &= ~value
    if rest:
        names.append(hex(rest))
    return "|".join(names)


# fatrace's letters, in fatrace's order, with the bits each one stands for.
_LETTERS = (
    ("R", FAN_ACCESS),
    ("C", FAN_CLOSE),
    ("W", FAN_MODIFY | FAN_CLOSE_WRITE),
    ("O", FAN_OPEN),
    ("+", FAN_CREATE),
    ("D", FAN_DELETE),
    ("<", FAN_MOVED_FROM),
    (">", FAN_MOVED_TO),
)


def mask_to_types(mask: int) -> str:
    """fatrace's type letters for an event mask (``"CW"``, ``"RCO"``, ``"<>"``)."""
    return "".join(letter for letter, bits in _LETTERS if mask & bits)


def types_to_mask(types: str) -> int:
    """The event bits a fatrace ``--filter`` string selects."""
    mask = 0
    for ch in types.upper():
        for letter, bits in _LETTERS:
            if ch == letter or (ch in "<>" and letter in "<>"):
                mask |= FAN_MOVE if ch in "<>" else bits
                break
        else:
            raise ValueError(f"unknown --filter type {ch!r}")
    if "C" in types.upper():
        mask |= FAN_CLOSE
    return mask
