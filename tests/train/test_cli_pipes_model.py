"""`tuneprep train` and `tuneprep eval` under a pipe: progress lines, no third-party noise."""

from __future__ import annotations

import pytest

from tests.conftest import run_cli

pytestmark = pytest.mark.slow

NOISE = ("Loading weights", "FutureWarning", "is_gradient_checkpointing", "it/s]")


def test_train_then_eval_under_a_pipe(rt_small, tmp_path):
    env = {"TUNEPREP_PROGRESS_INTERVAL": "0"}
    run = tmp_path / "run"
    res = run_cli("train", "--data", str(rt_small), "--out", str(run), "--max-steps", "3", "--batch-size", "4",
                  "--max-length", "80", "--seed", "1", env=env)
    assert res.returncode == 0, res.stderr
    out = res.stdout + res.stderr
    for noise in NOISE:
        assert noise not in out, f"{noise!r} in train output:\n{out}"
    train_lines = [x for x in res.stderr.splitlines() if x.startswith("[train]")]
    assert train_lines[0].startswith("[train] started of 3 steps"), res.stderr
    assert any("ETA" in x for x in train_lines), res.stderr
    assert any(x.startswith("[train] done: 3/3 steps") for x in train_lines), res.stderr

    res = run_cli("eval", str(run), "--data", str(rt_small / "val" / "part-0.jsonl"), "--out",
                  str(tmp_path / "eval"), "--no-report", env=env)
    assert res.returncode == 0, res.stderr
    out = res.stdout + res.stderr
    for noise in NOISE:
        assert noise not in out, f"{noise!r} in eval output:\n{out}"
    assert any(x.startswith("[eval loglik] done: 6/6 records") for x in res.stderr.splitlines()), res.stderr
