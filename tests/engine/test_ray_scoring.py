"""`tuneprep eval --engine ray` and `annotate --engine ray`: model replicas (Ray actors) on a real
two-node Ray cluster (tests/conftest.py `ray_cluster`) give the local engine's outputs.

Real SST-2 sentences, the real default model (smollm2-135m). Eval: predictions.jsonl and
metrics.json byte for byte against `--workers 2` (the same 64-record chunks, scored by the same
function), in input order. Annotate: `llm` labels every record as in one process.
"""

from __future__ import annotations

import json

import pytest

from tests.conftest import run_cli
from tests.engine.raycluster import free_port
from tuneprep.api import annotate
from tuneprep.evaluate.runner import EvalConfig, evaluate
from tuneprep.io.readers import load_records
from tuneprep.models.rundir import ModelError

pytestmark = pytest.mark.slow

N = 70  # two chunks (64 + 6 records, evaluate/parallel.py CHUNK): both replicas score


@pytest.fixture(scope="module")
def sst2_file(sst2_jsonl):
    return sst2_jsonl(N)


def _ray_env(cluster) -> dict[str, str]:
    return {"RAY_ADDRESS": cluster.address, **{k: cluster.env[k] for k in ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN")}}


def test_cli_eval_on_ray_gives_the_local_engines_files(ray_cluster, sst2_file, tmp_path):
    """The CLI connects to the cluster named by RAY_ADDRESS, one replica per node (CPUs // threads)."""
    r = run_cli("eval", "smollm2-135m", "--data", str(sst2_file), "--out", str(tmp_path / "ray"), "--engine", "ray",
                "--no-report", "-q", env=_ray_env(ray_cluster))
    assert r.returncode == 0, r.stderr[-3000:]
    assert "ray cluster: 2 nodes, 2 CPUs; 2 model replicas of 1 thread" in r.stderr
    evaluate(EvalConfig(model="smollm2-135m", data=str(sst2_file), out=str(tmp_path / "local"), workers=2,
                        report=False), progress=False, log=lambda _m: None)
    for name in ("predictions.jsonl", "metrics.json"):
        assert (tmp_path / "ray" / name).read_bytes() == (tmp_path / "local" / name).read_bytes(), f"{name} differs"
    preds = [json.loads(x) for x in (tmp_path / "ray" / "predictions.jsonl").read_text().splitlines()]
    assert [p["id"] for p in preds] == [f"sst2-{i}" for i in range(N)]
    metrics = json.loads((tmp_path / "ray" / "metrics.json").read_text())
    assert metrics["n"] == N and {p["prediction"] for p in preds} == {"negative", "positive"}
    assert metrics["accuracy"] == sum(p["prediction"] == p["gold"] for p in preds) / N
    info = json.loads((tmp_path / "ray" / "eval.json").read_text())
    assert (info["engine"], info["replicas"], info["threads_per_replica"]) == ("ray", 2, 1)


def test_annotate_llm_on_ray_labels_as_one_process(ray_cluster, sst2_file, monkeypatch):
    """Chunks of the labeler's own scoring size (batch_size * 8 = 16 records): the same labels and scores.
    The local run gets the replicas' one thread: with two (the default on an idle machine) torch sums
    in another order and confidences differ in the last digits."""
    records = load_records(sst2_file)[:32]
    for r in records:
        r.pop("label")
    params = {"batch_size": 2}
    monkeypatch.setenv("TUNEPREP_THREADS", "1")
    local = annotate(records, "llm", ["negative", "positive"], params)
    remote = annotate(records, "llm", ["negative", "positive"], params, engine="ray")
    assert remote == local
    assert {r["label"] for r in remote} == {"negative", "positive"}
    assert all(r["meta"]["annotation"]["status"] == "labeled" for r in remote)


def test_errors_name_the_address_the_model_and_the_method(ray_cluster, sst2_file, tmp_path):
    port = free_port()
    r = run_cli("eval", "smollm2-135m", "--data", str(sst2_file), "--out", str(tmp_path), "--engine", "ray",
                "--address", f"127.0.0.1:{port}", "-q", env={"RAY_ADDRESS": ""})
    assert r.returncode == 1, r.stderr[-2000:]
    assert f"cannot reach the Ray cluster at 127.0.0.1:{port}" in r.stderr
    assert not (tmp_path / "predictions.jsonl").exists()
    bad = run_cli("eval", "smollm2-135m", "--data", str(sst2_file), "--out", str(tmp_path), "--engine", "spark")
    assert bad.returncode == 2 and "choose local or ray" in bad.stderr
    with pytest.raises(ModelError, match="^unknown model 'no-such-model'"):  # from a replica, raised as it is
        evaluate(EvalConfig(model="no-such-model", data=str(sst2_file), out=str(tmp_path), engine="ray",
                            labels=["negative", "positive"], report=False), progress=False, log=lambda _m: None)
    ens = run_cli("annotate", "label", "--data", str(sst2_file), "--method", "ensemble", "--members", "lexicon,rules",
                  "--rules", str(tmp_path / "rules.yaml"), "--out", str(tmp_path / "x.jsonl"), "--engine", "ray",
                  env=_ray_env(ray_cluster))
    assert ens.returncode == 2 and "ensemble: cannot run with --engine ray" in ens.stderr, ens.stderr[-2000:]
