"""CLI verb ``tuneprep demo`` (registered into the main app by tuneprep.cli)."""

from __future__ import annotations

from pathlib import Path

import typer

from tuneprep.ui.console import make_console


def register(app: typer.Typer) -> None:
    """Add the demo command. Keep heavy imports inside the command."""

    @app.command()
    def demo(
        out: Path = typer.Option(Path("runs/demo"), "--out", help="Output directory."),
        quick: bool = typer.Option(False, "--quick", help="Reduced sizes (CI): every stage, fewer records."),
        workers: int = typer.Option(0, "--workers", "-w", help="Workers for the data recipe (0 = all cores)."),
    ) -> None:
        """Raw real data → cleaned split → zero-shot vs LoRA-tuned model → comparison and report."""
        from tuneprep.demo import MODEL, run_demo

        console = make_console()
        res = run_demo(out, quick=quick, workers=workers, log=lambda s: console.print(s, highlight=False))

        def line(name: str, m: dict) -> str:
            lo, hi = m["ci95"]["f1_macro"]
            return (f"{name:<28} macro-F1 {m['f1_macro']:.3f} [95% CI {lo:.3f}–{hi:.3f}]   "
                    f"accuracy {m['accuracy']:.3f}   (n={m['n']})")

        console.rule("headline")
        console.print(line(f"{MODEL} zero-shot", res.base), highlight=False)
        console.print(line(f"{MODEL} + LoRA", res.tuned), highlight=False)
        for d in res.compare.get("differences", []):
            f1 = d["f1_macro"]
            mc = d["mcnemar"]
            console.print(f"difference in macro-F1 {f1['diff']:+.3f} [95% CI {f1['ci95'][0]:+.3f}–{f1['ci95'][1]:+.3f}]"
                          f"; McNemar p = {mc['pvalue']:.3g}", highlight=False)
        console.print(f"report: {res.report}   ({res.seconds / 60:.1f} min)", highlight=False)
