"""The ``tuneprep`` command. Thin: parses arguments, calls the library, prints.

One module per verb group in this package, each with ``register(app)``; this file lists them
once. Errors: every ``TuneprepError`` that a command does not handle itself is caught here,
printed without a traceback, and ends the process with its exit code (``tuneprep.errors``:
2 = usage or recipe error, nothing ran; 1 = a run that failed). Heavy third-party libraries
are imported inside the commands so that ``tuneprep --help`` stays fast.
"""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from tuneprep.cli import ablate, annotate, convert, correct, demo, evaluate, run, studio, train
from tuneprep.errors import TuneprepError
from tuneprep.ui import emit, events, make_console, quiet_third_party, settings

app = typer.Typer(
    name="tuneprep",
    help="Raw domain text to a fine-tuned, evaluated model; every data decision audited.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)



@app.callback()
def _global_options(
    ctx: typer.Context,
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress output (every verb)."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Keep third-party libraries' own output."),
    log_json: Path | None = typer.Option(
        None, "--log-json", help="Append one JSON event per line to FILE (also: TUNEPREP_LOG_JSON)."),
) -> None:
    """Raw domain text to a fine-tuned, evaluated model; every data decision audited."""
    settings.quiet = quiet
    settings.verbose = verbose
    events.set_log_file(str(log_json) if log_json else None)
    quiet_third_party(verbose=verbose)
    emit("command_start", argv=sys.argv[1:], verb=ctx.invoked_subcommand)


# The verb groups, in help order. A new group: a module here with register(app), one line below.
VERB_GROUPS = (run, convert, correct, train, evaluate, annotate, ablate, studio, demo)
for _group in VERB_GROUPS:
    _group.register(app)


def _verb() -> str | None:
    verbs = {c.name or c.callback.__name__ for c in app.registered_commands if c.callback}
    verbs |= {g.name for g in app.registered_groups}
    return next((a for a in sys.argv[1:] if a in verbs), None)


def main() -> None:
    """Console entry point: run the app; a TuneprepError becomes a message and its exit code.

    The JSON event log (``--log-json``) gets the verb's exit code, whatever way it ends.
    """
    code = 0
    try:
        try:
            app()
        except TuneprepError as e:
            make_console(stderr=True).print(f"[red]error:[/red] {e}", highlight=False, markup=True, soft_wrap=True)
            sys.exit(e.exit_code)
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        raise
    except BaseException as e:
        code = 1
        emit("error", verb=_verb(), exit_code=1, error=type(e).__name__, message=str(e))
        raise
    finally:
        if code:
            emit("error", verb=_verb(), exit_code=code)
        emit("command_end", verb=_verb(), exit_code=code)


__all__ = ["app", "main"]
