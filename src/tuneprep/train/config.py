"""The training configuration (pydantic): what ``tuneprep train`` options resolve to."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

# Defaults measured on a 2-core CPU with the 3-class Rotten Tomatoes data (see the train README
# section of the report): 128 tokens fits ~99% of snippets inside the template; LoRA r=16 on all
# linear layers at lr 5e-4 with batches of 8 learns the task within a few hundred steps.
CLASSIFY_MAX_LENGTH = 128
SFT_MAX_LENGTH = 512


class TrainConfig(BaseModel):
    """Options of one training run. ``None`` fields get task/method-specific defaults (``resolved``)."""

    model_config = ConfigDict(extra="forbid")

    data: str
    out: str
    task: Literal["classify", "sft"] = "classify"
    model: str = "smollm2-135m"
    method: Literal["lora", "full"] = "lora"
    epochs: float = 1.0
    max_steps: int | None = Field(None, ge=1)
    batch_size: int = Field(8, ge=1)
    grad_accum: int = Field(1, ge=1)
    lr: float | None = Field(None, gt=0)
    lora_r: int = Field(16, ge=1)
    lora_alpha: int | None = None
    lora_dropout: float = Field(0.0, ge=0, lt=1)
    max_length: int | None = Field(None, ge=8)
    length_policy: Literal["drop", "truncate", "error"] = "truncate"
    limit: int | None = Field(None, ge=1)
    labels: list[str] | None = None
    seed: int = 0
    warmup_ratio: float = Field(0.05, ge=0, le=0.5)
    weight_decay: float = 0.0
    save_steps: int = Field(50, ge=1)
    val_limit: int | None = Field(300, ge=1)
    threads: int | None = None
    bf16: bool | None = None  # None: on CUDA when supported, off on CPU
    # Data-parallel worker processes (tuneprep.train.distributed); the global batch stays
    # batch_size x grad_accum whatever the count, so it must split evenly across them.
    processes: int = Field(1, ge=1)

    @model_validator(mode="after")
    def _check(self) -> TrainConfig:
        if self.labels is not None and len(set(self.labels)) != len(self.labels):
            raise ValueError(f"duplicate labels in --labels {self.labels}")
        if self.task == "sft" and self.labels:
            raise ValueError("--labels applies to --task classify only")
        if self.batch_size % self.processes:
            raise ValueError(f"--batch-size {self.batch_size} does not split evenly across --processes "
                             f"{self.processes}: each process takes batch_size / processes records of every batch")
        return self

    def resolved(self, encoder: bool = False) -> TrainConfig:
        """A copy with every defaulted field filled in (what config.json records)."""
        upd: dict = {}
        if self.max_length is None:
            upd["max_length"] = CLASSIFY_MAX_LENGTH if self.task == "classify" else SFT_MAX_LENGTH
        if self.lr is None:
            upd["lr"] = 5e-5 if encoder else (5e-4 if self.method == "lora" else 3e-5)
        if self.lora_alpha is None:
            upd["lora_alpha"] = 2 * self.lora_r
        return self.model_copy(update=upd)
