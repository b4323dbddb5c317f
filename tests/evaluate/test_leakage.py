"""Leakage detection on real records: Rotten Tomatoes' own duplicates, and planted near-duplicates."""

from __future__ import annotations

import orjson
import pytest

from tuneprep.evaluate.leakage import _jaccard, _shingle_hashes, check_leakage, normalize_text


@pytest.fixture(scope="module")
def rt(rt_path):
    return [orjson.loads(x) for x in rt_path.read_bytes().splitlines()]


def test_finds_the_corpus_own_exact_duplicates(rt):
    test, train = rt[:7000], rt[7000:]
    rep = check_leakage(test, train)
    by_id = {r["id"]: r for r in rt}
    # RT repeats some snippets verbatim across movies: each reported pair really is the same text
    assert len(rep.exact) >= 20
    for t, r in rep.exact:
        assert normalize_text(by_id[t]["text"]) == normalize_text(by_id[r]["text"])
    # and every test text that occurs in train is reported (brute force over normalised text)
    train_texts = {normalize_text(r["text"]) for r in train}
    expected = {r["id"] for r in test if normalize_text(r["text"]) in train_texts}
    assert {t for t, _ in rep.exact} == expected
    assert rep.near == []  # nothing else in RT is that close


def test_planted_near_duplicates_are_found_with_their_source(rt):
    train = rt[2000:]
    base = rt[:300]
    long = [r for r in train if len(r["text"].split()) >= 25][:12]
    planted = []
    for i, r in enumerate(long[:6]):  # light edits: drop the last word, change case and punctuation
        words = r["text"].split()
        planted.append({"id": f"near-{i}", "text": " ".join(words[:-1]).upper(), "src": r["id"]})
    for i, r in enumerate(long[6:9]):  # exact after normalisation
        planted.append({"id": f"exact-{i}", "text": "  " + r["text"].replace(",", " ,") + "!!", "src": r["id"]})
    rep = check_leakage(base + planted, train)
    exact = dict(rep.exact)
    near = {t: (s, j) for t, s, j in rep.near}
    for p in planted:
        if p["id"].startswith("exact"):
            assert exact[p["id"]] == p["src"]
        else:
            assert near[p["id"]][0] == p["src"] and near[p["id"]][1] >= 0.8
    assert rep.count == 9 + len({t for t, _ in rep.exact if not t.startswith(("near", "exact"))})
    assert rep.to_dict()["overlap_count"] == rep.count


def test_minhash_misses_no_pair_above_threshold(rt):
    # brute-force Jaccard over a real sample with a few edited copies: MinHash+LSH recall is complete
    train = rt[3000:4000]
    test = rt[:80] + [{"id": f"edit-{i}", "text": r["text"].rsplit(" ", 2)[0]} for i, r in enumerate(train[::100])]
    rep = check_leakage(test, train, threshold=0.8)
    found = {t for t, *_ in rep.near} | {t for t, _ in rep.exact}
    sh_train = [set(_shingle_hashes(normalize_text(r["text"])).tolist()) for r in train]
    for r in test:
        sh = set(_shingle_hashes(normalize_text(r["text"])).tolist())
        best = max(len(sh & s) / len(sh | s) for s in sh_train)
        assert (best >= 0.8) == (r["id"] in found), r["id"]
    assert any(t.startswith("edit-") for t in found)


def test_exact_jaccard_helper():
    a = _shingle_hashes("abcdefgh")  # 4 shingles
    b = _shingle_hashes("abcdefgx")  # 3 shared
    assert _jaccard(a, b) == 3 / 5
