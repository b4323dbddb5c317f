"""Dawid–Skene vs majority vote on real human raters (VADER Amazon snippets, 5 rating slots).

The slots are different people on different items (see vader_data), so their judgements of an
item are independent given the item: the setting where the label model should agree with
majority vote. Gold = the mean of all 20 ratings, thresholded.
"""

from __future__ import annotations

import numpy as np
import pytest

from tuneprep.annotate import vader_data
from tuneprep.annotate.labelmodel import dawid_skene, majority_vote

LABS = ["positive", "negative", "neutral"]


@pytest.fixture(scope="module")
def votes_and_gold(vader_dir):
    items = vader_data.load_ratings("amazonReviewSnippets", root=vader_dir)
    gold = np.array([LABS.index(vader_data.mean_to_label(it.mean)) for it in items])
    votes = np.array([[LABS.index(vader_data.rating_to_label(s)) for s in it.ratings[:5]] for it in items])
    return votes, gold


def test_recovers_majority_vote_with_independent_annotators(votes_and_gold):
    votes, gold = votes_and_gold
    mv = majority_vote(votes, 3)
    fit = dawid_skene(votes, 3)
    ds = fit.predict()
    decided = mv >= 0
    assert (ds[decided] == mv[decided]).mean() > 0.98
    assert abs((ds[decided] == gold[decided]).mean() - (mv[decided] == gold[decided]).mean()) < 0.01
    assert fit.converged
    assert np.all(fit.voter_accuracy() > 0.8)


@pytest.mark.parametrize("n_noisy", [1, 2])
def test_beats_majority_vote_when_annotators_are_noisy(votes_and_gold, n_noisy):
    votes, gold = votes_and_gold
    rng = np.random.default_rng(0)
    noisy = votes.copy()
    for j in range(n_noisy):  # these slots answer at random 80% of the time
        flip = rng.random(len(noisy)) < 0.8
        noisy[flip, j] = rng.integers(0, 3, flip.sum())
    mv_acc = (majority_vote(noisy, 3) == gold).mean()  # a tie counts as wrong: it gives no label
    fit = dawid_skene(noisy, 3)
    ds_acc = (fit.predict() == gold).mean()
    assert ds_acc > mv_acc + 0.015, (ds_acc, mv_acc)
    acc = fit.voter_accuracy()
    assert acc[:n_noisy].max() < acc[n_noisy:].min() - 0.2  # the noisy slots are found


def test_abstentions_and_clamping():
    votes = np.array([[0, 0, -1], [1, -1, 1], [-1, -1, -1], [2, 2, 0]])
    fit = dawid_skene(votes, 3, known=np.array([-1, -1, -1, 2]))
    pred = fit.predict()
    assert pred[2] == -1  # nobody voted: no label
    assert pred[0] == 0 and pred[1] == 1 and pred[3] == 2
    with pytest.raises(ValueError, match="-1 \\(abstain\\)"):
        dawid_skene(np.array([[3]]), 3)


def test_majority_tie_break_by_confidence():
    votes = np.array([[0, 1], [0, 1], [0, 0]])
    conf = np.array([[0.9, 0.2], [0.1, 0.8], [0.5, 0.5]])
    assert majority_vote(votes, 2).tolist() == [-1, -1, 0]
    assert majority_vote(votes, 2, tie_break=conf).tolist() == [0, 1, 0]


def test_outcomes_must_match_votes():
    votes = np.array([[0, 1], [1, -1]])
    with pytest.raises(ValueError, match="outcomes must match"):
        dawid_skene(votes, 2, outcomes=np.array([[0, 3], [2, 1]]), n_outcomes=4)
    fit = dawid_skene(votes, 2, outcomes=np.array([[0, 3], [2, -1]]), n_outcomes=4)
    assert fit.confusion.shape == (2, 2, 4)
    assert fit.voter_accuracy().shape == (2,)
