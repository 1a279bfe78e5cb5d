"""distill: a teacher (any other registered strategy, few-shot on the decoder preset by default)
labels the training rows; a small encoder, the student, is fully fine-tuned on those labels,
soft (the teacher's probabilities) or hard (its argmax), and alone predicts.

    harness run -s distill -t agnews
    harness run -s distill -t agnews -c distill.teacher=tfidf-logreg -c distill.soft_labels=false
    harness run -s distill -t agnews -c distill.teacher=zero-shot \
        --model decoder=HuggingFaceTB/SmolLM2-360M-Instruct --model encoder=minilm-l6

The student never sees a gold label: it trains on the teacher's labels only. The teacher sees
the gold training labels only as it would on its own (few-shot draws its demonstrations from
them; a trained teacher fits on them); distill reads them once more, to report the teacher's
accuracy on the rows it labelled. The teacher runs on the model `--model` gives its kind (the
decoder preset by default), the student on the encoder's; both, and the teacher's code, are part
of the cell's key (`runs_strategies`), so a change to either recomputes the cell.

Everything the teacher costs (loading, fitting, labelling) is inside the cell's fit_s; the
runner's probe measures that share (`span_teacher_label_s`, its predictions alone
`span_teacher_predict_s`, each span's peak RSS beside it); the footprint reports the teacher's
quality and the student's agreement with it on the training rows.
"""

from __future__ import annotations

import gc
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from harness.api.search import LogUniform, Uniform
from harness.api import registry
from harness.inputs.data import Split
from harness.errors import HarnessError, did_you_mean
from harness.api.resources import Resources
from harness.api.settings import above, at_least, check
from harness.api.strategy import (NO_TRAINING_ROWS, Context, Footprint, Predictions, StrategyBase,
                                  make_config)
from harness.inputs.tasks import Task
from strategies.common import only_task, torch_footprint
from strategies.trainer import ClassifierTraining

NAME = "distill"


@dataclass
class DistillConfig(ClassifierTraining):  # the student's training
    teacher: str = field(default="few-shot", metadata={
        "help": "any registered classification strategy but distill itself"})
    teacher_config: str = field(default="{}", metadata={"help": (
        "JSON object of the teacher's settings, e.g. '{\"k_per_class\": 2}'; its defaults "
        "otherwise")})
    teacher_trials: int = field(default=1, metadata={"help": (
        "How many of the teacher's trials (few-shot: demonstration draws) label the rows, their "
        "probabilities averaged; each is a full pass over the training rows")})
    soft_labels: bool = field(default=True, metadata={
        "help": "train on the teacher's probabilities; false: on its argmax"})
    temperature: float = field(default=1.0, metadata={"help": (
        "The teacher's probabilities p become p ** (1 / temperature), renormalised: above 1 "
        "softer targets (more of the teacher's ranking of wrong labels), below 1 sharper")})

    def __post_init__(self):
        super().__post_init__()
        at_least(self, 1, "teacher_trials")
        above(self, 0, "temperature")
        teacher_class(self)
        teacher_settings(self)


def teacher_class(config: DistillConfig) -> type:
    """The teacher's strategy class, or a SettingError naming what would be valid."""
    known = registry.entries()
    check(config, "teacher", config.teacher != NAME,
          "another strategy: a student cannot teach itself")
    check(config, "teacher", config.teacher in known,
          f"a registered strategy{did_you_mean(config.teacher, set(known) - {NAME})}")
    cls = registry.get(config.teacher)
    check(config, "teacher", "classification" in cls.task_kinds,
          "a strategy that classifies (see `harness list strategies`)")
    return cls


def teacher_settings(config: DistillConfig):
    """The teacher's config: its defaults with `teacher_config` applied."""
    try:
        overrides = json.loads(config.teacher_config)
    except json.JSONDecodeError:
        overrides = None
    check(config, "teacher_config", isinstance(overrides, dict),
          'a JSON object of the teacher\'s settings, e.g. {"trials": 1}')
    cls = teacher_class(config)
    try:
        return make_config(cls, overrides)
    except HarnessError as error:
        check(config, "teacher_config", False,
              f"settings '{cls.name}' accepts ({error.message.removeprefix('-c ')})")


class Distill(StrategyBase):
    name = NAME
    description = "A teacher strategy labels the training rows; a small encoder learns its labels."
    config_class = DistillConfig
    # The student's schedule and how soft the teacher's labels are
    search_space = {"learning_rate": LogUniform(1e-5, 5e-4), "epochs": Uniform(1.0, 10.0),
                    "temperature": LogUniform(0.5, 4.0)}
    model_kind = "encoder"  # the student's; the teacher's is its own kind's (--model KIND=...)
    # The teacher (few-shot: the 135M decoder, ~0.55 GB in float32, and its scoring) within
    # memory_gib; the student's full fine-tuning in the multiple of its weight files.
    resources = Resources(gpus=1, cpus=1, memory_gib=3, model_memory_multiple=4)
    # The exported student reloaded, cast or quantized (strategies/inference.py)
    inference_variants = ("fp32", "bf16", "fp16", "int8", "nf4")
    # float32 only: in bf16 (teacher's layers in bf16, student under autocast) it lost accuracy
    # on the quick profile, -0.021 [-0.030, -0.012] against float32, its teacher labelling the
    # training rows less accurately (0.546 against 0.561; bench/results/precision_compare.json).
    # `--precision bf16` is refused for it; its teacher runs in the cell's precision.
    # The teacher: its code and model are part of the cell's identity (harness/plan/grid.py)
    runs_strategies = ("teacher",)

    def __init__(self, config: DistillConfig, context: Context):
        from strategies.encoder import load_classifier

        self.config, self.context = config, context
        self.student, self.tokenizer = load_classifier(context)
        self.student.to(context.device)
        self.teacher_report: dict = {}
        self.train_texts: tuple = ()
        self.teacher_labels = np.zeros(0, dtype=np.int64)
        self.agreement: float | None = None

    def fit(self, tasks: Sequence[tuple[Task, Split]]) -> None:
        """The teacher labels the training rows and is freed; the student trains on the labels."""
        from strategies.soft_labels import one_hot, train_on_distributions

        task, train = only_task(tasks)
        if not len(train):
            raise HarnessError("distill needs training rows for its teacher to label")
        # The runner sees fit as a whole; the teacher's share of it is what distill is
        # compared on, so its probe measures that span.
        with self.context.probe.span("teacher_label"):
            probs = self._label(task, train)
            _free_memory(self.context.device)  # the teacher's, before the student trains
        self.train_texts, self.teacher_labels = train.texts, probs.argmax(axis=1)
        targets = probs if self.config.soft_labels else one_hot(probs)
        log = train_on_distributions(self.student, self.tokenizer, train.texts, targets,
                                     self.config, self.context)
        spec = self.context.strategy_models.get("teacher")
        self.teacher_report = {
            "teacher": self.config.teacher, "teacher_model": spec.name if spec else None,
            "soft_labels": self.config.soft_labels, "teacher_rows_labelled": len(train),
            # Against the gold labels the student never sees: the teacher's quality on the
            # rows it labelled, what the student learns from
            "teacher_train_accuracy": float((self.teacher_labels == train.labels).mean()),
            # Mean top probability of the teacher's distributions: how soft its labels are
            "teacher_mean_confidence": float(probs.max(axis=1).mean()), **log.footprint()}

    def _label(self, task: Task, train: Split) -> np.ndarray:
        """The teacher's distributions over the labels of the training rows (averaged over its
        trials), its predictions a probe span. The teacher lives only in this call."""
        from strategies.soft_labels import teacher_distribution

        cls = teacher_class(self.config)
        teacher = cls(teacher_settings(self.config), self._teacher_context(cls))
        teacher.fit([(task, train if cls.uses_training_rows else NO_TRAINING_ROWS)])
        teacher.prepare()
        texts = list(train.texts)
        with self.context.probe.span("teacher_predict"):
            probs = np.mean([teacher_distribution(teacher.predict(texts, task, trial).scores,
                                                  self.config.temperature)
                             for trial in range(min(int(teacher.trials),
                                                    self.config.teacher_trials))], axis=0)
        del teacher
        return probs

    def _teacher_context(self, cls) -> Context:
        """The cell's task, seed, device (the CPU if the teacher cannot use the cell's) and
        precision (float32 if the teacher does not declare the cell's), the teacher's own model
        and default backend, and a scratch folder of its own."""
        device = self.context.device if self.context.device in cls.devices else "cpu"
        work_dir = self.context.work_dir / "teacher"
        work_dir.mkdir(parents=True, exist_ok=True)
        precision = self.context.precision if self.context.precision in cls.precisions else "fp32"
        return Context(self.context.task, self.context.strategy_models.get("teacher"),
                       self.context.seed, device, work_dir, cls.backends[0], precision=precision)

    @classmethod
    def load_inference(cls, config: DistillConfig, context: Context, folder: Path,
                       variant: str):
        """The exported student in the variant, ready to predict (its teacher long gone)."""
        from strategies.encoder import load_tokenizer
        from strategies.inference import load_classifier_variant

        loaded = cls.__new__(cls)
        loaded.config, loaded.context = config, context
        loaded.student = load_classifier_variant(context, folder, variant)
        loaded.tokenizer = load_tokenizer(context)
        loaded.teacher_report, loaded.train_texts, loaded.agreement = {}, (), None
        return loaded

    def predict(self, texts: Sequence[str], task: Task, trial: int = 0) -> Predictions:
        from strategies.encoder import classify

        return classify(self.student, self.tokenizer, texts, self.config.max_length)

    def footprint(self) -> Footprint:
        """The student's parameters, and what the teacher did for it."""
        return torch_footprint(self.student, **self.teacher_report,
                               teacher_student_agreement_train=self._agreement())

    def _agreement(self) -> float | None:
        """Share of training rows the student labels as the teacher did: how well it imitated.
        Computed on first asking, outside fit, like any evaluation: no part of the method."""
        if self.agreement is None and len(self.train_texts):
            student = self.predict(self.train_texts, self.context.task).labels
            self.agreement = float((student == self.teacher_labels).mean())
        return self.agreement

    def export(self, folder: Path) -> None:
        """The student's weights, and teacher.json: which teacher labelled its training rows."""
        from strategies.inference import save_model

        save_model(self.student, folder)
        spec = self.context.strategy_models.get("teacher")
        described = {"teacher": self.config.teacher,
                     "teacher_config": json.loads(self.config.teacher_config),
                     "teacher_model": spec.name if spec else None,
                     "teacher_model_source": spec.source if spec else None,
                     "soft_labels": self.config.soft_labels,
                     "temperature": self.config.temperature}
        (folder / "teacher.json").write_text(json.dumps(described, indent=1))


def _free_memory(device: str) -> None:
    gc.collect()
    if device == "cuda":
        import torch

        torch.cuda.empty_cache()
