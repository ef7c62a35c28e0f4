"""Every Python example in README.rst and docs/**/*.rst runs as written.

Which blocks are Python, and how they run (docs/machinery.rst, "Examples in
the documentation", is the reference for authors):

* ``.. code-block:: python`` (or ``python3``/``py``): a whole program;
* a literal block (a paragraph ending in ``::``, including a lone ``::``)
  whose text is valid Python (:func:`ast.parse`; Sphinx highlights these
  as Python too); one that is not (shell commands, program output) is
  not Python;
* a doctest block (a paragraph of ``>>>`` lines), a ``code-block:: pycon``
  or a literal block starting with ``>>>``: run by :mod:`doctest`;
* any other ``code-block`` (``console``, ``shell``, ``text``...): not Python.

An RST comment right above a block (``.. example: WORD[, WORD] [-- reason]``)
changes how it runs: ``namespaces`` runs it as pid 1 of fresh mount, UTS,
IPC, network and PID namespaces (``unshare(1)``), for examples that mount,
set the hostname, unshare or load a seccomp filter; ``fanotify`` skips it
where fanotify is unavailable; ``skip -- reason`` does not run it at all.

Each example runs in a fresh interpreter (``sys.executable -I``, deprecation
warnings are errors), in a fresh temporary directory as cwd, and must exit
with status 0 within the timeout.  Its file keeps the .rst's line numbers, so
a traceback points into the page.  A function the example defines at top
level but never uses (an ``async def main()`` nobody runs) fails it: that
code would never be tested.  A literal block that looks like Python
(``import``/``def`` lines) but does not parse fails too, as does a marker
that belongs to no Python block.
"""

from __future__ import annotations

import ast
import functools
import os
import re
import signal
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, List, Optional, Tuple

import pytest
from conftest import needs_fanotify

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
TIMEOUT = 30.0
MARKER_WORDS = frozenset({"namespaces", "fanotify", "skip"})

_CODE_BLOCK = re.compile(
    r"(?P<indent> *)\.\.\s+(?:code-block|code|sourcecode)::\s*(?P<lang>\S*)\s*"
)
_MARKER = re.compile(r" *\.\.\s+example:(?P<words>.*?)(?:--(?P<reason>.*))?")
_OPTION = re.compile(r" *:[\w-]+:.*")
_LOOKS_PYTHON = re.compile(r" *(import \w|from [\w.]+ import |def \w|async def |class \w+[(:])")
_PYTHON_LANGS = frozenset({"python", "python3", "py", "py3"})


@dataclass
class Example:
    file: str  # relative to the repository, e.g. "docs/families/clone.rst"
    line: int  # 1-based: the directive, the ``::`` line or the first ``>>>``
    kind: str  # "program", "doctest", "not python" or "error"
    text: str  # the block, dedented
    first: int  # 1-based line of the block's first text line
    words: Tuple[str, ...] = ()
    reason: str = ""

    @property
    def id(self) -> str:
        return f"{self.file}:{self.line}"


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _block(lines: List[str], i: int, options: bool) -> Tuple[int, int]:
    """The indented body starting after ``lines[i - 1]`` (skipping a
    directive's options and blank lines): (first line, end), 0-based."""
    parent = _indent(lines[i - 1])
    while options and i < len(lines) and lines[i].strip() and _OPTION.fullmatch(lines[i]):
        i += 1
    while i < len(lines) and not lines[i].strip():
        i += 1
    first = i
    if first >= len(lines) or _indent(lines[first]) <= parent:
        return first, first  # no body
    body = _indent(lines[first])
    while i < len(lines) and (not lines[i].strip() or _indent(lines[i]) >= body):
        i += 1
    return first, i


def _classify_literal(text: str) -> str:
    if text.lstrip().startswith(">>>"):
        return "doctest"
    try:
        ast.parse(text)
    except SyntaxError:
        if any(_LOOKS_PYTHON.match(line) for line in text.splitlines()):
            return "error"
        return "not python"
    return "program"


def scan(name: str, source: str) -> List[Example]:
    """Every literal, code and doctest block of one .rst text, in order,
    with the markers above them applied."""
    lines = source.splitlines()
    found: List[Example] = []
    marker: Optional[Tuple[int, Tuple[str, ...], str]] = None
    i = 0
    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        example: Optional[Example] = None
        end = i + 1
        m = _MARKER.fullmatch(line)
        code = _CODE_BLOCK.fullmatch(line)
        if m:
            words = tuple(w for w in re.split(r"[\s,]+", m["words"]) if w)
            if marker is not None:
                found.append(Example(name, marker[0], "error", "marker followed by a marker", 0))
            marker = (i + 1, words, (m["reason"] or "").strip())
        elif code:
            first, end = _block(lines, i + 1, options=True)
            # docutils dedents the options and the body together: a body
            # indented more than the options keeps the difference.
            text = textwrap.dedent("\n".join(lines[i + 1 : end]))
            text = "\n".join(text.splitlines()[first - i - 1 :]).strip("\n")
            lang = code["lang"].lower()
            kind = (
                "program"
                if lang in _PYTHON_LANGS
                else "doctest"
                if lang == "pycon"
                else "not python"
            )
            example = Example(name, i + 1, kind, text, first + 1)
        elif stripped.endswith("::") and not stripped.startswith(".."):
            first, end = _block(lines, i + 1, options=False)
            text = textwrap.dedent("\n".join(lines[first:end])).strip("\n")
            if first < end:
                example = Example(name, i + 1, _classify_literal(text), text, first + 1)
        elif stripped.startswith(">>>") and (i == 0 or not lines[i - 1].strip()):
            end = i
            while end < len(lines) and lines[end].strip():
                end += 1
            text = textwrap.dedent("\n".join(lines[i:end]))
            example = Example(name, i + 1, "doctest", text, i + 1)
        if example is not None:
            if marker is not None:
                example.words, example.reason = marker[1], marker[2]
                unknown = set(example.words) - MARKER_WORDS
                problem = (
                    f"unknown marker word(s) {sorted(unknown)} (known: {sorted(MARKER_WORDS)})"
                    if unknown
                    else f"the marker on line {marker[0]} is on a block that is not Python"
                    if example.kind == "not python"
                    else "'skip' needs a reason: '.. example: skip -- why'"
                    if "skip" in example.words and not example.reason
                    else ""
                )
                if problem:
                    example.kind, example.text = "error", problem
                marker = None
            found.append(example)
        i = max(end, i + 1)
    if marker is not None:
        found.append(Example(name, marker[0], "error", "marker with no block after it", 0))
    return found


def doc_files() -> Iterator[Path]:
    readme = ROOT / "README.rst"
    if readme.exists():
        yield readme
    yield from sorted(p for p in DOCS.rglob("*.rst") if "_build" not in p.parts)


def all_examples() -> List[Example]:
    return [
        ex
        for path in doc_files()
        for ex in scan(path.relative_to(ROOT).as_posix(), path.read_text(encoding="utf-8"))
        if ex.kind != "not python"
    ]


def _params() -> List[Any]:
    if not DOCS.is_dir():
        reason = f"no docs/ beside the tests ({DOCS}): not a source tree"
        return [pytest.param(None, id="no-docs", marks=pytest.mark.skip(reason=reason))]
    params = []
    for ex in all_examples():
        marks: List[Any] = []
        if "skip" in ex.words:
            marks.append(pytest.mark.skip(reason=f"marked not runnable: {ex.reason}"))
        if "fanotify" in ex.words:
            marks.append(needs_fanotify)
        params.append(pytest.param(ex, id=ex.id, marks=marks))
    return params


_DOCTEST_RUNNER = """\
import doctest, sys
text, name, line = {text!r}, {name!r}, {line!r}
test = doctest.DocTestParser().get_doctest(text, {{"__name__": "__main__"}}, name, name, line)
runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
runner.run(test)
sys.exit(1 if runner.failures else 0)
"""

_UNSHARE = ["unshare", "--mount", "--uts", "--ipc", "--net", "--pid", "--fork"]
_UNSHARE += ["--mount-proc", "--kill-child", "--"]


@functools.cache
def _no_namespaces() -> str:
    """Why namespaces examples cannot run here ("" if they can)."""
    try:
        proc = subprocess.run([*_UNSHARE, "true"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"unshare(1) does not run: {exc}"
    return f"unshare(1) fails here: {proc.stderr.strip()}" if proc.returncode else ""


def _script(ex: Example) -> str:
    if ex.kind == "doctest":
        return _DOCTEST_RUNNER.format(text=ex.text, name=ex.file, line=ex.first - 1)
    # Blank lines first: tracebacks then give the .rst's line numbers.
    return "\n" * (ex.first - 1) + ex.text + "\n"


def run_example(ex: Example, tmp: Path, timeout: float = TIMEOUT) -> Tuple[int, str]:
    """Run *ex* as a program; return (exit status, output).  A negative
    status is a signal; an example still running after *timeout* seconds
    is killed, with its process group, and reported as a failure."""
    for sub in ("cwd", "script", "tmp"):
        (tmp / sub).mkdir()
    script = tmp / "script" / (Path(ex.file).name + ".py")
    script.write_text(_script(ex), encoding="utf-8")
    cmd = [sys.executable, "-I", "-W", "error::DeprecationWarning", str(script)]
    if "namespaces" in ex.words:
        cmd = _UNSHARE + cmd
    proc = subprocess.Popen(
        cmd,
        cwd=tmp / "cwd",
        env={**os.environ, "TMPDIR": str(tmp / "tmp")},  # tempfile's files go there too
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: killed as a whole
    )
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        return -signal.SIGKILL, f"still running after {timeout} s\n" + out.decode(errors="replace")
    return proc.returncode, out.decode(errors="replace")


def unused_functions(text: str) -> List[str]:
    """The functions *text* defines at top level and never names again."""
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return []  # running it reports that
    defs = (ast.FunctionDef, ast.AsyncFunctionDef)
    defined = {node.name for node in tree.body if isinstance(node, defs)}
    used = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
    return sorted(defined - used)


@pytest.mark.parametrize("ex", _params())
def test_example_runs(ex: Example, tmp_path: Path) -> None:
    if ex.kind == "error":
        pytest.fail(f"{ex.id}: {ex.text}")
    if "namespaces" in ex.words and _no_namespaces():
        pytest.skip(_no_namespaces())
    if ex.kind == "program" and unused_functions(ex.text):
        names = ", ".join(unused_functions(ex.text))
        pytest.fail(f"{ex.id}: defines {names} but never runs it (e.g. asyncio.run(main()))")
    status, out = run_example(ex, tmp_path)
    if status != 0:
        how = f"killed by {signal.Signals(-status).name}" if status < 0 else f"exit status {status}"
        pytest.fail(f"{ex.id} ({ex.kind}): {how}\n--- output:\n{out}--- example:\n{ex.text}")


# -- the scanner itself -------------------------------------------------------

_SAMPLE = """\
Title
=====

Shell::

    pip install butter

.. code-block:: console

    $ make demo

Python in a literal block::

    import os
    print(os.getpid())

.. example: namespaces

.. code-block:: python
    :caption: with an option

    from butter.system import sethostname
    sethostname("box")

* a list item::

      x = 1

  continuing the item.

>>> 1 + 1
2

.. code-block:: pycon

    >>> print("x")
    x

.. example: skip -- shows a fragment

::

    do_something(undefined)

Looks like Python but is broken::

    import os
    def f(:
"""


def test_scanner_dedents_like_docutils() -> None:
    # Options indented less than the body: the body keeps one space (and
    # would fail as Python), in Sphinx as here.
    source = ".. code-block:: python\n   :caption: c\n\n    x = 1\n"
    (ex,) = scan("s.rst", source)
    assert ex.text == " x = 1" and ex.first == 4


def test_scanner_rules() -> None:
    found = [(ex.line, ex.kind, ex.words, ex.text) for ex in scan("s.rst", _SAMPLE)]
    assert found == [
        (4, "not python", (), "pip install butter"),
        (8, "not python", (), "$ make demo"),
        (12, "program", (), "import os\nprint(os.getpid())"),
        (
            19,
            "program",
            ("namespaces",),
            'from butter.system import sethostname\nsethostname("box")',
        ),
        (25, "program", (), "x = 1"),
        (31, "doctest", (), ">>> 1 + 1\n2"),
        (34, "doctest", (), '>>> print("x")\nx'),
        (41, "program", ("skip",), "do_something(undefined)"),
        (45, "error", (), "import os\ndef f(:"),
    ]
    assert scan("s.rst", _SAMPLE)[2].first == 14


@pytest.mark.parametrize(
    "source, problem",
    [
        (".. example: namespaces\n\nShell::\n\n    pip install x\n", "not Python"),
        (".. example: bogus\n\n.. code-block:: python\n\n    pass\n", "unknown marker"),
        (".. example: skip\n\n.. code-block:: python\n\n    pass\n", "needs a reason"),
        ("Text.\n\n.. example: namespaces\n", "no block after it"),
    ],
)
def test_scanner_rejects_bad_markers(source: str, problem: str) -> None:
    (ex,) = [ex for ex in scan("s.rst", source) if ex.kind != "not python"]
    assert ex.kind == "error" and problem in ex.text


@pytest.mark.parametrize(
    "kind, text, ok",
    [
        ("program", "import sys\nsys.exit(0)", True),
        ("program", "raise SystemExit(3)", False),
        ("program", "await f()", False),  # top-level await: a SyntaxError
        ("doctest", ">>> 6 * 7\n42", True),
        ("doctest", ">>> 6 * 7\n41", False),
    ],
)
def test_runner(kind: str, text: str, ok: bool, tmp_path: Path) -> None:
    ex = Example("s.rst", 1, kind, text, 3)
    status, out = run_example(ex, tmp_path)
    assert (status == 0) == ok, out


def _docutils_blocks(source: str) -> List[str]:
    """The literal and doctest blocks of *source* as docutils parses it
    (``code-block`` registered as docutils' ``code``, with Sphinx's options;
    Sphinx's other directives are unknown here and left out)."""
    core = pytest.importorskip("docutils.core")
    from docutils import nodes
    from docutils.parsers.rst import directives
    from docutils.parsers.rst.directives.body import CodeBlock

    class SphinxCodeBlock(CodeBlock):  # type: ignore[misc]
        option_spec = {
            **CodeBlock.option_spec,
            **dict.fromkeys(["caption", "emphasize-lines", "dedent", "lineno-start"], str),
            **dict.fromkeys(["linenos", "force"], directives.flag),
        }

    for name in ("code-block", "sourcecode"):
        directives.register_directive(name, SphinxCodeBlock)
    settings = {"report_level": 5, "halt_level": 5, "syntax_highlight": "none"}
    doctree = core.publish_doctree(source, settings_overrides=settings)
    kinds = (nodes.literal_block, nodes.doctest_block)
    return [
        node.astext()
        for node in doctree.findall(lambda node: isinstance(node, kinds))
        # an unknown directive's error message quotes it in a literal block
        if not isinstance(node.parent, nodes.system_message)
    ]


_PAGES = [p.relative_to(ROOT).as_posix() for p in doc_files()] if DOCS.is_dir() else []


@pytest.mark.parametrize("name", ["sample", *_PAGES])
def test_scanner_agrees_with_docutils(name: str) -> None:
    """An independent reference: docutils finds the same blocks, in order."""
    source = _SAMPLE if name == "sample" else (ROOT / name).read_text(encoding="utf-8")
    assert [ex.text for ex in scan(name, source)] == _docutils_blocks(source)


def test_unused_functions() -> None:
    assert unused_functions("async def main():\n    pass\n") == ["main"]
    assert (
        unused_functions("import asyncio\nasync def main():\n    pass\nasyncio.run(main())") == []
    )
    assert unused_functions("def f():\n    g()\ndef g():\n    pass\nf()") == []


def test_runner_bounded(tmp_path: Path) -> None:
    ex = Example("s.rst", 1, "program", "import os, time\nos.fork()\ntime.sleep(60)", 1)
    status, out = run_example(ex, tmp_path, timeout=1.0)
    assert status == -signal.SIGKILL and "still running" in out


def test_runner_tmpdir(tmp_path: Path) -> None:
    code = "import os, tempfile\nprint(os.getcwd())\nprint(tempfile.mkdtemp())"
    status, out = run_example(Example("s.rst", 1, "program", code, 1), tmp_path)
    cwd, made = out.split()
    assert status == 0 and cwd == str(tmp_path / "cwd") and made.startswith(str(tmp_path / "tmp"))


def test_runner_line_numbers(tmp_path: Path) -> None:
    ex = Example("docs/x.rst", 40, "program", "x = 1\nundefined_name", 42)
    status, out = run_example(ex, tmp_path)
    assert status == 1 and 'x.rst.py", line 43' in out and "NameError" in out


def test_namespaces_marker(tmp_path: Path) -> None:
    code = "import os, socket\nsocket.sethostname('doc-example')\nassert os.getpid() == 1"
    ex = Example("s.rst", 1, "program", code, 1, words=("namespaces",))
    status, out = run_example(ex, tmp_path)
    assert status == 0, out
    assert os.uname().nodename != "doc-example"
