"""``--workers N`` and ``--engine ray``: the model predictor in N worker processes, or in N model
replicas on a Ray cluster; results merged in input order.

Each worker (spawned: forking a process that holds torch threads is unsafe) loads its own
model copy once and runs ``cores // N`` torch threads. Texts go out in chunks of
``CHUNK`` records; the parent reports progress as chunks finish and puts every chunk's rows
back at its place, so predictions come out in input (id) order and equal one worker's
(a chunk is scored exactly as one process would score those texts; only the batch
composition differs, which moves probabilities by float rounding, not predictions).

:class:`RayPredictor` runs the same chunks through the same functions (``_init_worker`` once
per replica, ``_score`` / ``_generate`` per chunk) on a pool of Ray actors
(``tuneprep.ray_cluster.ReplicaPool``), so its predictions are byte-identical to ``--workers``'s
(docs/scaling.md).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import numpy as np

from tuneprep.evaluate.predictor import ModelPredictor
from tuneprep.models.longinput import LongInputStats
from tuneprep.models.precision import BF16_MARGIN, PrecisionStats
from tuneprep.models.prompt import ClassifyTemplate
from tuneprep.models.registry import is_run_dir
from tuneprep.models.rundir import load_template
from tuneprep.ray_cluster import ReplicaPool, chunks

CHUNK = 64

_worker: ModelPredictor | None = None


def _init_worker(threads: int, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    global _worker
    os.environ["TUNEPREP_THREADS"] = str(threads)
    _worker = ModelPredictor(*args, **kwargs)


def _score(template_json: str, texts: list[str]) -> tuple[np.ndarray, LongInputStats, PrecisionStats | None]:
    assert _worker is not None
    stats = _worker.new_stats()
    probs = _worker.score(ClassifyTemplate.model_validate_json(template_json), texts)
    return probs, stats, _worker.precision


def _generate(messages_list: list[list[dict[str, str]]], max_new_tokens: int) -> list[str]:
    assert _worker is not None
    return _worker.generate(messages_list, max_new_tokens)


class ParallelPredictor:
    """A :class:`ModelPredictor` spread over ``workers`` processes (same interface)."""

    def __init__(self, workers: int, name_or_path: str, batch_size: int = 8, **kwargs: Any):
        import multiprocessing

        cores = os.cpu_count() or 1
        self.workers = workers
        self._setup(name_or_path, kwargs)
        self.pool = ProcessPoolExecutor(
            workers, mp_context=multiprocessing.get_context("spawn"), initializer=_init_worker,
            initargs=(max(1, cores // workers), (name_or_path, batch_size), kwargs))

    def _setup(self, name_or_path: str, settings: dict[str, Any]) -> None:
        """What the parent knows without a model: the run's template, the settings, empty stats."""
        self.run_dir: Path | None = Path(name_or_path) if is_run_dir(name_or_path) else None
        self.template: ClassifyTemplate | None = load_template(self.run_dir) if self.run_dir else None
        self.long_inputs = LongInputStats(max_tokens=settings.get("max_tokens"))
        self.precision: PrecisionStats | None = None
        self._settings = settings

    def new_stats(self) -> LongInputStats:
        chunk, max_tokens = bool(self._settings.get("chunk")), self._settings.get("max_tokens")
        self.long_inputs = LongInputStats(max_tokens=max_tokens, chunk=chunk and bool(max_tokens),
                                          truncate=None if chunk or not max_tokens else self._settings.get("truncate", "end"))
        bf16 = self._settings.get("bf16")
        self.precision = PrecisionStats(self._settings.get("bf16_margin", BF16_MARGIN)) if bf16 else None
        return self.long_inputs

    def _map(self, fn: Callable[..., Any], items: list[Any], *args: Any,
             on_batch: Callable[[int], None] | None) -> list[Any]:
        """``fn(*args, chunk)`` for consecutive chunks of ``items``, results in chunk order."""
        futures = {self.pool.submit(fn, *args, part): (k, len(part)) for k, part in enumerate(chunks(items, CHUNK))}
        results: list[Any] = [None] * len(futures)
        for fut in as_completed(futures):  # progress in this thread, as chunks finish
            k, n = futures[fut]
            results[k] = fut.result()
            if on_batch is not None:
                on_batch(n)
        return results

    def score(self, template: ClassifyTemplate, texts: list[str],
              on_batch: Callable[[int], None] | None = None) -> np.ndarray:
        parts = self._map(_score, texts, template.model_dump_json(), on_batch=on_batch)
        for _, stats, precision in parts:
            self.long_inputs.add(stats)
            if self.precision is not None and precision is not None:
                self.precision.add(precision)
        if not parts:
            return np.zeros((0, len(template.labels)))
        return np.concatenate([p for p, _, _ in parts], axis=0)

    def generate(self, messages_list: list[list[dict[str, str]]], max_new_tokens: int,
                 on_batch: Callable[[int], None] | None = None) -> list[str]:
        parts = self._map(_generate, messages_list, max_new_tokens, on_batch=on_batch)
        return [a for p in parts for a in p]

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)


class RayPredictor(ParallelPredictor):
    """A :class:`ModelPredictor` on ``replicas`` Ray actors of ``threads`` CPUs each (same interface).

    Each actor loads the model once; the chunks (``CHUNK`` records, as with ``--workers``) go to
    whichever replica is free and come back in input order. ``replicas`` defaults to the
    cluster's CPUs // ``threads``; ``address`` to ``RAY_ADDRESS``, else Ray on this machine.
    """

    def __init__(self, name_or_path: str, batch_size: int = 8, replicas: int | None = None, threads: int = 1,
                 address: str | None = None, **kwargs: Any):
        self._setup(name_or_path, kwargs)
        self.ray = ReplicaPool(_init_worker, (threads, (name_or_path, batch_size), kwargs), replicas=replicas,
                               threads=threads, address=address)
        self.workers = self.ray.replicas

    def _map(self, fn: Callable[..., Any], items: list[Any], *args: Any,
             on_batch: Callable[[int], None] | None) -> list[Any]:
        parts = chunks(items, CHUNK)
        results = []
        for part, res in zip(parts, self.ray.map(fn, args, parts), strict=True):
            results.append(res)
            if on_batch is not None:
                on_batch(len(part))
        return results

    def close(self) -> None:
        self.ray.close()
