"""Optional int8 inference on CPU: PyTorch dynamic quantisation of every ``nn.Linear``.

Weights are stored as int8 (per-output-channel scales), activations are quantised on the fly
per batch; embeddings, norms and attention arithmetic stay fp32. Used by ``tuneprep eval
--quantize int8``; the accuracy change is measured, never assumed (benchmarks/eval_backends.py
scores the same records with and without it and reports the agreement).
"""

from __future__ import annotations

from typing import Any, Literal

Quantize = Literal["int8"]


def quantize_model(model: Any, mode: Quantize | None) -> Any:
    """The model with its Linear layers dynamically quantised to int8 (CPU only), or unchanged for None."""
    if mode is None:
        return model
    if mode != "int8":
        raise ValueError(f"unknown quantisation {mode!r}: use int8")
    import torch

    if next(model.parameters()).device.type != "cpu":
        raise ValueError("--quantize int8 is dynamic quantisation for CPU; the model is on "
                         f"{next(model.parameters()).device}")
    import warnings

    with warnings.catch_warnings():  # torch.ao.quantization announces its move to torchao
        warnings.simplefilter("ignore")
        return torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
