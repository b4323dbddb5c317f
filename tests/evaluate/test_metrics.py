"""Metrics equal scikit-learn's to 1e-9 on randomized cases; unparseable predictions count as wrong."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support
from sklearn.preprocessing import MultiLabelBinarizer

from tuneprep.evaluate.metrics import MetricsInputError, classification_metrics

TOL = 1e-9


def _close(a: float, b: float) -> bool:
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    return abs(a - b) <= TOL


def _check_against_sklearn(gold, pred, labels, zd):
    m = classification_metrics(gold, pred, labels=labels, zero_division=zd, n_boot=50)
    lab = m["confusion_matrix"]["labels"]
    assert _close(m["accuracy"], accuracy_score(gold, pred))
    for avg in ("macro", "micro", "weighted"):
        p, r, f, _ = precision_recall_fscore_support(gold, pred, labels=lab, average=avg, zero_division=zd)
        assert _close(m[f"precision_{avg}"], p), avg
        assert _close(m[f"recall_{avg}"], r), avg
        assert _close(m[f"f1_{avg}"], f), avg
    p, r, f, s = precision_recall_fscore_support(gold, pred, labels=lab, average=None, zero_division=zd)
    for j, name in enumerate(lab):
        pc = m["per_class"][name]
        assert _close(pc["precision"], p[j]) and _close(pc["recall"], r[j]) and _close(pc["f1"], f[j])
        assert pc["support"] == s[j]
    assert m["confusion_matrix"]["matrix"] == confusion_matrix(gold, pred, labels=lab).tolist()
    return m


@pytest.mark.parametrize("seed", range(30))
def test_single_label_random_cases_match_sklearn(seed):
    rng = np.random.default_rng(seed)
    k = int(rng.integers(2, 7))
    names = [f"class_{c}" for c in "abcdefg"[:k]] if seed % 2 else [str(i) for i in range(k)]
    n = int(rng.integers(5, 300))
    gold = list(rng.choice(names, n))
    # Skewed predictions, so some classes are never predicted (zero-division paths).
    pred = list(rng.choice(names, n, p=np.r_[0.7, np.full(k - 1, 0.3 / (k - 1))]))
    zd = [0.0, 1.0, np.nan][seed % 3]
    labels = None
    if seed % 5 == 0:
        labels = sorted(set(gold)) + ["never_seen"]  # a class with no support and no prediction
    _check_against_sklearn(gold, pred, labels, zd)


def test_binary_and_missing_classes():
    gold = ["pos", "pos", "neg", "neg", "neg"]
    pred = ["pos", "neg", "neg", "neg", "neg"]
    m = _check_against_sklearn(gold, pred, None, 0.0)
    assert m["n"] == 5 and "unparseable" not in m
    # A class that is only predicted, never gold, is not in the default label set: its
    # predictions are unparseable (wrong), exactly like sklearn with labels=<gold labels>.
    m = _check_against_sklearn(["a", "a", "b"], ["a", "c", "b"], None, 0.0)
    assert m["unparseable"]["count"] == 1 and m["unparseable"]["values"] == {"c": 1}
    assert m["confusion_matrix"]["unparseable"] == [1, 0]


def test_unparseable_predictions_count_as_wrong_never_dropped():
    gold = ["positive", "negative", "neutral", "positive"]
    pred = ["positive", None, "I think it is good", "positive"]
    m = classification_metrics(gold, pred, n_boot=20)
    assert m["n"] == 4 and m["accuracy"] == 0.5
    assert m["unparseable"]["count"] == 2
    assert m["per_class"]["negative"]["recall"] == 0.0
    assert m["recall_micro"] == m["accuracy"]


def test_integer_labels_are_strings():
    m = classification_metrics([0, 1, 1, 0], ["0", 1, 1.0, 1], n_boot=10)
    assert m["accuracy"] == 0.75 and set(m["per_class"]) == {"0", "1"}


def test_bootstrap_interval_is_seeded_and_brackets_the_point_estimate():
    rng = np.random.default_rng(3)
    gold = list(rng.choice(["a", "b", "c"], 200))
    pred = [g if rng.random() < 0.7 else "a" for g in gold]
    m1 = classification_metrics(gold, pred, seed=1)
    m2 = classification_metrics(gold, pred, seed=1)
    assert m1["ci95"] == m2["ci95"]
    lo, hi = m1["ci95"]["accuracy"]
    assert lo < m1["accuracy"] < hi and hi - lo < 0.2
    lo, hi = m1["ci95"]["f1_macro"]
    assert lo < m1["f1_macro"] < hi


@pytest.mark.parametrize("seed", range(15))
def test_multilabel_random_cases_match_sklearn(seed):
    rng = np.random.default_rng(100 + seed)
    names = ["sports", "politics", "tech", "health", "arts"][: int(rng.integers(2, 6))]
    n = int(rng.integers(5, 150))

    def draw(p):
        return [sorted({x for x in names if rng.random() < p}) for _ in range(n)]

    gold, pred = draw(0.4), draw(0.3)
    gold[0] = list(names)  # every label appears in gold
    zd = [0.0, 1.0][seed % 2]
    m = classification_metrics(gold, pred, zero_division=zd, n_boot=20)
    mlb = MultiLabelBinarizer(classes=m["confusion_matrix"]["labels"])
    Y, P = mlb.fit_transform(gold), mlb.transform(pred)
    assert m["multilabel"] is True
    assert _close(m["accuracy"], accuracy_score(Y, P))
    for avg in ("macro", "micro", "weighted", "samples"):
        p, r, f, _ = precision_recall_fscore_support(Y, P, average=avg, zero_division=zd)
        assert _close(m[f"precision_{avg}"], p), avg
        assert _close(m[f"recall_{avg}"], r), avg
        assert _close(m[f"f1_{avg}"], f), avg


def test_errors_name_the_problem():
    with pytest.raises(MetricsInputError, match="2 gold labels but 1"):
        classification_metrics(["a", "b"], ["a"])
    with pytest.raises(MetricsInputError, match="record 1: no gold label"):
        classification_metrics(["a", None], ["a", "a"])
    with pytest.raises(MetricsInputError, match=r"not in the given label set"):
        classification_metrics(["a", "z"], ["a", "a"], labels=["a", "b"])
