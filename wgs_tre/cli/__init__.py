"""The ``wgs-tre`` command line (typer + rich).

Errors the user can act on print one line to stderr and exit with the code of their class
(:class:`wgs_tre.errors.ExitCode`); no tracebacks for user mistakes. With ``--json`` the error
is also printed to stdout as JSON (:func:`wgs_tre.errors.to_wire`: class, exit code, message
and its fields, such as ``where`` and ``problem``), unless the command already printed its
report there (``audit verify`` and ``datasets verify`` print what failed, then exit 7).
"""

from __future__ import annotations

import os
import sys

import orjson
from rich.console import Console
from rich.markup import escape

from wgs_tre.cli.app import app
from wgs_tre.cli.common import State
from wgs_tre.errors import ExitCode, WgsTreError, to_wire

__all__ = ["app", "main"]


GLOBAL_FLAGS = ("--json",)
GLOBAL_OPTIONS = ("--as",)  # each takes a value


def hoist_global_options(argv: list[str]) -> list[str]:
    """Move the root command's options to the front, so that ``--json`` and ``--as NAME`` work
    anywhere on the line (``wgs-tre projects show X --json``), as in ``gh`` or ``kubectl``.
    Nothing after ``--`` moves."""
    hoisted: list[str] = []
    rest: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            rest.extend(argv[i:])
            break
        if arg in GLOBAL_FLAGS or (arg.split("=", 1)[0] in GLOBAL_OPTIONS and "=" in arg):
            hoisted.append(arg)
        elif arg in GLOBAL_OPTIONS and i + 1 < len(argv):
            hoisted.extend(argv[i : i + 2])
            i += 1
        else:
            rest.append(arg)
        i += 1
    return hoisted + rest


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; return (and, as a script, exit with) the process exit code."""
    errors = Console(stderr=True, highlight=False)
    st = State()
    args = hoist_global_options(sys.argv[1:] if argv is None else list(argv))
    try:
        # Standalone mode: typer reports usage errors itself (exit 2) and exits via SystemExit.
        app(args=args, prog_name="wgs-tre", obj=st)
    except WgsTreError as exc:
        errors.print(f"[bold red]error:[/bold red] {escape(exc.message)}", soft_wrap=True)
        if st.json and not st.emitted:  # a command that printed its report keeps it alone
            sys.stdout.write(orjson.dumps(to_wire(exc), option=orjson.OPT_INDENT_2).decode())
            sys.stdout.write("\n")
        return exc.exit_code
    except SystemExit as exc:
        # click answers a closed stdout (EPIPE) by wrapping it so that flushes pass, and exit 1
        if type(sys.stdout).__name__.endswith("PacifyFlushWrapper"):
            _reader_gone()
            return ExitCode.OK
        return exc.code if isinstance(exc.code, int) else ExitCode.OK if exc.code is None else 1
    except BrokenPipeError:
        _reader_gone()
    return ExitCode.OK


def _reader_gone() -> None:
    """The reader of our output stopped reading (``| head -n 1``): it has what it wanted. What
    is left to write goes nowhere, so neither the command nor Python's exit complains."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def run() -> None:
    code = main()
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        _reader_gone()
    sys.exit(code)
