"""Step 12: validation rows held out of the training rows (stratified, nested), the schedule
with its floor and early stopping, search spaces declared and checked, and `--tune N` end to
end on tiny models: the same budget per strategy, the defaults as the first trial, the search
in the record, the fit and the report."""

import dataclasses
import json
import re
from dataclasses import dataclass, field

import numpy as np
import pytest
from click.testing import CliRunner

from harness.api.search import Choice, IntRange, LogUniform, Uniform
from harness.api.strategy import StrategyBase, declaration_problems
from harness.cli.main import main
from harness.errors import HarnessError
from harness.inputs.data import Split, training_rows, validation_rows
from harness.plan.grid import build_cells
from harness.plan.request import GridRequest
from strategies.trainer import ClassifierTraining, schedule_steps


def labelled(n_per_label: int, labels: int = 4) -> Split:
    rows = [(f"text {label} {i}", label) for label in range(labels) for i in range(n_per_label)]
    return Split(tuple(t for t, _ in rows), np.array([lab for _, lab in rows]))


def test_validation_rows_are_a_stratified_fifth_of_the_training_draw_and_nest():
    split = labelled(100)
    held = {}
    for n in (32, 128, 400):
        fit, validation = validation_rows(split, seed=3, n=n)
        train = training_rows(split, 3, n)
        assert sorted(fit.texts + validation.texts) == sorted(train.texts)
        assert not set(fit.texts) & set(validation.texts)
        counts = np.bincount(validation.labels, minlength=4)
        assert counts.min() >= 1 and counts.max() - counts.min() <= 1
        assert 0.15 <= len(validation) / n <= 0.3
        held[n] = set(validation.texts)
    assert held[32] <= held[128] <= held[400]  # nested like the training sizes
    per_label_fit, per_label_val = validation_rows(split, seed=3, per_class=8)
    assert np.bincount(per_label_val.labels).tolist() == [2, 2, 2, 2]
    assert len(per_label_fit) == 24


def test_the_schedule_has_a_floor_in_steps_for_classifiers_only():
    config = ClassifierTraining()
    assert schedule_steps(32, config) == 100  # 3 epochs of 32 rows would be 6 steps
    assert schedule_steps(2000, config) == 375
    assert schedule_steps(32, config, floor=False) == 6
    assert schedule_steps(32, ClassifierTraining(min_steps=0)) == 6


@dataclass
class SpaceConfig:
    rate: float = field(default=0.1, metadata={"help": "a rate"})
    size: int = field(default=4, metadata={"help": "a size"})


class Spaced(StrategyBase):
    name = "spaced"
    description = "test double"
    config_class = SpaceConfig
    model_kind = None

    def fit(self, tasks): ...

    def footprint(self): ...

    def predict(self, texts, task, trial=0): ...


def test_a_search_space_must_name_fields_and_hold_their_defaults():
    def problems(space, **flags):
        return declaration_problems(type("S", (Spaced,), {"search_space": space, **flags}))

    assert problems({"rate": LogUniform(0.01, 1.0), "size": IntRange(1, 8)}) == []
    assert "not a field" in problems({"speed": Uniform(0, 1)})[0]
    assert "must hold the default 0.1" in problems({"rate": LogUniform(0.2, 1.0)})[0]
    assert "must hold the default 4" in problems({"size": Choice(8, 16)})[0]
    assert "must be one of" in problems({"rate": (0.01, 1.0)})[0]
    assert "uses_training_rows" in problems({"rate": LogUniform(0.01, 1.0)},
                                            uses_training_rows=False)[0]
    with pytest.raises(ValueError):
        LogUniform(0, 1)
    assert not Choice(True, False).contains(1) and Choice(8, 16).contains(16)


def test_validation_is_held_out_only_for_strategies_that_use_it_or_are_tuned(data_dir):
    request = GridRequest(tasks=("agnews",), strategies="full-finetune,knn,zero-shot",
                          n_train=40, n_eval=8, data_dir=data_dir)
    cells = {c.strategy: c for c in build_cells(request, notes=[])}
    assert len(cells["full-finetune"].validation) == 8
    assert len(cells["full-finetune"].fit_train) == 32
    assert cells["knn"].validation is None and len(cells["knn"].fit_train) == 40
    assert "validation_fingerprint" in cells["full-finetune"].identity()
    assert "tune" not in cells["knn"].identity()
    notes = []
    tuned = {c.strategy: c for c in build_cells(dataclasses.replace(request, tune=3), notes)}
    assert tuned["knn"].tune == 3 and len(tuned["knn"].validation) == 8
    assert tuned["zero-shot"].tune == 0  # nothing to tune: a note says so
    assert notes == ["zero-shot: nothing to tune (no search space); run with the settings given"]
    assert tuned["knn"].key != cells["knn"].key
    with pytest.raises(HarnessError, match="--tune needs validation rows"):
        build_cells(GridRequest(tasks=("agnews",), strategies="knn", n_train=4, n_eval=8,
                                data_dir=data_dir, tune=2))


def test_tune_runs_the_same_budget_per_strategy_and_keeps_the_search(tiny_encoder, data_dir,
                                                                     tmp_path):
    out = tmp_path / "results"
    result = CliRunner().invoke(main, [
        "run", "-s", "full-finetune,knn", "-t", "agnews", "--model",
        f"encoder={tiny_encoder.source}", "--data-dir", data_dir, "--n-train", "40",
        "--n-eval", "12", "--tune", "3", "-c", "full-finetune.min_steps=4",
        "--out", str(out), "--reports", str(tmp_path / "reports")])
    assert result.exit_code == 0, result.output
    records = {r["strategy"]: r for r in (json.loads(p.read_text()) for p in out.glob("*.json"))}
    for name, record in records.items():
        search = record["tuning"]
        assert record["tune"] == 3 and search["trials"] == 3 and len(search["history"]) == 3
        assert search["metric"] == "macro_f1" and search["n_validation"] == 8
        first = search["history"][0]["settings"]
        assert first == {k: record["config"][k] for k in first}  # the defaults come first
        values = [t["value"] for t in search["history"]]
        assert search["best_value"] == max(values) >= search["default_value"]
        assert record["fit_s"] >= sum(t["seconds"] for t in search["history"]) * 0.9
    assert records["full-finetune"]["footprint_schedule_steps"] >= 4
    report = (tmp_path / "reports" / "agnews.md").read_text()
    # bf16 where this machine has it (--precision auto): the row's name says so
    assert re.search(r"full-finetune( · bf16)? · tuned ×3", report) and "## Tuning" in report
    assert "Settings chosen per record" in report


def test_early_stopping_restores_the_best_weights_and_stops(tiny_encoder, tmp_path):
    """A learning rate that wrecks the model after its first evaluation: training stops after
    `patience` worse evaluations, and the weights of the best one are back."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from harness.api.strategy import Context
    from harness.inputs.tasks import get_task
    from strategies.trainer import train_classifier

    tokenizer = AutoTokenizer.from_pretrained(tiny_encoder.source)
    model = AutoModelForSequenceClassification.from_pretrained(
        tiny_encoder.source, num_labels=4, ignore_mismatched_sizes=True)
    train, validation = labelled(8), labelled(2)
    config = ClassifierTraining(min_steps=40, evaluations=20, patience=2, learning_rate=1.0,
                                warmup_ratio=0.0, batch_size=8)
    context = Context(get_task("agnews"), None, 0, "cpu", tmp_path)
    log = train_classifier(model, tokenizer, train, config, context, validation)
    assert log.planned_steps == 40 and log.steps < 40  # stopped early
    losses = dict(log.validation_losses)
    assert log.best_step == min(losses, key=losses.get)
    batch = tokenizer(list(validation.texts), padding=True, return_tensors="pt")
    with torch.no_grad():
        loss = model(**batch, labels=torch.tensor(validation.labels)).loss.item()
    assert loss == pytest.approx(losses[log.best_step], rel=1e-4)


def _tuned_cell(data_dir, tune: int, parallel: int):
    request = GridRequest(tasks=("agnews",), strategies="tfidf-logreg", n_train=40, n_eval=8,
                          data_dir=data_dir, tune=tune, tune_parallel=parallel)
    return build_cells(request, notes=[])[0]


def _settings_asked(cell, order) -> list:
    """Every trial's settings when each round is told in `order` (a function of the round's
    trial numbers), the value a fixed function of the settings."""
    from harness.cell.tuning import Search

    search, asked = Search(cell), []
    while not search.finished:
        trials = dict(search.round())
        asked += [trials[n] for n in sorted(trials)]
        for number in order(sorted(trials)):
            settings = trials[number]
            search.tell(number, -abs(np.log10(settings["C"]) - 1.3), seconds=0.0)
    return asked, search.summary()


def test_a_search_in_rounds_tries_the_same_settings_whatever_order_its_trials_end_in(data_dir):
    cell = _tuned_cell(data_dir, tune=8, parallel=3)
    assert cell.tune_parallel == 3 and cell.identity()["tune_parallel"] == 3
    assert "tune_parallel" not in _tuned_cell(data_dir, 8, 1).identity()  # old keys stand
    in_order, first = _settings_asked(cell, list)
    reversed_, second = _settings_asked(cell, lambda numbers: numbers[::-1])
    assert in_order == reversed_ and first["chosen"] == second["chosen"]
    assert len({json.dumps(s, sort_keys=True) for s in in_order}) == 8  # no setting twice
    assert first["parallel"] == 3 and "in rounds of 3" in first["sampler"]


def test_equal_trials_choose_the_first_and_a_search_with_no_finished_trial_fails(data_dir):
    from harness.cell.tuning import Search

    search = Search(_tuned_cell(data_dir, tune=4, parallel=2))
    rounds = [search.round() for _ in range(1)][0]
    search.tell(rounds[1][0], 0.5, 1.0)  # the second ends first, as on an executor
    search.tell(rounds[0][0], 0.5, 1.0)
    assert search.best == 0
    for number, _ in search.round():
        search.tell(number, None, 1.0, "ValueError: no")
    assert search.summary()["chosen"] == rounds[0][1]
    failing = Search(_tuned_cell(data_dir, tune=2, parallel=2))
    for number, _ in failing.round():
        failing.tell(number, None, 0.1, "RuntimeError: diverged")
    with pytest.raises(RuntimeError, match="every one of the 2 tuning trials failed; the "
                                           "first: RuntimeError: diverged"):
        failing.summary()


def test_trials_run_as_jobs_on_the_executor_and_the_chosen_settings_are_fitted_again(
        data_dir, tmp_path):
    """--tune-parallel 2 on --jobs 2: three trials in two rounds, each in a process of its own;
    the evaluation fits the chosen settings again, which reproduces the chosen trial's model
    (the same validation value), and its fit counts every trial."""
    out = tmp_path / "results"
    result = CliRunner().invoke(main, [
        "run", "-s", "tfidf-logreg", "-t", "agnews", "--data-dir", data_dir, "--n-train", "60",
        "--n-eval", "40", "--tune", "3", "--tune-parallel", "2", "--jobs", "2",
        "--out", str(out), "--reports", str(tmp_path / "reports")])
    assert result.exit_code == 0, result.output
    assert result.output.count(": trial ") == 6  # each sent and told
    assert "with the chosen settings" in result.output
    record = json.loads(next(out.glob("*.json")).read_text())
    search = record["tuning"]
    assert search["parallel"] == 2 and len(search["history"]) == 3
    assert all(trial["value"] is not None and trial["seconds"] > 0
               for trial in search["history"])
    values = [trial["value"] for trial in search["history"]]
    assert search["chosen"] == search["history"][values.index(max(values))]["settings"]
    assert search["refit_value"] == search["best_value"]
    assert record["fit_s"] == pytest.approx(search["trials_s"] + search["refit_s"])
    assert record["fit_s"] > sum(trial["seconds"] for trial in search["history"])
