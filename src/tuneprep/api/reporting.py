"""Building a report from directories: load each run, compare evals, then render.

The report package renders only what it is given (``tuneprep.report.render_report``); this
module is where eval dirs, a recipe run and a training run are read, and where the comparison
of several evals is computed when none is given (the eval → compare → report order).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from tuneprep.evaluate import predictions as eval_files
from tuneprep.evaluate.compare import CompareError, compare_runs
from tuneprep.evaluate.review import error_analysis
from tuneprep.io import layout as prep_files
from tuneprep.models import rundir as run_files
from tuneprep.report import EvalView, PrepView, TrainView, render_report


def _read_json(path: Path) -> Any:
    """A JSON document, or None when the file is absent or unreadable (the report leaves its section out)."""
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError, UnicodeDecodeError):
        return None


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    """The JSON objects of a JSON-lines file; unreadable lines are skipped (a report is best effort)."""
    out: list[dict[str, Any]] = []
    try:
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if isinstance(obj, dict):
                    out.append(obj)
    except OSError:
        pass
    return out


def load_eval(d: str | Path, top_k: int = 15) -> EvalView:
    """An eval directory as the report sees it (every file optional but metrics.json)."""
    d = Path(d)
    metrics = _read_json(d / eval_files.METRICS) or {}
    info = _read_json(d / eval_files.INFO) or {}
    preds = _read_jsonl(d / eval_files.PREDICTIONS)
    view = EvalView(dir=d, name=str(info.get("name") or d.resolve().name), metrics=metrics, info=info, preds=preds)
    if view.kind == "classification":
        ea = info.get("error_analysis")
        view.error_analysis = ea if isinstance(ea, dict) else error_analysis(preds, metrics, top_k=top_k)
    return view


def load_prep(d: str | Path) -> PrepView:
    d = Path(d)
    stats, man = _read_json(d / prep_files.STATS), _read_json(d / prep_files.MANIFEST)
    return PrepView(dir=d, stats=stats if isinstance(stats, dict) else None,
                    manifest=man if isinstance(man, dict) else None)


def load_train(d: str | Path) -> TrainView:
    d = Path(d)
    cfg, summary = _read_json(d / run_files.CONFIG), _read_json(d / run_files.METRICS)
    return TrainView(dir=d, log=_read_jsonl(d / run_files.LOG), config=cfg if isinstance(cfg, dict) else {},
                     summary=summary if isinstance(summary, dict) else {})


def build_report(out_html: str | Path, eval_dirs: Sequence[str | Path] = (),
                 compare: Mapping[str, Any] | str | Path | None = None, prep_dir: str | Path | None = None,
                 train_dir: str | Path | None = None, title: str | None = None, top_k: int = 15) -> Path:
    """Write one self-contained HTML report covering eval dirs (e.g. base vs tuned); returns its path.

    ``compare``: a ``compare_runs`` result (or a path to compare.json); when omitted and there
    are several eval dirs on the same test ids, it is computed. ``prep_dir``: a recipe run dir
    (stats.json); ``train_dir``: a training run dir (train_log.jsonl, config.json).
    """
    evals = [load_eval(d, top_k) for d in eval_dirs]
    cmp = _read_json(Path(compare)) if isinstance(compare, (str, Path)) else compare
    if cmp is None and len(evals) >= 2:
        try:
            cmp = compare_runs([e.dir for e in evals])
        except (CompareError, ValueError):
            cmp = None
    return render_report(out_html, evals, cmp, prep=load_prep(prep_dir) if prep_dir else None,
                         train=load_train(train_dir) if train_dir else None, title=title, top_k=top_k)
