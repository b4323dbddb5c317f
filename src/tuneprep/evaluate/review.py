"""Error analysis and the review queue: what the model gets wrong, ranked for a human to look at.

Misclassified records are ranked by the model's confidence in its (wrong) prediction: a
confident error is the most likely place for a wrong gold label, and the cheapest to check.
The queue is written in the record format with ``meta.review`` = {gold, predicted, confidence,
p_gold, rank, why} (plus ``reason``/``given``/``suggested``/``score``/``probs``, the keys of the
annotate area's label-issue queue, with ``score`` = p_gold: low means the gold label is unlikely), so the annotation tools can relabel it or a recipe can drop it by id.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from tuneprep.io.writers import write_jsonl

UNPARSEABLE_NAME = "(unparseable)"
CONFIDENT = 0.9


def _why(p: Mapping[str, Any], pair_counts: Counter, n_errors: int) -> str:
    gold, pred = p.get("gold"), p.get("prediction")
    if p.get("unparseable"):
        raw = str(p.get("raw_output", pred))[:80]
        return f"the output could not be parsed to a label: {raw!r}"
    conf = p.get("confidence")
    probs = p.get("probs") or {}
    p_gold = probs.get(gold) if isinstance(gold, str) else None
    parts = []
    if conf is not None and conf >= CONFIDENT:
        tail = f", {p_gold:.2f} for gold '{gold}'" if p_gold is not None else ""
        parts.append(f"confident error (p={conf:.2f} for '{pred}'{tail}): check the gold label")
    elif conf is not None and p_gold is not None and conf - p_gold < 0.1:
        parts.append(f"near the decision boundary ({conf:.2f} '{pred}' vs {p_gold:.2f} '{gold}')")
    else:
        parts.append(f"predicted '{pred}' for gold '{gold}'" + (f" with p={conf:.2f}" if conf is not None else ""))
    cnt = pair_counts.get((gold, pred), 0)
    if n_errors and cnt / n_errors >= 0.2:
        parts.append(f"the most common confusion ({gold} → {pred}: {cnt} of {n_errors} errors)")
    return "; ".join(parts)


def _is_error(p: Mapping[str, Any]) -> bool:
    return p.get("gold") != p.get("prediction")


def error_analysis(predictions: Sequence[Mapping[str, Any]], metrics: Mapping[str, Any] | None = None,
                   top_k: int = 20) -> dict[str, Any]:
    """Per-class slices, the confusion pairs that matter, and the top errors by confidence."""
    errors = [p for p in predictions if _is_error(p)]
    pairs: Counter = Counter((p.get("gold"), p.get("prediction") if not p.get("unparseable") else UNPARSEABLE_NAME)
                             for p in errors if isinstance(p.get("gold"), str))
    gold_counts = Counter(p.get("gold") for p in predictions if isinstance(p.get("gold"), str))
    slices = []
    per_class = (metrics or {}).get("per_class", {})
    for lab in per_class or sorted(gold_counts):
        wrong = Counter(pr for (g, pr), c in pairs.items() if g == lab for _ in range(c))
        m = per_class.get(lab, {})
        slices.append({"label": lab, "support": gold_counts.get(lab, 0), "precision": m.get("precision"),
                       "recall": m.get("recall"), "f1": m.get("f1"), "errors": sum(wrong.values()),
                       "most_confused_with": wrong.most_common(1)[0][0] if wrong else None})
    n_err = len(errors)
    conf_pairs = [{"gold": g, "predicted": pr, "count": c, "share_of_errors": c / n_err,
                   "share_of_gold": c / gold_counts[g] if gold_counts.get(g) else None}
                  for (g, pr), c in pairs.most_common(10)]
    ranked = sorted(errors, key=lambda p: -(p.get("confidence") or 0.0))
    top = []
    for rank, p in enumerate(ranked[:top_k], 1):
        top.append({"rank": rank, "id": p["id"], "text": str(p.get("text", ""))[:300], "gold": p.get("gold"),
                    "predicted": p.get("prediction"), "confidence": p.get("confidence"),
                    "why": _why(p, pairs, n_err)})
    return {"n": len(predictions), "errors": n_err, "slices": slices, "confusion_pairs": conf_pairs,
            "top_errors": top}


def review_records(predictions: Sequence[Mapping[str, Any]],
                   records_by_id: Mapping[str, Mapping[str, Any]] | None = None) -> list[dict[str, Any]]:
    """The review queue: misclassified records, most confident first, in the record format.

    The original record (when given) is kept as-is, with ``meta.review`` added; otherwise the
    record is rebuilt from the prediction line (id, text, label = gold).
    """
    errors = [p for p in predictions if _is_error(p)]
    pairs: Counter = Counter((p.get("gold"), p.get("prediction")) for p in errors if isinstance(p.get("gold"), str))
    ranked = sorted(errors, key=lambda p: -(p.get("confidence") or 0.0))
    out = []
    for rank, p in enumerate(ranked, 1):
        orig = (records_by_id or {}).get(str(p["id"]))
        rec: dict[str, Any] = dict(orig) if orig is not None else {"id": p["id"], "text": p.get("text", ""),
                                                                   "label": p.get("gold")}
        meta = dict(rec.get("meta") or {})
        probs = p.get("probs") or {}
        gold = p.get("gold")
        p_gold = probs.get(gold) if isinstance(gold, str) else None
        meta["review"] = {
            "reason": "model_error",
            "gold": gold, "predicted": p.get("prediction"), "confidence": p.get("confidence"),
            "p_gold": p_gold, "rank": rank, "why": _why(p, pairs, len(errors)),
            # the keys of annotate's label-issue queue, so both queues feed the same tools
            "given": gold, "suggested": p.get("prediction"), "score": p_gold,
            "probs": probs or None,
        }
        rec["meta"] = meta
        out.append(rec)
    return out


def generation_review(predictions: Sequence[Mapping[str, Any]],
                      records_by_id: Mapping[str, Mapping[str, Any]] | None = None) -> list[dict[str, Any]]:
    """Review queue for generation: answers that miss the reference, lowest ROUGE-L first."""
    misses = sorted((p for p in predictions if not p.get("exact_match")), key=lambda p: p.get("rouge_l", 0.0))
    out = []
    for rank, p in enumerate(misses, 1):
        orig = (records_by_id or {}).get(str(p["id"]))
        rec: dict[str, Any] = dict(orig) if orig is not None else {"id": p["id"]}
        meta = dict(rec.get("meta") or {})
        meta["review"] = {"reference": p.get("reference"), "predicted": p.get("prediction"),
                          "rouge_l": p.get("rouge_l"), "token_f1": p.get("token_f1"), "rank": rank,
                          "why": "empty answer" if not str(p.get("prediction", "")).strip()
                          else f"answer differs from the reference (ROUGE-L {p.get('rouge_l', 0.0):.2f})"}
        rec["meta"] = meta
        out.append(rec)
    return out


def write_review(path: str | Path, records: Sequence[Mapping[str, Any]]) -> int:
    return write_jsonl(path, records)
