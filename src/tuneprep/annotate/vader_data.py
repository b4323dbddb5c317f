"""Loaders for VADER's human ratings (Hutto & Gilbert, ICWSM 2014) as tuneprep data.

``<corpus>_anonDataRatings.txt``: id, mean, sd, per-rater scores in [-4, 4] (a Python-style list);
``<corpus>_GroundTruth.txt``: id, mean, text. CRLF line ends; some files start with a BOM.

Raters are anonymous and each list is per item: position *i* in one item's list is not known
to be the same person as position *i* in another. ``rater_position_test`` measures whether the
positions carry a stable rater bias; ``judgements`` names annotators ``slot<i>`` and says so.
Measured: in ``tweets`` 196 of 4,200 items have a GroundTruth mean that differs from the mean of
their listed ratings (e.g. id 2: 1.443 vs 2.263); the other corpora agree exactly. ``gold_records``
uses the GroundTruth file (it is what VADER's authors published as gold).

The identity-free statistics (percent agreement, Fleiss' kappa, Krippendorff's alpha) depend
only on each item's multiset of ratings, so they are valid whatever the slots mean; pairwise
Cohen's kappa is only meaningful if slots are raters.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tuneprep.datasets import vader_ground_truth_dir

CORPORA = ("tweets", "movieReviewSnippets", "amazonReviewSnippets", "nytEditorialSnippets")


@dataclass
class RatedItem:
    id: str
    mean: float
    sd: float
    ratings: list[int]


def _corpus_dir(root: Path | None) -> Path:
    if root is not None:
        return Path(root)
    return vader_ground_truth_dir()


def _check_corpus(corpus: str) -> None:
    if corpus not in CORPORA:
        raise ValueError(f"unknown VADER corpus {corpus!r}; one of {', '.join(CORPORA)}")


def _tab_rows(path: Path, maxsplit: int) -> Iterator[tuple[int, list[str]]]:
    """(line number, tab-split fields) of each non-blank line; BOM and CRLF tolerated."""
    with open(path, encoding="utf-8-sig", newline="") as fh:
        for n, line in enumerate(fh, 1):
            line = line.rstrip("\r\n")
            if line.strip():
                yield n, line.split("\t", maxsplit)


def load_ratings(corpus: str, root: Path | None = None) -> list[RatedItem]:
    """Per-item raw ratings of one corpus. Errors name the file and line."""
    _check_corpus(corpus)
    path = _corpus_dir(root) / f"{corpus}_anonDataRatings.txt"
    out = []
    for n, parts in _tab_rows(path, maxsplit=-1):
        if len(parts) != 4:
            raise ValueError(f"{path}:{n}: expected 4 tab-separated fields, got {len(parts)}")
        try:
            ratings = [int(x) for x in ast.literal_eval(parts[3])]
            out.append(RatedItem(parts[0], float(parts[1]), float(parts[2]), ratings))
        except (ValueError, SyntaxError) as e:
            raise ValueError(f"{path}:{n}: cannot parse ratings: {e}") from None
    return out


def load_ground_truth(corpus: str, root: Path | None = None) -> list[dict[str, Any]]:
    """``{id, text, mean}`` per snippet of one corpus."""
    _check_corpus(corpus)
    path = _corpus_dir(root) / f"{corpus}_GroundTruth.txt"
    out = []
    for n, parts in _tab_rows(path, maxsplit=2):
        if len(parts) != 3:
            raise ValueError(f"{path}:{n}: expected id, mean, text; got {len(parts)} fields")
        try:
            mean = float(parts[1])
        except ValueError:
            raise ValueError(f"{path}:{n}: mean {parts[1]!r} is not a number") from None
        out.append({"id": f"{corpus}:{parts[0]}", "text": parts[2], "mean": mean})
    return out


def mean_to_label(mean: float, threshold: float = 0.5) -> str:
    """Gold sentiment from a mean rating on [-4, 4]: > threshold positive, < -threshold negative."""
    if mean > threshold:
        return "positive"
    if mean < -threshold:
        return "negative"
    return "neutral"


def gold_records(corpus: str, threshold: float = 0.5, root: Path | None = None) -> list[dict[str, Any]]:
    """Snippets as records ``{id, text, label, meta.vader_mean}`` with the thresholded mean as gold."""
    return [
        {"id": r["id"], "text": r["text"], "label": mean_to_label(r["mean"], threshold),
         "meta": {"vader_mean": r["mean"]}}
        for r in load_ground_truth(corpus, root)
    ]


def rating_to_label(score: int) -> str:
    """One rater's score on [-4, 4] as a sentiment label (its sign)."""
    return "positive" if score > 0 else "negative" if score < 0 else "neutral"


def judgements(
    corpus: str, scale: str = "raw", limit: int | None = None, root: Path | None = None
) -> list[dict[str, Any]]:
    """Long-format judgements ``{item, annotator, label}``; annotators are slot positions ``slot<i>``.

    ``scale="raw"`` keeps the integer score (for ordinal/interval agreement); ``"sign"`` maps it
    to positive/negative/neutral (nominal).
    """
    rows = []
    for it in load_ratings(corpus, root)[:limit]:
        for i, score in enumerate(it.ratings):
            label: Any = score if scale == "raw" else rating_to_label(score)
            rows.append({"item": f"{corpus}:{it.id}", "annotator": f"slot{i}", "label": label})
    return rows


def rater_position_test(corpus: str, n_perm: int = 200, seed: int = 0, root: Path | None = None) -> dict[str, Any]:
    """Do list positions behave like stable raters? Compare the spread of per-position bias
    (mean of rating minus item mean, over items) with its spread when ratings are shuffled
    within items. A ratio near 1 means positions carry no rater identity."""
    import numpy as np

    items = load_ratings(corpus, root)
    m = min(len(it.ratings) for it in items)
    a = np.array([it.ratings[:m] for it in items], float)
    resid = a - a.mean(1, keepdims=True)
    observed = float(resid.mean(0).std())
    rng = np.random.default_rng(seed)
    null = [float(rng.permuted(resid, axis=1).mean(0).std()) for _ in range(n_perm)]
    return {"corpus": corpus, "positions": m, "bias_sd": observed, "null_sd": float(np.mean(null)),
            "ratio": observed / float(np.mean(null)), "z": (observed - float(np.mean(null))) / float(np.std(null))}
