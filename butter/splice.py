"""splice(2), tee(2), vmsplice(2): move data through pipes inside the kernel.

Thin wrappers:

* :func:`splice` moves up to *len* bytes between a pipe and another fd
  (or between two pipes) without copying them through user space.
* :func:`tee` duplicates up to *len* bytes from one pipe into another
  without consuming them.
* :func:`vmsplice` moves user memory into a pipe (or a pipe's data into
  user memory).

And a helper, :func:`splice_copy`, that copies a whole file (or stream) to a
socket, pipe or file through a pipe until end of file, dealing with partial
transfers, non-blocking fds and the pipe size (the asyncio variant is
:func:`butter.asyncio.splice.splice_copy_async`).

Offsets.  An offset of ``None`` means the fd's own file position: the kernel
reads/writes there and advances it.  An ``int`` offset reads/writes at that
offset and leaves the fd's position alone (C passes a pointer to a private
``loff_t``).  A pipe has no offsets: giving one fails with ``ESPIPE``, as
``os.splice`` does.

Compatibility with the original Butter.  Butter 0.9 and 0.13.1 took
``splice(fd_in, fd_out, in_offset=0, out_offset=0, len=0, flags=0)`` where
an offset of 0 meant "no offset" (a NULL pointer: the fd's own position).
butter keeps C's and ``os.splice``'s meaning (0 is offset 0), so an old
call such as ``splice(r, w, 0, 0, n)`` between pipes fails with ``ESPIPE``;
its message then says to pass ``None``.  On a regular file an old call
that meant "the file position" reads/writes at offset 0 without moving the
position: pass ``None`` for the old meaning.

``vmsplice`` and memory lifetime.  Without help from butter, vmsplice(2)
makes the pipe *reference* the caller's pages instead of copying them, and
the reader sees whatever those pages hold when it finally reads: bytes
that Python has meanwhile freed, reused or changed.  So:

* by default (``zero_copy=False``) butter copies the data into fresh
  anonymous pages, splices *those*, and unmaps them straight away; the pipe
  then holds the only references to pages nobody else can write.  The
  caller may reuse or free its buffers as soon as the call returns;
* ``zero_copy=True`` hands the kernel the caller's own memory.  It is the
  caller's promise that the buffers stay alive and unchanged until the
  reader has consumed the data (for example: an ``mmap`` or ``bytes``
  object kept referenced until the other end acknowledged it);
* reading (when *fd* is a pipe's read end) always copies out of the pipe
  into the given buffers, which must be writable (``bytearray``,
  ``memoryview`` of writable memory, ``mmap``, ...); a ``bytes`` object
  is refused with ``TypeError``.
"""

from __future__ import annotations

import errno as _errno
import fcntl as _fcntl
import os
import select
import stat

from ._args import FdArg, fileno, to_flags, to_int
from ._errors import raise_errno, retry_or_raise
from ._lowlevel import ffi, lib

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Iterable, List, NoReturn, Optional, Tuple, Union

    from typing_extensions import Buffer

    Buffers = Union[Buffer, Iterable[Buffer]]

__all__ = [
    "F_GETPIPE_SZ",
    "F_SETPIPE_SZ",
    "SPLICE_F_GIFT",
    "SPLICE_F_MORE",
    "SPLICE_F_MOVE",
    "SPLICE_F_NONBLOCK",
    "get_pipe_size",
    "set_pipe_size",
    "splice",
    "splice_copy",
    "tee",
    "vmsplice",
]

SPLICE_F_MOVE: int = lib.SPLICE_F_MOVE
SPLICE_F_NONBLOCK: int = lib.SPLICE_F_NONBLOCK
SPLICE_F_MORE: int = lib.SPLICE_F_MORE
SPLICE_F_GIFT: int = lib.SPLICE_F_GIFT
F_GETPIPE_SZ: int = lib.F_GETPIPE_SZ
F_SETPIPE_SZ: int = lib.F_SETPIPE_SZ

_EAGAIN = _errno.EAGAIN
_EINTR = _errno.EINTR
#: What :func:`splice_copy` asks for when no pipe size is given.
DEFAULT_PIPE_SIZE = 1 << 20

_splice = lib.butter_splice
_tee = lib.tee


def _offset(name: str, value: Optional[int]) -> int:
    """An offset argument: ``None`` (-1 for C: the fd's own position) or a
    non-negative ``off_t``."""
    if value is None:
        return -1
    return to_int(name, value, "off_t", 0)


# -- compatibility with the original Butter (0.9, 0.13.1) ----------------------------
def _old_zero_offset(in_offset: Optional[int], out_offset: Optional[int]) -> NoReturn:
    """``ESPIPE`` for an offset of 0 on a pipe or socket, saying what the
    original Butter meant by it (its default offsets were 0, "no offset")."""
    names = [n for n, v in (("in_offset", in_offset), ("out_offset", out_offset)) if v == 0]
    raise OSError(
        _errno.ESPIPE,
        f"{os.strerror(_errno.ESPIPE)}: an offset on a pipe or socket ("
        + ", ".join(f"{n}=0" for n in names)
        + "); the original Butter's offset 0 meant 'no offset': pass "
        + ", ".join(f"{n}=None" for n in names),
    )


def get_pipe_size(fd: FdArg) -> int:
    """Return the capacity of the pipe *fd* in bytes (``F_GETPIPE_SZ``)."""
    return _fcntl.fcntl(fileno(fd), F_GETPIPE_SZ)


def set_pipe_size(fd: FdArg, size: int) -> int:
    """Ask for a pipe capacity of *size* bytes; return what the kernel chose.

    The kernel rounds up to a power-of-two number of pages; unprivileged
    users are limited by ``/proc/sys/fs/pipe-max-size`` (``EPERM``) and
    shrinking below the data in the pipe fails with ``EBUSY``.
    """
    fd = fileno(fd)
    size = to_int("size", size, "int", 1)
    return _fcntl.fcntl(fd, F_SETPIPE_SZ, size)


def _capacity(*fds: int) -> int:
    """The capacity of the first of *fds* that is a pipe."""
    for fd in fds:
        try:
            return _fcntl.fcntl(fd, F_GETPIPE_SZ)
        except OSError as exc:
            if exc.errno == _errno.EBADF and _is_open(fd):
                continue  # open but not a pipe: F_GETPIPE_SZ says EBADF
            raise
    raise OSError(_errno.EINVAL, "neither fd is a pipe: len must be given")


def _is_open(fd: int) -> bool:
    try:
        os.fstat(fd)
    except OSError:
        return False
    return True


def splice(
    fd_in: FdArg,
    fd_out: FdArg,
    in_offset: Optional[int] = None,
    out_offset: Optional[int] = None,
    len: Optional[int] = None,
    flags: int = 0,
) -> int:
    """Move up to *len* bytes from *fd_in* to *fd_out*; return the count.

    One of the two must be a pipe.  An offset of ``None`` uses (and
    advances) the fd's file position; an ``int`` reads/writes at that
    offset and leaves the position unchanged.  ``len=None`` means the
    capacity of the pipe involved (``F_GETPIPE_SZ``).  0 means end of input
    (or *len* was 0).  *flags*: ``SPLICE_F_MOVE | SPLICE_F_NONBLOCK |
    SPLICE_F_MORE``.  With ``SPLICE_F_NONBLOCK`` (or non-blocking fds) an
    operation that would block raises ``BlockingIOError`` (``EAGAIN``).

    An offset on a pipe or socket fails with ``ESPIPE``; when it is 0, the
    message says that the original Butter's 0 ("no offset") is ``None``.
    """
    fd_in = fileno(fd_in)
    fd_out = fileno(fd_out)
    off_in = _offset("in_offset", in_offset)
    off_out = _offset("out_offset", out_offset)
    flags = to_flags("flags", flags)
    n = _capacity(fd_in, fd_out) if len is None else to_int("len", len, "size_t")
    while True:
        r: int = _splice(fd_in, off_in, fd_out, off_out, n, flags)
        if r >= 0:
            return r
        if ffi.errno == _errno.ESPIPE and 0 in (in_offset, out_offset):
            _old_zero_offset(in_offset, out_offset)
        retry_or_raise()


def tee(fd_in: FdArg, fd_out: FdArg, len: Optional[int] = None, flags: int = 0) -> int:
    """Duplicate up to *len* bytes from pipe *fd_in* into pipe *fd_out*.

    The data stays in *fd_in* (it is not consumed).  Returns the count; 0
    if *fd_in* is empty and has no writers.  ``len=None`` means
    *fd_in*'s capacity.
    """
    fd_in = fileno(fd_in)
    fd_out = fileno(fd_out)
    flags = to_flags("flags", flags)
    n = _capacity(fd_in) if len is None else to_int("len", len, "size_t")
    while True:
        r: int = _tee(fd_in, fd_out, n, flags)
        if r >= 0:
            return r
        retry_or_raise()


def _as_buffers(buffers: Buffers) -> List[Any]:
    try:
        memoryview(buffers)  # type: ignore[arg-type]
    except TypeError:
        pass
    else:
        return [buffers]
    if isinstance(buffers, (str, int)) or buffers is None:
        raise TypeError(
            f"buffers must be a bytes-like object or an iterable of them, "
            f"not {type(buffers).__name__!r}"
        )
    try:
        return list(buffers)  # type: ignore[arg-type]
    except TypeError:
        raise TypeError(
            f"buffers must be a bytes-like object or an iterable of them, "
            f"not {type(buffers).__name__!r}"
        ) from None


def _cbuffer(obj: Any, writable: bool) -> Any:
    try:
        view = memoryview(obj)
    except TypeError:
        raise TypeError(f"a bytes-like object is required, not {type(obj).__name__!r}") from None
    with view:
        if writable and view.readonly:
            raise TypeError(
                "vmsplice reads from the pipe into the buffers: they must be "
                f"writable, not {type(obj).__name__!r}"
            )
        if not view.contiguous:
            raise ValueError("buffers must be contiguous")
    return ffi.from_buffer(obj, require_writable=writable)


def vmsplice(fd: FdArg, buffers: Buffers, flags: int = 0, *, zero_copy: bool = False) -> int:
    """Move user memory into the pipe *fd*, or pipe data into user memory.

    *buffers* is a bytes-like object or an iterable of them.  The direction
    follows *fd* as in the kernel: a write end (``O_WRONLY``/``O_RDWR``)
    receives the bytes of *buffers*; a read end fills *buffers* (which must
    be writable) from the pipe.  Returns the number of bytes moved, which
    may be less than asked for (a full pipe with ``SPLICE_F_NONBLOCK``, a
    pipe with less data than the buffers hold).

    Writing copies the data by default, so the buffers may be reused at
    once; ``zero_copy=True`` lets the pipe reference the caller's memory,
    which must then stay alive and unchanged until the data was read (see
    the module documentation).  *flags*: ``SPLICE_F_NONBLOCK``,
    ``SPLICE_F_GIFT``.
    """
    fd = fileno(fd)
    flags = to_flags("flags", flags)
    if type(zero_copy) is not bool:
        raise TypeError("zero_copy must be a bool")
    items = _as_buffers(buffers)
    # As the kernel: a write end (O_WRONLY or O_RDWR) is written to.
    writing = bool(_fcntl.fcntl(fd, _fcntl.F_GETFL) & (os.O_WRONLY | os.O_RDWR))
    cbufs = [_cbuffer(b, not writing) for b in items]
    n = len(cbufs)
    bases = ffi.new("void *[]", n or 1)
    lens = ffi.new("size_t[]", n or 1)
    for i, c in enumerate(cbufs):
        bases[i] = c
        lens[i] = len(c)
    copy = 1 if writing and not zero_copy else 0
    while True:
        r: int = lib.butter_vmsplice(fd, bases, lens, n, flags, copy)
        if r >= 0:
            return r
        retry_or_raise()


# -- the copy helper -----------------------------------------------------------
_PAGE = os.sysconf("SC_PAGE_SIZE")
_EIO = _errno.EIO


def _make_pipe(size: Optional[int]) -> Tuple[int, int, int]:
    """A close-on-exec pipe of about *size* bytes: ``(r, w, capacity)``."""
    r, w = os.pipe2(os.O_CLOEXEC)
    try:
        if size is None:
            try:
                cap = _fcntl.fcntl(w, F_SETPIPE_SZ, DEFAULT_PIPE_SIZE)
            except OSError:  # EPERM: over the per-user pipe budget
                cap = _fcntl.fcntl(w, F_GETPIPE_SZ)  # may be as small as 2 pages
        else:
            cap = _fcntl.fcntl(w, F_SETPIPE_SZ, size)
    except BaseException:
        os.close(r)
        os.close(w)
        raise
    return r, w, cap


def _check_copy_args(
    src: FdArg,
    dst: FdArg,
    count: Optional[int],
    src_offset: Optional[int],
    dst_offset: Optional[int],
    pipe_size: Optional[int],
) -> Tuple[int, int, int, int, int, Optional[int]]:
    fd_in = fileno(src)
    fd_out = fileno(dst)
    limit = -1 if count is None else to_int("count", count, "int64_t", 0)
    off_in = _offset("src_offset", src_offset)
    off_out = _offset("dst_offset", dst_offset)
    if pipe_size is not None:
        pipe_size = to_int("pipe_size", pipe_size, "int", 1)
    return fd_in, fd_out, limit, off_in, off_out, pipe_size


def _may_wait_for_peer(fd: int, mode: int) -> bool:
    """Whether a splice between a pipe and *fd* may sleep on *fd*'s peer.

    The kernel holds the pipe's lock while it reads or writes the other
    fd: a blocking socket (or tty, ...) that waits for its peer keeps
    every other reader, writer and closer of that pipe waiting as well.
    Files and block devices never wait for a peer, non-blocking fds do
    not wait at all, and between two pipes the kernel drops the locks
    before it waits.
    """
    if stat.S_ISFIFO(mode) or stat.S_ISREG(mode) or stat.S_ISBLK(mode):
        return False
    return os.get_blocking(fd)


class _Pump:
    """The copy loop shared by :func:`splice_copy` and its asyncio variant.

    When one end already is a pipe and the other end never makes the
    kernel wait for a peer while it holds that pipe's lock (a file, a
    pipe, a non-blocking fd), the data is spliced straight from *src* to
    *dst* (nothing is held in between).  Otherwise it goes through a
    private pipe: a *fill* splices *src* into the pipe, a *drain* splices
    the pipe into *dst*.  A caller's pipe is then only ever spliced to or
    from the private pipe, which waits with both locks dropped: its other
    readers, writers and closers never wait for the copy's socket.
    Through the private pipe, this is what keeps the copy from
    deadlocking, whatever the pipe size and the fd kinds:

        **The pump never sleeps on src while its pipe holds undelivered
        bytes.**

    A pipe's room is counted in pages (one per pipe buffer), not in bytes:
    a socket can spread a few bytes over many buffers, a file read at an
    odd offset takes one page more than its length.  So no byte count can
    promise that a fill fits next to data already in the pipe, and a fill
    that waits for room while nobody drains waits forever; a fill that
    waits for more input while holding a message its peer is waiting for
    waits forever too.  Two loops keep the invariant:

    * the C pump (``butter_splice_pump``) reads one chunk ahead, so a chunk
      goes out with ``SPLICE_F_MORE`` only when more data really follows.
      It runs only when its fills cannot sleep: always with
      ``SPLICE_F_NONBLOCK`` (no wait for room: on ``EAGAIN`` it delivers
      all it holds, then says ``EAGAIN``, with the pipe empty), and only
      from sources that never wait for a peer (regular files, block
      devices) or that are non-blocking;
    * :meth:`_drain_then_fill`, for the others (a blocking socket, a tty),
      delivers everything in the pipe before each fill, and fills only an
      empty pipe.

    :meth:`step` returns 0 when the copy is done, 1 after moving *budget*
    bytes (call it again), -1 after ``EAGAIN`` (wait for what :meth:`waits`
    names, then call it again); any other error raises ``OSError``.
    """

    __slots__ = (
        "budget",
        "chunk",
        "fd_in",
        "fd_out",
        "flags",
        "in_mode",
        "limit",
        "out_mode",
        "pipe_r",
        "pipe_w",
        "read_ahead",
        "state",
    )

    def __init__(
        self,
        src: FdArg,
        dst: FdArg,
        count: Optional[int],
        src_offset: Optional[int],
        dst_offset: Optional[int],
        pipe_size: Optional[int],
        flags: int,
        budget: int,
    ) -> None:
        self.pipe_r = self.pipe_w = -1
        fd_in, fd_out, limit, off_in, off_out, pipe_size = _check_copy_args(
            src, dst, count, src_offset, dst_offset, pipe_size
        )
        self.fd_in, self.fd_out, self.limit = fd_in, fd_out, limit
        self.in_mode = in_mode = os.fstat(fd_in).st_mode
        self.out_mode = os.fstat(fd_out).st_mode
        st = ffi.new("struct butter_pump *")
        st.in_off = off_in
        st.out_off = off_out
        self.state = st
        self.flags = flags
        self.budget = budget
        self.read_ahead = False
        # Straight through only if the splice never sleeps on a peer while
        # it holds the caller's pipe lock: splice(blocking socket -> pipe)
        # waits for input with the pipe locked, so the pipe's reader could
        # not take the bytes already in it (a request/answer peer then
        # waits forever); splice(pipe -> blocking socket) waits for room
        # with the pipe locked, so its writer's write() and close() waited
        # for the socket (and on PyPy, whose os.close keeps the GIL, every
        # thread with them).
        if stat.S_ISFIFO(in_mode) and not _may_wait_for_peer(fd_out, self.out_mode):
            self.chunk = pipe_size or _fcntl.fcntl(fd_in, F_GETPIPE_SZ)
            return
        if stat.S_ISFIFO(self.out_mode) and not _may_wait_for_peer(fd_in, in_mode):
            self.chunk = pipe_size or _fcntl.fcntl(fd_out, F_GETPIPE_SZ)
            return
        self.pipe_r, self.pipe_w, cap = _make_pipe(pipe_size)
        # Invariant: the pump never sleeps on src while its pipe holds
        # undelivered bytes.  The C pump fills a pipe that still holds the
        # previous chunk, so it runs only where no fill can sleep: with
        # SPLICE_F_NONBLOCK (no wait for room) from a source that never
        # waits for a peer.  Reading ahead also needs two chunks of a page.
        never_sleeps = stat.S_ISREG(in_mode) or stat.S_ISBLK(in_mode) or not os.get_blocking(fd_in)
        if never_sleeps and cap >= 2 * _PAGE:
            self.read_ahead = True
            self.flags = flags | SPLICE_F_NONBLOCK
            self.chunk = cap // 2
        else:
            self.chunk = cap

    def step(self) -> int:
        """Copy until done (0), out of budget (1) or ``EAGAIN`` (-1)."""
        if self.pipe_w >= 0 and not self.read_ahead:
            return self._drain_then_fill()
        while True:
            r: int = lib.butter_splice_pump(
                self.state,
                self.fd_in,
                self.pipe_r,
                self.pipe_w,
                self.fd_out,
                self.chunk,
                self.limit,
                self.budget,
                self.flags,
            )
            if r >= 0:
                return r
            err = ffi.errno
            if err == _EAGAIN:
                return -1
            if err != _EINTR:
                raise_errno(err)

    def _drain_then_fill(self) -> int:
        """fd_in -> private pipe -> fd_out, one pipeful at a time.

        Keeps the invariant by construction: everything spliced into the
        pipe is delivered before the next fill, so the fill (the only
        splice here that may sleep on fd_in) always finds the pipe empty,
        and an empty pipe always has room.
        """
        splice = _splice
        st = self.state
        fd_in, fd_out, pipe_r, pipe_w = self.fd_in, self.fd_out, self.pipe_r, self.pipe_w
        flags, chunk, limit = self.flags, self.chunk, self.limit
        in_off, out_off, pending, done = st.in_off, st.out_off, st.pending, st.done
        stop = done + self.budget if self.budget >= 0 else -1
        try:
            while True:
                while pending:  # drain: may wait for fd_out, which consumes
                    n: int = splice(pipe_r, -1, fd_out, out_off, pending, flags)
                    if n > 0:
                        if out_off >= 0:
                            out_off += n
                        pending -= n
                        done += n
                        continue
                    if n == 0:  # the pipe holds data: cannot happen
                        raise_errno(_EIO)
                    err = ffi.errno
                    if err == _EAGAIN:
                        st.side = 1
                        return -1
                    if err != _EINTR:
                        raise_errno(err)
                want = chunk
                if limit >= 0 and limit - done < want:
                    want = limit - done
                if st.eof or want == 0:
                    return 0
                if stop >= 0 and done >= stop:
                    return 1
                # Fill.  The pipe is empty: waiting here for fd_in holds
                # nothing back, and there is room for at least one buffer.
                n = splice(fd_in, in_off, pipe_w, -1, want, flags)
                if n > 0:
                    if in_off >= 0:
                        in_off += n
                    pending = n
                elif n == 0:
                    st.eof = 1
                else:
                    err = ffi.errno
                    if err == _EAGAIN:
                        st.side = 0
                        return -1
                    if err != _EINTR:
                        raise_errno(err)
        finally:
            st.in_off, st.out_off, st.pending, st.done = in_off, out_off, pending, done

    @property
    def done(self) -> int:
        """Bytes delivered to fd_out so far."""
        return int(self.state.done)

    def per_chunk(self) -> None:
        """Make :meth:`step` come back after every chunk (a pipeful), for
        a progress callback: one more C call per chunk, nothing per byte."""
        self.budget = self.chunk

    def close(self) -> None:
        for fd in (self.pipe_r, self.pipe_w):
            if fd >= 0:
                os.close(fd)
        self.pipe_r = self.pipe_w = -1

    def waits(self) -> List[Tuple[int, bool]]:
        """After ``EAGAIN``: the ``(fd, want_write)`` pairs to wait for, in
        turn.  Regular files are left out: poll always finds them ready
        (and epoll refuses them)."""
        if self.pipe_w >= 0:
            waits = [(self.fd_out, True)] if self.state.side else [(self.fd_in, False)]
        else:
            # Straight through: either end may have said EAGAIN.
            waits = [(self.fd_out, True), (self.fd_in, False)]
        in_mode, out_mode = self.in_mode, self.out_mode
        return [(fd, w) for fd, w in waits if not stat.S_ISREG(out_mode if w else in_mode)]


def _check_progress(progress: object) -> None:
    """``TypeError`` unless *progress* is callable or ``None``."""
    if progress is not None and not callable(progress):
        raise TypeError(f"progress must be callable or None, not {type(progress).__name__!r}")


def _wait_fd(fd: int, write: bool) -> None:
    poller = select.poll()
    poller.register(fd, select.POLLOUT if write else select.POLLIN)
    poller.poll()


def splice_copy(
    src: FdArg,
    dst: FdArg,
    count: Optional[int] = None,
    *,
    src_offset: Optional[int] = None,
    dst_offset: Optional[int] = None,
    pipe_size: Optional[int] = None,
    progress: Optional[Callable[[int], object]] = None,
) -> int:
    """Copy *src* to *dst* inside the kernel until end of file; return the
    number of bytes copied.

    *src* is anything splice(2) can read (a regular file, a pipe, a
    socket, ...) and *dst* anything it can write (a socket, a pipe, a
    regular file, ...).  The data goes through a private pipe of
    *pipe_size* bytes (default 1 MiB, or the system default if the
    per-user pipe budget refuses that), unless one end already is a pipe
    and the other a file, a pipe or a non-blocking fd: then it is spliced
    straight across, *pipe_size* bytes at a time (default: that pipe's
    size).  *count* stops after that many bytes; offsets work as in
    :func:`splice` (the fds' positions advance when they are ``None``).

    Any pipe size works.  Bytes read are delivered before the copy waits
    for more input, so a peer that answers a message before sending the
    next one gets it at once; bytes read from a file go out with
    ``SPLICE_F_MORE`` only while more data is known to follow.  A pipe
    given as *src* or *dst* stays usable by its other readers, writers
    and closers while the copy waits for a blocking socket (the kernel
    would hold the pipe's lock during a splice straight between them).

    Partial transfers are resumed; non-blocking fds are waited for with
    ``poll(2)``; ``EINTR`` is retried after running signal handlers.  Any
    other error raises ``OSError`` (the bytes already in flight are then
    lost, as with a failed ``write``).

    *progress*, if given, is called with the number of bytes delivered to
    *dst* so far after each chunk (a pipeful, *pipe_size* bytes or less) that
    moved data, the last time with the total: a call per chunk, not per
    byte, so it does not slow the copy down.  An exception it raises stops
    the copy and propagates (as for ``OSError``, bytes in flight are lost).
    """
    _check_progress(progress)
    # The budget brings the C loop back to Python now and then, where
    # signal handlers run (KeyboardInterrupt during a long file copy).
    pump = _Pump(src, dst, count, src_offset, dst_offset, pipe_size, SPLICE_F_MOVE, 1 << 26)
    try:
        if progress is not None:
            pump.per_chunk()
        reported = 0
        while True:
            r = pump.step()
            if progress is not None:
                done = pump.done
                if done != reported:
                    reported = done
                    progress(done)
            if r == 0:
                return pump.done
            if r < 0:
                for fd, write in pump.waits():
                    _wait_fd(fd, write)
    finally:
        pump.close()
