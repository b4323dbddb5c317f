"""Recipe inputs and outputs as URLs (io/fs.py, engine/outputs.py): real shared data, copied at test
time, read through a ``file://`` URL and through fsspec's ``memory://`` filesystem (the code path of
``s3://`` and ``gs://``: glob, size, byte-range reads, uploads), against the plain-path run."""

from __future__ import annotations

import importlib
import json
import shutil
import sys
import uuid
from pathlib import Path

import orjson
import pytest

from tests.conftest import REPO, strip_keys
from tuneprep.engine.local import run_recipe
from tuneprep.engine.outputs import UploadError
from tuneprep.io.readers import InputError
from tuneprep.recipe import Recipe, load_recipe, parse_recipe
from tuneprep.records import derive_id

fsspec = pytest.importorskip("fsspec", reason="URLs need fsspec (the cloud extra)")

TIMINGS = ("seconds", "wall_seconds")


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    """A cache of this test's own: a URL output's local work directory lives under it."""
    d = tmp_path / "cache"
    monkeypatch.setenv("TUNEPREP_CACHE", str(d))
    return d


@pytest.fixture
def bucket():
    """A fresh ``memory://`` bucket, emptied after the test."""
    name = f"tuneprep-test-{uuid.uuid4().hex[:8]}"
    yield name
    fsspec.filesystem("memory").rm(f"/{name}", recursive=True)


def files_of(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def memory_files(url: str) -> dict[str, bytes]:
    fs, inner = fsspec.core.url_to_fs(url)
    return {p[len(inner) + 1:]: fs.cat_file(p) for p in sorted(fs.find(inner))}


def with_paths(recipe: Recipe, inp: str, out: str) -> Recipe:
    r = recipe.model_copy(deep=True)
    r.input.path = inp
    r.output.path = out
    return r


def records(data: bytes) -> list[dict]:
    return [orjson.loads(line) for line in data.splitlines()]


def test_example_read_from_file_and_memory_urls(tmp_path, shared_data, cache, bucket):
    """examples/userfiles/paraphrase_tsv.yaml (MRPC, encoding detection, header, usecols): the input
    through ``file://`` and ``memory://``, the output to a ``file://`` URL. The file:// run is byte
    for byte the plain-path run (a file:// URL names its local file: same ids and sources); the
    memory:// run differs only in the sources and derived ids, which name the URL."""
    src = tmp_path / "in" / "train.txt"
    src.parent.mkdir()
    shutil.copyfile(shared_data / "mrpc" / "train.txt", src)
    mem_url = f"memory://{bucket}/mrpc/train.txt"
    fsspec.filesystem("memory").pipe_file(f"/{bucket}/mrpc/train.txt", src.read_bytes())
    recipe = load_recipe(REPO / "examples" / "userfiles" / "paraphrase_tsv.yaml")

    plain = run_recipe(with_paths(recipe, str(src), str(tmp_path / "plain")), workers=1)
    url = run_recipe(with_paths(recipe, src.as_uri(), (tmp_path / "url").as_uri()), workers=1)
    mem = run_recipe(with_paths(recipe, mem_url, (tmp_path / "mem").as_uri()), workers=1)
    assert url.out_dir == (tmp_path / "url").as_uri()
    assert plain.records_in == url.records_in == mem.records_in == 4_076  # every MRPC train pair
    assert not list(cache.glob("url-runs/*")), "a finished URL run leaves no local work directory"

    want = files_of(tmp_path / "plain")
    assert {"train/part-00000.jsonl", "test/part-00000.jsonl", "stats.json", "manifest.json"} <= set(want)
    got_url, got_mem = files_of(tmp_path / "url"), files_of(tmp_path / "mem")
    assert set(got_url) == set(got_mem) == set(want)
    for name in want:
        if name.endswith(".json"):
            continue
        assert got_url[name] == want[name], f"{name}: file:// input differs from the plain path"
        a, b = records(want[name]), records(got_mem[name])
        assert len(a) == len(b) > 300
        for ra, rb in zip(a, b, strict=True):
            line = int(ra["meta"]["source"].rsplit(":", 1)[1])
            assert ra["meta"]["source"] == f"{src}:{line}"  # outside the CWD: the absolute path
            assert rb["meta"]["source"] == f"{mem_url}:{line}"
            assert rb["id"] == derive_id(mem_url, line) != ra["id"]
            assert strip_keys(ra, ("id", "meta")) == strip_keys(rb, ("id", "meta"))

    # The manifest records the URL, its size and the same sha256; stats differ only in the names.
    m_plain, m_url, m_mem = (json.loads(files[n]) for files, n in
                             ((want, "manifest.json"), (got_url, "manifest.json"), (got_mem, "manifest.json")))
    assert [i["path"] for i in m_url["inputs"]] == [src.as_uri()]
    assert [i["path"] for i in m_mem["inputs"]] == [mem_url]
    for m in (m_url, m_mem):
        (fp,) = m["inputs"]
        assert fp["bytes"] == src.stat().st_size and fp["sha256"] == m_plain["inputs"][0]["sha256"]
        assert fp["encoding"] == m_plain["inputs"][0]["encoding"] and fp["version"]
    s_plain, s_mem = json.loads(want["stats.json"]), json.loads(got_mem["stats.json"])
    assert s_plain["files"][0]["path"] == str(src) and s_mem["files"][0]["path"] == mem_url
    assert strip_keys(s_plain, (*TIMINGS, "files")) == strip_keys(s_mem, (*TIMINGS, "files"))


DOLMA_RECIPE = {
    "input": {"path": "", "id_field": "id"},
    "steps": [{"op": "clean.whitespace"}, {"op": "filter.length", "min_words": 100}, {"op": "dedup.exact"}],
    "output": {"path": ""},
}


def test_glob_byte_ranges_gzip_and_memory_output(tmp_path, shared_data, cache, bucket):
    """Dolma's web documents (a JSONL file and a gzipped one) by a glob on ``memory://``, the JSONL
    cut into byte-range shards read with seeks through fsspec, the output uploaded to ``memory://``:
    the same kept records and rejects as the plain-path run, sources aside."""
    local_dir = tmp_path / "dolma"
    local_dir.mkdir()
    mem = fsspec.filesystem("memory")
    for name in ("cc_en_head-0091.jsonl", "000.json.gz"):
        shutil.copyfile(shared_data / "dolma_cc" / name, local_dir / name)
        mem.pipe_file(f"/{bucket}/dolma/{name}", (local_dir / name).read_bytes())
    recipe = parse_recipe(DOLMA_RECIPE)
    plain = run_recipe(with_paths(recipe, str(local_dir / "*"), str(tmp_path / "plain")), workers=2,
                       shard_bytes=10_000)
    out_url = f"memory://{bucket}/runs/dolma"
    url = run_recipe(with_paths(recipe, f"memory://{bucket}/dolma/*", out_url), workers=2, shard_bytes=10_000)
    assert url.shards == plain.shards >= 4  # the 105 kB JSONL in byte ranges, the .gz whole
    assert (url.records_in, url.kept, url.rejected) == (plain.records_in, plain.kept, plain.rejected) == (20, 16, 4)

    want, got = files_of(tmp_path / "plain"), memory_files(out_url)
    assert set(got) == set(want)
    for name in want:
        if name.endswith(".json"):
            continue
        rows = [orjson.dumps(r) for r in records(got[name])]
        # The ids come from the input (id_field): only the source prefix names the URL.
        prefix_mem, prefix_plain = f"memory:///{bucket}/dolma/".encode(), f"{local_dir}/".encode()
        assert [r.replace(prefix_mem, prefix_plain) for r in rows] == [orjson.dumps(r) for r in records(want[name])]
    rejects = records(got["rejects/2-filter.length.jsonl"])
    # Documents of 78 (the .gz's row 9), 71, 83 and 85 words, in input order (glob order, then line).
    assert [r["source"] for r in rejects] == [f"memory:///{bucket}/dolma/000.json.gz:9"] + [
        f"memory:///{bucket}/dolma/cc_en_head-0091.jsonl:{n}" for n in (1, 2, 5)]


def test_killed_upload_resumes_from_local_work_dir(tmp_path, shared_data, cache, bucket, monkeypatch):
    """The work directory of a URL output is local; a run that fails while uploading keeps it, and
    the rerun resumes every shard from it and uploads the same files."""
    from tuneprep.io import fs

    src = tmp_path / "cc.jsonl"
    shutil.copyfile(shared_data / "dolma_cc" / "cc_en_head-0091.jsonl", src)
    out_url = f"memory://{bucket}/runs/resume"
    recipe = parse_recipe({**DOLMA_RECIPE, "input": {"path": src.as_uri(), "id_field": "id"},
                           "output": {"path": out_url}})
    real_upload = fs.upload

    def failing_upload(local, url):
        if url.endswith("manifest.json"):
            raise OSError("connection reset (test)")
        real_upload(local, url)

    monkeypatch.setattr(fs, "upload", failing_upload)
    with pytest.raises(UploadError, match=f"{out_url}: uploading the outputs failed: connection reset"):
        run_recipe(recipe, workers=1, shard_bytes=10_000)
    assert "manifest.json" not in memory_files(out_url)  # not marked complete
    (work,) = cache.glob("url-runs/*/.work")
    assert len(list(work.glob("shard-*.done.json"))) >= 3
    monkeypatch.setattr(fs, "upload", real_upload)
    res = run_recipe(recipe, workers=1, shard_bytes=10_000)
    assert res.resumed_shards == res.shards >= 3
    got = memory_files(out_url)
    assert json.loads(got["manifest.json"])["counts"]["kept"] == res.kept == 7
    # A file:// input is named as its local file in the rejects too (as in the kept records' meta.source).
    assert [r["source"] for r in records(got["rejects/2-filter.length.jsonl"])] == [f"{src}:{n}" for n in (1, 2, 5)]
    assert not work.exists()


@pytest.mark.parametrize("where", ["input", "output"])
def test_unknown_scheme_names_the_url(tmp_path, shared_data, cache, where):
    recipe = parse_recipe({**DOLMA_RECIPE, "input": {"path": str(shared_data / "dolma_cc" / "cc_en_head-0091.jsonl")},
                           "output": {"path": str(tmp_path / "out")}})
    bad = "nosuchfs://bucket/data/cc.jsonl"
    if where == "input":
        recipe.input.path = bad
    else:
        recipe.output.path = bad
    with pytest.raises(InputError, match=r"^nosuchfs://bucket/data/cc.jsonl: unknown URL scheme 'nosuchfs://'; "):
        run_recipe(recipe, workers=1)
    assert not (tmp_path / "out").exists() and not cache.exists()  # nothing ran


def test_missing_backend_names_the_package(tmp_path, cache, monkeypatch):
    """s3:// without s3fs (made unimportable here, whether or not the cloud extra is installed)."""
    registry = importlib.import_module("fsspec.registry")._registry  # classes imported so far

    monkeypatch.setitem(sys.modules, "s3fs", None)  # `import s3fs` now raises ImportError
    for proto in ("s3", "s3a"):
        if proto in registry:
            monkeypatch.delitem(registry, proto)
    recipe = parse_recipe({**DOLMA_RECIPE, "input": {"path": "s3://my-bucket/raw/*.jsonl"},
                           "output": {"path": str(tmp_path / "out")}})
    with pytest.raises(InputError) as e:
        run_recipe(recipe, workers=1)
    assert str(e.value) == ("s3://my-bucket/raw/*.jsonl: the s3:// filesystem is not installed: "
                            "pip install s3fs (or 'tuneprep[cloud]')")


def test_stopped_run_uploads_rejects_for_inspection(tmp_path, shared_data, cache, bucket):
    """A run stopped by max_reject_fraction puts its rejects and stats.json at the URL, as it does in
    a local output directory, and no manifest (it is not a finished run)."""
    from tuneprep.engine.local import RunError

    out_url = f"memory://{bucket}/runs/stopped"
    recipe = parse_recipe({**DOLMA_RECIPE, "input": {"path": str(shared_data / "dolma_cc" / "cc_en_head-0091.jsonl"),
                                                     "id_field": "id"},
                           "steps": [{"op": "filter.length", "min_words": 1000}], "output": {"path": out_url}})
    with pytest.raises(RunError, match=f"rejects written to {out_url}/rejects for inspection"):
        run_recipe(recipe, workers=1)
    got = memory_files(out_url)
    assert set(got) == {"stats.json", "rejects/1-filter.length.jsonl"}
    assert json.loads(got["stats.json"])["stopped"]
    assert len(records(got["rejects/1-filter.length.jsonl"])) == 7  # all but the 3 documents of >= 1,000 words
    assert not list(cache.glob("url-runs/*"))


def test_cli_out_url(tmp_path, shared_data):
    """`tuneprep run --out file://...`: the option takes a URL, the outputs are uploaded there."""
    from tests.conftest import run_cli

    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(json.dumps({**DOLMA_RECIPE, "input": {"path": (shared_data / "dolma_cc" / "000.json.gz").as_uri(),
                                                            "id_field": "id"}, "output": {"path": "unused"}}))
    out_url = (tmp_path / "out").as_uri()
    r = run_cli("run", str(recipe), "--out", out_url, "-q", "--workers", "1",
                env={"TUNEPREP_CACHE": str(tmp_path / "cache")})
    assert r.returncode == 0, r.stderr[-3000:]
    assert f"output: {out_url}  (rejects in {out_url}/rejects)" in r.stdout
    stats = json.loads((tmp_path / "out" / "stats.json").read_text())
    assert (stats["records_in"], stats["kept"], stats["rejected"]) == (10, 9, 1)
    assert json.loads((tmp_path / "out" / "manifest.json").read_text())["recipe"]["output"]["path"] == out_url
