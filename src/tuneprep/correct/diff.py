"""Review what correcting steps did: two runs side by side, or one run's recorded edits.

``diff_runs`` pairs the records of two run directories by ``id`` and yields those whose text (or
messages) differ, as word-level diffs; ``edited_records`` yields the records of one run that carry
``meta.edits`` (optionally one op's, optionally a random sample for review).
"""

from __future__ import annotations

import difflib
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from tuneprep.records import record_text

SPLITS = ("data", "train", "val", "test")


def run_records(run: str | Path) -> Iterator[dict[str, Any]]:
    """Every kept record of a run directory (data/ or train/val/test/), in file order."""
    run = Path(run)
    parts = [p for s in SPLITS for p in sorted((run / s).glob("*.jsonl"))]
    if not parts:
        raise FileNotFoundError(f"{run}: no data/*.jsonl or train|val|test/*.jsonl (is it a run directory?)")
    for p in parts:
        with open(p, "rb") as fh:
            for line in fh:
                if line.strip():
                    yield orjson.loads(line)


def word_diff(a: str, b: str) -> str:
    """``a`` → ``b`` as one line of words with ``[-removed-]{+added+}`` marks (git --word-diff style)."""
    ta, tb = re.findall(r"\S+|\s+", a), re.findall(r"\S+|\s+", b)
    out = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, ta, tb, autojunk=False).get_opcodes():
        if tag == "equal":
            out.append("".join(ta[i1:i2]))
            continue
        if i2 > i1:
            out.append("[-" + "".join(ta[i1:i2]) + "-]")
        if j2 > j1:
            out.append("{+" + "".join(tb[j1:j2]) + "+}")
    return "".join(out)


@dataclass
class RunDiff:
    common: int = 0
    changed: int = 0
    only_a: int = 0
    only_b: int = 0
    examples: list[dict[str, Any]] = field(default_factory=list)


def diff_runs(run_a: str | Path, run_b: str | Path, limit: int = 20) -> RunDiff:
    """Records of two runs paired by id; up to ``limit`` changed ones kept as examples."""
    a = {str(r.get("id")): record_text(r) for r in run_records(run_a)}
    res = RunDiff()
    seen = set()
    for r in run_records(run_b):
        rid = str(r.get("id"))
        seen.add(rid)
        if rid not in a:
            res.only_b += 1
            continue
        res.common += 1
        tb = record_text(r)
        if tb != a[rid]:
            res.changed += 1
            if len(res.examples) < limit:
                res.examples.append({"id": rid, "before": a[rid], "after": tb, "diff": word_diff(a[rid], tb),
                                     "edits": (r.get("meta") or {}).get("edits", {})})
    res.only_a = sum(1 for rid in a if rid not in seen)
    return res


def edited_records(run: str | Path, op: str | None = None) -> list[dict[str, Any]]:
    """``{id, text, edits: {op: [...]}}`` for the records of a run with recorded edits (of ``op`` if given)."""
    rows = []
    for r in run_records(run):
        edits = (r.get("meta") or {}).get("edits") or {}
        if op is not None:
            edits = {k: v for k, v in edits.items() if k == op or k.startswith(op + "#")}
        if edits:
            rows.append({"id": r.get("id"), "text": record_text(r), "edits": edits})
    return rows


def sample_edits(rows: list[dict[str, Any]], n: int, seed: int = 0) -> list[dict[str, Any]]:
    """A seeded uniform sample of ``n`` *edits* (each with its record), so every edit has the same
    chance of review whatever record it is in."""
    flat = [(row, k, e) for row in rows for k, es in row["edits"].items() for e in es]
    picked = random.Random(seed).sample(flat, min(n, len(flat)))
    return [{"id": row["id"], "text": row["text"], "edits": {k: [e]}} for row, k, e in picked]
