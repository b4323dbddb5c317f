"""Run an ablation: fixed test set → per cell (variant × budget × seed) recipe → train → eval → tables.

Layout under the output directory:

    test.jsonl                 the ONE test set (base recipe's test split, seeded stratified subsample)
    pool/                      the base input read once (record contract), test records removed
    preps/<recipe hash>/       each distinct variant recipe's output (shared by every cell that needs it)
    cells/<key>/result.json    one cell: training data counts, metrics, seconds; eval/ has predictions
    results.json, report.html  the tables and paired comparisons

A cell's key hashes the variant recipe's hash, model, method, training options, budget, seed and
the test set's sha256, so a rerun skips finished cells (resume) and a changed experiment reruns
only what changed. The test set is refused when it changed since the cells were scored.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tuneprep.ablate.config import AblateError, Experiment, variant_steps
from tuneprep.recipe import InputConfig, OutputConfig, Recipe

RESULTS = "results.json"


@dataclass
class Cell:
    variant: str
    budget: int
    seed: int

    @property
    def label(self) -> str:
        return f"{self.variant} · {self.budget} · seed {self.seed}"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _write_json(path: Path, obj: Any) -> None:
    from tuneprep.io.writers import atomic_open

    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_open(path, "w") as fh:
        fh.write(json.dumps(obj, indent=2, ensure_ascii=False, default=str) + "\n")


def _read_jsonl(paths: list[Path]) -> list[dict[str, Any]]:
    out = []
    for p in paths:
        with open(p) as fh:
            out.extend(json.loads(line) for line in fh if line.strip())
    return out


def _text_key(rec: dict[str, Any]) -> str:
    from tuneprep.ops.text import normalize_for_dedup
    from tuneprep.records import record_text

    return hashlib.blake2b(normalize_for_dedup(record_text(rec)).encode("utf-8", "surrogatepass"),
                           digest_size=16).hexdigest()


class Ablation:
    """One experiment in one output directory (library API behind ``tuneprep ablate``)."""

    def __init__(self, exp: Experiment, recipe: Recipe, out: str | Path, workers: int = 1,
                 log: Callable[[str], None] = print, keep_models: bool = False):
        self.exp, self.recipe, self.out = exp, recipe, Path(out)
        self.workers, self.log, self.keep_models = workers, log, keep_models
        self.test_path = self.out / "test.jsonl"
        self.pool_path = self.out / "pool" / "pool.jsonl"

    # --- the fixed test set and the pool ---------------------------------------------------------
    def build_test_and_pool(self) -> dict[str, Any]:
        """Run the base recipe once; its test split (subsampled) is THE test set; the pool is the
        base input minus the test records and exact copies of their text. Built once, then reused."""
        from tuneprep.engine.local import run_recipe
        from tuneprep.evaluate.data import load_test_records, stratified_sample

        info_path = self.out / "test.json"
        if info_path.exists() and self.test_path.exists() and self.pool_path.exists():
            info = json.loads(info_path.read_text())
            if info.get("sha256") != _sha256(self.test_path):
                raise AblateError(f"{self.test_path} changed since it was built (sha256 differs from {info_path}): "
                                  "every cell must be scored on the same test set; delete the output directory "
                                  "to start over")
            return info
        base_dir = self.out / "base-prep"
        base = self.recipe.model_copy(deep=True)
        base.output = OutputConfig(path=str(base_dir))
        self.log(f"base recipe → {base_dir} (its test split is the test set of every variant)")
        res = run_recipe(base, workers=self.workers, fresh=True)
        records, _ = load_test_records(base_dir)
        n_split = len(records)
        if self.exp.test.limit and self.exp.test.limit < len(records):
            records = stratified_sample(records, self.exp.test.limit, seed=self.exp.test.seed, key="label")
        self.test_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.test_path, "w") as fh:
            for r in records:
                fh.write(json.dumps(r, ensure_ascii=False) + "\n")
        test_ids = {str(r["id"]) for r in records}
        test_texts = {_text_key(r) for r in records}
        # The pool: the base input read through the same field mapping, no steps, no split.
        pool_dir = self.out / "pool" / "read"
        raw = Recipe(input=self.recipe.input, steps=[], output=OutputConfig(path=str(pool_dir)))
        run_recipe(raw, workers=self.workers, fresh=True)
        n_in = n_id = n_text = 0
        with open(self.pool_path, "w") as fh:
            for r in _read_jsonl(sorted((pool_dir / "data").glob("*.jsonl"))):
                n_in += 1
                if str(r.get("id")) in test_ids:
                    n_id += 1
                    continue
                if _text_key(r) in test_texts:
                    n_text += 1
                    continue
                fh.write(json.dumps(r, ensure_ascii=False) + "\n")
        shutil.rmtree(pool_dir, ignore_errors=True)
        from collections import Counter

        info = {"sha256": _sha256(self.test_path), "n": len(records), "n_test_split": n_split,
                "limit": self.exp.test.limit, "seed": self.exp.test.seed,
                "labels": dict(Counter(str(r.get("label")) for r in records)),
                "base_recipe": {"records_in": res.records_in, "kept": res.kept, "splits": res.splits},
                "pool": {"read": n_in, "test_ids_removed": n_id, "test_text_copies_removed": n_text,
                         "records": n_in - n_id - n_text}}
        _write_json(info_path, info)
        self.log(f"test set: {len(records):,} records {info['labels']} (of {n_split:,} in the test split); "
                 f"pool: {info['pool']['records']:,} records ({n_id:,} test ids and {n_text:,} copies of test "
                 "texts removed)")
        return info

    # --- cells ------------------------------------------------------------------------------------
    def cells(self) -> list[Cell]:
        return [Cell(v, b, s) for v in self.exp.variants for b in self.exp.budgets_of(v) for s in self.exp.seeds]

    def cell_recipe(self, cell: Cell) -> Recipe:
        inp = InputConfig(path=str(self.pool_path.resolve()), format="jsonl", text_field="text",
                          label_field="label", id_field="id")
        steps = variant_steps(self.recipe, self.exp.variants[cell.variant], cell.budget, cell.seed)
        return Recipe(input=inp, steps=steps, output=OutputConfig(path="-"))

    def cell_key(self, cell: Cell, recipe_hash: str, test_sha: str) -> str:
        blob = json.dumps({"recipe": recipe_hash, "model": self.exp.model, "method": self.exp.method,
                           "train": self.exp.train, "budget": cell.budget, "seed": cell.seed, "test": test_sha,
                           "eval_batch": self.exp.eval_batch_size}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def run_cell(self, cell: Cell, test_info: dict[str, Any]) -> dict[str, Any]:
        from tuneprep.engine.local import run_recipe
        from tuneprep.evaluate.runner import EvalConfig, evaluate
        from tuneprep.train.config import TrainConfig
        from tuneprep.train.trainer import train

        recipe = self.cell_recipe(cell)
        rhash = recipe.hash()
        key = self.cell_key(cell, rhash, test_info["sha256"])
        cdir = self.out / "cells" / f"{cell.variant}-b{cell.budget}-s{cell.seed}-{key}"
        done = cdir / "result.json"
        if done.exists():
            return {**json.loads(done.read_text()), "cached": True}
        t0 = time.time()
        prep = self.out / "preps" / rhash
        if not (prep / "manifest.json").exists():
            recipe.output = OutputConfig(path=str(prep))
            run_recipe(recipe, workers=self.workers, fresh=True)
        stats = json.loads((prep / "stats.json").read_text())
        data_files = sorted((prep / "data").glob("*.jsonl"))
        train_recs = _read_jsonl(data_files)
        self._refuse_leaks(cell, train_recs, prep)
        prep_s = time.time() - t0
        t1 = time.time()
        run_dir = cdir / "run"
        evcfg = EvalConfig(model=str(run_dir), data=str(self.test_path), out=str(cdir / "eval"),
                           batch_size=self.exp.eval_batch_size, name=cell.variant, report=False)
        if self.exp.method == "probe":
            pre, predictor = self._fit_probe(cell, data_files, run_dir)
            train_metrics: dict[str, Any] = {}
        else:
            tcfg = TrainConfig(data=str(prep), out=str(run_dir), task="classify", model=self.exp.model,
                               method="lora" if self.exp.method == "encoder" else self.exp.method,
                               limit=cell.budget, seed=cell.seed, **self.exp.train)
            train_metrics = train(tcfg, overwrite=True, quiet=True).metrics
            pre = json.loads((run_dir / "preflight.json").read_text())
            predictor = None
        train_s = time.time() - t1
        t2 = time.time()
        ev = evaluate(evcfg, predictor=predictor, progress=True, log=lambda s: None)
        eval_s = time.time() - t2
        m = ev.metrics
        result = {
            "variant": cell.variant, "budget": cell.budget, "seed": cell.seed, "key": key, "recipe_hash": rhash,
            "dir": str(cdir.relative_to(self.out)),
            "steps": [{"op": s.op, **s.params()} for s in recipe.steps],
            "pool_after_steps": len(train_recs), "trained_on": pre.get("records_used"),
            "label_counts": pre.get("label_counts"),
            "prep_stats": stats,
            "metrics": {"f1_macro": m["f1_macro"], "accuracy": m["accuracy"],
                        "per_class_f1": {lab: v["f1"] for lab, v in m["per_class"].items()}, "n": m["n"]},
            "train": {k: train_metrics.get(k) for k in ("steps", "train_seconds_this_session", "peak_rss_mb")},
            "seconds": {"prep": round(prep_s, 1), "train": round(train_s, 1), "eval": round(eval_s, 1),
                        "total": round(time.time() - t0, 1)},
        }
        if not self.keep_models and run_dir.is_dir():  # weights are the bulk of the disk use; the predictions are what we compare
            for p in run_dir.iterdir():
                if p.is_dir() or p.suffix in (".safetensors", ".bin", ".pt"):
                    shutil.rmtree(p) if p.is_dir() else p.unlink()
        _write_json(done, result)
        return result

    def _fit_probe(self, cell: Cell, data_files: list[Path], run_dir: Path) -> tuple[dict[str, Any], Any]:
        """The probe's training data is the trainer's: the same reader and seeded ``limit`` subsample."""
        from collections import Counter

        from tuneprep.ablate.probe import ProbePredictor
        from tuneprep.train.data import read_examples, subsample

        examples = subsample(read_examples(data_files, "classify"), cell.budget, cell.seed)
        labels = sorted({str(r["label"]) for r in _read_jsonl([self.test_path])} | {e.label for e in examples})
        pred = ProbePredictor(self.exp.model, labels, seed=cell.seed, **self.exp.train)
        pred.fit([e.text or "" for e in examples], [e.label for e in examples])
        pre = {"records_used": len(examples), "label_counts": dict(Counter(e.label for e in examples))}
        run_dir.mkdir(parents=True, exist_ok=True)
        _write_json(run_dir / "preflight.json", pre)
        return pre, pred

    def _refuse_leaks(self, cell: Cell, train_recs: list[dict[str, Any]], prep: Path) -> None:
        test = _read_jsonl([self.test_path])
        ids = {str(r["id"]) for r in test}
        texts = {_text_key(r) for r in test}
        bad = [r for r in train_recs if str(r.get("id")) in ids or _text_key(r) in texts]
        if bad:
            raise AblateError(f"variant {cell.variant}: {len(bad)} training records of {prep} are test records "
                              f"(first: {bad[0].get('id')!r}); the test set must stay untouched by every variant")

    # --- the whole experiment ----------------------------------------------------------------------
    def run(self) -> dict[str, Any]:
        t0 = time.time()
        test_info = self.build_test_and_pool()
        cells = self.cells()
        results: list[dict[str, Any]] = []
        per_record: list[float] = []
        todo_records = sum(c.budget for c in cells)
        for i, cell in enumerate(cells, 1):
            res = self.run_cell(cell, test_info)
            results.append(res)
            todo_records -= cell.budget
            if not res.get("cached"):
                per_record.append(res["seconds"]["total"] / max(1, cell.budget))
            eta = (sum(per_record) / len(per_record) * todo_records) if per_record else None
            m = res["metrics"]
            self.log(f"[{i}/{len(cells)}] {cell.label}: macro-F1 {m['f1_macro']:.3f} acc {m['accuracy']:.3f}"
                     f"{' (cached)' if res.get('cached') else ''}; done {i}, remaining {len(cells) - i}"
                     + (f", ETA {eta / 60:.1f} min" if eta is not None and i < len(cells) else ""))
        from tuneprep.ablate.analysis import summarize

        out = summarize(self.exp, results, self.out, test_info)
        out["seconds"] = round(time.time() - t0, 1)
        out["out"] = str(self.out)
        out["cells_cached"] = sum(1 for r in results if r.get("cached"))
        _write_json(self.out / RESULTS, out)
        from tuneprep.ablate.report import write_report

        write_report(out, self.out / "report.html")
        return out


def run_experiment(path: str | Path, out: str | Path | None = None, workers: int = 1,
                   log: Callable[[str], None] = print, keep_models: bool = False) -> dict[str, Any]:
    """Load EXPERIMENT.yaml and run (or resume) it; returns what results.json holds."""
    from tuneprep.ablate.config import load_experiment

    exp, recipe, _ = load_experiment(path)
    out_dir = Path(out or exp.out or f"runs/ablate/{exp.name}")
    return Ablation(exp, recipe, out_dir, workers=workers, log=log, keep_models=keep_models).run()
