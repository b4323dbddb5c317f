"""The annotate verbs end to end (in-process CLI) and the annotate.* recipe steps."""

from __future__ import annotations

import json

import orjson
import pytest
from typer.testing import CliRunner

from tuneprep.annotate import vader_data
from tuneprep.cli import app
from tuneprep.io.writers import write_records

runner = CliRunner()


def _read(path):
    return [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]


def test_label_report_export_import(vader_dir, tmp_path):
    recs = vader_data.gold_records("tweets", root=vader_dir)[:120]
    data = tmp_path / "tweets.jsonl"
    write_records(data, [{k: v for k, v in r.items() if k != "label"} if i >= 20 else r for i, r in enumerate(recs)])
    gold = tmp_path / "gold.jsonl"
    write_records(gold, [{"id": r["id"], "label": r["label"]} for r in recs])
    out = tmp_path / "labeled.jsonl"
    rep = tmp_path / "report.json"
    res = runner.invoke(app, ["annotate", "label", "--data", str(data), "--labels", "positive,negative,neutral",
                              "--method", "lexicon", "--out", str(out), "--report", str(rep), "--gold", str(gold)])
    assert res.exit_code == 0, res.output
    labeled = _read(out)
    assert len(labeled) == 120
    assert [r["label"] for r in labeled[:20]] == [r["label"] for r in recs[:20]]  # gold kept
    assert all(r["meta"]["annotation"]["status"] == "labeled" for r in labeled[20:])
    report = json.loads(rep.read_text())
    final = report["voters"][-1]
    assert final["voter"] == "lexicon (final)" and final["n_gold"] == 120 and final["macro_f1"] > 0.5

    res = runner.invoke(app, ["annotate", "report", "--data", str(out), "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["n_gold"] == 20  # the kept labels

    ls = tmp_path / "tasks.json"
    res = runner.invoke(app, ["annotate", "export", "--data", str(out), "--to", "label-studio", "--out", str(ls),
                              "--labels", "positive,negative,neutral"])
    assert res.exit_code == 0, res.output
    back = tmp_path / "back.jsonl"
    judg = tmp_path / "judgements.jsonl"
    res = runner.invoke(app, ["annotate", "import", str(ls), "--from", "label-studio", "--out", str(back),
                              "--judgements", str(judg)])
    assert res.exit_code == 0, res.output
    assert [r.get("label") for r in _read(back)[:20]] == [r["label"] for r in recs[:20]]
    assert len(_read(judg)) == 20


def test_agreement_cli_json_and_consensus(vader_dir, tmp_path):
    rows = vader_data.judgements("nytEditorialSnippets", scale="raw", limit=100, root=vader_dir)
    f = tmp_path / "judgements.jsonl"
    write_records(f, rows)
    cons = tmp_path / "consensus.jsonl"
    res = runner.invoke(app, ["annotate", "agreement", str(f), "--level", "interval", "--json", "--consensus", str(cons)])
    assert res.exit_code == 0, res.output
    rep = json.loads(res.stdout)
    for key in ("n_items", "n_annotators", "percent_agreement", "cohen_kappa", "fleiss_kappa", "krippendorff_alpha"):
        assert key in rep
    for key in ("percent_agreement", "cohen_kappa", "fleiss_kappa", "krippendorff_alpha"):
        assert isinstance(rep[key], float) and -1 <= rep[key] <= 1
    assert rep["n_items"] == 100 and rep["n_annotators"] == 20 and len(rep["pairs"]) == 190
    c = _read(cons)
    assert len(c) == 100 and "mean" in c[0]["meta"]["consensus"]
    res = runner.invoke(app, ["annotate", "agreement", str(f)])
    assert res.exit_code == 0 and "Krippendorff" in res.stdout


def test_issues_cli(rt_split, tmp_path):
    seeds, held = rt_split
    data = tmp_path / "rt.jsonl"
    write_records(data, seeds + held)
    out = tmp_path / "queue.jsonl"
    res = runner.invoke(app, ["annotate", "issues", "--data", str(data), "--folds", "3", "--out", str(out)])
    assert res.exit_code == 0, res.output
    q = _read(out)
    assert q and all({"given", "suggested", "score"} <= set(r["meta"]["review"]) for r in q)


def test_errors_name_file_and_line(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "fine"}\n{"text": broken\n')
    res = runner.invoke(app, ["annotate", "label", "--data", str(bad), "--method", "lexicon", "--out",
                              str(tmp_path / "o.jsonl")])
    assert res.exit_code == 2
    assert "bad.jsonl:2" in res.output
    res = runner.invoke(app, ["annotate", "label", "--data", str(bad), "--method", "knn", "--out",
                              str(tmp_path / "o.jsonl")])
    assert res.exit_code != 0 and "--seed-labels" in res.output


def test_recipe_steps(vader_dir, tmp_path):
    from tuneprep.datasets import SENTIMENT_LABELS
    from tuneprep.engine.local import run_recipe
    from tuneprep.recipe import load_recipe

    recs = vader_data.gold_records("amazonReviewSnippets", root=vader_dir)[:200]
    data = tmp_path / "amazon.jsonl"
    write_records(data, [{k: v for k, v in r.items() if k != "label"} if i % 2 else r for i, r in enumerate(recs)])
    rules = tmp_path / "rules.yaml"
    rules.write_text("rules:\n  - name: bad\n    label: negative\n    keywords: [problem, broken, return]\n"
                     "  - name: good\n    label: positive\n    keywords: [great, excellent, love]\n")
    recipe = tmp_path / "r.yaml"
    recipe.write_text(
        f"input:\n  path: {data}\n  label_field: label\nsteps:\n"
        f"  - op: annotate.lexicon\n    positive_threshold: 0.3\n"
        f"  - op: annotate.ensemble\n    overwrite: false\n    combine: majority\n    members:\n"
        f"      - method: lexicon\n      - method: rules\n        params: {{rules_file: {rules}}}\n"
        f"output:\n  path: {tmp_path / 'run'}\n")
    run_recipe(load_recipe(recipe), workers=1)
    out = [r for p in sorted((tmp_path / "run" / "data").glob("*.jsonl")) for r in _read(p)]
    assert len(out) == 200  # annotation never drops a record
    by_id = {r["id"]: r for r in out}
    for i, r in enumerate(recs):
        o = by_id[r["id"]]
        assert o["meta"]["annotation"]["method"] == "ensemble"
        if i % 2 == 0:
            assert o["label"] == r["label"]  # gold kept
    labeled_later = [by_id[r["id"]] for i, r in enumerate(recs) if i % 2]
    assert all(o.get("label") in SENTIMENT_LABELS for o in labeled_later)  # set by annotate.lexicon, kept


@pytest.mark.parametrize("name", ["annotate.lexicon", "annotate.rules", "annotate.knn", "annotate.llm",
                                  "annotate.ensemble"])
def test_ops_are_registered_with_params(name):
    from tuneprep.ops.base import get_op

    cls = get_op(name)
    assert cls.description and "labels" in cls.Params.model_fields


def test_ensemble_cli_with_seeds(rt_split, tmp_path):
    seeds, held = rt_split
    seed_file = tmp_path / "seeds.jsonl"
    write_records(seed_file, seeds)
    data = tmp_path / "held.jsonl"
    write_records(data, [{k: v for k, v in r.items() if k != "label"} for r in held[:120]])
    gold = tmp_path / "gold.jsonl"
    write_records(gold, held[:120])
    out = tmp_path / "ens.jsonl"
    rep = tmp_path / "rep.json"
    res = runner.invoke(app, ["annotate", "label", "--data", str(data), "--method", "ensemble", "--members",
                              "lexicon,knn", "--seed-labels", str(seed_file), "--out", str(out), "--report", str(rep),
                              "--gold", str(gold)])
    assert res.exit_code == 0, res.output
    recs = _read(out)
    assert all(set(r["meta"]["annotation"]["votes"]) == {"lexicon", "knn"} for r in recs)
    voters = {v["voter"]: v for v in json.loads(rep.read_text())["voters"]}
    assert set(voters) == {"lexicon", "knn", "ensemble (final)"}
    assert all(v["n_gold"] == 120 for v in voters.values())
