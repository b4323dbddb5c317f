"""The scale-out options that `tuneprep eval` and `tuneprep annotate label` share (one definition).

Not a verb group: the verb modules use these as their options' defaults. ``tuneprep run`` has
its own ``--engine`` (its default is the recipe's engine).
"""

from __future__ import annotations

import typer

from tuneprep.ray_cluster import ENGINES

ENGINE = typer.Option("local", "--engine", help=(
    "local (this machine) or ray: model replicas on a Ray cluster, one Ray actor each, the model loaded "
    "once per actor; the same outputs (docs/scaling.md)."))
ADDRESS = typer.Option(None, "--address", help=(
    "Ray cluster for --engine ray: host:6379, ray://host:10001 or auto (default: RAY_ADDRESS, else Ray "
    "on this machine)."))
REPLICAS = typer.Option(None, "--replicas", help=(
    "--engine ray: model replicas (actors); default: as many as the cluster's CPUs hold, CPUs // --threads."))
THREADS = typer.Option(1, "--threads", help="--engine ray: CPU threads (Ray CPUs) per replica.")


def check_engine(engine: str) -> str | None:
    """An error message for an unknown ``--engine``, else None."""
    return None if engine in ENGINES else f"--engine {engine}: choose {' or '.join(ENGINES)}"
