"""`evaluate` end to end on real data (Rotten Tomatoes, a real recipe split) with VADER as the model."""

from __future__ import annotations

import json
from collections import Counter

import orjson
import pytest
from sklearn.metrics import f1_score

from tests.evaluate.evalfixtures import VaderPredictor, make_eval
from tuneprep.evaluate.runner import EvalConfig, EvalError, LeakageError, evaluate


def _lines(path):
    return [orjson.loads(x) for x in path.read_bytes().splitlines() if x.strip()]


def test_eval_writes_metrics_predictions_review_and_report(vader_dir, prep_dir):
    d = vader_dir
    for name in ("metrics.json", "predictions.jsonl", "review.jsonl", "eval.json", "report.html"):
        assert (d / name).exists(), name
    metrics = json.loads((d / "metrics.json").read_text())
    preds = _lines(d / "predictions.jsonl")
    info = json.loads((d / "eval.json").read_text())
    assert metrics["n"] == len(preds) == 300 == info["n"]
    assert "stratified subsample of 300 of 1334" in info["sample"]
    # the subsample keeps the test split's class shares to within one record
    test = _lines(next((prep_dir / "test").glob("*.jsonl")))
    full = Counter(r["label"] for r in test)
    got = Counter(p["gold"] for p in preds)
    for lab, c in full.items():
        assert abs(got[lab] - 300 * c / len(test)) <= 1
    # metrics agree with sklearn on the written predictions
    gold = [p["gold"] for p in preds]
    pred = [p["prediction"] for p in preds]
    assert metrics["f1_macro"] == pytest.approx(f1_score(gold, pred, average="macro", zero_division=0), abs=1e-9)
    # per-label probabilities, argmax = prediction, confidence = its probability
    for p in preds:
        assert set(p["probs"]) == {"negative", "neutral", "positive"}
        assert p["prediction"] == max(p["probs"], key=p["probs"].get)
        assert p["confidence"] == pytest.approx(max(p["probs"].values()))
    assert info["peak_rss_mb"] > 0 and info["method"] == "loglik"
    # the test split is checked against the recipe's train and val splits
    assert info["leakage"]["n_train"] > 10_000 and info["leakage"]["overlap_count"] == 0
    # VADER on real RT reviews is better than chance but far from perfect
    assert 0.4 < metrics["accuracy"] < 0.8


def test_review_queue_is_the_errors_ranked_by_confidence(vader_dir, prep_dir):
    preds = _lines(vader_dir / "predictions.jsonl")
    review = _lines(vader_dir / "review.jsonl")
    wrong = {p["id"] for p in preds if p["gold"] != p["prediction"]}
    assert {r["id"] for r in review} == wrong
    confs = [r["meta"]["review"]["confidence"] for r in review]
    assert confs == sorted(confs, reverse=True)
    test = {r["id"]: r for r in _lines(next((prep_dir / "test").glob("*.jsonl")))}
    for r in review:
        rv = r["meta"]["review"]
        assert rv["gold"] == r["label"] != rv["predicted"] and rv["why"]
        # the original record comes back unchanged apart from meta.review (ready to relabel or drop)
        orig = test[r["id"]]
        assert {k: v for k, v in r.items() if k != "meta"} == {k: v for k, v in orig.items() if k != "meta"}
        assert r["meta"]["scores"] == orig["meta"]["scores"]
    info = json.loads((vader_dir / "eval.json").read_text())
    pairs = info["error_analysis"]["confusion_pairs"]
    assert sum(p["count"] for p in pairs) == len(wrong) and pairs[0]["count"] == max(p["count"] for p in pairs)


def test_generate_method_parses_answers_and_counts_unparseable(prep_dir, tmp_path):
    class Chatty(VaderPredictor):
        # every 7th answer is a sentence that names no label: it must count as wrong, not vanish
        seen = 0

        def generate(self, messages_list, max_new_tokens):
            out = super().generate(messages_list, max_new_tokens)
            first, self.seen = self.seen, self.seen + len(out)
            return [a if (first + i) % 7 else "I cannot tell." for i, a in enumerate(out)]

    d = make_eval(prep_dir, tmp_path / "gen", Chatty(1.0), "vader-generate", limit=70, method="generate")
    m = json.loads((d / "metrics.json").read_text())
    preds = _lines(d / "predictions.jsonl")
    assert m["n"] == 70 and m["unparseable"]["count"] == 10
    assert m["unparseable"]["values"] == {"<missing>": 10}
    unp = [p for p in preds if p.get("unparseable")]
    assert len(unp) == 10 and all(p["prediction"] is None and p["raw_output"] == "I cannot tell." for p in unp)
    assert m["accuracy"] == pytest.approx(sum(p["gold"] == p["prediction"] for p in preds) / 70)


def test_strict_refuses_leaked_test_records(prep_dir, tmp_path):
    train = _lines(next((prep_dir / "train").glob("*.jsonl")))
    test = _lines(next((prep_dir / "test").glob("*.jsonl")))[:40]
    leaked = [dict(train[i], id=f"leak-{i}") for i in (3, 50, 700)]
    (tmp_path / "test.jsonl").write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in test + leaked))
    pred = VaderPredictor()
    cfg = EvalConfig(model="vader", data=str(tmp_path / "test.jsonl"), out=str(tmp_path / "out"), strict=True,
                     train_data=[str(next((prep_dir / "train").glob("*.jsonl")))])
    with pytest.raises(LeakageError, match=r"3 test records overlap.*leak-3, leak-50, leak-700"):
        evaluate(cfg, predictor=pred, progress=False, log=lambda _m: None)
    assert pred.calls == 0 and not (tmp_path / "out" / "metrics.json").exists()
    # without --strict it evaluates, and says so in eval.json
    msgs = []
    res = evaluate(cfg.model_copy(update={"strict": False}), predictor=pred, progress=False, log=msgs.append)
    assert res.info["leakage"]["leaked_ids"] == ["leak-3", "leak-50", "leak-700"]
    assert any("LEAKAGE: 3 of 43" in m for m in msgs)


def test_gold_labels_outside_the_template_are_an_error(prep_dir, tmp_path):
    cfg = EvalConfig(model="vader", data=str(prep_dir), out=str(tmp_path / "o"), labels=["positive", "negative"],
                     limit=30, report=False)
    with pytest.raises(EvalError, match=r"gold labels \['neutral'\] are not in --labels"):
        evaluate(cfg, predictor=VaderPredictor(), progress=False, log=lambda _m: None)


def test_training_run_data_is_found_from_its_config(prep_dir, tmp_path):
    from tuneprep.models.registry import RUN_FORMAT
    from tuneprep.train.data import resolve_data

    # a training run's config.json as the trainer writes it: data fingerprints of the recipe's splits
    run = tmp_path / "run"
    run.mkdir()
    source = resolve_data(prep_dir)
    (run / "config.json").write_text(json.dumps({"format": RUN_FORMAT, "task": "classify", "data": source.fingerprint(),
                                                 "train": {"data": str(prep_dir), "out": str(run), "lr": 5e-4}}))
    (run / "train_log.jsonl").write_text('{"step": 1, "loss": 0.8}\n')  # run files are not training data
    val_file = source.val_files[0]
    pred = VaderPredictor()
    pred.run_dir = run
    cfg = EvalConfig(model=str(run), data=str(val_file), out=str(tmp_path / "out"), limit=50, report=False)
    res = evaluate(cfg, predictor=pred, progress=False, log=lambda _m: None)
    leak = res.info["leakage"]
    # evaluating on the run's own validation file: caught by fingerprint and by content
    assert leak["fingerprint_match"] == [str(val_file)]
    assert leak["overlap_count"] == leak["exact_count"] == 50
    assert str(source.train_files[0]) in leak["train_sources"]
    assert not any("train_log" in x for x in leak["train_sources"])


def test_subsamples_are_seeded_and_stratified(prep_dir):
    from tuneprep.evaluate.data import load_test_records, stratified_sample

    recs, _ = load_test_records(prep_dir)
    a = stratified_sample(recs, 100, seed=1)
    assert a == stratified_sample(recs, 100, seed=1) != stratified_sample(recs, 100, seed=2)
    assert len(set(a)) == 100 and a == sorted(a)
    # plain random sample (chat data): not just the first ids
    b = stratified_sample(recs, 100, seed=1, key=None)
    assert len(set(b)) == 100 and max(b) > 500
