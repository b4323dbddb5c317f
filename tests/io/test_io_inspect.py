"""`tuneprep inspect` / io.inspect.profile on real files (facts from the data README) and edge cases."""

from __future__ import annotations

import collections
from collections import Counter
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from tuneprep.cli import app
from tuneprep.datasets import shared_data_dir
from tuneprep.io.inspect import normalize_for_dedup, profile, summarize_hist
from tuneprep.io.readers import InputError


def shared(rel: str) -> Path:
    root = shared_data_dir()
    if root is None or not (root / rel).exists():
        pytest.skip(f"shared data absent: {rel}")
    return root / rel


def test_sst2_tsv_profile() -> None:
    p = profile(shared("sst2/train_sample_5000.tsv"))
    assert p["rows"] == p["records"] == p["texts"] == 5000
    assert p["parse_errors"]["count"] == 0 and p["invalid_rows"]["count"] == 0
    assert p["text_field"] == "sentence"
    assert p["labels"]["field"] == "label" and p["labels"]["counts"] == {"1": 2743, "0": 2257}
    assert p["fields"]["sentence"]["fill_rate"] == 1.0 and set(p["fields"]) == {"sentence", "label"}
    c = p["length"]["chars"]
    assert c["min"] <= c["p50"] <= c["p90"] <= c["p99"] <= c["max"] and c["min"] > 0


def test_sharegpt_profile_counts_turns() -> None:
    p = profile(shared("sharegpt_500.json"))
    assert p["records"] == 500 and p["text_field"] == "messages"
    assert p["chat"]["styles"] == {"sharegpt": 500}
    # Turns per conversation (system messages aside): 2 × 167, 4 × 166, 6 × 167.
    assert p["chat"]["turns_hist"] == {"2": 167, "4": 166, "6": 167}
    assert p["chat"]["turns"]["p50"] == 4 and p["chat"]["turns"]["mean"] == 4.0


def test_alpaca_profile_fill_rate_and_duplicates() -> None:
    p = profile(shared("alpaca_cleaned_1000.json"))
    assert p["chat"]["styles"] == {"alpaca": 1000} and p["chat"]["turns_hist"] == {"2": 1000}
    assert p["fields"]["input"] == {"present": 1000, "filled": 409, "fill_rate": 0.409}  # 591 empty inputs
    assert p["duplicates"]["duplicates"] == 0  # whole examples; only instructions repeat (999 distinct)
    q = profile(shared("alpaca_cleaned_1000.json"), text_field="instruction")
    assert q["text_field"] == "instruction" and q["duplicates"]["duplicates"] == 1 and "chat" not in q


def test_mrpc_and_sst2_together_via_glob_and_format() -> None:
    root = shared("mrpc/train.txt").parent
    p = profile(str(root / "*.txt"), fmt="tsv", text_field="#1 String", label_field="Quality")
    assert [Path(f["path"]).name for f in p["files"]] == ["test.txt", "train.txt"]
    assert p["records"] == 4076 + 1725
    assert p["labels"]["counts"] == {"1": 2753 + 1147, "0": 1323 + 578}


def test_rotten_tomatoes_labels() -> None:
    from tuneprep.datasets import DatasetError, rotten_tomatoes

    try:
        path = rotten_tomatoes()
    except DatasetError as e:
        pytest.skip(f"rotten tomatoes unavailable: {e}")
    p = profile(path)
    assert p["records"] == 13905 and sum(p["labels"]["counts"].values()) == 13905
    assert set(p["labels"]["counts"]) == {"positive", "negative", "neutral"}
    # The pinned corpus holds 14 empty snippets (all "plot"); inspect must show them.
    assert p["empty_texts"] == 14 and p["length"]["chars"]["min"] == 0


def test_errors_duplicates_and_normalisation(tmp_path: Path) -> None:
    f = tmp_path / "x.jsonl"
    f.write_bytes(
        b'{"text": "Hello   World", "label": "a"}\n'
        b'{"text": "hello world", "label": ["a", "b"]}\n'  # duplicate after normalisation
        b'{"text": "\xef\xbc\xa8ello world"}\n'  # fullwidth H: NFKC makes it a duplicate too
        b'{"text": "other", "label": null, "extra": ""}\n'
        b"{broken\n"
        b"[1]\n"
        b'{"messages": [{"role": "robot", "content": "x"}]}\n'
        b'{"id": 3}\n'
    )
    p = profile(f)
    assert p["rows"] == 8 and p["records"] == 6
    assert p["parse_errors"]["count"] == 1 and p["parse_errors"]["first"][0]["line"] == 5
    assert p["parse_errors"]["first"][0]["raw"] == "{broken"
    assert p["invalid_rows"]["by_reason"] == {"not_an_object": 1, "bad_role": 1}
    assert [e["line"] for e in p["invalid_rows"]["first"]] == [6, 7]
    assert p["texts"] == 4 and p["missing_text"] == 2
    assert p["duplicates"] == {"distinct": 2, "duplicates": 2, "rate": 0.5}
    assert p["labels"]["counts"] == {"a": 2, "b": 1} and p["labels"]["missing"] == 4
    assert p["fields"]["extra"] == {"present": 1, "filled": 0, "fill_rate": 0.0}
    assert p["length"]["words"] == {"min": 1, "p50": 2, "p90": 2, "p99": 2, "max": 2, "mean": 1.75}


def test_empty_file_profile(tmp_path: Path) -> None:
    f = tmp_path / "e.jsonl"
    f.write_text("")
    p = profile(f)
    assert p["rows"] == 0 and p["length"]["chars"]["p50"] is None and p["duplicates"]["rate"] == 0.0


def test_helpers() -> None:
    assert normalize_for_dedup("  Straße\u00a0\tＡB  ") == "strasse ab"
    s = summarize_hist(Counter({1: 1, 2: 1, 3: 1, 100: 1}))
    assert (s["min"], s["p50"], s["p90"], s["max"], s["mean"]) == (1, 2, 100, 100, 26.5)
    values = list(range(1, 1001))
    s = summarize_hist(Counter(values))
    assert (s["p50"], s["p90"], s["p99"]) == (500, 900, 990)
    with pytest.raises(InputError):
        profile("/nonexistent/*.jsonl")


def test_inspect_cli_table_and_json(tmp_path: Path) -> None:
    runner = CliRunner()
    path = shared("sst2/test.tsv")
    r = runner.invoke(app, ["inspect", str(path), "--json"])
    assert r.exit_code == 0, r.output
    p = orjson.loads(r.stdout)
    assert p["records"] == 872 and p["labels"]["counts"] == {"1": 444, "0": 428}
    r = runner.invoke(app, ["inspect", str(path)])
    assert r.exit_code == 0 and "exact duplicates" in r.output and "444" in r.output
    r = runner.invoke(app, ["inspect", str(shared("sharegpt_500.json"))])
    assert "turns per conversation" in r.output and "2: 167, 4: 166, 6: 167" in r.output
    r = runner.invoke(app, ["inspect", str(tmp_path / "none.jsonl")])
    assert r.exit_code == 2
    assert collections.Counter(p["labels"]["counts"]).total() == 872


def test_alpacaeval_dataset_distribution() -> None:
    p = profile(shared("alpacaeval/alpaca-7b/model_outputs.json"), label_field="dataset")
    assert p["records"] == 805 and p["chat"]["styles"] == {"alpaca": 805}
    assert p["labels"]["counts"] == {"selfinstruct": 252, "oasst": 188, "koala": 156, "helpful_base": 129,
                                     "vicuna": 80}
    assert p["fields"]["generator"]["fill_rate"] == 1.0
