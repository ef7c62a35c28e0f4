"""Fresh filesystems in private mount namespaces, for tests.

``in_fs(kind, fn, *args, timeout=...)`` runs ``fn(mountpoint, *args)`` in a
forked child (:func:`conftest.in_child`: its result is returned, its
exception re-raised, a crash or a hang fails the test) that first

* enters a new mount namespace (``unshare(CLONE_NEWNS)``) and makes every
  mount in it private (``mount --make-rprivate /``), so nothing it mounts
  propagates back to the host's namespace;
* mounts a new filesystem of *kind* on an empty temporary directory:

  - ``"tmpfs"``: a tmpfs;
  - ``"ext4"``: a sparse image file in ``/var/tmp`` made by
    ``mkfs.ext4 -q -F`` in the parent, loop-mounted in the child with
    ``mount -o loop`` (the loop device is set to clear itself when the
    filesystem is unmounted, which happens when the namespace dies with
    the child).  The root of the filesystem holds ``lost+found``.

When the child is gone the parent checks that no loop device is still
attached to the image (``losetup -j``), then removes the image and the
mount point.  Nothing on the host changes: the test can put fanotify
filesystem marks, fill the filesystem, or unmount it.

A test is skipped, with the reason, where this cannot work: not root, no
mount namespaces, no loop devices or no ``mkfs.ext4``.

``each_fs`` parametrizes a test over :data:`FILESYSTEMS` (argument ``fs``).
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import tempfile
import time
from typing import Any, Callable, List, Optional, TypeVar

import pytest
from conftest import in_child

FILESYSTEMS = ("tmpfs", "ext4")
each_fs = pytest.mark.parametrize("fs", FILESYSTEMS)

T = TypeVar("T")

IMAGE_DIR = "/var/tmp"


class FsUnavailable(Exception):
    """Raised in the child when the namespace or the mount cannot be made
    for lack of a kernel feature or a tool; :func:`in_fs` turns it into a
    skip."""


@functools.cache
def fs_unavailable(kind: str) -> str:
    """Why a filesystem of *kind* cannot be made here ('' if it can), from
    what can be checked without mounting anything."""
    if kind not in FILESYSTEMS:
        raise ValueError(f"unknown filesystem kind {kind!r}; expected one of {FILESYSTEMS}")
    if os.geteuid() != 0:
        return "needs root (mount namespaces and mounts)"
    if not os.path.exists("/proc/self/ns/mnt"):
        return "no mount namespaces in this kernel"
    if shutil.which("mount") is None:
        return "no mount(8)"
    if kind == "ext4":
        for tool in ("mkfs.ext4", "losetup"):
            if shutil.which(tool) is None:
                return f"no {tool} (install e2fsprogs / util-linux)"
        if not os.path.exists("/dev/loop-control"):
            return "no loop devices (/dev/loop-control missing)"
    return ""


def _run(argv: List[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=60)


def _enter(kind: str, mountpoint: str, image: Optional[str], inodes: Optional[int]) -> None:
    """In the child: private mount namespace, then the new filesystem."""
    from butter import clone, system

    try:
        host_ns = os.readlink("/proc/self/ns/mnt")
        clone.unshare(clone.CLONE_NEWNS)
        if os.readlink("/proc/self/ns/mnt") == host_ns:  # pragma: no cover - sanity
            raise AssertionError("unshare(CLONE_NEWNS) left the mount namespace unchanged")
        system.mount(None, "/", None, system.MS_REC | system.MS_PRIVATE)
    except OSError as exc:
        raise FsUnavailable(f"cannot make a private mount namespace: {exc}") from None
    if kind == "tmpfs":
        options = "mode=0755" + (f",nr_inodes={inodes}" if inodes else "")
        system.mount("tmpfs", mountpoint, "tmpfs", 0, options)
    else:
        assert image is not None
        done = _run(["mount", "-t", "ext4", "-o", "loop", image, mountpoint])
        if done.returncode != 0:
            raise FsUnavailable(f"cannot loop-mount an ext4 image: {done.stderr.strip()}")


def _body(
    kind: str,
    mountpoint: str,
    image: Optional[str],
    inodes: Optional[int],
    fn: Callable[..., Any],
    args: tuple[Any, ...],
) -> Any:
    _enter(kind, mountpoint, image, inodes)
    return fn(mountpoint, *args)


def _make_image(size_mb: int, inodes: Optional[int]) -> str:
    fd, image = tempfile.mkstemp(prefix="butter-fsenv-", suffix=".ext4", dir=IMAGE_DIR)
    try:
        os.ftruncate(fd, size_mb << 20)  # sparse
    finally:
        os.close(fd)
    argv = ["mkfs.ext4", "-q", "-F", "-E", "nodiscard"]
    if inodes:
        argv += ["-N", str(inodes)]
    done = _run([*argv, image])
    if done.returncode != 0:
        os.unlink(image)
        raise RuntimeError(f"mkfs.ext4 failed: {done.stderr.strip()}")
    return image


def loops_on(image: str) -> List[str]:
    """The loop devices attached to *image* (``losetup -j``)."""
    out = _run(["losetup", "-j", image]).stdout
    return [line.split(":", 1)[0] for line in out.splitlines() if line.strip()]


def _release(image: str) -> None:
    """Wait (bounded) for the loop device to clear itself; detach it and
    fail if it does not."""
    deadline = time.monotonic() + 10
    while True:
        left = loops_on(image)
        if not left:
            return
        if time.monotonic() > deadline:
            for dev in left:
                _run(["losetup", "-d", dev])
            raise AssertionError(f"loop device(s) {left} still attached to {image} after the test")
        time.sleep(0.02)


def in_fs(
    kind: str,
    fn: Callable[..., T],
    *args: Any,
    timeout: float = 60.0,
    size_mb: int = 256,
    inodes: Optional[int] = None,
) -> T:
    """``fn(mountpoint, *args)`` in a child, on a fresh filesystem of
    *kind* (``"tmpfs"`` or ``"ext4"``) mounted at *mountpoint* in a private
    mount namespace; its result, or its exception re-raised.

    *timeout* bounds the whole child (mount included).  *size_mb* is the
    size of the ext4 image (sparse: only what is written takes space);
    *inodes*, if given, the number of inodes (``mkfs.ext4 -N``, tmpfs
    ``nr_inodes``).  Skips the calling test where the filesystem cannot be
    made (see :func:`fs_unavailable`).
    """
    reason = fs_unavailable(kind)
    if reason:
        pytest.skip(f"{kind}: {reason}")
    mountpoint = tempfile.mkdtemp(prefix=f"butter-fsenv-{kind}-")
    image = _make_image(size_mb, inodes) if kind == "ext4" else None
    try:
        try:
            result: T = in_child(_body, kind, mountpoint, image, inodes, fn, args, timeout=timeout)
            return result
        except FsUnavailable as exc:
            pytest.skip(f"{kind}: {exc}")
    finally:
        try:
            if image is not None:
                _release(image)
        finally:
            if image is not None:
                os.unlink(image)
            os.rmdir(mountpoint)  # empty: the filesystem was mounted only in the child
