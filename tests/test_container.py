"""butter.container and examples/container.py: a real container run.

Everything state-changing happens in the container's own forked children
(new mount/UTS/PID namespaces, private mounts); the fixture checks the
host's mounts and hostname afterwards, and that no temporary folder is
left.  The command line tests send real signals to real processes and
check in /proc that every process of the container is gone afterwards."""

from __future__ import annotations

import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

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
    """Folders left by a finished run (butter-container-PID-*, PID gone);
    those of a container being set up elsewhere at this moment are not."""
    found = []
    for name in os.listdir(tempfile.gettempdir()):
        if name.startswith("butter-container-"):
            pid = name.split("-")[2]
            if not (pid.isdigit() and os.path.exists(f"/proc/{pid}")):
                found.append(name)
    return sorted(found)


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

    message = in_child(unprivileged)
    assert "unshare" in message and "needs root" in message


def test_bad_input():
    for args, kwargs, exc in [
        ([], {}, ValueError),
        ("true", {}, TypeError),
        (["a\0b"], {}, ValueError),
        ([5], {}, TypeError),
        (["true"], {"hostname": 5}, TypeError),
        (["true"], {"hostname": "x" * 65}, ValueError),
        (["true"], {"size": 5}, TypeError),
        (["true"], {"forward_signals": [signal.SIGKILL]}, ValueError),
        (["true"], {"forward_signals": [signal.SIGCHLD]}, ValueError),
        (["true"], {"forward_signals": ["SIGTERM"]}, TypeError),
    ]:
        with pytest.raises(exc):
            container.run(args, **kwargs)


# -- the command line under signals --------------------------------------------
SIGNAL_TIMEOUT = 20.0


def _proc_table() -> dict[int, tuple[int, str, str, int]]:
    """pid -> (ppid, comm, state, start time) for every process."""
    table = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                line = f.read()
        except OSError:
            continue  # exited meanwhile
        comm = line[line.index("(") + 1 : line.rindex(")")]
        fields = line[line.rindex(")") + 2 :].split()
        table[int(name)] = (int(fields[1]), comm, fields[0], int(fields[19]))
    return table


def _descendants(pid: int) -> dict[int, tuple[int, str, str, int]]:
    table = _proc_table()
    found: dict[int, tuple[int, str, str, int]] = {}
    todo = [pid]
    while todo:
        parent = todo.pop()
        for child, info in table.items():
            if info[0] == parent and child not in found:
                found[child] = info
                todo.append(child)
    return found


def _still_there(tree: dict[int, tuple[int, str, str, int]], zombies_ok: bool = False) -> dict:
    """The processes of *tree* that still exist (same pid and start time)."""
    table = _proc_table()
    return {
        pid: table[pid]
        for pid, info in tree.items()
        if pid in table and table[pid][3] == info[3] and not (zombies_ok and table[pid][2] == "Z")
    }


def _clean_signal_state() -> None:
    """The CLI starts as from a login shell: nothing blocked, nothing ignored.
    (The command inherits what its caller ignores, as with any exec: under
    ``nohup`` or a CI runner that ignores SIGHUP, a trapped SIGHUP would
    never reach a shell that started with it ignored.)"""
    for sig in signal.valid_signals():
        if sig not in (signal.SIGKILL, signal.SIGSTOP):
            try:
                if signal.getsignal(sig) is signal.SIG_IGN:
                    signal.signal(sig, signal.SIG_DFL)
            except (OSError, ValueError):
                pass  # signals the libc keeps for itself
    signal.pthread_sigmask(signal.SIG_SETMASK, [])


class Cli:
    """``python -m butter.container -- CMD`` in its own session (so signals
    to its process group reach nothing else); killed if a test fails."""

    def __init__(self, *cmd: str, stdin: object = subprocess.DEVNULL) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "butter.container", "--", *cmd],
            stdin=stdin,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
            cwd=tempfile.gettempdir(),
            preexec_fn=_clean_signal_state,
        )
        self.pid = self.proc.pid

    def wait_running(self, comm: str) -> dict[int, tuple[int, str, str, int]]:
        """Wait until a process named *comm* runs in the container; return
        the whole tree (helper, init, command...)."""
        deadline = time.monotonic() + SIGNAL_TIMEOUT
        while time.monotonic() < deadline:
            tree = _descendants(self.pid)
            if any(info[1] == comm for info in tree.values()):
                return tree
            assert self.proc.poll() is None, self.proc.stderr.read()  # type: ignore[union-attr]
            time.sleep(0.02)
        raise AssertionError(f"{comm} did not start")

    def wait_line(self, text: bytes) -> None:
        out = self.proc.stdout
        assert out is not None
        ready, _, _ = select.select([out], [], [], SIGNAL_TIMEOUT)
        assert ready, f"no {text!r} from the command"
        assert out.readline().strip() == text

    def finish(self) -> tuple[int, str, str]:
        try:
            out, err = self.proc.communicate(timeout=SIGNAL_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.kill_all()
            raise AssertionError("the command line did not exit") from None
        return self.proc.returncode, out.decode(), err.decode()

    def kill_all(self) -> None:
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.communicate()

    def __enter__(self) -> Cli:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc.returncode is None:
            self.kill_all()


def _assert_all_gone(tree: dict, zombies_ok: bool = False) -> None:
    deadline = time.monotonic() + SIGNAL_TIMEOUT
    while _still_there(tree, zombies_ok) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not _still_there(tree, zombies_ok)


@pytest.mark.parametrize(
    "sig, to_group", [(signal.SIGTERM, False), (signal.SIGINT, False), (signal.SIGINT, True)]
)
def test_cli_signal_ends_container(sig, to_group):
    """SIGTERM/SIGINT to the CLI (or Ctrl-C-like SIGINT to its whole process
    group) reaches the command; the CLI exits with 128 + N, quietly, and
    leaves no process (helper, init, command) and no folder."""
    with Cli("sleep", "30") as cli:
        tree = cli.wait_running("sleep")
        assert len(tree) == 3  # helper, init, sleep
        if to_group:
            os.killpg(cli.pid, sig)
        else:
            os.kill(cli.pid, sig)
        code, out, err = cli.finish()
    assert (code, out, err) == (128 + sig, "", "")
    _assert_all_gone(tree)


def test_cli_forwards_other_signals():
    script = (
        'trap "echo usr1; exit 42" USR1; trap "echo hup" HUP; '
        "echo ready; while :; do sleep 0.05; done"
    )
    with Cli("sh", "-c", script) as cli:
        cli.wait_line(b"ready")
        tree = _descendants(cli.pid)
        os.kill(cli.pid, signal.SIGHUP)  # trapped: the command goes on
        cli.wait_line(b"hup")
        os.kill(cli.pid, signal.SIGUSR1)
        code, out, err = cli.finish()
    assert (code, out, err) == (42, "usr1\n", "")
    _assert_all_gone(tree)


def test_cli_terminal_ctrl_c_reaches_command_once():
    """Ctrl-C on a terminal signals the whole foreground group: the command
    has it already, so the CLI does not send it again."""
    import pty

    script = 'trap "echo got-INT" INT; echo ready; while :; do sleep 0.05; done'
    pid, master = pty.fork()
    if pid == 0:  # session leader with the pty as controlling terminal
        try:
            os.chdir(tempfile.gettempdir())
            os.execv(
                sys.executable,
                [sys.executable, "-m", "butter.container", "--", "sh", "-c", script],
            )
        finally:
            os._exit(127)
    output = b""

    def read_until(token: bytes, timeout: float) -> None:
        nonlocal output
        deadline = time.monotonic() + timeout
        while token not in output and time.monotonic() < deadline:
            if select.select([master], [], [], 0.05)[0]:
                try:
                    output += os.read(master, 4096)
                except OSError:  # EIO: the other side closed
                    return

    try:
        read_until(b"ready", SIGNAL_TIMEOUT)
        assert b"ready" in output
        os.write(master, b"\x03")  # Ctrl-C: trapped, once
        read_until(b"got-INT", SIGNAL_TIMEOUT)
        read_until(b"never", 0.5)  # a second one would show by now
        assert output.count(b"got-INT") == 1, output
        tree = _descendants(pid)
        os.write(master, b"\x1c")  # Ctrl-\: SIGQUIT ends sh
        deadline = time.monotonic() + SIGNAL_TIMEOUT
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                pid = -1
                break
            assert time.monotonic() < deadline, output
            read_until(b"never", 0.05)
    finally:
        if pid > 0:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        os.close(master)
    assert os.waitstatus_to_exitcode(status) == 128 + signal.SIGQUIT
    _assert_all_gone(tree)
    assert b"Traceback" not in output


def test_cli_second_sigterm_escalates():
    """A command that ignores SIGTERM: the second SIGTERM becomes SIGKILL."""
    with Cli("sh", "-c", 'trap "" TERM; echo ready; while :; do sleep 0.05; done') as cli:
        cli.wait_line(b"ready")
        tree = _descendants(cli.pid)
        os.kill(cli.pid, signal.SIGTERM)
        _wait_not_pending(cli.pid, signal.SIGTERM)  # read by the CLI: forwarded
        time.sleep(0.2)
        assert cli.proc.poll() is None  # ignored by the command
        assert "sh" in {info[1] for info in _still_there(tree).values()}
        os.kill(cli.pid, signal.SIGTERM)
        code, _, err = cli.finish()
    assert (code, err) == (128 + signal.SIGKILL, "")
    _assert_all_gone(tree)


def _wait_not_pending(pid: int, sig: int) -> None:
    deadline = time.monotonic() + SIGNAL_TIMEOUT
    while time.monotonic() < deadline:
        with open(f"/proc/{pid}/status") as f:
            fields = dict(line.split(":", 1) for line in f)
        pending = int(fields["ShdPnd"], 16) | int(fields["SigPnd"], 16)
        if not pending >> (sig - 1) & 1:
            return
        time.sleep(0.01)
    raise AssertionError(f"signal {sig} still pending")


@pytest.mark.parametrize(
    "script, code",
    [("exit 3", 3), ("kill -TERM $$", 128 + 15), ("kill -KILL $$", 128 + 9), ("exit 0", 0)],
)
def test_cli_exit_status(script, code):
    with Cli("sh", "-c", script) as cli:
        assert cli.finish() == (code, "", "")


def test_cli_command_killed_from_outside():
    with Cli("sleep", "30") as cli:
        tree = cli.wait_running("sleep")
        (sleep,) = [pid for pid, info in tree.items() if info[1] == "sleep"]
        os.kill(sleep, signal.SIGKILL)
        assert cli.finish() == (128 + signal.SIGKILL, "", "")
    _assert_all_gone(tree)


def test_cli_sigkilled_takes_container_along():
    """SIGKILL of the CLI closes the control pipe: init exits and the
    kernel kills the namespace.  (The orphaned helper is its new parent's
    to reap: a zombie is allowed there.)"""
    with Cli("sleep", "30") as cli:
        tree = cli.wait_running("sleep")
        os.kill(cli.pid, signal.SIGKILL)
        code, _, _ = cli.finish()
    assert code == -signal.SIGKILL
    _assert_all_gone(tree, zombies_ok=True)


def test_cli_command_signal_state():
    """The command starts with the signal state its caller had (here:
    nothing blocked, nothing ignored but what the libc keeps out of Python's
    reach), although the CLI blocks the forwarded signals and Python ignores
    SIGPIPE: the same state as the same command started directly."""
    cmd = ["grep", "-E", "^Sig(Blk|Ign)", "/proc/self/status"]
    direct = subprocess.run(
        cmd, capture_output=True, text=True, preexec_fn=_clean_signal_state, timeout=30
    )
    with Cli(*cmd) as cli:
        code, out, err = cli.finish()
    assert (code, err) == (0, "")

    def masks(text: str) -> dict[str, int]:
        return {line.split(":")[0]: int(line.split()[1], 16) for line in text.splitlines()}

    got, want = masks(out), masks(direct.stdout)
    assert got["SigBlk"] == want["SigBlk"] == 0
    # Never more ignored than when started directly (PyPy cannot always
    # undo an ignore inherited from nohup; signal 32 belongs to the libc).
    assert got["SigIgn"] & ~want["SigIgn"] == 0
    assert got["SigIgn"] & ~(1 << 31 | 1 << (signal.SIGHUP - 1)) == 0


def _drop_privileges() -> list[list[str]]:
    ways = []
    if shutil.which("setpriv"):
        # nobody, where this interpreter is usable by nobody (a pyenv build
        # under /root is not); root without CAP_SYS_ADMIN otherwise
        nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
        probe = subprocess.run([*nobody, sys.executable, "-c", ""], capture_output=True)
        ways.append(nobody if probe.returncode == 0 else ["setpriv", "--bounding-set=-sys_admin"])
    if shutil.which("capsh"):
        ways.append(["capsh", "--drop=cap_sys_admin", "--shell=" + sys.executable, "--"])
    return ways


@pytest.mark.parametrize("prefix", _drop_privileges(), ids=lambda p: p[0])
def test_cli_unprivileged(prefix):
    if prefix[0] == "capsh":
        cmd = [*prefix, "-m", "butter.container", "--", "true"]
    else:
        cmd = [*prefix, sys.executable, "-m", "butter.container", "--", "true"]
    proc = subprocess.run(
        cmd, capture_output=True, text=True, timeout=60, cwd=tempfile.gettempdir()
    )
    assert proc.returncode == 1, proc.stderr
    assert "needs root (CAP_SYS_ADMIN)" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stdout == ""


# -- run() in a program ---------------------------------------------------------


def test_run_exception_ends_container():
    """An exception in the caller (here from a signal handler) ends the
    container: run() returns only when every process of it is reaped."""

    def case() -> tuple[dict, list]:
        class Stop(Exception):
            pass

        def stop(signum: int, frame: object) -> None:
            raise Stop

        seen: list = []

        def look() -> None:  # the container, seen from a thread
            deadline = time.monotonic() + SIGNAL_TIMEOUT
            while time.monotonic() < deadline and not any(
                info[1] == "sleep" for info in _descendants(os.getpid()).values()
            ):
                time.sleep(0.02)
            seen.append(_descendants(os.getpid()))
            signal.pthread_kill(threading.main_thread().ident, signal.SIGUSR1)  # type: ignore[arg-type]

        signal.signal(signal.SIGUSR1, stop)
        watcher = threading.Thread(target=look)
        watcher.start()
        try:
            container.run(["sleep", "30"])
        except Stop:
            pass
        watcher.join()
        return _descendants(os.getpid()), seen

    left, seen = in_child(case)
    assert left == {}
    assert [info[1] for info in seen[0].values()].count("sleep") == 1
    _assert_all_gone(seen[0])


def test_run_forward_signals():
    def case() -> tuple[int, bool]:
        r, w = os.pipe()
        mask = signal.pthread_sigmask(signal.SIG_BLOCK, [])

        def send() -> None:
            # Process-directed signals go to a thread that does not block
            # them: only the thread in run() must get this one.
            signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGUSR2])
            with os.fdopen(r, "rb") as f:
                f.readline()  # "ready"
            os.kill(os.getpid(), signal.SIGUSR2)

        sender = threading.Thread(target=send)
        sender.start()
        try:
            code = container.run(
                ["sh", "-c", 'trap "exit 7" USR2; echo ready; while :; do sleep 0.05; done'],
                stdout=w,
                forward_signals=[signal.SIGUSR2],
            )
        finally:
            os.close(w)
            sender.join()
        return code, signal.pthread_sigmask(signal.SIG_BLOCK, []) == mask

    assert in_child(case) == (7, True)


def test_run_forward_signals_main_thread_only():
    def case() -> str:
        result: list = []

        def body() -> None:
            try:
                container.run(["true"], forward_signals=[signal.SIGTERM])
            except ValueError as exc:
                result.append(str(exc))

        thread = threading.Thread(target=body)
        thread.start()
        thread.join()
        return result[0]

    assert "main thread" in in_child(case)


def test_stale_roots_removed():
    """A folder left by a CLI killed during setup (its pid gone, over a
    minute old, empty) is removed by the next run; others are kept."""
    tmp = tempfile.gettempdir()
    with open("/proc/sys/kernel/pid_max") as f:
        dead = int(f.read())  # never a pid
    old = time.time() - 3600
    stale = os.path.join(tmp, f"butter-container-{dead}-stale{os.getpid()}")
    recent = os.path.join(tmp, f"butter-container-{dead}-recent{os.getpid()}")
    full = os.path.join(tmp, f"butter-container-{dead}-full{os.getpid()}")
    mine = os.path.join(tmp, f"butter-container-{os.getpid()}-mine")
    for path in (stale, recent, full, mine):
        os.mkdir(path)
    open(os.path.join(full, "x"), "w").close()
    for path in (stale, full, mine):
        os.utime(path, (old, old))
    try:
        assert container.run(["true"]) == 0
        assert not os.path.exists(stale)
        assert all(os.path.exists(p) for p in (recent, full, mine))
    finally:
        for path in (stale, recent, full, mine):
            shutil.rmtree(path, ignore_errors=True)
