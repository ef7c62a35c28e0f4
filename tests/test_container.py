"""butter.container and examples/container.py: a real container run.

Everything state-changing happens in the container's own forked children
(new mount/UTS/PID namespaces, private mounts); the fixture checks the
host's mounts and hostname afterwards."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile

import pytest
from conftest import in_child, open_fds

from butter import container

EXAMPLE = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
    "examples",
    "container.py",
)
SCRIPT = "hostname; echo pid=$$; cat /proc/self/mountinfo"


def _mountinfo() -> str:
    with open("/proc/self/mountinfo") as f:
        return f.read()


def _leftovers() -> list[str]:
    return [n for n in os.listdir(tempfile.gettempdir()) if n.startswith("butter-container-")]


@pytest.fixture(autouse=True)
def host_unchanged():
    before = (_mountinfo(), socket.gethostname(), _leftovers())
    yield
    assert (_mountinfo(), socket.gethostname(), _leftovers()) == before


def _check_inside(out: str, hostname: str) -> None:
    lines = out.splitlines()
    assert lines[0] == hostname
    assert lines[1] == "pid=2"  # PID 1 is the container's init
    points = {}
    for line in lines[2:]:
        fields = line.split()
        points[fields[4]] = fields[fields.index("-") + 1]
    assert points["/"] == "tmpfs"  # the new root
    assert points["/proc"] == "proc"
    assert points["/usr"] != "tmpfs"
    allowed = {
        "/",
        "/usr",
        "/proc",
        "/bin",
        "/sbin",
        "/lib",
        "/lib32",
        "/lib64",
        "/libx32",
    }
    allowed |= {f"/dev/{d}" for d in container.DEVICES}
    assert set(points) <= allowed, set(points) - allowed  # no host mount visible
    host = {line.split()[4] for line in _mountinfo().splitlines()}
    assert not (host - {"/", "/usr", "/proc"}) & set(points)
    usr_line = next(line for line in lines[2:] if line.split()[4] == "/usr")
    assert "ro" in usr_line.split()[5].split(",")


def test_cli():
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "butter.container",
            "--hostname",
            "box-cli",
            "--",
            "sh",
            "-c",
            SCRIPT,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tempfile.gettempdir(),
    )
    assert proc.returncode == 0, proc.stderr
    _check_inside(proc.stdout, "box-cli")


def test_example_script():
    proc = subprocess.run(
        [sys.executable, EXAMPLE, "sh", "-c", SCRIPT],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tempfile.gettempdir(),
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "example"
    assert lines[1] == "pid=1"  # the example execs the command as PID 1
    points = {ln.split()[4] for ln in lines[2:]}
    assert points == {"/", "/usr", "/dev/null", "/proc"}


def test_run_api_and_exit_codes():
    before = open_fds()
    r, w = os.pipe()
    try:
        code = container.run(["sh", "-c", SCRIPT], hostname="box-api", stdout=w)
        os.close(w)
        w = -1
        with os.fdopen(r, "r") as f:
            r = -1
            out = f.read()
    finally:
        for fd in (r, w):
            if fd >= 0:
                os.close(fd)
    assert code == 0
    _check_inside(out, "box-api")
    assert container.run(["sh", "-c", "exit 3"]) == 3
    assert container.run(["sh", "-c", "kill -9 $$"]) == 128 + 9
    assert container.run(["sh", "-c", "test ! -e /work && test -d /usr/bin && test -w /tmp"]) == 0
    assert container.run(["sh", "-c", "touch /usr/x 2>/dev/null"]) != 0  # read-only /usr
    assert open_fds() == before


def test_bind_extra_path():
    with tempfile.TemporaryDirectory() as d:
        with open(os.path.join(d, "hello"), "w") as f:
            f.write("hi")
        assert container.run(["sh", "-c", f'test "$(cat {d}/hello)" = hi'], binds=[d]) == 0


def test_setup_errors():
    with pytest.raises(FileNotFoundError, match="exec no-such-command"):
        container.run(["no-such-command"])
    with pytest.raises(OSError, match="container: mount tmpfs root"):
        container.run(["true"], size="nonsense")

    def unprivileged():
        os.setuid(65534)
        try:
            container.run(["true"])
        except PermissionError as exc:
            return str(exc)
        return None

    assert "unshare" in in_child(unprivileged)


def test_bad_input():
    for args, kwargs, exc in [
        ([], {}, ValueError),
        ("true", {}, TypeError),
        (["a\0b"], {}, ValueError),
        ([5], {}, TypeError),
        (["true"], {"hostname": 5}, TypeError),
        (["true"], {"hostname": "x" * 65}, ValueError),
        (["true"], {"size": 5}, TypeError),
    ]:
        with pytest.raises(exc):
            container.run(args, **kwargs)
