"""The plain PyTorch training loop bench/finetune_compare.py holds the harness's Trainer against:
the same model object, rows, tokenization (truncation to max_length), batch size, epochs,
optimizer (torch's fused AdamW, the Trainer's default `adamw_torch_fused`, with the Trainer's
weight-decay groups), linear schedule with the same warm-up steps and gradient clipping at 1.0
(the Trainer's `max_grad_norm`), so the two differ only in the machinery around the step.

A `LoopVariant` switches what the investigation measures: padding every row to max_length
instead of to the batch's longest row, length-grouped batches, bf16 autocast.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import DataLoader, RandomSampler


@dataclass(frozen=True)
class LoopVariant:
    static_padding: bool = False  # pad every row to max_length (the naive loop)
    group_by_length: bool = False  # batches of similar length (transformers' LengthGroupedSampler)
    bf16: bool = False  # forward and loss under torch.autocast("cpu", torch.bfloat16)


def total_steps(n_rows: int, config) -> int:
    """Optimizer steps of the run, counted as strategies/training.py counts them."""
    return math.ceil(math.ceil(n_rows / config.batch_size) * config.epochs)


def encoded_rows(tokenizer, texts, labels, max_length: int, static_padding: bool) -> list[dict]:
    encoded = tokenizer(list(texts), truncation=True, max_length=max_length,
                        padding="max_length" if static_padding else False)
    keys = list(encoded.keys())
    return [{**{key: encoded[key][i] for key in keys}, "labels": int(labels[i])}
            for i in range(len(texts))]


def train_loader(tokenizer, rows: list[dict], batch_size: int, seed: int,
                 variant: LoopVariant) -> DataLoader:
    from transformers import DataCollatorWithPadding
    from transformers.trainer_pt_utils import LengthGroupedSampler

    generator = torch.Generator().manual_seed(seed)
    if variant.group_by_length:
        sampler = LengthGroupedSampler(batch_size, lengths=[len(r["input_ids"]) for r in rows],
                                       generator=generator)
    else:
        sampler = RandomSampler(rows, generator=generator)
    return DataLoader(rows, batch_size=batch_size, sampler=sampler,
                      collate_fn=DataCollatorWithPadding(tokenizer))


def adamw(model, config) -> torch.optim.Optimizer:
    """AdamW with no decay on biases and norms, as the Trainer groups the parameters."""
    decay, no_decay = [], []
    for name, param in model.named_parameters():
        if param.requires_grad:
            skip = "bias" in name or "norm" in name.lower()
            (no_decay if skip else decay).append(param)
    groups = [{"params": decay, "weight_decay": config.weight_decay},
              {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=config.learning_rate, eps=1e-8, fused=True)


def plain_train(model, tokenizer, train, config, seed: int,
                variant: LoopVariant = LoopVariant()) -> dict:
    """Train `model` in place on the Split `train`; the steps run and their mean loss."""
    from transformers import get_linear_schedule_with_warmup

    torch.manual_seed(seed)  # dropout masks, as the Trainer seeds them when it starts
    rows = encoded_rows(tokenizer, train.texts, train.labels, config.max_length,
                        variant.static_padding)
    loader = train_loader(tokenizer, rows, config.batch_size, seed, variant)
    steps = total_steps(len(rows), config)
    optimizer = adamw(model, config)
    schedule = get_linear_schedule_with_warmup(optimizer, int(config.warmup_ratio * steps), steps)
    trainable = [p for p in model.parameters() if p.requires_grad]
    losses: list[float] = []
    model.train()
    while len(losses) < steps:
        for batch in loader:
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=variant.bf16):
                loss = model(**batch).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(trainable, 1.0)
            optimizer.step()
            schedule.step()
            optimizer.zero_grad(set_to_none=True)
            losses.append(loss.item())
            if len(losses) == steps:
                break
    model.eval()
    return {"steps": len(losses), "mean_loss": float(np.mean(losses))}


@torch.inference_mode()
def final_loss(model, tokenizer, train, max_length: int, batch_size: int = 64) -> float:
    """Mean cross-entropy of the trained model on its training rows, in eval mode (no dropout):
    the same yardstick for both sides, whatever each logs during training."""
    model.eval()
    rows = encoded_rows(tokenizer, train.texts, train.labels, max_length, False)
    from transformers import DataCollatorWithPadding

    collate, total = DataCollatorWithPadding(tokenizer), 0.0
    for start in range(0, len(rows), batch_size):
        batch = collate(rows[start:start + batch_size])
        total += model(**batch).loss.item() * len(batch["labels"])
    return total / len(rows)
