"""Readers: every format, bad input rows, BOM/CRLF, empty files, huge lines, real shared data."""

from __future__ import annotations

import bz2
import collections
import gzip
from pathlib import Path

import orjson
import pytest

from tuneprep.datasets import shared_data_dir
from tuneprep.io.readers import (
    InputError,
    detect_format,
    expand_inputs,
    load_records,
    read_rows,
)


def shared(rel: str) -> Path:
    root = shared_data_dir()
    if root is None or not (root / rel).exists():
        pytest.skip(f"shared data absent: {rel}")
    return root / rel


def rows_of(path: Path, fmt: str | None = None):
    return list(read_rows(path, fmt))


# --- JSON Lines ------------------------------------------------------------------------------

def test_jsonl_bad_rows_become_error_rows_with_raw_kept(tmp_path: Path) -> None:
    p = tmp_path / "x.jsonl"
    p.write_bytes(
        b'\xef\xbb\xbf{"text": "first"}\r\n'  # BOM + CRLF
        b'{"text": "ok"}\n'
        b"\n"  # blank: no record
        b'{"text": broken\n'
        b'{"text": "bad \xff byte"}\n'
        b"[1, 2]\n"
        b'"just a string"\n'
        b'{"text": "last, no newline"}'
    )
    rows = rows_of(p)
    assert [r.line for r in rows] == [1, 2, 4, 5, 6, 7, 8]
    assert rows[0].obj == {"text": "first"}
    assert rows[1].obj == {"text": "ok"}
    assert rows[2].error.startswith("invalid JSON") and rows[2].raw == '{"text": broken'
    assert rows[3].error.startswith("invalid UTF-8 at byte 14")
    assert rows[3].raw == '{"text": "bad \\xff byte"}'
    # Non-object rows are passed on; records.to_record rejects them.
    assert rows[4].obj == [1, 2] and rows[4].error is None
    assert rows[5].obj == "just a string"
    assert rows[6].obj == {"text": "last, no newline"}
    assert all(r.reason == "parse_error" for r in rows)


def test_non_object_rows_are_rejected_by_load_records(tmp_path: Path) -> None:
    p = tmp_path / "x.jsonl"
    p.write_text('{"text": "a"}\n[1, 2]\n')
    with pytest.raises(InputError, match=r"x\.jsonl:2: row is a list, not an object"):
        load_records(p)


def test_load_records_names_file_line_and_field(tmp_path: Path) -> None:
    p = tmp_path / "x.jsonl"
    p.write_text('{"text": "a"}\n{"body": "b"}\n')
    with pytest.raises(InputError, match=r"x\.jsonl:2 \(field 'text'\): missing field 'text'"):
        load_records(p)
    q = tmp_path / "y.jsonl"
    q.write_text('{"text": "a"}\n{"text": oops}\n')
    with pytest.raises(InputError, match=r"y\.jsonl:2: invalid JSON"):
        load_records(q)


def test_load_records_maps_fields(tmp_path: Path) -> None:
    p = tmp_path / "x.csv"
    p.write_text("sentence,label\nhello there,1\n")
    recs = load_records(p, text_field="sentence", label_field="label")
    assert recs[0]["text"] == "hello there" and recs[0]["label"] == "1" and "sentence" not in recs[0]
    assert recs[0]["id"] == load_records(p, text_field="sentence")[0]["id"]  # stable across reruns


@pytest.mark.parametrize("suffix,opener", [
    (".gz", gzip.compress),
    (".bz2", bz2.compress),
    (".zst", None),
])
def test_compressed_jsonl(tmp_path: Path, suffix: str, opener) -> None:
    data = b'{"text": "a"}\r\n{"text": "b"}\nnot json\n'
    if opener is None:
        import zstandard

        # Two frames back to back, as `zstd` and concatenating shards produce.
        c = zstandard.ZstdCompressor()
        blob = c.compress(data[:16]) + c.compress(data[16:])
    else:
        blob = opener(data)
    p = tmp_path / f"x.jsonl{suffix}"
    p.write_bytes(blob)
    rows = rows_of(p)
    assert [r.obj for r in rows[:2]] == [{"text": "a"}, {"text": "b"}]
    assert rows[2].line == 3 and rows[2].raw == "not json"
    with pytest.raises(InputError, match="byte range"):
        read_rows(p, "jsonl", 0, 10)


def test_ten_megabyte_line(tmp_path: Path) -> None:
    big = "x" * 10_000_000
    p = tmp_path / "big.jsonl"
    p.write_text('{"text": "small"}\n' + orjson.dumps({"text": big}).decode() + "\n" + '{"text": "' + big + "\n")
    rows = rows_of(p)
    assert rows[1].obj["text"] == big
    assert rows[2].error and len(rows[2].raw) == len(big) + 10  # a bad huge line is kept whole
    size = p.stat().st_size
    for cut in (5, 5_000_000, 10_000_020, size - 3):  # splits inside the huge lines
        halves = [*read_rows(p, "jsonl", 0, cut), *read_rows(p, "jsonl", cut, size)]
        assert [(r.line, r.obj, r.raw) for r in halves] == [(r.line, r.obj, r.raw) for r in rows]
    t = tmp_path / "big.txt"
    t.write_text("a\n" + big + "\nb")
    assert [len(r.obj["text"]) for r in rows_of(t)] == [1, 10_000_000, 1]
    c = tmp_path / "big.csv"
    c.write_text(f'text,n\n"{big}",1\nshort,2\n')
    rows = rows_of(c)
    assert len(rows[0].obj["text"]) == 10_000_000 and rows[1].obj == {"text": "short", "n": "2"}


@pytest.mark.parametrize("name,fmt", [
    ("e.jsonl", None), ("e.json", None), ("e.csv", None), ("e.tsv", None), ("e.txt", None),
    ("e.md", None), ("e.txt", "txt-doc"), ("e.parquet", None), ("e.jsonl.gz", None),
])
def test_empty_files_give_no_rows(tmp_path: Path, name: str, fmt: str | None) -> None:
    p = tmp_path / name
    p.write_bytes(gzip.compress(b"") if name.endswith(".gz") else b"")
    assert rows_of(p, fmt) == []
    if not name.endswith((".gz", ".parquet")):
        p.write_bytes(b"\xef\xbb\xbf\r\n  \n")  # only a BOM and blank lines
        assert rows_of(p, fmt) == []


# --- plain text ------------------------------------------------------------------------------

def test_txt_lines_and_doc(tmp_path: Path) -> None:
    p = tmp_path / "x.txt"
    p.write_bytes(b"\xef\xbb\xbfone\r\n\r\ntwo \xfe\nthree")
    rows = rows_of(p)
    assert [(r.line, r.obj) for r in rows if r.obj] == [(1, {"text": "one"}), (4, {"text": "three"})]
    assert rows[1].line == 3 and rows[1].error.startswith("invalid UTF-8") and rows[1].raw == "two \\xfe"
    d = tmp_path / "doc.md"
    d.write_bytes(b"\xef\xbb\xbf# Title\r\n\r\nBody.\r\n")
    assert detect_format(d) == "txt-doc"
    assert [r.obj for r in rows_of(d)] == [{"text": "# Title\n\nBody.\n"}]
    d.write_bytes(b"bad \xff doc")
    (row,) = rows_of(d)
    assert row.error and row.raw == "bad \\xff doc"


# --- JSON ------------------------------------------------------------------------------------

def test_json_array_object_and_jsonl_in_disguise(tmp_path: Path) -> None:
    p = tmp_path / "a.json"
    p.write_bytes(b'\xef\xbb\xbf[{"text": "a"}, 3, {"text": "b"}]')
    assert [(r.line, r.obj) for r in rows_of(p)] == [(1, {"text": "a"}), (2, 3), (3, {"text": "b"})]
    p.write_text('{"text": "one object"}')
    assert [r.obj for r in rows_of(p)] == [{"text": "one object"}]
    p.write_text('{"text": "a"}\n{"text": "b"}\n{"text": oops}\n')  # JSON Lines saved as .json
    rows = rows_of(p)
    assert [r.obj for r in rows[:2]] == [{"text": "a"}, {"text": "b"}]
    assert rows[2].line == 3 and rows[2].error
    p.write_text('[{"text": "a"}, {"text": ')  # a broken array keeps its good elements
    assert [(r.obj, r.raw) for r in rows_of(p)] == [({"text": "a"}, None), (None, '{"text":')]
    p.write_text('{\n  "text": "a", oops\n}')  # a broken single object: one error row, whole text
    (row,) = rows_of(p)
    assert row.error.startswith("invalid JSON document") and row.raw == '{\n  "text": "a", oops\n}'


# --- CSV / TSV -------------------------------------------------------------------------------

def test_csv_quoting_bom_crlf_and_bad_rows(tmp_path: Path) -> None:
    p = tmp_path / "x.csv"
    p.write_bytes(
        b'\xef\xbb\xbftext,label\r\n'
        b'"multi\r\nline, with ""quotes""",pos\r\n'
        b"plain,neg\r\n"
        b"caf\xe9 latin-1,neg\r\n"  # invalid UTF-8: only this row is rejected
        b"\r\n"
        b"too few\r\n"
        b"trailing comma,pos,\r\n"
        b"extra,pos,value\r\n"
        b"last,pos"
    )
    rows = rows_of(p)
    assert rows[0].line == 2 and rows[0].obj == {"text": 'multi\r\nline, with "quotes"', "label": "pos"}
    assert rows[1].line == 4 and rows[1].obj == {"text": "plain", "label": "neg"}
    assert rows[2].line == 5 and "invalid UTF-8" in rows[2].error and rows[2].raw == "caf\\xe9 latin-1,neg"
    assert rows[3].line == 7 and "1 columns, the header has 2" in rows[3].error and rows[3].raw == "too few"
    assert rows[4].obj == {"text": "trailing comma", "label": "pos"}
    assert rows[5].error and rows[5].raw == "extra,pos,value"
    assert rows[6].line == 10 and rows[6].obj == {"text": "last", "label": "pos"}
    assert len(rows) == 7


def test_csv_header_names(tmp_path: Path) -> None:
    p = tmp_path / "x.csv"
    p.write_text(" a ,,a,b\n1,2,3,4\n")
    assert rows_of(p)[0].obj == {"a": "1", "column_2": "2", "a_2": "3", "b": "4"}


def test_tsv_has_no_quoting_and_strips_mojibake_bom(tmp_path: Path) -> None:
    p = tmp_path / "x.tsv"
    p.write_bytes(
        "\u00ef\u00bb\u00bfsentence\tlabel\r\n".encode()
        + b'a "quote that never closes\t1\r\n'
        + b"next row\t0\r\n"
        + b"bad \xff\t1\n"
        + b"three\tcols\there\n"
        + b"last\t1"
    )
    rows = rows_of(p)
    assert rows[0].obj == {"sentence": 'a "quote that never closes', "label": "1"}
    assert rows[1].obj == {"sentence": "next row", "label": "0"} and rows[1].line == 3
    assert rows[2].line == 4 and "invalid UTF-8" in rows[2].error
    assert rows[3].line == 5 and rows[3].error and rows[3].raw == "three\tcols\there"
    assert rows[4].obj == {"sentence": "last", "label": "1"}


def test_utf16_is_refused_with_a_clear_error(tmp_path: Path) -> None:
    p = tmp_path / "excel.tsv"
    p.write_bytes("text\tlabel\r\nhi\t1\r\n".encode("utf-16"))
    with pytest.raises(InputError, match="UTF-16.*iconv"):
        read_rows(p)


def test_semicolon_csv(tmp_path: Path) -> None:
    p = tmp_path / "excel.csv"
    p.write_bytes(b'\xef\xbb\xbftext;score\r\n"a; b";1,5\r\nc;2\r\n')
    assert [r.obj for r in rows_of(p)] == [{"text": "a; b", "score": "1,5"}, {"text": "c", "score": "2"}]
    q = tmp_path / "one.csv"
    q.write_text("text\nsemi;colon\n")  # one column: the header decides, not the rows
    assert [r.obj for r in rows_of(q)] == [{"text": "semi;colon"}]


def test_header_only_csv(tmp_path: Path) -> None:
    p = tmp_path / "h.csv"
    p.write_text("text,label\r\n")
    assert rows_of(p) == []


# --- formats, globs ------------------------------------------------------------------------------

def test_detect_format_and_expand_inputs(tmp_path: Path) -> None:
    assert detect_format("a/b.JSONL.gz") == "jsonl"
    assert detect_format("b.ndjson.zst") == "jsonl"
    assert detect_format("b.pq") == "parquet"
    with pytest.raises(InputError, match=r"cannot tell the format from the extension '\.xml'"):
        detect_format("b.xml")
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "sub").mkdir()
    for n in ("b.jsonl", "a.jsonl", "sub/c.jsonl"):
        (tmp_path / "d" / n).write_text("{}\n")
    got = expand_inputs([str(tmp_path / "d" / "*.jsonl"), str(tmp_path / "d" / "**")])
    assert [Path(g).relative_to(tmp_path / "d").as_posix() for g in got] == ["a.jsonl", "b.jsonl", "sub/c.jsonl"]
    with pytest.raises(InputError, match="matched no file"):
        expand_inputs(str(tmp_path / "nothing*.jsonl"))
    with pytest.raises(InputError, match="no such file"):
        read_rows(tmp_path / "missing.jsonl")
    with pytest.raises(InputError, match="unknown format"):
        read_rows(tmp_path / "d" / "a.jsonl", "xml")


def test_parquet_and_bad_parquet(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    p = tmp_path / "x.parquet"
    pq.write_table(pa.table({"text": ["a", "b"], "n": [1, None]}), p)
    assert [(r.line, r.obj) for r in rows_of(p)] == [(1, {"text": "a", "n": 1}), (2, {"text": "b", "n": None})]
    p.write_bytes(b"not parquet at all")
    with pytest.raises(InputError, match="not a readable Parquet file"):
        rows_of(p)


def test_hf_datasets_directory(tmp_path: Path) -> None:
    datasets = pytest.importorskip("datasets")
    ds = datasets.Dataset.from_list([{"text": "a", "label": 1}, {"text": "b", "label": 0}])
    ds.save_to_disk(str(tmp_path / "one"))
    assert detect_format(tmp_path / "one") == "hf"
    assert [r.obj for r in rows_of(tmp_path / "one")] == [{"text": "a", "label": 1}, {"text": "b", "label": 0}]
    dd = datasets.DatasetDict({"train": ds, "test": ds.select([1])})
    dd.save_to_disk(str(tmp_path / "dict"))
    got = [r.obj for r in rows_of(tmp_path / "dict")]
    assert got == [{"text": "a", "label": 1, "split": "train"}, {"text": "b", "label": 0, "split": "train"},
                   {"text": "b", "label": 0, "split": "test"}]
    assert expand_inputs(str(tmp_path / "*")) == [str(tmp_path / "dict"), str(tmp_path / "one")]


# --- real data (README facts) ------------------------------------------------------------------------

def test_sst2_tsv_real() -> None:
    rows = rows_of(shared("sst2/train_sample_5000.tsv"))
    assert len(rows) == 5000 and not any(r.error for r in rows)
    assert collections.Counter(r.obj["label"] for r in rows) == {"1": 2743, "0": 2257}
    assert rows[0].line == 2 and set(rows[0].obj) == {"sentence", "label"}
    test = rows_of(shared("sst2/test.tsv"))
    assert collections.Counter(r.obj["label"] for r in test) == {"1": 444, "0": 428}


def test_mrpc_mojibake_bom_header_real() -> None:
    rows = rows_of(shared("mrpc/train.txt"), "tsv")
    assert len(rows) == 4076 and not any(r.error for r in rows)
    assert list(rows[0].obj) == ["Quality", "#1 ID", "#2 ID", "#1 String", "#2 String"]
    assert collections.Counter(r.obj["Quality"] for r in rows) == {"1": 2753, "0": 1323}
    test = rows_of(shared("mrpc/test.txt"), "tsv")
    assert collections.Counter(r.obj["Quality"] for r in test) == {"1": 1147, "0": 578}


def test_json_and_jsonl_real() -> None:
    alpaca = rows_of(shared("alpaca_cleaned_1000.json"))
    assert len(alpaca) == 1000 and sum(r.obj["input"] == "" for r in alpaca) == 591
    mt = rows_of(shared("mt_bench_questions.jsonl"))
    assert [r.obj["question_id"] for r in mt] == list(range(81, 161))
    assert sum("reference" in r.obj for r in mt) == 39
    dolma = load_records(shared("dolma_cc/000.json.gz"))
    assert len(dolma) == 10 and sum(len(r["text"]) for r in dolma) == 58_436
    head = load_records(shared("dolma_cc/cc_en_head-0091.jsonl"))
    assert sum(len(r["text"]) for r in head) == 94_106


# --- streaming JSON arrays -------------------------------------------------------------------------

def _random_json_value(rng, depth: int = 0):
    pick = rng.randrange(9 if depth < 3 else 5)
    if pick == 0:
        return rng.randint(-10**6, 10**6)
    if pick == 1:
        return rng.choice([True, False, None, 1.5e-3])
    if pick in (2, 3, 4):
        alphabet = ['"', "\\", ",", "[", "]", "{", "}", " ", "\n", "a", "é", "☕", "\\u", "\t"]
        return "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))
    if pick in (5, 6):
        return [_random_json_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    return {f"k{i}": _random_json_value(rng, depth + 1) for i in range(rng.randint(0, 4))}


def test_streamed_array_equals_whole_parse(tmp_path: Path) -> None:
    import random

    from tuneprep.io.jsonfile import _read_json_array

    rng = random.Random(5)
    p = tmp_path / "a.json"
    for trial in range(150):
        rows = [_random_json_value(rng) for _ in range(rng.randint(0, 8))]
        opt = orjson.OPT_INDENT_2 if trial % 2 else 0
        p.write_bytes((b"\xef\xbb\xbf" if trial % 5 == 0 else b"") + b"\n " + orjson.dumps(rows, option=opt) + b"\n")
        for chunk in (1, 2, 3, 7, 64):
            got = list(_read_json_array(p, chunk))
            assert [(r.line, r.obj, r.error) for r in got] == [(i, v, None) for i, v in enumerate(rows, 1)]
        assert [r.obj for r in read_rows(p)] == rows  # the whole-parse path agrees


def test_broken_array_keeps_good_elements(tmp_path: Path) -> None:
    from tuneprep.io.readers import read_json

    p = tmp_path / "a.json"
    p.write_text('[{"text": "a"}, {"text": oops}, , {"text": "b, ]"}, [1, {"x": "}"}]]')
    rows = rows_of(p)
    assert [(r.line, r.obj) for r in rows if r.error is None] == [(1, {"text": "a"}), (4, {"text": "b, ]"}),
                                                                  (5, [1, {"x": "}"}])]
    assert [(r.line, r.raw) for r in rows if r.error] == [(2, '{"text": oops}'), (3, "")]
    p.write_text('[{"text": "a"}, {"text": "cut here')  # truncated file
    rows = rows_of(p)
    assert rows[0].obj == {"text": "a"}
    assert rows[1].error.startswith("the document ends inside the array") and rows[1].raw == '{"text": "cut here'
    p.write_text('[{"text": "a"}] trailing')
    rows = rows_of(p)
    assert rows[0].obj == {"text": "a"} and rows[1].raw == "trailing" and "after the closing" in rows[1].error
    p.write_text("[1, 2,]")
    assert [r.error is None for r in rows_of(p)] == [True, True, False]
    # Big (or compressed) arrays always stream; the result is the same.
    p.write_bytes(orjson.dumps([{"text": str(i)} for i in range(1000)]))
    assert [r.obj for r in read_json(p, stream_above=0)] == [{"text": str(i)} for i in range(1000)]
    g = tmp_path / "a.json.gz"
    g.write_bytes(gzip.compress(p.read_bytes()))
    assert [r.obj for r in rows_of(g)] == [{"text": str(i)} for i in range(1000)]
