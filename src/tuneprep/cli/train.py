"""CLI verbs of the train area: ``train``, ``predict``, ``models`` (registered by tuneprep.cli)."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from tuneprep.ui.console import Column, fit_table, make_console


def _labels_opt(labels: str | None) -> list[str] | None:
    if labels is None:
        return None
    out = [x.strip() for x in labels.split(",") if x.strip()]
    return out or None


def print_preflight(pre: dict, console: object | None = None) -> None:
    """Human-readable preflight report (counts, token-length histogram, a marked example)."""
    from rich.table import Table

    con = console or make_console()
    con.print(f"[bold]preflight[/bold]  task={pre['task']} model={pre['model']} method={pre['method']}")
    con.print(f"data: {', '.join(pre['data'])}" + (f"   val: {', '.join(pre['val'])}" if pre.get("val") else ""))
    con.print(f"records read {pre['records_read']}, used {pre['records_used']}, kept {pre['kept']}, "
              f"truncated {pre['truncated']}, rejected {sum(pre['rejected'].values())} {pre['rejected'] or ''}")
    if pre.get("label_counts"):
        con.print("labels: " + ", ".join(f"{k}={v}" for k, v in pre["label_counts"].items()))
    t = pre["tokens"]
    con.print(f"tokens: total {t['total']}" + (f", trained {t['trained']}" if "trained" in t else "")
              + f", mean length {t['mean_length']}, longest {t['max_length_seen']} "
                f"(max_length {pre['max_length']}, policy {pre.get('length_policy', 'truncate')})")
    tab = Table(title="token lengths", show_edge=False)
    tab.add_column("length")
    tab.add_column("records", justify="right")
    tab.add_column("")
    top = max((r["count"] for r in pre["length_histogram"]), default=1) or 1
    for r in pre["length_histogram"]:
        rng = f"{r['from'] + 1}–{r['to']}" if r["to"] is not None else f"> {r['from']}"
        tab.add_row(rng, str(r["count"]), "█" * round(30 * r["count"] / top))
    con.print(tab)
    con.print(f"[bold]example[/bold] {pre['example']['id']} (trained tokens in [[ ]]):")
    con.print(pre["example"]["rendered"], markup=False, highlight=False)


def register(app: typer.Typer) -> None:
    """Add this area's commands to the main app. Keep heavy imports inside the commands."""

    @app.command("train")
    def train_cmd(
        data: str = typer.Option(..., "--data", help="A recipe run dir (uses train/, val/) or a data file."),
        out: Path = typer.Option(..., "--out", help="Run directory to write (e.g. runs/rt-lora)."),
        task: str = typer.Option("classify", "--task", help="classify | sft"),
        model: str = typer.Option("smollm2-135m", "--model", help="Registry name, local HF dir or hub id."),
        method: str = typer.Option("lora", "--method", help="lora | full (ignored for encoders)"),
        epochs: float = typer.Option(1.0, "--epochs"),
        max_steps: int | None = typer.Option(None, "--max-steps", help="Stop after this many steps."),
        batch_size: int = typer.Option(8, "--batch-size"),
        grad_accum: int = typer.Option(1, "--grad-accum"),
        lr: float | None = typer.Option(None, "--lr", help="Default: 5e-4 lora, 3e-5 full, 5e-5 encoder."),
        lora_r: int = typer.Option(16, "--lora-r"),
        max_length: int | None = typer.Option(None, "--max-length", help="Default: 128 classify, 512 sft."),
        length_policy: str = typer.Option("truncate", "--length-policy", help="drop | truncate | error"),
        limit: int | None = typer.Option(None, "--limit", help="Seeded random subsample of N records."),
        labels: str | None = typer.Option(None, "--labels", help="Comma-separated label set (else sorted from data)."),
        seed: int = typer.Option(0, "--seed"),
        save_steps: int = typer.Option(50, "--save-steps", help="Checkpoint every N steps (for --resume)."),
        threads: int | None = typer.Option(None, "--threads", help="CPU threads (default: 2, or 1 when the machine is busy; or $TUNEPREP_THREADS)."),
        bf16: bool | None = typer.Option(None, "--bf16/--no-bf16", help="bf16 autocast (default: on CUDA only)."),
        processes: int = typer.Option(1, "--processes", help="Data-parallel training processes (gloo on CPU, "
                                      "nccl on CUDA); same global batch, --batch-size must divide by it."),
        check: bool = typer.Option(False, "--check", help="Print the preflight report and exit; no training."),
        resume: bool = typer.Option(False, "--resume", help="Continue from the newest checkpoint in --out."),
        overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing --out."),
        keep_checkpoints: bool = typer.Option(False, "--keep-checkpoints"),
        quiet: bool = typer.Option(False, "--quiet", "-q"),
        json_out: bool = typer.Option(False, "--json", help="Print the preflight/metrics as JSON."),
    ) -> None:
        """Fine-tune a model (LoRA or full; encoder head for minilm-l6) and write a run directory."""
        from pydantic import ValidationError

        from tuneprep.models.registry import ModelError
        from tuneprep.train.config import TrainConfig
        from tuneprep.train.data import TrainDataError
        from tuneprep.train.trainer import RunDirError, prepare, train

        err = make_console(stderr=True)
        try:
            cfg = TrainConfig(data=data, out=str(out), task=task, model=model, method=method, epochs=epochs,
                              max_steps=max_steps, batch_size=batch_size, grad_accum=grad_accum, lr=lr,
                              lora_r=lora_r, max_length=max_length, length_policy=length_policy, limit=limit,
                              labels=_labels_opt(labels), seed=seed, save_steps=save_steps, threads=threads,
                              bf16=bf16, processes=processes)
            prep = prepare(cfg)
            if check:
                if json_out:
                    print(json.dumps(prep.preflight, indent=2, ensure_ascii=False))
                else:
                    print_preflight(prep.preflight, err if quiet else None)
                raise typer.Exit(0)
            if not quiet and not json_out:
                print_preflight(prep.preflight, err)
            res = train(cfg, resume=resume, overwrite=overwrite, quiet=quiet or json_out,
                        keep_checkpoints=keep_checkpoints, prepared=prep)
        except ValidationError as e:
            err.print(f"[red]error:[/red] {e}", highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None
        except (TrainDataError, ModelError, RunDirError, ValueError) as e:
            err.print(f"[red]error:[/red] {e}", highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None
        if res.rank != 0:  # a worker of torchrun / accelerate launch: rank 0 reports
            return
        if json_out:
            print(json.dumps({"run_dir": str(res.run_dir), **res.metrics}, indent=2))
        else:
            m = res.metrics
            err.print(f"[green]done[/green] {res.run_dir}: {m['steps']} steps, loss {m['train_loss_first']} → "
                      f"{m['train_loss_last10']} (last 10), eval loss {m['eval_loss']}, "
                      f"{m['tokens_per_s']} tokens/s, peak RSS {m['peak_rss_mb']} MB")

    @app.command("predict")
    def predict_cmd(
        run: str = typer.Argument(..., help="A training run directory (or a causal model: zero-shot)."),
        text: list[str] = typer.Option(None, "--text", help="Text to classify (repeatable)."),
        file: Path | None = typer.Option(None, "--file", help="Data file of records with 'text'; JSONL out."),
        batch_size: int = typer.Option(16, "--batch-size"),
        max_new_tokens: int = typer.Option(128, "--max-new-tokens", help="SFT runs: generation length."),
    ) -> None:
        """Predict labels (classify runs) or generate answers (SFT runs) for --text or --file."""
        from tuneprep.io.readers import load_records
        from tuneprep.models.registry import ModelError, load_model
        from tuneprep.models.scoring import generate, predict_labels
        from tuneprep.ui.progress import TaskBar

        err = make_console(stderr=True)
        texts = list(text or [])
        ids: list[str | None] = [None] * len(texts)
        if file is not None:
            recs = load_records(file)
            texts += [r.get("text", "") for r in recs]
            ids += [r.get("id") for r in recs]
        if not texts:
            err.print("[red]error:[/red] give --text or --file")
            raise typer.Exit(2)
        try:
            r = load_model(run)
            # progress (records/s, ETA) on stderr; stdout stays the JSONL predictions
            bar = TaskBar("predict", len(texts), "records")
            try:
                if r.is_run and r.template is None:  # an SFT run: generate
                    outs = generate(r.model, r.tokenizer, [[{"role": "user", "content": t}] for t in texts],
                                    max_new_tokens=max_new_tokens, on_batch=bar.update)
                else:
                    preds = predict_labels(r, texts, batch_size=batch_size, on_batch=bar.update)
            finally:
                bar.close()
            if r.is_run and r.template is None:
                for i, t, o in zip(ids, texts, outs):
                    print(json.dumps({"id": i, "text": t, "output": o}, ensure_ascii=False))
                return
        except (ModelError, ValueError) as e:
            err.print(f"[red]error:[/red] {e}", highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None
        for i, t, p in zip(ids, texts, preds):
            row = {"id": i, "text": t, **p} if i is not None else {"text": t, **p}
            print(json.dumps(row, ensure_ascii=False))

    @app.command("models")
    def models_cmd(json_out: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
        """List the registry models (offline defaults) and whether they are installed/converted."""
        from tuneprep.models.registry import list_models

        rows = list_models()
        if json_out:
            print(json.dumps(rows, indent=2))
            return
        names = ("name", "kind", "package", "installed", "converted", "description")
        cols = [Column(c, ident=c in ("name", "package")) for c in names]
        con = make_console()
        con.print(fit_table(cols, [[r[c] for c in names] for r in rows], title="tuneprep models", console=con))
        con.print("Also accepted: a local HF model directory, a hub id (org/name), or a tuneprep run dir.")
