"""The ``probe`` method: a logistic regression on frozen sentence embeddings (``minilm-l6``).

The cheapest honest learner for an ablation on a CPU: the pool's embeddings are computed once
(``annotate.embed`` caches them per text), after which a cell trains in about a second, so many
variants × budgets × seeds fit where fine-tuning would take hours. It plugs into ``evaluate`` as a
``Predictor`` so its predictions, metrics and comparisons are those of every other model.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tuneprep.models.prompt import ClassifyTemplate


class ProbePredictor:
    """Logistic regression on ``encode(text)``; ``score`` gives probabilities in ``template.labels`` order."""

    run_dir = None

    def __init__(self, model: str, labels: list[str], seed: int = 0, c: float = 1.0):
        self.model, self.seed, self.c = model, seed, c
        self.template = ClassifyTemplate(labels=labels)
        self.clf: Any = None

    def fit(self, texts: list[str], labels: list[str]) -> ProbePredictor:
        from sklearn.linear_model import LogisticRegression

        from tuneprep.annotate.embed import encode

        self.clf = LogisticRegression(C=self.c, max_iter=2000, random_state=self.seed)
        self.clf.fit(encode(texts, self.model), labels)
        return self

    def score(self, template: ClassifyTemplate, texts: list[str]) -> np.ndarray:
        from tuneprep.annotate.embed import encode

        p = self.clf.predict_proba(encode(texts, self.model))
        out = np.zeros((len(texts), len(template.labels)))
        col = {lab: j for j, lab in enumerate(template.labels)}
        for k, lab in enumerate(self.clf.classes_):  # a class absent from training keeps probability 0
            if lab in col:
                out[:, col[lab]] = p[:, k]
        return out

    def generate(self, messages_list: list[list[dict[str, str]]], max_new_tokens: int) -> list[str]:
        raise NotImplementedError("a probe classifies; it cannot generate")
