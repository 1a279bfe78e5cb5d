"""instruction-tuned: supervised fine-tuning of the decoder on instruction-formatted examples
(the task's prompt + input -> its label word; loss on the answer only), LoRA by default, full
weights as an option; evaluated with the same label scoring as zero-shot. Given several tasks it
trains one model on their mixture and reports each task:

    harness run --strategies instruction-tuned --task agnews,sst2
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from harness.data import Split, subset
from harness.errors import HarnessError
from harness.strategy import Context, Predictions, predictions_from_scores
from harness.tasks import Task
from strategies.adapters import adapter_bytes, add_lora
from strategies.common import torch_footprint
from strategies.decoder import load_decoder, truncate_text
from strategies.label_scoring import LabelPrompts, LabelScorer
from strategies.vllm_scoring import VllmLabelScorer
from strategies.sft import train_causal_lm


@dataclass
class InstructionTunedConfig:
    use_lora: bool = True  # LoRA adapters (fits small machines); false trains every weight
    r: int = 16  # LoRA rank
    alpha: int = 32  # LoRA scaling numerator (update scaled by alpha / r)
    dropout: float = 0.05  # LoRA dropout
    target_modules: str = "auto"  # "auto" (per architecture), "all-linear" or "name,name,..."
    max_train_rows: int = 256  # per task, stratified; SFT of a 135M decoder on CPU is ~1 s/row
    epochs: float = 1.0
    learning_rate: float = 5e-4  # for LoRA; use about 5e-5 with use_lora=false
    batch_size: int = 8
    warmup_ratio: float = 0.05
    weight_decay: float = 0.0
    max_text_tokens: int = 96  # the input is cut to this, in training and evaluation alike
    use_chat_template: bool = True  # same prompt format as zero-shot
    normalize: str = "sum"
    max_batch_tokens: int | None = None  # padded tokens per pass, prefix included; None: auto


class InstructionTuned:
    name = "instruction-tuned"
    description = "SFT of the decoder on instruction-formatted examples (LoRA); one model, many tasks."
    config_class = InstructionTunedConfig
    model_kind = "decoder"
    backends = ("hf", "vllm")  # trained with transformers either way; vllm serves the evaluation

    def __init__(self, config: InstructionTunedConfig, context: Context):
        self.config, self.context = config, context
        self.model, self.tokenizer = load_decoder(context)
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        if config.use_lora:
            self.model = add_lora(self.model, config, task_type="CAUSAL_LM")
        self.scorers: dict[str, LabelPrompts] = {}
        self.trained: tuple[int, int, dict] | None = None
        self.engine, self.lora_request = None, None  # the vllm backend's, once trained

    def scorer(self, task: Task) -> LabelPrompts:
        if task.name not in self.scorers:
            options = {"use_chat_template": self.config.use_chat_template,
                       "normalize": self.config.normalize}
            if self.engine is not None:
                self.scorers[task.name] = VllmLabelScorer(self.engine, self.tokenizer,
                                                          task.label_words, **options,
                                                          lora_request=self.lora_request)
            else:
                self.scorers[task.name] = LabelScorer(self.model, self.tokenizer,
                                                      task.label_words, **options,
                                                      max_batch_tokens=self.config.max_batch_tokens)
        return self.scorers[task.name]

    def fit(self, train: Split) -> None:
        self.fit_tasks([(self.context.task, train)])

    def fit_tasks(self, tasks: Sequence[tuple[Task, Split]]) -> None:
        """Train one model on the mixture of every task's instruction-formatted rows."""
        examples = []
        for task, train in tasks:
            rows = subset(train, min(self.config.max_train_rows, len(train)), self.context.seed)
            examples += [self._example(task, text, int(label))
                         for text, label in zip(rows.texts, rows.labels)]
        train_causal_lm(self.model, self.tokenizer, examples, self.config, self.context)
        footprint = torch_footprint(self.model)
        extra = {"adapter_bytes": adapter_bytes(self.model, self.context.work_dir)} \
            if self.config.use_lora else {}
        self.trained = (footprint.trainable_params, footprint.total_params, extra)
        self.scorers.clear()
        if self.context.backend == "vllm":
            extra["vllm_weights"] = self._serve_on_vllm()
            return
        if self.config.use_lora:
            # Merged weights predict at the base model's speed, with no adapter overhead.
            self.model = self.model.merge_and_unload()
        self.model.eval()

    def _serve_on_vllm(self) -> str:
        """Hand the tuned model to a vLLM engine: the LoRA adapter on the base weights where this
        vLLM build serves LoRA for the architecture, merged weights otherwise. Says which."""
        from strategies.vllm_scoring import lora_request, open_engine

        context, work_dir = self.context, Path(self.context.work_dir)
        if self.config.use_lora:
            try:
                self.engine = open_engine(context.model.local_path(), context.seed,
                                          context.model.trust_remote_code,
                                          max_lora_rank=self.config.r)
                self.lora_request = lora_request(work_dir / "adapter")
                self.scorer(context.task).score([context.task.prompt("N/A")])  # fails early
                self.model = None  # the engine holds the weights now
                return "lora-adapter"
            except HarnessError:
                raise
            except Exception as error:  # noqa: BLE001 - any failure of vLLM's LoRA path
                warnings.warn(f"vLLM could not serve the LoRA adapter ({error}); "
                              f"serving merged weights instead")
                self.engine = self.lora_request = None
                self.scorers.clear()
            self.model = self.model.merge_and_unload()
        self.model.save_pretrained(work_dir / "merged")
        self.tokenizer.save_pretrained(work_dir / "merged")
        self.model = None
        self.engine = open_engine(work_dir / "merged", context.seed,
                                  context.model.trust_remote_code)
        return "merged"

    def _example(self, task: Task, text: str, label: int) -> dict:
        scorer = self.scorer(task)
        text = truncate_text(self.tokenizer, text, self.config.max_text_tokens)
        prompt = scorer.prompt_ids(scorer.render(task.prompt(text)))
        # The answer is exactly the tokens the scorer reads, then end-of-turn.
        answer = scorer.label_ids[label] + [self.tokenizer.eos_token_id]
        return {"input_ids": prompt + answer, "labels": [-100] * len(prompt) + answer}

    def predict(self, texts: Sequence[str], task: Task | None = None) -> Predictions:
        task = task or self.context.task
        scorer, limit = self.scorer(task), self.config.max_text_tokens
        prompts = [scorer.render(task.prompt(truncate_text(self.tokenizer, t, limit)))
                   for t in texts]
        return predictions_from_scores(scorer.score(prompts, progress=len(texts) > 64))

    def footprint(self):
        if self.trained is None:
            return torch_footprint(self.model)
        from harness.strategy import Footprint

        trainable, total, extra = self.trained
        return Footprint(trainable_params=trainable, total_params=total, extra=extra)
