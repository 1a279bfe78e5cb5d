"""few-shot: in-context learning. Demonstrations from the training rows only go before the
question (as chat turns or inline), and the label words are scored as in zero-shot.

    harness run -s few-shot -t agnews -c few-shot.k_per_class=2 -c few-shot.trials=5
    harness run -s few-shot -t agnews -c few-shot.selector=random
    harness run -s few-shot -t agnews -c few-shot.selector=knn-embed -c few-shot.order=ascending

How they are chosen is the `selector` (strategies/demonstrations.py):
- `random` (the default): k_per_class rows of every label, drawn with the seed per trial and
  shared by every example, so each trial's demonstrations are a prefix encoded once. `trials`
  independent draws show how much the choice of examples moves the accuracy.
- `knn-tfidf`, `knn-embed`: per evaluation row, its k = k_per_class x labels nearest training
  rows, whatever their labels (as Sun et al., 2023). `order=ascending` puts the most similar
  last, as in the paper: the prompts do not depend on the seed, so there is one trial whatever
  `trials` says. `order=random` shuffles the neighbours per trial (order sensitivity).

Scoring and calibration are zero-shot's (strategies/scoring.py), computed per prompt context:
the content-free inputs and the PMI premise are asked after the same demonstrations as the
input, per trial for `random`, per row for kNN (in predict(), so a deployment's cost of it is
timed). Calibration is on by default for `random` only: on kNN it would subtract the
neighbours' majority label, the very signal kNN adds. footprint() reports how much of the
prompt tokens a kept prefix spared the model (hf backend): most with `random`, only the system
prompt and the template's head with kNN.

On a generation task the demonstrations are `k_passages` random training passages per trial,
given as earlier answers to the same instruction (harness.metrics.lm_generation); a kNN selector is
refused there.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
from tqdm.auto import tqdm

from harness.inputs.data import Split
from harness.errors import HarnessError
from harness.api.resources import Resources
from harness.api.settings import at_least, check
from harness.api.strategy import (
    Context,
    Footprint,
    Generations,
    Predictions,
    StrategyBase,
    TextScores,
    predictions_from_scores,
)
from harness.inputs.tasks import GenerationTask, Task
from strategies.common import only_task
from strategies.decoder import (
    frozen_footprint,
    load_frozen_decoder,
    open_generator,
    open_scorer,
    truncate_text,
)
from strategies.demonstrations import ORDERS, SELECTORS, NearestRows, embed_model_spec
from strategies.scoring import ScoreAdjustment, ScoringSettings


@dataclass
class FewShotConfig(ScoringSettings):  # + use_chat_template, scoring, max_batch_tokens, ...
    calibrate: bool | None = field(default=None, metadata={"help": (
        "Contextual calibration (Zhao et al., 2021). None: on for the random selector, where it "
        "also removes the bias towards the labels of the last or most frequent demonstrations "
        "that small models show; off for kNN, where the neighbours' labels are the signal that "
        "the content-free inputs would subtract (knn-embed, smollm2, 40 AG News rows: 0.675 "
        "off, 0.45 on). true on kNN: each row's content-free inputs come after its own "
        "demonstrations")})
    k_per_class: int = field(default=1, metadata={"help": (
        "random: demonstrations per label (balanced), 4 in all on AG News; kNN: k_per_class x "
        "labels nearest rows per prompt, the same number, whatever their labels")})
    trials: int = field(default=5, metadata={"help": (
        "Independent demonstration draws; the accuracy interval resamples them as well as the "
        "rows, so which demonstrations were drawn counts in it (few draws make it wide)")})
    as_chat_turns: bool = field(default=True, metadata={
        "help": "demonstrations as user/assistant turns, else inline in one turn"})
    max_demo_tokens: int = field(default=64, metadata={
        "help": "each demonstration's text is cut to this; keeps prompts short"})
    max_text_tokens: int = field(default=256, metadata={
        "help": "the input being classified is cut to this"})
    selector: Literal["random", "knn-tfidf", "knn-embed"] = field(default="random", metadata={
        "help": "random: a balanced draw per trial; knn-tfidf / knn-embed: per row, its "
                "nearest training rows by tf-idf or encoder-embedding cosine "
                "(strategies/demonstrations.py)"})
    order: Literal["random", "ascending"] = field(default="random", metadata={"help": (
        "kNN only: ascending puts the most similar last (one trial); random shuffles per trial")})
    embed_model: str = field(default="encoder", metadata={
        "help": "knn-embed: the encoder preset, or a preset, hub id, folder"})
    k_passages: int = field(default=2, metadata={
        "help": "generation tasks: demonstration passages per prompt"})
    max_passage_tokens: int = field(default=128, metadata={
        "help": "generation tasks: each demonstration passage is cut to this"})

    def __post_init__(self):
        if self.calibrate is None:
            self.calibrate = self.selector == "random"
        super().__post_init__()
        at_least(self, 1, "k_per_class", "trials", "max_demo_tokens", "max_text_tokens",
                 "k_passages", "max_passage_tokens")
        check(self, "selector", self.selector in SELECTORS, f"one of {', '.join(SELECTORS)}")
        check(self, "order", self.order in ORDERS, f"one of {', '.join(ORDERS)}")
        check(self, "order", self.order == "random" or self.selector != "random",
              "random with selector=random (a random draw has no similarity to sort by)")
        if self.selector == "knn-embed":  # an unknown model fails in the plan
            try:
                embed_model_spec(self.embed_model)
            except HarnessError as error:
                check(self, "embed_model", False, f"'encoder' or a model ({error.message})")


class FewShot(StrategyBase):
    name = "few-shot"
    precisions = ("fp32", "bf16")  # bf16 layers, float32 head, as zero-shot
    description = ("In-context learning: labelled examples in the prompt, drawn at random or "
                   "nearest to each input.")
    config_class = FewShotConfig
    task_kinds = ("classification", "generation")
    model_kind = "decoder"
    backends = ("hf", "vllm", "api")
    resources = Resources(gpus=1, cpus=1, memory_gib=1.5, model_memory_multiple=1.5)

    def __init__(self, config: FewShotConfig, context: Context):
        self.config, self.context = config, context
        knn = config.selector != "random"
        if knn and context.task.kind == "generation":
            raise HarnessError(f"few-shot.selector={config.selector} chooses demonstrations for "
                               f"classification; on generation task '{context.task.name}' use "
                               f"selector=random")
        # kNN in ascending order: the same prompts whatever the seed, so one trial
        self.trials = 1 if config.order == "ascending" else config.trials
        self.model, self.tokenizer = load_frozen_decoder(context)
        self.knn = NearestRows(config.selector, config.order, self._k(), context,
                               config.embed_model) if knn else None
        self.scorer, self.generator = None, None
        # random: per trial, (question, answer) pairs, or passages on a generation task
        self.demonstrations: list[list] = []
        self.adjustments: list[ScoreAdjustment] = []  # per trial: PMI premise, calibration
        self._counted_from = (0, 0)  # scorer's prompt and run tokens after prepare()
        self._rows_predicted = 0  # since prepare(), every trial and single-row call included

    def fit(self, tasks: Sequence[tuple[Task, Split]]) -> None:
        """Draw the demonstrations of every trial, or index the training rows for kNN; the
        model itself is not trained."""
        _, train = only_task(tasks)
        if self.knn is not None:
            self.knn.fit(train)
            return
        draw = self._passages if self.context.task.kind == "generation" else self._draw
        self.demonstrations = [draw(train, np.random.default_rng([self.context.seed, t]))
                               for t in range(self.trials)]

    def _k(self) -> int:
        """Demonstrations per prompt: k_per_class for every label (kNN: as many in all)."""
        return self.config.k_per_class * self.context.task.num_labels

    def prepare(self) -> None:
        task = self.context.task
        if task.kind == "generation":
            self.generator = open_generator(self.context, self.model, self.tokenizer,
                                            self.config)
            return
        self.scorer = open_scorer(self.context, self.model, self.tokenizer, self.config)
        if self.knn is not None:
            # Rows have their own demonstrations (and premise and content-free inputs, scored
            # in predict()); kept now: what every row's prompt starts with, the system prompt
            # and the template before the first demonstration's text.
            self._keep_prefix(())
        # Per trial, before any prediction is timed: its demonstrations encoded once, as a
        # deployment would, and its premise and content-free inputs scored. The first trial
        # comes last, so that its prefix is kept however many trials there are (single-example
        # latency uses it).
        for trial in reversed(range(self.trials if self.knn is None else 0)):
            self.adjustments.insert(0, self._adjustment(self.demonstrations[trial]))
            self._keep_prefix(self.demonstrations[trial])
        self._counted_from = (self.scorer.prompt_tokens, self.scorer.tokens_processed)

    def _keep_prefix(self, demos) -> None:
        self.scorer.keep_prefix([self._render(self.context.task.prompt(text), demos)
                                 for text in ("N/A", "Example.")])

    def _adjustment(self, demos) -> ScoreAdjustment:
        """Premise and calibration of the prompts with these demonstrations."""
        def prompt_for(text: str) -> str:
            return self._render(self.context.task.prompt(text), demos)

        return ScoreAdjustment(self.config, self.scorer, prompt_for)

    def _draw(self, train: Split, rng: np.random.Generator) -> list[tuple[str, str]]:
        task, chosen = self.context.task, []
        for label in range(task.num_labels):
            rows = np.flatnonzero(train.labels == label)
            if len(rows) < self.config.k_per_class:
                raise HarnessError(f"few-shot needs {self.config.k_per_class} training row(s) of "
                                   f"label '{task.labels[label]}', found {len(rows)}")
            chosen += rng.choice(rows, self.config.k_per_class, replace=False).tolist()
        rng.shuffle(chosen)  # no label order for the model to copy
        return [self._demonstration(train, i) for i in chosen]

    def _demonstration(self, train: Split, row: int) -> tuple[str, str]:
        task, cut = self.context.task, self.config.max_demo_tokens
        return (task.prompt(truncate_text(self.tokenizer, train.texts[row], cut)),
                task.label_words[train.labels[row]])

    def _passages(self, train: Split, rng: np.random.Generator) -> list[str]:
        k = self.config.k_passages
        if len(train) < k:
            raise HarnessError(f"few-shot needs {k} training passage(s), found {len(train)}")
        cut = self.config.max_passage_tokens
        return [truncate_text(self.tokenizer, train.texts[i].strip(), cut)
                for i in rng.choice(len(train), k, replace=False)]

    def generate(self, prompts: Sequence[str], task: GenerationTask, trial: int = 0,
                 max_new_tokens: int | None = None) -> Generations:
        return self.generator.generate(prompts, self.demonstrations[trial], trial,
                                       max_new_tokens)

    def log_likelihood(self, texts: Sequence[str], task: GenerationTask,
                       trial: int = 0) -> TextScores:
        return self.generator.log_likelihood(texts, self.demonstrations[trial])

    def predict(self, texts: Sequence[str], task: Task, trial: int = 0) -> Predictions:
        limit = self.config.max_text_tokens
        questions = [task.prompt(truncate_text(self.tokenizer, t, limit)) for t in texts]
        self._rows_predicted += len(texts)
        if self.knn is not None:
            return self._predict_knn(texts, questions, trial)
        prompts = [self._render(q, self.demonstrations[trial]) for q in questions]
        raw = self.scorer.score(prompts, progress=len(texts) > 64)
        return predictions_from_scores(self.adjustments[trial](raw), prompts)

    def _predict_knn(self, texts, questions: list[str], trial: int) -> Predictions:
        """Each row after its own demonstrations; with calibration or PMI, its content-free
        inputs and premise after the same ones, the row's demonstrations encoded once for all."""
        demos = self.neighbours(texts, trial)
        if not (self.config.calibrate or self.config.scoring == "pmi"):
            prompts = [self._render(q, d) for q, d in zip(questions, demos)]
            raw = self.scorer.score(prompts, progress=len(texts) > 64)
            return predictions_from_scores(self._adjustment(())(raw), prompts)  # label lengths only
        scores, prompts = [], []
        for question, own in tqdm(list(zip(questions, demos)), desc="scoring",
                                  disable=len(texts) <= 64, leave=False):
            self._keep_prefix(own)
            adjust = self._adjustment(own)
            prompts.append(self._render(question, own))
            scores.append(adjust(self.scorer.score(prompts[-1:]))[0])
        return predictions_from_scores(np.stack(scores), prompts)

    def neighbours(self, texts: Sequence[str], trial: int = 0) -> list[list[tuple[str, str]]]:
        """kNN: each text's demonstrations from the training rows, in prompt order."""
        return [[self._demonstration(self.knn.train, i) for i in rows]
                for rows in self.knn.rows(texts, trial)]

    def _render(self, question: str, demonstrations) -> str:
        if self.config.as_chat_turns:
            return self.scorer.render(question, demonstrations)
        shots = "".join(f"{q}\nAnswer: {a}\n\n" for q, a in demonstrations)
        return self.scorer.render(shots + question)

    def footprint(self) -> Footprint:
        """The decoder's (with knn-embed's encoder, deployed too), and how much of the prompts
        scored since prepare() the kept prefixes spared the model: prompt_tokens counts every
        scored sequence as if nothing were cached (content-free inputs included), and
        prompt_tokens_run what the model ran, prefix encodings in predict() included; per row
        predicted, it compares selectors. Counted by the hf scorer (vLLM caches by itself)."""
        footprint = frozen_footprint(self.context, self.model,
                                     self.config.vllm_memory_share, self.scorer or self.generator)
        if self.knn is not None:
            footprint = self.knn.deployed_with(footprint)
        if self.scorer is None or self.scorer.prompt_tokens == self._counted_from[0]:
            return footprint  # a generation task, vllm or api, or nothing scored yet
        prompt = self.scorer.prompt_tokens - self._counted_from[0]
        run = self.scorer.tokens_processed - self._counted_from[1]
        return dataclasses.replace(footprint, extra={
            **footprint.extra, "prompt_tokens": prompt, "prompt_tokens_run": run,
            "prefix_cache_share": round(1 - run / prompt, 4),
            "prompt_tokens_run_per_row": round(run / max(1, self._rows_predicted), 1)})

    def export(self, folder: Path) -> None:
        """random: the demonstrations of every trial. kNN: the selector's settings, the training
        rows it searches and its index. With the base model, all a deployment needs."""
        if self.knn is None:
            (folder / "demonstrations.json").write_text(json.dumps(self.demonstrations,
                                                                   indent=1))
            return
        self.knn.export(folder, self.context.task.label_words,
                        max_demo_tokens=self.config.max_demo_tokens)
