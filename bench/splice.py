"""Benchmark: copy a file from /dev/shm to a local socket.

    python bench/splice.py [--size-mib 1024] [--repeat 3] [--pipe-size 1048576]

Tools, each run in a fresh interpreter (sender pinned to one CPU, the
receiver -- the same recv_into loop for every tool -- to another):

* ``butter.splice_copy``  -- butter's helper (file -> pipe -> socket, C loop)
* ``os.splice loop``      -- the same two splices from Python, same pipe size
* ``os.sendfile``         -- the kernel's own file -> socket path
* ``os.read/os.write``    -- a user-space copy loop with a 1 MiB buffer

to a local TCP socket (127.0.0.1) and to a local Unix stream socket.
The time runs from the connection to the receiver acknowledging the last
byte.  The same tools copying to /dev/null are reported too, but splice and
sendfile to /dev/null move no data at all: those numbers are NOT meaningful
and are marked so.  The best of ``--repeat`` runs is shown.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile

RECEIVER = r"""
import os, socket, sys
os.sched_setaffinity(0, CPUSET)
if sys.argv[1] == "tcp":
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    print(srv.getsockname()[1], flush=True)
else:
    srv = socket.socket(socket.AF_UNIX)
    srv.bind(sys.argv[2])
    print(sys.argv[2], flush=True)
srv.listen(1)
conn, _ = srv.accept()
buf = bytearray(1 << 20)
total = 0
recv_into = conn.recv_into
while True:
    n = recv_into(buf)
    if not n:
        break
    total += n
conn.sendall(total.to_bytes(8, "little"))
conn.close()
"""

SENDER = r"""
import os, socket, sys, time, fcntl
os.sched_setaffinity(0, CPUSET)
path, addr, tool, pipe_size = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
CHUNK = 1 << 20
F_SETPIPE_SZ = 1031
fd = os.open(path, os.O_RDONLY)
if addr.isdigit():
    sock = socket.create_connection(("127.0.0.1", int(addr)))
    out = sock.fileno()
elif addr:
    sock = socket.socket(socket.AF_UNIX)
    sock.connect(addr)
    out = sock.fileno()
else:
    sock = None
    out = os.open("/dev/null", os.O_WRONLY)
if tool == "butter":
    from butter.splice import splice_copy
t0 = time.perf_counter()
if tool == "butter":
    sent = splice_copy(fd, out, pipe_size=pipe_size)
elif tool == "os.splice":
    r, w = os.pipe()
    fcntl.fcntl(w, F_SETPIPE_SZ, pipe_size)
    sent = 0
    splice = os.splice
    while True:
        n = splice(fd, w, pipe_size)
        if not n:
            break
        sent += n
        while n:
            n -= splice(r, out, n)
elif tool == "os.sendfile":
    sent = 0
    sendfile = os.sendfile
    while True:
        n = sendfile(out, fd, None, 1 << 30)
        if not n:
            break
        sent += n
elif tool == "read/write":
    sent = 0
    read, write = os.read, os.write
    while True:
        data = read(fd, CHUNK)
        if not data:
            break
        view = memoryview(data)
        while view:
            view = view[write(out, view):]
        sent += len(data)
else:
    raise SystemExit("unknown tool " + tool)
if sock is not None:
    sock.shutdown(socket.SHUT_WR)
    got = int.from_bytes(sock.recv(8), "little")
    assert got == sent, (got, sent)
elapsed = time.perf_counter() - t0
print(sent, elapsed)
"""

TOOLS = ["butter", "os.splice", "os.sendfile", "read/write"]
LABELS = {
    "butter": "butter.splice_copy",
    "os.splice": "os.splice loop",
    "os.sendfile": "os.sendfile",
    "read/write": "os.read/os.write",
}


def make_file(path: str, size: int) -> None:
    block = os.urandom(1 << 20)
    with open(path, "wb") as f:
        left = size
        while left:
            n = min(left, len(block))
            f.write(block[:n])
            left -= n


def run_once(path: str, tool: str, pipe_size: int, family: str, cpus: list[int]) -> float:
    cpu_s, cpu_r = cpus[0], cpus[-1]
    env = dict(os.environ)
    cwd = tempfile.gettempdir()  # import the installed butter, not the source tree
    receiver = None
    addr = ""
    sock_path = os.path.join(cwd, f"butter-bench-{os.getpid()}.sock")
    if family != "null":
        receiver = subprocess.Popen(
            [
                sys.executable,
                "-c",
                RECEIVER.replace("CPUSET", f"{{{cpu_r}}}"),
                family,
                sock_path,
            ],
            stdout=subprocess.PIPE,
            text=True,
            cwd=cwd,
            env=env,
        )
        assert receiver.stdout is not None
        addr = receiver.stdout.readline().strip()
    try:
        out = subprocess.run(
            [
                sys.executable,
                "-c",
                SENDER.replace("CPUSET", f"{{{cpu_s}}}"),
                path,
                addr,
                tool,
                str(pipe_size),
            ],
            capture_output=True,
            text=True,
            cwd=cwd,
            env=env,
            check=True,
            timeout=600,
        )
    finally:
        if receiver is not None:
            receiver.wait(60)
        if os.path.exists(sock_path):
            os.unlink(sock_path)
    sent, elapsed = out.stdout.split()
    size = os.path.getsize(path)
    assert int(sent) == size, (tool, sent, size)
    return float(elapsed)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--pipe-size", type=int, default=1 << 20)
    parser.add_argument("--no-devnull", action="store_true")
    args = parser.parse_args()
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        print("warning: only one CPU: sender and receiver share it")
    size = args.size_mib << 20
    fd, path = tempfile.mkstemp(prefix="butter-bench-", dir="/dev/shm")
    os.close(fd)
    try:
        make_file(path, size)
        print(
            f"{args.size_mib} MiB from /dev/shm, pipe size {args.pipe_size}, "
            f"sender on CPU {cpus[0]}, receiver on CPU {cpus[-1]}, "
            f"best of {args.repeat}, "
            f"Python {sys.version.split()[0]} ({sys.implementation.name})"
        )
        targets = [
            ("local TCP socket (127.0.0.1)", "tcp"),
            ("local Unix stream socket", "unix"),
        ]
        if not args.no_devnull:
            targets.append(("/dev/null (NOT meaningful: splice/sendfile move no data)", "null"))
        for title, family in targets:
            best = {t: float("inf") for t in TOOLS}
            for _ in range(args.repeat):
                for tool in TOOLS:  # interleaved, so drift hits every tool alike
                    best[tool] = min(best[tool], run_once(path, tool, args.pipe_size, family, cpus))
            print(f"\n-> {title}")
            ref = best["os.splice"]
            for tool in TOOLS:
                gbps = size / best[tool] / 1e9
                print(
                    f"  {LABELS[tool]:20s} {best[tool] * 1000:8.1f} ms"
                    f"  {gbps:6.2f} GB/s"
                    f"  {ref / best[tool]:5.2f}x os.splice"
                )
            if family != "null":
                ok1 = best["butter"] <= best["os.splice"] / 0.9
                ok2 = best["butter"] <= best["read/write"]
                print(
                    f"  targets: butter >= 0.9x os.splice: {'yes' if ok1 else 'NO'}; "
                    f"butter >= read/write: {'yes' if ok2 else 'NO'}"
                )
    finally:
        os.unlink(path)


if __name__ == "__main__":
    main()
