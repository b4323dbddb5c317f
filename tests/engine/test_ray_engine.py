"""The Ray engine on a real two-node local Ray cluster: the same recipe gives the same files.

Every output of a recipe run (data or train/val/test, rejects/<step>.jsonl, stats.json without its
timings, manifest.json without its creation time) is compared byte for byte with the local
engine's. Both engines write records in the canonical order, the input order (shard, then
position in the shard), so no re-sorting is needed. Ray and psutil come with the `ray` and `dev`
extras.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import threading
import time
from pathlib import Path

import pytest

from tests.conftest import REPO, run_cli, strip_keys
from tuneprep.engine.local import run_recipe
from tuneprep.recipe import Recipe, load_recipe, parse_recipe

pytestmark = [pytest.mark.slow, pytest.mark.skipif(
    importlib.util.find_spec("ray") is None, reason="the ray extra (ray[data]) is not installed")]

SHARD_BYTES = 300_000  # several shards per input, so that both nodes get work
TIMINGS = ("seconds", "wall_seconds", "engine", "workers")


@pytest.fixture(scope="module")
def cluster(ray_cluster):
    """The two-node cluster of tests/conftest.py (``ray_cluster``), under this module's name for it."""
    return ray_cluster


@pytest.fixture
def pause_op():
    """``test.pause_once`` in this process's operator registry for one test (the driver plans the
    recipe with it), removed after it: later tests (e.g. the `tuneprep ops` listing) see tuneprep's own."""
    from tests.engine import ray_testops

    ray_testops.register_ops()
    yield
    ray_testops.unregister_ops()


def assert_same_outputs(a: Path, b: Path, also_differ: tuple[str, ...] = ()) -> int:
    """Every file of run ``a`` equals run ``b``'s (stats and manifest less timings, and stats less
    ``also_differ``); returns #files."""
    files_a = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    files_b = sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    assert files_a == files_b
    for rel in files_a:
        if rel.name == "stats.json":
            sa, sb = (json.loads((d / rel).read_text()) for d in (a, b))
            assert strip_keys(sa, TIMINGS + also_differ) == strip_keys(sb, TIMINGS + also_differ)
            assert sa["engine"] == "local" and sb["engine"] == "ray"
        elif rel.name == "manifest.json":
            ma, mb = (json.loads((d / rel).read_text()) for d in (a, b))
            assert strip_keys(ma, ("created",)) == strip_keys(mb, ("created",))
        else:
            assert (a / rel).read_bytes() == (b / rel).read_bytes(), f"{rel} differs"
    return len(files_a)


def both_engines(recipe: Recipe, tmp: Path, log: list[str] | None = None,
                 shard_bytes: int = SHARD_BYTES, exchange: str = "auto") -> tuple[Path, Path]:
    """Run ``recipe`` locally, then on the cluster, into the same output path (so the recipe,
    its hash and the manifest are the same); returns (local outputs, ray outputs). The Ray run's
    log lines go to ``log`` (they say where each global step ran and how records travel)."""
    from tuneprep.engine.ray import run_recipe_ray

    out = tmp / "out"
    recipe.output.path = str(out)
    res_local = run_recipe(recipe, workers=2, shard_bytes=shard_bytes)
    shutil.move(out, tmp / "local")
    res_ray = run_recipe_ray(recipe, shard_bytes=shard_bytes, log=(log if log is not None else []).append,
                             exchange=exchange)  # type: ignore[arg-type]
    assert res_ray.shards == res_local.shards
    assert (res_ray.records_in, res_ray.kept, res_ray.rejected) == (
        res_local.records_in, res_local.kept, res_local.rejected)
    return tmp / "local", out


@pytest.mark.parametrize(("example", "on_cluster"), [("sentiment/recipe.yaml", "5:dedup.exact"),
                                                     ("dedup/short_texts.yaml", "2:dedup.minhash")])
def test_examples_same_on_ray_cluster(cluster, tmp_path, example, on_cluster):
    """sentiment: exact dedup and a minhash-grouped split; short_texts: a length filter and
    MinHash near-dup removal. Both global steps run on the cluster (the log says so)."""
    recipe = load_recipe(REPO / "examples" / example)
    log: list[str] = []
    local, remote = both_engines(recipe, tmp_path, log)
    assert any(line.startswith(f"ray: {on_cluster} on the cluster") for line in log), log
    assert json.loads((remote / "stats.json").read_text())["shards"] > 1  # a JSONL input, cut by byte range
    assert assert_same_outputs(local, remote) >= 4
    stats = json.loads((remote / "stats.json").read_text())
    assert stats["invariant_ok"] and stats["records_in"] == 13_905
    assert sum(stats["steps"][-1]["dropped"].values()) > 0  # the global step did drop records


FILES_LINE = "ray: every task reads and writes the work directory"
OBJECTS_LINE = "ray: records travel through the object store"


@pytest.mark.parametrize("exchange", ["auto", "objects"])
def test_hash_split_same_on_ray_cluster(cluster, tmp_path, rt_path, exchange):
    """``split: {method: hash}`` grouped by movie, after an exact dedup on the cluster: the same
    train/val/test files, rejects and stats (its realised shares included) as the local engine,
    whether the tasks share the work directory (``auto`` here: both nodes run on this machine) or
    the records travel through Ray's object store."""
    recipe = parse_recipe({
        "input": {"path": str(rt_path), "label_field": "label"},
        "steps": [{"op": "filter.length", "min_words": 3}, {"op": "dedup.exact"}],
        "split": {"method": "hash", "train": 0.8, "val": 0.1, "test": 0.1, "group_by": "movie_name", "seed": 3},
        "output": {"path": "unused"},
    })
    log: list[str] = []
    local, remote = both_engines(recipe, tmp_path, log, exchange=exchange)
    assert any(line.startswith(FILES_LINE if exchange == "auto" else OBJECTS_LINE) for line in log), log
    assert assert_same_outputs(local, remote) >= 6
    stats = json.loads((remote / "stats.json").read_text())
    assert stats["shards"] > 1 and stats["split"]["method"] == "hash"
    assert all(stats["splits"][k] > 0 for k in ("train", "val", "test"))


def test_ranked_selection_same_on_ray_cluster(cluster, tmp_path, rt_path, monkeypatch):
    """A final ``select.top`` on the work-file exchange: each shard ranked by a Ray task, the
    budget's boundary merged on the driver (engine/ranked.py); the local engine's files."""
    recipe = parse_recipe({
        "input": {"path": str(rt_path)},
        "steps": [{"op": "filter.length", "min_words": 3},
                  {"op": "select.top", "by": "meta.scores.filter.length.words", "n": 2_000, "seed": 5}],
        "max_reject_fraction": 1.0,
        "output": {"path": "unused"},
    })
    import tuneprep.engine.ranked as ranked

    pools: list[str] = []
    real = ranked.run_ranked
    monkeypatch.setattr(ranked, "run_ranked", lambda *a, **k: pools.append(k["pool_of"].__name__) or real(*a, **k))
    log: list[str] = []
    local, remote = both_engines(recipe, tmp_path, log)
    assert pools == ["fork_pool", "task_pool"]  # ranked in parallel by both engines: processes, then Ray tasks
    assert any(line.startswith(FILES_LINE) for line in log), log
    assert assert_same_outputs(local, remote) >= 3
    stats = json.loads((remote / "stats.json").read_text())
    assert stats["shards"] > 1 and stats["kept"] == 2_000 and stats["steps"][-1]["dropped"]["not_top"] > 0


@pytest.mark.parametrize("exchange", ["objects", "files"])
def test_killed_worker_is_retried(cluster, pause_op, tmp_path, shared_data, exchange):
    """A Ray worker killed mid-task (SIGKILL) is retried by Ray; the output is unchanged. With an
    exact split the records travel through the object store (a Ray Data task is killed); without a
    split the tasks write the work directory (a shard task is killed, and its files are rewritten)."""
    import signal

    from tuneprep.engine.ray import run_recipe_ray

    pids = tmp_path / "pids"
    pids.mkdir()
    recipe = parse_recipe({
        "input": {"path": str(shared_data / "sst2" / "train_sample_5000.tsv"), "text_field": "sentence",
                  "label_field": "label"},
        "steps": [{"op": "test.pause_once", "pid_dir": str(pids)}, {"op": "clean.whitespace"},
                  {"op": "filter.length", "min_words": 3}, {"op": "dedup.exact"}],
        **({"split": {"train": 0.8, "test": 0.2, "stratify_by": "label", "seed": 1}} if exchange == "objects" else {}),
        "output": {"path": str(tmp_path / "x")},
    })
    killed: list[int] = []

    def kill_first_pauser() -> None:
        deadline = time.time() + 240
        while time.time() < deadline and not killed:
            found = sorted(pids.iterdir())
            if found:
                pid = int(found[0].name)
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
            time.sleep(0.2)

    out = tmp_path / "out"
    recipe.output.path = str(out)
    run_recipe(recipe, workers=2, shard_bytes=60_000)
    shutil.move(out, tmp_path / "local")
    for p in pids.iterdir():
        p.unlink()
    killer = threading.Thread(target=kill_first_pauser)
    killer.start()
    log: list[str] = []
    res = run_recipe_ray(recipe, shard_bytes=60_000, log=log.append)
    killer.join()
    assert killed, "no worker paused: the kill never happened"
    assert any(line.startswith(FILES_LINE if exchange == "files" else OBJECTS_LINE) for line in log), log
    assert res.records_in == 5_000  # a TSV is one shard (not cut by byte range)
    assert assert_same_outputs(tmp_path / "local", out) >= 4


def test_model_step_on_actor_pool(cluster, tmp_path, shared_data):
    """annotate.lexicon (VADER, a BatchOp that loads its lexicon in setup()) runs in an actor pool
    with per-step resources; labels and the whole output equal the local engine's."""
    from tuneprep.engine.ray import plan_stages
    from tuneprep.ops.base import build_op

    recipe = parse_recipe({
        "input": {"path": str(shared_data / "sst2" / "test.tsv"), "text_field": "sentence"},
        "steps": [{"op": "clean.whitespace"},
                  {"op": "annotate.lexicon", "overwrite": True, "resources": {"num_cpus": 1, "concurrency": 2}},
                  {"op": "filter.length", "min_words": 2}],
        "output": {"path": str(tmp_path / "x")},
    })
    stages = plan_stages(recipe, [build_op(s.op, s.params()) for s in recipe.steps])
    assert [(s.first, s.last, s.actors) for s in stages] == [(0, 0, False), (1, 1, True), (2, 2, False)]
    assert stages[1].resources is not None and stages[1].resources.concurrency == 2
    local, remote = both_engines(recipe, tmp_path)
    assert_same_outputs(local, remote)
    rows = [json.loads(line) for f in (remote / "data").glob("*.jsonl") for line in f.read_text().splitlines()]
    assert len(rows) > 800 and {r["label"] for r in rows} == {"positive", "negative", "neutral"}
    assert all(r["meta"]["annotation"]["method"] == "lexicon" for r in rows)


def test_cli_engine_ray_uses_ray_address(cluster, tmp_path, shared_data):
    """`tuneprep run --engine ray` connects to the cluster named by RAY_ADDRESS (both its nodes)."""
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(f"input:\n  path: {shared_data / 'sst2' / 'test.tsv'}\n  text_field: sentence\n"
                      f"  label_field: label\nsteps:\n  - op: filter.length\n    min_words: 4\n"
                      f"output:\n  path: {tmp_path / 'out'}\n")
    env = {"RAY_ADDRESS": cluster.address, **{k: cluster.env[k] for k in ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN")}}
    r = run_cli("run", str(recipe), "--engine", "ray", "-q", env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "ray cluster: 2 nodes, 2 CPUs" in r.stderr and FILES_LINE in r.stderr
    stats = json.loads((tmp_path / "out" / "stats.json").read_text())
    assert stats["engine"] == "ray" and stats["records_in"] == 872 and stats["invariant_ok"]
    files = {p.name: p.read_bytes() for p in sorted((tmp_path / "out").rglob("*.jsonl"))}
    r = run_cli("run", str(recipe), "--engine", "ray", "--exchange", "objects", "-q", "--fresh", env=env)
    assert r.returncode == 0 and OBJECTS_LINE in r.stderr, r.stderr[-3000:]
    assert files and {p.name: p.read_bytes() for p in sorted((tmp_path / "out").rglob("*.jsonl"))} == files
    bad = run_cli("run", str(recipe), "--engine", "spark", "-q")
    assert bad.returncode == 2 and "choose local or ray" in bad.stderr
    bad = run_cli("run", str(recipe), "--engine", "ray", "--exchange", "disk", "-q")
    assert bad.returncode == 2 and "--exchange disk: choose auto, files, objects" in bad.stderr


def test_killed_driver_resumes_on_ray_cluster(cluster, tmp_path, rt_path):
    """`tuneprep run --engine ray` (work-file exchange) killed with SIGKILL once some shards are done:
    the rerun resumes from their done markers and writes the local engine's files."""
    import signal
    import subprocess
    import sys

    steps = ("steps:\n  - op: clean.whitespace\n  - op: filter.length\n    min_words: 3\n"
             "  - op: dedup.exact\nmax_reject_fraction: 1.0\n")
    out = tmp_path / "out"  # one output path for both runs: the manifests then name the same recipe
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(f"input:\n  path: {rt_path}\n{steps}output:\n  path: {out}\n")
    assert run_cli("run", str(recipe), "-q", "-w", "2", "--shard-bytes", "150000").returncode == 0
    shutil.move(out, tmp_path / "local")
    env = {**os.environ, "RAY_ADDRESS": cluster.address,
           **{k: cluster.env[k] for k in ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN")}}
    args = [sys.executable, "-m", "tuneprep.cli", "run", str(recipe), "--engine", "ray", "--shard-bytes", "150000"]
    work = out / ".work"
    proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    while time.time() < deadline and proc.poll() is None and len(list(work.glob("shard-*.done.json"))) < 3:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = len(list(work.glob("shard-*.done.json")))
    assert proc.returncode == -9 and done >= 3 and not (out / "stats.json").exists()
    r = subprocess.run(args, env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-3000:]
    assert FILES_LINE in r.stderr and "resuming:" in r.stderr
    assert assert_same_outputs(tmp_path / "local", out, also_differ=("resumed_shards",)) >= 4
    stats = json.loads((out / "stats.json").read_text())
    assert stats["resumed_shards"] >= 3 and stats["shards"] > stats["resumed_shards"]


def test_file_url_input_on_ray_cluster(cluster, tmp_path, rt_path):
    """Phase A on both nodes reads a ``file://`` input by byte range through fsspec (the code path
    of s3:// and gs://): the same files as the local engine, and the same records and rejects as
    the plain path gives (a file:// URL names its local file)."""
    src = tmp_path / "in" / "rt.jsonl"
    src.parent.mkdir()
    shutil.copyfile(rt_path, src)
    spec = {"input": {"path": src.as_uri(), "label_field": "label"},
            "steps": [{"op": "clean.whitespace"}, {"op": "filter.length", "min_words": 5}],
            "output": {"path": str(tmp_path / "x")}}
    local, remote = both_engines(parse_recipe(spec), tmp_path)
    stats = json.loads((remote / "stats.json").read_text())
    assert stats["shards"] > 1 and [f["path"] for f in stats["files"]] == [src.as_uri()]
    assert assert_same_outputs(local, remote) >= 4
    plain = tmp_path / "plain"
    run_recipe(parse_recipe({**spec, "input": {**spec["input"], "path": str(src)}, "output": {"path": str(plain)}}),
               workers=1, shard_bytes=SHARD_BYTES)
    for name in ("data/part-00000.jsonl", "rejects/2-filter.length.jsonl"):
        assert (remote / name).read_bytes() == (plain / name).read_bytes(), name
    assert stats["steps"][2]["dropped"]["too_few_words"] > 0  # rejects compared too


def test_memory_url_input_refused_on_ray_cluster(cluster, tmp_path, shared_data):
    """An in-memory filesystem lives in the driver only: a clear error, not a failed Ray task."""
    import fsspec

    from tuneprep.engine.ray import run_recipe_ray
    from tuneprep.io.readers import InputError

    url = f"memory://tuneprep-ray-{os.getpid()}/mt_bench.jsonl"
    fsspec.filesystem("memory").pipe_file(url, (shared_data / "mt_bench_questions.jsonl").read_bytes())
    recipe = parse_recipe({"input": {"path": url, "text_field": "category"}, "output": {"path": str(tmp_path / "x")}})
    try:
        with pytest.raises(InputError, match=f"^{url}: an in-memory filesystem lives in this process only"):
            run_recipe_ray(recipe)
    finally:
        fsspec.filesystem("memory").rm(url)


def near_copies(shared_data: Path, path: Path) -> int:
    """Alpaca-cleaned's 1,000 real answers, with near-copies injected: for every 4th answer of 40+
    words a chain of 4 copies, each with 3 more of its words removed (neighbours in the chain are
    closer than its ends, so clusters take several propagation rounds), and 30 exact copies; the
    copies are placed at seeded random positions, so a survivor may come after its duplicates."""
    import random

    rng = random.Random(17)
    rows = [{"id": f"a{i}", "text": r["output"]} for i, r in
            enumerate(json.loads((shared_data / "alpaca_cleaned_1000.json").read_text()))]
    copies = []
    for row in rows[::4]:
        words = row["text"].split()
        if len(words) < 40:
            continue
        for c in range(1, 5):
            for _ in range(3):
                del words[rng.randrange(len(words))]
            copies.append({"id": f"{row['id']}-c{c}", "text": " ".join(words)})
    copies += [{"id": f"{r['id']}-x", "text": r["text"]} for r in rng.sample(rows, 30)]
    for c in copies:
        rows.insert(rng.randrange(len(rows) + 1), c)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return len(rows)


@pytest.mark.parametrize(("steps", "where"), [
    ([{"op": "clean.whitespace"}, {"op": "dedup.minhash", "ngram": 3, "threshold": 0.85, "keep": "longest"}],
     "cluster"),
    ([{"op": "dedup.minhash", "ngram": 3, "threshold": 0.85, "verify": True}], "cluster, finished on the driver"),
    ([{"op": "dedup.exact"}, {"op": "dedup.minhash", "ngram": 3, "threshold": 0.85}], "driver"),
])
def test_minhash_near_copies_same_on_ray_cluster(cluster, tmp_path, shared_data, monkeypatch, steps, where):
    """Real texts with many injected near-copies: MinHash on the cluster (keep longest; verify with
    the label propagation cut at one round, so the driver's union-find finishes it) or after exact
    dedup (then on the driver): every output equals the local engine's."""
    from tuneprep.engine import ray_minhash

    data = tmp_path / "texts.jsonl"
    n = near_copies(shared_data, data)
    if "finished" in where:
        monkeypatch.setattr(ray_minhash, "MAX_ROUNDS", 1)
    recipe = parse_recipe({"input": {"path": str(data), "id_field": "id"}, "steps": steps,
                           "output": {"path": str(tmp_path / "x")}})
    log: list[str] = []
    local, remote = both_engines(recipe, tmp_path, log, shard_bytes=150_000)
    assert_same_outputs(local, remote)
    stats = json.loads((remote / "stats.json").read_text())
    assert stats["records_in"] == n and stats["shards"] > 1 and stats["invariant_ok"]
    assert stats["steps"][-1]["dropped"]["near_duplicate"] >= 300
    minhash_lines = [line for line in log if line.startswith(f"ray: {len(steps)}:dedup.minhash on the cluster")]
    if where == "driver":
        assert not minhash_lines and any(line.startswith("ray: 1:dedup.exact on the cluster") for line in log)
        return
    assert len(minhash_lines) == 1, log
    rounds = int(re.search(r"min-label propagation in (\d+) round", minhash_lines[0]).group(1))
    if "finished" in where:
        assert rounds == 1 and "finished by union-find on the driver" in minhash_lines[0]
    else:
        assert rounds >= 3 and "driver" not in minhash_lines[0]
    rejects = [json.loads(line) for line in (remote / "rejects" / f"{len(steps)}-dedup.minhash.jsonl")
               .read_text().splitlines()]
    kind = "exact_jaccard" if steps[-1].get("verify") else "estimated_jaccard"
    assert {(r["reason"], r["detail"]["similarity_kind"]) for r in rejects} == {("near_duplicate", kind)}
    kept = [json.loads(line) for f in (remote / "data").glob("*.jsonl") for line in f.read_text().splitlines()]
    survivors = {r["id"]: r["meta"]["dedup"]["cluster_size"] for r in kept if "dedup" in r.get("meta", {})}
    assert len(survivors) >= 100 and {r["duplicate_of"] for r in rejects} <= set(survivors)


def _fails(path: str) -> None:
    from tuneprep.io.readers import InputError

    raise InputError(f"{path}: no such file")


def test_task_pool_raises_the_tasks_own_error(cluster):
    """A tuneprep error raised inside a Ray task comes back as that error (the CLI then exits with its
    code and message), and a probe of a directory every node sees succeeds without leaving it behind."""
    import ray

    from tuneprep.io.readers import InputError
    from tuneprep.ray_cluster import TaskPool, connect, every_node_sees

    started = connect(None)
    try:
        with pytest.raises(InputError, match="gone.jsonl: no such file"):
            TaskPool().submit(_fails, "gone.jsonl").result(timeout=120)
        fresh = Path(os.environ.get("TMPDIR", "/tmp")) / f"tp-probe-{os.getpid()}"
        assert every_node_sees(fresh) and not fresh.exists()
    finally:
        if started:
            ray.shutdown()
