"""tuneprep: raw domain text to a fine-tuned, evaluated language model, every data decision audited.

``import tuneprep as tp`` gives the public API (``tp.load_recipe``, ``tp.run``,
``tp.read_records``, ``tp.train``, ``tp.evaluate``, ``tp.compare``, ``tp.build_report``,
``tp.annotate``, ``tp.load_model``); see ``tuneprep.api``. The names load on first use, so
that ``import tuneprep.records`` in a worker process does not import every area.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tuneprep.version import __version__

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs
    from tuneprep.api import (
        EvalConfig,
        EvalResult,
        LoadedModel,
        Recipe,
        RunResult,
        TrainConfig,
        TrainResult,
        annotate,
        build_report,
        compare,
        evaluate,
        load_model,
        load_recipe,
        read_records,
        run,
        train,
    )

__all__ = ["__version__", "load_recipe", "run", "read_records", "train", "evaluate", "compare", "build_report",
           "annotate", "load_model", "Recipe", "RunResult", "TrainConfig", "TrainResult", "EvalConfig",
           "EvalResult", "LoadedModel"]


def __getattr__(name: str) -> Any:
    # PEP 562: the facade imports tuneprep.api (every area) only when an API name is used.
    if name in __all__:
        import tuneprep.api

        return getattr(tuneprep.api, name)
    raise AttributeError(f"module 'tuneprep' has no attribute {name!r}")
