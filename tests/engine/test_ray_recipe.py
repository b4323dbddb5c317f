"""`engine: ray` and per-step `resources:` in a recipe (no cluster needed: Ray is not imported)."""

from __future__ import annotations

import pytest

from tests.conftest import REPO
from tuneprep.engine.ray import plan_stages
from tuneprep.ops.base import build_op
from tuneprep.recipe import RecipeError, load_recipe, parse_recipe


def test_example_recipe_plans_stages_and_resources_do_not_change_the_hash():
    recipe = load_recipe(REPO / "examples" / "ray" / "recipe.yaml")
    assert recipe.engine == "ray"
    ops = [build_op(s.op, s.params()) for s in recipe.steps]
    stages = plan_stages(recipe, ops)
    # clean.unicode, clean.whitespace, filter.length share a task stage; the model step has an actor pool
    assert [(s.first, s.last, s.actors) for s in stages] == [(0, 2, False), (3, 3, True)]
    assert stages[1].resources is not None and stages[1].resources.concurrency == 2
    plain = recipe.model_copy(deep=True)
    plain.steps[3].resources = None
    assert plain.hash() == recipe.hash()  # where a step runs is not part of what it does
    assert "resources" not in recipe.model_dump()["steps"][3]


def test_bad_resources_are_recipe_errors(tmp_path):
    base = {"input": {"path": "x.jsonl"}, "output": {"path": str(tmp_path)}}
    with pytest.raises(RecipeError, match="num_gpu"):
        parse_recipe({**base, "steps": [{"op": "clean.whitespace", "resources": {"num_gpu": 1}}]})
    with pytest.raises(RecipeError, match="engine"):
        parse_recipe({**base, "engine": "spark"})
