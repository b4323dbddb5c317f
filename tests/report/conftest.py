"""The report tests reuse the evaluate tests' real artefacts (tests/evaluate/evalfixtures.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "evaluate"))

from evalfixtures import built  # noqa: E402


@pytest.fixture(scope="session")
def eval_base(tmp_path_factory) -> Path:
    return tmp_path_factory.getbasetemp() / "evaluate-shared"


@pytest.fixture(scope="session")
def prep_dir(eval_base, rt_path) -> Path:
    return built("prep", eval_base, rt_path)


@pytest.fixture(scope="session")
def vader_dir(eval_base, rt_path) -> Path:
    return built("vader", eval_base, rt_path)


@pytest.fixture(scope="session")
def vader_wide_dir(eval_base, rt_path) -> Path:
    return built("vader_wide", eval_base, rt_path)
