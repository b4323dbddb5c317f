"""CLI verbs of the correct area: ``tuneprep diff`` and ``tuneprep terms suggest``."""

from __future__ import annotations

from pathlib import Path

import typer


def diff_cli(run_a: Path, run_b: Path | None, show_edits: bool, op: str | None, limit: int,
             sample: int | None, seed: int, json_out: bool) -> int:
    """Print a run-vs-run diff or one run's recorded edits; 2 when a path is not a run directory."""
    import orjson
    from rich.console import Console
    from rich.markup import escape

    from tuneprep.correct.diff import diff_runs, edited_records, sample_edits

    out, err = Console(), Console(stderr=True)
    try:
        if run_b is None or show_edits:
            rows = edited_records(run_b or run_a, op)
            shown = sample_edits(rows, sample, seed) if sample else rows[:limit]
            if json_out:
                typer.echo(orjson.dumps({"records_with_edits": len(rows), "records": shown},
                                        option=orjson.OPT_INDENT_2).decode())
                return 0
            for row in shown:
                out.print(f"[bold]{escape(str(row['id']))}[/bold]")
                for name, edits in row["edits"].items():
                    for e in edits:
                        where = f"message {e['message']} " if "message" in e else ""
                        out.print(f"  {escape(name)} {where}@{e['start']}: [red]{escape(repr(e['from']))}[/red] → "
                                  f"[green]{escape(repr(e['to']))}[/green]", highlight=False)
                # the text after all steps, around the first edit (offsets are before the op: approximate)
                first = min(e["start"] for es in row["edits"].values() for e in es)
                lo = max(0, first - 100)
                snippet = ("…" if lo else "") + row["text"][lo:first + 140]
                out.print("  " + escape(snippet).replace("\n", " "), highlight=False)
            what = f"{len(shown)} sampled edits of" if sample else f"{len(shown)} of"
            out.print(f"{what} {len(rows):,} records with edits" + (f" by {op}" if op else ""), highlight=False)
            return 0
        res = diff_runs(run_a, run_b, limit)
    except FileNotFoundError as e:
        err.print(f"[red]error:[/red] {escape(str(e))}", highlight=False)
        return 2
    if json_out:
        typer.echo(orjson.dumps(res.__dict__, option=orjson.OPT_INDENT_2).decode())
        return 0
    for ex in res.examples:
        out.print(f"[bold]{escape(ex['id'])}[/bold]  " + ", ".join(f"{k}: {len(v)} edits" for k, v in ex["edits"].items()),
                  highlight=False)
        d = escape(ex["diff"]).replace("\\[-", "[red][-").replace("-]", "-][/red]")
        d = d.replace("{+", "[green]{+").replace("+}", "+}[/green]")
        out.print("  " + d.replace("\n", " "), highlight=False)
    out.print(f"{res.common:,} records in both runs, {res.changed:,} changed; only in A: {res.only_a:,}, "
              f"only in B: {res.only_b:,}", highlight=False)
    return 0


def suggest_cli(path: str, text_field: str, out_path: Path | None, min_count: int, ratio: float) -> int:
    from rich.console import Console

    from tuneprep.correct.dictionary import english_frequencies
    from tuneprep.correct.suggest import glossary_yaml, suggest_terms
    from tuneprep.datasets import DatasetError, resolve_input
    from tuneprep.io.readers import InputError, expand_inputs, read_rows
    from tuneprep.records import FieldMapping, RecordError, record_text, to_record

    err = Console(stderr=True)
    fm = FieldMapping(text_field=text_field)

    def texts():
        for f in expand_inputs([resolve_input(path)]):
            for row in read_rows(f):
                if row.error:
                    continue  # unreadable rows are the recipe's business (rejects); here we only count words
                try:
                    yield record_text(to_record(row.obj, fm, f, row.line))
                except RecordError:
                    continue

    try:
        groups = suggest_terms(texts(), min_count=min_count, ratio=ratio, english=english_frequencies())
    except (InputError, DatasetError) as e:
        err.print(f"[red]input error:[/red] {e}", highlight=False)
        return 2
    text = glossary_yaml(groups, path)
    if out_path is None:
        typer.echo(text, nl=False)
    else:
        out_path.write_text(text, encoding="utf-8")
        kinds = {k: sum(g.kind == k for g in groups) for k in ("form", "spelling", "abbreviation")}
        err.print(f"wrote {out_path}: " + ", ".join(f"{v} {k} groups" for k, v in kinds.items()), highlight=False)
    return 0


def register(app: typer.Typer) -> None:
    """Add this area's commands to the main app. Keep heavy imports inside the commands."""

    @app.command("diff")
    def diff(
        run_a: Path = typer.Argument(..., help="Run directory (the 'before' run, or the one run with --show-edits)."),
        run_b: Path | None = typer.Argument(None, help="Second run directory (the 'after' run)."),
        show_edits: bool = typer.Option(False, "--show-edits", help="List the recorded meta.edits of one run."),
        op: str | None = typer.Option(None, "--op", help="Only this op's edits (e.g. clean.typos)."),
        limit: int = typer.Option(20, "--limit", help="Records to show."),
        sample: int | None = typer.Option(None, "--sample", help="A random sample of N edits (for review)."),
        seed: int = typer.Option(0, "--seed", help="Seed of --sample."),
        json_out: bool = typer.Option(False, "--json", help="Print JSON."),
    ) -> None:
        """Before/after of records: RUN_A vs RUN_B by id (word diff), or one run's recorded edits."""
        raise typer.Exit(diff_cli(run_a, run_b, show_edits, op, limit, sample, seed, json_out))

    terms = typer.Typer(help="Terminology: propose glossaries from a corpus.", no_args_is_help=True)

    @terms.command("suggest")
    def suggest(
        path: str = typer.Argument(..., help="Data file, glob or dataset:NAME."),
        text_field: str = typer.Option("text", help="Field holding the text."),
        out: Path | None = typer.Option(None, "--out", "-o", help="Write the glossary here (default: stdout)."),
        min_count: int = typer.Option(3, "--min-count", help="A form must occur this often to be proposed."),
        ratio: float = typer.Option(10.0, "--ratio", help="Spelling variants: the main form is this many times "
                                                            "more frequent."),
    ) -> None:
        """Propose variant groups (case/hyphen/space/period, spelling, abbreviations) as an editable glossary."""
        raise typer.Exit(suggest_cli(path, text_field, out, min_count, ratio))

    app.add_typer(terms, name="terms")
