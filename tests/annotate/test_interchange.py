"""Label Studio / Argilla / CSV round trips on real records."""

from __future__ import annotations

import json

import pytest

from tuneprep.annotate.interchange import export_records, from_label_studio, import_records
from tuneprep.annotate.methods import annotate_records
from tuneprep.datasets import SENTIMENT_LABELS


@pytest.fixture(scope="module")
def annotated(rt_records):
    recs = [dict(r) for r in rt_records[:40]]
    for r in recs[20:]:
        r.pop("label")  # half gold-labeled, half to be labeled
    return annotate_records(recs, "lexicon", SENTIMENT_LABELS)


def test_label_studio_round_trip(annotated, tmp_path):
    out = tmp_path / "tasks.json"
    assert export_records(annotated, "label-studio", out, SENTIMENT_LABELS) == 40
    tasks = json.loads(out.read_text())
    assert (tmp_path / "tasks.config.xml").read_text().count("<Choice ") == 3
    t0 = tasks[0]
    assert t0["data"]["text"] == annotated[0]["text"]
    pred = t0["predictions"][0]
    assert pred["result"][0]["value"]["choices"] == [annotated[0]["meta"]["annotation"]["suggested"]]
    assert t0["annotations"][0]["result"][0]["value"]["choices"] == [annotated[0]["label"]]
    assert "annotations" not in tasks[25]  # labeled by the method: a prediction, not an annotation
    back, judgements = import_records(out, "label-studio")
    for a, b in zip(annotated[:20], back[:20]):
        assert {k: a[k] for k in ("id", "text", "label", "category", "movie_name")} == \
               {k: b[k] for k in ("id", "text", "label", "category", "movie_name")}
        assert b["meta"]["annotation"] == a["meta"]["annotation"]
    assert all("label" not in b for b in back[20:])  # a pre-annotation is not a human label
    assert len(judgements) == 20


def test_label_studio_human_annotations_with_disagreement(annotated):
    """As Label Studio exports after two people labeled the tasks."""
    tasks = []
    for n, rec in enumerate(annotated[:3], 1):
        anns = [{"completed_by": {"id": 1, "email": "a@x"}, "result": [
                    {"from_name": "sentiment", "to_name": "text", "type": "choices", "value": {"choices": ["positive"]}}]},
                {"completed_by": {"id": 2, "email": "b@x"}, "result": [
                    {"from_name": "sentiment", "to_name": "text", "type": "choices",
                     "value": {"choices": ["negative" if n == 2 else "positive"]}}]},
                {"completed_by": 3, "was_cancelled": True, "result": []}]
        tasks.append({"id": 100 + n, "data": {"text": rec["text"]}, "annotations": anns})
    recs, judged = from_label_studio(tasks)
    assert [r.get("label") for r in recs] == ["positive", None, "positive"]
    assert recs[1]["meta"]["label_studio"]["unlabeled_reason"] == "annotators tie: negative, positive"
    assert {j["annotator"] for j in judged} == {"a@x", "b@x"} and len(judged) == 6
    assert recs[0]["id"] == "101"


def test_argilla_and_csv_round_trip(annotated, tmp_path):
    out = tmp_path / "argilla.json"
    export_records(annotated, "argilla", out)
    rows = json.loads(out.read_text())
    assert rows[0]["fields"]["text"] == annotated[0]["text"]
    assert rows[0]["suggestions"]["label"]["agent"] == "tuneprep:lexicon"
    assert rows[0]["responses"]["label"][0]["value"] == annotated[0]["label"]
    back, judged = import_records(out, "argilla")
    assert [b.get("label") for b in back[:20]] == [a["label"] for a in annotated[:20]]
    assert back[0]["movie_name"] == annotated[0]["movie_name"]
    assert back[0]["meta"]["annotation"] == annotated[0]["meta"]["annotation"]
    csv_out = tmp_path / "a.csv"
    export_records(annotated, "csv", csv_out)
    back_csv, _ = import_records(csv_out, "csv")
    assert [b.get("label") for b in back_csv] == [a.get("label") for a in annotated]
    assert [b["text"] for b in back_csv] == [a["text"] for a in annotated]


def test_bad_task_is_named(tmp_path):
    p = tmp_path / "t.json"
    p.write_text(json.dumps([{"id": 5, "data": {"body": "x"}}]))
    from tuneprep.annotate.core import AnnotateError

    with pytest.raises(AnnotateError, match="task 1 \\(id 5\\) has no data.text"):
        import_records(p, "label-studio")


def test_review_queue_exports_suggestions(annotated):
    from tuneprep.annotate.interchange import to_label_studio

    rec = {**annotated[0], "meta": {"review": {"given": "positive", "suggested": "negative", "score": 0.1,
                                               "probs": {"negative": 0.7, "positive": 0.2, "neutral": 0.1}}}}
    task = to_label_studio([rec])[0]
    assert task["predictions"][0]["result"][0]["value"]["choices"] == ["negative"]
    assert task["predictions"][0]["model_version"] == "tuneprep:issues" and task["predictions"][0]["score"] == 0.7
    assert task["annotations"][0]["result"][0]["value"]["choices"] == [annotated[0]["label"]]


def test_repeated_annotation_keeps_a_trail(annotated):
    again = annotate_records(annotated, "lexicon", SENTIMENT_LABELS, {"positive_threshold": 0.5})
    prev = again[25]["meta"]["annotation"]["previous"]
    assert prev[0]["method"] == "lexicon" and prev[0]["status"] == "labeled"
