"""CLI verbs of the annotate area (registered into the main app by tuneprep.cli).

``tuneprep annotate label|report|agreement|issues|export|import`` and ``tuneprep serve``. Each
is a thin wrapper over the library (``tuneprep.annotate.*``, ``tuneprep.serve``).
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import typer

import tuneprep.cli.rayopts as rayopts
from tuneprep.datasets import SENTIMENT_LABELS

annotate_app = typer.Typer(
    name="annotate",
    help="Label data (lexicon, rules, kNN, LLM, ensembles), measure agreement, find label issues, "
         "exchange tasks with labeling UIs.",
    no_args_is_help=True,
)


def _fail(message: str) -> None:
    from tuneprep.ui.console import make_console

    make_console(stderr=True).print(f"[red]error:[/red] {message}", markup=True, highlight=False)
    raise typer.Exit(2)


def _errors() -> tuple[type[BaseException], ...]:
    from pydantic import ValidationError

    from tuneprep.annotate.agreement import AgreementError
    from tuneprep.annotate.core import AnnotateError
    from tuneprep.io.readers import InputError

    return (AnnotateError, AgreementError, InputError, ValidationError, FileNotFoundError)


def _split(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


def method_params(method: str, *, pos_threshold: float, neg_threshold: float, rules: Path | None,
                  seed_labels: Path | None, k: int, encoder: str, model: str | None, endpoint: str | None,
                  api_key_env: str | None, examples: Path | None, n_examples: int, members: list[str],
                  combine: str, config: dict[str, Any], decision: str = "posterior",
                  confidence_bins: int = 3) -> dict[str, Any]:
    """Method parameters from the CLI options (a ``--config`` YAML overrides/extends them)."""
    if method in config:
        return dict(config[method])
    if method == "lexicon":
        return {"positive_threshold": pos_threshold, "negative_threshold": neg_threshold}
    if method == "rules":
        if rules is None:
            raise typer.BadParameter("--rules FILE is required for --method rules")
        return {"rules_file": str(rules)}
    if method == "knn":
        if seed_labels is None:
            raise typer.BadParameter("--seed-labels FILE is required for --method knn")
        return {"seed_labels": str(seed_labels), "k": k, "model": encoder}
    if method == "llm":
        p: dict[str, Any] = {"model": model, "endpoint": endpoint, "api_key_env": api_key_env,
                             "examples": str(examples) if examples else None, "n_examples": n_examples}
        return {k_: v for k_, v in p.items() if v is not None}
    if method == "ensemble":
        if len(members) < 2:
            raise typer.BadParameter("--members needs at least two methods, e.g. lexicon,knn")
        specs = []
        for m in members:
            specs.append({"method": m, "params": method_params(
                m, pos_threshold=pos_threshold, neg_threshold=neg_threshold, rules=rules, seed_labels=seed_labels,
                k=k, encoder=encoder, model=model, endpoint=endpoint, api_key_env=api_key_env, examples=examples,
                n_examples=n_examples, members=[], combine=combine, config=config)})
        return {"members": specs, "combine": combine, "decision": decision, "confidence_bins": confidence_bins}
    raise typer.BadParameter(f"unknown method {method!r}; one of lexicon, rules, knn, llm, ensemble")


@annotate_app.command("label")
def label_cmd(
    data: Path = typer.Option(..., "--data", help="Records to label (any supported format)."),
    labels: str = typer.Option(",".join(SENTIMENT_LABELS), "--labels", help="Comma-separated label set."),
    method: str = typer.Option(..., "--method", help="lexicon | rules | knn | llm | ensemble."),
    out: Path = typer.Option(..., "--out", help="Output file (format by extension)."),
    text_field: str = typer.Option("text", help="Field holding the text."),
    label_field: str = typer.Option("label", help="Field holding existing (gold) labels."),
    id_field: str | None = typer.Option(None, help="Field holding the record id."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace labels the records already have."),
    pos_threshold: float = typer.Option(0.05, help="lexicon: VADER compound ≥ this → positive."),
    neg_threshold: float = typer.Option(-0.05, help="lexicon: VADER compound ≤ this → negative."),
    rules: Path | None = typer.Option(None, "--rules", help="rules: YAML file of labeling functions."),
    seed_labels: Path | None = typer.Option(None, "--seed-labels", help="knn: labeled seed records."),
    k: int = typer.Option(10, "--k", help="knn: neighbours."),
    encoder: str = typer.Option("minilm-l6", "--encoder", help="knn: sentence encoder."),
    model: str | None = typer.Option(None, "--model", help="llm: registry model, model dir or training run."),
    endpoint: str | None = typer.Option(None, "--endpoint", help="llm: OpenAI-compatible base URL."),
    api_key_env: str | None = typer.Option(None, "--api-key-env", help="llm: env variable holding the API key."),
    examples: Path | None = typer.Option(None, "--examples", help="llm: labeled records for few-shot prompts."),
    n_examples: int = typer.Option(1, "--n-examples", help="llm: few-shot examples per label."),
    members: str = typer.Option("lexicon,knn", "--members", help="ensemble: comma-separated methods."),
    combine: str = typer.Option("dawid-skene", "--combine", help="ensemble: majority | dawid-skene."),
    decision: str = typer.Option("posterior", "--decision",
                                 help="ensemble (Dawid–Skene): posterior | balanced (uniform class prior)."),
    confidence_bins: int = typer.Option(3, "--confidence-bins",
                                        help="ensemble (Dawid–Skene): model votes as (label, confidence quantile bin); 1 = plain."),
    config: Path | None = typer.Option(None, "--config", help="YAML: {method: params} overriding the options."),
    report: Path | None = typer.Option(None, "--report", help="Also write the annotator report (JSON)."),
    gold: Path | None = typer.Option(None, "--gold", help="Gold labels (records with id + label) for the report."),
    engine: str = rayopts.ENGINE,
    address: str | None = rayopts.ADDRESS,
    replicas: int | None = rayopts.REPLICAS,
    threads: int = rayopts.THREADS,
) -> None:
    """Label records with one method; every record gets meta.annotation, gold labels are kept.

    --engine ray labels on model replicas on a Ray cluster (lexicon, rules, knn, llm; not the
    ensemble, which fits one label model on all records): the same records are written.
    """
    from tuneprep.annotate.core import check_labels, summarize
    from tuneprep.annotate.report import annotator_report, load_gold, render_table
    from tuneprep.api import annotate as api_annotate
    from tuneprep.io.readers import load_records
    from tuneprep.io.writers import write_records
    from tuneprep.ui.console import make_console

    if rayopts.check_engine(engine):
        _fail(str(rayopts.check_engine(engine)))
    try:
        import yaml

        label_set = check_labels(_split(labels), "--labels")
        cfg = yaml.safe_load(config.read_text()) if config else {}
        params = method_params(method, pos_threshold=pos_threshold, neg_threshold=neg_threshold, rules=rules,
                               seed_labels=seed_labels, k=k, encoder=encoder, model=model, endpoint=endpoint,
                               api_key_env=api_key_env, examples=examples, n_examples=n_examples,
                               members=_split(members), combine=combine, config=cfg or {}, decision=decision,
                               confidence_bins=confidence_bins)
        records = load_records(data, text_field=text_field, label_field=label_field, id_field=id_field)
        labeled = api_annotate(records, method, label_set, params, overwrite=overwrite, engine=engine,  # type: ignore[arg-type]
                               address=address, replicas=replicas, threads=threads)
        write_records(out, labeled)
        summary = summarize(labeled)
        con = make_console(stderr=True)
        con.print(f"{method}: {summary['n']} records → {out}: {summary['status']}", highlight=False)
        if summary["unlabeled_reasons"]:
            con.print(f"unlabeled because: {summary['unlabeled_reasons']}", highlight=False)
        # Which labels were used for what (ensemble with gold labels: fit vs. out-of-sample check).
        uses = Counter(((r.get("meta") or {}).get("annotation") or {}).get("gold_use") for r in labeled)
        for use, n in uses.items():
            if use:
                con.print(f"{n:,} records {use}", highlight=False)
        if report:
            rep = annotator_report(labeled, load_gold(str(gold)) if gold else None)
            report.write_text(json.dumps(rep, indent=2) + "\n")
            con.print(render_table(rep))
    except typer.BadParameter:
        raise
    except _errors() as e:
        _fail(str(e))


@annotate_app.command("report")
def report_cmd(
    data: Path = typer.Option(..., "--data", help="Records written by `annotate label`."),
    gold: Path | None = typer.Option(None, "--gold", help="Gold labels (id + label); default: labels kept in the data."),
    label_field: str = typer.Option("label", help="Label field of the gold file."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
    out: Path | None = typer.Option(None, "--out", help="Also write the JSON here."),
) -> None:
    """Per method/rule/member: coverage, overlap, conflict rate, accuracy and macro-F1 vs gold."""
    from tuneprep.annotate.report import annotator_report, load_gold, render_table
    from tuneprep.io.readers import load_records
    from tuneprep.ui.console import make_console

    try:
        records = load_records(data, text_field=None)
        rep = annotator_report(records, load_gold(str(gold), label_field=label_field) if gold else None)
    except _errors() as e:
        _fail(str(e))
        return
    if out:
        out.write_text(json.dumps(rep, indent=2) + "\n")
    if json_out:
        typer.echo(json.dumps(rep, indent=2))
    else:
        make_console().print(render_table(rep))


@annotate_app.command("agreement")
def agreement_cmd(
    file: Path = typer.Argument(..., help="Long-format judgements: one {item, annotator, label} per line/row."),
    level: str = typer.Option("nominal", "--level", help="nominal | ordinal | interval."),
    order: str | None = typer.Option(None, "--order", help="Ordinal label order for non-numeric labels, a,b,c."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
    consensus_out: Path | None = typer.Option(None, "--consensus", help="Write one label per item with its agreement."),
    show_pairs: int = typer.Option(10, help="Table: how many annotator pairs to list."),
) -> None:
    """Percent agreement, Cohen's kappa (per pair and mean), Fleiss' kappa, Krippendorff's alpha."""
    from tuneprep.annotate.agreement import agreement_report, consensus, load_judgements
    from tuneprep.io.writers import write_records

    try:
        j = load_judgements(file, level, _split(order) or None)  # type: ignore[arg-type]
        rep = agreement_report(j)
        if consensus_out:
            write_records(consensus_out, consensus(j))
    except _errors() as e:
        _fail(str(e))
        return
    if json_out:
        typer.echo(json.dumps(rep, indent=2))
        return
    from rich.table import Table

    from tuneprep.ui.console import make_console

    def f(x: Any) -> str:
        return "undefined" if x is None else f"{x:.4f}"

    t = Table(title=f"agreement ({rep['level']}): {rep['n_items']} items, {rep['n_annotators']} annotators, "
                    f"{rep['n_judgements']} judgements")
    t.add_column("statistic")
    t.add_column("value", justify="right")
    t.add_column("note")
    t.add_row("percent agreement", f(rep["percent_agreement"]), "pairs of judgements per item that agree")
    t.add_row("Cohen's kappa (mean)", f(rep["cohen_kappa"]),
              rep.get("cohen_kappa_note", f"{rep['n_pairs']} annotator pairs; weights {rep['cohen_kappa_weights']}"))
    t.add_row("Fleiss' kappa", f(rep["fleiss_kappa"]),
              rep.get("fleiss_kappa_note", f"{rep.get('fleiss_n_raters_per_item')} raters per item"))
    if "fleiss_kappa_subset" in rep:
        s = rep["fleiss_kappa_subset"]
        t.add_row("  on equal-count subset", f(s["value"]), f"{s['n_items']} items with {s['n_raters_per_item']} raters")
    t.add_row("Krippendorff's alpha", f(rep["krippendorff_alpha"]), rep["level"])
    con = make_console()
    con.print(t)
    for p in rep["pairs"][:show_pairs]:
        con.print(f"  {p['annotators'][0]} × {p['annotators'][1]}: kappa {f(p['kappa'])} on {p['n_items']} items",
                  highlight=False)


@annotate_app.command("issues")
def issues_cmd(
    data: Path = typer.Option(..., "--data", help="Labeled records."),
    out: Path = typer.Option(..., "--out", help="The review queue (records with meta.review), ranked."),
    model: str = typer.Option("minilm-l6", "--model", help="Sentence encoder for the features."),
    folds: int = typer.Option(5, "--folds", help="Cross-validation folds."),
    seed: int = typer.Option(0, "--seed", help="Fold assignment seed."),
    text_field: str = typer.Option("text", help="Field holding the text."),
    label_field: str = typer.Option("label", help="Field holding the label."),
    id_field: str | None = typer.Option(None, help="Field holding the record id."),
) -> None:
    """Find likely label errors (cross-validated probabilities + cleanlab) and write a review queue."""
    from tuneprep.annotate.issues import find_issues
    from tuneprep.io.readers import load_records
    from tuneprep.io.writers import write_records
    from tuneprep.ui.console import make_console

    try:
        records = load_records(data, text_field=text_field, label_field=label_field, id_field=id_field)
        queue, summary = find_issues(records, model=model, folds=folds, seed=seed)
        write_records(out, queue)
    except _errors() as e:
        _fail(str(e))
        return
    make_console(stderr=True).print(
        f"{summary['n_issues']} likely label issues among {summary['n_judged']} labeled records "
        f"(cross-validated accuracy {summary['cv_accuracy']:.3f}; {summary['n_unlabeled_skipped']} unlabeled "
        f"skipped) → {out}", highlight=False)


@annotate_app.command("export")
def export_cmd(
    data: Path = typer.Option(..., "--data", help="Records (e.g. written by `annotate label`)."),
    to: str = typer.Option(..., "--to", help="label-studio | argilla | csv."),
    out: Path = typer.Option(..., "--out", help="Output file."),
    labels: str | None = typer.Option(None, "--labels", help="Label set (Label Studio: also writes OUT.config.xml)."),
) -> None:
    """Export records for a labeling UI, with the method's answers as pre-annotations."""
    from tuneprep.annotate.interchange import export_records
    from tuneprep.io.readers import load_records

    try:
        n = export_records(load_records(data, text_field=None), to, out, _split(labels) or None)
    except _errors() as e:
        _fail(str(e))
        return
    typer.echo(f"{n} records → {out}", err=True)


@annotate_app.command("import")
def import_cmd(
    file: Path = typer.Argument(..., help="An export of the labeling UI."),
    from_: str = typer.Option(..., "--from", help="label-studio | argilla | csv."),
    out: Path = typer.Option(..., "--out", help="Records with the human labels."),
    judgements: Path | None = typer.Option(None, "--judgements", help="Also write long-format judgements."),
    text_field: str = typer.Option("text", help="Text field (Label Studio data key / Argilla field / CSV column)."),
    label_field: str = typer.Option("label", help="CSV: label column."),
) -> None:
    """Import human labels from a labeling UI's export (every annotator's judgement kept in meta)."""
    from tuneprep.annotate.interchange import import_records
    from tuneprep.io.writers import write_records

    try:
        records, judged = import_records(file, from_, text_field=text_field, label_field=label_field)
        write_records(out, records)
        if judgements:
            write_records(judgements, judged)
    except _errors() as e:
        _fail(str(e))
        return
    n_lab = sum(1 for r in records if r.get("label") is not None)
    typer.echo(f"{len(records)} records ({n_lab} labeled, {len(judged)} judgements) → {out}", err=True)


def serve_cmd(
    run_or_model: str = typer.Argument(..., help="A training run directory, registry model name or model dir."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to bind (default loopback only)."),
    port: int = typer.Option(8000, "--port", help="Port."),
    api_key_env: str | None = typer.Option(None, "--api-key-env", help="Require the key held in this env variable."),
) -> None:
    """Serve a model or tuned run with an OpenAI-compatible API (/v1/chat/completions, /v1/completions)."""
    import logging

    from tuneprep.serve import ServeError, serve

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    try:
        serve(run_or_model, host, port, api_key_env)
    except (ServeError, OSError) as e:
        _fail(str(e))


def register(app: typer.Typer) -> None:
    """Add this area's commands to the main app. Keep heavy imports inside the commands."""
    app.add_typer(annotate_app, name="annotate")
    app.command("serve")(serve_cmd)
