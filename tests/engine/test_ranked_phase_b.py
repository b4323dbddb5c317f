"""Phase B of a final ranked selection in parallel (engine/ranked.py) writes the serial path's files,
byte for byte: the same kept records, rejects with their reasons and details, and counts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import tuneprep.engine.ranked as ranked
from tests.engine.test_keyed_phase_b import counts, files
from tuneprep.engine.local import RunError, run_recipe
from tuneprep.recipe import parse_recipe


@pytest.fixture
def rt_scored(rt_path, tmp_path) -> Path:
    """The real RT records, every third one with a numeric ``votes`` field (its text's length, so
    many ties) and the others without it: a score (or label) that is missing on part of the input;
    and ``tags``: [label, category] on every fifth record, [label] on the others (multi-label)."""
    out = tmp_path / "rt_scored.jsonl"
    with open(rt_path, encoding="utf-8") as src, open(out, "w", encoding="utf-8") as dst:
        for i, line in enumerate(src):
            rec = json.loads(line)
            if i % 3 == 0:
                rec["votes"] = len(rec["text"]) % 97
            rec["tags"] = [rec["label"], rec["category"]] if i % 5 == 0 else [rec["label"]]
            dst.write(json.dumps(rec) + "\n")
    return out


SELECTIONS = {
    "sample_n": {"op": "select.sample", "n": 1_500, "seed": 3},
    "sample_fraction": {"op": "select.sample", "fraction": 0.3, "seed": 1},
    "sample_none": {"op": "select.sample", "n": 0},
    "sample_all": {"op": "select.sample", "n": 100_000},
    "top_words_desc": {"op": "select.top", "by": "meta.scores.filter.length.words", "n": 700, "seed": 2},
    "top_words_asc_fraction": {"op": "select.top", "by": "meta.scores.filter.length.words", "fraction": 0.2,
                               "order": "asc"},
    "top_missing_drop": {"op": "select.top", "by": "votes", "n": 900},
    "top_missing_keep": {"op": "select.top", "by": "votes", "fraction": 0.5, "missing": "keep", "seed": 4},
    "top_over_budget": {"op": "select.top", "by": "votes", "n": 50_000},
    "balance_equal": {"op": "select.balance", "n": 3_000, "seed": 7},
    "balance_sqrt_bounds": {"op": "select.balance", "n": 5_000, "strategy": "sqrt", "min_per_class": 900,
                            "max_per_class": 2_500, "field": "category"},
    "balance_smallest_class": {"op": "select.balance"},
    "balance_unlabeled_kept": {"op": "select.balance", "n": 400, "strategy": "proportional", "field": "votes",
                               "keep_unlabeled": True},
    "balance_multi_label": {"op": "select.balance", "n": 2_000, "field": "tags"},
}
SERIAL_ONLY = {"balance_multi_label"}  # multi-label records are chosen greedily: ranks decline them


@pytest.mark.parametrize("name", list(SELECTIONS))
def test_parallel_ranked_selection_equals_serial(tmp_path, rt_scored, monkeypatch, name):
    def run(where: str) -> Path:
        recipe = parse_recipe({"input": {"path": str(rt_scored)},
                               "steps": [{"op": "clean.whitespace"}, {"op": "filter.length", "min_words": 3},
                                         SELECTIONS[name]],
                               "max_reject_fraction": 1.0,
                               "output": {"path": str(tmp_path / where), "part_size": 2_000}})
        if name == "sample_none":  # a run that keeps nothing fails, its outputs written for inspection
            with pytest.raises(RunError, match="0 of .* records kept"):
                run_recipe(recipe, workers=2, shard_bytes=1_000_000)
        else:
            assert run_recipe(recipe, workers=2, shard_bytes=1_000_000).shards >= 4
        return tmp_path / where

    calls: list[bool] = []
    real = ranked.run_ranked
    monkeypatch.setattr(ranked, "run_ranked", lambda *a, **k: calls.append(real(*a, **k)) or calls[-1])
    parallel = run("parallel")
    assert calls == [name not in SERIAL_ONLY]  # the parallel path ran (or declined, and the serial one ran)
    monkeypatch.setattr(ranked, "applies", lambda *a, **k: False)
    serial = run("serial")
    assert len(calls) == 1  # ... and here the serial one

    assert files(parallel) == files(serial)
    assert counts(parallel) == counts(serial)
    stats = counts(serial)
    assert stats["invariant_ok"]
    step = stats["steps"][-1]
    if name not in ("sample_all", "top_over_budget"):
        assert sum(step["dropped"].values()) > 0  # the selection did choose
    if name == "sample_none":
        assert step["out"] == 0 and stats["kept"] == 0
    if name.startswith("top_missing"):
        reasons = set(step["dropped"])
        assert reasons == ({"missing_score", "not_top"} if name.endswith("drop") else {"not_top"})
