"""Registry: the offline default models load without a hub; names resolve or fail clearly."""

from __future__ import annotations

import os

import pytest

from tuneprep.models.registry import MODELS, ModelError, list_models, resolve_model


def test_unknown_model_name_is_a_clear_error(tmp_path):
    with pytest.raises(ModelError, match="unknown model 'no-such-model'"):
        resolve_model("no-such-model")
    f = tmp_path / "weights.bin"
    f.write_bytes(b"x")
    with pytest.raises(ModelError, match="a file, not a model directory"):
        resolve_model(str(f))
    with pytest.raises(ModelError, match="no config.json"):
        resolve_model(str(tmp_path))


def test_hub_ids_pass_through_unloaded():
    r = resolve_model("HuggingFaceTB/SmolLM2-135M-Instruct")
    assert (r.kind, r.local, r.path) == ("unknown", False, "HuggingFaceTB/SmolLM2-135M-Instruct")


def test_list_models_names_every_registry_model():
    rows = list_models()
    assert [r["name"] for r in rows] == list(MODELS)
    assert all(r["installed"] == "yes" for r in rows)


@pytest.mark.slow
def test_smollm2_loads_offline_from_the_safetensors_cache():
    from tuneprep.models.registry import converted_dir, load_causal_lm

    assert os.environ.get("HF_HUB_OFFLINE") == "1"
    model, tok = load_causal_lm("smollm2-135m")
    # the converted copy is a plain HF dir: no GGUF quantization config left in it
    cdir = converted_dir(MODELS["smollm2-135m"])
    assert (cdir / "model.safetensors").exists()
    assert "quantization_config" not in (cdir / "config.json").read_text()
    assert model.config.model_type == "llama" and not model.training
    assert tok.pad_token is not None and "<|im_start|>" in tok.chat_template
    assert resolve_model(str(cdir)).kind == "causal"


@pytest.mark.slow
def test_minilm_loads_offline_as_sentence_encoder():
    from tuneprep.models.registry import load_encoder

    enc = load_encoder("minilm-l6")
    emb = enc.encode(["a real sentence", "another one"])
    assert emb.shape == (2, 384)
    assert resolve_model("minilm-l6").kind == "encoder"
    with pytest.raises(ModelError, match="encoder"):
        from tuneprep.models.registry import load_causal_lm

        load_causal_lm("minilm-l6")
