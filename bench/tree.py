"""Whole-tree watching: FanotifyTree beside InotifyTree, os.walk, watchdog, watchfiles.

    pip install watchdog watchfiles   # the peers (optional; "(not installed)" otherwise)
    python bench/tree.py              # everything (about a minute; root)
    python bench/tree.py --quick      # a 20,000-directory tree, a shorter churn
                                      # (or BENCH_QUICK=1)
    python bench/tree.py --ext4       # the scale part on an ext4 loop image too (+40 s)
    python bench/tree.py --profile    # cProfile of FanotifyTree's start and reads

Needs root (a private mount namespace, tmpfs mounts, fanotify); without it
prints why and exits 0.  Nothing is changed outside the process: everything
runs in a private mount namespace, on tmpfs mounts (and an ext4 image in
/var/tmp, deleted at the end) that vanish with it, and no sysctl is written.

**Scale**: a tree of 250,000 directories (fan-out 10, five full levels,
then a chain of 40 more: the deepest directory is 46 levels down), more
than ``fs.inotify.max_user_watches`` (192,536 here).  Timed in one run,
alternating, median of five: a bare ``os.walk`` of it and ``FanotifyTree``'s
start (the constructor, its initial scan included), and their ratio.
``InotifyTree`` must fail with ``OSError(ENOSPC)`` naming the sysctl: the
time until it fails and the message.  It runs in a child with a uid of its
own (the watch limit is per user: root's budget, which the rest of the
machine shares, is left alone).  Then a file created in the deepest
directory: ``FanotifyTree`` must report it (the latency printed).

**Throughput**: a create/write/close/unlink churn of distinct file names,
round robin across 1,000 directories, by a writer process, in bursts of
3,000 operations (at most 4 events each: the 12,000 events of a burst fit
the kernel's default 16,384-event queues, which cannot be raised without
writing a host sysctl); the writer starts a burst when the watcher has seen
every create of the previous one.  For each watcher: events/s (what the
user gets, in the user's objects), distinct created names seen per second,
lost = creates made - distinct creates seen, and twice = create events
beyond one per name.  Watchers: ``FanotifyTree`` and ``InotifyTree``
(``IN_CREATE | IN_MODIFY | IN_CLOSE_WRITE | IN_DELETE``), watchdog's
``InotifyObserver`` (recursive; a handler counting every event) and
watchfiles' ``watch`` (rust notify, inotify; 50 ms debounce, 5 ms step;
it reports sets of changes, merged per path).  Then the consumer alone:
a burst already queued, the reading timed (``FanotifyTree``, ``InotifyTree``).

With ``--quick`` the tree is smaller than the watch limit, so the
``InotifyTree`` child first moves to a user namespace of its own and lowers
that namespace's limit (``/proc/sys/user/max_inotify_watches``) to half the
tree.
"""

from __future__ import annotations

import errno
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any, Callable, Dict, List, Optional, Set, Tuple

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _util import header

from butter.clone import CLONE_NEWNS, CLONE_NEWUSER, unshare
from butter.inotify import (
    IN_CLOSE_WRITE,
    IN_CREATE,
    IN_DELETE,
    IN_MODIFY,
    InotifyTree,
)
from butter.system import MS_PRIVATE, MS_REC, mount, umount

try:
    from butter.fanotify import FanotifyTree  # type: ignore[attr-defined]
except ImportError:  # a butter without it
    FanotifyTree = None

ARGS = sys.argv[1:]
QUICK = "--quick" in ARGS or os.environ.get("BENCH_QUICK", "") not in ("", "0")
PROFILE = "--profile" in ARGS
N_DIRS = 20_000 if QUICK else 250_000
FANOUT = 10
CHAIN = 40
N_CHURN_DIRS = 1000
BURST = 3000
N_OPS = 15_000 if QUICK else 60_000
EVENTS = IN_CREATE | IN_MODIFY | IN_CLOSE_WRITE | IN_DELETE
OTHER_UID = 2_000_123  # the InotifyTree child's: a watch budget of its own
ROUNDS = 5  # os.walk and FanotifyTree's start, alternating: medians
TIMEOUT = 10.0  # seconds without progress: what is missing is lost


Result = Tuple[float, int, int, int]  # seconds, events, distinct creates, create reports


# -- the filesystems ------------------------------------------------------------
def private_namespace() -> None:
    """This process (single-threaded still) moves to a mount namespace of
    its own, where no mount propagates back to the host."""
    unshare(CLONE_NEWNS)
    mount(None, "/", None, MS_REC | MS_PRIVATE)


def tmpfs(where: str) -> str:
    path = tempfile.mkdtemp(prefix="bench-tree-", dir=where)
    mount("tmpfs", path, "tmpfs", 0, "mode=755")
    return path


def ext4(where: str, inodes: int) -> Tuple[str, str]:
    """A fresh ext4 on a sparse image in /var/tmp, loop-mounted here only
    (``mount -o loop`` sets autoclear: the loop device goes with the mount)."""
    image = tempfile.mktemp(prefix="bench-tree-", suffix=".img", dir="/var/tmp")
    with open(image, "wb") as f:
        f.truncate(4 << 30)
    subprocess.run(
        ["mkfs.ext4", "-q", "-F", "-N", str(inodes), "-E", "lazy_itable_init=1", image],
        check=True,
    )
    path = tempfile.mkdtemp(prefix="bench-tree-", dir=where)
    subprocess.run(["mount", "-o", "loop", image, path], check=True)
    return path, image


def unmount(path: str) -> None:
    try:
        umount(path)
    finally:
        os.rmdir(path)


def build_tree(root: str, n: int) -> Tuple[str, float]:
    """*n* directories under *root*: full levels of FANOUT, breadth first,
    then a chain of CHAIN under the last one.  Returns the deepest."""
    t0 = time.perf_counter()
    mkdir = os.mkdir
    target = n - CHAIN
    made = 0
    level = [root]
    last = root
    while made < target:
        below = []
        for parent in level:
            for k in range(FANOUT):
                last = f"{parent}/d{k}"
                mkdir(last)
                below.append(last)
                made += 1
                if made == target:
                    break
            if made == target:
                break
        level = below
    for k in range(CHAIN):
        last = f"{last}/c{k}"
        mkdir(last)
    return last, time.perf_counter() - t0


# -- scale --------------------------------------------------------------------
def time_walk(root: str) -> Tuple[float, int]:
    t0 = time.perf_counter()
    n = 0
    for _ in os.walk(root):
        n += 1
    return time.perf_counter() - t0, n


def time_fanotify(root: str) -> Tuple[float, Any]:
    t0 = time.perf_counter()
    tree = FanotifyTree(root, EVENTS)
    return time.perf_counter() - t0, tree


def inotify_fails(root: str, lower_to: int = 0) -> Tuple[float, str]:
    """InotifyTree(root) in a child with a uid of its own: seconds until it
    failed (or -1 if it did not) and the message.  With *lower_to*, the
    child first moves to a user namespace of its own whose watch limit
    (``/proc/sys/user/max_inotify_watches``, that namespace's) it lowers to
    that (the host's sysctl is left alone)."""
    r, w = os.pipe()
    sys.stdout.flush()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(r)
            os.setgroups([])
            os.setgid(OTHER_UID)
            os.setuid(OTHER_UID)
            if lower_to:
                # Its creator has every capability in it, mapped or not.
                unshare(CLONE_NEWUSER)
                with open("/proc/sys/user/max_inotify_watches", "w") as f:
                    f.write(str(lower_to))
            t0 = time.perf_counter()
            try:
                tree = InotifyTree(root, EVENTS)
            except OSError as exc:
                dt = time.perf_counter() - t0
                msg = f"{errno.errorcode.get(exc.errno or 0, exc.errno)}: {exc}"
            else:
                dt = -1.0
                msg = f"no error: {len(tree.paths())} paths watched"
            os.write(w, f"{dt}\n{msg}".encode())
        except BaseException as exc:
            os.write(w, f"nan\nthe child failed: {exc!r}".encode())
        finally:
            os._exit(0)
    os.close(w)
    with os.fdopen(r, "rb") as f:
        data = f.read().decode()
    os.waitpid(pid, 0)
    dt, _, msg = data.partition("\n")
    return float(dt or "nan"), msg or "(the child died)"


def see_created(tree: Any, path: str, timeout: float) -> float:
    """Create *path*; seconds until *tree* reports its IN_CREATE (inf if
    it never does within *timeout*)."""
    t0 = time.perf_counter()
    os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o644))
    deadline = t0 + timeout
    while True:
        left = deadline - time.perf_counter()
        if left <= 0:
            return float("inf")
        event = tree.wait(left)
        if event is None:
            return float("inf")
        if event.path == path and event.mask & IN_CREATE:
            return time.perf_counter() - t0


def profiled(fn: Callable[[], Any], title: str) -> Any:
    import cProfile
    import pstats

    prof = cProfile.Profile()
    result = prof.runcall(fn)
    print(f"\n  cProfile, {title} (top 12 by internal time):")
    stats = pstats.Stats(prof, stream=sys.stdout)
    stats.sort_stats("tottime").print_stats(12)
    return result


def scale(fs: str, root: str) -> None:
    print(f"\nscale, {fs}: building {N_DIRS:,} directories ...", end=" ", flush=True)
    deepest, dt = build_tree(root, N_DIRS)
    depth = deepest.count("/") - root.count("/")
    print(f"{dt:.1f} s (deepest: {depth} levels, {len(deepest)} characters)")
    with open("/proc/sys/fs/inotify/max_user_watches") as f:
        limit = int(f.read())
    print(f"  fs.inotify.max_user_watches = {limit:,}")

    walks: List[float] = []
    starts: List[float] = []
    for _ in range(ROUNDS):
        dt, n = time_walk(root)
        walks.append(dt)
        if FanotifyTree is not None:
            dt, tree = time_fanotify(root)
            starts.append(dt)
            tree.close()
    walk = statistics.median(walks)
    print(f"  {'os.walk (bare)':36s} {walk:7.2f} s  ({n:,} directories; runs {fmt(walks)})")
    if FanotifyTree is None:
        print("  (FanotifyTree not in this butter)")
    else:
        start = statistics.median(starts)
        verdict = "ok" if start <= 1.5 * walk else "MISSED (target <= 1.5x)"
        print(
            f"  {'butter FanotifyTree start':36s} {start:7.2f} s  "
            f"= {start / walk:.3f}x os.walk, {verdict}  (runs {fmt(starts)})"
        )
    lower_to = 0
    if limit >= N_DIRS:  # --quick: a smaller tree, a smaller limit
        lower_to = N_DIRS // 2
        print(f"  (InotifyTree below runs in a user namespace whose watch limit is {lower_to:,})")
    dt, msg = inotify_fails(root, lower_to)
    if dt < 0:
        print(f"  {'butter InotifyTree':36s} did NOT fail: {msg}")
    else:
        print(f"  {'butter InotifyTree fails after':36s} {dt:7.2f} s  with {msg}")
    if FanotifyTree is None:
        return
    if PROFILE:
        profiled(lambda: FanotifyTree(root, EVENTS).close(), "FanotifyTree start")
    _, tree = time_fanotify(root)
    try:
        lat = see_created(tree, os.path.join(deepest, "new-file"), TIMEOUT)
        seen = f"reported after {lat * 1e3:.2f} ms" if lat < float("inf") else "NOT reported"
        print(f"  {'a file in the deepest directory':36s} {seen}")
    finally:
        tree.close()


def fmt(values: List[float]) -> str:
    return " ".join(f"{v:.2f}" for v in values)


# -- throughput ----------------------------------------------------------------
def churn_dirs(root: str) -> List[str]:
    dirs = []
    for a in range(N_CHURN_DIRS // 25):
        top = os.path.join(root, f"t{a:02d}")
        os.mkdir(top)
        for b in range(25):
            sub = os.path.join(top, f"s{b:02d}")
            os.mkdir(sub)
            dirs.append(sub)
    return dirs


class Writer:
    """A forked process doing the churn, one burst per byte it reads."""

    def __init__(self, dirs: List[str], tag: str) -> None:
        self.go_r, self.go_w = os.pipe()
        sys.stdout.flush()
        self.pid = os.fork()
        if self.pid == 0:
            try:
                os.close(self.go_w)
                self._run(dirs, tag)
            finally:
                os._exit(0)
        os.close(self.go_r)

    def _run(self, dirs: List[str], tag: str) -> None:
        n_dirs = len(dirs)
        flags = os.O_CREAT | os.O_WRONLY | os.O_EXCL
        op = 0
        while op < N_OPS:
            if not os.read(self.go_r, 1):
                return
            for _ in range(BURST):
                path = f"{dirs[op % n_dirs]}/{tag}{op}"
                fd = os.open(path, flags, 0o644)
                os.write(fd, b"x")
                os.close(fd)
                os.unlink(path)
                op += 1

    def burst(self) -> None:
        os.write(self.go_w, b"g")

    def close(self) -> None:
        os.close(self.go_w)
        os.waitpid(self.pid, 0)


class Counter:
    """Events and creates seen (of names starting with *tag*), with a
    wait for the creates to reach a target."""

    def __init__(self, tag: str) -> None:
        self.tag = tag
        self.events = 0
        self.created = 0  # distinct names
        self.reports = 0  # create events (more if a name is reported twice)
        self.names: Set[str] = set()
        self.target = 0
        self.cond = threading.Condition()

    def add(self, n_events: int, created: List[str]) -> None:
        with self.cond:
            self.events += n_events
            self.reports += len(created)
            self.names.update(created)
            self.created = len(self.names)
            if self.created >= self.target:
                self.cond.notify_all()

    def wait_for(self, target: int, timeout: float) -> bool:
        """Until *target* creates are seen, or no progress for *timeout*."""
        with self.cond:
            self.target = target
            while self.created < target:
                before = self.created
                self.cond.wait(timeout)
                if self.created == before:
                    return False
            return True


def run_churn(
    dirs: List[str], tag: str, pump: Callable[[Counter, Callable[[], bool]], None]
) -> Result:
    """Drive a Writer; *pump(counter, step)* reads the watcher and feeds
    *counter*, calling *step()* after each batch it read (step returns
    False once the churn is over).  Returns (seconds, events, distinct
    names created, create reports)."""
    counter = Counter(tag)
    writer = Writer(dirs, tag)
    state = {"next": 0, "t0": 0.0, "t1": 0.0}

    def step() -> bool:
        # The next burst once every create of the previous one was seen.
        if state["t1"]:
            return False
        if counter.created >= state["next"]:
            if state["next"] >= N_OPS:
                state["t1"] = time.perf_counter()
                return False
            if not state["t0"]:
                state["t0"] = time.perf_counter()
            state["next"] += BURST
            writer.burst()
        return True

    try:
        pump(counter, step)
    finally:
        writer.close()
    t1 = state["t1"] or time.perf_counter() - TIMEOUT  # a stall: not counted
    return t1 - state["t0"], counter.events, counter.created, counter.reports


def name_of(path: str) -> str:
    return path.rpartition("/")[2]


def pump_tree(tree: Any) -> Callable[[Counter, Callable[[], bool]], None]:
    def pump(counter: Counter, step: Callable[[], bool]) -> None:
        tag = counter.tag
        step()
        while True:
            first = tree.wait(TIMEOUT)
            if first is None:
                return  # stalled: the rest is lost
            batch = [first, *tree.read_events()] if tree.buffered() else [first]
            created = []
            for ev in batch:
                if ev.mask & IN_CREATE:
                    name = name_of(ev.path)
                    if name.startswith(tag):
                        created.append(name)
            counter.add(len(batch), created)
            if not step():
                return

    return pump


def ready_probe(root: str, seen: Callable[[str], bool]) -> bool:
    """Touch a probe file until *seen(name)* says the watcher reported it."""
    for k in range(200):
        name = f"probe{k}"
        open(os.path.join(root, name), "w").close()
        if seen(name):
            return True
    return False


def tree_probe(tree: Any, root: str) -> None:
    def seen(name: str) -> bool:
        deadline = time.monotonic() + 0.5
        while time.monotonic() < deadline:
            ev = tree.wait(0.05)
            if ev is not None and name_of(ev.path) == name:
                while tree.wait(0.05) is not None:
                    pass
                return True
        return False

    assert ready_probe(root, seen), "the watcher never reported a probe file"


def churn_butter(cls: Any, root: str, dirs: List[str]) -> Result:
    tree = cls(root, EVENTS)
    try:
        tree_probe(tree, root)
        if PROFILE and cls is FanotifyTree:
            return profiled(lambda: run_churn(dirs, "b", pump_tree(tree)), "FanotifyTree churn")
        return run_churn(dirs, "b", pump_tree(tree))
    finally:
        tree.close()


def churn_watchdog(root: str, dirs: List[str]) -> Optional[Result]:
    try:
        from watchdog.events import FileSystemEventHandler
        from watchdog.observers.inotify import InotifyObserver
    except ImportError:
        return None
    holder: Dict[str, Counter] = {}
    probes: List[str] = []

    class Handler(FileSystemEventHandler):  # type: ignore[misc]
        def on_any_event(self, event: Any) -> None:
            counter = holder.get("c")
            if counter is None:
                probes.append(name_of(event.src_path))
                return
            name = name_of(event.src_path)
            created = (
                event.event_type == "created"
                and not event.is_directory
                and name.startswith(counter.tag)
            )
            counter.add(1, [name] if created else [])

    observer = InotifyObserver()
    observer.schedule(Handler(), root, recursive=True)
    observer.start()
    try:

        def seen(name: str) -> bool:
            deadline = time.monotonic() + 0.5
            while time.monotonic() < deadline:
                if name in probes:
                    return True
                time.sleep(0.01)
            return False

        assert ready_probe(root, seen), "watchdog never reported a probe file"
        time.sleep(0.1)

        def pump(counter: Counter, step: Callable[[], bool]) -> None:
            holder["c"] = counter
            # The handler runs in the observer's thread; this one drives.
            while step():
                if not counter.wait_for(_next(counter), TIMEOUT):
                    return

        return run_churn(dirs, "w", pump)
    finally:
        observer.stop()
        observer.join()


def _next(counter: Counter) -> int:
    """The create count that lets the writer go on: the end of the burst."""
    return (counter.created // BURST + 1) * BURST


def churn_watchfiles(root: str, dirs: List[str]) -> Optional[Result]:
    try:
        import watchfiles
    except ImportError:
        return None
    stop = threading.Event()
    gen = watchfiles.watch(
        root,
        debounce=50,
        step=5,
        rust_timeout=100,
        yield_on_timeout=True,
        stop_event=stop,
        watch_filter=None,
        raise_interrupt=False,
    )
    try:
        probe = {"k": 0}
        got = False
        for changes in gen:  # the watcher exists once the first set comes
            names = {name_of(p) for _, p in changes}
            if f"probe{probe['k']}" in names:
                got = True
                break
            probe["k"] += 1
            if probe["k"] > 100:
                break
            open(os.path.join(root, f"probe{probe['k']}"), "w").close()
        assert got, "watchfiles never reported a probe file"

        def pump(counter: Counter, step: Callable[[], bool]) -> None:
            tag = counter.tag
            added = watchfiles.Change.added
            step()
            quiet_since = time.monotonic()
            for changes in gen:
                if not changes:
                    if time.monotonic() - quiet_since > TIMEOUT:
                        return
                    continue
                quiet_since = time.monotonic()
                created = []
                for change, path in changes:
                    if change == added:
                        name = name_of(path)
                        if name.startswith(tag):
                            created.append(name)
                counter.add(len(changes), created)
                if not step():
                    return

        return run_churn(dirs, "f", pump)
    finally:
        stop.set()
        gen.close()


def consumer_alone(root: str, dirs: List[str]) -> None:
    """The churn rates above include the writer's pace.  Here a burst is
    made first (the watcher open: the kernel queues it), then the reading
    is timed alone: what butter's bookkeeping costs per event."""
    print(f"\nconsumer alone, a burst of {BURST:,} operations already queued (median of 5):")
    flags = os.O_CREAT | os.O_WRONLY | os.O_EXCL
    for label, cls in (("butter FanotifyTree", FanotifyTree), ("butter InotifyTree", InotifyTree)):
        if cls is None:
            continue
        tree = cls(root, EVENTS)
        rates = []
        try:
            tree_probe(tree, root)
            for r in range(5):
                for op in range(BURST):
                    path = f"{dirs[op % len(dirs)]}/q{r}-{op}"
                    fd = os.open(path, flags, 0o644)
                    os.write(fd, b"x")
                    os.close(fd)
                    os.unlink(path)
                n = 0
                t0 = time.perf_counter()
                while True:
                    if tree.buffered():
                        n += len(tree.read_events())
                    elif tree.wait(0) is not None:
                        n += 1
                    else:
                        break
                rates.append(n / (time.perf_counter() - t0))
        finally:
            tree.close()
        rate = statistics.median(rates)
        print(f"  {label:36s} {rate / 1e3:10.1f} k events/s ({n:,} events a burst)")


def throughput(root: str) -> None:
    dirs = churn_dirs(root)
    print(
        f"\nthroughput, tmpfs: {N_OPS:,} create/write/close/unlink of distinct names across "
        f"{len(dirs):,} directories, bursts of {BURST:,}:"
    )
    print(
        f"  {'':36s} {'k events/s':>10s} {'k creates/s':>11s} {'events':>8s} {'lost':>6s}"
        f" {'twice':>6s}"
    )

    def row(label: str, result: Optional[Result]) -> float:
        if result is None:
            print(f"  {label:36s} (not installed)")
            return 0.0
        dt, events, created, reports = result
        print(
            f"  {label:36s} {events / dt / 1e3:10.1f} {created / dt / 1e3:11.1f} "
            f"{events:8,d} {N_OPS - created:6,d} {reports - created:6,d}"
        )
        return events / dt

    fan = 0.0
    if FanotifyTree is None:
        print(f"  {'butter FanotifyTree':36s} (not in this butter)")
    else:
        fan = row("butter FanotifyTree", churn_butter(FanotifyTree, root, dirs))
    ino = row("butter InotifyTree", churn_butter(InotifyTree, root, dirs))
    row("watchdog InotifyObserver", churn_watchdog(root, dirs))
    row("watchfiles watch (rust notify)", churn_watchfiles(root, dirs))
    if fan:
        verdict = "ok" if fan >= ino else "MISSED (target >= InotifyTree)"
        print(f"  FanotifyTree / InotifyTree events/s: {fan / ino:.2f}x, {verdict}")
    consumer_alone(root, dirs)


def main() -> int:
    header("whole-tree watching")
    if os.geteuid() != 0:
        print("  (needs root: a private mount namespace, tmpfs mounts, fanotify; skipped)")
        return 0
    private_namespace()
    base = tempfile.mkdtemp(prefix="bench-tree-")
    os.chmod(base, 0o755)  # for the InotifyTree child's uid
    try:
        root = tmpfs(base)
        try:
            scale("tmpfs", root)
        finally:
            unmount(root)
        if "--ext4" in ARGS:
            root, image = ext4(base, N_DIRS + 10_000)
            try:
                scale("ext4 (loop image)", root)
            finally:
                unmount(root)
                os.unlink(image)
        root = tmpfs(base)
        try:
            throughput(root)
        finally:
            unmount(root)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
