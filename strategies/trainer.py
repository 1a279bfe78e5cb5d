"""The transformers Trainer as every training strategy runs it: one set of defaults
(TrainerSettings; ClassifierTraining adds the classifier's), their checks, the schedule, the
TrainingArguments built from them, early stopping on the validation rows, and the training of a
sequence classifier. Causal-LM training (strategies/sft.py), soft labels and instruction tuning
go through the same `run_trainer`.

The schedule is counted in optimizer steps: `epochs` passes over the rows fitted on, but never
fewer than `min_steps` (3 epochs of 32 rows in batches of 16 are 6 steps, too few to move a
new classification head: the small sizes of a learning curve would measure an unfinished
schedule). Given validation rows, the model is evaluated `evaluations` times over the schedule
and training stops after `patience` evaluations without a lower validation loss, the best
weights restored (kept in memory: no checkpoint is written).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from harness.api.settings import above, at_least, check, within
from harness.api.strategy import Context
from harness.inputs.data import Split


@dataclass
class TrainerSettings:
    """The Trainer settings every training strategy shares; a subclass changes a default by
    redefining the field (lora's learning rate, instruction-tuned's batch size)."""

    epochs: float = field(default=3.0, metadata={
        "help": "passes over the rows fitted on, unless min_steps asks for more"})
    min_steps: int = field(default=100, metadata={"help": (
        "classifiers: optimizer steps at least, whatever the number of rows, as a new head "
        "needs them (bench/results/schedule.json); a causal LM (generation tasks, instruction "
        "tuning) starts from its own head and runs its epochs")})
    patience: int = field(default=3, metadata={"help": (
        "with validation rows: evaluations without a lower validation loss before training "
        "stops, the best weights kept; 0 runs the whole schedule")})
    evaluations: int = field(default=8, metadata={
        "help": "with validation rows: evaluations of the validation loss over the schedule"})
    learning_rate: float = field(default=1e-4, metadata={
        "help": "peak AdamW learning rate; small encoders like a high one"})
    batch_size: int = field(default=16, metadata={"help": "training examples per optimizer step"})
    warmup_ratio: float = field(default=0.1, metadata={
        "help": "share of steps with a linear warm-up"})
    weight_decay: float = field(default=0.01, metadata={"help": "AdamW's decoupled weight decay"})
    group_by_length: bool = field(default=True, metadata={"help": (
        "Batches of similar lengths pad less: 0.62x the fit time of random batches at the same "
        "loss (bench/results/finetune_compare.json, 512 AG News rows, minilm-l6, CPU).")})
    gradient_checkpointing: str = field(default="auto", metadata={"help": (
        "recompute each layer's activations in the backward pass instead of keeping them: "
        "'on', 'off', or 'auto': on for a causal LM (generation tasks, instruction tuning), "
        "whose activations are most of its training memory, off for a small classifier, "
        "where it costs time and saves little (bench/results/training_memory.json)")})

    def __post_init__(self):
        check_training_settings(self)


@dataclass
class ClassifierTraining(TrainerSettings):
    """The settings of the strategies that train a classifier (full-finetune, lora, qlora,
    distill's student)."""

    max_length: int = field(default=128, metadata={
        "help": "tokens per example; AG News articles fit"})

    def __post_init__(self):
        super().__post_init__()
        within(self, 1, 2**20, "max_length")


def check_training_settings(config) -> None:
    """The ranges of the settings every Trainer-based strategy shares (its __post_init__):
    beyond the upper bounds a run would diverge or never end, not train."""
    within(config, 1, 2**16, "batch_size")
    within(config, 1, 10_000, "evaluations")
    within(config, 0, 10**7, "min_steps", "patience")
    within(config, 0, 10, "weight_decay")
    above(config, 0, "epochs", "learning_rate")
    within(config, 0, 10_000, "epochs")
    within(config, 0, 1, "learning_rate")
    within(config, 0, 1, "warmup_ratio")
    check(config, "gradient_checkpointing", config.gradient_checkpointing in CHECKPOINTING,
          " or ".join(repr(c) for c in CHECKPOINTING))


CHECKPOINTING = ("auto", "on", "off")


def checkpointing(config, causal_lm: bool) -> bool:
    """Whether training recomputes activations (TrainerSettings.gradient_checkpointing)."""
    return {"on": True, "off": False, "auto": causal_lm}[config.gradient_checkpointing]


@dataclass
class TrainingLog:
    """What a training run did, for the strategy's footprint: the schedule's steps, those run,
    and with validation rows the step whose weights were kept and the losses seen."""

    planned_steps: int
    steps: int = 0
    best_step: int | None = None
    validation_losses: list = field(default_factory=list)

    def footprint(self) -> dict:
        out = {"schedule_steps": self.planned_steps, "trained_steps": self.steps}
        if self.validation_losses:
            out.update(best_step=self.best_step,
                       best_validation_loss=min(loss for _, loss in self.validation_losses),
                       validation_evaluations=len(self.validation_losses))
        return out


def schedule_steps(n_rows: int, config, floor: bool = True) -> int:
    """Optimizer steps of the schedule: `epochs` passes over n rows, and with `floor` (a
    classifier) at least `min_steps`."""
    per_epoch = math.ceil(max(n_rows, 1) / config.batch_size)
    return max(config.min_steps if floor else 1, math.ceil(per_epoch * config.epochs))


def train_classifier(model, tokenizer, train: Split, config, context: Context,
                     validation: Split | None = None) -> TrainingLog:
    """`config` as for training_arguments, and max_length."""
    from transformers import DataCollatorWithPadding

    def rows(split: Split):
        from datasets import Dataset

        data = Dataset.from_dict({"text": list(split.texts), "label": split.labels.tolist()})
        return data.map(lambda b: tokenizer(b["text"], truncation=True,
                                            max_length=config.max_length),
                        batched=True, remove_columns=["text"])

    return run_trainer(model, config, context, rows(train), DataCollatorWithPadding(tokenizer),
                       rows(validation) if validation is not None and len(validation) else None)


def run_trainer(model, config, context: Context, rows, collator, validation=None,
                trainer_class=None, causal_lm: bool = False) -> TrainingLog:
    """Train `model` on the dataset `rows` on the schedule (a classifier: at least min_steps);
    with a `validation` dataset, stop early on its loss and keep the best weights.
    `trainer_class`: a Trainer subclass (a loss of its own), the Trainer by default."""
    from transformers import Trainer

    steps = schedule_steps(len(rows), config, floor=not causal_lm)
    log = TrainingLog(steps)
    validate = validation is not None and config.patience > 0
    keeper = _keep_best_callback(model, config.patience, log) if validate else None
    trainer = _marked(trainer_class or Trainer, context.probe)(
        model=model, args=training_arguments(config, context, steps, validate,
                                             checkpointing(config, causal_lm)),
        train_dataset=rows, eval_dataset=validation if validate else None,
        data_collator=collator, callbacks=[keeper] if keeper else None)
    loss = trainer.train().training_loss
    log.steps = trainer.state.global_step
    # NaN weights predict one class with NaN scores: say why, unless early stopping kept
    # weights from before the divergence (their validation loss was finite)
    if not math.isfinite(loss) and not (keeper and keeper.saved is not None):
        raise RuntimeError(f"training diverged: the mean training loss is {loss} "
                           f"(learning_rate {config.learning_rate:g}; try a lower one)")
    if keeper:
        keeper.restore()
    model.eval()
    return log


def _marked(trainer_class, probe):
    """`trainer_class` asking the runner's probe for the RSS at each point of a training step:
    the step's start (weights, optimizer state), after the loss (activations kept for the
    backward, the loss's own), after the backward (gradients; activations freed) and after the
    optimizer (its state allocated on the first step). The differences are the record's
    breakdown of training memory (rss_mark_train_*_bytes)."""
    from transformers import TrainerCallback

    class Marks(TrainerCallback):
        def on_step_begin(self, args, state, control, **kwargs):
            probe.mark("train_step_start")

        def on_pre_optimizer_step(self, args, state, control, **kwargs):
            probe.mark("train_after_backward")

        def on_optimizer_step(self, args, state, control, **kwargs):
            probe.mark("train_after_optimizer")

        def on_step_end(self, args, state, control, **kwargs):
            probe.progress(state.global_step, state.max_steps, "steps")

    class Marked(trainer_class):
        def __init__(self, *args, callbacks=None, **kwargs):
            super().__init__(*args, callbacks=[Marks(), *(callbacks or [])], **kwargs)

        def compute_loss(self, model, inputs, *args, **kwargs):
            out = super().compute_loss(model, inputs, *args, **kwargs)
            if model.training:  # not the validation loss
                probe.mark("train_after_loss")
            return out

    return Marked


def _keep_best_callback(model, patience: int, log: TrainingLog):
    """A TrainerCallback that keeps a copy of the trainable weights at each new lowest
    validation loss and stops training after `patience` evaluations without one."""
    import torch
    from transformers import TrainerCallback

    class KeepBest(TrainerCallback):
        def __init__(self):
            self.best, self.waited, self.saved = math.inf, 0, None

        def on_evaluate(self, args, state, control, metrics=None, **kwargs):
            loss = float((metrics or {}).get("eval_loss", math.nan))
            log.validation_losses.append((state.global_step, loss))
            if loss < self.best:
                self.best, self.waited, log.best_step = loss, 0, state.global_step
                self.saved = {name: p.detach().clone() for name, p in model.named_parameters()
                              if p.requires_grad}
            else:  # NaN (a diverged model) is never better
                self.waited += 1
                control.should_training_stop = self.waited >= patience
            _training_layout(model)

        def restore(self):
            if self.saved is not None:
                with torch.no_grad():
                    for name, p in model.named_parameters():
                        if name in self.saved:
                            p.copy_(self.saved[name])

    return KeepBest()


def _training_layout(model) -> None:
    """bitsandbytes (0.50) on CPU repacks a Linear4bit's weight for inference on its first
    eval-mode forward (here: the validation loss) and packs it back only when saving; training
    on the inference layout fails (an in-place bias add on a leaf) or would compute other
    gradients. Packed back after each evaluation, as its own `_save_to_state_dict` does."""
    for module in model.modules():
        weight = getattr(module, "weight", None)
        state = getattr(weight, "quant_state", None)
        if state is not None and getattr(state, "packing_format_for_cpu", False):
            from bitsandbytes.functional import _convert_weight_packed_for_cpu_inverse

            weight.data, weight.quant_state = _convert_weight_packed_for_cpu_inverse(
                weight.data, state)


def training_arguments(config, context: Context, steps: int, validate: bool = False,
                       recompute: bool = False):
    """`config`: a TrainerSettings; `steps` the schedule's (schedule_steps). `validate`:
    evaluate on an eval dataset during training; `recompute`: gradient checkpointing."""
    from transformers import TrainingArguments

    every = max(1, math.ceil(steps / config.evaluations))
    return TrainingArguments(
        output_dir=str(context.work_dir / "trainer"),
        max_steps=steps,
        learning_rate=config.learning_rate,
        per_device_train_batch_size=config.batch_size,
        per_device_eval_batch_size=2 * config.batch_size,  # no gradients: twice the rows fit
        # A step count rather than warmup_ratio: the name changed across transformers versions.
        warmup_steps=int(config.warmup_ratio * steps),
        weight_decay=config.weight_decay,
        lr_scheduler_type="linear",
        seed=context.seed,
        data_seed=context.seed,
        train_sampling_strategy="group_by_length" if config.group_by_length else "random",
        # bf16 autocast, float32 master weights (`--precision`; the cell's choice)
        bf16=context.precision == "bf16",
        eval_strategy="steps" if validate else "no",
        eval_steps=every if validate else None,
        # Only the validation loss is read: no logits of every validation row are gathered
        prediction_loss_only=True,
        **_checkpointing_arguments(recompute),
        save_strategy="no",
        report_to=[],
        # The cell's stdout is its log file (harness.cell.isolation): losses every 50 steps are kept
        # there for a failed cell; progress bars would only fill it. The Trainer prints its
        # final metrics dict whatever the settings, hence the log file rather than an option.
        logging_steps=50,
        # A NaN or infinite loss counts in the mean training loss (the Trainer would put the
        # running mean in its place): a diverged run must say so (run_trainer)
        logging_nan_inf_filter=False,
        disable_tqdm=True,
        use_cpu=context.device == "cpu",
        dataloader_num_workers=0,
    )


def _checkpointing_arguments(recompute: bool) -> dict:
    """Gradient checkpointing under the name this transformers has (`activation_checkpointing`
    from 5.x on, `gradient_checkpointing` before), non-reentrant: the frozen inputs of a LoRA
    base need no requires_grad hook."""
    from dataclasses import fields

    from transformers import TrainingArguments

    names = {f.name for f in fields(TrainingArguments)}
    name = "activation_checkpointing" if "activation_checkpointing" in names \
        else "gradient_checkpointing"
    return {name: recompute, f"{name}_kwargs": {"use_reentrant": False} if recompute else None}
