"""CLI verbs of the evaluate area: ``metrics``, ``eval``, ``compare`` (registered by tuneprep.cli).

Thin wrappers: each parses its flags, calls the library, prints a table (or JSON with --json).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import typer

import tuneprep.cli.rayopts as rayopts
from tuneprep.ui.console import make_console, protect_identifiers


def _fail(msg: str) -> None:
    print(f"error: {msg}", file=sys.stderr)
    raise typer.Exit(2)


def _zero_division(value: str) -> float:
    if value.lower() == "nan":
        return float("nan")
    try:
        v = float(value)
    except ValueError:
        v = -1.0
    if v not in (0.0, 1.0):
        _fail(f"--zero-division must be 0, 1 or nan, not {value!r}")
    return v


def _labels(value: str | None) -> list[str] | None:
    if not value:
        return None
    return [x.strip() for x in value.split(",") if x.strip()]


def _print_json(obj: Any) -> None:
    import orjson

    sys.stdout.write(orjson.dumps(obj, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY).decode() + "\n")


def _fmt(v: Any) -> str:
    return "–" if v is None or (isinstance(v, float) and v != v) else f"{v:.4f}"


def print_metrics(m: dict[str, Any], title: str = "Metrics") -> None:
    """A readable summary of a metrics dict (classification or generation)."""
    from rich.table import Table

    from tuneprep.evaluate.genmetrics import GENERATION_SCORES

    con = make_console()
    if m.get("kind") == "generation":
        t = Table(title=title)
        t.add_column("metric")
        t.add_column("value", justify="right")
        t.add_column("95% CI", justify="right")
        for k in GENERATION_SCORES:
            ci = (m.get("ci95") or {}).get(k) or [None, None]
            t.add_row(k, _fmt(m[k]), f"{_fmt(ci[0])} – {_fmt(ci[1])}")
        con.print(t)
        con.print(f"n = {m['n']}")
        return
    t = Table(title=f"{title} (n = {m['n']:,})")
    t.add_column("metric")
    for c in ("precision", "recall", "f1"):
        t.add_column(c, justify="right")
    t.add_row("macro", *(_fmt(m[f"{c}_macro"]) for c in ("precision", "recall", "f1")))
    t.add_row("micro", *(_fmt(m[f"{c}_micro"]) for c in ("precision", "recall", "f1")))
    t.add_row("weighted", *(_fmt(m[f"{c}_weighted"]) for c in ("precision", "recall", "f1")))
    if m.get("multilabel"):
        t.add_row("samples", *(_fmt(m[f"{c}_samples"]) for c in ("precision", "recall", "f1")))
    con.print(t)
    pc = Table(title="Per class")
    for c in ("label", "precision", "recall", "f1", "support"):
        pc.add_column(c, justify="left" if c == "label" else "right")
    for lab, v in m["per_class"].items():
        pc.add_row(lab, _fmt(v["precision"]), _fmt(v["recall"]), _fmt(v["f1"]), str(v["support"]))
    con.print(protect_identifiers(pc, ["label"]))
    ci = m.get("ci95") or {}
    acc_ci, f1_ci = ci.get("accuracy") or [None, None], ci.get("f1_macro") or [None, None]
    con.print(f"accuracy {_fmt(m['accuracy'])} (95% CI {_fmt(acc_ci[0])}–{_fmt(acc_ci[1])})   "
              f"macro-F1 {_fmt(m['f1_macro'])} (95% CI {_fmt(f1_ci[0])}–{_fmt(f1_ci[1])})", highlight=False)
    from tuneprep.evaluate.baselines import baseline_line

    if baseline_line(m):
        con.print(baseline_line(m), highlight=False)
    if m.get("unparseable"):
        u = m["unparseable"]
        con.print(f"[yellow]{u['count']} unparseable predictions ({u['rate']:.1%}) counted as wrong[/yellow]: "
                  + ", ".join(f"{k!r}×{v}" for k, v in list(u["values"].items())[:5]), highlight=False)


def print_compare(res: dict[str, Any]) -> None:
    from rich.table import Table


    con = make_console()
    names = [r["name"] for r in res["runs"]]
    keys = list(next(iter(res["metrics"].values())))
    t = Table(title=f"Compare on the same {res['n']:,} test ids")
    t.add_column("metric")
    for nm in names:
        t.add_column(nm, justify="right")
    for k in keys:
        t.add_row(k, *(_fmt(res["metrics"][nm][k]) if isinstance(res["metrics"][nm][k], float)
                       else str(res["metrics"][nm][k]) for nm in names))
    con.print(protect_identifiers(t, ["metric"]))
    for d in res["differences"]:
        for k, v in d.items():
            if isinstance(v, dict) and "diff" in v:
                con.print(f"{d['other']} − {d['baseline']}  {k}: {v['diff'] * 100:+.2f} pts  "
                          f"(paired 95% CI {v['ci95'][0] * 100:+.2f} … {v['ci95'][1] * 100:+.2f})"
                          + ("  significant" if v["significant"] else ""), highlight=False)
        mc = d["mcnemar"]
        con.print(f"  McNemar ({'exact' if mc['exact'] else 'chi2'}): only {d['other']} right {mc['only_other_correct']}, "
                  f"only {d['baseline']} right {mc['only_baseline_correct']}, p = {mc['pvalue']:.4g}", highlight=False)


def register(app: typer.Typer) -> None:
    """Add this area's commands to the main app. Keep heavy imports inside the commands."""

    @app.command("metrics")
    def metrics_cmd(
        pred_file: Path = typer.Argument(..., help="Predictions file (JSONL, JSON, CSV, Parquet) with gold and predicted labels."),
        label_field: str | None = typer.Option(None, "--label-field", help="Field with the gold label (dotted path "
                                               "ok; default: 'gold' as `tuneprep eval` writes it, else 'label')."),
        pred_field: str = typer.Option("prediction", "--pred-field", help="Field with the predicted label."),
        labels: str | None = typer.Option(None, "--labels", help="Comma-separated label set (default: the gold labels)."),
        zero_division: str = typer.Option("0", "--zero-division", help="Value of undefined ratios: 0, 1 or nan."),
        seed: int = typer.Option(0, "--seed", help="Bootstrap seed."),
        n_boot: int = typer.Option(1000, "--n-boot", help="Bootstrap resamples for the 95% intervals."),
        json_out: bool = typer.Option(False, "--json", help="Print JSON."),
    ) -> None:
        """Accuracy, precision/recall/F1 (macro, micro, weighted, per class), confusion matrix, 95% CIs.

        Predictions outside the label set (or missing) are 'unparseable' and count as wrong.
        """
        from tuneprep.evaluate.metrics import MetricsInputError, metrics_from_file
        from tuneprep.io.readers import InputError


        try:
            m = metrics_from_file(str(pred_file), label_field, pred_field, labels=_labels(labels),
                                  zero_division=_zero_division(zero_division), n_boot=n_boot, seed=seed)
        except (MetricsInputError, InputError, FileNotFoundError) as e:
            _fail(str(e))
            return
        if json_out:
            _print_json(m)
        else:
            print_metrics(m, title=str(pred_file))

    @app.command("eval")
    def eval_cmd(
        model: str = typer.Argument(..., help="Training run dir, registry model (smollm2-135m), local HF dir or hub id."),
        data: Path = typer.Option(..., "--data", help="Test file, or a recipe run dir (uses its test/ split)."),
        out: Path = typer.Option(..., "--out", help="Output dir: metrics.json, predictions.jsonl, review.jsonl, report.html."),
        method: str | None = typer.Option(None, "--method", help="loglik (classification default) or generate."),
        limit: int | None = typer.Option(None, "--limit", help="Seeded stratified subsample of N records."),
        seed: int = typer.Option(0, "--seed", help="Seed of --limit and the bootstrap."),
        batch_size: int = typer.Option(8, "--batch-size", help="Records per forward pass."),
        labels: str | None = typer.Option(None, "--labels", help="Comma-separated label set for a zero-shot model."),
        strict: bool = typer.Option(False, "--strict", help="Refuse to evaluate when test records overlap training data."),
        train_data: list[Path] = typer.Option([], "--train-data", help="More training files to check overlap with."),
        near_threshold: float = typer.Option(0.8, "--near-threshold", help="Jaccard threshold of near-duplicates."),
        max_new_tokens: int | None = typer.Option(None, "--max-new-tokens", help="Generation length (default 8 / 128)."),
        name: str | None = typer.Option(None, "--name", help="Display name in reports."),
        max_tokens: int | None = typer.Option(None, "--max-tokens", help=(
            "Long inputs: cut each text to N tokens (counted on the text alone), or split it with --chunk. "
            "What was cut is reported in metrics.json (long_inputs).")),
        truncate: str = typer.Option("end", "--truncate", help=(
            "With --max-tokens: 'end' cuts the end (keeps the first N tokens), 'start' cuts the start "
            "(keeps the last N).")),
        chunk: bool = typer.Option(False, "--chunk", help=(
            "With --max-tokens: split long texts into N-token pieces, score each; a label's score is the mean "
            "of its per-piece log-probabilities.")),
        quantize: str | None = typer.Option(None, "--quantize", help=(
            "int8: dynamic int8 quantisation of the Linear layers (CPU); less CPU time, but it changed about half "
            "of smollm2-135m's SST-2 predictions (README, Evaluation at scale).")),
        bf16: bool = typer.Option(False, "--bf16", help=(
            "Score in bf16 (fast on CPUs with AMX / AVX512-BF16, and on GPUs) and re-score in fp32 the records "
            "whose two best labels are within --bf16-margin, so predictions stay fp32's (README, Evaluation at scale).")),
        bf16_margin: float | None = typer.Option(None, "--bf16-margin", help=(
            "With --bf16: label log-probability margin (nats) under which a record is re-scored in fp32 "
            "(default: tuneprep.models.precision.BF16_MARGIN).")),
        workers: int = typer.Option(1, "--workers", help=(
            "Processes, each with its own model and cores/N threads; predictions merged in input order.")),
        engine: str = rayopts.ENGINE,
        address: str | None = rayopts.ADDRESS,
        replicas: int | None = rayopts.REPLICAS,
        threads: int = rayopts.THREADS,
        no_report: bool = typer.Option(False, "--no-report", help="Skip report.html."),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
        json_out: bool = typer.Option(False, "--json", help="Print metrics as JSON."),
    ) -> None:
        """Evaluate a model on held-out records: metrics, predictions, review queue, HTML report.

        With --engine ray the records are scored by model replicas on a Ray cluster (the same
        predictions and metrics as the local engine; docs/scaling.md).
        """
        from pydantic import ValidationError

        from tuneprep.api import evaluate as api_evaluate
        from tuneprep.evaluate.data import EvalDataError
        from tuneprep.evaluate.runner import EvalConfig, EvalError
        from tuneprep.io.readers import InputError
        from tuneprep.models.registry import ModelError
        from tuneprep.ray_cluster import RayClusterError

        if rayopts.check_engine(engine):
            _fail(str(rayopts.check_engine(engine)))
        if method not in (None, "loglik", "generate"):
            _fail(f"--method must be loglik or generate, not {method!r}")
        if quantize not in (None, "int8"):
            _fail(f"--quantize must be int8, not {quantize!r}")
        if truncate not in ("start", "end"):
            _fail(f"--truncate must be start or end, not {truncate!r}")
        try:
            cfg = EvalConfig(model=model, data=str(data), out=str(out), method=method, limit=limit, seed=seed,
                             batch_size=batch_size, labels=_labels(labels), strict=strict,
                             train_data=[str(p) for p in train_data], near_threshold=near_threshold,
                             max_new_tokens=max_new_tokens, name=name, report=not no_report,
                             max_tokens=max_tokens, truncate=truncate, chunk=chunk, quantize=quantize,
                             bf16=bf16, workers=workers, engine=engine, address=address, replicas=replicas,
                             threads=threads,
                             **({"bf16_margin": bf16_margin} if bf16_margin is not None else {}))
            res = api_evaluate(cfg, progress=not quiet)
        except ValidationError as e:
            _fail(str(e))
            return
        except (EvalError, EvalDataError, InputError, FileNotFoundError) as e:
            _fail(str(e))
            return
        except RayClusterError as e:
            print(f"error: {e}", file=sys.stderr)
            raise typer.Exit(e.exit_code) from None
        except Exception as e:  # model loading errors come from several libraries
            if isinstance(e, ModelError):
                _fail(str(e))
            raise
        if json_out:
            _print_json(res.metrics)
            return
        print_metrics(res.metrics, title=f"{res.info['name']} on {data}")
        info = res.info
        print(f"{info['n']} records in {info['seconds']['total']:.1f} s "
              f"({info['seconds']['per_record'] * 1000:.0f} ms/record), peak RSS {info['peak_rss_mb']:.0f} MiB; "
              f"review queue: {info['review_count']} records", file=sys.stderr)
        print(f"wrote {out}/metrics.json, predictions.jsonl, review.jsonl, eval.json"
              + ("" if no_report else ", report.html"), file=sys.stderr)

    @app.command("compare")
    def compare_cmd(
        dirs: list[Path] = typer.Argument(..., help="Eval dirs (the first is the baseline)."),
        out: Path | None = typer.Option(None, "--out", help="Write the comparison as JSON here."),
        report: Path | None = typer.Option(None, "--report", help="Also write an HTML report covering all runs."),
        n_boot: int = typer.Option(1000, "--n-boot", help="Paired bootstrap resamples."),
        seed: int = typer.Option(0, "--seed", help="Bootstrap seed."),
        json_out: bool = typer.Option(False, "--json", help="Print JSON."),
    ) -> None:
        """Compare eval runs on the same test ids: paired bootstrap CIs of differences, McNemar's test."""
        from tuneprep.api import build_report
        from tuneprep.evaluate.compare import CompareError, compare_runs
        from tuneprep.evaluate.predictions import EvalDirError
        from tuneprep.io.writers import atomic_open


        try:
            res = compare_runs(dirs, n_boot=n_boot, seed=seed)
        except (CompareError, EvalDirError) as e:
            _fail(str(e))
            return
        if out is not None:
            with atomic_open(out) as fh:
                fh.write((json.dumps(res, indent=2) + "\n").encode())
        if report is not None:
            build_report(report, eval_dirs=dirs, compare=res)
        if json_out:
            _print_json(res)
        else:
            print_compare(res)
