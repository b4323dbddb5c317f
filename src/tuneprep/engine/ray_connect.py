"""The Ray engine's cluster: connecting to it, and how many CPUs it has (docs/scaling.md).

Ray is imported inside the functions: it is an extra, and loading it takes seconds.
"""

from __future__ import annotations

import os

from tuneprep.engine.local import RunError


def connect(address: str | None = None) -> bool:
    """Connect to the cluster at ``address`` (else ``RAY_ADDRESS``, else a new local one).

    Returns True when this call started the connection (the caller then shuts it down); an
    already initialised Ray (a notebook, a test fixture) is used as it is.
    """
    try:
        import ray
    except ImportError as e:  # pragma: no cover - the extra is part of `all`
        raise RunError("engine: ray needs Ray Data: pip install 'tuneprep[ray]'") from e
    if ray.is_initialized():
        return False
    address = address or os.environ.get("RAY_ADDRESS") or None
    ray.init(address=address, include_dashboard=False if address is None else None,
             logging_level="ERROR", log_to_driver=False)
    return True


def cluster_cpus() -> int:
    """The cluster's CPUs (at least 1): the Ray engine's number of workers."""
    import ray

    return max(1, int(ray.cluster_resources().get("CPU", 1)))
