"""compare_runs on two real eval dirs (VADER with two neutral bands on the same RT test ids)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import orjson
import pytest
from statsmodels.stats.contingency_tables import mcnemar

from tests.evaluate.evalfixtures import VaderPredictor, make_eval, run_cli
from tuneprep.evaluate.compare import CompareError, compare_runs, mcnemar_test, write_compare


def _preds(d):
    return {p["id"]: p for p in (orjson.loads(x) for x in (d / "predictions.jsonl").read_bytes().splitlines())}


def test_compare_two_real_runs(vader_dir, vader_wide_dir, tmp_path):
    res = write_compare([vader_dir, vader_wide_dir], tmp_path / "compare.json")
    assert json.loads((tmp_path / "compare.json").read_text()) == json.loads(json.dumps(res))
    assert res["n"] == 300 and res["baseline"] == "vader" and res["kind"] == "classification"
    a, b = _preds(vader_dir), _preds(vader_wide_dir)
    ca = np.array([a[i]["gold"] == a[i]["prediction"] for i in sorted(a)])
    cb = np.array([b[i]["gold"] == b[i]["prediction"] for i in sorted(a)])
    d = res["differences"][0]
    assert d["accuracy"]["diff"] == pytest.approx(cb.mean() - ca.mean(), abs=1e-12)
    lo, hi = d["accuracy"]["ci95"]
    assert lo <= d["accuracy"]["diff"] <= hi
    assert d["f1_macro"]["ci95"][0] <= d["f1_macro"]["diff"] <= d["f1_macro"]["ci95"][1]
    only_a, only_b = int((ca & ~cb).sum()), int((~ca & cb).sum())
    assert (d["mcnemar"]["only_baseline_correct"], d["mcnemar"]["only_other_correct"]) == (only_a, only_b)
    assert only_a + only_b > 0  # the two runs really differ on some records
    ref = mcnemar([[0, only_a], [only_b, 0]], exact=only_a + only_b < 25, correction=True)
    assert d["mcnemar"]["pvalue"] == pytest.approx(ref.pvalue, rel=1e-9)
    # side-by-side metrics are the ones each eval wrote
    for name, path in (("vader", vader_dir), ("vader-wide-neutral", vader_wide_dir)):
        m = json.loads((path / "metrics.json").read_text())
        assert res["metrics"][name]["f1_macro"] == pytest.approx(m["f1_macro"], abs=1e-12)
        assert res["per_class"]["neutral"][name] == pytest.approx(m["per_class"]["neutral"]["f1"], abs=1e-12)


@pytest.mark.parametrize("b,c", [(0, 0), (3, 9), (12, 12), (40, 18), (1, 30)])
def test_mcnemar_matches_statsmodels(b, c):
    got = mcnemar_test(b, c)
    ref = mcnemar([[5, b], [c, 7]], exact=b + c < 25, correction=True)
    assert got["pvalue"] == pytest.approx(ref.pvalue, rel=1e-9, abs=1e-12)
    assert got["exact"] == (b + c < 25)


def test_refuses_different_test_sets(vader_dir, prep_dir, tmp_path):
    other = make_eval(prep_dir, tmp_path / "other", VaderPredictor(), "vader-250", limit=250, report=False)
    with pytest.raises(CompareError, match=r"different test sets: \d+ ids only in eval_vader, \d+ ids only in other"):
        compare_runs([vader_dir, other])


def test_refuses_runs_whose_gold_labels_differ(vader_dir, tmp_path):
    copy = tmp_path / "relabelled"
    shutil.copytree(vader_dir, copy)
    rows = [orjson.loads(x) for x in (copy / "predictions.jsonl").read_bytes().splitlines()]
    rows[5]["gold"] = "neutral" if rows[5]["gold"] != "neutral" else "positive"
    (copy / "predictions.jsonl").write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    with pytest.raises(CompareError, match=f"id '{rows[5]['id']}': gold label differs"):
        compare_runs([vader_dir, copy])


def test_compare_cli(vader_dir, vader_wide_dir, tmp_path):
    out = tmp_path / "cmp.json"
    r = run_cli("compare", str(vader_dir), str(vader_wide_dir), "--out", str(out), "--report", str(tmp_path / "r.html"))
    assert r.returncode == 0, r.stderr
    assert "McNemar" in r.stdout and json.loads(out.read_text())["n"] == 300
    assert (tmp_path / "r.html").stat().st_size > 10_000
    r = run_cli("compare", str(vader_dir), str(tmp_path))
    assert r.returncode == 2 and "predictions.jsonl: missing" in r.stderr
