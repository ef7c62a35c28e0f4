"""tests/fsenv.py: the filesystem is there in the child, on its own mount,
of the kind asked for; the parent's mounts do not change; no loop device
is left behind; results and exceptions come back."""

from __future__ import annotations

import os
import subprocess

import pytest
from fsenv import FILESYSTEMS, each_fs, fs_unavailable, in_fs


def mountinfo() -> str:
    with open("/proc/self/mountinfo") as f:
        return f.read()


def loop_devices() -> str:
    return subprocess.run(["losetup", "-a"], capture_output=True, text=True, check=True).stdout


def look(mountpoint: str, parent_ns: str) -> tuple[str, str, bool, list[str], bool]:
    """In the child: the filesystem type at *mountpoint*, whether it is a
    mount point of a namespace other than *parent_ns*, what it holds, and
    whether it can be written."""
    fstype = ""
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            if fields[4] == mountpoint:
                fstype = fields[fields.index("-") + 1]
    ns = os.readlink("/proc/self/ns/mnt")
    with open(os.path.join(mountpoint, "file"), "w") as f:
        f.write("x")
    return fstype, ns, os.path.ismount(mountpoint), sorted(os.listdir(mountpoint)), ns != parent_ns


@each_fs
def test_mount_in_child_only(fs):
    before, loops = mountinfo(), loop_devices()
    ns = os.readlink("/proc/self/ns/mnt")

    def child(mountpoint: str, parent_ns: str) -> tuple[str, str, bool, list[str], bool]:
        return look(mountpoint, parent_ns)

    fstype, child_ns, is_mount, listing, own_ns = in_fs(fs, child, ns)
    assert fstype == fs
    assert is_mount and own_ns and child_ns != ns
    expected = ["file", "lost+found"] if fs == "ext4" else ["file"]
    assert listing == expected
    assert mountinfo() == before  # nothing propagated to the host
    assert loop_devices() == loops  # the loop device cleared itself


@each_fs
def test_mountpoint_removed_and_private(fs):
    def child(mountpoint: str) -> str:
        # a mount below the new filesystem stays in this namespace too
        sub = os.path.join(mountpoint, "sub")
        os.mkdir(sub)
        subprocess.run(["mount", "-t", "tmpfs", "tmpfs", sub], check=True)
        return mountpoint

    before = mountinfo()
    mountpoint = in_fs(fs, child)
    assert mountinfo() == before
    assert not os.path.exists(mountpoint)


@each_fs
def test_exception_comes_back(fs):
    loops = loop_devices()

    def child(mountpoint: str) -> None:
        raise KeyError(os.path.basename(mountpoint))

    with pytest.raises(KeyError):
        in_fs(fs, child)
    assert loop_devices() == loops


def test_timeout_kills_the_child_and_cleans_up():
    import time

    loops = loop_devices()

    def child(mountpoint: str) -> None:
        time.sleep(60)

    with pytest.raises(AssertionError, match="still running"):
        in_fs("ext4", child, timeout=1.0)
    assert loop_devices() == loops


def test_sizes():
    def child(mountpoint: str) -> tuple[int, int]:
        st = os.statvfs(mountpoint)
        return st.f_blocks * st.f_frsize, st.f_files

    size, inodes = in_fs("ext4", child, size_mb=64, inodes=4096)
    assert 48 << 20 < size <= 64 << 20
    assert 4096 <= inodes < 8192
    _, inodes = in_fs("tmpfs", child, inodes=1000)
    assert inodes == 1000


def test_unknown_kind():
    with pytest.raises(ValueError, match="unknown filesystem kind"):
        fs_unavailable("xfs")
    assert FILESYSTEMS == ("tmpfs", "ext4")
