"""What every butter command line program does on its way out.

The C tools butter's CLIs imitate (``inotifywait``, ``fatrace``) die quietly
when their reader goes away (``... | head -1``: SIGPIPE kills them, the shell
sees status 141) and when Ctrl-C arrives.  Python instead raises
``BrokenPipeError``/``KeyboardInterrupt`` and prints a traceback, and even
after catching them, interpreter shutdown flushes ``sys.stdout`` into the
dead pipe and complains again.  :func:`entry_point` wraps a ``main(argv)`` so
that:

* a ``BrokenPipeError`` on stdout/stderr ends the program quietly with status
  ``128 + SIGPIPE`` (141), what a shell reports for the C tools; when run as
  a program (``python -m``, console script) the process then kills itself
  with SIGPIPE, exactly as the C tools die, so ``subprocess`` sees ``-13``;
* ``KeyboardInterrupt`` ends it with status 130 (``128 + SIGINT``), no
  traceback.

Called in-process (tests, other programs calling ``main([...])``) the
wrapped function only returns the status: it never changes signal
dispositions or kills the caller.
"""

from __future__ import annotations

import functools
import os
import signal
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Callable, List, NoReturn, Optional

    Main = Callable[[Optional[List[str]]], int]

__all__ = ["EXIT_SIGINT", "EXIT_SIGPIPE", "entry_point", "run_program"]

EXIT_SIGPIPE = 128 + signal.SIGPIPE
EXIT_SIGINT = 128 + signal.SIGINT


def _silence_stdout() -> None:
    """Point fd 1 at /dev/null so the interpreter's final flush of what is
    still buffered for the closed pipe cannot raise again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass


def entry_point(main: Main) -> Main:
    """Wrap *main* so a closed pipe or Ctrl-C end it quietly (see module
    docstring); the status codes are :data:`EXIT_SIGPIPE` and
    :data:`EXIT_SIGINT`."""

    @functools.wraps(main)
    def wrapper(argv: Optional[List[str]] = None) -> int:
        try:
            return main(argv)
        except BrokenPipeError:
            _silence_stdout()
            return EXIT_SIGPIPE
        except KeyboardInterrupt:
            return EXIT_SIGINT

    return wrapper


def run_program(main: Main) -> NoReturn:
    """Run a wrapped *main* as the process (``if __name__ == "__main__"``
    and console scripts): like ``sys.exit(main())``, but a closed pipe ends
    the process by SIGPIPE as the C tools do."""
    status = main(None)
    if status == EXIT_SIGPIPE:
        try:
            sys.stdout.flush()
        except (BrokenPipeError, ValueError, OSError):
            _silence_stdout()
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGPIPE)
    sys.exit(status)
