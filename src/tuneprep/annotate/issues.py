"""Label issues: out-of-sample probabilities by K-fold cross-validation, then cleanlab.

Each record is embedded (``minilm-l6`` by default); a logistic regression is trained on K-1
folds and predicts the held-out fold, so every record gets probabilities from a model that
never saw its label. cleanlab's ``find_label_issues`` flags the records whose given label is
unlikely under those probabilities; they are returned ranked (most suspicious first) as a
review queue: each record with ``meta.review = {given, suggested, score, rank, probs}``, where
``score`` is cleanlab's label-quality score of the given label (low = likely wrong).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np

from tuneprep.annotate.core import AnnotateError, has_label, texts_of
from tuneprep.annotate.embed import DEFAULT_ENCODER, encode


def cross_val_probs(x: np.ndarray, y: np.ndarray, n_classes: int, folds: int = 5, seed: int = 0,
                    c: float = 1.0) -> np.ndarray:
    """``[n, K]`` out-of-fold predicted probabilities of a logistic regression on ``x``."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold

    probs = np.zeros((len(y), n_classes))
    skf = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for train, test in skf.split(x, y):
        clf = LogisticRegression(C=c, max_iter=2000)
        clf.fit(x[train], y[train])
        p = clf.predict_proba(x[test])
        probs[np.ix_(test, clf.classes_)] = p  # a class absent from a training fold keeps 0
    return probs


def knn_cross_val_probs(x: np.ndarray, y: np.ndarray, n_classes: int, folds: int = 5, seed: int = 0,
                        k: int = 10) -> np.ndarray:
    """``[n, K]`` out-of-fold class probabilities from the k nearest neighbours (cosine, unit vectors).

    Votes are weighted by similarity and by 1 / (class frequency in the training folds), as
    ``annotate knn`` does, so that a rare class is not outvoted by count alone.
    """
    from sklearn.model_selection import StratifiedKFold

    probs = np.zeros((len(y), n_classes))
    skf = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for train, test in skf.split(x, y):
        freq = np.bincount(y[train], minlength=n_classes).astype(float)
        kk = min(k, len(train))
        for lo in range(0, len(test), 1024):  # bounded memory: 1,024 rows of similarities at a time
            rows = test[lo:lo + 1024]
            sims = x[rows] @ x[train].T
            nn = np.argpartition(-sims, kk - 1, axis=1)[:, :kk]
            w = np.maximum(np.take_along_axis(sims, nn, axis=1), 0.0) + 1e-6
            lab = y[train][nn]
            w = w / np.maximum(freq[lab], 1.0)
            p = np.zeros((len(rows), n_classes))
            np.add.at(p, (np.repeat(np.arange(len(rows)), kk), lab.ravel()), w.ravel())
            probs[rows] = p / p.sum(axis=1, keepdims=True)
    return probs


def confident_learning(x: np.ndarray, y: np.ndarray, n_classes: int, folds: int = 5, seed: int = 0,
                       filter_by: str = "prune_by_noise_rate",
                       classifier: str = "logreg") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """cleanlab on out-of-fold probabilities: ``(probs [n, K], flagged indices ranked, label quality [n])``.

    ``classifier``: ``logreg`` (a logistic regression per fold) or ``knn`` (the embedding kNN).
    """
    from cleanlab.filter import find_label_issues
    from cleanlab.rank import get_label_quality_scores

    oof = knn_cross_val_probs if classifier == "knn" else cross_val_probs
    probs = oof(x, y, n_classes, folds, seed)
    ranked = find_label_issues(labels=y, pred_probs=probs, filter_by=filter_by,
                               return_indices_ranked_by="self_confidence")
    quality = get_label_quality_scores(y, probs, method="self_confidence")
    return probs, np.asarray(ranked, dtype=np.int64), quality


def find_issues(
    records: list[dict[str, Any]],
    model: str = DEFAULT_ENCODER,
    folds: int = 5,
    seed: int = 0,
    filter_by: str = "prune_by_noise_rate",
    embeddings: np.ndarray | None = None,
    classifier: str = "logreg",
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The review queue (flagged records, ranked) and a summary dict.

    Records without a single string label are not judged (counted in the summary). Raises
    AnnotateError when a class has fewer records than ``folds``.
    """
    if folds < 2:
        raise AnnotateError("--folds must be at least 2")
    judged = [i for i, r in enumerate(records) if has_label(r) and isinstance(r["label"], str)]
    skipped = len(records) - len(judged)
    if not judged:
        raise AnnotateError("no labeled records to check")
    labels_sorted = sorted({records[i]["label"] for i in judged})
    counts = Counter(records[i]["label"] for i in judged)
    small = {lab: n for lab, n in counts.items() if n < folds}
    if small:
        raise AnnotateError(f"labels with fewer records than --folds {folds}: {small}; lower --folds or add data")
    if len(labels_sorted) < 2:
        raise AnnotateError(f"only one label ({labels_sorted[0]!r}) present: nothing to compare")
    idx = {lab: i for i, lab in enumerate(labels_sorted)}
    sub = [records[i] for i in judged]
    y = np.array([idx[r["label"]] for r in sub])
    x = embeddings[judged] if embeddings is not None else encode(texts_of(sub), model)
    probs, ranked, quality = confident_learning(x, y, len(labels_sorted), folds, seed, filter_by, classifier)
    queue = []
    for rank, j in enumerate(ranked, 1):
        rec = dict(sub[j])
        meta = dict(rec.get("meta") or {})
        meta["review"] = {
            "reason": "label_issue",
            "given": rec["label"],
            "suggested": labels_sorted[int(probs[j].argmax())],
            "score": round(float(quality[j]), 6),
            "rank": rank,
            "probs": {lab: round(float(probs[j, k]), 6) for k, lab in enumerate(labels_sorted)},
        }
        rec["meta"] = meta
        queue.append(rec)
    summary = {
        "n_records": len(records), "n_judged": len(judged), "n_unlabeled_skipped": skipped,
        "n_issues": len(queue), "folds": folds, "model": model, "labels": dict(counts),
        "cv_accuracy": float((probs.argmax(1) == y).mean()), "filter_by": filter_by, "classifier": classifier,
    }
    return queue, summary
