"""`tuneprep metrics` on a predictions file written by another tool (VADER labels on real RT snippets)."""

from __future__ import annotations

import json

import orjson
import pytest
from sklearn.metrics import f1_score, precision_recall_fscore_support

from tests.evaluate.evalfixtures import run_cli


@pytest.fixture(scope="module")
def vader_file(rt_path, tmp_path_factory):
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    sia = SentimentIntensityAnalyzer()
    rows = []
    for i, line in enumerate(rt_path.read_bytes().splitlines()[::34][:400]):  # spread: all three labels
        r = orjson.loads(line)
        c = sia.polarity_scores(r["text"])["compound"]
        pred = "positive" if c >= 0.05 else "negative" if c <= -0.05 else "neutral"
        # an external tool's quirks: its own field names; a few outputs that are not labels
        if i % 9 == 4:
            pred = "mixed"
        rows.append({"uid": r["id"], "gold": {"sentiment": r["label"]}, "vader": pred})
    path = tmp_path_factory.mktemp("metrics") / "vader_preds.jsonl"
    path.write_bytes(b"".join(orjson.dumps(x) + b"\n" for x in rows))
    return path, rows


def test_metrics_json_equals_sklearn(vader_file):
    path, rows = vader_file
    r = run_cli("metrics", str(path), "--label-field", "gold.sentiment", "--pred-field", "vader", "--json")
    assert r.returncode == 0, r.stderr
    m = json.loads(r.stdout)
    expected_keys = {"n", "accuracy", "precision_macro", "recall_macro", "f1_macro", "precision_micro", "recall_micro",
                     "f1_micro", "precision_weighted", "recall_weighted", "f1_weighted", "per_class",
                     "confusion_matrix", "ci95", "unparseable", "baselines"}
    assert set(m) == expected_keys
    gold = [x["gold"]["sentiment"] for x in rows]
    pred = [x["vader"] for x in rows]
    labels = sorted(set(gold))
    assert m["n"] == 400 and m["unparseable"]["count"] == sum(p == "mixed" for p in pred) > 0
    assert m["unparseable"]["values"] == {"mixed": m["unparseable"]["count"]}
    for avg in ("macro", "micro", "weighted"):
        p, rr, f, _ = precision_recall_fscore_support(gold, pred, labels=labels, average=avg, zero_division=0)
        assert abs(m[f"f1_{avg}"] - f) <= 1e-9 and abs(m[f"precision_{avg}"] - p) <= 1e-9
    assert m["confusion_matrix"]["labels"] == labels
    assert sum(map(sum, m["confusion_matrix"]["matrix"])) + m["unparseable"]["count"] == 400
    lo, hi = m["ci95"]["f1_macro"]
    assert lo <= f1_score(gold, pred, labels=labels, average="macro", zero_division=0) <= hi


def test_metrics_table_and_errors(vader_file, tmp_path):
    path, _ = vader_file
    r = run_cli("metrics", str(path), "--label-field", "gold.sentiment", "--pred-field", "vader")
    assert r.returncode == 0 and "macro" in r.stdout and "unparseable predictions" in r.stdout
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"label": "a", "prediction": "a"}\n{"prediction": "b"}\n')
    r = run_cli("metrics", str(bad))
    assert r.returncode == 2 and f"{bad}:2: missing gold label field 'label'" in r.stderr
