"""The public Python API: ``import tuneprep as tp``.

Each function here is what one CLI verb does, without the printing (the verbs in
``tuneprep.cli`` are thin wrappers over these). The steps of ``tuneprep demo`` are in the README, section "Python API".
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from tuneprep.annotate.methods import annotate_records
from tuneprep.annotate.onray import annotate_records_ray
from tuneprep.api.reporting import build_report
from tuneprep.engine.execute import Engine, Exchange, execute
from tuneprep.engine.local import RunResult
from tuneprep.evaluate import predictions as eval_files
from tuneprep.evaluate.compare import compare_runs, write_compare
from tuneprep.evaluate.runner import EvalConfig, EvalResult, Predictor
from tuneprep.evaluate.runner import evaluate as _evaluate
from tuneprep.io.readers import load_records
from tuneprep.models.registry import LoadedModel, load_model
from tuneprep.recipe import Recipe
from tuneprep.recipe import load_recipe as _load_recipe
from tuneprep.train.config import TrainConfig
from tuneprep.train.trainer import TrainResult
from tuneprep.train.trainer import train as _train

__all__ = ["load_recipe", "run", "read_records", "train", "evaluate", "compare", "build_report", "annotate",
           "load_model", "Recipe", "RunResult", "TrainConfig", "TrainResult", "EvalConfig", "EvalResult",
           "LoadedModel"]


def _strs(options: dict[str, Any]) -> dict[str, Any]:
    """Paths given as Path objects, as the configs' str fields take them."""
    return {k: str(v) if isinstance(v, Path) else v for k, v in options.items()}


def load_recipe(path: str | Path) -> Recipe:
    """Read and validate a recipe YAML file (``RecipeError`` names file, line and key)."""
    return _load_recipe(path)


def run(recipe: Recipe | str | Path, *, out: str | Path | None = None, workers: int = 0, fresh: bool = False,
        shard_bytes: int | None = None, log: Callable[[str], None] | None = None,
        progress: Any = None, engine: Engine | None = None, address: str | None = None,
        exchange: Exchange = "auto") -> RunResult:
    """Run a recipe (``tuneprep run``): data/ or split folders, rejects/, stats.json, manifest.json.

    ``recipe``: a loaded Recipe or a path to its YAML; ``out`` overrides ``output.path``.
    Returns the counts (records in = kept + rejected) and the output directory. ``progress``: an
    object with ``start/advance/finish`` (``tuneprep.ui.make_progress()`` gives the CLI's).
    ``engine``: ``local`` or ``ray`` (default: the recipe's ``engine``); ``address``: the Ray
    cluster (default ``RAY_ADDRESS``, else Ray on this machine); ``exchange``: how the Ray engine
    passes records (``auto``, ``files``, ``objects``: docs/scaling.md). Both engines write the same files.
    """
    r = recipe if isinstance(recipe, Recipe) else load_recipe(recipe)
    if out is not None:
        r = r.model_copy(update={"output": r.output.model_copy(update={"path": str(out)})})
    return execute(r, engine=engine, address=address, workers=workers, fresh=fresh, shard_bytes=shard_bytes,
                   log=log or (lambda s: None), progress=progress, exchange=exchange)


def read_records(path: str | Path, *, format: str | None = None, **mapping: Any) -> Iterator[dict[str, Any]]:
    """Records of any supported file (jsonl, json, csv, tsv, parquet, txt, hf; compressed too).

    ``mapping``: the recipe's input fields (``text_field``, ``label_field``, ``id_field``,
    ``messages_field``, ``label_map``, ``convert_from``). Raises ``InputError`` naming file,
    line and field at the first row that is not a valid record.
    """
    return iter(load_records(path, format, **mapping))


def train(config: TrainConfig | None = None, *, resume: bool = False, overwrite: bool = False, quiet: bool = True,
          **options: Any) -> TrainResult:
    """Fine-tune (``tuneprep train``): LoRA or full on a causal LM; writes the run directory.

    Pass a TrainConfig, or its fields as keywords (``data``, ``out``, ``task``, ``model``,
    ``limit``, ``epochs`` ...).
    """
    cfg = config if config is not None else TrainConfig(**_strs(options))
    return _train(cfg, resume=resume, overwrite=overwrite, quiet=quiet)


def evaluate(config: EvalConfig | None = None, *, predictor: Predictor | None = None, progress: bool = False,
             log: Callable[[str], None] | None = None, **options: Any) -> EvalResult:
    """Evaluate a model or run on held-out records (``tuneprep eval``), then write its report.

    Pass an EvalConfig, or its fields as keywords (``model``, ``data``, ``out``, ``limit`` ...).
    Writes metrics.json, predictions.jsonl, review.jsonl, eval.json and, unless
    ``report=False``, report.html. ``engine="ray"`` (with ``address``, ``replicas``, ``threads``)
    scores on model replicas on a Ray cluster: the same predictions and metrics (docs/scaling.md).
    """
    cfg = config if config is not None else EvalConfig(**_strs(options))
    kwargs: dict[str, Any] = {"predictor": predictor, "progress": progress}
    if log is not None:
        kwargs["log"] = log
    res = _evaluate(cfg, **kwargs)
    if cfg.report:
        data = Path(cfg.data)
        build_report(res.out / eval_files.REPORT, eval_dirs=[res.out], train_dir=res.info.get("run_dir"),
                     prep_dir=data if data.is_dir() else None)
    return res


def compare(eval_dirs: list[str | Path], *, out: str | Path | None = None, n_boot: int = 1000,
            seed: int = 0) -> dict[str, Any]:
    """Compare eval dirs on the same test ids (``tuneprep compare``): paired bootstrap CIs, McNemar.

    The first directory is the baseline. With ``out``, the result is also written there as JSON.
    """
    if out is not None:
        return write_compare(eval_dirs, out, n_boot=n_boot, seed=seed)
    return compare_runs(eval_dirs, n_boot=n_boot, seed=seed)


def annotate(records: list[dict[str, Any]], method: str, labels: list[str] | None = None,
             params: dict[str, Any] | None = None, overwrite: bool = False, *, engine: Engine = "local",
             address: str | None = None, replicas: int | None = None, threads: int = 1) -> list[dict[str, Any]]:
    """Label records with one method (``lexicon``, ``rules``, ``knn``, ``llm``, ``ensemble``).

    Returns new records with ``label`` (existing labels kept unless ``overwrite``) and
    ``meta.annotation`` (method, confidence, votes). ``engine="ray"``: the labeling runs on
    ``replicas`` Ray actors of ``threads`` CPUs (default: the cluster's CPUs // threads) at
    ``address`` (default ``RAY_ADDRESS``, else Ray on this machine); every method but
    ``ensemble`` (global) can, with the same records written (docs/scaling.md).
    """
    if engine == "ray":
        return annotate_records_ray(records, method, labels, params, overwrite, address=address,
                                    replicas=replicas, threads=threads)
    return annotate_records(records, method, labels, params, overwrite)
