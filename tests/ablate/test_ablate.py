"""``tuneprep ablate`` end to end on a small real experiment (Rotten Tomatoes, encoder, 2 variants, 2 seeds)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.conftest import run_cli
from tuneprep.ablate.config import AblateError, load_experiment

RECIPE = {
    "input": {"path": "dataset:rotten_tomatoes", "text_field": "text", "label_field": "label"},
    "steps": [{"op": "clean.whitespace"}, {"op": "filter.length", "min_words": 3}, {"op": "dedup.exact"},
              {"op": "select.sample", "n": 1000, "seed": 0}],
    "split": {"train": 0.8, "val": 0.1, "test": 0.1, "stratify_by": "label", "seed": 0},
    "output": {"path": "unused"},
}


def write_experiment(d: Path, **over) -> Path:
    (d / "recipe.yaml").write_text(yaml.safe_dump(RECIPE))
    exp = {"name": "small", "recipe": "recipe.yaml", "model": "minilm-l6", "method": "encoder",
           "train": {"epochs": 1, "batch_size": 16, "max_length": 64}, "seeds": [0, 1], "budgets": [120],
           "variants": {"random": {}, "balance": {"add": [{"op": "select.balance", "n": "budget"}]}}}
    exp.update(over)
    path = d / "experiment.yaml"
    path.write_text(yaml.safe_dump(exp, sort_keys=False))
    return path


def test_experiment_errors_name_the_problem(tmp_path, rt_path):
    with pytest.raises(AblateError, match="variants.bad.*not a step of the base recipe"):
        load_experiment(write_experiment(tmp_path, variants={"random": {}, "bad": {"remove": ["dedup.minhash"]}}))
    with pytest.raises(AblateError, match="variants.split.*split"):  # a variant cannot touch the split
        load_experiment(write_experiment(tmp_path, variants={"random": {}, "split": {"split": {"train": 1.0}}}))
    with pytest.raises(AblateError, match="set by ablate per cell"):
        load_experiment(write_experiment(tmp_path, train={"seed": 3}))
    (tmp_path / "nosplit.yaml").write_text(yaml.safe_dump({**RECIPE, "split": None}))
    with pytest.raises(AblateError, match="no test split"):
        load_experiment(write_experiment(tmp_path, recipe="nosplit.yaml"))


@pytest.mark.slow
def test_ablate_end_to_end_resumes_and_refuses_a_changed_test_set(tmp_path, rt_path):
    exp = write_experiment(tmp_path)
    out = tmp_path / "out"
    r = run_cli("ablate", str(exp), "--out", str(out))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "[4/4]" in r.stdout and "remaining 0" in r.stdout and "ETA" in r.stdout
    res = json.loads((out / "results.json").read_text())
    assert res["cells"] == 4 and res["cells_cached"] == 0
    test_ids = {json.loads(line)["id"] for line in open(out / "test.jsonl")}
    assert len(test_ids) == res["test_set"]["n"] == 100
    for c in res["cell_results"]:  # every cell scored on exactly the same test ids
        preds = [json.loads(line) for line in open(out / c["dir"] / "eval" / "predictions.jsonl")]
        assert {p["id"] for p in preds} == test_ids
        assert c["trained_on"] == 120
    # The balance variant really changed the training data: equal classes, unlike the random one.
    rows = {r["variant"]: r for r in res["table"]}
    assert sorted(rows["balance"]["label_counts"].values()) == [40, 40, 40]
    assert min(rows["random"]["label_counts"].values()) < 25
    assert rows["random"]["f1_macro"]["ci95"] is not None and len(rows["random"]["seeds"]) == 2
    (d,) = res["differences"]
    assert d["variant"] == "balance" and d["paired_units"] == 200
    assert [x["seed"] for x in d["per_seed"]] == [0, 1]
    lo, hi = d["f1_macro"]["ci95"]
    assert lo <= d["f1_macro"]["diff"] <= hi
    assert 0 <= d["mcnemar"]["pvalue"] <= 1 and len(d["f1_macro"]["ci95"]) == 2
    html = (out / "report.html").read_text()
    assert "Which data decision helped" in html and "<svg" in html and "forest" in html
    # Resume: nothing is retrained.
    r = run_cli("ablate", str(exp), "--out", str(out))
    assert r.returncode == 0 and "(cached)" in r.stdout
    assert json.loads((out / "results.json").read_text())["cells_cached"] == 4
    # A test set changed behind the experiment's back is refused.
    with open(out / "test.jsonl", "a") as fh:
        fh.write(json.dumps({"id": "x", "text": "extra", "label": "positive"}) + "\n")
    r = run_cli("ablate", str(exp), "--out", str(out))
    assert r.returncode == 2 and "same test set" in r.stdout


@pytest.mark.slow
def test_ablate_probe_method_scores_variants_on_the_same_test_ids(tmp_path, rt_path):
    """The cheap learner (logistic regression on cached MiniLM embeddings) through the same cells."""
    from tuneprep.ablate.runner import run_experiment

    exp = write_experiment(tmp_path, method="probe", train={}, budgets=[60, 240])
    res = run_experiment(exp, tmp_path / "out", log=lambda s: None)
    assert res["cells"] == 8 and len(res["differences"]) == 2
    rows = {(r["variant"], r["budget"]): r for r in res["table"]}
    assert rows[("balance", 240)]["label_counts"]["neutral"] == 80
    assert rows[("random", 240)]["label_counts"]["neutral"] < 40
    # More data helps the probe: the learning curve rises.
    assert rows[("random", 240)]["f1_macro"]["mean"] > rows[("random", 60)]["f1_macro"]["mean"]


@pytest.mark.parametrize("name", ["experiment.yaml", "experiment-encoder.yaml", "experiment-encoder-3ep.yaml",
                                  "experiment-lora.yaml"])
def test_example_experiments_resolve(name):
    """Every variant of the examples resolves to valid steps against the example's base recipe."""
    from tuneprep.ablate.config import variant_steps

    exp, recipe, _ = load_experiment(Path(__file__).resolve().parents[2] / "examples" / "ablate" / name)
    assert exp.base_name == "random" and len(exp.variants) >= 2
    steps = variant_steps(recipe, exp.variants["balance+diverse"], 800, 1)
    assert [s.op for s in steps][-2:] == ["select.balance", "select.diverse"]
    assert steps[-2].params()["n"] == 1600 and steps[-1].params()["n"] == 800
    assert steps[-1].params()["seed"] == 1  # the cell's seed reaches every seeded op
