"""tuneprep: raw domain text to a fine-tuned, evaluated language model, every data decision audited.

``import tuneprep as tp`` gives the public API (``tp.load_recipe``, ``tp.run``,
``tp.read_records``, ``tp.train``, ``tp.evaluate``, ``tp.compare``, ``tp.build_report``,
``tp.annotate``, ``tp.load_model``); see ``tuneprep.api``. The names load on first use, so
that ``import tuneprep.records`` in a worker process does not import every area.
``tp.train``, ``tp.evaluate`` and ``tp.annotate`` are the API functions; the subpackages of
those names are imported as usual (``from tuneprep.train.config import TrainConfig``).
"""

from __future__ import annotations

import sys
import types
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


class _Facade(types.ModuleType):
    """The ``tuneprep`` module object: each API name is a read-only property that loads
    ``tuneprep.api`` on first use. A property, not a plain attribute, because three API
    functions share their name with a subpackage (``tp.train``, ``tp.evaluate``,
    ``tp.annotate``) and importing that subpackage would otherwise rebind the name to it."""


def _api_name(name: str) -> property:
    def get(self: types.ModuleType) -> Any:
        import tuneprep.api  # loaded on first use, so that workers importing tuneprep.records stay light

        return getattr(tuneprep.api, name)

    return property(get, doc=f"tuneprep.api.{name}")


for _name in __all__[1:]:
    setattr(_Facade, _name, _api_name(_name))
sys.modules[__name__].__class__ = _Facade
