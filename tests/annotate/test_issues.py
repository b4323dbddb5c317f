"""Label issues on a real labeled set with 10% of the labels flipped at random (seeded)."""

from __future__ import annotations

import random

import pytest

from tuneprep.annotate.core import AnnotateError
from tuneprep.annotate.issues import find_issues


def test_finds_flipped_labels(rt_split):
    seeds, held = rt_split
    sample = seeds + held  # 400 real RT records
    rng = random.Random(7)
    flipped = set(rng.sample(range(len(sample)), len(sample) // 10))
    labels = sorted({r["label"] for r in sample})
    noisy = []
    for i, r in enumerate(sample):
        r = dict(r)
        if i in flipped:
            r["label"] = rng.choice([lab for lab in labels if lab != r["label"]])
        noisy.append(r)
    queue, summary = find_issues(noisy, folds=5, seed=0)
    flipped_ids = {sample[i]["id"] for i in flipped}
    found = [q["id"] for q in queue]
    tp = len(set(found) & flipped_ids)
    precision, recall = tp / len(found), tp / len(flipped_ids)
    # chance precision is 0.10; the queue is far better than chance and finds a good share
    assert precision > 0.3 and recall > 0.3, (precision, recall)
    scores = [q["meta"]["review"]["score"] for q in queue]
    assert scores == sorted(scores)  # ranked, most suspicious first
    ranks = [q["meta"]["review"]["rank"] for q in queue]
    assert ranks == list(range(1, len(queue) + 1))
    for q in queue:
        rev = q["meta"]["review"]
        assert rev["given"] == q["label"] and rev["suggested"] in labels and rev["suggested"] != rev["given"]
    assert summary["n_judged"] == 400 and summary["n_issues"] == len(queue)


def test_too_few_per_class_is_a_clear_error(rt_records):
    recs = [r for r in rt_records[:200] if r["label"] != "neutral"][:30]
    recs.append({**next(r for r in rt_records if r["label"] == "neutral"), "label": "neutral"})
    with pytest.raises(AnnotateError, match="fewer records than --folds 5: {'neutral': 1}"):
        find_issues(recs, folds=5)
