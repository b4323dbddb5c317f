"""What the quality presets drop on real instruction/chat data, rule by rule, with examples.

Data (../shared/data, see its README): ``alpaca_cleaned_1000.json`` (1,000 Alpaca-cleaned instruction
records) and ``sharegpt_500.json`` (500 FastChat identity conversations), converted to ``messages``
with tuneprep's converters. Each record is judged on its user + assistant contents joined by blank
lines (the op's default ``roles``). For each preset: the share of records dropped, the share whose
first (reported) reason is each rule, the share failing each rule at all (a record may fail several),
and one example per rule.

Usage::

    python benchmarks/quality_on_sft.py [--shared ../shared/data]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
PRESETS = ("sft", "gopher", "c4", "fineweb")


def load(shared: Path) -> dict[str, list[dict]]:
    from tuneprep.io.converters import convert_row

    alpaca = json.loads((shared / "alpaca_cleaned_1000.json").read_text())
    sharegpt = json.loads((shared / "sharegpt_500.json").read_text())
    return {"alpaca_cleaned_1000": [convert_row(r, "alpaca") for r in alpaca],
            "sharegpt_500": [convert_row(r, "sharegpt") for r in sharegpt]}


def judge(records: list[dict], preset: str) -> dict:
    from tuneprep.ops.quality import FilterQuality

    op = FilterQuality(preset=preset)
    op.setup()
    first: Counter[str] = Counter()
    any_fail: Counter[str] = Counter()
    examples: dict[str, str] = {}
    for rec in records:
        text = op.text_of(rec)
        if not text.strip():
            first["empty_text"] += 1
            continue
        failed = op.failures(op.measure(text))
        for rule, value, bound in failed:
            any_fail[rule.key] += 1
            examples.setdefault(rule.key, f"{value!r} vs {bound!r}: {text[:160]!r}")
        if failed:
            first[failed[0][0].key] += 1
    n = len(records)
    return {
        "records": n,
        "dropped_share": round(sum(first.values()) / n, 4),
        "first_reason_share": {k: round(v / n, 4) for k, v in first.most_common()},
        "fails_rule_share": {k: round(v / n, 4) for k, v in any_fail.most_common()},
        "example_per_rule": examples,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--shared", type=Path, default=HERE.parent.parent / "shared" / "data")
    a = ap.parse_args()
    from resultfile import Measurement

    m = Measurement("quality_on_sft", libraries=["spacy"])
    data = load(a.shared)
    figures: dict = {}
    for name, records in data.items():
        for preset in PRESETS:
            r = judge(records, preset)
            figures[f"{name}/{preset}"] = r
            print(f"\n{name}, preset {preset}: {r['dropped_share']:.1%} of {r['records']} dropped")
            for k, v in r["fails_rule_share"].items():
                print(f"  fails {k:45s} {v:6.1%}   e.g. {r['example_per_rule'][k][:110]}")
    m.write(figures)


if __name__ == "__main__":
    main()
