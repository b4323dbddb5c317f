"""``tuneprep run`` and ``tuneprep ops``: progress bars, tables, exit codes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.markup import escape
from rich.table import Table

from tuneprep.ui import make_console, make_progress
from tuneprep.ui.console import Column, build_table, fit_table

err = make_console(stderr=True)
stdout = make_console()


def stats_table(stats: dict[str, Any]) -> Table:
    cols = [Column("step", ident=True), Column("in", justify="right"), Column("out", justify="right"),
            Column("dropped", justify="right"), Column("reasons"), Column("seconds", justify="right")]
    rows = []
    for s in stats["steps"]:
        dropped = sum(s["dropped"].values())
        reasons = ", ".join(f"{k}: {v:,}" for k, v in s["dropped"].items())
        rows.append((s["step"], f"{s['in']:,}", f"{s['out']:,}", f"{dropped:,}", reasons, f"{s['seconds']:.2f}"))
    return build_table(cols, rows, title="Records per step", show_lines=False)


def _log(message: str) -> None:
    """Engine messages (encodings, warnings) unwrapped, and brackets shown as written, not as markup."""
    err.print(escape(message), highlight=False, soft_wrap=True)


def run_recipe_cli(recipe_path: Path, workers: int = 0, out: str | None = None, fresh: bool = False,
                   quiet: bool = False, shard_bytes: int | None = None, engine: str | None = None,
                   address: str | None = None, exchange: str = "auto") -> int:
    """``tuneprep run``: 0 on success, 2 for a bad recipe or input path, 1 when the run fails."""
    from tuneprep.datasets import DatasetError
    from tuneprep.engine.execute import execute
    from tuneprep.engine.local import RunError
    from tuneprep.io.fs import join
    from tuneprep.io.readers import InputError
    from tuneprep.ray_cluster import ENGINES, EXCHANGES, RayClusterError
    from tuneprep.recipe import RecipeError, load_recipe

    try:
        recipe = load_recipe(recipe_path)
    except RecipeError as e:
        err.print(f"[red]error in recipe[/red]\n{e}", highlight=False, markup=True)
        return 2
    if out is not None:
        recipe.output.path = str(out)
    if engine is not None and engine not in ENGINES:
        err.print(f"[red]error:[/red] --engine {escape(engine)}: choose local or ray", highlight=False)
        return 2
    if exchange not in EXCHANGES:
        err.print(f"[red]error:[/red] --exchange {escape(exchange)}: choose {', '.join(EXCHANGES)}", highlight=False)
        return 2
    try:
        with make_progress(quiet) as prog:
            result = execute(recipe, engine=engine, address=address, workers=workers,  # type: ignore[arg-type]
                             fresh=fresh, progress=prog, shard_bytes=shard_bytes, log=_log,
                             exchange=exchange)  # type: ignore[arg-type]
    except (InputError, DatasetError) as e:
        err.print(f"[red]input error:[/red] {e}", highlight=False)
        return 2
    except (RunError, RayClusterError) as e:
        err.print(f"[red]run failed:[/red] {escape(str(e))}", highlight=False, soft_wrap=True)
        return 1
    stats = result.stats
    stdout.print(stats_table(stats))
    where = ", ".join(f"{k}: {v:,}" for k, v in result.splits.items())
    stdout.print(f"records in {result.records_in:,} = kept {result.kept:,} + rejected {result.rejected:,}  "
              f"[green]✓[/green]  ({where}; {result.seconds:.1f} s, {stats['workers']} workers, {stats['engine']} engine)", highlight=False)
    if "split" in stats:  # a hash split: fractions are expected, not exact
        shares = ", ".join(f"{k} {v['realised']:.4f} (expected {v['expected']:g} ± {v['two_sigma']:.4f})"
                           for k, v in stats["split"]["splits"].items())
        stdout.print(f"hash split, realised shares: {shares}", highlight=False)
    stdout.print(f"output: {result.out_dir}  (rejects in {join(str(result.out_dir), 'rejects')})", highlight=False)
    return 0


def _param_rows(cls: Any) -> list[dict[str, Any]]:
    rows = []
    for name, f in cls.Params.model_fields.items():
        default = None if f.is_required() else f.get_default(call_default_factory=True)
        rows.append({"name": name, "type": _type_name(f.annotation), "default": default,
                     "required": f.is_required(), "description": f.description or ""})
    return rows


def _type_name(ann: Any) -> str:
    text = getattr(ann, "__name__", None) if not getattr(ann, "__args__", None) else None
    return text or str(ann).replace("typing.", "")


def print_ops(name: str | None = None, json_out: bool = False) -> int:
    """``tuneprep ops``: every operator with its parameters and defaults."""
    from tuneprep.ops.base import UnknownOpError, all_ops, get_op

    try:
        ops = {name: get_op(name)} if name else all_ops()
    except UnknownOpError as e:
        err.print(f"[red]{e}[/red]")
        return 2
    data = {n: {"kind": c.kind, "description": c.description or (c.__doc__ or "").strip().split("\n")[0],
                "params": _param_rows(c)} for n, c in ops.items()}
    if json_out:
        print(json.dumps(data, indent=2, default=str))
        return 0
    rows = []
    for n, d in data.items():
        params = "\n".join(
            f"{p['name']}: {p['type']}" + (" (required)" if p["required"] else f" = {p['default']!r}")
            + (f"  — {p['description']}" if p["description"] else "") for p in d["params"])
        rows.append((n, d["kind"], d["description"], params or "—"))
    cols = [Column("op", ident=True), Column("kind", ident=True), Column("description"),
            Column("parameters (default)")]
    stdout.print(fit_table(cols, rows, title="Operators", console=stdout, show_lines=True))
    return 0


def register(app: typer.Typer) -> None:
    """Add ``run`` and ``ops`` to the main app."""

    @app.command()
    def run(
        recipe: Path = typer.Argument(..., help="Recipe YAML file."),
        workers: int = typer.Option(0, "--workers", "-w", help="Worker processes (0 = all cores)."),
        out: str | None = typer.Option(None, "--out", help="Override output.path of the recipe (a directory, "
                                       "or a URL: s3://bucket/run, gs://..., file://...)."),
        fresh: bool = typer.Option(False, "--fresh", help="Ignore completed shards of an earlier run."),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars."),
        shard_bytes: int | None = typer.Option(None, "--shard-bytes", help="Shard size in bytes (default: automatic)."),
        engine: str | None = typer.Option(None, "--engine",
                                          help="local (this machine) or ray (a Ray cluster); default: the "
                                               "recipe's engine. Same results either way."),
        address: str | None = typer.Option(None, "--address", help="Ray cluster for --engine ray, e.g. "
                                           "ray://head:10001 (default: RAY_ADDRESS, else Ray on this machine)."),
        exchange: str = typer.Option("auto", "--exchange", help="How --engine ray passes records: files (tasks "
                                     "share the work directory: one machine or a shared mount), objects (Ray "
                                     "Data, the object store), auto (files when every node sees the output)."),
    ) -> None:
        """Run a recipe: read, clean, filter, dedup, split; write data, rejects, stats, manifest."""
        raise typer.Exit(run_recipe_cli(recipe, workers=workers, out=out, fresh=fresh, quiet=quiet,
                                        shard_bytes=shard_bytes, engine=engine, address=address,
                                        exchange=exchange))

    @app.command()
    def ops(
        name: str | None = typer.Argument(None, help="Show one operator only."),
        json_out: bool = typer.Option(False, "--json", help="Print JSON."),
    ) -> None:
        """List every operator with its parameters and defaults."""
        raise typer.Exit(print_ops(name, json_out))
