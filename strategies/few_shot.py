"""few-shot: in-context learning. k demonstrations per class, drawn with a seed from the
training rows only, go before the question (as chat turns or inline), and the label words are
scored as in zero-shot. `trials` independent draws show how much the choice of examples moves
the accuracy; the demonstrations of a trial are a prefix shared by every example, encoded once.

    harness run --strategies few-shot --task agnews -c few-shot.k_per_class=2 -c few-shot.trials=5
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Sequence

import numpy as np

from harness.data import Split
from harness.errors import HarnessError
from harness.settings import at_least, check
from harness.strategy import Context, Footprint, Predictions, predictions_from_scores
from harness.tasks import Task
from strategies.common import only_task
from strategies.decoder import frozen_footprint, load_frozen_decoder, open_scorer, truncate_text


@dataclass
class FewShotConfig:
    k_per_class: int = 1  # demonstrations per label (balanced); 4 in all on AG News
    trials: int = 3  # independent demonstration draws; the report shows their spread
    as_chat_turns: bool = True  # demonstrations as user/assistant turns, else inline in one turn
    use_chat_template: bool = True  # wrap the prompt in the tokenizer's chat template if it has one
    normalize: Literal["sum", "mean"] = "sum"  # sum or mean of the label word's token log-probs
    max_demo_tokens: int = 64  # each demonstration's text is cut to this; keeps prompts short
    max_text_tokens: int = 256  # the input being classified is cut to this
    max_batch_tokens: int | None = None  # padded tokens per pass, prefix included; None: auto
    # Contextual calibration (Zhao et al., 2021): subtract the label scores the same prompt gives
    # a content-free input ("N/A"), which removes the bias towards the labels of the last or
    # most frequent demonstrations that small models show.
    calibrate: bool = True
    vllm_memory_share: float = 0.3  # vllm backend: share of GPU memory (or RAM) it reserves

    def __post_init__(self):
        at_least(self, 1, "k_per_class", "trials", "max_demo_tokens", "max_text_tokens",
                 "max_batch_tokens")
        check(self, "vllm_memory_share", 0 < self.vllm_memory_share <= 1, "in (0, 1]")


class FewShot:
    name = "few-shot"
    description = "In-context learning: k labelled examples per class in the prompt, several draws."
    config_class = FewShotConfig
    model_kind = "decoder"
    backends = ("hf", "vllm")
    devices = ("cuda", "cpu")
    multi_task = False
    trials = 1  # each instance has its config's number of demonstration draws

    def __init__(self, config: FewShotConfig, context: Context):
        self.config, self.context = config, context
        self.trials = config.trials
        self.model, self.tokenizer = load_frozen_decoder(context)
        self.scorer = None
        self.demonstrations: list[list[tuple[str, str]]] = []
        self.bias: list = []  # per trial: label scores of a content-free input

    def fit(self, tasks: Sequence[tuple[Task, Split]]) -> None:
        """Draw the demonstrations of every trial; the model itself is not trained."""
        _, train = only_task(tasks)
        self.demonstrations = [self._draw(train, np.random.default_rng([self.context.seed, t]))
                               for t in range(self.trials)]

    def prepare(self) -> None:
        self.scorer = open_scorer(self.context, self.model, self.tokenizer, self.config)
        task = self.context.task
        if self.config.calibrate:  # once per trial, before any prediction is timed
            self.bias = [self.scorer.score([self._render(task.prompt("N/A"), demos)])[0]
                         for demos in self.demonstrations]
        # The demonstrations are encoded once, as a deployment would; the first trial's last,
        # so that it is kept however many trials there are (single-example latency uses it).
        for demos in reversed(self.demonstrations):
            self.scorer.keep_prefix([self._render(task.prompt(text), demos)
                                     for text in ("N/A", "Example.")])

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

    def predict(self, texts: Sequence[str], task: Task, trial: int = 0) -> Predictions:
        limit = self.config.max_text_tokens
        questions = [task.prompt(truncate_text(self.tokenizer, t, limit)) for t in texts]
        prompts = [self._render(q, self.demonstrations[trial]) for q in questions]
        scores = self.scorer.score(prompts, progress=len(texts) > 64)
        if self.config.calibrate:
            scores = scores - self.bias[trial]
        return predictions_from_scores(scores)

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
