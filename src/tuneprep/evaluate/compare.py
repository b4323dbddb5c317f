"""Compare eval directories on the same test ids: metrics side by side, paired bootstrap
intervals for the differences, and McNemar's test on the per-record correctness.

The first directory is the baseline; every other one is compared with it. Differences are
``other - baseline``. McNemar uses the exact binomial test when the discordant count is below
25, else the chi-square test with continuity correction (as statsmodels' ``mcnemar``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tuneprep.errors import EXIT_USAGE, TuneprepError
from tuneprep.evaluate.genmetrics import GENERATION_SCORES
from tuneprep.evaluate.metrics import _avg, _div, _norm_label, classification_metrics, single_label_counts
from tuneprep.evaluate.predictions import read_json, read_predictions, run_name
from tuneprep.io.writers import atomic_open

EXACT_BELOW = 25
GEN_SCORES = GENERATION_SCORES


class CompareError(TuneprepError, ValueError):
    """Runs that cannot be compared (different test sets, different gold labels...)."""

    exit_code = EXIT_USAGE


def mcnemar_test(b: int, c: int) -> dict[str, Any]:
    """McNemar's test from the discordant counts ``b`` (only A right) and ``c`` (only B right)."""
    from scipy import stats

    n = b + c
    if n == 0:
        return {"statistic": 0.0, "pvalue": 1.0, "exact": True, "discordant": 0}
    if n < EXACT_BELOW:
        return {"statistic": float(min(b, c)), "pvalue": float(stats.binomtest(min(b, c), n, 0.5).pvalue),
                "exact": True, "discordant": n}
    stat = (abs(b - c) - 1) ** 2 / n
    return {"statistic": float(stat), "pvalue": float(stats.chi2.sf(stat, 1)), "exact": False, "discordant": n}


def _kind(preds: list[dict[str, Any]]) -> str:
    return "generation" if preds and "reference" in preds[0] and "gold" not in preds[0] else "classification"


def _align(dirs: Sequence[Path]) -> tuple[list[str], list[dict[str, dict[str, Any]]]]:
    tables = []
    for d in dirs:
        preds = read_predictions(d)
        by_id: dict[str, dict[str, Any]] = {}
        for p in preds:
            pid = str(p["id"])
            if pid in by_id:
                raise CompareError(f"{d}/predictions.jsonl: id {pid!r} appears twice")
            by_id[pid] = p
        tables.append(by_id)
    base_ids = set(tables[0])
    for d, t in zip(dirs[1:], tables[1:]):
        ids = set(t)
        if ids != base_ids:
            only_a, only_b = len(base_ids - ids), len(ids - base_ids)
            raise CompareError(
                f"{dirs[0]} and {d} were evaluated on different test sets: {only_a} ids only in "
                f"{dirs[0].name}, {only_b} ids only in {d.name}, {len(base_ids & ids)} shared. "
                "Evaluate both on the same test file (and the same --limit/seed)."
            )
    ids = sorted(base_ids)
    for d, t in zip(dirs[1:], tables[1:]):
        for i in ids:
            ga, gb = tables[0][i].get("gold", tables[0][i].get("reference")), t[i].get("gold", t[i].get("reference"))
            if ga != gb:
                raise CompareError(f"id {i!r}: gold label differs between {dirs[0]} ({ga!r}) and {d} ({gb!r})")
    return ids, tables


def _cls_vectors(ids, table, labels):
    index = {x: j for j, x in enumerate(labels)}
    k = len(labels)
    g = np.array([index[_norm_label(table[i]["gold"])] for i in ids], dtype=np.int64)
    p = np.array([index.get(_norm_label(table[i].get("prediction")), k) for i in ids], dtype=np.int64)  # type: ignore[arg-type]
    return g, p


def compare_runs(dirs: Sequence[str | Path], n_boot: int = 1000, seed: int = 0) -> dict[str, Any]:
    """Compare eval directories (first = baseline). Raises CompareError on different test sets.

    Returns ``{"runs", "n", "kind", "metrics", "per_class", "differences"}``; each difference has
    the point difference, its paired-bootstrap 95% interval, and McNemar's test.
    """
    if len(dirs) < 2:
        raise CompareError("compare needs at least two eval directories")
    paths = [Path(d) for d in dirs]
    ids, tables = _align(paths)
    names = [run_name(p) for p in paths]
    if len(set(names)) < len(names):  # two dirs with the same name: use their paths
        names = [str(p) for p in paths]
    kind = _kind(list(tables[0].values()))
    rng = np.random.default_rng(seed)
    n = len(ids)
    idx = rng.integers(0, n, (n_boot, n))
    runs = []
    for p, name in zip(paths, names):
        info = read_json(p / "eval.json", required=False) or {}
        runs.append({"name": name, "dir": str(p), "model": info.get("model"), "method": info.get("method")})
    out: dict[str, Any] = {"runs": runs, "n": n, "kind": kind, "baseline": names[0], "n_boot": n_boot, "seed": seed}

    if kind == "generation":
        scores = {nm: {s: np.array([float(t[i].get(s, 0.0)) for i in ids]) for s in GEN_SCORES}
                  for nm, t in zip(names, tables)}
        correct = {nm: scores[nm]["exact_match"] > 0.5 for nm in names}
        out["metrics"] = {nm: {s: float(v.mean()) for s, v in scores[nm].items()} for nm in names}
        boot = {nm: {s: v[idx].mean(axis=1) for s, v in scores[nm].items()} for nm in names}
        keys = GEN_SCORES
    else:
        if any(isinstance(tables[0][i].get("gold"), list) for i in ids):
            raise CompareError(f"{paths[0]}: multi-label predictions; compare supports single-label "
                               "classification and generation runs")
        golds = {str(_norm_label(tables[0][i]["gold"])) for i in ids}
        metrics0 = read_json(paths[0] / "metrics.json", required=False) or {}
        labels = list(metrics0.get("confusion_matrix", {}).get("labels") or sorted(golds))
        labels += sorted(golds - set(labels))
        k = len(labels)
        out["labels"] = labels
        out["metrics"], out["per_class"], boot, correct = {}, {lab: {} for lab in labels}, {}, {}
        for nm, t in zip(names, tables):
            g, p = _cls_vectors(ids, t, labels)
            m = classification_metrics([labels[j] for j in g], [t[i].get("prediction") for i in ids],
                                       labels=labels, n_boot=0)
            out["metrics"][nm] = {key: m[key] for key in (
                "accuracy", "f1_macro", "precision_macro", "recall_macro", "f1_micro", "f1_weighted")}
            out["metrics"][nm]["unparseable"] = m.get("unparseable", {}).get("count", 0)
            for lab in labels:
                out["per_class"][lab][nm] = m["per_class"][lab]["f1"]
            correct[nm] = g == p
            acc_b = np.empty(n_boot)
            f1_b = np.empty(n_boot)
            for b in range(n_boot):
                tp, fp, fn = single_label_counts(g[idx[b]], p[idx[b]], k)
                acc_b[b] = correct[nm][idx[b]].mean()
                f1_b[b] = _avg(_div(2 * tp, 2 * tp + fp + fn, 0.0))
            boot[nm] = {"accuracy": acc_b, "f1_macro": f1_b}
        keys = ("accuracy", "f1_macro")

    diffs = []
    base = names[0]
    for nm in names[1:]:
        d: dict[str, Any] = {"baseline": base, "other": nm}
        for key in keys:
            delta = out["metrics"][nm][key] - out["metrics"][base][key]
            samples = boot[nm][key] - boot[base][key]
            lo, hi = np.percentile(samples, [2.5, 97.5])
            d[key] = {"diff": float(delta), "ci95": [float(lo), float(hi)],
                      "significant": bool(lo > 0 or hi < 0)}
        only_base = int((correct[base] & ~correct[nm]).sum())
        only_other = int((~correct[base] & correct[nm]).sum())
        d["mcnemar"] = {"only_baseline_correct": only_base, "only_other_correct": only_other,
                        **mcnemar_test(only_base, only_other)}
        diffs.append(d)
    out["differences"] = diffs
    return out


def write_compare(dirs: Sequence[str | Path], out_path: str | Path, **kwargs: Any) -> dict[str, Any]:
    """``compare_runs`` and write the result as JSON to ``out_path`` (atomically)."""
    import orjson

    res = compare_runs(dirs, **kwargs)
    with atomic_open(out_path) as fh:
        fh.write(orjson.dumps(res, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY) + b"\n")
    return res
