"""bf16 label scoring that keeps fp32's predictions: close calls are re-scored in fp32.

On a CPU with bf16 matrix units (Intel AMX, AVX512-BF16) a bf16 copy of a causal LM scores
labels several times faster than fp32, but rounding moves each label's log-likelihood a little
(on RT with smollm2-135m, by up to about 0.2 nats; ``benchmarks/eval_bf16.py`` measures it). A
prediction can only flip where the two best labels were closer than that, so
:func:`close_calls` picks the records whose bf16 margin (log-probability of the best label minus
the second) is under ``margin`` and the caller re-scores just those with the fp32 model. The
output head stays fp32 (:func:`bf16_copy`): rounding the logits to bf16 was the larger error and
made exact ties.
"""

from __future__ import annotations

import copy
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

BF16_MARGIN = 0.2
"""Default margin (nats) under which a bf16 prediction is re-scored in fp32."""


def bf16_supported() -> bool:
    """Whether this CPU has bf16 matrix instructions (without them bf16 is emulated and slower)."""
    import torch

    cpu = getattr(torch, "cpu", None)
    probes = [getattr(cpu, n, None) for n in ("_is_amx_tile_supported", "_is_avx512_bf16_supported")]
    return any(p is not None and p() for p in probes)


def bf16_copy(model: Any) -> Any:
    """A bf16 copy of ``model`` for scoring, its output projection kept in fp32.

    The copy's head is a separate fp32 ``Linear`` (untied from the input embeddings, which are
    bf16 like the rest); the scorer casts the final hidden states to the head's dtype.
    """
    import torch

    from tuneprep.models.loglik import backbone_and_head

    if next(model.parameters()).device.type == "cpu" and not bf16_supported():
        warnings.warn("--bf16: this CPU has no bf16 matrix instructions (AMX / AVX512-BF16); "
                      "bf16 is emulated and slower than fp32 here", stacklevel=2)
    low = copy.deepcopy(model).to(torch.bfloat16)
    split = backbone_and_head(low)
    if split is not None and isinstance(split[1], torch.nn.Linear):
        old = split[1]
        head = torch.nn.Linear(old.in_features, old.out_features, bias=old.bias is not None)
        src = backbone_and_head(model)[1]  # type: ignore[index]
        head.load_state_dict({k: v.detach().float() for k, v in src.state_dict().items()})
        low.set_output_embeddings(head.to(next(model.parameters()).device))
    return low.eval()


def close_calls(probs: np.ndarray, margin: float) -> np.ndarray:
    """Row indices whose two best labels are within ``margin`` nats (all rows for one label)."""
    if probs.shape[0] == 0:
        return np.zeros(0, dtype=np.int64)
    if probs.shape[1] < 2:
        return np.arange(probs.shape[0])
    logp = np.log(np.clip(probs, 1e-300, None))
    top2 = np.sort(logp, axis=1)[:, -2:]
    return np.flatnonzero(top2[:, 1] - top2[:, 0] < margin)


@dataclass
class PrecisionStats:
    """What the bf16 path did in one evaluation (``metrics.json`` ``precision``)."""

    margin: float
    records: int = 0
    rescored_fp32: int = 0

    def add(self, other: PrecisionStats) -> None:
        self.records += other.records
        self.rescored_fp32 += other.rescored_fp32

    def to_dict(self) -> dict[str, Any]:
        return {"scoring": "bf16, fp32 re-score under the margin", "margin": self.margin,
                "records": self.records, "rescored_fp32": self.rescored_fp32,
                "rescored_share": round(self.rescored_fp32 / self.records, 4) if self.records else 0.0}
