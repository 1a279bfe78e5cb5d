"""distill: the teacher's scores as distributions, a student that learns the teacher's labels
(not the gold ones), what the footprint and the export say about the teacher, and one-line
errors for a bad teacher."""

import json

import numpy as np
import pytest
from toy_strategies import _Base

from harness.api import registry
from harness.errors import HarnessError
from harness.api.strategy import make_config, predictions_from_scores
from harness.api.testing import TINY_TASK, run_strategy, tiny_split
from strategies import soft_labels
from strategies.distill import Distill
from strategies.soft_labels import teacher_distribution
from strategies.trainer import TrainingLog

# The tiny task's topic words (harness.api.testing), by label.
TOPICS = {"cat": 0, "dog": 0, "horse": 0, "cow": 0, "car": 1, "bus": 1, "truck": 1, "train": 1,
          "bread": 2, "apple": 2, "rice": 2, "soup": 2}


class ShiftedTeacher(_Base):
    """Reads the topic and answers the next label, sure at 0.8: every label it gives is wrong,
    so a student that matches it learned from the teacher, not from the gold labels."""

    name = "test-shifted-teacher"
    description = "Answers the label after the right one."
    backends = ("python",)
    deterministic = True
    uses_training_rows = False

    def predict(self, texts, task, trial=0):
        shifted = [(TOPICS[text.split()[1]] + 1) % 3 for text in texts]
        return predictions_from_scores(np.log(np.where(np.eye(3)[shifted] == 1, 0.8, 0.1)))


@pytest.fixture
def shifted_teacher():
    registry.register(ShiftedTeacher)
    yield ShiftedTeacher.name
    registry.unregister(ShiftedTeacher.name)


def test_log_probs_and_probabilities_both_become_distributions():
    probs = np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]])
    np.testing.assert_allclose(teacher_distribution(probs), probs)
    np.testing.assert_allclose(teacher_distribution(np.log(probs)), probs)
    np.testing.assert_array_equal(soft_labels.one_hot(probs), [[1, 0, 0], [0, 0, 1]])
    np.testing.assert_allclose(teacher_distribution(np.log(probs) + 5.0), probs)  # any logits
    ruled_out = teacher_distribution([[0.0, -np.inf, np.log(3)], [-np.inf] * 3, [np.nan, 0, 1]])
    np.testing.assert_allclose(ruled_out, [[0.25, 0, 0.75], [1 / 3] * 3, [1 / 3] * 3])


def test_temperature_softens_or_sharpens_the_teachers_distribution():
    probs = np.array([[0.7, 0.2, 0.1]])
    soft, sharp = teacher_distribution(probs, 2.0), teacher_distribution(probs, 0.5)
    np.testing.assert_allclose(soft, [np.sqrt(probs[0]) / np.sqrt(probs[0]).sum()])
    assert sharp[0, 0] > 0.7 > soft[0, 0] and soft[0, 0] == soft.max()
    frozen = teacher_distribution(probs, 1e-3)  # p ** 1000 underflows; the log does not
    np.testing.assert_allclose(frozen, [[1, 0, 0]], atol=1e-12)


def test_the_student_learns_the_teachers_labels_not_the_gold_ones(shifted_teacher, tiny_encoder,
                                                                   tmp_path):
    held_out = tiny_split(30, seed=5)
    strategy, predictions = run_strategy(Distill, tiny_encoder, tmp_path, texts=held_out.texts,
                                         teacher=shifted_teacher, epochs=30, learning_rate=3e-3,
                                         batch_size=8)
    assert (predictions.labels == (held_out.labels + 1) % 3).mean() >= 0.9
    extra = strategy.footprint().extra
    assert extra["teacher"] == shifted_teacher and extra["teacher_model"] is None
    assert extra["teacher_rows_labelled"] == 24 and extra["teacher_train_accuracy"] == 0.0
    assert extra["teacher_student_agreement_train"] >= 0.9
    assert not any(name.endswith("_s") for name in extra)  # the runner's probe times it
    assert extra["soft_labels"] is True and extra["teacher_mean_confidence"] == pytest.approx(0.8)


def test_a_few_shot_teacher_on_a_decoder_gives_soft_targets(tiny_decoder, tiny_encoder, tmp_path,
                                                            monkeypatch):
    soft = True  # hard targets are one_hot() of the same distributions (tested above)
    seen = {}
    monkeypatch.setattr(soft_labels, "train_on_distributions",
                        lambda model, tokenizer, texts, targets, config, *rest:
                        seen.update(t=targets) or TrainingLog(config.min_steps))
    strategy, _ = run_strategy(Distill, tiny_encoder, tmp_path, teacher="few-shot",
                               strategy_models={"teacher": tiny_decoder}, soft_labels=soft,
                               teacher_config='{"trials": 2, "max_batch_tokens": 4096}',
                               teacher_trials=2)
    targets = seen["t"]
    assert targets.shape == (24, TINY_TASK.num_labels)
    np.testing.assert_allclose(targets.sum(axis=1), 1.0)
    assert np.isin(targets, (0.0, 1.0)).all() != soft  # a random decoder is never sure
    assert strategy.footprint().extra["teacher_model"] == tiny_decoder.name
    (tmp_path / "export").mkdir()
    strategy.export(tmp_path / "export")
    described = json.loads((tmp_path / "export" / "teacher.json").read_text())
    assert described["teacher"] == "few-shot" and described["teacher_config"]["trials"] == 2
    assert (tmp_path / "export" / "config.json").is_file()


@pytest.mark.parametrize(("overrides", "message"), [
    ({"teacher": "few-shoot"},
     "-c distill.teacher=few-shoot: must be a registered strategy (did you mean 'few-shot'?)"),
    ({"teacher": "distill"}, "a student cannot teach itself"),
    ({"teacher_config": "[1]"}, "must be a JSON object of the teacher's settings"),
    ({"teacher_config": '{"trials": 0}'}, "settings 'few-shot' accepts (few-shot.trials=0"),
    ({"temperature": 0}, "distill.temperature=0: must be > 0"),
])
def test_a_bad_teacher_is_one_line_at_config_time(overrides, message):
    with pytest.raises(HarnessError) as error:
        make_config(Distill, overrides)
    text = error.value.format_message()
    assert message in text and "\n" not in text


def test_the_teacher_runs_on_the_runs_model_for_its_kind_and_is_in_the_key(
        tiny_encoder, tiny_decoder, data_dir, monkeypatch):
    from harness.plan import identity
    from harness.plan.grid import build_cells
    from harness.plan.request import GridRequest

    def plan(**config):
        (cell,) = build_cells(GridRequest(
            tasks=["agnews"], strategies="distill",
            models=(f"encoder={tiny_encoder.source}", f"decoder={tiny_decoder.source}"),
            n_train=8, n_eval=8, data_dir=data_dir, config={"distill": config}))
        return cell

    cell = plan()
    assert cell.strategy_models["teacher"].source == tiny_decoder.source
    assert cell.model.source == tiny_encoder.source
    assert cell.identity()["runs"]["teacher"]["model"] == tiny_decoder.source
    assert plan(teacher="tfidf-logreg").strategy_models == {"teacher": None}
    # The teacher's code is part of the student's key: an edit to few-shot recomputes it
    real = identity._sources_sha
    monkeypatch.setattr(identity, "_sources_sha", lambda modules: real(modules) + (
        "-edited" if "strategies.few_shot" in modules else ""))
    assert plan().key != cell.key


def test_the_teachers_share_is_measured_by_the_probe_not_reported(shifted_teacher, tiny_encoder,
                                                                  tmp_path):
    """Distill asks the runner's probe to time the teacher's labelling and its predictions
    within it (span_teacher_label_s, span_teacher_predict_s in the record)."""
    from contextlib import contextmanager

    from harness.api.probe import Probe
    from harness.api.strategy import Context

    spans = []

    class Recording(Probe):
        @contextmanager
        def span(self, name):
            spans.append(("enter", name))
            yield
            spans.append(("exit", name))

    context = Context(TINY_TASK, tiny_encoder, 0, "cpu", tmp_path, probe=Recording())
    strategy = Distill(make_config(Distill, {"teacher": shifted_teacher, "epochs": 1}), context)
    strategy.fit([(TINY_TASK, tiny_split(12))])
    assert spans == [("enter", "teacher_label"), ("enter", "teacher_predict"),
                     ("exit", "teacher_predict"), ("exit", "teacher_label")]
