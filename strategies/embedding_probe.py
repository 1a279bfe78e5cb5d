"""embedding-probe: mean-pooled embeddings of a frozen encoder + logistic regression, the
cheapest use of a pretrained model (one forward pass per text, no gradient through the model).

    harness run --strategies embedding-probe --task agnews --model minilm-l6
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from harness.api.search import LogUniform
from harness.inputs.data import Split
from harness.api.resources import Resources
from harness.api.settings import above, at_least
from harness.api.strategy import Context, Footprint, Predictions, StrategyBase
from harness.inputs.tasks import Task
from strategies.common import length_batches, only_task, save_sklearn, torch_footprint
from strategies.linear import fit_logistic_regression, predict_proba


@dataclass
class EmbeddingProbeConfig:
    max_length: int = field(default=128, metadata={"help": "tokens per text"})
    normalize: bool = field(default=True, metadata={
        "help": "unit-length embeddings, as sentence-transformers models expect"})
    C: float = field(default=10.0, metadata={
        "help": "inverse L2 strength of the logistic regression"})
    max_iter: int = field(default=2000, metadata={
        "help": "the logistic regression's solver iterations at most"})
    max_batch_tokens: int = field(default=16384, metadata={
        "help": "padded tokens per forward pass"})

    def __post_init__(self):
        at_least(self, 1, "max_length", "max_iter", "max_batch_tokens")
        above(self, 0, "C")


class EmbeddingProbe(StrategyBase):
    name = "embedding-probe"
    description = "Frozen encoder, mean-pooled embeddings + logistic regression."
    config_class = EmbeddingProbeConfig
    search_space = {"C": LogUniform(1e-2, 1e3)}
    model_kind = "encoder"
    deterministic = True  # a frozen encoder and lbfgs, which has no random draw
    resources = Resources(gpus=1, cpus=1, memory_gib=1.5, model_memory_multiple=1.5)

    def __init__(self, config: EmbeddingProbeConfig, context: Context):
        from transformers import AutoModel, AutoTokenizer

        self.config, self.context = config, context
        path, kwargs = context.model.local_path(), context.model.load_kwargs()
        self.tokenizer = AutoTokenizer.from_pretrained(path, **kwargs)
        self.encoder = AutoModel.from_pretrained(path, **kwargs).to(context.device).eval()
        self.classifier = None

    @torch.inference_mode()
    def embed(self, texts: Sequence[str]) -> np.ndarray:
        encoded = self.tokenizer(list(texts), truncation=True,
                                 max_length=self.config.max_length)["input_ids"]
        out = np.zeros((len(encoded), self.encoder.config.hidden_size), dtype=np.float32)
        for batch in length_batches([len(ids) for ids in encoded], self.config.max_batch_tokens):
            inputs = self.tokenizer.pad({"input_ids": [encoded[i] for i in batch]},
                                        return_tensors="pt").to(self.encoder.device)
            hidden = self.encoder(**inputs).last_hidden_state
            mask = inputs["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1)
            if self.config.normalize:
                pooled = torch.nn.functional.normalize(pooled, dim=-1)
            out[batch] = pooled.float().cpu().numpy()
        return out

    def fit(self, tasks: Sequence[tuple[Task, Split]]) -> None:
        _, train = only_task(tasks)
        self.classifier = fit_logistic_regression(self.embed(train.texts), train.labels,
                                                  self.context, self.config.C,
                                                  self.config.max_iter)

    def predict(self, texts: Sequence[str], task: Task, trial: int = 0) -> Predictions:
        return predict_proba(self.classifier, self.embed(texts), task.num_labels)

    def footprint(self) -> Footprint:
        head = self.classifier.coef_.size + self.classifier.intercept_.size
        encoder = torch_footprint(self.encoder, frozen=True)
        return Footprint(trainable_params=head, total_params=encoder.total_params + head,
                         weight_bytes=encoder.weight_bytes)

    def export(self, folder: Path) -> None:
        """The probe only: the encoder is the base model, unchanged."""
        save_sklearn(folder, classifier=self.classifier)
