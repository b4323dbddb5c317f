"""Tables of an ablation: mean ± 95 % CI over seeds per (variant, budget), and paired differences
against the baseline on the same test ids (``evaluate.compare``: paired bootstrap, McNemar).

The paired comparison pools the seeds: each (seed, test record) pair is one paired unit, the
baseline's and the variant's predictions for the same seed and record side by side. Pooled
macro-F1 is then close to the mean over seeds, and the bootstrap CI and McNemar p-value use the
evidence of every seed. Per-seed differences are listed too.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from pathlib import Path
from typing import Any

from tuneprep.ablate.config import Experiment


def mean_ci(values: list[float]) -> dict[str, Any]:
    """Mean and the 95 % t-interval of the mean (None with a single value)."""
    n = len(values)
    mean = sum(values) / n if n else float("nan")
    if n < 2:
        return {"mean": mean, "ci95": None, "n": n}
    from scipy import stats

    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    half = float(stats.t.ppf(0.975, n - 1)) * sd / math.sqrt(n)
    return {"mean": mean, "ci95": [mean - half, mean + half], "sd": sd, "n": n}


def _pooled_dir(out: Path, variant: str, budget: int, cells: list[dict[str, Any]]) -> Path:
    """Predictions of every seed in one eval dir, ids ``s<seed>:<id>`` (what compare_runs reads)."""
    d = out / "pooled" / f"{variant}-b{budget}"
    d.mkdir(parents=True, exist_ok=True)
    with open(d / "predictions.jsonl", "w") as fh:
        for c in sorted(cells, key=lambda c: c["seed"]):
            for line in open(out / c["dir"] / "eval" / "predictions.jsonl"):
                p = json.loads(line)
                p["id"] = f"s{c['seed']}:{p['id']}"
                fh.write(json.dumps(p, ensure_ascii=False) + "\n")
    (d / "eval.json").write_text(json.dumps({"name": variant}) + "\n")
    return d


def summarize(exp: Experiment, results: list[dict[str, Any]], out: Path, test_info: dict[str, Any]) -> dict[str, Any]:
    from tuneprep.evaluate.compare import compare_runs

    by: dict[tuple[str, int], list[dict[str, Any]]] = defaultdict(list)
    for r in results:
        by[(r["variant"], r["budget"])].append(r)
    table = []
    for (v, b), cells in by.items():
        labels = sorted({lab for c in cells for lab in c["metrics"]["per_class_f1"]})
        table.append({
            "variant": v, "budget": b, "seeds": sorted(c["seed"] for c in cells),
            "trained_on": mean_ci([float(c["trained_on"] or 0) for c in cells])["mean"],
            "label_counts": cells[0].get("label_counts"),
            "f1_macro": mean_ci([c["metrics"]["f1_macro"] for c in cells]),
            "accuracy": mean_ci([c["metrics"]["accuracy"] for c in cells]),
            "per_class_f1": {lab: mean_ci([c["metrics"]["per_class_f1"].get(lab, 0.0) for c in cells]) for lab in labels},
            "seconds": sum(c["seconds"]["total"] for c in cells),
        })
    base = exp.base_name
    diffs = []
    for (v, b), cells in by.items():
        if v == base or (base, b) not in by:
            continue
        seeds = sorted({c["seed"] for c in cells} & {c["seed"] for c in by[(base, b)]})
        if not seeds:
            continue
        bc = [c for c in by[(base, b)] if c["seed"] in seeds]
        vc = [c for c in cells if c["seed"] in seeds]
        cmp = compare_runs([_pooled_dir(out, base, b, bc), _pooled_dir(out, v, b, vc)])
        d = cmp["differences"][0]
        per_seed = []
        for s in seeds:
            one = compare_runs([out / next(c for c in bc if c["seed"] == s)["dir"] / "eval",
                                out / next(c for c in vc if c["seed"] == s)["dir"] / "eval"])["differences"][0]
            per_seed.append({"seed": s, "f1_macro": one["f1_macro"]["diff"], "accuracy": one["accuracy"]["diff"],
                             "mcnemar_p": one["mcnemar"]["pvalue"]})
        diffs.append({"variant": v, "baseline": base, "budget": b, "seeds": seeds, "paired_units": cmp["n"],
                      "f1_macro": d["f1_macro"], "accuracy": d["accuracy"], "mcnemar": d["mcnemar"],
                      "per_class_f1_diff": {lab: vals[v] - vals[base] for lab, vals in cmp["per_class"].items()},
                      "per_seed": per_seed})
    order = {v: i for i, v in enumerate(exp.variants)}
    table.sort(key=lambda r: (order[r["variant"]], r["budget"]))
    diffs.sort(key=lambda r: (order[r["variant"]], r["budget"]))
    return {"experiment": exp.model_dump(mode="json"), "baseline": base, "test_set": test_info,
            "model": exp.model, "method": exp.method, "cells": len(results), "table": table,
            "differences": diffs, "cell_results": results}
