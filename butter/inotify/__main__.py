"""``python -m butter.inotify``: an ``inotifywait`` replacement.

It takes inotifywait's options (inotify-tools 3.22: ``-m -r -q -qq -e -t
-c -d -s -o -P -h``, ``--format --timefmt --no-newline --fromfile
--exclude[i] --include[i]``, ``@PATH`` exclusions), parses them as GNU
``getopt_long`` does (options anywhere, ``--`` ends them, unambiguous long
prefixes, ``--opt=value``) and prints the same lines, messages and exit
statuses: 0 an event asked for came, 1 an error or an event not asked for
(``IGNORED``, ``UNMOUNT``...), 2 ``--timeout`` expired.  A usage error
exits 1 as inotifywait does (never argparse's 2, which means timeout).

Default output lines are ``WATCHED_PATH EVENTS FILENAME`` (a directory's
path ends with ``/``; events comma separated in inotify-tools' order; the
filename is empty for events on the watched inode itself), progress messages
on stderr.  As in inotifywait, only the events asked for print
(``IGNORED``/``UNMOUNT`` need ``-e ignored``/``-e unmount``), ``-m`` keeps
running when every watch is gone, and without ``-m`` the first event read
ends the run (exit 1 if it was not asked for).  ``-m -r`` adds watches for new
and moved-in directories and drops moved-out ones.

``-r --fanotify`` (``-F``; ``-S``/``--filesystem`` is the same here, and
``-I``/``--inotify`` the default) watches the directories with one fanotify
mark per filesystem (:class:`butter.fanotify.FanotifyTree`: no watch limit,
no window after ``mkdir``; needs root) and prints the same lines as ``-r``,
the lines of each directory's own watch included (``DELETE_SELF``,
``MOVE_SELF``, ``ATTRIB,ISDIR`` of a subdirectory), except for directory
reads (``OPEN``/``ACCESS``/``CLOSE_NOWRITE`` with ``ISDIR``), which it does
not show.  Without ``-r`` these options are accepted and ignored, as by
inotifywait built without fanotify.

``--exclude``/``--include`` patterns are POSIX extended regular expressions
in inotifywait; here they are Python :mod:`re` patterns searched (unanchored,
as ``regexec``) in ``WATCHED_PATH + FILENAME``, after translating the POSIX
bracket classes (``[[:digit:]]``...) and GNU word edges (``\\<``, ``\\>``).
Python's leftmost-first alternation (POSIX picks the longest match) cannot
change whether a pattern matches, only which part; what differs is syntax
POSIX rejects or reads otherwise (Python's ``\\d``, ``(?i)``, lazy
quantifiers, backreferences in ERE).  An event whose path is excluded is
dropped before anything else sees it, so an excluded new directory is never
watched by ``-m -r`` (inotifywait's pruning; directories present at start
are pruned only by ``@PATH``).
"""

from __future__ import annotations

import errno
import os
import re
import select
import stat
import sys
import time
from typing import IO, Callable, Dict, Iterator, List, NoReturn, Optional, Tuple, Union

from .._cli import entry_point, run_program
from ._constants import (
    IN_ACCESS,
    IN_ALL_EVENTS,
    IN_ATTRIB,
    IN_CLOSE_NOWRITE,
    IN_CLOSE_WRITE,
    IN_CREATE,
    IN_DELETE,
    IN_DELETE_SELF,
    IN_DONT_FOLLOW,
    IN_IGNORED,
    IN_ISDIR,
    IN_MOVE,
    IN_MOVE_SELF,
    IN_MOVED_FROM,
    IN_MOVED_TO,
    IN_OPEN,
    IN_Q_OVERFLOW,
    IN_UNMOUNT,
    event_name,
)
from ._core import Inotify, InotifyEvent

# inotify-tools' order (inotifytools_event_to_str); CLOSE follows IGNORED.
_ORDER = [
    "ACCESS", "MODIFY", "ATTRIB", "CLOSE_WRITE", "CLOSE_NOWRITE", "OPEN",
    "MOVED_FROM", "MOVED_TO", "CREATE", "DELETE", "DELETE_SELF", "UNMOUNT",
    "Q_OVERFLOW", "IGNORED", "CLOSE", "MOVE_SELF", "ISDIR", "ONESHOT",
]  # fmt: skip
_BITS = [(name, int(event_name["IN_" + name])) for name in _ORDER]
# the names -e takes: the above, MOVE and ALL_EVENTS (not "all")
_NAMES = dict(_BITS, MOVE=int(event_name["IN_MOVE"]), ALL_EVENTS=IN_ALL_EVENTS)
_ALWAYS = IN_IGNORED | IN_UNMOUNT | IN_Q_OVERFLOW  # delivered whatever the watch mask
_MAX_STRLEN = 4096  # inotify-tools' limit on a --format string and its output

EXIT_SUCCESS, EXIT_FAILURE, EXIT_TIMEOUT = 0, 1, 2


def events_to_str(mask: int, sep: str = ",") -> str:
    """``IN_CLOSE_WRITE`` -> ``"CLOSE_WRITE,CLOSE"``, as inotifywait prints
    (``0x%08x`` when no known bit is set)."""
    names = [name for name, bit in _BITS if mask & bit]
    return sep.join(names) if names else f"0x{mask:08x}"


def _one_event(name: str) -> int:
    """One ``-e`` name, case-insensitive: its bits, 0 for ``""``, -1 unknown."""
    if not name:
        return 0
    return _NAMES.get(name.upper(), -1) if name.isascii() else -1


def str_to_event(arg: str) -> int:
    """inotifywait's reading of one ``-e`` argument (``modify,close``): the
    mask; 0 when a part is empty (``"modify,"`` adds nothing, as in
    inotifywait); -1 when a name is unknown."""
    mask = 0
    rest = arg
    while rest:
        name, comma, rest = rest.partition(",")
        bits = _one_event(name)
        if bits <= 0:
            return bits
        mask |= bits
        if comma and not rest:
            return 0
    return mask


def str_to_mask(names: List[str]) -> int:
    """The mask of several ``-e`` arguments; ``ValueError`` for an unknown
    name (inotifywait's message)."""
    mask = 0
    for arg in names:
        bits = str_to_event(arg)
        if bits < 0:
            raise ValueError(
                f"'{arg}' is not a valid event!  Run with the '--help' option "
                "to see a list of events."
            )
        mask |= bits
    return mask


# -- output ------------------------------------------------------------------


def format_event(
    fmt: bytes, path: Optional[bytes], name: bytes, mask: int, cookie: int,
    timefmt: Optional[str] = None,
) -> Optional[bytes]:  # fmt: skip
    """Expand an inotifywait ``--format`` string (``%w %f %e %Xe %c %T %0 %n
    %%``; any other ``%x`` stays as is) for one event.  ``None`` for an
    empty result (which ``--format`` refuses at start); ``b""`` where
    inotifywait gives up on the event and prints nothing (a trailing lone
    ``%``, ``%T`` with an empty ``--timefmt`` result)."""
    out = bytearray()
    i, n = 0, len(fmt)
    while i < n and len(out) < _MAX_STRLEN - 1:
        c = fmt[i]
        if c != 0x25:  # '%'
            out.append(c)
            i += 1
            continue
        if i == n - 1:
            return b""  # a trailing lone '%': inotifywait prints nothing
        ch = fmt[i + 1 : i + 2]
        if ch == b"%":
            out += b"%"
        elif ch == b"0":
            out += b"\0"
        elif ch == b"n":
            out += b"\n"
        elif ch == b"w":
            out += path or b""
        elif ch == b"f":
            out += name
        elif ch == b"c":
            out += b"%x" % cookie
        elif ch == b"e":
            out += events_to_str(mask).encode()
        elif ch == b"T":
            stamp = ""
            if timefmt is not None:
                try:
                    stamp = time.strftime(timefmt, time.localtime())
                except ValueError:
                    stamp = ""
                if not stamp:
                    return b""  # strftime() gave nothing: inotifywait prints nothing
            out += os.fsencode(stamp)
        elif i < n - 2 and fmt[i + 2] == 0x65:  # %Xe: events separated by X
            out += events_to_str(mask, ch.decode("latin-1")).encode("latin-1")
            i += 3
            continue
        else:
            out += b"%" + ch
        i += 2
    return bytes(out) if out else None


def _csv_escape(field: bytes) -> bytes:
    """inotifywait's CSV quoting: quote a field holding ``"``, ``,`` or a
    newline or starting/ending with a space; double the quotes inside."""
    if not field:
        return b""
    if b'"' in field or b"," in field or b"\n" in field or field[:1] == b" " or field[-1:] == b" ":
        return b'"' + field.replace(b'"', b'""') + b'"'
    return field


def format_csv(path: Optional[bytes], name: bytes, mask: int) -> bytes:
    """One ``-c`` line: ``PATH,EVENTS,NAME`` (no ``PATH,`` when the watch is
    unknown, as inotifywait)."""
    head = _csv_escape(path or b"")
    return (
        (head + b"," if head else b"")
        + _csv_escape(events_to_str(mask).encode())
        + b","
        + _csv_escape(name)
        + b"\n"
    )


# -- option parsing (GNU getopt_long, as inotifywait) ---------------------------

# (long name, key, takes an argument), in inotifywait's table order (the
# order an ambiguity message lists them); -I/-F/-S are fanotify options of
# builds with fanotify: accepted and ignored, as by Debian's inotifywait.
_LONG = [
    ("help", "h", False), ("event", "e", True), ("monitor", "m", False),
    ("quiet", "q", False), ("timeout", "t", True), ("filename", "f", False),
    ("recursive", "r", False), ("inotify", "I", False), ("fanotify", "F", False),
    ("filesystem", "S", False), ("csv", "c", False), ("daemon", "d", False),
    ("syslog", "s", False), ("no-dereference", "P", False), ("format", "format", True),
    ("no-newline", "no-newline", False), ("timefmt", "timefmt", True),
    ("fromfile", "fromfile", True), ("outfile", "o", True), ("exclude", "exclude", True),
    ("excludei", "excludei", True), ("include", "include", True),
    ("includei", "includei", True),
]  # fmt: skip
_SHORT = {"m": False, "r": False, "h": False, "c": False, "d": False, "s": False,
          "P": False, "q": False, "t": True, "f": False, "o": True, "e": True,
          "I": False, "F": False, "S": False}  # fmt: skip


class UsageError(Exception):
    """A command line getopt rejects (the message is getopt's)."""


def getopt_long(args: List[str], prog: str, operands: List[str]) -> Iterator[Tuple[str, str]]:
    """Yield ``(key, value)`` for each option of *args* in order, as glibc's
    ``getopt_long`` finds them (permuting: the other arguments go to
    *operands*); raise :class:`UsageError` at the first bad one."""
    i = 0
    while i < len(args):
        arg = args[i]
        i += 1
        if arg == "--":
            operands.extend(args[i:])
            return
        if arg.startswith("--"):
            spec, eq, value = arg[2:].partition("=")
            exact = [o for o in _LONG if o[0] == spec]
            found = exact or [o for o in _LONG if o[0].startswith(spec)]
            if not found:
                raise UsageError(f"{prog}: unrecognized option '{arg}'")
            if len(found) > 1:
                names = " ".join(f"'--{o[0]}'" for o in found)
                raise UsageError(f"{prog}: option '--{spec}' is ambiguous; possibilities: {names}")
            long_name, key, has_arg = found[0]
            if not has_arg:
                if eq:
                    raise UsageError(f"{prog}: option '--{long_name}' doesn't allow an argument")
                yield key, ""
                continue
            if not eq:
                if i >= len(args):
                    raise UsageError(f"{prog}: option '--{long_name}' requires an argument")
                value = args[i]
                i += 1
            yield key, value
        elif arg.startswith("-") and arg != "-":
            j = 1
            while j < len(arg):
                letter = arg[j]
                j += 1
                if letter not in _SHORT:
                    raise UsageError(f"{prog}: invalid option -- '{letter}'")
                if not _SHORT[letter]:
                    yield letter, ""
                    continue
                if j < len(arg):
                    value = arg[j:]
                elif i < len(args):
                    value = args[i]
                    i += 1
                else:
                    raise UsageError(f"{prog}: option requires an argument -- '{letter}'")
                yield letter, value
                break
        else:
            operands.append(arg)


def parse_timeout(text: str) -> int:
    """``-t``'s value as inotifywait reads it (``strtol`` base 10, the whole
    string, stored in an unsigned int); ``ValueError`` with its message."""
    if not text:
        raise ValueError(
            "The provided value is not a valid timeout value.\nPlease specify a long int value."
        )
    m = re.match(r"[ \t\n\v\f\r]*[+-]?[0-9]+", text)
    if m is None or m.end() != len(text):
        raise ValueError(
            f"'{text}' is not a valid timeout value.\nPlease specify a long int value."
        )
    value = int(m.group())
    if not -(2**63) <= value < 2**63:
        raise ValueError(
            "Something went wrong with the timeout value you provided.\n"
            + os.strerror(errno.ERANGE)
        )
    return value & 0xFFFFFFFF


class Options:
    """What the command line asked for (inotifywait's variables)."""

    def __init__(self) -> None:
        self.events = 0
        self.monitor = False
        self.quiet = 0
        self.timeout = 0
        self.recursive = False
        self.fanotify = False  # -F/-S with -r: one fanotify mark (FanotifyTree)
        self.csv = False
        self.daemon = False
        self.syslog = False
        self.no_dereference = False
        self.format: Optional[str] = None
        self.timefmt: Optional[str] = None
        self.fromfile: Optional[str] = None
        self.outfile: Optional[str] = None
        self.exclude: Optional[str] = None
        self.excludei: Optional[str] = None
        self.include: Optional[str] = None
        self.includei: Optional[str] = None
        self.no_newline = False
        self.paths: List[str] = []


class _Stop(Exception):
    """End the run now with this status (messages already written)."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


def _err(message: str) -> None:
    sys.stderr.write(message + "\n")


def parse_options(args: List[str], prog: str) -> Options:
    """Read *args* as inotifywait does, in the same order, with the same
    messages (on stderr); :class:`_Stop` (status 1) for what it rejects,
    ``--help`` included."""
    o = Options()
    n_exclude = n_excludei = 0
    try:
        for key, value in getopt_long(args, prog, o.paths):
            if key == "h":
                sys.stdout.write(_help(prog))
                sys.stdout.flush()
                raise _Stop(EXIT_FAILURE)
            elif key == "m":
                o.monitor = True
            elif key == "q":
                o.quiet += 1
            elif key == "r":
                o.recursive = True
            elif key == "c":
                o.csv = True
            elif key == "d":
                o.daemon = o.monitor = o.syslog = True
            elif key == "s":
                o.syslog = True
            elif key == "P":
                o.no_dereference = True
            elif key == "f":
                _err(
                    "The '--filename' option no longer exists.  The option it enabled in "
                    "earlier\nversions of inotifywait is now turned on by default."
                )
                raise _Stop(EXIT_FAILURE)
            elif key == "format":
                o.format = value
            elif key == "no-newline":
                o.no_newline = True
            elif key == "timefmt":
                o.timefmt = value
            elif key == "exclude":
                o.exclude = value
                n_exclude += 1
            elif key == "excludei":
                o.excludei = value
                n_excludei += 1
            elif key == "include":
                o.include = value
            elif key == "includei":
                o.includei = value
            elif key in ("fromfile", "o"):
                name = "fromfile" if key == "fromfile" else "outfile"
                if getattr(o, name) is not None:
                    _err(f"Multiple --{name} options given.")
                    raise _Stop(EXIT_FAILURE)
                setattr(o, name, value)
            elif key == "t":
                try:
                    o.timeout = parse_timeout(value)
                except ValueError as exc:
                    _err(str(exc))
                    raise _Stop(EXIT_FAILURE) from None
            elif key == "e":
                bits = str_to_event(value)
                if bits < 0:
                    _err(
                        f"'{value}' is not a valid event!  Run with the '--help' option "
                        "to see a list of events."
                    )
                    raise _Stop(EXIT_FAILURE)
                o.events |= bits
            elif key in ("F", "S"):
                o.fanotify = True  # used by -r (inotifywait -S marks the filesystem too)
            elif key == "I":
                o.fanotify = False
    except UsageError as exc:
        _err(str(exc))
        _err(f"Usage: {prog} [ options ] file1 [ file2 ] [ file3 ] [ ... ]  (--help for more)")
        raise _Stop(EXIT_FAILURE) from None
    if o.format is not None and not o.no_newline:
        o.format += "\n"
    problem = None
    if o.exclude is not None and o.excludei is not None:
        problem = "--exclude and --excludei cannot both be specified."
    elif o.include is not None and o.includei is not None:
        problem = "--include and --includei cannot both be specified."
    elif (o.include is not None or o.includei is not None) and (
        o.exclude is not None or o.excludei is not None
    ):
        problem = "include and exclude regexp cannot both be specified."
    elif o.format is not None and o.csv:
        problem = "-c and --format cannot both be specified."
    elif o.format is None and o.no_newline:
        problem = "--no-newline cannot be specified without --format."
    elif o.format is None and o.timefmt is not None:
        problem = "--timefmt cannot be specified without --format."
    elif o.format is not None and "%T" in o.format and o.timefmt is None:
        problem = "%T is in --format string, but --timefmt was not specified."
    elif o.daemon and o.outfile is None:
        problem = "-o must be specified with -d."
    if problem:
        _err(problem)
        raise _Stop(EXIT_FAILURE)
    if n_exclude > 1:
        _err("--exclude: only the last option will be taken into consideration.")
    if n_excludei > 1:
        _err("--excludei: only the last option will be taken into consideration.")
    return o


_POSIX_CLASSES = {
    "alpha": "a-zA-Z", "digit": "0-9", "alnum": "a-zA-Z0-9", "upper": "A-Z",
    "lower": "a-z", "space": r" \t\n\r\f\v", "blank": r" \t", "xdigit": "0-9A-Fa-f",
    "punct": r"!-/:-@\[-`{-~", "print": r" -~", "graph": r"!-~", "cntrl": r"\x00-\x1f\x7f",
}  # fmt: skip


def compile_posix(pattern: str, icase: bool) -> re.Pattern[str]:
    """A Python regex for an inotifywait (POSIX ERE) pattern: bracket classes
    (``[[:alpha:]]``) and ``\\<``/``\\>`` translated; ``re.error`` if Python
    rejects it."""
    text = re.sub(r"\[:([a-z]+):\]", lambda m: _POSIX_CLASSES.get(m.group(1), m.group(0)), pattern)
    text = text.replace(r"\<", r"\b").replace(r"\>", r"\b")
    return re.compile(text, re.IGNORECASE if icase else 0)


def read_path_list(options: Options, stdin: IO[bytes]) -> Tuple[List[str], List[str]]:
    """inotifywait's file list: ``--fromfile`` lines first, then the
    operands; ``@PATH`` excludes, empty names and a lone ``@`` are skipped."""
    names: List[str] = []
    if options.fromfile is not None:
        try:
            if options.fromfile == "-":
                data = stdin.read()
            else:
                with open(options.fromfile, "rb") as fh:
                    data = fh.read()
        except OSError as exc:
            _err(f"Couldn't open {options.fromfile}: {os.strerror(exc.errno or 0)}")
            data = b""
        names = [os.fsdecode(line) for line in data.split(b"\n")]
    watch: List[str] = []
    exclude: List[str] = []
    for name in names + options.paths:
        if not name or name == "@":
            continue
        if name.startswith("@"):
            exclude.append(name[1:])
        else:
            watch.append(name)
    return watch, exclude


# -- watching -------------------------------------------------------------------


def _isdir(path: str) -> bool:
    """inotify-tools' isdir(): lstat() says directory (a trailing ``/``
    follows a symlink)."""
    try:
        st = os.lstat(path)
    except OSError:
        return False
    return stat.S_ISDIR(st.st_mode)


class Watcher:
    """inotifywait's bookkeeping: wd -> printed path, and (``-m -r``) new,
    moved and moved-out directories."""

    inotify: Inotify
    mask: int
    recursive: bool
    tracking: bool
    events: int
    pad: int
    kernel_mask: int

    def __init__(
        self, mask: int, recursive: bool, monitor: bool = True, no_dereference: bool = False,
        report: Optional[Callable[[str], None]] = None,
    ) -> None:  # fmt: skip
        self.inotify = Inotify()
        self.mask = mask  # what the user asked for: only these events print
        self.recursive = recursive
        # inotifywait tracks directories (and so asks the kernel for more than
        # the user did) only with -m -r; with -r alone it exits on the 1st event
        self.tracking = recursive and monitor
        self.events = mask | (IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM if self.tracking else 0)
        # IGNORED, UNMOUNT and Q_OVERFLOW come whatever the mask; the kernel
        # takes a mask of only those (inotifywait -e ignored) but
        # inotify_add_watch() wants an event bit: pad with DELETE_SELF (it
        # precedes the IGNORED of a deleted inode) and drop what it delivers.
        kernel_mask = self.events & ~(_ALWAYS | IN_ISDIR)
        self.pad = 0 if kernel_mask & IN_ALL_EVENTS else IN_DELETE_SELF
        self.kernel_mask = kernel_mask | self.pad | (IN_DONT_FOLLOW if no_dereference else 0)
        self.paths: Dict[int, str] = {}  # wd -> printed path
        self.moved_from: Optional[str] = None  # a watched directory just moved away
        self.report: Callable[[str], None] = report or _err

    def watch_file(self, path: str) -> None:
        """One watch; as inotify-tools, a directory prints with a final
        ``/`` and a wd already known keeps its first path."""
        wd = self.inotify.watch(path, self.kernel_mask)
        shown = path + "/" if _isdir(path) and not path.endswith("/") else path
        self.paths.setdefault(wd, shown)

    def add(self, path: str, exclude: Optional[List[str]] = None) -> None:
        """Watch *path* (and with ``-r`` every directory below it, depth
        first, skipping the ``@`` *exclude* ones and those that vanish or
        deny access); ``OSError`` as inotifywait fails."""
        if not self.recursive:
            self.watch_file(path)
            return
        try:
            entries = os.listdir(path)
        except NotADirectoryError:
            self.watch_file(path)
            return
        base = path if path.endswith("/") else path + "/"
        excluded = {e[:-1] if e.endswith("/") else e for e in exclude or []}
        for name in entries:
            sub = base + name
            try:
                st = os.lstat(sub)
            except OSError as exc:
                if exc.errno == errno.EACCES:
                    continue
                raise
            if not stat.S_ISDIR(st.st_mode) or sub in excluded:
                continue
            try:
                self.add(sub + "/", exclude)
            except OSError as exc:
                if exc.errno not in (errno.EACCES, errno.ENOENT, errno.ELOOP):
                    raise
        self.watch_file(base)

    def _remove(self, shown: str) -> None:
        """Drop the one watch printed as *shown* (not those below it, as
        inotifywait does); its IN_IGNORED then prints with an empty path."""
        for wd, p in list(self.paths.items()):
            if p == shown:
                del self.paths[wd]
                try:
                    self.inotify.ignore(wd)
                except OSError:
                    pass
                return

    def path_of(self, ev: InotifyEvent) -> Optional[str]:
        """The printed path of *ev*'s watch (``None`` when unknown)."""
        return self.paths.get(ev[0])

    def handle(self, ev: InotifyEvent) -> Optional[str]:
        """Track directories (-m -r); return the default output line, or None.

        As inotifywait: only events the user asked for print (so no
        ``IGNORED``, ``UNMOUNT`` or ``Q_OVERFLOW`` line unless asked with
        ``-e``); a watch that goes away leaves the others (and -m) running.
        An overflow not asked for still gets a warning on stderr.
        """
        wd, mask, _cookie, name = ev
        base = self.paths.get(wd, "")
        line = f"{base} {events_to_str(mask)} {name}" if mask & self.mask else None
        if ev.overflow_event and line is None:
            # Never silent: stdout stays inotifywait's, the warning goes to stderr.
            self.report(
                "Warning: the kernel's inotify queue overflowed, events were lost "
                "(raise fs.inotify.max_queued_events)"
            )
        if ev.ignored_event:
            self.paths.pop(wd, None)
        moved_from = self.moved_from
        if moved_from is not None and not mask & IN_MOVED_TO:
            # MOVED_FROM not followed by MOVED_TO: it left the tree
            self._remove(moved_from)
            self.moved_from = moved_from = None
        if self.tracking and wd in self.paths:
            if mask & IN_CREATE or (moved_from is None and mask & IN_MOVED_TO):
                new = base + name + "/"
                if mask & IN_ISDIR and _isdir(new):
                    try:
                        self.add(new)
                    except OSError as exc:
                        self.report(
                            f"Couldn't watch new directory {new}: {os.strerror(exc.errno or 0)}"
                        )
            elif mask & IN_MOVED_FROM:
                old = base + name + "/"
                if old in self.paths.values():
                    self.moved_from = old
            elif mask & IN_MOVED_TO and moved_from is not None:
                new = base + name + "/"
                for k, p in list(self.paths.items()):
                    if p.startswith(moved_from):
                        self.paths[k] = new + p[len(moved_from) :]
                self.moved_from = None
        return line


class FanotifyWatcher:
    """``-r --fanotify``: :class:`Watcher`'s interface over a
    :class:`~butter.fanotify.FanotifyTree`, whose events become the lines
    of inotifywait's watches (the parent's, then the directory's own)."""

    pad = 0  # (Watcher's: no padding bit here)

    def __init__(
        self, mask: int, monitor: bool = True, report: Optional[Callable[[str], None]] = None
    ) -> None:
        from ..fanotify import FanotifyTree

        self.mask = mask
        self.events = mask
        self.report: Callable[[str], None] = report or _err
        self._excluded: set[str] = set()
        excluded = self._excluded
        wanted = (mask & IN_ALL_EVENTS) | IN_CREATE | IN_DELETE | IN_MOVE | IN_ATTRIB
        self.tree: FanotifyTree = FanotifyTree(None, wanted, exclude=lambda path: path in excluded)
        self.inotify = self  # what _loop reads: fileno(), read_events(), close()
        self._roots: List[Tuple[str, str]] = []  # (absolute, printed with a final /)
        self._wd: Dict[str, int] = {}  # printed directory -> a made-up wd
        self._paths: Dict[int, str] = {}
        self._cookie = 0

    def fileno(self) -> int:
        return self.tree.fileno()

    def close(self) -> None:
        self.tree.close()

    def add(self, path: str, exclude: Optional[List[str]] = None) -> None:
        if not _isdir(path):
            raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), path)
        for e in exclude or []:
            self._excluded.add(os.path.abspath(e))
        self.tree.watch(path)
        printed = path if path.endswith("/") else path + "/"
        self._roots.append((os.path.abspath(path), printed))
        self._roots.sort(key=lambda r: -len(r[0]))  # the innermost root first

    def _printed(self, path: str) -> str:
        for absolute, printed in self._roots:
            if path == absolute:
                return printed
            if path.startswith(absolute.rstrip("/") + "/"):
                return printed + path[len(absolute.rstrip("/")) + 1 :]
        return path

    def _event(self, directory: str, mask: int, cookie: int = 0, name: str = "") -> InotifyEvent:
        wd = self._wd.get(directory)
        if wd is None:
            wd = self._wd[directory] = len(self._wd) + 1
            self._paths[wd] = directory
        return InotifyEvent(wd, mask, cookie, name)

    def read_events(self) -> List[InotifyEvent]:
        out: List[InotifyEvent] = []
        for ev in self.tree.read_events():
            path, mask, src = ev
            if mask & IN_Q_OVERFLOW:
                out.append(InotifyEvent(-1, mask, 0, ""))
                continue
            printed = self._printed(path)
            if printed.endswith("/"):  # a root's own event
                out.append(self._event(printed, mask))
                continue
            parent, name = printed.rsplit("/", 1)
            parent += "/"
            isdir = mask & IN_ISDIR
            own = printed + "/"
            if src is not None or mask & (IN_MOVED_FROM | IN_MOVED_TO):
                self._cookie += 1
                if src is not None:
                    old_parent, old_name = self._printed(src).rsplit("/", 1)
                    out.append(
                        self._event(old_parent + "/", IN_MOVED_FROM | isdir, self._cookie, old_name)
                    )
                out.append(
                    self._event(parent, mask & ~(IN_MOVED_FROM if src else 0), self._cookie, name)
                )
                if isdir and (src is not None or mask & IN_MOVED_FROM):
                    out.append(self._event(own, IN_MOVE_SELF))
                continue
            if isdir and mask & IN_DELETE:
                out.append(self._event(own, IN_DELETE_SELF))
            out.append(self._event(parent, mask, 0, name))
            if isdir and mask & _OWN_TOO:
                out.append(self._event(own, mask))
        return out

    def path_of(self, ev: InotifyEvent) -> Optional[str]:
        return self._paths.get(ev[0])

    def handle(self, ev: InotifyEvent) -> Optional[str]:
        _wd, mask, _cookie, name = ev
        base = self._paths.get(ev[0], "")
        line = f"{base} {events_to_str(mask)} {name}" if mask & self.mask else None
        if ev.overflow_event and line is None:
            self.report(
                "Warning: the kernel's fanotify queue overflowed, events were lost "
                "(the tree was listed again)"
            )
        return line


AnyWatcher = Union[Watcher, FanotifyWatcher]
# Events of a subdirectory that its own inotify watch reports too.
_OWN_TOO = IN_ATTRIB | IN_CLOSE_WRITE | IN_CLOSE_NOWRITE | IN_OPEN | IN_ACCESS


# -- the program ------------------------------------------------------------------


def _prog() -> str:
    """The name ``--help`` shows: the console script's (``butter-inotifywait``) when
    run as one, else ``python -m butter.inotify``."""
    name = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else ""
    return name if name.startswith("butter-inotifywait") else "python -m butter.inotify"


def _help(prog: str) -> str:
    return f"""\
{prog}: an inotifywait (inotify-tools 3.22) replacement.
Wait for events on files and directories.
Usage: {prog} [ options ] file1 [ file2 ] [ file3 ] [ ... ]
Options:
\t-h|--help     \tShow this help text (and exit 1, as inotifywait).
\t@<file>       \tDo not watch <file> (a directory below a -r path).
\t--exclude <pattern>
\t              \tSkip events on paths matching the regular
\t              \texpression <pattern> (the last one given counts).
\t--excludei <pattern>
\t              \tThe same, ignoring case.
\t--include <pattern>
\t              \tSkip events on paths NOT matching <pattern>.
\t--includei <pattern>
\t              \tThe same, ignoring case.
\t-m|--monitor  \tKeep listening (until --timeout passes with no event);
\t              \twithout it the first event ends the run.
\t-d|--daemon   \tLike --monitor, in the background, events to the
\t              \t--outfile file; implies --syslog.
\t-P|--no-dereference
\t              \tWatch symbolic links, not what they point to.
\t-r|--recursive\tWatch directories and everything below them.
\t--fromfile <file>
\t              \tRead the paths to watch (@path: exclude) from <file>,
\t              \tone a line, or from stdin for `-'.
\t-o|--outfile <file>
\t              \tAppend events to <file> instead of stdout.
\t-s|--syslog   \tSend errors to syslog instead of stderr.
\t-q|--quiet    \tNo progress messages, only events.
\t-qq           \tNot even events.
\t--format <fmt>\tPrint each event with <fmt>: %w watched path, %f file
\t              \tname, %e events (%Xe: separated by X), %c cookie,
\t              \t%T time (--timefmt), %0 NUL, %n newline, %% a %.
\t--no-newline  \tNo newline after each --format output.
\t--timefmt <fmt>\tstrftime(3) format of %T.
\t-c|--csv      \tPrint events as CSV.
\t-t|--timeout <seconds>
\t              \tGive up after <seconds> with no event (0: never).
\t-e|--event <event1> [ -e|--event <event2> ... ]
\t\tEvents to listen for (default: all).

Exit status:
\t0  -  An event you asked to watch for was received.
\t1  -  An event you did not ask to watch for was received
\t      (e.g. delete_self or unmount), or an error occurred.
\t2  -  --timeout passed with no event.

Events:
\taccess\t\tcontents read
\tmodify\t\tcontents written
\tattrib\t\tmetadata changed
\tclose_write\tclosed after being opened for writing
\tclose_nowrite\tclosed after being opened read-only
\tclose\t\tclose_write or close_nowrite
\topen\t\topened
\tmoved_to\tmoved into a watched directory
\tmoved_from\tmoved out of a watched directory
\tmove\t\tmoved_to or moved_from
\tmove_self\ta watched file or directory was moved
\tcreate\t\tcreated in a watched directory
\tdelete\t\tdeleted from a watched directory
\tdelete_self\ta watched file or directory was deleted
\tunmount\t\tthe filesystem of a watched file was unmounted
"""


class _Reporter:
    """Progress and error messages: stderr, or syslog with ``-s``/``-d``."""

    def __init__(self) -> None:
        self.syslog: Optional[Callable[[int, str], None]] = None
        self.level = 0

    def open_syslog(self) -> None:
        import syslog

        syslog.openlog(
            "butter-inotifywait", syslog.LOG_CONS | syslog.LOG_PID | syslog.LOG_NDELAY,
            syslog.LOG_DAEMON,
        )  # fmt: skip
        self.syslog = syslog.syslog
        self.level = syslog.LOG_INFO

    def __call__(self, message: str) -> None:
        if self.syslog is not None:
            self.syslog(self.level, message)
        else:
            sys.stderr.write(message + "\n")
            sys.stderr.flush()


def _binary_stdout() -> IO[bytes]:
    buffer = getattr(sys.stdout, "buffer", None)
    if buffer is None:  # a text-only stream (e.g. captured): decode for it

        class _Text:
            def write(self, data: bytes) -> None:
                sys.stdout.write(os.fsdecode(data))

            def flush(self) -> None:
                sys.stdout.flush()

        return _Text()  # type: ignore[return-value]
    sys.stdout.flush()
    return buffer  # type: ignore[no-any-return]


def _daemonize(logfile: str) -> Optional[IO[bytes]]:
    """daemon(0, 0) as inotifywait: fork (the parent gets ``None`` and ends
    with status 0), new session, cwd ``/``, stdin/stderr ``/dev/null``,
    stdout appended to *logfile*; the child gets its stdout."""
    sys.stdout.flush()
    sys.stderr.flush()
    if os.fork():
        return None
    os.setsid()
    os.chdir("/")
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    os.close(devnull)
    fd = os.open(logfile, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(fd, 1)
    os.close(fd)
    return _binary_stdout()


@entry_point
def main(argv: Optional[List[str]] = None) -> int:
    prog = _prog()
    args = sys.argv[1:] if argv is None else list(argv)
    try:
        options = parse_options(args, prog)
    except _Stop as stop:
        return stop.status
    child = False
    try:
        status = _run(options, prog)
    except _Stop as stop:
        status = stop.status
    except _DaemonChild as dc:
        child = True
        status = dc.status
    if child:  # the -d background process never returns into the caller
        try:
            sys.stdout.flush()
        finally:
            os._exit(status)
    return status


class _DaemonChild(Exception):
    """The -d background process has finished with this status."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


def _run(o: Options, prog: str) -> int:
    report = _Reporter()
    events = o.events or IN_ALL_EVENTS
    watcher: AnyWatcher
    try:
        if o.recursive and o.fanotify:
            watcher = FanotifyWatcher(events, o.monitor, report)
        else:
            watcher = Watcher(events, o.recursive, o.monitor, o.no_dereference, report)
    except OSError as exc:
        which = "fanotify" if o.recursive and o.fanotify else "inotify"
        _err(f"Couldn't initialize {which}: {os.strerror(exc.errno or 0)}")
        if exc.errno == errno.EMFILE:
            _err("Try increasing the value of /proc/sys/fs/inotify/max_user_instances")
        return EXIT_FAILURE
    try:
        return _watch(o, watcher, report)
    finally:
        watcher.inotify.close()


def _watch(o: Options, watcher: AnyWatcher, report: _Reporter) -> int:
    pattern: Optional[re.Pattern[str]] = None
    invert = False
    patterns = [
        ("exclude", o.exclude, False), ("exclude", o.excludei, True),
        ("include", o.include, False), ("include", o.includei, True),
    ]  # fmt: skip
    for which, text, icase in patterns:
        if text is not None:
            try:
                pattern = compile_posix(text, icase)
            except re.error:
                _err(f"Error in `{which}' regular expression.")
                return EXIT_FAILURE
            invert = which == "include"
    fmt = os.fsencode(o.format) if o.format is not None else None
    if fmt is not None and (
        not fmt
        or len(fmt) > _MAX_STRLEN
        or format_event(fmt, None, b"", IN_ALL_EVENTS, 0, o.timefmt) is None
    ):
        _err("Something is wrong with your format string.")
        return EXIT_FAILURE
    stdin = getattr(sys.stdin, "buffer", None) or sys.stdin
    watch, exclude = read_path_list(o, stdin)  # type: ignore[arg-type]
    if not watch:
        _err("No files specified to watch!")
        return EXIT_FAILURE
    if o.daemon:
        assert o.outfile is not None
        try:
            os.stat(o.outfile)
            logfile = os.path.realpath(o.outfile)
        except OSError as exc:
            _err(f"{os.strerror(exc.errno or 0)}: {o.outfile}")
            return EXIT_FAILURE
        child_out = _daemonize(logfile)
        if child_out is None:
            return EXIT_SUCCESS  # the parent: the watching goes on in the background
        try:
            status = _loop(o, watcher, report, watch, exclude, child_out, pattern, invert, fmt)
        except BaseException:
            status = EXIT_FAILURE
        raise _DaemonChild(status)
    if o.outfile is not None:
        try:
            fd = os.open(o.outfile, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        except OSError:
            _err(f"Failed to open output file {o.outfile}")
            return EXIT_FAILURE
        with os.fdopen(fd, "wb") as fh:
            return _loop(o, watcher, report, watch, exclude, fh, pattern, invert, fmt)
    return _loop(o, watcher, report, watch, exclude, _binary_stdout(), pattern, invert, fmt)


def _loop(
    o: Options, watcher: AnyWatcher, report: _Reporter, watch: List[str], exclude: List[str],
    out: IO[bytes], pattern: Optional[re.Pattern[str]], invert: bool, fmt: Optional[bytes],
) -> int:  # fmt: skip
    if o.syslog:
        report.open_syslog()
    if not o.quiet:
        if o.recursive:
            report("Setting up watches.  Beware: since -r was given, this may take a while!")
        else:
            report("Setting up watches.")
    for path in watch:
        try:
            watcher.add(path, exclude)
        except OSError as exc:
            if exc.errno == errno.ENOSPC:
                report(f"Failed to watch {path}; upper limit on inotify watches reached!")
                report(
                    "Please increase the amount of inotify watches allowed per user via "
                    "`/proc/sys/fs/inotify/max_user_watches'."
                )
            else:
                report(f"Couldn't watch {path}: {os.strerror(exc.errno or 0)}")
            return EXIT_FAILURE
    if not o.quiet:
        report("Watches established.")
    fd = watcher.inotify.fileno()
    timeout = o.timeout or None
    while True:
        if timeout is not None and not select.select([fd], [], [], timeout)[0]:
            return EXIT_TIMEOUT
        for ev in watcher.inotify.read_events():
            _wd, mask, cookie, name = ev
            if watcher.pad and not mask & ~(watcher.pad | IN_ISDIR):
                continue  # only the padding bit: the kernel would not send it
            where = watcher.path_of(ev)
            if pattern is not None:
                hit = pattern.search((where or "") + name) is not None
                if hit != invert:
                    continue  # excluded: as if it never happened
            asked = mask & watcher.mask
            line = watcher.handle(ev)
            if asked and o.quiet < 2:
                if o.csv:
                    out.write(format_csv(_b(where), os.fsencode(name), mask))
                elif fmt is not None:
                    text = format_event(fmt, _b(where), os.fsencode(name), mask, cookie, o.timefmt)
                    if text is not None:
                        out.write(text)
                elif line is not None:
                    out.write(os.fsencode(line) + b"\n")
            out.flush()
            if not o.monitor:
                # inotifywait exits on the first event it reads, printed
                # or not: 1 if it was not asked for (IGNORED, UNMOUNT...)
                return EXIT_SUCCESS if mask & watcher.events else EXIT_FAILURE


def _b(path: Optional[str]) -> Optional[bytes]:
    return None if path is None else os.fsencode(path)


def program() -> NoReturn:
    """The console script's entry point."""
    run_program(main)


if __name__ == "__main__":
    program()
