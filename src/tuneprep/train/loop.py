"""The training loop pieces around transformers' Trainer: batching, loss, progress and logging.

Speed on CPU comes from not computing what the loss does not use:
- batches are grouped by length (``LengthGroupedBatchSampler``) and padded to the longest
  member rounded up to ``PAD_MULTIPLE``: little compute on padding, and few distinct shapes
  (a stable set of buffer sizes for the allocator, see tuneprep.models.runtime);
- the vocabulary projection runs only at positions whose next token is trained
  (``masked_lm_loss``): a classification example trains ~2 of ~80 tokens, and the 49k-wide
  projection plus its softmax is otherwise a large share of a step's time and memory.
The loss is the same as the standard causal-LM loss: mean token cross-entropy over the trained
(assistant) tokens of the batch.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tuneprep.models.runtime import peak_rss_mb, rss_mb
from tuneprep.models.scoring import _backbone_and_head
from tuneprep.train.distributed import RankBatchSampler, all_reduce_sum

PAD_MULTIPLE = 8


class ListDataset:
    """A list of feature dicts as a map-style dataset."""

    def __init__(self, rows: list[dict[str, Any]]):
        self.rows = rows

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int) -> dict[str, Any]:
        return self.rows[i]


class LengthGroupedBatchSampler:
    """Seeded length-grouped sampling that yields example indices batch after batch.

    Each epoch: shuffle, cut into mega-batches of ``mega * batch_size``, sort each by length,
    cut into batches, shuffle the batch order. Deterministic in (seed, epoch), so a resumed run
    sees the same batches as an uninterrupted one.
    """

    def __init__(self, lengths: list[int], batch_size: int, seed: int, mega: int = 32):
        self.lengths = lengths
        self.batch_size = batch_size
        self.seed = seed
        self.mega = mega
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def batches(self) -> list[list[int]]:
        import random

        rng = random.Random(self.seed * 1_000_003 + self.epoch)
        idx = list(range(len(self.lengths)))
        rng.shuffle(idx)
        size = self.mega * self.batch_size
        out: list[list[int]] = []
        for m in range(0, len(idx), size):
            chunk = sorted(idx[m : m + size], key=lambda i: self.lengths[i])
            out.extend(chunk[b : b + self.batch_size] for b in range(0, len(chunk), self.batch_size))
        # Only the very last batch can be short; keep it last so that the DataLoader, which
        # re-cuts this index stream every batch_size, never merges two groups.
        tail = [out.pop()] if out and len(out[-1]) < self.batch_size else []
        rng.shuffle(out)
        return out + tail

    def __iter__(self) -> Iterator[int]:
        for b in self.batches():
            yield from b

    def __len__(self) -> int:
        return len(self.lengths)


def round_up(n: int, m: int = PAD_MULTIPLE) -> int:
    return -(-n // m) * m


class CausalCollator:
    """Right-pads ``input_ids``/``labels`` to the batch's longest row rounded up to PAD_MULTIPLE."""

    def __init__(self, pad_id: int):
        self.pad_id = pad_id

    def __call__(self, feats: list[dict[str, Any]]) -> dict[str, Any]:
        import torch

        width = round_up(max(len(f["input_ids"]) for f in feats))
        ids = torch.full((len(feats), width), self.pad_id, dtype=torch.long)
        labels = torch.full((len(feats), width), -100, dtype=torch.long)
        mask = torch.zeros((len(feats), width), dtype=torch.long)
        for i, f in enumerate(feats):
            n = len(f["input_ids"])
            ids[i, :n] = torch.tensor(f["input_ids"])
            labels[i, :n] = torch.tensor(f["labels"])
            mask[i, :n] = 1
        return {"input_ids": ids, "attention_mask": mask, "labels": labels}


def masked_lm_loss(model: Any, inputs: dict[str, Any]) -> tuple[Any, int, int]:
    """Mean cross-entropy of the trained next tokens; returns (loss, real tokens, trained tokens).

    The output projection is applied only at positions that predict a trained token.
    """
    total, tokens, trained = masked_lm_loss_sum(model, inputs)
    return total / max(trained, 1), tokens, trained


def masked_lm_loss_sum(model: Any, inputs: dict[str, Any]) -> tuple[Any, int, int]:
    """Summed cross-entropy of the trained next tokens; returns (sum, real tokens, trained tokens).

    Real tokens are those of rows with at least one trained token (a zero-weight padding row
    of a multi-process run, tuneprep.train.distributed.PaddedRows, has none and is not counted).
    """
    import torch.nn.functional as F
    from torch.nn.parallel import DistributedDataParallel

    ids, mask, labels = inputs["input_ids"], inputs["attention_mask"], inputs["labels"]
    ddp = isinstance(model, DistributedDataParallel)
    parts = _backbone_and_head(model.module if ddp else model)
    tgt = labels[:, 1:]
    sel = tgt != -100
    n_trained = int(sel.sum())
    real = sel.any(dim=1)
    n_tokens = int(mask.sum()) if bool(real.all()) else int(mask[real].sum())
    if parts is None:  # a model without a separable head: the plain way
        logits = model(input_ids=ids, attention_mask=mask).logits[:, :-1][sel]
    else:
        backbone, head = parts
        if ddp:
            # DDP all-reduces gradients only after a forward through its own __call__, so run
            # the whole model, with an empty logits_to_keep (no vocabulary projection at all),
            # and take its final (normed) hidden states: the same tensor as the backbone's.
            out = model(input_ids=ids, attention_mask=mask, use_cache=False, output_hidden_states=True,
                        logits_to_keep=ids.new_zeros(0))
            hidden = out.hidden_states[-1]
        else:
            hidden = backbone(input_ids=ids, attention_mask=mask, use_cache=False).last_hidden_state
        logits = head(hidden[:, :-1][sel])
    total = F.cross_entropy(logits.float(), tgt[sel], reduction="sum")
    return total, n_tokens, n_trained


def encoder_loss_sum(model: Any, inputs: dict[str, Any]) -> tuple[Any, int, int]:
    """Summed cross-entropy of a sequence classifier; returns (sum, real tokens, real rows).

    Rows labelled -100 (zero-weight padding of a multi-process run) add nothing.
    """
    import torch.nn.functional as F

    labels = inputs["labels"]
    logits = model(**{k: v for k, v in inputs.items() if k != "labels"}).logits
    real = labels != -100
    total = F.cross_entropy(logits, labels, reduction="sum")
    return total, int(inputs["attention_mask"][real].sum()), int(real.sum())


class Meter:
    """Counts tokens between log events (shared by the loss and the progress callback)."""

    def __init__(self) -> None:
        self.tokens = 0
        self.trained = 0
        self.total_tokens = 0
        self.total_trained = 0

    def add(self, tokens: int, trained: int) -> None:
        self.tokens += tokens
        self.trained += trained
        self.total_tokens += tokens
        self.total_trained += trained

    def take(self) -> tuple[int, int]:
        out = (self.tokens, self.trained)
        self.tokens = self.trained = 0
        return out


def make_trainer_class(loss_kind: str) -> Any:
    """A Trainer subclass: our sampler, and (for ``causal``) the masked LM loss."""
    from transformers import Trainer

    class TuneTrainer(Trainer):
        meter: Meter
        batch_sampler: LengthGroupedBatchSampler

        def _get_train_sampler(self, train_dataset: Any = None) -> Any:
            return self.batch_sampler

        def get_train_dataloader(self) -> Any:
            if self.args.world_size == 1:
                return super().get_train_dataloader()
            # Several processes: a rank-aware batch sampler, and no accelerate re-sharding of it
            # (RankBatchSampler already yields this rank's rows); inputs reach the device in
            # Trainer._prepare_inputs.
            from torch.utils.data import DataLoader

            args = self.args
            sampler = RankBatchSampler(self.batch_sampler, args.per_device_train_batch_size * args.world_size,
                                       args.process_index, args.world_size, len(self.train_dataset))
            return DataLoader(self.train_dataset, batch_sampler=sampler, collate_fn=self.data_collator,
                              num_workers=0)

        def compute_loss(self, model: Any, inputs: dict[str, Any], return_outputs: bool = False,
                         num_items_in_batch: Any = None) -> Any:
            world = self.args.world_size
            if world > 1 and model.training:
                loss = self._rank_loss(model, inputs, world)
            elif loss_kind == "causal":
                loss, toks, trained = masked_lm_loss(model, inputs)
            else:
                out = model(**inputs)
                loss = out.loss
                toks = int(inputs["attention_mask"].sum())
                trained = int(inputs["labels"].numel())
            if model.training and world == 1:
                self.meter.add(toks, trained)
            return (loss, {"loss": loss}) if return_outputs else loss

        def _rank_loss(self, model: Any, inputs: dict[str, Any], world: int) -> Any:
            """This rank's share of the one-process loss, scaled for DDP's gradient average.

            One-process loss of a micro-batch: (summed loss) / (its trained items). Each rank
            holds part of the sum; with ``world`` times its part over the global count, the
            average DDP takes is exactly that loss (tuneprep.train.distributed).
            """
            if loss_kind == "causal":
                total, toks, trained = masked_lm_loss_sum(model, inputs)
            else:
                total, toks, trained = encoder_loss_sum(model, inputs)
            (n_global,) = all_reduce_sum([trained], self.args.device)
            self.meter.add(toks, trained)
            return total * (world / max(n_global, 1.0))

    return TuneTrainer


def evaluate_loss(trainer: Any, rows: list[dict[str, Any]], batch_size: int) -> float:
    """Mean loss of ``rows`` (no gradients): what ``Trainer.evaluate`` reports, on every process count.

    Rows are sorted by length (least padding; order does not matter for a mean) and cut into
    batches; each batch's mean loss counts once per row. With several processes batch b is
    scored by rank b mod N and the sums are added over the ranks, so the value does not depend
    on N (Trainer.evaluate would pad the last round of batches with repeated rows instead).
    Every rank must call it.
    """
    import torch

    args = trainer.args
    order = sorted(range(len(rows)), key=lambda i: len(rows[i]["input_ids"]))
    batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    model = trainer.model
    was_training = model.training
    model.eval()
    total = count = 0.0
    with torch.no_grad():
        for b in batches[args.process_index :: args.world_size]:
            inputs = trainer._prepare_inputs(trainer.data_collator([rows[i] for i in b]))
            with trainer.compute_loss_context_manager():
                loss = trainer.compute_loss(model, inputs)
            total += float(loss) * len(b)
            count += len(b)
    model.train(was_training)
    total, count = all_reduce_sum([total, count], args.device)
    return total / max(count, 1.0)


def make_progress_callback(meter: Meter, log_path: Path, total_steps: int, quiet: bool,
                           writer: bool = True) -> Any:
    """A TrainerCallback: Rich progress (loss, tokens/s) and one JSON line per logged step.

    In a multi-process run every rank calls it (token counts are summed over the ranks at each
    log event); only the ``writer`` (rank 0) shows progress and writes the log.
    """
    from transformers import TrainerCallback

    class ProgressCallback(TrainerCallback):
        def __init__(self) -> None:
            self.progress: Any = None
            self.task: Any = None
            self.t_last = time.perf_counter()
            self.t0 = self.t_last
            self.peak_rss = 0.0
            self.last: dict[str, Any] = {}

        def on_train_begin(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            from tuneprep.ui.progress import make_progress

            self.t_last = self.t0 = time.perf_counter()
            self.progress = make_progress(quiet or not writer)
            self.progress.__enter__()
            self.progress.start("train", total_steps, "steps")
            if state.global_step:
                self.progress.update("train", state.global_step, info="resumed")

        def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            if self.progress is not None:
                self.progress.update("train", state.global_step)

        def on_log(self, args: Any, state: Any, control: Any, logs: dict | None = None, **kw: Any) -> None:
            logs = logs or {}
            if "loss" not in logs and "eval_loss" not in logs:
                return
            now = time.perf_counter()
            rss = rss_mb()
            self.peak_rss = max(self.peak_rss, rss)
            row: dict[str, Any] = {"step": state.global_step, "epoch": round(state.epoch or 0, 4)}
            if "loss" in logs:
                toks, trained = meter.take()
                if args.world_size > 1:  # every rank logs the same steps: a collective is safe here
                    toks, trained = (int(x) for x in all_reduce_sum([toks, trained], args.device))
                dt = max(now - self.t_last, 1e-9)
                self.t_last = now
                row.update(loss=round(float(logs["loss"]), 5), lr=logs.get("learning_rate"),
                           grad_norm=_num(logs.get("grad_norm")), tokens=toks, trained_tokens=trained,
                           tokens_per_s=round(toks / dt, 1), seconds=round(dt, 3))
            if "eval_loss" in logs:
                row["eval_loss"] = round(float(logs["eval_loss"]), 5)
            row.update(rss_mb=round(rss), elapsed_s=round(now - self.t0, 2))
            self.last = row
            if not writer:
                return
            with open(log_path, "a") as fh:
                fh.write(json.dumps(row) + "\n")
            if self.progress is not None and "loss" in row:
                self.progress.update("train", state.global_step,
                                     info=f"loss {row['loss']:.4f}  {row['tokens_per_s']:.0f} tok/s  "
                                          f"rss {row['rss_mb']} MB")

        def on_train_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            self.peak_rss = max(self.peak_rss, peak_rss_mb())
            if self.progress is not None:
                self.progress.update("train", state.global_step)
                self.progress.finish("train")
                self.progress.__exit__(None, None, None)
                self.progress = None

    return ProgressCallback()


def _num(x: Any) -> float | None:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(v) else round(v, 5)
