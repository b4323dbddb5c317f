"""The public Python API (`import tuneprep as tp`): what the CLI verbs wrap, and the README's example."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import tuneprep as tp
from tests.conftest import REPO


def test_facade_exposes_the_documented_api():
    for name in ("load_recipe", "run", "read_records", "train", "evaluate", "compare", "build_report", "annotate",
                 "load_model"):
        fn = getattr(tp, name)
        assert callable(fn) and fn.__doc__, name
    with pytest.raises(AttributeError):
        tp.no_such_function  # noqa: B018


def test_run_and_read_records_agree_with_the_recipe_run(tmp_path, shared_data):
    src = shared_data / "sst2" / "train_sample_5000.tsv"
    recipe = tp.load_recipe(REPO / "examples" / "sentiment" / "recipe.yaml")
    recipe = recipe.model_copy(update={"input": recipe.input.model_copy(update={
        "path": str(src), "text_field": "sentence", "label_map": {"0": "negative", "1": "positive"}})})
    res = tp.run(recipe, out=tmp_path / "prep", workers=1)
    assert res.records_in == 5000 and res.records_in == res.kept + res.rejected
    # the library reader gives the same records (same ids, mapped labels) the engine read
    recs = list(tp.read_records(src, text_field="sentence", label_field="label",
                                label_map={"0": "negative", "1": "positive"}))
    assert len(recs) == 5000
    assert {r["label"] for r in recs} == {"negative", "positive"}
    kept = {r["id"] for split in ("train", "val", "test") for r in tp.read_records(
        next((tmp_path / "prep" / split).glob("*.jsonl")))}
    assert kept <= {r["id"] for r in recs} and len(kept) == res.kept


def _readme_example() -> str:
    text = (REPO / "README.md").read_text()
    m = re.search(r"<!-- python-api-example.*?-->\n```python\n(.*?)```", text, re.S)
    assert m, "README: the Python API example block is missing"
    return m.group(1)


@pytest.mark.slow
def test_readme_python_example_runs(tmp_path, monkeypatch, rt_path):
    """The README block, verbatim but for smaller sizes and a temporary output folder."""
    code = _readme_example()
    code = code.replace("runs/py", str(tmp_path / "py")).replace("limit=2000", "limit=64").replace(
        "limit=300", "limit=30")
    monkeypatch.chdir(REPO)
    ns: dict = {}
    exec(compile(code, "README.md", "exec"), ns)  # noqa: S102 - the README's own example
    out = tmp_path / "py"
    for p in ("prep/stats.json", "base/metrics.json", "train/config.json", "tuned/metrics.json", "compare.json",
              "report.html"):
        assert (out / p).exists(), p
    assert ns["base"].metrics["n"] == ns["tuned"].metrics["n"] == 30
    assert ns["cmp"]["differences"], ns["cmp"]
    assert Path(out / "report.html").read_text().count("<section") >= 3
