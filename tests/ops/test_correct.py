"""Correcting operators on real data: each test fails if the op did nothing or damaged clean text."""

from __future__ import annotations

import json
import re
from collections import Counter

import pytest

from tuneprep.correct.edits import Edit, apply_edits, edits_from_json, revert_edits
from tuneprep.correct.terminology import GlossaryError, TermMatcher, load_glossary
from tuneprep.ops.base import build_op


def sst2(shared_data, n=1000):
    lines = (shared_data / "sst2" / "train_sample_5000.tsv").read_text(encoding="utf-8").splitlines()[1:n + 1]
    return [line.rsplit("\t", 1)[0] for line in lines]


def alpaca_outputs(shared_data, n=300):
    rows = json.loads((shared_data / "alpaca_cleaned_1000.json").read_text(encoding="utf-8"))
    return [r["output"] for r in rows[:n]]


def letters(s: str) -> str:
    return re.sub(r"[^A-Za-z0-9]", "", s)


# --- edit audit ---------------------------------------------------------------------------------


def test_edits_apply_and_revert_roundtrip():
    text = "it 's a film , really ."
    edits = [Edit(2, 3, " ", ""), Edit(12, 13, " ", ""), Edit(21, 22, " ", "")]
    after = apply_edits(text, edits)
    assert after == "it's a film, really."
    assert revert_edits(after, edits) == text
    with pytest.raises(ValueError, match="expects"):
        apply_edits(text, [Edit(0, 2, "xx", "y")])


# --- clean.normalize ---------------------------------------------------------------------------------


def test_normalize_detokenises_sst2_and_keeps_words(shared_data):
    op = build_op("clean.normalize", {})
    op.setup()
    texts = sst2(shared_data)
    before = "\n".join(texts)
    assert " n't" in before and " 's" in before and " ," in before  # SST ships PTB-tokenised
    out = [op.apply({"id": str(i), "text": t}) for i, t in enumerate(texts)]
    edited = [r for r in out if r.get("meta", {}).get("edits", {}).get("clean.normalize")]
    assert len(edited) > 300
    after = "\n".join(r["text"] for r in out)
    assert " n't" not in after and " 's " not in after and " , " not in after
    assert "do n't" not in after and "don't" in after
    for r, t in zip(out, texts):
        edits = [e for _, e in edits_from_json(r.get("meta", {}).get("edits", {}).get("clean.normalize", []))]
        assert revert_edits(r["text"], edits) == t  # the audit is exact: the original comes back
        if not any(e.rule == "elongation" for e in edits):
            assert letters(r["text"]) == letters(t)  # only spaces and punctuation moved
    counts = op.take_counters()
    assert counts["edits"] == sum(len(r["meta"]["edits"]["clean.normalize"]) for r in edited)
    assert counts["rule:ptb"] > 0


def test_normalize_rules_switch_and_dry_run(shared_data):
    text = "So soooo goooood!!!! I said “hi” -- then… it costs 50 % (see `a  ,b` http://x.io/aaa--b)"
    full = build_op("clean.normalize", {})
    full.setup()
    r = full.apply({"text": text})
    assert r["text"] == 'So so good! I said "hi" — then... it costs 50% (see `a  ,b` http://x.io/aaa--b)'
    only = build_op("clean.normalize", {"rules": ["quotes"], "dry_run": True})
    only.setup()
    r = only.apply({"text": text})
    assert r["text"] == text  # dry run: proposed, not applied
    assert [e["to"] for e in r["meta"]["edits"]["clean.normalize"]] == ['"', '"']
    with pytest.raises(ValueError, match="unknown rule"):
        build_op("clean.normalize", {"skip": ["nope"]})


def test_normalize_on_clean_prose_changes_no_words(shared_data):
    op = build_op("clean.normalize", {"skip": ["dashes", "ellipsis", "quotes"]})
    op.setup()
    for t in alpaca_outputs(shared_data):
        r = op.apply({"text": t})
        assert letters(r["text"]) == letters(t) or any(
            e["rule"] == "elongation" for e in r.get("meta", {}).get("edits", {}).get("clean.normalize", []))


# --- clean.typos -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def typo_cases(shared_data):
    from benchmarks.typos import build
    from tuneprep.correct.dictionary import english_frequencies

    return build(150, 800, 1, english_frequencies())


def _run_global(op, records):
    from tuneprep.ops.base import Item

    op.setup()
    items = [Item(f"t:{i}", r) for i, r in enumerate(records)]
    return [it.record for it, drop in op.apply_global(lambda: iter(items)) if drop is None]


def test_typos_fix_real_misspellings_and_spare_clean_text(typo_cases):
    cases, clean = typo_cases
    op = build_op("clean.typos", {})
    records = [{"id": f"b{i}", "text": bad} for i, (_, bad, _) in enumerate(cases)]
    records += [{"id": f"c{i}", "text": t} for i, t in enumerate(clean)]
    out = _run_global(op, records)
    assert len(out) == len(records)
    fixed = sum(r["text"] == orig for r, (orig, _, _) in zip(out, cases))
    assert fixed / len(cases) >= 0.7, f"{fixed}/{len(cases)} misspellings corrected"
    changed = sum(len(r.get("meta", {}).get("edits", {}).get("clean.typos", [])) for r in out[len(cases):])
    tokens = sum(len(t.split()) for t in clean)
    assert changed / tokens <= 0.005, f"{changed} of {tokens} clean tokens changed"
    counts = op.take_counters()
    assert counts["edits"] >= fixed and any(k.startswith("replace:") for k in counts)


def test_typos_protections_and_case(tmp_path):
    protect = tmp_path / "protect.txt"
    protect.write_text("# product names\nfrobnicatr\n", encoding="utf-8")
    op = build_op("clean.typos", {"protect_file": str(protect), "learn_vocabulary": False})
    texts = ["We will recieve the package.",                      # fixed
             "Visit http://example.com/recieve or mail recieve@example.com now.",  # URL, e-mail
             "Ask @recieve about #recieve and `recieve()` today.",  # handle, hashtag, code
             "The NASSA report and mr Recieve were there.",        # acronym, mid-sentence capital
             "Our frobnicatr ships today."]                          # protect list
    out = _run_global(op, [{"id": str(i), "text": t} for i, t in enumerate(texts)])
    assert out[0]["text"] == "We will receive the package."
    assert out[0]["meta"]["edits"]["clean.typos"] == [{"start": 8, "end": 15, "from": "recieve", "to": "receive"}]
    assert [r["text"] for r in out[1:]] == texts[1:]


def test_typos_corpus_vocabulary_protects_frequent_words():
    texts = ["the grooble was fine", "a grooble again", "nothing recieve here"]
    learned = _run_global(build_op("clean.typos", {}), [{"text": t} for t in texts])
    assert learned[0]["text"] == texts[0]  # seen twice in the corpus: its vocabulary
    assert learned[2]["text"] == "nothing receive here"


def test_bad_protect_list_names_file_and_line(tmp_path):
    bad = tmp_path / "protect.txt"
    bad.write_text("fine\ntwo words\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"protect.txt:2: entry 'two words'"):
        build_op("clean.typos", {"protect_file": str(bad)})


# --- clean.terminology --------------------------------------------------------------------------------


GLOSSARY = """\
options:
  inflections: true
terms:
  coming-of-age: [coming of age]
  film noir: [film-noir]
  sci-fi: [scifi, sci fi]
"""


def test_terminology_on_real_reviews(tmp_path, rt_path):
    g = tmp_path / "g.yaml"
    g.write_text(GLOSSARY, encoding="utf-8")
    op = build_op("clean.terminology", {"glossary": str(g)})
    op.setup()
    texts = [json.loads(line)["text"] for line in rt_path.read_text(encoding="utf-8").split("\n") if line.strip()]
    pattern = re.compile(r"(?<!\w)(coming of age|film-noir|scifi|sci fi)(?:s|es|'s|s')?(?!\w)", re.I)
    expected = sum(len(pattern.findall(t)) for t in texts)
    out = [op.apply({"text": t}) for t in texts]
    got = sum(len(r.get("meta", {}).get("edits", {}).get("clean.terminology", [])) for r in out)
    assert expected > 5 and got == expected
    assert not any(pattern.search(r["text"]) for r in out)
    counts = op.take_counters()
    assert counts["edits"] == expected and counts["rule:coming-of-age ← coming of age"] > 0


def test_suggested_acronym_groups_leave_ordinary_words_alone(tmp_path, rt_path):
    """`terms suggest` on Rotten Tomatoes proposes "U.S." / "US"; applied as suggested, the pronoun "us"
    (and "La" in "La Femme Nikita") must stay: acronym groups are written case-sensitive."""
    from tuneprep.correct.dictionary import english_frequencies
    from tuneprep.correct.suggest import glossary_yaml, suggest_terms

    texts = [json.loads(line)["text"] for line in rt_path.read_text(encoding="utf-8").split("\n") if line.strip()]
    groups = suggest_terms(texts, english=english_frequencies())  # as `tuneprep terms suggest` calls it
    acronyms = [g for g in groups if any(f.isupper() for f in (g.canonical, *g.variants))]
    assert any(g.canonical.replace(".", "") == "US" for g in acronyms)
    g = tmp_path / "suggested.yaml"
    g.write_text(glossary_yaml(groups, "rt"), encoding="utf-8")
    op = build_op("clean.terminology", {"glossary": str(g)})
    op.setup()
    edits = [e for t in texts if re.search(r"\bus\b|\bU\.?S\b|\bLa\b", t)
             for e in op.apply({"text": t}).get("meta", {}).get("edits", {}).get("clean.terminology", [])]
    assert any(e["from"] in ("US", "U.S.") for e in edits)  # the acronym group still applies
    assert not [e for e in edits if e["from"] in ("us", "La")]


def test_terminology_longest_match_and_options(tmp_path):
    g = tmp_path / "g.csv"
    g.write_text("canonical,variant,case_sensitive,whole_word\nNew York City,NYC,true,\n"
                 "New York City,new york,,\nYork,Yorke,,\n", encoding="utf-8")
    m = TermMatcher(load_glossary(g))
    t = "New York is not nyc, but NYC is; Yorke and Yorkers."
    assert apply_edits(t, m.propose(t)) == "New York City is not nyc, but New York City is; York and Yorkers."


MIXED_GLOSSARY = GLOSSARY + """\
  the: [teh]
  a lot:
    variants: [alot]
    whole_word: false
  İstanbul: [istanbul]
  NYC:
    variants: [N.Y.C., nyc]
    case_sensitive: true
  xy: ["x\\x00y"]
"""


def test_terminology_chunk_equals_record_by_record(tmp_path, rt_path):
    """The op scans a chunk as one joined string: the result must be what each record gives alone,
    also where joining could go wrong (a form at a text's edge, a lowercase of another length,
    lone surrogates, a form holding the usual separator, chat records, the audit of a second pass)."""
    g = tmp_path / "g.yaml"
    g.write_text(MIXED_GLOSSARY, encoding="utf-8")
    op = build_op("clean.terminology", {"glossary": str(g)})
    op.setup()
    assert op.matcher.separator != "\0"  # "x\0y" is a form, so texts are joined by another character
    rt = [json.loads(line)["text"] for line in rt_path.read_text(encoding="utf-8").split("\n") if line.strip()]
    edge = ["teh", "scifi", "alotteh", "İstanbul, istanbul: teh İ film-noir", "a\ud800 teh \udfff alot",
            "\0teh\0\x01scifi\x01", "NYC nyc N.Y.C. Nyc", "", "xy x\0y Teh_ teh's TEH", "sci", "fi sci fi"]
    texts = edge + rt[:3000] + edge

    def records():
        out = [{"id": i, "text": t} for i, t in enumerate(texts)]
        out[5] = {"id": 5, "messages": [{"role": "user", "content": texts[5]}, {"role": "assistant", "content": "scifi"}]}
        out[6]["meta"] = {"edits": {"clean.terminology": [{"start": 0, "end": 1, "from": "x", "to": "y"}]}}
        return out

    alone = [op.apply(r) for r in records()]
    alone_counts = op.take_counters()
    batch = records()
    chunked = [res for b in range(0, len(batch), 512) for res in op.apply_many(batch[b: b + 512])]
    assert chunked == alone
    assert op.take_counters() == alone_counts
    by_id = {r["id"]: r for r in alone}
    assert by_id[0]["text"] == "the" and by_id[2]["text"] == "a lotteh"  # whole_word: false for alot only
    assert by_id[3]["text"] == "İstanbul, İstanbul: the İ film noir"
    assert by_id[4]["text"] == "a\ud800 the \udfff a lot"
    assert by_id[6]["text"] == "NYC NYC NYC Nyc"  # case_sensitive: "Nyc" is no variant
    assert by_id[6]["meta"]["edits"]["clean.terminology#2"] == [
        {"start": 4, "end": 7, "from": "nyc", "to": "NYC", "rule": "NYC ← nyc"},
        {"start": 8, "end": 14, "from": "N.Y.C.", "to": "NYC", "rule": "NYC ← N.Y.C."}]
    assert by_id[8]["text"] == "xy xy Teh_ the's The"
    assert by_id[10]["text"] == "fi sci-fi"
    assert by_id[5]["messages"][1]["content"] == "sci-fi"
    assert sum("meta" in r for r in alone[len(edge): -len(edge)]) > 5  # real reviews edited too


@pytest.mark.parametrize("text,suffix,message", [
    ("terms:\n  a: [x, y]\n  b: [z, X]\n", ".yaml", r"g.yaml:3: variant 'X' maps to 'b' here and to 'a' at line 2"),
    ("terms:\n  a: [x]\n  x: [q]\n", ".yaml", r"g.yaml:2: variant 'x' of 'a' is itself the canonical term at line 3"),
    ("terms:\n  a:\n    variant: [x]\n", ".yaml", r"g.yaml:2: term 'a': unknown key"),
    ("options:\n  inflection: true\nterms: {a: [b]}\n", ".yaml", r"g.yaml:2: unknown option 'inflection'"),
    ("canonical,variant\nfoo,bar\nbaz\n", ".csv", r"g.csv:3: entry 'baz'"),
])
def test_malformed_glossary_errors(tmp_path, text, suffix, message):
    g = tmp_path / f"g{suffix}"
    g.write_text(text, encoding="utf-8")
    with pytest.raises(GlossaryError, match=message):
        load_glossary(g)


def test_bad_glossary_is_a_recipe_error(tmp_path):
    from tests.conftest import run_cli

    g = tmp_path / "g.yaml"
    g.write_text("terms:\n  a: [x]\n  b: [x]\n", encoding="utf-8")
    data = tmp_path / "in.jsonl"
    data.write_text('{"text": "x"}\n', encoding="utf-8")
    recipe = tmp_path / "r.yaml"
    recipe.write_text(f"input: {{path: {data}}}\nsteps:\n  - op: clean.terminology\n    glossary: {g}\n"
                      f"output: {{path: {tmp_path / 'out'}}}\n", encoding="utf-8")
    proc = run_cli("run", str(recipe), "-q")
    assert proc.returncode == 2
    err = "".join(proc.stderr.split())  # the console wraps long lines
    assert "g.yaml:3:variant'x'mapsto'b'hereandto'a'atline2" in err
    assert "r.yaml:3:steps[0]" in err  # and where in the recipe


# --- dedup.conflicts, filter.agreement -------------------------------------------------------------------


@pytest.fixture(scope="module")
def rt_plus_vader(rt_path):
    """Real conflicting labels: Rotten Tomatoes snippets (fresh/rotten/plot) and VADER's human-rated
    movie-review snippets (mean rating thresholded) share thousands of texts and disagree on some."""
    from tuneprep.annotate.vader_data import gold_records
    from tuneprep.datasets import vader_ground_truth_dir

    rt = [json.loads(line) for line in rt_path.read_text(encoding="utf-8").split("\n") if line.strip()]
    vader = gold_records("movieReviewSnippets", root=vader_ground_truth_dir())
    return [{"id": r["id"], "text": r["text"], "label": r["label"]} for r in rt + vader]


def _groups(records):
    from tuneprep.ops.text import normalize_for_dedup

    g: dict[str, Counter] = {}
    for r in records:
        g.setdefault(normalize_for_dedup(r["text"]), Counter())[r["label"]] += 1
    return {k: c for k, c in g.items() if len(c) > 1}


def test_conflicts_resolve_modes(rt_plus_vader):
    from tuneprep.ops.base import Item

    conflicts = _groups(rt_plus_vader)
    in_conflict = sum(sum(c.values()) for c in conflicts.values())
    assert len(conflicts) > 100
    results = {}
    for mode in ("majority", "drop", "flag"):
        op = build_op("dedup.conflicts", {"resolve": mode})
        items = [Item(f"s:{i}", dict(r), op.prepare(r)) for i, r in enumerate(rt_plus_vader)]
        out = list(op.apply_global(lambda items=items: iter(items)))
        assert len(out) == len(rt_plus_vader)
        drops = [d for _, d in out if d is not None]
        results[mode] = drops
        if mode == "flag":
            assert not drops
            assert sum("conflicting_labels" in it.record.get("meta", {}) for it, _ in out) == in_conflict
    assert len(results["drop"]) == in_conflict
    ties = sum(sum(c.values()) for c in conflicts.values() if c.most_common(2)[0][1] == c.most_common(2)[1][1])
    minority = sum(sum(c.values()) - c.most_common(1)[0][1] for c in conflicts.values()
                   if c.most_common(2)[0][1] > c.most_common(2)[1][1])
    assert len(results["majority"]) == ties + minority
    d = results["majority"][0]
    assert d.reason == "conflicting_labels" and len(d.detail["conflicting_labels"]) >= 2


def test_conflicts_near_groups_near_duplicate_texts(rt_plus_vader):
    """near: true groups a MinHash cluster: every exact conflict is still found, plus texts that differ
    only by hyphens, dashes or spacing ("life size" / "life-size") and carry different labels."""
    import difflib

    from tuneprep.ops.base import Item

    def drops(params, with_keys):
        op = build_op("dedup.conflicts", {"resolve": "drop", **params})
        # half the items arrive with the engine's prepared key, half without (a later global step)
        keys = op.prepare_batch(rt_plus_vader) if with_keys else [None] * len(rt_plus_vader)
        items = [Item(f"s:{i}", dict(r), keys[i] if i % 2 else None) for i, r in enumerate(rt_plus_vader)]
        out = list(op.apply_global(lambda: iter(items)))
        assert len(out) == len(rt_plus_vader)
        return {it.record["id"]: d for it, d in out if d is not None}

    exact, near = drops({}, False), drops({"near": True}, True)
    assert set(exact) <= set(near)
    only_near = set(near) - set(exact)
    assert len(only_near) > 100
    by_id = {r["id"]: r for r in rt_plus_vader}
    ratios = []
    for rid in only_near:
        d = near[rid]
        assert d.reason == "conflicting_labels" and len(d.detail["conflicting_labels"]) >= 2
        other = by_id[d.detail["near_cluster"]]["text"]  # the cluster's first record (clusters are transitive)
        ratios.append(difflib.SequenceMatcher(None, by_id[rid]["text"], other, autojunk=False).ratio())
    assert min(ratios) > 0.5 and sum(r > 0.9 for r in ratios) > 0.9 * len(ratios)


def test_agreement_on_vader_raters():
    from tuneprep.annotate.vader_data import load_ratings, rating_to_label
    from tuneprep.datasets import vader_ground_truth_dir

    items = load_ratings("movieReviewSnippets", root=vader_ground_truth_dir())[:2000]
    op = build_op("filter.agreement", {"min_agreement": 0.7})
    kept = dropped = 0
    for it in items:
        labs = [rating_to_label(s) for s in it.ratings]
        rec = {"id": it.id, "text": "", "meta": {"label_studio": {"annotations": [
            {"annotator": f"slot{i}", "label": lab} for i, lab in enumerate(labs)]}}}
        share = Counter(labs).most_common(1)[0][1] / len(labs)
        res = op.apply(rec)
        if share < 0.7:
            assert res.reason == "low_agreement" and res.detail["agreement"] == round(share, 4)
            dropped += 1
        else:
            assert res["meta"]["scores"]["filter.agreement"] == round(share, 4)
            kept += 1
    assert kept > 100 and dropped > 100


def test_edits_of_chat_records_name_the_message(shared_data):
    rows = json.loads((shared_data / "alpacaeval" / "alpaca-7b" / "model_outputs.json").read_text(encoding="utf-8"))
    op = build_op("clean.normalize", {})
    op.setup()
    n_edits = 0
    for r in rows[:300]:
        msgs = [{"role": "user", "content": r["instruction"]}, {"role": "assistant", "content": r["output"]}]
        rec = op.apply({"messages": [dict(m) for m in msgs]})
        for e in rec.get("meta", {}).get("edits", {}).get("clean.normalize", []):
            n_edits += 1
            before = msgs[e["message"]]["content"]
            assert before[e["start"]:e["end"]] == e["from"]  # offsets index that message's original content
    assert n_edits > 0
