"""dedup.semantic on real paraphrases (MRPC): what embeddings catch that MinHash does not."""

from __future__ import annotations

import pytest

from tuneprep.ops.base import Item, build_op


def _mrpc_pairs(shared_data, n):
    rows = []
    for line in (shared_data / "mrpc" / "train.txt").read_text(encoding="utf-8").splitlines()[1:]:
        cols = line.split("\t")
        if len(cols) == 5:
            rows.append((cols[0] == "1", cols[3].replace("<QUOTE>", '"'), cols[4].replace("<QUOTE>", '"')))
    return rows[:n]


def _run(op_name, params, texts):
    op = build_op(op_name, params)
    op.setup()
    items = [Item(f"mrpc:{i}", {"id": f"s{i}", "text": t}) for i, t in enumerate(texts)]
    return [(it.record, d) for it, d in op.apply_global(lambda: iter(items))]


@pytest.mark.slow
def test_semantic_finds_paraphrases_minhash_misses(shared_data):
    pairs = _mrpc_pairs(shared_data, 120)
    texts = [t for _, a, b in pairs for t in (a, b)]
    sem = _run("dedup.semantic", {"threshold": 0.9}, texts)
    mh = _run("dedup.minhash", {}, texts)
    assert len(sem) == len(mh) == len(texts)  # one outcome per record, in input order
    assert [r["id"] for r, _ in sem] == [f"s{i}" for i in range(len(texts))]

    def found(results):
        dup_of = {r["id"]: d.detail["duplicate_of"] for r, d in results if d is not None}
        return {k for k in range(len(pairs)) if dup_of.get(f"s{2 * k + 1}") == f"s{2 * k}"}

    sem_found, mh_found = found(sem), found(mh)
    paraphrase = {k for k, (label, _, _) in enumerate(pairs) if label}
    only_sem = (sem_found - mh_found) & paraphrase
    assert len(only_sem) >= 5  # reworded sentences: few shared 5-grams, same meaning
    assert len(sem_found & paraphrase) >= 0.7 * len(sem_found)  # mostly real paraphrases
    for r, d in sem:
        if d is not None:
            assert d.reason == "semantic_duplicate" and d.detail["similarity"] >= 0.9
            assert d.detail["similarity_kind"] == "cosine"
        elif "dedup" in r.get("meta", {}):
            assert r["meta"]["dedup"]["cluster"] == r["id"]
