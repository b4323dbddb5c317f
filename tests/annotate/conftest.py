"""Shared fixtures for the annotate tests: real data only (RT corpus, VADER ratings)."""

from __future__ import annotations

import random

import orjson
import pytest


def _vader_dir():
    from tuneprep.datasets import DatasetError, vader_ground_truth_dir

    try:
        return vader_ground_truth_dir()
    except DatasetError as e:  # registry unreachable and nothing cached
        pytest.skip(f"VADER ratings unavailable: {e}")


@pytest.fixture(scope="session")
def vader_dir():
    return _vader_dir()


@pytest.fixture(scope="session")
def rt_records():
    from tuneprep.datasets import DatasetError, rotten_tomatoes

    try:
        path = rotten_tomatoes()
    except DatasetError as e:
        pytest.skip(f"Rotten Tomatoes corpus unavailable: {e}")
    with open(path, "rb") as fh:
        return [orjson.loads(line) for line in fh]


@pytest.fixture(scope="session")
def rt_split(rt_records):
    """100 random seeds and 300 random held-out records (seeded), disjoint."""
    rng = random.Random(0)
    order = list(range(len(rt_records)))
    rng.shuffle(order)
    seeds = [rt_records[i] for i in order[:100]]
    held = [rt_records[i] for i in order[100:400]]
    return seeds, held
