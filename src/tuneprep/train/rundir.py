"""Kept for imports written before the move: the run layout lives in ``tuneprep.models.rundir``
and loading in ``tuneprep.models.registry`` (docs/architecture.md, "models owns run directories")."""

from tuneprep.models.registry import load_run
from tuneprep.models.rundir import (
    CHECKPOINTS,
    CONFIG,
    LOG,
    METRICS,
    MODEL_DIR,
    PREFLIGHT,
    RUN_FORMAT,
    TEMPLATE,
    LoadedModel,
    TrainedRun,
    is_run_dir,
    read_config,
)

__all__ = ["CHECKPOINTS", "CONFIG", "LOG", "METRICS", "MODEL_DIR", "PREFLIGHT", "RUN_FORMAT", "TEMPLATE",
           "LoadedModel", "TrainedRun", "is_run_dir", "load_run", "read_config"]
