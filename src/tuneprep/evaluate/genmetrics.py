"""Generation metrics for SFT runs: exact match, token F1 and ROUGE-L against reference answers.

Normalisation (SQuAD style, for exact match and token F1): lower-case, drop punctuation and the
articles a/an/the, collapse whitespace. ROUGE-L is the LCS-based F-measure (beta = 1) over
lower-cased alphanumeric tokens, as ``rouge_score``'s ``rougeL`` without stemming.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

# The per-record generation scores, in display order: one list for metrics, compare and the CLI.
GENERATION_SCORES = ("exact_match", "token_f1", "rouge_l")
_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)
_PUNCT = set(string.punctuation)
_ROUGE_TOKEN = re.compile(r"[a-z0-9]+")


def normalize_answer(s: str) -> str:
    s = s.lower()
    s = "".join(ch for ch in s if ch not in _PUNCT)
    s = _ARTICLES.sub(" ", s)
    return " ".join(s.split())


def exact_match(prediction: str, reference: str) -> float:
    return float(normalize_answer(prediction) == normalize_answer(reference))


def token_f1(prediction: str, reference: str) -> float:
    """SQuAD token F1 on normalised answers (1.0 when both are empty)."""
    p, r = normalize_answer(prediction).split(), normalize_answer(reference).split()
    if not p or not r:
        return float(p == r)
    common = sum((Counter(p) & Counter(r)).values())
    if common == 0:
        return 0.0
    prec, rec = common / len(p), common / len(r)
    return 2 * prec * rec / (prec + rec)


def _lcs(a: Sequence[str], b: Sequence[str]) -> int:
    """Length of the longest common subsequence, bit-parallel (Crochemore et al. 2001).

    One big-int operation per token of ``a`` instead of a len(a) x len(b) table: ~20x faster
    than the dynamic programme in pure Python on answers of a few hundred tokens.
    """
    if not a or not b:
        return 0
    masks: dict[str, int] = {}
    for i, y in enumerate(b):
        masks[y] = masks.get(y, 0) | (1 << i)
    full = (1 << len(b)) - 1
    v = full
    for x in a:
        u = v & masks.get(x, 0)
        v = ((v + u) | (v - u)) & full
    return len(b) - bin(v).count("1")


def rouge_l(prediction: str, reference: str) -> float:
    """ROUGE-L F-measure over lower-cased alphanumeric tokens."""
    p, r = _ROUGE_TOKEN.findall(prediction.lower()), _ROUGE_TOKEN.findall(reference.lower())
    if not p or not r:
        return 0.0
    lcs = _lcs(p, r)
    if lcs == 0:
        return 0.0
    prec, rec = lcs / len(p), lcs / len(r)
    return 2 * prec * rec / (prec + rec)


def reference_answer(rec: Mapping[str, Any]) -> str | None:
    """The reference of a chat record: the content of its last assistant message."""
    msgs = rec.get("messages")
    if not isinstance(msgs, list):
        return None
    for m in reversed(msgs):
        if isinstance(m, Mapping) and m.get("role") == "assistant":
            return str(m.get("content", ""))
    return None


def prompt_messages(rec: Mapping[str, Any]) -> list[dict[str, str]]:
    """The conversation up to (not including) the last assistant message: what the model answers."""
    msgs = list(rec.get("messages") or [])
    for k in range(len(msgs) - 1, -1, -1):
        if msgs[k].get("role") == "assistant":
            return msgs[:k]
    return msgs


def score_generation(prediction: str, reference: str) -> dict[str, float]:
    return {"exact_match": exact_match(prediction, reference), "token_f1": token_f1(prediction, reference),
            "rouge_l": rouge_l(prediction, reference)}


def generation_metrics(predictions: Sequence[str], references: Sequence[str], n_boot: int = 1000,
                       seed: int = 0) -> dict[str, Any]:
    """Mean exact match, token F1 and ROUGE-L, with seeded bootstrap 95% intervals."""
    if len(predictions) != len(references):
        raise ValueError(f"{len(predictions)} predictions but {len(references)} references")
    if not references:
        raise ValueError("no records to score")
    per = [score_generation(p, r) for p, r in zip(predictions, references)]
    n = len(per)
    out: dict[str, Any] = {"n": n, "kind": "generation"}
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n, (n_boot, n)) if n_boot else None
    ci: dict[str, Any] = {}
    for key in GENERATION_SCORES:
        v = np.array([s[key] for s in per])
        out[key] = float(v.mean())
        if idx is not None:
            lo, hi = np.percentile(v[idx].mean(axis=1), [2.5, 97.5])
            ci[key] = [float(lo), float(hi)]
    out["empty_predictions"] = sum(1 for p in predictions if not p.strip())
    if idx is not None:
        out["ci95"] = {**ci, "n_boot": n_boot, "seed": seed, "method": "percentile bootstrap over records"}
    return out
