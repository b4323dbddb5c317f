"""CLI verb ``tuneprep ablate EXPERIMENT.yaml`` (registered into the main app by tuneprep.cli)."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    """Add the ablate command. Heavy imports stay inside the command."""

    @app.command()
    def ablate(
        experiment: Path = typer.Argument(..., help="Experiment YAML: base recipe, variants, seeds, budgets, model."),
        out: Path | None = typer.Option(None, "--out", help="Output directory (default: the file's out, or runs/ablate/NAME)."),
        workers: int = typer.Option(1, "--workers", "-w", help="Workers for each variant's recipe."),
        keep_models: bool = typer.Option(False, "--keep-models", help="Keep each cell's trained weights."),
    ) -> None:
        """Which data decision helped: train and score each variant × budget × seed on one fixed test set."""
        from rich.console import Console

        from tuneprep.ablate.config import AblateError
        from tuneprep.ablate.report import verdict
        from tuneprep.ablate.runner import run_experiment

        console = Console()
        try:
            res = run_experiment(experiment, out, workers=workers, keep_models=keep_models,
                                 log=lambda s: console.print(s, highlight=False))
        except AblateError as e:
            console.print(f"[red]error:[/red] {e}", highlight=False)
            raise typer.Exit(2) from None
        console.rule("macro-F1 (mean [95% CI] over seeds)")
        for r in res["table"]:
            f = r["f1_macro"]
            ci = f"[{f['ci95'][0]:.3f}, {f['ci95'][1]:.3f}]" if f.get("ci95") else ""
            console.print(f"{r['variant']:<24} {r['budget']:>6,}  {f['mean']:.3f} {ci}", highlight=False)
        console.rule(f"paired difference vs {res['baseline']}")
        for d in res["differences"]:
            f = d["f1_macro"]
            console.print(f"{d['variant']:<24} {d['budget']:>6,}  {f['diff']:+.3f} [{f['ci95'][0]:+.3f}, "
                          f"{f['ci95'][1]:+.3f}]  McNemar p = {d['mcnemar']['pvalue']:.2g}  {verdict(d)}",
                          highlight=False)
        console.print(f"results: {Path(res['out']) / 'results.json'}, {Path(res['out']) / 'report.html'}  "
                      f"({res['seconds'] / 60:.1f} min, {res['cells']} cells, {res['cells_cached']} cached)",
                      highlight=False)
