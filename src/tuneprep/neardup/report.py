"""``tuneprep inspect --near-dups``: the near-duplicate rate of a file and its largest clusters.

Texts are read as ``tuneprep inspect`` reads them (the text field it chose, or the user/assistant
turns of chat rows) and clustered with ``dedup.minhash``'s machinery (word 5-grams, or character
n-grams, Jaccard >= threshold, similarities verified exactly). The rate is the share of texts that
``dedup.minhash`` would reject: the members of a cluster other than its first.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from tuneprep.neardup.cluster import MinHashConfig, cluster_texts
from tuneprep.neardup.minhash import record_content


def _texts(files: Iterable[str], fmt: str | None, text_field: str) -> tuple[list[str], list[str]]:
    from tuneprep.io.converters import convert_row, detect_style
    from tuneprep.io.readers import detect_format, read_rows

    texts: list[str] = []
    sources: list[str] = []
    for path in files:
        for row in read_rows(path, fmt or detect_format(path)):
            obj = row.obj
            if row.error is not None or not isinstance(obj, dict):
                continue
            text = obj.get(text_field)
            if not isinstance(text, str):
                style = detect_style(obj) if text_field == "messages" or "text" not in obj else None
                if style is None:
                    continue
                try:
                    text = record_content(convert_row(obj, style))
                except Exception:  # noqa: BLE001 - a broken conversation has no text to compare
                    continue
            texts.append(text)
            sources.append(f"{path}:{row.line}")
    return texts, sources


def near_duplicates(paths: str | Path | Iterable[str | Path], fmt: str | None = None, text_field: str = "text",
                    threshold: float = 0.7, char_ngrams: int | None = None, top: int = 5,
                    examples: int = 3) -> dict[str, Any]:
    """Near-duplicate rate, cluster count and the ``top`` largest clusters with ``examples`` texts each."""
    from tuneprep.io.readers import expand_inputs

    if isinstance(paths, (str, Path)):
        paths = [paths]
    files = expand_inputs([str(p) for p in paths])
    texts, sources = _texts(files, fmt, text_field)
    cfg = MinHashConfig(ngram=char_ngrams or 5, unit="char" if char_ngrams else "word", threshold=threshold,
                        verify=True)
    labels = cluster_texts(texts, cfg) if texts else np.zeros(0, np.int64)
    sizes = np.bincount(labels, minlength=len(texts)) if len(texts) else np.zeros(0, np.int64)
    multi = np.flatnonzero(sizes > 1)
    removable = int((sizes[multi] - 1).sum())
    biggest = multi[np.argsort(-sizes[multi], kind="stable")][:top]
    clusters = []
    for root in biggest:
        members = np.flatnonzero(labels == root)
        clusters.append({"size": int(sizes[root]),
                         "examples": [{"source": sources[i], "text": texts[i][:300]} for i in members[:examples]]})
    return {"method": cfg.describe(), "texts": len(texts), "clusters": int(len(multi)),
            "in_clusters": int(sizes[multi].sum()), "near_duplicates": removable,
            "rate": round(removable / len(texts), 4) if texts else 0.0, "largest": clusters}


def render(r: dict[str, Any]) -> Any:
    """Rich renderables for the report."""
    from rich.console import Group
    from rich.table import Table

    head = Table(title="near-duplicates", title_justify="left", show_header=False)
    head.add_row("method", r["method"])
    head.add_row("near-duplicates", f"{r['near_duplicates']:,} of {r['texts']:,} texts ({r['rate']:.2%}) would be "
                                    f"removed by dedup.minhash; {r['clusters']:,} clusters hold {r['in_clusters']:,} texts")
    parts: list[Any] = [head]
    if r["largest"]:
        t = Table(title="largest clusters", title_justify="left")
        t.add_column("size", justify="right")
        t.add_column("source")
        t.add_column("text")
        for c in r["largest"]:
            for k, ex in enumerate(c["examples"]):
                t.add_row(f"{c['size']:,}" if k == 0 else "", Path(ex["source"]).name, ex["text"][:160])
        parts.append(t)
    return Group(*parts)
