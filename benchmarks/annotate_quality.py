"""Annotation quality on real data (Rotten Tomatoes, 3 classes), printed as a table and JSON.

* ``lexicon`` (VADER) vs ``knn`` (MiniLM, 100 random seed labels) vs ``ensemble`` (lexicon + knn,
  majority vote and Dawid–Skene) in macro-F1 on held-out records (never the seeds).
* ``annotate issues``: flip 10% of the labels of a real labeled set (seeded) and measure the
  precision/recall with which the flipped records are found.

Usage: ``python benchmarks/annotate_quality.py [--held-out 3000] [--issues-n 2000] [--seed 0]``.
Embeddings are cached (tuneprep cache), so a second run is fast.
"""

from __future__ import annotations

import argparse
import json
import random
import time

import orjson


def _load_rt():
    from tuneprep.datasets import rotten_tomatoes

    with open(rotten_tomatoes(), "rb") as fh:
        return [orjson.loads(line) for line in fh]


def _macro_f1(gold, pred, labels):
    from sklearn.metrics import accuracy_score, f1_score

    pred = [p if p is not None else "__none__" for p in pred]
    return {"macro_f1": float(f1_score(gold, pred, labels=labels, average="macro", zero_division=0)),
            "accuracy": float(accuracy_score(gold, pred)),
            "coverage": sum(p != "__none__" for p in pred) / len(pred)}


def quality(n_seeds: int, n_held_out: int, seed: int) -> dict:
    from tuneprep.annotate.core import AnnotateError  # noqa: F401 - fail fast if the package is broken
    from tuneprep.annotate.ensemble import EnsembleConfig, EnsembleLabeler
    from tuneprep.annotate.knn import KnnConfig, KnnLabeler
    from tuneprep.annotate.lexicon import LexiconLabeler
    from tuneprep.datasets import SENTIMENT_LABELS

    recs = _load_rt()
    rng = random.Random(seed)
    order = list(range(len(recs)))
    rng.shuffle(order)
    seeds = [recs[i] for i in order[:n_seeds]]
    held = [recs[i] for i in order[n_seeds:n_seeds + n_held_out]]
    gold = [r["label"] for r in held]
    unl = [{k: v for k, v in r.items() if k != "label"} for r in held]
    labels = SENTIMENT_LABELS
    out: dict = {"dataset": "rotten_tomatoes", "n_seeds": n_seeds, "n_held_out": len(held), "seed": seed}
    t = time.time()
    lex = LexiconLabeler(labels=labels)
    lex_votes = lex.label(unl)
    out["lexicon"] = _macro_f1(gold, [v.label for v in lex_votes], labels)
    out["lexicon"]["seconds"] = time.time() - t
    t = time.time()
    knn = KnnLabeler(KnnConfig(k=10), labels, seeds=seeds)
    knn_votes = knn.label(unl)
    out["knn"] = _macro_f1(gold, [v.label for v in knn_votes], labels)
    out["knn"]["seconds"] = time.time() - t

    class _Fixed:  # reuse the votes computed above instead of labeling twice
        def __init__(self, votes):
            self.votes = votes

        def setup(self):
            pass

        def label(self, records):
            return self.votes

    for combine in ("majority", "dawid-skene"):
        ens = EnsembleLabeler(EnsembleConfig(members=[{"method": "lexicon"}, {"method": "knn"}], combine=combine),
                              labels, members=[("lexicon", _Fixed(lex_votes)), ("knn", _Fixed(knn_votes))])
        votes = ens.label(unl)
        out[f"ensemble_{combine}"] = _macro_f1(gold, [v.label for v in votes], labels)
        if ens.last_fit:
            out[f"ensemble_{combine}"]["fit"] = ens.last_fit
    return out


def issues(n: int, seed: int, flip: float = 0.10) -> dict:
    from tuneprep.annotate.issues import find_issues

    recs = _load_rt()
    rng = random.Random(seed + 1)
    sample = rng.sample(recs, n)
    labels = sorted({r["label"] for r in sample})
    flipped = set(rng.sample(range(n), int(round(flip * n))))
    noisy = []
    for i, r in enumerate(sample):
        r = dict(r)
        if i in flipped:
            r["label"] = rng.choice([lab for lab in labels if lab != r["label"]])
        noisy.append(r)
    t = time.time()
    queue, summary = find_issues(noisy, folds=5, seed=seed)
    found = {noisy.index(q) if False else q["id"] for q in queue}
    flipped_ids = {sample[i]["id"] for i in flipped}
    tp = len(found & flipped_ids)
    return {"dataset": "rotten_tomatoes", "n": n, "flipped": len(flipped_ids), "flagged": len(found),
            "precision": tp / len(found) if found else None, "recall": tp / len(flipped_ids),
            "cv_accuracy_vs_noisy_labels": summary.get("cv_accuracy"), "seconds": time.time() - t}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=100)
    ap.add_argument("--held-out", type=int, default=3000)
    ap.add_argument("--issues-n", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--skip-issues", action="store_true")
    a = ap.parse_args()
    res = {"quality": quality(a.seeds, a.held_out, a.seed)}
    q = res["quality"]
    print(f"Rotten Tomatoes, {q['n_held_out']} held-out records, {q['n_seeds']} seed labels (seed {a.seed})")
    print(f"{'method':<24}{'macro-F1':>10}{'accuracy':>10}{'coverage':>10}")
    for m in ("lexicon", "knn", "ensemble_majority", "ensemble_dawid-skene"):
        print(f"{m:<24}{q[m]['macro_f1']:>10.3f}{q[m]['accuracy']:>10.3f}{q[m]['coverage']:>10.3f}")
    if not a.skip_issues:
        res["issues"] = issues(a.issues_n, a.seed)
        i = res["issues"]
        print(f"\nLabel issues: {i['n']} records, {i['flipped']} flipped; flagged {i['flagged']}: "
              f"precision {i['precision']:.3f}, recall {i['recall']:.3f}")
    print(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
