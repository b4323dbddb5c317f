"""Classification metrics for any predictions file, equal to scikit-learn's to 1e-9.

How predictions outside the label set count (``unparseable``): the label set is the gold labels
(plus any labels the caller names). A prediction that is missing, empty or not in the label set
is *wrong*: it lowers accuracy and counts as a false negative of the gold class (so it lowers
recall), but it is not a class of its own, so it adds no false positive to any class and no
column to the macro average. This is exactly scikit-learn with ``labels=<label set>``. Such
predictions are never dropped: ``unparseable`` says how many there were and which values.

``zero_division`` (0, 1 or nan) is the value of an undefined ratio (e.g. the precision of a class
never predicted); the default is 0, and it is a parameter of every entry point, never implicit.

Multi-label records (``label`` is a list) get subset accuracy, sample/micro/macro/weighted
precision, recall and F1 over the label indicator matrix.

numpy only (no sklearn import), so that bootstrap intervals over 1,000 resamples stay fast; the
tests check every number against scikit-learn on randomized cases.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

from tuneprep.errors import TuneprepError
from tuneprep.io.readers import read_rows
from tuneprep.records import get_path

UNPARSEABLE = "__unparseable__"
N_BOOT = 1000
ZeroDivision = float  # 0.0, 1.0 or nan (nan: undefined ratios are left out of averages, as sklearn)


class MetricsInputError(TuneprepError, ValueError):
    """Gold labels or predictions that cannot be scored (the message names the record)."""


def _div(num: np.ndarray, den: np.ndarray, zero_division: float) -> np.ndarray:
    num = np.asarray(num, dtype=float)
    den = np.asarray(den, dtype=float)
    out = np.full(np.broadcast(num, den).shape, zero_division, dtype=float)
    np.divide(num, den, out=out, where=den != 0)
    return out


def _avg(values: np.ndarray, weights: np.ndarray | None = None) -> float:
    """Average that skips nan entries (sklearn's behaviour with ``zero_division=np.nan``)."""
    values = np.asarray(values, dtype=float)
    mask = ~np.isnan(values)
    if not mask.any():
        return float("nan")
    if weights is None:
        return float(values[mask].mean())
    w = np.asarray(weights, dtype=float)[mask]
    if w.sum() == 0:
        return 0.0  # sklearn: weighted average with zero total support
    return float(np.average(values[mask], weights=w))


def _prf(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray, zero_division: float):
    """Per-label precision, recall, F1 as scikit-learn computes them (F from counts)."""
    p = _div(tp, tp + fp, zero_division)
    r = _div(tp, tp + fn, zero_division)
    f = _div(2 * tp, 2 * tp + fp + fn, zero_division)
    return p, r, f


def _averages(tp, fp, fn, support, zero_division: float) -> dict[str, float]:
    p, r, f = _prf(tp, fp, fn, zero_division)
    out: dict[str, float] = {}
    out["precision_macro"], out["recall_macro"], out["f1_macro"] = _avg(p), _avg(r), _avg(f)
    stp, sfp, sfn = tp.sum(), fp.sum(), fn.sum()
    mp, mr, mf = _prf(np.array([stp]), np.array([sfp]), np.array([sfn]), zero_division)
    out["precision_micro"], out["recall_micro"], out["f1_micro"] = float(mp[0]), float(mr[0]), float(mf[0])
    out["precision_weighted"] = _avg(p, support)
    out["recall_weighted"] = _avg(r, support)
    out["f1_weighted"] = _avg(f, support)
    return out


def _norm_label(value: Any) -> str | list[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (int, float)):
        # 1 and 1.0 are the same class in a predictions file written by another tool.
        return str(int(value)) if float(value).is_integer() else str(value)
    if isinstance(value, (list, tuple)):
        return [s for s in (_norm_label(v) for v in value) if isinstance(s, str)]
    return str(value)


def _percentile_ci(samples: np.ndarray) -> list[float]:
    samples = samples[~np.isnan(samples)]
    if samples.size == 0:
        return [float("nan"), float("nan")]
    lo, hi = np.percentile(samples, [2.5, 97.5])
    return [float(lo), float(hi)]


def single_label_counts(g: np.ndarray, p: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """tp, fp, fn per label from index arrays (``p == k`` is the unparseable bucket)."""
    cm = np.bincount(g * (k + 1) + p, minlength=k * (k + 1)).reshape(k, k + 1)
    tp = np.diag(cm[:, :k]).astype(float)
    fp = cm[:, :k].sum(axis=0) - tp
    fn = cm.sum(axis=1) - tp
    return tp, fp, fn


def classification_metrics(
    gold: Sequence[Any],
    pred: Sequence[Any],
    labels: Sequence[str] | None = None,
    zero_division: ZeroDivision = 0.0,
    n_boot: int = N_BOOT,
    seed: int = 0,
) -> dict[str, Any]:
    """All metrics for single-label or multi-label gold/predicted labels.

    ``labels``: the label set (order kept); default = sorted gold labels. Extra labels named
    here are classes too (counted with zero support). Predictions outside the set count as
    wrong (see module docstring). ``ci95`` holds seeded percentile-bootstrap 95% intervals.
    """
    if len(gold) != len(pred):
        raise MetricsInputError(f"{len(gold)} gold labels but {len(pred)} predictions")
    if not len(gold):
        raise MetricsInputError("no records to score")
    g_norm = [_norm_label(x) for x in gold]
    p_norm = [_norm_label(x) for x in pred]
    for i, g in enumerate(g_norm):
        if g is None:
            raise MetricsInputError(f"record {i}: no gold label")
    multi = any(isinstance(g, list) for g in g_norm)
    if multi:
        return _multilabel(g_norm, p_norm, labels, zero_division, n_boot, seed)  # type: ignore[arg-type]
    return _single(g_norm, p_norm, labels, zero_division, n_boot, seed)  # type: ignore[arg-type]


def _label_set(gold_labels: set[str], labels: Sequence[str] | None) -> list[str]:
    if labels is None:
        return sorted(gold_labels)
    lab = [str(x) for x in labels]
    missing = sorted(gold_labels - set(lab))
    if missing:
        raise MetricsInputError(f"gold labels {missing} are not in the given label set {lab}")
    return lab


def _single(gold, pred, labels, zero_division, n_boot, seed) -> dict[str, Any]:
    for i, g in enumerate(gold):
        if not isinstance(g, str):
            raise MetricsInputError(f"record {i}: gold label {g!r} is a list but others are single labels")
    lab = _label_set(set(gold), labels)
    k = len(lab)
    index = {x: j for j, x in enumerate(lab)}
    g = np.array([index[x] for x in gold], dtype=np.int64)
    bad: Counter[str] = Counter()
    p_idx = []
    for x in pred:
        if isinstance(x, str) and x in index:
            p_idx.append(index[x])
        else:
            p_idx.append(k)
            bad["<missing>" if x is None or x == [] else str(x)] += 1
    p = np.array(p_idx, dtype=np.int64)
    tp, fp, fn = single_label_counts(g, p, k)
    support = tp + fn
    n = len(g)
    out: dict[str, Any] = {"n": n, "accuracy": float((g == p).mean())}
    out.update(_averages(tp, fp, fn, support, zero_division))
    pp, rr, ff = _prf(tp, fp, fn, zero_division)
    out["per_class"] = {
        lab[j]: {"precision": float(pp[j]), "recall": float(rr[j]), "f1": float(ff[j]), "support": int(support[j])}
        for j in range(k)
    }
    cm = np.bincount(g * (k + 1) + p, minlength=k * (k + 1)).reshape(k, k + 1)
    out["confusion_matrix"] = {"labels": lab, "matrix": cm[:, :k].tolist()}
    if bad:
        # Per gold row: how many of its records got an unparseable prediction.
        out["confusion_matrix"]["unparseable"] = cm[:, k].tolist()
    out["ci95"] = _bootstrap_single(g, p, k, zero_division, n_boot, seed)
    from tuneprep.evaluate.baselines import classification_baselines

    out["baselines"] = classification_baselines(g, lab)
    if bad:
        out["unparseable"] = {"count": int(sum(bad.values())), "rate": sum(bad.values()) / n,
                              "values": dict(bad.most_common(20))}
    return out


def _bootstrap_single(g, p, k, zero_division, n_boot, seed) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    n = len(g)
    acc = np.empty(n_boot)
    f1m = np.empty(n_boot)
    for b in range(n_boot):
        idx = rng.integers(0, n, n)
        gb, pb = g[idx], p[idx]
        acc[b] = (gb == pb).mean()
        tp, fp, fn = single_label_counts(gb, pb, k)
        f1m[b] = _avg(_div(2 * tp, 2 * tp + fp + fn, zero_division))
    return {"accuracy": _percentile_ci(acc), "f1_macro": _percentile_ci(f1m), "n_boot": n_boot, "seed": seed,
            "method": "percentile bootstrap over records"}


def _multilabel(gold, pred, labels, zero_division, n_boot, seed) -> dict[str, Any]:
    gold = [g if isinstance(g, list) else [g] for g in gold]
    lab = _label_set({x for g in gold for x in g}, labels)
    k = len(lab)
    index = {x: j for j, x in enumerate(lab)}
    n = len(gold)
    Y = np.zeros((n, k), dtype=bool)
    P = np.zeros((n, k), dtype=bool)
    bad: Counter[str] = Counter()
    for i, (gs, ps) in enumerate(zip(gold, pred)):
        Y[i, [index[x] for x in gs]] = True
        if ps is None:
            bad["<missing>"] += 1
            continue
        if isinstance(ps, str):
            ps = [ps]
        for x in ps:
            if x in index:
                P[i, index[x]] = True
            else:
                bad[str(x)] += 1
    out: dict[str, Any] = {"n": n, "multilabel": True, "accuracy": float((Y == P).all(axis=1).mean())}
    tp = (Y & P).sum(axis=0).astype(float)
    fp = (~Y & P).sum(axis=0).astype(float)
    fn = (Y & ~P).sum(axis=0).astype(float)
    support = Y.sum(axis=0).astype(float)
    out.update(_averages(tp, fp, fn, support, zero_division))
    stp = (Y & P).sum(axis=1).astype(float)
    sp, sr, sf = _prf(stp, (~Y & P).sum(axis=1).astype(float), (Y & ~P).sum(axis=1).astype(float), zero_division)
    out["precision_samples"], out["recall_samples"], out["f1_samples"] = _avg(sp), _avg(sr), _avg(sf)
    out["hamming_loss"] = float((Y != P).mean())
    pp, rr, ff = _prf(tp, fp, fn, zero_division)
    out["per_class"] = {
        lab[j]: {"precision": float(pp[j]), "recall": float(rr[j]), "f1": float(ff[j]), "support": int(support[j])}
        for j in range(k)
    }
    # Multi-label: one 2x2 matrix per label, [[tn, fp], [fn, tp]] (sklearn's multilabel_confusion_matrix).
    tn = n - tp - fp - fn
    out["confusion_matrix"] = {
        "labels": lab,
        "matrix": [[[int(tn[j]), int(fp[j])], [int(fn[j]), int(tp[j])]] for j in range(k)],
        "kind": "per-label 2x2 [[tn, fp], [fn, tp]]",
    }
    rng = np.random.default_rng(seed)
    acc = np.empty(n_boot)
    f1m = np.empty(n_boot)
    exact = (Y == P).all(axis=1)
    TP, FP, FN = (Y & P).astype(float), (~Y & P).astype(float), (Y & ~P).astype(float)
    for b in range(n_boot):
        idx = rng.integers(0, n, n)
        acc[b] = exact[idx].mean()
        t, f_, m = TP[idx].sum(0), FP[idx].sum(0), FN[idx].sum(0)
        f1m[b] = _avg(_div(2 * t, 2 * t + f_ + m, zero_division))
    out["ci95"] = {"accuracy": _percentile_ci(acc), "f1_macro": _percentile_ci(f1m), "n_boot": n_boot,
                   "seed": seed, "method": "percentile bootstrap over records"}
    if bad:
        out["unparseable"] = {"count": int(sum(bad.values())), "rate": sum(bad.values()) / n,
                              "values": dict(bad.most_common(20))}
    return out


# The predictions schema `tuneprep eval` writes: {id, gold, prediction, confidence?, text?}.
GOLD_FIELD = "gold"


def metrics_from_file(
    path: str,
    label_field: str | None = None,
    pred_field: str = "prediction",
    labels: Sequence[str] | None = None,
    zero_division: ZeroDivision = 0.0,
    n_boot: int = N_BOOT,
    seed: int = 0,
) -> dict[str, Any]:
    """Metrics for a predictions file in any supported format (JSONL, JSON, CSV...).

    Every row needs ``label_field`` (dotted paths allowed); a missing ``pred_field`` counts as an
    unparseable (wrong) prediction. Errors name the file and line. ``label_field`` None reads the
    predictions schema of ``tuneprep eval`` (``gold``), or ``label`` (records) when the first row
    has no ``gold``.
    """

    gold: list[Any] = []
    pred: list[Any] = []
    for row in read_rows(path):
        if row.error:
            raise MetricsInputError(f"{path}:{row.line}: {row.error}")
        if not isinstance(row.obj, dict):
            raise MetricsInputError(f"{path}:{row.line}: row is not an object")
        if label_field is None:
            label_field = GOLD_FIELD if GOLD_FIELD in row.obj else "label"
        try:
            g = get_path(row.obj, label_field)
        except KeyError:
            raise MetricsInputError(f"{path}:{row.line}: missing gold label field '{label_field}'") from None
        if g is None or g == "":
            raise MetricsInputError(f"{path}:{row.line}: empty gold label in field '{label_field}'")
        try:
            p = get_path(row.obj, pred_field)
        except KeyError:
            p = None
        gold.append(g)
        pred.append(p)
    if not gold:
        raise MetricsInputError(f"{path}: no rows")
    return classification_metrics(gold, pred, labels=labels, zero_division=zero_division, n_boot=n_boot, seed=seed)
