"""Evaluate fixtures: real SST-2 test sentences as a tuneprep JSONL file."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def sst2_jsonl(shared_data, tmp_path_factory) -> Callable[[int], Path]:
    """A factory: ``make(n)`` writes the first ``n`` SST-2 test sentences (ids ``sst2-0``...,
    labels positive/negative) to a new JSONL file and returns its path."""

    def make(n: int) -> Path:
        with open(shared_data / "sst2" / "test.tsv", newline="") as fh:
            rows = list(csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE))[:n]
        path = tmp_path_factory.mktemp("sst2") / "test.jsonl"
        with open(path, "w") as fh:
            for i, r in enumerate(rows):
                label = "positive" if r["label"] == "1" else "negative"
                fh.write(json.dumps({"id": f"sst2-{i}", "text": r["sentence"].strip(), "label": label}) + "\n")
        return path

    return make
