"""Programs written for the original Butter (0.9, 0.13.1) run unchanged:
0.13.1's ``closefd=`` on inotify and fanotify, and the ``event_mask=``
keyword of ``Fanotify_async.watch``/``ignore`` (issue 10).

Every old spelling warns with a DeprecationWarning naming the new one
(pytest turns other warnings into errors).
"""

from __future__ import annotations

import asyncio
import inspect
import os

import pytest
from conftest import needs_fanotify

import butter.inotify as ino
from butter.fanotify import FAN_CLASS_NOTIF, FAN_ONDIR, FAN_OPEN, Fanotify, fanotify_init

DW = DeprecationWarning


def test_inotify_closefd_of_0_13_1():
    # 0.13.1: closefd=True set close-on-exec (butter always does);
    # closefd=False left the fd inheritable.
    with pytest.warns(DW, match="close-on-exec"), ino.Inotify(closefd=True) as obj:
        assert not os.get_inheritable(obj.fileno())
    with pytest.warns(DW, match="close-on-exec"), ino.Inotify(0, closefd=False) as obj:
        assert os.get_inheritable(obj.fileno())
    with pytest.warns(DW, match="close-on-exec"):
        fd = ino.inotify_init(closefd=False)
    assert os.get_inheritable(fd)
    os.close(fd)
    with pytest.warns(DW, match=r"inotify_init\(\): closefd="):
        fd = ino.inotify_init(0, closefd=True)
    assert not os.get_inheritable(fd)
    os.close(fd)


def test_new_signatures_unchanged():
    assert "closefd" not in inspect.signature(ino.inotify_init).parameters
    assert "closefd" not in inspect.signature(ino.Inotify).parameters
    assert "closefd" not in inspect.signature(fanotify_init).parameters
    assert "closefd" not in inspect.signature(Fanotify).parameters
    from butter.asyncio.fanotify import Fanotify_async

    for name in ("watch", "ignore"):
        params = inspect.signature(getattr(Fanotify_async, name)).parameters
        assert "mask" in params and "event_mask" not in params


@needs_fanotify
def test_fanotify_closefd_of_0_13_1():
    with pytest.warns(DW, match="close-on-exec"), Fanotify(FAN_CLASS_NOTIF, closefd=False) as fan:
        assert os.get_inheritable(fan.fileno())
    with pytest.warns(DW, match=r"fanotify_init\(\): closefd="):
        fd = fanotify_init(FAN_CLASS_NOTIF, closefd=True)
    assert not os.get_inheritable(fd)
    os.close(fd)


@needs_fanotify
def test_fanotify_async_event_mask_keyword(tmp_path):
    from butter.asyncio.fanotify import Fanotify_async

    async def main():
        async with Fanotify_async() as fan:
            with pytest.warns(DW, match=r"Fanotify_async\.watch\(\): event_mask="):
                fan.watch(str(tmp_path), event_mask=FAN_OPEN | FAN_ONDIR)
            os.listdir(tmp_path)
            event = await asyncio.wait_for(fan.get_event(), 10)
            assert event.pid == os.getpid()
            event.close()
            with pytest.warns(DW, match=r"Fanotify_async\.ignore\(\): event_mask="):
                fan.ignore(str(tmp_path), event_mask=FAN_OPEN | FAN_ONDIR)
            with pytest.raises(TypeError, match="both"):
                fan.watch(str(tmp_path), mask=FAN_OPEN, event_mask=FAN_OPEN)

    asyncio.run(main())
