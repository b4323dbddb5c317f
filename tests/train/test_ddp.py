"""Data-parallel training (``--processes``): 2 gloo processes reproduce a 1-process run on real data."""

from __future__ import annotations

import json

import numpy as np
import pytest
from pydantic import ValidationError

from tuneprep.datasets import SENTIMENT_LABELS
from tuneprep.train.config import TrainConfig
from tuneprep.train.distributed import PaddedRows, RankBatchSampler
from tuneprep.train.loop import LengthGroupedBatchSampler, ListDataset

# Measured (2026-12-02, this test's runs, 2 vs 1 process on 2 CPU cores): logged losses equal to
# the 5 decimals the log keeps or 1e-5 apart, grad norms 1e-5 apart, eval loss 5e-6 apart (the
# gradients are summed in another order). Adapter weights: 99.9 % of the 4.9M values within
# 5e-6, but Adam's first steps move a weight by ~lr whatever the size of its gradient, so a
# near-zero gradient whose sign flips with rounding moves that weight the other way: at most
# 0.65 % of any tensor differs by more than 1e-5 (max 8.5e-4 = 1.7 lr), 2.2e-4 relative L2 over
# the adapter. A rank whose gradients were not averaged would differ on ~half of its tensor.
LOSS_ATOL = 2e-4
WEIGHT_ATOL = 1e-5
MAX_FRACTION_OFF = 0.02  # of a tensor's values further apart than WEIGHT_ATOL
MAX_REL_L2 = 1e-3


def test_rank_shards_split_every_one_process_micro_batch():
    lengths = [(i * 37) % 50 + 5 for i in range(11)]  # 11 rows, micro-batch 4: the last holds 3
    one = LengthGroupedBatchSampler(lengths, batch_size=8, seed=3)  # 2 accumulated micro-batches
    ranks = [RankBatchSampler(LengthGroupedBatchSampler(lengths, 8, 3), micro=4, rank=r, world=2, n_rows=11)
             for r in range(2)]
    for epoch in (0, 1):
        one.set_epoch(epoch)
        for s in ranks:
            s.set_epoch(epoch)
        stream = [i for b in one.batches() for i in b]
        micro = [stream[i : i + 4] for i in range(0, len(stream), 4)]  # what a DataLoader cuts
        shards = [list(s) for s in ranks]
        assert [len(s) for s in ranks] == [len(micro)] * 2
        for k, mb in enumerate(micro):
            assert sorted(shards[0][k] + shards[1][k]) == sorted(mb)  # disjoint, complete
            assert len(shards[0][k]) - len(shards[1][k]) in (0, 1)


def test_a_rank_without_a_row_gets_a_zero_weight_copy():
    s = RankBatchSampler(LengthGroupedBatchSampler([10, 20, 30], 2, 0), micro=2, rank=1, world=2, n_rows=3)
    batches = list(s)
    assert len(batches) == 2 and all(len(b) == 1 for b in batches)
    pad = [b[0] for b in batches if b[0] >= 3]
    assert len(pad) == 1  # the 1-row tail: rank 1 runs a copy of rank 0's row
    rows = PaddedRows(ListDataset([{"input_ids": [1, 2], "labels": [-100, 2]}, {"input_ids": [3], "labels": 1},
                                   {"input_ids": [4], "labels": [4]}]))
    assert rows[3] == {"input_ids": [1, 2], "labels": [-100, -100]} and rows[4]["labels"] == -100
    assert rows[0]["labels"] == [-100, 2] and len(rows) == 3


def test_batch_size_must_split_across_processes():
    with pytest.raises(ValidationError, match="--batch-size 6 does not split evenly across --processes 4"):
        TrainConfig(data="d", out="o", batch_size=6, processes=4)


# Few rows, tiny batches: the run covers gradient accumulation (2 micro-batches a step), a short
# last micro-batch with fewer rows than processes (a zero-weight copy on rank 1) and a 2nd epoch.
def _cfg(data, out, processes):
    return TrainConfig(data=str(data), out=str(out), processes=processes, limit=5, batch_size=2, grad_accum=2,
                       max_steps=3, max_length=80, save_steps=1, seed=1, labels=sorted(SENTIMENT_LABELS))


@pytest.fixture(scope="module")
def runs(rt_small, tmp_path_factory):
    from tuneprep.train.trainer import train

    base = tmp_path_factory.mktemp("ddp")
    return {n: train(_cfg(rt_small, base / f"p{n}", n), quiet=True) for n in (1, 2)}


def _log(run):
    return [json.loads(x) for x in (run / "train_log.jsonl").read_text().splitlines()]


@pytest.mark.slow
def test_two_processes_give_the_loss_curve_of_one(runs):
    one, two = (_log(runs[n].run_dir) for n in (1, 2))
    s1, s2 = ([r for r in log if "loss" in r] for log in (one, two))
    assert [r["step"] for r in s1] == [r["step"] for r in s2] == [1, 2, 3]
    assert [r["epoch"] for r in s1] == [r["epoch"] for r in s2]
    # the same rows were trained at each step (the zero-weight copy is not counted)
    assert [(r["tokens"], r["trained_tokens"]) for r in s1] == [(r["tokens"], r["trained_tokens"]) for r in s2]
    assert [r["trained_tokens"] for r in s1] == [8, 2, 8]  # 4 rows, the 1-row tail, 4 rows (2 tokens a row)
    np.testing.assert_allclose([r["loss"] for r in s2], [r["loss"] for r in s1], rtol=0, atol=LOSS_ATOL)
    np.testing.assert_allclose([r["grad_norm"] for r in s2], [r["grad_norm"] for r in s1], rtol=1e-3)
    assert [r["lr"] for r in s1] == [r["lr"] for r in s2]
    e1, e2 = ([r["eval_loss"] for r in log if "eval_loss" in r] for log in (one, two))
    assert len(e1) == len(e2) == 1 and abs(e1[0] - e2[0]) <= LOSS_ATOL
    m1, m2 = runs[1].metrics, runs[2].metrics
    assert (m1["processes"], m2["processes"]) == (1, 2) and m2["tokens"] == m1["tokens"]


@pytest.mark.slow
def test_two_processes_give_the_adapter_of_one_and_rank_0_writes_alone(runs):
    from safetensors.numpy import load_file

    d1, d2 = (runs[n].run_dir for n in (1, 2))
    w1, w2 = (load_file(d / "model" / "adapter_model.safetensors") for d in (d1, d2))
    assert w1.keys() == w2.keys() and len(w1) > 0
    off = max((float((np.abs(w1[k] - w2[k]) > WEIGHT_ATOL).mean()), k) for k in w1)
    assert off[0] <= MAX_FRACTION_OFF, off
    rel = (np.sqrt(sum(float(((w1[k] - w2[k]) ** 2).sum()) for k in w1))
           / np.sqrt(sum(float((w1[k] ** 2).sum()) for k in w1)))
    assert rel <= MAX_REL_L2, rel
    moved = max(float(np.abs(w1[k]).max()) for k in w1 if "lora_B" in k)
    assert moved > 100 * WEIGHT_ATOL  # lora_B starts at 0: the comparison is not between untrained zeros
    # the same files, once each (a second writer would leave stray or duplicate lines)
    assert sorted(p.relative_to(d1).as_posix() for p in d1.rglob("*")) == \
        sorted(p.relative_to(d2).as_posix() for p in d2.rglob("*"))
    assert json.loads((d2 / "config.json").read_text())["train"]["processes"] == 2



@pytest.mark.slow
def test_a_failed_worker_stops_the_run_with_its_error():
    from tests.train.ddp_workers import fail_on_rank_1
    from tuneprep.train.distributed import DistributedTrainError, launch

    with pytest.raises(DistributedTrainError, match=r"process 1 of 2 failed \(exit code 1\).*"
                                                    r"ValueError: bad record in data\.jsonl"):
        launch(fail_on_rank_1, "data.jsonl", 2)
