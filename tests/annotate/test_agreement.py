"""Agreement statistics against the reference implementations, on real rater data and edge cases."""

from __future__ import annotations

import random
import warnings

import numpy as np
import pytest

from tuneprep.annotate import vader_data
from tuneprep.annotate.agreement import (
    AgreementError,
    agreement_report,
    build_judgements,
    consensus,
    load_judgements,
)

TOL = 1e-6


def _matrix(j, annotators=None):
    """raters × items array with NaN for missing, labels coded as in the judgements."""
    anns = annotators or j.annotators
    items = list(j.by_item)
    code = {lab: i for i, lab in enumerate(j.labels)}
    m = np.full((len(anns), len(items)), np.nan)
    for c, it in enumerate(items):
        for r, a in enumerate(anns):
            if a in j.by_item[it]:
                lab = j.by_item[it][a]
                m[r, c] = lab if j.level != "nominal" else code[lab]
    return m


def _kripp(j):
    import krippendorff

    return krippendorff.alpha(reliability_data=_matrix(j), level_of_measurement=j.level)


@pytest.fixture(scope="module")
def amazon_rows(vader_dir):
    return vader_data.judgements("amazonReviewSnippets", scale="raw", limit=1500, root=vader_dir)


@pytest.mark.parametrize("level", ["nominal", "ordinal", "interval"])
def test_krippendorff_matches_package_on_vader_raw_ratings(amazon_rows, level):
    j = build_judgements(amazon_rows, level)
    ours = agreement_report(j)["krippendorff_alpha"]
    assert ours == pytest.approx(_kripp(j), abs=TOL)
    assert 0.0 < ours < 1.0


def test_fleiss_and_cohen_match_references_on_vader_signs(vader_dir):
    from sklearn.metrics import cohen_kappa_score
    from statsmodels.stats.inter_rater import aggregate_raters, fleiss_kappa

    slots = {f"slot{i}" for i in range(10)}
    rows = [r for r in vader_data.judgements("amazonReviewSnippets", scale="sign", limit=600, root=vader_dir)
            if r["annotator"] in slots]
    j = build_judgements(rows, "nominal")
    rep = agreement_report(j)
    assert rep["n_items"] == 600 and rep["n_annotators"] == 10
    m = _matrix(j).astype(int)  # complete: 10 ratings per item
    table, _ = aggregate_raters(m.T)
    assert rep["fleiss_kappa"] == pytest.approx(fleiss_kappa(table, method="fleiss"), abs=TOL)
    pairs = rep["pairs"]
    assert len(pairs) == 45
    ref = []
    for p in pairs:
        a, b = (j.annotators.index(x) for x in p["annotators"])
        k = cohen_kappa_score(m[a], m[b], labels=list(range(len(j.labels))))
        assert p["kappa"] == pytest.approx(k, abs=TOL)
        ref.append(k)
    assert rep["cohen_kappa"] == pytest.approx(np.mean(ref), abs=TOL)
    assert rep["krippendorff_alpha"] == pytest.approx(_kripp(j), abs=TOL)
    # percent agreement by its definition: agreeing judgement pairs per item, averaged
    pa = np.mean([sum((row == v).sum() * ((row == v).sum() - 1) for v in set(row)) / (10 * 9) for row in m.T])
    assert rep["percent_agreement"] == pytest.approx(pa, abs=TOL)


@pytest.mark.parametrize("level,weights", [("ordinal", "linear"), ("interval", "quadratic")])
def test_weighted_cohen_matches_sklearn(amazon_rows, level, weights):
    from sklearn.metrics import cohen_kappa_score

    j = build_judgements([r for r in amazon_rows if r["annotator"] in ("slot0", "slot1", "slot2")], level)
    m = _matrix(j)
    codes = {v: i for i, v in enumerate(j.labels)}
    coded = np.vectorize(codes.get)(m)
    for p in agreement_report(j)["pairs"]:
        a, b = (j.annotators.index(x) for x in p["annotators"])
        ref = cohen_kappa_score(coded[a], coded[b], labels=list(range(len(j.labels))), weights=weights)
        assert p["kappa"] == pytest.approx(ref, abs=TOL)


def test_unequal_rater_counts_and_missing_judgements(vader_dir):
    """Tweets have 20 to 99 ratings per item; then drop 30% of the judgements at random."""
    rows = vader_data.judgements("tweets", scale="raw", limit=400, root=vader_dir)
    rng = random.Random(1)
    kept = [r for r in rows if rng.random() > 0.3]
    for level in ("nominal", "interval"):
        j = build_judgements(kept, level)
        rep = agreement_report(j)
        assert rep["fleiss_kappa"] is None
        assert "same number" in rep["fleiss_kappa_note"]
        assert rep["krippendorff_alpha"] == pytest.approx(_kripp(j), abs=TOL)
    # Fleiss on the equal-count subset equals statsmodels on exactly those items
    from statsmodels.stats.inter_rater import fleiss_kappa

    j = build_judgements(rows, "nominal")
    sub = agreement_report(j)["fleiss_kappa_subset"]
    items = [per for per in j.by_item.values() if len(per) == sub["n_raters_per_item"]]
    table = np.array([[list(per.values()).count(lab) for lab in j.labels] for per in items])
    assert sub["value"] == pytest.approx(fleiss_kappa(table), abs=TOL)
    # Cohen on pairs with partial overlap uses only the shared items
    from sklearn.metrics import cohen_kappa_score

    jm = build_judgements(kept, "nominal")
    p = agreement_report(jm)["pairs"][0]
    a, b = p["annotators"]
    common = [it for it, per in jm.by_item.items() if a in per and b in per]
    assert p["n_items"] == len(common)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = cohen_kappa_score([str(jm.by_item[i][a]) for i in common], [str(jm.by_item[i][b]) for i in common],
                                labels=[str(x) for x in jm.labels])
    assert p["kappa"] == pytest.approx(ref, abs=TOL)


def test_one_annotator():
    j = build_judgements([{"item": i, "annotator": "ann", "label": lab} for i, lab in enumerate("abba")])
    rep = agreement_report(j)
    assert rep["n_annotators"] == 1
    assert rep["percent_agreement"] is None
    assert rep["cohen_kappa"] is None and rep["pairs"] == []
    assert rep["fleiss_kappa"] is None and "at least 2" in rep["fleiss_kappa_note"]
    assert rep["krippendorff_alpha"] is None


def test_all_agree():
    rows = [{"item": i, "annotator": a, "label": "pos"} for i in range(5) for a in ("x", "y", "z")]
    rep = agreement_report(build_judgements(rows))
    assert rep["percent_agreement"] == 1.0
    # chance agreement is 1: every reference returns nan (or raises); we say undefined
    assert rep["cohen_kappa"] is None and "undefined" in rep["pairs"][0]["note"]
    assert rep["fleiss_kappa"] is None and "undefined" in rep["fleiss_kappa_note"]
    assert rep["krippendorff_alpha"] is None


def test_all_agree_with_variation_across_items():
    from sklearn.metrics import cohen_kappa_score

    rows = [{"item": i, "annotator": a, "label": lab} for i, lab in enumerate("ppnnu") for a in ("x", "y")]
    rep = agreement_report(build_judgements(rows))
    assert rep["cohen_kappa"] == pytest.approx(cohen_kappa_score(list("ppnnu"), list("ppnnu")))
    assert rep["fleiss_kappa"] == pytest.approx(1.0)
    assert rep["krippendorff_alpha"] == pytest.approx(1.0)


def test_bad_input_is_named(tmp_path):
    with pytest.raises(AgreementError, match="row 2: missing field 'annotator'"):
        build_judgements([{"item": 1, "annotator": "a", "label": "x"}, {"item": 1, "label": "y"}])
    with pytest.raises(AgreementError, match="row 2: annotator 'a' judged item '1' twice"):
        build_judgements([{"item": 1, "annotator": "a", "label": "x"}, {"item": 1, "annotator": "a", "label": "y"}])
    with pytest.raises(AgreementError, match="not a number"):
        build_judgements([{"item": 1, "annotator": "a", "label": "good"}], level="interval")
    j = build_judgements([{"item": 1, "annotator": "a", "label": "low"}, {"item": 1, "annotator": "b", "label": "high"}],
                         level="ordinal", order=["low", "mid", "high"])
    assert j.labels == [0, 2]
    p = tmp_path / "j.jsonl"
    p.write_text('{"item": 1, "annotator": "a", "label": "x"}\n{"item": 1, "annotator": "b"\n')
    with pytest.raises(AgreementError, match=r"j.jsonl:2"):
        load_judgements(p)


def test_consensus_on_real_ratings(vader_dir):
    rows = vader_data.judgements("nytEditorialSnippets", scale="sign", limit=50, root=vader_dir)
    j = build_judgements(rows)
    cons = consensus(j)
    assert len(cons) == 50
    for c in cons:
        info = c["meta"]["consensus"]
        per = j.by_item[c["id"]]
        assert info["n_judgements"] == len(per) == 20
        assert info["agreement"] == max(list(per.values()).count(v) for v in set(per.values())) / 20
        assert c["label"] in ("positive", "negative", "neutral")


def test_rater_slots_are_not_stable_raters_in_amazon(vader_dir):
    """Why the VADER slots are only used for identity-free statistics: in the Amazon corpus the
    per-slot bias is what shuffling ratings within items gives (no rater identity)."""
    res = vader_data.rater_position_test("amazonReviewSnippets", n_perm=50, root=vader_dir)
    assert res["ratio"] < 1.5
