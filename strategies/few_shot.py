"""few-shot: in-context learning. k demonstrations per class, drawn with a seed from the
training rows only, go before the question (as chat turns or inline), and the label words are
scored as in zero-shot. `trials` independent draws show how much the choice of examples moves
the accuracy; the demonstrations of a trial are a prefix shared by every example, encoded once.

    harness run --strategies few-shot --task agnews -c few-shot.k_per_class=2 -c few-shot.trials=5

Scoring and calibration are zero-shot's (strategies/scoring.py), computed per trial: the
content-free inputs and the PMI premise are asked after that trial's demonstrations.

On a generation task the demonstrations are `k_passages` training passages per trial, given as
earlier answers to the same instruction (strategies/generation.py); the passages are scored and
continued after them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from harness.data import Split
from harness.errors import HarnessError
from harness.resources import Resources
from harness.settings import at_least
from harness.strategy import (
    Context,
    Footprint,
    Generations,
    Predictions,
    TextScores,
    predictions_from_scores,
)
from harness.tasks import GenerationTask, Task
from strategies.common import only_task
from strategies.decoder import (
    frozen_footprint,
    load_frozen_decoder,
    open_generator,
    open_scorer,
    truncate_text,
)
from strategies.scoring import ScoreAdjustment, ScoringSettings


@dataclass
class FewShotConfig(ScoringSettings):  # + use_chat_template, scoring, max_batch_tokens, ...
    # Contextual calibration (Zhao et al., 2021), on by default: it also removes the bias
    # towards the labels of the last or most frequent demonstrations that small models show
    calibrate: bool = True
    k_per_class: int = 1  # demonstrations per label (balanced); 4 in all on AG News
    # Independent demonstration draws; the accuracy interval resamples them as well as the
    # rows, so which demonstrations were drawn counts in it (few draws make it wide)
    trials: int = 5
    as_chat_turns: bool = True  # demonstrations as user/assistant turns, else inline in one turn
    max_demo_tokens: int = 64  # each demonstration's text is cut to this; keeps prompts short
    max_text_tokens: int = 256  # the input being classified is cut to this
    k_passages: int = 2  # generation tasks: demonstration passages per prompt
    max_passage_tokens: int = 128  # generation tasks: each demonstration passage is cut to this

    def __post_init__(self):
        super().__post_init__()
        at_least(self, 1, "k_per_class", "trials", "max_demo_tokens", "max_text_tokens",
                 "k_passages", "max_passage_tokens")


class FewShot:
    name = "few-shot"
    description = "In-context learning: k labelled examples per class in the prompt, several draws."
    config_class = FewShotConfig
    task_kinds = ("classification", "generation")
    model_kind = "decoder"
    backends = ("hf", "vllm")
    devices = ("cuda", "cpu")
    multi_task = False
    trials = 1  # each instance has its config's number of demonstration draws
    deterministic = False  # the seed draws the demonstrations
    uses_training_rows = True  # the demonstrations come from them
    resources = Resources(gpus=1, cpus=1, memory_gib=1.5, model_memory_multiple=1.5)
    inference_variants = ()  # only its own way of predicting (harness/inference.py)

    def __init__(self, config: FewShotConfig, context: Context):
        self.config, self.context = config, context
        self.trials = config.trials
        self.model, self.tokenizer = load_frozen_decoder(context)
        self.scorer, self.generator = None, None
        # Per trial: (question, answer) pairs, or passages on a generation task
        self.demonstrations: list[list] = []
        self.adjustments: list[ScoreAdjustment] = []  # per trial: PMI premise, calibration

    def fit(self, tasks: Sequence[tuple[Task, Split]]) -> None:
        """Draw the demonstrations of every trial; the model itself is not trained."""
        _, train = only_task(tasks)
        draw = self._passages if self.context.task.kind == "generation" else self._draw
        self.demonstrations = [draw(train, np.random.default_rng([self.context.seed, t]))
                               for t in range(self.trials)]

    def prepare(self) -> None:
        task = self.context.task
        if task.kind == "generation":
            self.generator = open_generator(self.context, self.model, self.tokenizer,
                                            self.config)
            return
        self.scorer = open_scorer(self.context, self.model, self.tokenizer, self.config)
        # Per trial, before any prediction is timed: its demonstrations encoded once, as a
        # deployment would, and its premise and content-free inputs scored. The first trial
        # comes last, so that its prefix is kept however many trials there are (single-example
        # latency uses it).
        adjustments = {}
        for trial in reversed(range(self.trials)):
            demos = self.demonstrations[trial]

            def prompt_for(text: str, demos=demos) -> str:
                return self._render(task.prompt(text), demos)

            adjustments[trial] = ScoreAdjustment(self.config, self.scorer, prompt_for)
            self.scorer.keep_prefix([prompt_for(text) for text in ("N/A", "Example.")])
        self.adjustments = [adjustments[trial] for trial in range(self.trials)]

    def _draw(self, train: Split, rng: np.random.Generator) -> list[tuple[str, str]]:
        task, chosen = self.context.task, []
        for label in range(task.num_labels):
            rows = np.flatnonzero(train.labels == label)
            if len(rows) < self.config.k_per_class:
                raise HarnessError(f"few-shot needs {self.config.k_per_class} training row(s) of "
                                   f"label '{task.labels[label]}', found {len(rows)}")
            chosen += rng.choice(rows, self.config.k_per_class, replace=False).tolist()
        rng.shuffle(chosen)  # no label order for the model to copy
        cut = self.config.max_demo_tokens
        return [(task.prompt(truncate_text(self.tokenizer, train.texts[i], cut)),
                 task.label_words[train.labels[i]]) for i in chosen]

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
        prompts = [self._render(q, self.demonstrations[trial]) for q in questions]
        raw = self.scorer.score(prompts, progress=len(texts) > 64)
        return predictions_from_scores(self.adjustments[trial](raw))

    def _render(self, question: str, demonstrations) -> str:
        if self.config.as_chat_turns:
            return self.scorer.render(question, demonstrations)
        shots = "".join(f"{q}\nAnswer: {a}\n\n" for q, a in demonstrations)
        return self.scorer.render(shots + question)

    def footprint(self) -> Footprint:
        return frozen_footprint(self.context, self.model, self.config.vllm_memory_share)

    def export(self, folder: Path) -> None:
        """The demonstrations of every trial: with the base model, all a deployment needs."""
        (folder / "demonstrations.json").write_text(json.dumps(self.demonstrations, indent=1))
