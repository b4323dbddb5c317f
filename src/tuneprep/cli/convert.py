"""CLI verbs of the io area: ``convert`` and ``inspect`` (registered by tuneprep.cli)."""

from __future__ import annotations

from pathlib import Path

import typer

from tuneprep.ui.console import make_console


def convert_cli(src: Path, dst: Path, from_style: str | None, to_style: str, fmt: str | None,
                strict: bool, json_out: bool) -> int:
    """Run ``converters.convert_file`` and print its counts; returns the exit code.

    0 on success, 1 when ``strict`` and some rows were rejected, 2 when the input cannot be read.
    """
    import orjson

    from tuneprep.io.converters import convert_file
    from tuneprep.io.readers import InputError

    err = make_console(stderr=True)
    try:
        res = convert_file(src, dst, from_style, to_style, fmt)
    except (InputError, ValueError) as e:
        err.print(f"[red]error:[/red] {e}", highlight=False)
        return 2
    if json_out:
        typer.echo(orjson.dumps(res.as_dict(), option=orjson.OPT_INDENT_2).decode())
    else:
        out = make_console()
        out.print(f"{res.src} ({res.from_style}) → {res.dst} ({res.to_style})", highlight=False)
        out.print(f"read {res.read:,}  written {res.written:,}  rejected {res.rejected:,}", highlight=False)
        if res.rejected:
            reasons = ", ".join(f"{k} {v:,}" for k, v in sorted(res.rejected_by_reason.items()))
            out.print(f"rejects ({reasons}): {res.rejects_path}", highlight=False)
    return 1 if strict and res.rejected else 0


def register(app: typer.Typer) -> None:
    """Add this area's commands to the main app. The library is imported inside the commands."""
    from tuneprep.io.rows import FORMATS  # the reader registry's format list (a leaf: no pydantic)

    @app.command("convert")
    def convert(
        src: Path = typer.Argument(..., help="Input file (jsonl, json, csv, tsv, parquet, hf dir...)."),
        dst: Path = typer.Argument(..., help="Output file; format from the extension (.jsonl, .json, .csv, "
                                             ".tsv, .parquet, optionally .gz/.zst)."),
        from_style: str | None = typer.Option(
            None, "--from", help="Input style: openai, sharegpt, alpaca, prompt_completion (default: detect)."),
        to_style: str = typer.Option("openai", "--to", help="Output style: openai, sharegpt, alpaca, "
                                                            "prompt_completion."),
        fmt: str | None = typer.Option(None, "--format", help="Force the input format."),
        strict: bool = typer.Option(False, "--strict", help="Exit with 1 when any row was rejected."),
        json_out: bool = typer.Option(False, "--json", help="Print the counts as JSON."),
    ) -> None:
        """Convert chat/SFT data between styles; bad rows go to DST.rejects.jsonl."""
        raise typer.Exit(convert_cli(src, dst, from_style, to_style, fmt, strict, json_out))

    @app.command()
    def inspect(
        path: Path = typer.Argument(..., help="Any supported data file (or a glob in quotes)."),
        format: str | None = typer.Option(None, "--format", help=f"Force a format ({', '.join(FORMATS)})."),
        text_field: str = typer.Option("text", help="Field holding the text."),
        label_field: str | None = typer.Option(None, help="Field holding the label."),
        json_out: bool = typer.Option(False, "--json", help="Print JSON."),
        near_dups: bool = typer.Option(False, "--near-dups", help="Also the near-duplicate rate and largest clusters."),
        near_threshold: float = typer.Option(0.7, help="Jaccard threshold for --near-dups."),
        char_ngrams: int | None = typer.Option(None, help="--near-dups on character n-grams of this size (short texts)."),
    ) -> None:
        """Profile a data file: counts, lengths, duplicates, labels, fields, parse errors."""
        from tuneprep.io.inspect import inspect_cli

        if not near_dups:
            raise typer.Exit(inspect_cli(path, format, text_field, label_field, json_out))

        # Imported here, not at the top: it pulls numpy, and `tuneprep --help` must stay fast.
        from tuneprep.neardup.report import near_duplicates
        from tuneprep.neardup.report import render as render_near

        def near(p: Path | str, fmt: str | None, field: str) -> dict:
            return near_duplicates(p, fmt, field, near_threshold, char_ngrams)

        raise typer.Exit(inspect_cli(path, format, text_field, label_field, json_out, near, render_near))
