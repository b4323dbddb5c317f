"""Sentence embeddings for annotation (kNN, label issues), with an on-disk cache.

The encoder comes from the model registry (``tuneprep.models.registry.load_encoder``). Embeddings are
L2-normalised and cached per (model, text) in a SQLite file under the tuneprep cache, since
encoding is the slow part on CPU and the same corpus is embedded again and again.
"""

from __future__ import annotations

import hashlib
import sqlite3
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from tuneprep.datasets import cache_dir
from tuneprep.models.registry import load_encoder as registry_load_encoder

DEFAULT_ENCODER = "minilm-l6"


@lru_cache(maxsize=2)
def load_encoder(name: str = DEFAULT_ENCODER) -> Any:
    """A SentenceTransformer for ``name`` (registry name, local directory or hub id), kept per process."""

    return registry_load_encoder(name)


def _cache_db(model: str) -> Path:
    d = cache_dir() / "embeddings"
    d.mkdir(parents=True, exist_ok=True)
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in model)
    return d / f"{safe}.sqlite"


def _key(text: str) -> bytes:
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()


def encode(texts: list[str], model: str = DEFAULT_ENCODER, batch_size: int = 64,
           cache: bool = True) -> np.ndarray:
    """``[n, dim]`` float32 unit vectors for ``texts`` (cached on disk when ``cache``)."""
    if not texts:
        return np.zeros((0, 0), np.float32)
    keys = [_key(t) for t in texts]
    found: dict[bytes, np.ndarray] = {}
    con = None
    if cache:
        con = sqlite3.connect(_cache_db(model), timeout=60)
        con.execute("CREATE TABLE IF NOT EXISTS emb (k BLOB PRIMARY KEY, v BLOB)")
        uniq = list(dict.fromkeys(keys))
        for i in range(0, len(uniq), 500):
            chunk = uniq[i:i + 500]
            q = f"SELECT k, v FROM emb WHERE k IN ({','.join('?' * len(chunk))})"
            for k, v in con.execute(q, chunk):
                found[k] = np.frombuffer(v, dtype=np.float32)
    todo = {k: t for k, t in zip(keys, texts) if k not in found}
    if todo:
        enc = load_encoder(model)
        vecs = enc.encode(list(todo.values()), batch_size=batch_size, normalize_embeddings=True,
                          convert_to_numpy=True, show_progress_bar=False).astype(np.float32)
        # Normalised again in float32: a static model (minilm-l6-static) normalises in float16
        # (norms off by ~1e-3, cosines above 1), and gives NaN for a text without a known token
        # (an empty mean): such a text gets the zero vector (similar to nothing).
        norms = np.linalg.norm(vecs, axis=1, keepdims=True)
        vecs = np.divide(vecs, norms, out=np.zeros_like(vecs), where=np.isfinite(norms) & (norms > 0))
        for k, v in zip(todo, vecs):
            found[k] = v
        if con is not None:
            con.executemany("INSERT OR REPLACE INTO emb VALUES (?, ?)", [(k, v.tobytes()) for k, v in zip(todo, vecs)])
            con.commit()
    if con is not None:
        con.close()
    return np.stack([found[k] for k in keys])
