"""One TuneprepError base, caught once at the top of the CLI with documented exit codes."""

from __future__ import annotations

import sys

import pytest
import typer

import tuneprep.cli as cli
from tuneprep.datasets import DatasetError
from tuneprep.engine.local import RunError
from tuneprep.errors import EXIT_FAILED, EXIT_USAGE, TuneprepError
from tuneprep.evaluate.runner import EvalError
from tuneprep.io.readers import InputError
from tuneprep.models.registry import ModelError
from tuneprep.ops.base import UnknownOpError
from tuneprep.recipe import RecipeError
from tuneprep.records import RecordError


@pytest.mark.parametrize("exc, code", [
    (RecipeError("recipe.yaml:3: steps[0].op: unknown"), EXIT_USAGE),
    (UnknownOpError("filter.lenght", ["filter.length"]), EXIT_USAGE),
    (InputError("data.jsonl: no such file"), EXIT_USAGE),
    (RunError("accounting mismatch"), EXIT_FAILED),
    (ModelError("model 'x' needs the PyPI package y"), EXIT_FAILED),
    (EvalError("no test records"), EXIT_FAILED),
])
def test_main_turns_a_tuneprep_error_into_its_message_and_exit_code(monkeypatch, capsys, exc, code):
    app = typer.Typer()

    @app.command()
    def boom() -> None:
        raise exc

    @app.command()
    def other() -> None:  # two commands, so that `boom` is a subcommand as in the real app
        pass

    monkeypatch.setattr(cli, "app", app)
    monkeypatch.setattr(sys, "argv", ["tuneprep", "boom"])
    with pytest.raises(SystemExit) as e:
        cli.main()
    assert e.value.code == code
    err = capsys.readouterr().err
    assert str(exc).split(":")[0] in err and "Traceback" not in err


def test_every_error_class_shares_the_base():
    for cls in (RecipeError, UnknownOpError, InputError, DatasetError, RunError, ModelError, EvalError, RecordError):
        assert issubclass(cls, TuneprepError), cls


def test_a_bug_keeps_its_traceback(monkeypatch):
    app = typer.Typer()

    @app.command()
    def boom() -> None:
        raise ZeroDivisionError("bug")

    @app.command()
    def other() -> None:
        pass

    monkeypatch.setattr(cli, "app", app)
    monkeypatch.setattr(sys, "argv", ["tuneprep", "boom"])
    with pytest.raises(ZeroDivisionError):
        cli.main()
