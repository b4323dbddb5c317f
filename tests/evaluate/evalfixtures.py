"""Real predictions on real data without a language model: VADER (a lexicon sentiment model) as an
eval predictor on the Rotten Tomatoes corpus, and a recipe run that splits that corpus."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from tuneprep.models.prompt import ClassifyTemplate


class VaderPredictor:
    """VADER sentiment as label probabilities: a softmax over (-k·compound, log w, +k·compound).

    ``neutral_weight`` w sets how wide the neutral band is (neutral wins when k·|compound| < ln w).
    """

    template = None
    run_dir = None

    def __init__(self, neutral_weight: float = 1.0, k: float = 3.0):
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

        self.sia = SentimentIntensityAnalyzer()
        self.w = neutral_weight
        self.k = k
        self.calls = 0

    def _row(self, text: str) -> dict[str, float]:
        c = self.sia.polarity_scores(text)["compound"]
        raw = {"negative": math.exp(-self.k * c), "neutral": self.w, "positive": math.exp(self.k * c)}
        tot = sum(raw.values())
        return {k: v / tot for k, v in raw.items()}

    def score(self, template: ClassifyTemplate, texts: list[str]) -> np.ndarray:
        self.calls += 1
        return np.array([[self._row(t)[lab] for lab in template.labels] for t in texts])

    def generate(self, messages_list, max_new_tokens):
        self.calls += 1
        out = []
        for msgs in messages_list:
            text = msgs[-1]["content"].split("Text: ", 1)[-1].rsplit("\n\nAnswer", 1)[0]
            row = self._row(text)
            out.append(max(row, key=row.get).capitalize() + ".")
        return out


def make_prep(rt_path: Path, out: Path) -> Path:
    """A real recipe run over the whole RT corpus with a stratified train/val/test split."""
    from tuneprep.engine.local import run_recipe
    from tuneprep.recipe import load_recipe

    recipe = out.parent / f"{out.name}.yaml"
    recipe.write_text(
        f"input:\n  path: {rt_path}\nsteps:\n  - op: clean.unicode\n  - op: filter.length\n    min_words: 5\n"
        "  - op: dedup.exact\nsplit:\n  train: 0.8\n  val: 0.1\n  test: 0.1\n  stratify_by: label\n  seed: 0\n"
        f"output:\n  path: {out}\n"
    )
    run_recipe(load_recipe(recipe), workers=1)
    return out


def make_eval(data: Path, out: Path, predictor, name: str, limit: int | None = 300, method: str = "loglik",
              **kwargs) -> Path:
    from tuneprep.api import EvalConfig, evaluate

    cfg = EvalConfig(model=name, data=str(data), out=str(out), limit=limit, method=method, name=name, **kwargs)
    evaluate(cfg, predictor=predictor, progress=False, log=lambda _m: None)
    return out


_BUILT: dict[str, Path] = {}


def built(key: str, base: Path, rt_path: Path) -> Path:
    """Session cache of the real artefacts the evaluate and report tests share (built once)."""
    if key in _BUILT:
        return _BUILT[key]
    base.mkdir(parents=True, exist_ok=True)
    if key == "prep":
        path = make_prep(rt_path, base / "prep")
    elif key == "vader":
        path = make_eval(built("prep", base, rt_path), base / "eval_vader", VaderPredictor(1.0),
                         "vader")
    elif key == "vader_wide":
        path = make_eval(built("prep", base, rt_path), base / "eval_vader_wide", VaderPredictor(2.0),
                         "vader-wide-neutral")
    else:
        raise KeyError(key)
    _BUILT[key] = path
    return path


def run_cli(*args: str):
    """The real `tuneprep` command in a subprocess."""
    import os
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-m", "tuneprep.cli", *args], capture_output=True, text=True,
                          env={**os.environ})
