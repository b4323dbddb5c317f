"""Issue 10 items 10–11: baselines beside every metric; one predictions schema across commands.

Real predictions: VADER as the eval predictor on the Rotten Tomatoes test split (the shared
``vader_dir`` fixture), and real `annotate label` output on RT records.
"""

from __future__ import annotations

import json

import numpy as np
import orjson
import pytest
from sklearn.metrics import accuracy_score, f1_score

from tests.conftest import run_cli
from tuneprep.evaluate.metrics import classification_metrics


def read_jsonl(path):
    return [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]


def test_baselines_in_metrics_json_cli_and_report(vader_dir):
    preds = read_jsonl(vader_dir / "predictions.jsonl")
    gold = [p["gold"] for p in preds]
    labels = sorted(set(gold))
    metrics = json.loads((vader_dir / "metrics.json").read_text())
    base = metrics["baselines"]
    # majority: exactly sklearn on a constant prediction of the most frequent gold label
    top = max(labels, key=gold.count)
    assert base["majority"]["label"] == top
    assert base["majority"]["accuracy"] == pytest.approx(accuracy_score(gold, [top] * len(gold)))
    assert base["majority"]["f1_macro"] == pytest.approx(
        f1_score(gold, [top] * len(gold), labels=labels, average="macro", zero_division=0))
    # uniform random: the closed form agrees with the mean over 400 simulated guessers
    rng = np.random.default_rng(0)
    sims = [rng.choice(labels, len(gold)) for _ in range(400)]
    assert base["uniform"]["accuracy"] == pytest.approx(1 / len(labels))
    assert base["uniform"]["f1_macro"] == pytest.approx(
        np.mean([f1_score(gold, s, labels=labels, average="macro") for s in sims]), abs=0.01)
    # `tuneprep metrics` reads eval's predictions with its defaults (the gold field is `gold`)
    proc = run_cli("metrics", str(vader_dir / "predictions.jsonl"))
    assert proc.returncode == 0, proc.stderr
    assert f"baselines: majority class ({top}) accuracy {base['majority']['accuracy']:.4f}" in proc.stdout
    proc = run_cli("metrics", str(vader_dir / "predictions.jsonl"), "--json")
    again = json.loads(proc.stdout)
    assert again["accuracy"] == pytest.approx(metrics["accuracy"]) and again["baselines"] == base
    html = (vader_dir / "report.html").read_text() if (vader_dir / "report.html").exists() else None
    if html is None:
        from tuneprep.report import build_report

        build_report(vader_dir / "report.html", eval_dirs=[vader_dir])
        html = (vader_dir / "report.html").read_text()
    assert "Baselines" in html and f"majority class ({top})" in html


def test_a_majority_only_model_equals_its_baseline():
    gold = ["a"] * 70 + ["b"] * 20 + ["c"] * 10
    m = classification_metrics(gold, ["a"] * 100, n_boot=10)
    assert m["accuracy"] == m["baselines"]["majority"]["accuracy"] == 0.7
    assert m["f1_macro"] == pytest.approx(m["baselines"]["majority"]["f1_macro"])


def test_annotate_agreement_reads_annotate_label_output(rt_path, tmp_path):
    recs = read_jsonl(rt_path)[:300]
    data = tmp_path / "data.jsonl"
    data.write_bytes(b"".join(orjson.dumps({"id": r["id"], "text": r["text"]}) + b"\n" for r in recs))
    cfg = tmp_path / "ens.yaml"
    cfg.write_text("ensemble:\n  members:\n    - {method: lexicon, name: vader_005}\n"
                   "    - {method: lexicon, name: vader_03, params: {positive_threshold: 0.3, negative_threshold: -0.3}}\n")
    out = tmp_path / "labeled.jsonl"
    proc = run_cli("annotate", "label", "--data", str(data), "--method", "ensemble", "--config", str(cfg),
                   "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    proc = run_cli("annotate", "agreement", str(out), "--json")
    assert proc.returncode == 0, proc.stderr
    res = json.loads(proc.stdout)
    labeled = read_jsonl(out)
    votes = [r["meta"]["annotation"]["votes"] for r in labeled]
    both = [(v["vader_005"], v["vader_03"]) for v in votes if v["vader_005"] and v["vader_03"]]
    agree = sum(a == b for a, b in both) / len(both)
    assert res["percent_agreement"] == pytest.approx(agree)
