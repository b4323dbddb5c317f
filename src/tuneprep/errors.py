"""The one exception base of tuneprep and the CLI's exit codes (docs/architecture.md, "Errors").

Every error tuneprep raises on purpose (bad input, bad recipe, a model it cannot load, a run
that cannot finish) subclasses :class:`TuneprepError`. The CLI catches it once, at the top
(``tuneprep.cli.main``), prints the message and exits with the error's ``exit_code``; anything
else is a bug and keeps its traceback.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILED = 1  # a run that started and failed: bad data, a model that cannot load, a crash
EXIT_USAGE = 2  # the command line or the recipe is wrong: nothing was run


class TuneprepError(Exception):
    """Base of every error tuneprep raises on purpose; the message is for the user."""

    exit_code: int = EXIT_FAILED


class UsageError(TuneprepError):
    """Wrong arguments, a recipe that does not validate, an unknown name: nothing was run."""

    exit_code = EXIT_USAGE
