"""Which engine runs a recipe: ``engine:`` in the recipe, or the caller's override."""

from __future__ import annotations

from collections.abc import Callable

from tuneprep.engine.local import RunResult, run_recipe
from tuneprep.engine.phases import Progress
from tuneprep.ray_cluster import Engine, Exchange
from tuneprep.recipe import Recipe

__all__ = ["Engine", "Exchange", "execute"]


def execute(recipe: Recipe, engine: Engine | None = None, address: str | None = None, workers: int = 0,
            fresh: bool = False, progress: Progress | None = None, log: Callable[[str], None] = lambda s: None,
            shard_bytes: int | None = None, exchange: Exchange = "auto") -> RunResult:
    """Run ``recipe`` on ``engine`` (default: the recipe's ``engine``); both give the same files.

    ``address`` (Ray only): the cluster, e.g. ``ray://head:10001``; default ``RAY_ADDRESS``, else a
    Ray instance on this machine. ``exchange`` (Ray only): how its stages pass records
    (``ray_cluster.Exchange``). ``workers`` (local only): processes, 0 = every core.
    """
    engine = engine or recipe.engine
    if engine == "ray":
        from tuneprep.engine.ray import run_recipe_ray

        return run_recipe_ray(recipe, address=address, fresh=fresh, progress=progress, log=log,
                              shard_bytes=shard_bytes, exchange=exchange)
    return run_recipe(recipe, workers=workers, fresh=fresh, progress=progress, log=log, shard_bytes=shard_bytes)
