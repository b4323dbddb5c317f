"""The ``tuneprep`` command. Thin: parses arguments, calls the library, prints.

One module per verb group in this package, each with ``register(app)``; this file lists them
once. Errors: every ``TuneprepError`` that a command does not handle itself is caught here,
printed without a traceback, and ends the process with its exit code (``tuneprep.errors``:
2 = usage or recipe error, nothing ran; 1 = a run that failed). Heavy third-party libraries
are imported inside the commands so that ``tuneprep --help`` stays fast.
"""

from __future__ import annotations

import sys

import typer
from rich.console import Console

from tuneprep.cli import annotate, convert, demo, evaluate, run, train
from tuneprep.errors import TuneprepError

app = typer.Typer(
    name="tuneprep",
    help="Raw domain text to a fine-tuned, evaluated model; every data decision audited.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# The verb groups, in help order. A new group: a module here with register(app), one line below.
VERB_GROUPS = (run, convert, train, evaluate, annotate, demo)
for _group in VERB_GROUPS:
    _group.register(app)


def main() -> None:
    """Console entry point: run the app; a TuneprepError becomes a message and its exit code."""
    try:
        app()
    except TuneprepError as e:
        Console(stderr=True).print(f"[red]error:[/red] {e}", highlight=False, markup=True, soft_wrap=True)
        sys.exit(e.exit_code)


__all__ = ["app", "main"]
