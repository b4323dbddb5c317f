"""Inter-annotator agreement over long-format judgements ``{"item", "annotator", "label"}``.

Computed here with numpy (no heavy imports) and tested against the reference implementations:
scikit-learn ``cohen_kappa_score``, statsmodels ``fleiss_kappa`` and the ``krippendorff``
package. Any number of annotators per item; missing judgements are allowed.

Levels of measurement:
* ``nominal`` — labels are categories; Cohen's kappa unweighted, Krippendorff's nominal metric.
* ``ordinal`` — labels are ordered (numbers, or strings given an explicit ``order``); Cohen's kappa
  with linear weights over the global label order, Krippendorff's ordinal metric.
* ``interval`` — labels are numbers; Cohen's kappa with quadratic weights, Krippendorff's
  interval metric.
Fleiss' kappa is a nominal statistic at every level; percent agreement counts exact matches.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from itertools import combinations
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel

from tuneprep.errors import TuneprepError
from tuneprep.io.readers import read_rows

Level = Literal["nominal", "ordinal", "interval"]
LEVELS = ("nominal", "ordinal", "interval")


class AgreementError(TuneprepError, ValueError):
    """Judgements that cannot be analysed (bad rows, duplicates, non-numeric ordinal labels)."""


class Judgements(BaseModel):
    """Validated long-format judgements: item → annotator → label (missing pairs simply absent)."""

    by_item: dict[str, dict[str, Any]]
    labels: list[Any]  # the label domain, sorted (numerically for ordinal/interval)
    level: str = "nominal"

    @property
    def annotators(self) -> list[str]:
        return sorted({a for per in self.by_item.values() for a in per})


def _norm_label(value: Any, level: str, order: list[str] | None, where: str) -> Any:
    if order is not None:
        key = str(value)
        if key not in order:
            raise AgreementError(f"{where}: label {value!r} is not in the given order {order}")
        return order.index(key)
    if level == "nominal":
        return str(value) if not isinstance(value, (int, float)) or isinstance(value, bool) else value
    if isinstance(value, bool):
        raise AgreementError(f"{where}: label {value!r} is not a number ({level} level)")
    try:
        num = float(value)
    except (TypeError, ValueError):
        raise AgreementError(
            f"{where}: label {value!r} is not a number; the {level} level needs numeric labels "
            f"(or give the label order explicitly)"
        ) from None
    if math.isnan(num):
        raise AgreementError(f"{where}: label is NaN")
    return num


def build_judgements(
    rows: Iterable[Mapping[str, Any]],
    level: Level = "nominal",
    order: list[str] | None = None,
    source: str = "<input>",
    item_field: str = "item",
    annotator_field: str = "annotator",
    label_field: str = "label",
) -> Judgements:
    """Validate rows into ``Judgements``. Errors name the source, the row and the field.

    A row whose label is ``null`` is a missing judgement and is skipped (it carries no judgement);
    the same annotator judging the same item twice is an error.
    """
    if level not in LEVELS:
        raise AgreementError(f"unknown level {level!r}; allowed: {', '.join(LEVELS)}")
    by_item: dict[str, dict[str, Any]] = defaultdict(dict)
    for n, row in enumerate(rows, 1):
        where = f"{source}: row {n}"
        if not isinstance(row, Mapping):
            raise AgreementError(f"{where}: not an object")
        for f in (item_field, annotator_field, label_field):
            if f not in row:
                raise AgreementError(f"{where}: missing field '{f}'")
        if row[label_field] is None:
            continue
        item, ann = str(row[item_field]), str(row[annotator_field])
        if ann in by_item[item]:
            raise AgreementError(f"{where}: annotator {ann!r} judged item {item!r} twice")
        by_item[item][ann] = _norm_label(row[label_field], level, order, f"{where} field '{label_field}'")
    if not by_item:
        raise AgreementError(f"{source}: no judgements")
    values = {v for per in by_item.values() for v in per.values()}
    labels = sorted(values, key=lambda v: (isinstance(v, str), v)) if level == "nominal" else sorted(values)
    return Judgements(by_item=dict(by_item), labels=labels, level=level)


def judgements_of_record(row: Any) -> list[Any]:
    """Rows of long-format judgements from one row of any supported file.

    A row already in long format (``item``, ``annotator``, ``label``) is kept as it is. A record
    written by ``tuneprep annotate label`` (``id`` and ``meta.annotation.votes``: one label per
    method or ensemble member) gives one judgement per voter, so its output can be fed to
    ``annotate agreement`` directly; an abstaining voter (null) is a missing judgement.
    """
    if not isinstance(row, Mapping) or "item" in row or "annotator" in row:
        return [row]
    ann = (row.get("meta") or {}).get("annotation") if isinstance(row.get("meta"), Mapping) else None
    votes = ann.get("votes") if isinstance(ann, Mapping) else None
    if not isinstance(votes, Mapping) or not votes or "id" not in row:
        return [row]
    return [{"item": row["id"], "annotator": name, "label": label} for name, label in votes.items()]


def load_judgements(path: str | Path, level: Level = "nominal", order: list[str] | None = None) -> Judgements:
    """Read long-format judgements from any supported file (JSONL, JSON, CSV...)."""

    def rows():
        for raw in read_rows(path):
            if raw.error:
                raise AgreementError(f"{path}:{raw.line}: {raw.error}")
            yield from judgements_of_record(raw.obj)

    return build_judgements(rows(), level, order, source=str(path))


# ---------------------------------------------------------------------------------------------
# statistics

def percent_agreement(j: Judgements) -> float | None:
    """Mean over items with ≥2 judgements of the share of judgement pairs that agree exactly."""
    shares = []
    for per in j.by_item.values():
        m = len(per)
        if m < 2:
            continue
        counts = Counter(per.values())
        shares.append(sum(c * (c - 1) for c in counts.values()) / (m * (m - 1)))
    return float(np.mean(shares)) if shares else None


def _weights(labels: list[Any], level: str) -> np.ndarray:
    """Cohen's disagreement weights over label indices (as scikit-learn builds them)."""
    k = len(labels)
    idx = np.arange(k)
    if level == "nominal":
        return 1.0 - np.eye(k)
    diff = np.abs(idx[:, None] - idx[None, :]).astype(float)
    return diff if level == "ordinal" else diff**2


def cohen_kappa(y1: list[Any], y2: list[Any], labels: list[Any], level: str = "nominal") -> float | None:
    """Cohen's kappa of two aligned label lists (None where it is undefined, i.e. 0/0)."""
    index = {lab: i for i, lab in enumerate(labels)}
    k = len(labels)
    cm = np.zeros((k, k))
    for a, b in zip(y1, y2):
        cm[index[a], index[b]] += 1
    return _kappa_from_confusion(cm, _weights(labels, level))


def _code_matrix(j: Judgements) -> tuple[list[str], np.ndarray]:
    """(annotators, ``[n_annotators, n_items]`` label codes with -1 for a missing judgement)."""
    anns = j.annotators
    a_idx = {a: i for i, a in enumerate(anns)}
    code = {lab: i for i, lab in enumerate(j.labels)}
    mat = np.full((len(anns), len(j.by_item)), -1, dtype=np.int64)
    for c, per in enumerate(j.by_item.values()):
        for ann, lab in per.items():
            mat[a_idx[ann], c] = code[lab]
    return anns, mat


def _kappa_from_confusion(cm: np.ndarray, w: np.ndarray) -> float | None:
    n = cm.sum()
    if n == 0:
        return None
    expected = np.outer(cm.sum(1), cm.sum(0)) / n
    denom = float((w * expected).sum())
    if denom == 0:
        return None
    return float(1 - (w * cm).sum() / denom)


def pairwise_cohen(j: Judgements) -> list[dict[str, Any]]:
    """Cohen's kappa for every annotator pair that judged at least one item in common."""
    anns, mat = _code_matrix(j)
    k = len(j.labels)
    w = _weights(j.labels, j.level)
    present = mat >= 0
    pairs = []
    for a, b in combinations(range(len(anns)), 2):
        both = present[a] & present[b]
        n = int(both.sum())
        if n == 0:
            continue
        cm = np.bincount(mat[a, both] * k + mat[b, both], minlength=k * k).reshape(k, k).astype(float)
        kappa = _kappa_from_confusion(cm, w)
        entry: dict[str, Any] = {"annotators": [anns[a], anns[b]], "n_items": n, "kappa": kappa}
        if kappa is None:
            entry["note"] = "undefined: chance agreement is 1 (both used one and the same label)"
        pairs.append(entry)
    return pairs


def fleiss_kappa_table(table: np.ndarray) -> float | None:
    """Fleiss' kappa of an items × categories count table with equal row sums (None if undefined)."""
    table = np.asarray(table, float)
    n_items = table.shape[0]
    m = table.sum(1)[0]
    p_j = table.sum(0) / (n_items * m)
    p_i = ((table**2).sum(1) - m) / (m * (m - 1))
    p_bar, p_e = p_i.mean(), float((p_j**2).sum())
    if p_e == 1:
        return None
    return float((p_bar - p_e) / (1 - p_e))


def fleiss(j: Judgements) -> dict[str, Any]:
    """Fleiss' kappa over all items when every item has the same number (≥2) of judgements.

    Otherwise the value is None with the reason, and ``subset`` gives the kappa over the largest
    group of items that share one rater count, so that something comparable is still reported.
    """
    counts = Counter(len(per) for per in j.by_item.values())
    index = {lab: i for i, lab in enumerate(j.labels)}

    def table_for(m: int) -> np.ndarray:
        rows = [per for per in j.by_item.values() if len(per) == m]
        t = np.zeros((len(rows), len(j.labels)))
        for r, per in enumerate(rows):
            for lab in per.values():
                t[r, index[lab]] += 1
        return t

    def value(m: int) -> tuple[float | None, str | None]:
        if m < 2:
            return None, "items have a single judgement; Fleiss' kappa needs at least 2 per item"
        kappa = fleiss_kappa_table(table_for(m))
        if kappa is None:
            return None, "all judgements are one label: chance agreement is 1, kappa is undefined"
        return kappa, None

    if len(counts) == 1:
        (m,) = counts
        kappa, note = value(m)
        out: dict[str, Any] = {"value": kappa, "n_raters_per_item": m, "n_items": counts[m]}
        if note:
            out["note"] = note
        return out
    m, n = max(counts.items(), key=lambda kv: (kv[1], kv[0]))
    lo, hi = min(counts), max(counts)
    sub_kappa, sub_note = value(m)
    subset: dict[str, Any] = {"value": sub_kappa, "n_raters_per_item": m, "n_items": n}
    if sub_note:
        subset["note"] = sub_note
    return {
        "value": None,
        "note": f"not computable over all items: items have {lo} to {hi} judgements, and Fleiss' kappa "
                f"needs the same number for every item",
        "subset": subset,
    }


def _delta2(values: np.ndarray, marginals: np.ndarray, level: str) -> np.ndarray:
    """Krippendorff's squared distance matrix over the (sorted) value domain."""
    k = len(values)
    if level == "nominal":
        return 1.0 - np.eye(k)
    if level == "interval":
        v = values.astype(float)
        return (v[:, None] - v[None, :]) ** 2
    cum = np.concatenate([[0.0], np.cumsum(marginals)])
    d = np.zeros((k, k))
    for c in range(k):
        for e in range(c, k):
            s = cum[e + 1] - cum[c] - (marginals[c] + marginals[e]) / 2
            d[c, e] = d[e, c] = s**2
    return d


def krippendorff_alpha(j: Judgements) -> float | None:
    """Krippendorff's alpha (coincidence-matrix form) at the judgements' level of measurement."""
    index = {lab: i for i, lab in enumerate(j.labels)}
    k = len(j.labels)
    o = np.zeros((k, k))
    for per in j.by_item.values():
        m = len(per)
        if m < 2:
            continue  # a unit with one value is not pairable
        cnt = np.zeros(k)
        for lab in per.values():
            cnt[index[lab]] += 1
        o += (np.outer(cnt, cnt) - np.diag(cnt)) / (m - 1)
    n_c = o.sum(1)
    n = n_c.sum()
    if n <= 1:
        return None
    values = np.array(j.labels, dtype=object if j.level == "nominal" else float)
    d = _delta2(values, n_c, j.level)
    d_o = (o * d).sum()
    d_e = (np.outer(n_c, n_c) * d).sum() / (n - 1)
    if d_e == 0:
        return None
    return float(1 - d_o / d_e)


def label_str(value: Any) -> str:
    """A label as the record contract wants it (a string; ``2.0`` becomes ``"2"``)."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def agreement_report(j: Judgements) -> dict[str, Any]:
    """Every statistic in one JSON-able dict (the keys of ``tuneprep annotate agreement --json``)."""
    pairs = pairwise_cohen(j)
    defined = [p["kappa"] for p in pairs if p["kappa"] is not None]
    fl = fleiss(j)
    alpha = krippendorff_alpha(j)
    counts = [len(per) for per in j.by_item.values()]
    out: dict[str, Any] = {
        "level": j.level,
        "n_items": len(j.by_item),
        "n_annotators": len(j.annotators),
        "n_judgements": int(sum(counts)),
        "judgements_per_item": {"min": min(counts), "max": max(counts), "mean": float(np.mean(counts))},
        "labels": j.labels,
        "percent_agreement": percent_agreement(j),
        # mean over the annotator pairs with a defined kappa; every pair is listed in "pairs"
        "cohen_kappa": float(np.mean(defined)) if defined else None,
        "cohen_kappa_weights": {"nominal": None, "ordinal": "linear", "interval": "quadratic"}[j.level],
        "n_pairs": len(pairs),
        "pairs": pairs,
        "fleiss_kappa": fl["value"],
        "krippendorff_alpha": alpha,
    }
    if not pairs:
        out["cohen_kappa_note"] = "no two annotators judged a common item"
    elif not defined:
        out["cohen_kappa_note"] = "undefined for every pair (chance agreement is 1)"
    if "n_raters_per_item" in fl:
        out["fleiss_n_raters_per_item"] = fl["n_raters_per_item"]
    if "note" in fl:
        out["fleiss_kappa_note"] = fl["note"]
    if "subset" in fl:
        out["fleiss_kappa_subset"] = fl["subset"]
    if alpha is None:
        out["krippendorff_alpha_note"] = "undefined: fewer than 2 pairable values or no variation in values"
    return out


def consensus(j: Judgements) -> list[dict[str, Any]]:
    """One record per item: the most frequent label and its agreement (share of judgements).

    Ties are reported (``tie: true``) and broken by the label order, never silently. For
    ordinal/interval data the median and mean are given as well.
    """
    out = []
    for item, per in j.by_item.items():
        counts = Counter(per.values())
        top = max(counts.values())
        winners = sorted([lab for lab, c in counts.items() if c == top], key=j.labels.index)
        info: dict[str, Any] = {
            "agreement": top / len(per),
            "n_judgements": len(per),
            "counts": {str(k): v for k, v in sorted(counts.items(), key=lambda kv: j.labels.index(kv[0]))},
        }
        if len(winners) > 1:
            info["tie"] = True
            info["tied_labels"] = winners
        if j.level != "nominal":
            vals = np.array(list(per.values()), float)
            info["median"] = float(np.median(vals))
            info["mean"] = float(vals.mean())
        out.append({"id": item, "label": label_str(winners[0]), "meta": {"consensus": info}})
    return out
