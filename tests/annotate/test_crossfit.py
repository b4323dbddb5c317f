"""Issue 10 item 9: gold labels that fit the ensemble's label model are not scored in sample.

Two real lexicon voters (VADER at two thresholds) label 400 real Rotten Tomatoes records, 100 of
which carry their gold label. Each gold record must be labeled by a model that never saw its own
gold label (5-fold cross-fitting): changing that label cannot change its prediction.
"""

from __future__ import annotations

from tuneprep.annotate.methods import annotate_records
from tuneprep.annotate.report import annotator_report
from tuneprep.datasets import SENTIMENT_LABELS

MEMBERS = [{"method": "lexicon", "name": "vader_005"},
           {"method": "lexicon", "name": "vader_03", "params": {"positive_threshold": 0.3, "negative_threshold": -0.3}}]


def _label(data):
    return annotate_records(data, "ensemble", SENTIMENT_LABELS, {"members": MEMBERS, "combine": "dawid-skene"})


def test_gold_records_are_labeled_out_of_sample(rt_split):
    seeds, held = rt_split
    data = [dict(r) for r in seeds] + [{k: v for k, v in r.items() if k != "label"} for r in held]
    out = _label(data)
    n = len(seeds)
    uses = [r["meta"]["annotation"]["gold_use"] for r in out]
    assert all("without its own gold label" in u and "5-fold" in u for u in uses[:n])
    assert all("fitted with all 100 gold labels" in u for u in uses[n:])
    # Flip gold labels one at a time: a gold record's own prediction never moves.
    for j in (0, 50, 99):  # j = 50 moved under the earlier in-sample scoring
        flipped = [dict(r) for r in data]
        old = flipped[j]["label"]
        flipped[j]["label"] = next(lab for lab in SENTIMENT_LABELS if lab != old)
        again = _label(flipped)
        assert again[j]["meta"]["annotation"]["suggested"] == out[j]["meta"]["annotation"]["suggested"]
    # The report's ensemble figure on the kept gold labels is the out-of-sample one.
    rep = annotator_report(out)
    ens = next(r for r in rep["voters"] if r["voter"] == "ensemble (final)")
    oof = [r["meta"]["annotation"]["suggested"] == s["label"] for r, s in zip(out[:n], seeds)]
    assert ens["accuracy"] == sum(oof) / n
