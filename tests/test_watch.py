"""butter.watch: watch_tree / watch_tree_async pick the backend.

The choice is checked against what the kernel allows: as root on a fresh
tmpfs (private mount namespace, :mod:`fsenv`) fanotify; without
CAP_SYS_ADMIN, on a filesystem without file handles, or when asked,
inotify; a forced backend raises instead of falling back.
"""

from __future__ import annotations

import asyncio
import os

import pytest
from conftest import in_child, open_fds
from fsenv import in_fs

from butter import watch
from butter.inotify import IN_CREATE, InotifyTree

root_only = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")


def _fresh_choice():
    watch._usable = None  # as if the process asked for the first time


def test_arguments_are_checked_first():
    with pytest.raises(ValueError, match="backend must be one of 'auto', 'fanotify', 'inotify'"):
        watch.watch_tree("/", backend="dnotify")
    with pytest.raises(TypeError, match="backend must be a str"):
        watch.watch_tree("/", backend=1)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="unexpected keyword argument 'bogus'"):
        watch.watch_tree("/", bogus=1)
    with pytest.raises(TypeError, match="'move_wait'"):
        watch.watch_tree("/", backend="fanotify", move_wait=0.1)
    with pytest.raises(TypeError, match="'mark'"):
        watch.watch_tree("/", backend="inotify", mark="filesystem")
    with pytest.raises(TypeError, match="'move_wait'"):
        watch.watch_tree_async("/", move_wait=0.1)
    assert watch.BACKENDS == ("auto", "fanotify", "inotify")


def test_inotify_when_asked(tmp_path):
    with watch.watch_tree(tmp_path, backend="inotify") as tree:
        assert isinstance(tree, InotifyTree) and tree.backend == "inotify"
        (tmp_path / "x").mkdir()
        event = tree.wait(5)
        assert event is not None and event.path == str(tmp_path / "x")


def test_errors_of_the_path_are_not_hidden(tmp_path):
    for backend in watch.BACKENDS:
        with pytest.raises(FileNotFoundError):
            watch.watch_tree(tmp_path / "missing", backend=backend)
    (tmp_path / "f").write_text("")
    with pytest.raises(NotADirectoryError):
        watch.watch_tree(tmp_path / "f")


@root_only
def test_auto_is_fanotify_as_root_on_tmpfs():
    def body(mnt):
        _fresh_choice()
        assert watch.fanotify_usable()
        with watch.watch_tree(mnt, IN_CREATE) as tree:
            assert tree.backend == "fanotify"
            assert type(tree).__name__ == "FanotifyTree"
            os.mkdir(os.path.join(mnt, "x"))
            event = tree.wait(5)
            assert event is not None and event.path == os.path.join(mnt, "x")
        with watch.watch_tree(mnt, backend="fanotify", unlimited_queue=True) as tree:
            assert tree.backend == "fanotify"
        # recursive=False: only InotifyTree does that.
        with watch.watch_tree(mnt, recursive=False) as tree:
            assert tree.backend == "inotify"
        return True

    assert in_fs("tmpfs", body)


@root_only
def test_auto_falls_back_on_a_filesystem_without_handles():
    def body():
        before = open_fds()
        with watch.watch_tree("/proc/sys/fs/inotify") as tree:
            assert tree.backend == "inotify"
        with pytest.raises(OSError, match="'proc' filesystem"):
            watch.watch_tree("/proc/sys/fs/inotify", backend="fanotify")
        # A mark the kernel refuses (mount marks lack dirent events): inotify.
        with watch.watch_tree("/proc/sys/fs/inotify", mark="mount") as tree:
            assert tree.backend == "inotify"
        assert open_fds() == before
        return True

    assert in_child(body)


@root_only
def test_auto_falls_back_without_cap_sys_admin():
    def body(mnt):
        os.chmod(mnt, 0o777)
        os.setgid(65534)
        os.setuid(65534)
        _fresh_choice()
        assert not watch.fanotify_usable()
        with watch.watch_tree(mnt) as tree:
            assert tree.backend == "inotify"
        # Even if the first answer was "yes" (the process dropped it since).
        watch._usable = True
        with watch.watch_tree(mnt) as tree:
            assert tree.backend == "inotify"
        with pytest.raises(PermissionError, match="CAP_SYS_ADMIN"):
            watch.watch_tree(mnt, backend="fanotify")
        return True

    assert in_fs("tmpfs", body)


@root_only
def test_watch_tree_async():
    def body(mnt):
        _fresh_choice()

        async def main(backend):
            async with watch.watch_tree_async(mnt, IN_CREATE, backend=backend) as tree:
                name = f"new-{backend}"
                os.mkdir(os.path.join(mnt, name))
                event = await asyncio.wait_for(tree.get(), 5)
                assert event.path == os.path.join(mnt, name)
                return tree.backend, type(tree).__name__

        assert asyncio.run(main("auto")) == ("fanotify", "FanotifyTree_async")
        assert asyncio.run(main("fanotify")) == ("fanotify", "FanotifyTree_async")
        assert asyncio.run(main("inotify")) == ("inotify", "InotifyTree_async")
        return True

    assert in_fs("tmpfs", body)
