"""Models fixtures: the real default model (smollm2-135m) and its tokenizer, loaded once per module."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def lm():
    """(model, tokenizer) of smollm2-135m."""
    from tuneprep.models.registry import load_causal_lm

    return load_causal_lm("smollm2-135m")


@pytest.fixture(scope="module")
def tok():
    """The smollm2-135m tokenizer alone (no model weights loaded)."""
    from tuneprep.models.registry import load_tokenizer

    return load_tokenizer("smollm2-135m")
