"""The ``tuneprep`` command. Thin: parses arguments, calls the library, prints.

Each area registers its own verbs (``register(app)`` in ``<area>/cli.py``) so that this file
stays small; every import of a heavy library happens inside a command.
"""

from __future__ import annotations

from pathlib import Path

import typer

app = typer.Typer(
    name="tuneprep",
    help="Raw domain text to a fine-tuned, evaluated model; every data decision audited.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.command()
def run(
    recipe: Path = typer.Argument(..., help="Recipe YAML file."),
    workers: int = typer.Option(0, "--workers", "-w", help="Worker processes (0 = all cores)."),
    out: Path | None = typer.Option(None, "--out", help="Override output.path of the recipe."),
    fresh: bool = typer.Option(False, "--fresh", help="Ignore completed shards of an earlier run."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars."),
    shard_bytes: int | None = typer.Option(None, "--shard-bytes", help="Shard size in bytes (default: automatic)."),
) -> None:
    """Run a recipe: read, clean, filter, dedup, split; write data, rejects, stats, manifest."""
    from tuneprep.engine.console import run_recipe_cli

    raise typer.Exit(run_recipe_cli(recipe, workers=workers, out=out, fresh=fresh, quiet=quiet, shard_bytes=shard_bytes))


@app.command()
def ops(
    name: str | None = typer.Argument(None, help="Show one operator only."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """List every operator with its parameters and defaults."""
    from tuneprep.engine.console import print_ops

    raise typer.Exit(print_ops(name, json_out))


@app.command()
def inspect(
    path: Path = typer.Argument(..., help="Any supported data file (or a glob in quotes)."),
    format: str | None = typer.Option(None, "--format", help="Force a format (jsonl, json, csv, tsv, parquet, txt, hf)."),
    text_field: str = typer.Option("text", help="Field holding the text."),
    label_field: str | None = typer.Option(None, help="Field holding the label."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Profile a data file: counts, lengths, duplicates, labels, fields, parse errors."""
    from tuneprep.io.inspect import inspect_cli

    raise typer.Exit(inspect_cli(path, format, text_field, label_field, json_out))


def _register_areas() -> None:
    from tuneprep.ablate.cli import register as register_ablate
    from tuneprep.annotate.cli import register as register_annotate
    from tuneprep.demo_cli import register as register_demo
    from tuneprep.evaluate.cli import register as register_evaluate
    from tuneprep.io.cli import register as register_io
    from tuneprep.train.cli import register as register_train

    for register in (register_io, register_train, register_evaluate, register_annotate, register_demo,
                     register_ablate):
        register(app)


_register_areas()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
