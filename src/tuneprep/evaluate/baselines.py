"""Baselines beside every classification metric: majority class and uniform random.

A model that only ever predicts the biggest class scores that class's share in accuracy; one
that guesses scores about 1/k. Both are computed on the very gold labels being scored, so the
figures sit beside the model's and a model no better than a baseline is seen at a glance.

- ``majority``: always predict the most frequent gold label (ties: the first in label order).
  Its accuracy and macro-F1 are exact (computed with the same counts as the model's metrics).
- ``uniform``: predict each of the k labels with probability 1/k, independently. Its figures
  are expectations in closed form: accuracy = 1/k; per class c with gold share p_c,
  precision → p_c, recall = 1/k, F1 → 2·p_c/k / (p_c + 1/k) (the large-n limit, where the
  expectation of the ratio equals the ratio of expectations); macro-F1 is their mean.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


def classification_baselines(gold_idx: np.ndarray, labels: Sequence[str]) -> dict[str, Any]:
    """Majority-class and uniform-random baselines for single-label gold label indices."""
    # Closed forms (no import of metrics.py, which calls this): predicting the majority class for
    # all n records gives that class F1 = 2c / (n + c) and every other class F1 = 0.
    k = len(labels)
    n = len(gold_idx)
    counts = np.bincount(gold_idx, minlength=k)
    top = int(np.argmax(counts))
    c = float(counts[top])
    majority_f1 = (2 * c / (n + c) if n else 0.0) / k if k else float("nan")
    share = counts / max(n, 1)
    den = share + 1 / k
    uniform_f1 = np.divide(2 * share / k, den, out=np.zeros(k), where=den != 0)
    return {
        "majority": {"label": labels[top], "accuracy": float(counts[top] / max(n, 1)),
                     "f1_macro": float(majority_f1)},
        "uniform": {"accuracy": 1 / k if k else float("nan"), "f1_macro": float(np.mean(uniform_f1)) if k else float("nan"),
                    "note": "expected value over uniform random guesses (closed form)"},
    }


def baseline_line(m: dict[str, Any]) -> str | None:
    """One line for summaries: the model's figures against both baselines."""
    b = m.get("baselines")
    if not b:
        return None
    maj, uni = b["majority"], b["uniform"]
    return (f"baselines: majority class ({maj['label']}) accuracy {maj['accuracy']:.4f}, macro-F1 "
            f"{maj['f1_macro']:.4f}; uniform random accuracy {uni['accuracy']:.4f}, macro-F1 {uni['f1_macro']:.4f}")
