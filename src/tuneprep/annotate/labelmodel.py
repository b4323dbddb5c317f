"""Combining several noisy labelers: majority vote and the Dawid–Skene label model (EM, numpy).

Votes are an ``[n_items, n_voters]`` int matrix with ``-1`` for an abstention. Dawid & Skene
(1979) model each voter by a confusion matrix ``theta[j, true, given]`` and the classes by a
prior ``pi``; EM alternates the posterior over true labels (E) and the maximum-likelihood
``pi``/``theta`` (M), starting from the majority-vote posterior, which also fixes the label
permutation. Items with known labels (``-1`` = unknown in ``known``) are clamped, which anchors
the confusion matrices when a few gold labels exist.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class LabelModelResult:
    posterior: np.ndarray  # [n, K]; rows of items with no vote are all zeros
    class_prior: np.ndarray  # [K]
    confusion: np.ndarray  # [m, K, L]: P(voter says l | true k); L = K unless outcomes are richer
    iterations: int
    converged: bool

    def predict(self) -> np.ndarray:
        """Argmax label per item, -1 where no voter voted."""
        pred = self.posterior.argmax(1)
        pred[self.posterior.sum(1) == 0] = -1
        return pred

    def voter_accuracy(self) -> np.ndarray:
        """Each voter's estimated accuracy: sum_k pi_k P(says k | true k) (outcome bins summed)."""
        m, k, n_obs = self.confusion.shape
        per_label = self.confusion.reshape(m, k, k, n_obs // k).sum(3) if n_obs != k else self.confusion
        return np.einsum("k,jkk->j", self.class_prior, per_label)


def _check(votes: np.ndarray, n_classes: int) -> np.ndarray:
    votes = np.asarray(votes)
    if votes.ndim != 2:
        raise ValueError("votes must be a 2-D [items, voters] matrix")
    if votes.size and (votes.min() < -1 or votes.max() >= n_classes):
        raise ValueError(f"votes must be -1 (abstain) or in 0..{n_classes - 1}")
    return votes.astype(int)


def vote_counts(votes: np.ndarray, n_classes: int, weights: np.ndarray | None = None) -> np.ndarray:
    """``[n, K]`` (weighted) count of votes per class."""
    n, m = votes.shape
    counts = np.zeros((n, n_classes))
    for j in range(m):
        mask = votes[:, j] >= 0
        counts[mask, votes[mask, j]] += 1.0 if weights is None else weights[mask, j]
    return counts


def majority_vote(votes: np.ndarray, n_classes: int, tie_break: np.ndarray | None = None) -> np.ndarray:
    """Plurality label per item (-1 when nobody voted, or on a tie without ``tie_break``).

    ``tie_break`` is an optional ``[n, m]`` confidence matrix: ties go to the class with the higher
    summed confidence (and stay -1 if that ties too).
    """
    votes = _check(votes, n_classes)
    counts = vote_counts(votes, n_classes)
    out = np.full(len(votes), -1)
    for i, row in enumerate(counts):
        if row.max() == 0:
            continue
        top = np.flatnonzero(row == row.max())
        if len(top) == 1:
            out[i] = top[0]
        elif tie_break is not None:
            conf = np.zeros(n_classes)
            for j, v in enumerate(votes[i]):
                if v >= 0:
                    conf[v] += tie_break[i, j]
            sub = conf[top]
            if (sub == sub.max()).sum() == 1:
                out[i] = top[int(sub.argmax())]
    return out


def dawid_skene(
    votes: np.ndarray,
    n_classes: int,
    known: np.ndarray | None = None,
    max_iter: int = 200,
    tol: float = 1e-6,
    smoothing: float = 0.01,
    unlabeled_weight: float = 1.0,
    outcomes: np.ndarray | None = None,
    n_outcomes: int | None = None,
) -> LabelModelResult:
    """Fit Dawid–Skene by EM. ``known``: optional ``[n]`` gold labels (-1 unknown) to clamp.

    ``unlabeled_weight`` < 1 down-weights the items without a known label in the M-step
    (semi-supervised EM, Nigam et al. 2000), so that a few gold labels keep anchoring the
    confusion matrices when the unlabeled items vastly outnumber them.

    ``outcomes`` (``[n, m]`` in ``0..n_outcomes-1``, -1 where ``votes`` is -1) lets the confusion
    matrices model a richer observation than the label, e.g. (label, confidence bin): then
    ``confusion`` is ``[m, K, n_outcomes]``. ``votes`` still gives the majority-vote start.
    """
    votes = _check(votes, n_classes)
    n, m = votes.shape
    k = n_classes
    voted = (votes >= 0).any(1)
    counts = vote_counts(votes, k)
    post = np.where(voted[:, None], counts / np.maximum(counts.sum(1, keepdims=True), 1), 0.0)
    clamp = None
    if known is not None:
        known = np.asarray(known, int)
        clamp = known >= 0
        post[clamp] = np.eye(k)[known[clamp]]
    if outcomes is None:
        obs, n_obs = votes, k
    else:
        obs, n_obs = np.asarray(outcomes, int), int(n_outcomes or 0)
        if obs.shape != votes.shape or n_obs < 1 or ((obs >= 0) != (votes >= 0)).any() or obs.max() >= n_obs:
            raise ValueError("outcomes must match votes in shape and abstentions, within 0..n_outcomes-1")
    onehot = np.stack([(obs == c) for c in range(n_obs)], axis=2).astype(float)  # [n, m, L]
    active = post.sum(1) > 0
    converged = False
    iterations = 0
    prior = np.full(k, 1.0 / k)
    theta = np.full((m, k, n_obs), 1.0 / n_obs)
    weight = np.ones(n)
    if clamp is not None and unlabeled_weight != 1.0:
        weight[~clamp] = unlabeled_weight
    for _ in range(max_iter):
        iterations += 1
        # M-step
        wpost = post * weight[:, None]
        prior = wpost[active].sum(0) + smoothing
        prior /= prior.sum()
        theta = np.einsum("ik,ijl->jkl", wpost, onehot) + smoothing
        theta /= theta.sum(2, keepdims=True)
        # E-step
        log_post = np.log(prior)[None, :] + np.einsum("ijl,jkl->ik", onehot, np.log(theta))
        log_post -= log_post.max(1, keepdims=True)
        new = np.exp(log_post)
        new /= new.sum(1, keepdims=True)
        new[~voted] = 0.0
        if clamp is not None:
            new[clamp] = np.eye(k)[known[clamp]]  # type: ignore[index]
        delta = float(np.abs(new - post).max()) if n else 0.0
        post = new
        if delta < tol:
            converged = True
            break
    return LabelModelResult(post, prior, theta, iterations, converged)
