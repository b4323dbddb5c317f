"""``lexicon``: VADER sentiment (vaderSentiment) with configurable compound-score thresholds."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator

from tuneprep.annotate.core import AnnotateError, Vote, texts_of


class LexiconConfig(BaseModel):
    """compound ≥ ``positive_threshold`` → positive; ≤ ``negative_threshold`` → negative; else neutral.

    The label names are configurable so the method fits any label set with these three
    polarities; set ``neutral_label`` to null to abstain in the neutral band instead.
    """

    model_config = ConfigDict(extra="forbid")

    positive_threshold: float = 0.05
    negative_threshold: float = -0.05
    positive_label: str = "positive"
    negative_label: str = "negative"
    neutral_label: str | None = "neutral"

    @model_validator(mode="after")
    def _order(self) -> LexiconConfig:
        if self.negative_threshold >= self.positive_threshold:
            raise ValueError("negative_threshold must be below positive_threshold")
        return self


class LexiconLabeler:
    method = "lexicon"

    def __init__(self, config: LexiconConfig | None = None, labels: list[str] | None = None):
        self.config = config or LexiconConfig()
        c = self.config
        if labels is not None:
            missing = [x for x in (c.positive_label, c.negative_label, c.neutral_label) if x and x not in labels]
            if missing:
                raise AnnotateError(
                    f"lexicon: labels {missing} are not in the label set {labels}; map them with "
                    f"positive_label/negative_label/neutral_label"
                )
        self._analyzer: Any = None

    def setup(self) -> None:
        if self._analyzer is None:
            from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

            self._analyzer = SentimentIntensityAnalyzer()

    def compound(self, texts: list[str]) -> list[float]:
        self.setup()
        return [float(self._analyzer.polarity_scores(t)["compound"]) for t in texts]

    def vote_one(self, compound: float) -> Vote:
        c = self.config
        scores = {"compound": compound}
        if compound >= c.positive_threshold:
            return Vote(c.positive_label, abs(compound), votes={"lexicon": c.positive_label}, scores=scores)
        if compound <= c.negative_threshold:
            return Vote(c.negative_label, abs(compound), votes={"lexicon": c.negative_label}, scores=scores)
        if c.neutral_label is None:
            return Vote(None, 0.0, reason=f"VADER compound {compound:+.3f} is in the neutral band",
                        votes={"lexicon": None}, scores=scores)
        # closer to 0 → more surely neutral
        band = max(c.positive_threshold, -c.negative_threshold)
        conf = 1.0 - min(abs(compound) / band, 1.0) if band > 0 else 1.0
        return Vote(c.neutral_label, conf, votes={"lexicon": c.neutral_label}, scores=scores)

    def label(self, records: list[dict[str, Any]]) -> list[Vote]:
        texts = texts_of(records)
        out = []
        for text, comp in zip(texts, self.compound(texts)):
            if not text.strip():
                out.append(Vote(None, 0.0, reason="empty text", votes={"lexicon": None}))
            else:
                out.append(self.vote_one(comp))
        return out
