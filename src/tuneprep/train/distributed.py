"""Data-parallel training on several processes: ``tuneprep train --processes N``, torchrun, accelerate.

How the pieces map onto the libraries already in use:

- Processes. ``--processes N`` starts N workers with torch's elastic launcher (the engine behind
  ``torchrun``: it sets RANK/WORLD_SIZE/MASTER_* for each worker and stops them all when one
  fails). ``torchrun`` or ``accelerate launch`` set the same variables, so a process started by
  them takes the same code path (``current_world`` reads the environment).
- Gradients. Each worker is a rank of a torch.distributed group (gloo on CPU, nccl on CUDA);
  transformers' Trainer sees the group through accelerate and wraps the model in
  DistributedDataParallel, which averages gradients across ranks during ``backward``.
- Batches. The global batch is the one-process batch (``batch_size`` x ``grad_accum``), whatever
  N: the global micro-batches are exactly the one-process ones (``LengthGroupedBatchSampler``,
  cut every ``batch_size``) and rank r takes rows r, r+N, r+2N, ... of each (``RankBatchSampler``).
- Loss. Every rank returns ``N * (its summed token loss) / (trained tokens of the whole
  micro-batch)``; DDP's gradient average is then the gradient of the one-process loss (mean over
  the micro-batch's trained tokens), with uneven shards too. When the last, short micro-batch of
  an epoch has fewer rows than ranks, a rank without a row runs a zero-weight copy of one
  (``PaddedRows``: every label masked) so that it still joins the gradient all-reduce.
- Files. Rank 0 alone writes the run directory (the Trainer adds one RNG-state file per rank to
  each checkpoint, for an exact resume).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from tuneprep.errors import TuneprepError

IGNORE = -100  # the label value the losses skip (torch cross_entropy's default ignore_index)


class DistributedTrainError(TuneprepError, RuntimeError):
    """A multi-process run that cannot start (bad world size) or a worker process that failed."""


@dataclass(frozen=True)
class World:
    """This process's place among the training processes (one process: rank 0 of 1)."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0
    local_size: int = 1

    @property
    def main(self) -> bool:
        return self.rank == 0


def current_world() -> World:
    """The world set up by torchrun / the elastic launcher / accelerate launch (env variables)."""
    size = int(os.environ.get("WORLD_SIZE", "1"))
    if size <= 1:
        return World()
    return World(rank=int(os.environ.get("RANK", "0")), size=size,
                 local_rank=int(os.environ.get("LOCAL_RANK", "0")),
                 local_size=int(os.environ.get("LOCAL_WORLD_SIZE", str(size))))


def rank_threads(local_size: int) -> int:
    """CPU threads for each of ``local_size`` processes on this machine: the cores split evenly.

    ``$TUNEPREP_THREADS`` wins; one thread when the machine is already busy (see
    tuneprep.models.runtime.default_threads for why oversubscription is so costly).
    """
    from tuneprep.models.runtime import default_threads

    env = int(os.environ.get("TUNEPREP_THREADS", "0"))
    if env:
        return env
    if default_threads() == 1:
        return 1
    return max(1, (os.cpu_count() or 1) // max(local_size, 1))


def check_world(world: World, processes: int, batch_size: int) -> None:
    """Raise DistributedTrainError when the run cannot be split across ``world``."""
    if world.size == 1:
        return
    if processes not in (1, world.size):
        raise DistributedTrainError(f"--processes {processes} inside a launcher that started {world.size} "
                                    "processes: give one or the other")
    if batch_size % world.size:
        raise DistributedTrainError(f"--batch-size {batch_size} does not split evenly across {world.size} "
                                    "processes")


def init_group(world: World, device: str) -> bool:
    """Join the process group (gloo on CPU, nccl on CUDA); True when this call created it."""
    import torch
    import torch.distributed as dist

    if world.size == 1 or dist.is_initialized():
        return False
    if device == "cuda":
        if world.local_rank >= torch.cuda.device_count():
            raise DistributedTrainError(f"{world.local_size} processes on this machine but "
                                        f"{torch.cuda.device_count()} GPU(s): one process per GPU")
        torch.cuda.set_device(world.local_rank)
    dist.init_process_group("nccl" if device == "cuda" else "gloo")
    return True


def barrier() -> None:
    import torch.distributed as dist

    if dist.is_initialized():
        dist.barrier()


def all_reduce_sum(values: list[float], device: Any) -> list[float]:
    """Sum each value over all ranks (returned unchanged outside a process group)."""
    import torch
    import torch.distributed as dist

    if not dist.is_initialized() or dist.get_world_size() == 1:
        return list(values)
    t = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return t.tolist()


class PaddedRows:
    """A map-style dataset where index ``len + i`` is a zero-weight copy of row ``i`` (labels masked)."""

    def __init__(self, rows: Any):
        self.rows = rows

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int) -> dict[str, Any]:
        n = len(self.rows)
        if i < n:
            return self.rows[i]
        row = dict(self.rows[i - n])
        lab = row["labels"]
        row["labels"] = [IGNORE] * len(lab) if isinstance(lab, list) else IGNORE
        return row


class RankBatchSampler:
    """This rank's rows of every global micro-batch, as a DataLoader ``batch_sampler``.

    ``batch_sampler`` is the one-process LengthGroupedBatchSampler (groups of batch_size x
    grad_accum); its groups are cut every ``micro`` rows (what a one-process DataLoader does)
    and rank r takes rows r, r+N, ... of each cut. Strided rather than contiguous: the rows of a
    cut are sorted by length, so every rank gets a similar share of the compute.
    """

    def __init__(self, batch_sampler: Any, micro: int, rank: int, world: int, n_rows: int):
        self.batch_sampler = batch_sampler  # the name the Trainer looks for when it sets the epoch
        self.micro = micro
        self.rank = rank
        self.world = world
        self.n_rows = n_rows

    def set_epoch(self, epoch: int) -> None:
        self.batch_sampler.set_epoch(epoch)

    def global_batches(self) -> list[list[int]]:
        """The micro-batches of one process, in order."""
        return [g[i : i + self.micro] for g in self.batch_sampler.batches() for i in range(0, len(g), self.micro)]

    def __iter__(self) -> Iterator[list[int]]:
        for mb in self.global_batches():
            share = mb[self.rank :: self.world]
            # a short last micro-batch with fewer rows than ranks: a zero-weight copy (PaddedRows)
            yield share or [self.n_rows + mb[0]]

    def __len__(self) -> int:
        return len(self.global_batches())


def _worker(fn: Any, cfg: Any, kw: dict[str, Any]) -> Any:
    """One training process (started by ``launch``): the same ``fn(cfg, **kw)`` call, as one rank."""
    from torch.distributed.elastic.multiprocessing.errors import record

    # record: an exception is written to the launcher's error file, so the parent can show it
    return record(fn)(cfg, **kw)


def launch(fn: Any, cfg: Any, processes: int, **kw: Any) -> Any:
    """Run ``fn(cfg, **kw)`` (``fn``: tuneprep.train.trainer.train) on ``processes`` local processes.

    Returns rank 0's result. torch's elastic launcher (what ``torchrun --standalone`` runs) picks
    a free port, starts the workers with the ``spawn`` method (a script that calls this must
    guard its top level with ``if __name__ == "__main__":``), and stops all of them when one
    fails; the first failure is raised as a DistributedTrainError with the worker's message.
    """
    import uuid

    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.launcher.api import LaunchConfig, elastic_launch

    conf = LaunchConfig(min_nodes=1, max_nodes=1, nproc_per_node=processes,
                        run_id=f"tuneprep-{uuid.uuid4().hex[:12]}", rdzv_backend="c10d",
                        rdzv_endpoint="127.0.0.1:0", max_restarts=0, monitor_interval=0.5,
                        start_method="spawn")
    try:
        results = elastic_launch(conf, _worker)(fn, cfg, kw)
    except ChildFailedError as e:
        rank, failure = e.get_first_failure()
        msg = failure.message
        if isinstance(msg, dict):
            msg = msg.get("message", msg)
        if not failure.error_file_data:  # no Python exception recorded: the process was ended
            msg = "it ended without a Python error (killed by a signal, or out of memory?)"
        how = f"signal {failure.signal_name()}" if failure.exitcode < 0 else f"exit code {failure.exitcode}"
        raise DistributedTrainError(f"training process {rank} of {processes} failed ({how}): {msg}") from None
    return results[0]


def finish(own_group: bool) -> None:
    """Wait for every rank (rank 0 writes last), then leave the group this process created."""
    import torch.distributed as dist

    if dist.is_initialized():
        dist.barrier()
        if own_group:
            dist.destroy_process_group()
