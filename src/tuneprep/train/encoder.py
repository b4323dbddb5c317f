"""Encoder fast path: a sequence-classification head on a sentence encoder (minilm-l6), fully fine-tuned.

Same run layout as the causal runs (kind ``encoder``); the label map is the template's label
list, also stored as ``id2label``/``label2id`` in the model config.
"""

from __future__ import annotations

from typing import Any

from tuneprep.train.data import Example
from tuneprep.train.loop import PAD_MULTIPLE


def encode_examples(examples: list[Example], tokenizer: Any, labels: list[str], max_length: int) -> list[dict]:
    """Tokenized features ``{input_ids, attention_mask, labels, _truncated}`` (text cut at max_length)."""
    index = {lab: i for i, lab in enumerate(labels)}
    texts = [e.text or "" for e in examples]
    full = tokenizer(texts, truncation=False)["input_ids"]
    enc = tokenizer(texts, truncation=True, max_length=max_length)
    return [{"input_ids": ids, "attention_mask": m, "labels": index[e.label],
             "_truncated": len(f) > max_length}
            for ids, m, e, f in zip(enc["input_ids"], enc["attention_mask"], examples, full)]


def encoder_collator(tokenizer: Any) -> Any:
    """Dynamic padding to the batch's longest row, rounded up to the loop's PAD_MULTIPLE."""
    from transformers import DataCollatorWithPadding

    inner = DataCollatorWithPadding(tokenizer, pad_to_multiple_of=PAD_MULTIPLE)

    def collate(feats: list[dict]) -> dict:
        return inner([{k: v for k, v in f.items() if not k.startswith("_")} for f in feats])

    return collate


def build_encoder_model(p: Any) -> Any:
    """AutoModelForSequenceClassification on the encoder's weights with a fresh head for ``p.labels``."""
    from transformers import AutoModelForSequenceClassification

    id2label = dict(enumerate(p.labels))
    return AutoModelForSequenceClassification.from_pretrained(
        p.model_path, local_files_only=p.model_local, num_labels=len(p.labels),
        id2label=id2label, label2id={v: k for k, v in id2label.items()},
    )
