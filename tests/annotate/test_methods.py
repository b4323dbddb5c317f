"""Each annotation method on real data (VADER ground truth, Rotten Tomatoes)."""

from __future__ import annotations

import pytest

from tuneprep.annotate import vader_data
from tuneprep.annotate.core import AnnotateError
from tuneprep.annotate.methods import annotate_records
from tuneprep.datasets import SENTIMENT_LABELS


def macro_f1(gold, pred):
    from sklearn.metrics import f1_score

    return f1_score(gold, [p if p is not None else "__none__" for p in pred], labels=sorted(set(gold)),
                    average="macro", zero_division=0)


def _unlabeled(records):
    return [{k: v for k, v in r.items() if k != "label"} for r in records]


def test_lexicon_on_vader_tweets(vader_dir):
    """VADER on the tweets its authors had rated: gold = mean rating thresholded at ±0.5."""
    recs = vader_data.gold_records("tweets", root=vader_dir)[:600]
    out = annotate_records(_unlabeled(recs), "lexicon", SENTIMENT_LABELS)
    pred = [r.get("label") for r in out]
    assert macro_f1([r["label"] for r in recs], pred) > 0.6
    for r in out:
        ann = r["meta"]["annotation"]
        assert ann["method"] == "lexicon" and ann["status"] == "labeled"
        assert 0.0 <= ann["confidence"] <= 1.0 and ann["votes"] == {"lexicon": r["label"]}


def test_lexicon_thresholds_and_abstain_band(vader_dir):
    recs = _unlabeled(vader_data.gold_records("nytEditorialSnippets", root=vader_dir)[:200])
    wide = annotate_records(recs, "lexicon", SENTIMENT_LABELS, {"positive_threshold": 0.5, "negative_threshold": -0.5})
    narrow = annotate_records(recs, "lexicon", SENTIMENT_LABELS)
    n_neutral = lambda rs: sum(r.get("label") == "neutral" for r in rs)  # noqa: E731
    assert n_neutral(wide) > n_neutral(narrow)
    abstain = annotate_records(recs, "lexicon", SENTIMENT_LABELS, {"neutral_label": None})
    unl = [r for r in abstain if "label" not in r]
    assert unl and all("neutral band" in r["meta"]["annotation"]["reason"] for r in unl)
    assert all(r["meta"]["annotation"]["status"] == "unlabeled" for r in unl)


def test_gold_labels_kept_unless_overwrite(vader_dir):
    recs = vader_data.gold_records("amazonReviewSnippets", root=vader_dir)[:100]
    kept = annotate_records(recs, "lexicon", SENTIMENT_LABELS)
    assert [r["label"] for r in kept] == [r["label"] for r in recs]
    assert all(r["meta"]["annotation"]["status"] == "kept_existing" for r in kept)
    assert all(r["meta"]["vader_mean"] == o["meta"]["vader_mean"] for r, o in zip(kept, recs))  # meta preserved
    over = annotate_records(recs, "lexicon", SENTIMENT_LABELS, overwrite=True)
    changed = [r for r in over if r["meta"]["annotation"].get("replaced")]
    assert changed and all(r["label"] == r["meta"]["annotation"]["label"] for r in over)


RULES_YAML = """
rules:
  - name: worst
    label: negative
    keywords: [worst, "waste of time", unwatchable, tedious]
  - name: best
    label: positive
    keywords: [masterpiece, "must see", triumph, wonderful]
  - name: synopsis
    label: neutral
    regex: "\\\\b(must|tries to|sets out to|finds (himself|herself))\\\\b"
  - name: fn
    function: {fn}
"""


def test_rules_on_rotten_tomatoes(rt_records, tmp_path):
    lf = tmp_path / "my_lfs.py"
    lf.write_text("def very_long(record):\n    return 'neutral' if len(record['text'].split()) > 80 else None\n")
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES_YAML.format(fn=f"{lf}:very_long"))
    recs = rt_records[:3000]
    out = annotate_records(_unlabeled(recs), "rules", SENTIMENT_LABELS, {"rules_file": str(rules)})
    labeled = [(o["label"], r["label"]) for o, r in zip(out, recs) if "label" in o]
    assert 0.05 < len(labeled) / len(recs) < 0.9  # partial coverage: rules abstain
    precision = sum(p == g for p, g in labeled) / len(labeled)
    assert precision > 0.6
    unl = [o for o in out if "label" not in o]
    assert all(o["meta"]["annotation"]["reason"] in ("no rule matched",) or
               o["meta"]["annotation"]["reason"].startswith("tie between") for o in unl)
    votes = out[0]["meta"]["annotation"]["votes"]
    assert set(votes) == {"worst", "best", "synopsis", "fn"}


def test_rules_errors_name_the_rule(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("rules:\n  - name: x\n    label: positive\n")
    with pytest.raises(AnnotateError, match="exactly one of keywords, regex, function"):
        annotate_records([{"id": "1", "text": "a"}], "rules", SENTIMENT_LABELS, {"rules_file": str(bad)})
    bad.write_text("rules:\n  - name: x\n    label: great\n    keywords: [a]\n")
    with pytest.raises(AnnotateError, match="rule 'x': label 'great' is not in the label set"):
        annotate_records([{"id": "1", "text": "a"}], "rules", SENTIMENT_LABELS, {"rules_file": str(bad)})
    bad.write_text("rules:\n  - name: x\n    function: nosuchmodule_zz:f\n")
    with pytest.raises(AnnotateError, match="cannot import nosuchmodule_zz"):
        annotate_records([{"id": "1", "text": "a"}], "rules", SENTIMENT_LABELS, {"rules_file": str(bad)})


def test_knn_beats_lexicon_on_rotten_tomatoes(rt_split, tmp_path):
    """100 random seed labels; macro-F1 on 300 held-out records (never the seeds)."""
    from tuneprep.io.writers import write_records

    seeds, held = rt_split
    seed_file = tmp_path / "seeds.jsonl"
    write_records(seed_file, seeds)
    gold = [r["label"] for r in held]
    knn = annotate_records(_unlabeled(held), "knn", SENTIMENT_LABELS, {"seed_labels": str(seed_file), "k": 10})
    lex = annotate_records(_unlabeled(held), "lexicon", SENTIMENT_LABELS)
    f_knn = macro_f1(gold, [r.get("label") for r in knn])
    f_lex = macro_f1(gold, [r.get("label") for r in lex])
    assert f_knn > f_lex + 0.05, (f_knn, f_lex)
    ann = knn[0]["meta"]["annotation"]
    assert ann["method"] == "knn" and len(ann["neighbors"]) == 3
    assert all(n["id"] in {s["id"] for s in seeds} for n in ann["neighbors"])


def test_knn_seed_does_not_vote_for_itself(rt_split, tmp_path):
    from tuneprep.io.writers import write_records

    seeds, _ = rt_split
    seed_file = tmp_path / "seeds.jsonl"
    write_records(seed_file, seeds)
    out = annotate_records(_unlabeled(seeds[:20]), "knn", SENTIMENT_LABELS, {"seed_labels": str(seed_file), "k": 1})
    for rec, o in zip(seeds, out):
        assert o["meta"]["annotation"]["neighbors"][0]["id"] != rec["id"]


def test_knn_needs_seeds():
    with pytest.raises(AnnotateError, match="seed labels"):
        annotate_records([{"id": "1", "text": "a"}], "knn", SENTIMENT_LABELS, {})


def test_llm_few_shot_prompt_from_real_examples(rt_split, tmp_path):
    """The few-shot block (one example per label) goes into the instruction both back ends use."""
    from tuneprep.annotate.llm import LlmConfig, LlmLabeler, endpoint_url
    from tuneprep.io.writers import write_records

    seeds, held = rt_split
    ex = tmp_path / "examples.jsonl"
    write_records(ex, [{**seeds[0], "text": "{braces} " + seeds[0]["text"]}, *seeds[1:]])  # first of its label
    lab = LlmLabeler(LlmConfig(examples=str(ex), n_examples=1), SENTIMENT_LABELS)
    msgs = lab.template.messages(held[0]["text"])
    user = msgs[-1]["content"]
    assert user.startswith("Examples:") and user.count("Answer: ") == 3 and held[0]["text"] in user
    assert "Text: {braces} " in user  # braces in an example survive the template's str.format
    assert endpoint_url("http://127.0.0.1:8000", "chat") == "http://127.0.0.1:8000/v1/chat/completions"
    assert endpoint_url("http://h/v1/", "completions") == "http://h/v1/completions"
    with pytest.raises(ValueError, match="either model or endpoint"):
        LlmConfig(model="smollm2-135m", endpoint="http://h")
