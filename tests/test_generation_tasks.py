"""Generation tasks: the task kind, its data, how a passage becomes a prompt, the plan of a
grid that mixes kinds, and the store's generation records."""

import numpy as np
import pytest
from click.testing import CliRunner

from harness.cli.main import main
from harness.inputs.data import load_split
from harness.errors import HarnessError
from harness.inputs.kinds import KINDS
from harness.plan.grid import build_cells
from harness.plan.request import GridRequest
from harness.results.store import _fingerprint
from harness.inputs.tasks import GenerationTask, get_task

PASSAGE = "O! but one word.\nMy master through his art foresees the danger\nThat you are in."


def test_a_passage_splits_into_prompt_and_reference_by_words_or_by_line():
    task = GenerationTask(name="t", instruction="Write.", prompt_words=5)
    assert task.split_prompt(PASSAGE) == (
        "O! but one word.\nMy", "master through his art foresees the danger\nThat you are in.")
    by_line = GenerationTask(name="t", instruction="Write.", prompt_from="line")
    assert by_line.split_prompt(PASSAGE) == (
        "O! but one word.", "My master through his art foresees the danger\nThat you are in.")
    # Too short for its prompt words: half of it is the prompt, never all of it.
    assert task.split_prompt("Good morrow, cousin") == ("Good", "morrow, cousin")
    assert task.split_prompt("Hail") == ("Hail", "")


@pytest.mark.parametrize(("field", "value", "message"), [
    ("instruction", " ", "instruction must not be empty"),
    ("prompt_from", "sentence", "prompt_from must be one of words, line"),
    ("prompt_words", 0, "prompt_words must be an integer >= 1"),
    ("temperature", -1, "temperature must be >= 0"),
    ("top_p", 0, r"top_p must be in \(0, 1\]"),
    ("name", "../x", "task name"),
])
def test_a_generation_task_refuses_bad_settings_in_one_line(field, value, message):
    fields = {"name": "t", "instruction": "Write.", field: value}
    with pytest.raises(HarnessError, match=message):
        GenerationTask(**fields)


def test_a_task_file_declares_its_kind(tmp_path):
    path = tmp_path / "limericks.yaml"
    path.write_text("kind: generation\nname: limericks\ninstruction: Write a limerick.\n"
                    "prompt_from: line\nmax_new_tokens: 30\ntemperature: 0\n")
    task = get_task(str(path))
    assert task.kind == "generation" and task.greedy and task.prompt_from == "line"
    path.write_text("kind: poetry\nname: x\ninstruction: Write.\n")
    with pytest.raises(HarnessError, match="kind 'poetry' is not one of classification, gen"):
        get_task(str(path))
    path.write_text("kind: generation\nname: x\ninstruction: Write.\nmax_new_tokens: many\n")
    with pytest.raises(HarnessError, match="field 'max_new_tokens' must be int"):
        get_task(str(path))
    path.write_text("kind: generation\nname: x\ninstrucion: Write.\n")
    with pytest.raises(HarnessError, match="did you mean 'instruction'"):
        get_task(str(path))


def test_generation_rows_are_texts_without_labels(data_dir):
    task = get_task("shakespeare")
    test = load_split(task, "test", data_dir)
    assert len(test) == 1369 and not test.labels.any()
    assert len(load_split(task, "contrast", data_dir)) == 6000  # its `source` column is ignored
    frame = {"text": list(test.texts[:3])}  # a predictions file of a generation record
    assert _fingerprint(__import__("pandas").DataFrame(frame)) == test.take([0, 1, 2]).fingerprint()


def test_list_shows_the_kind_of_every_task_and_strategy():
    tasks = CliRunner().invoke(main, ["list", "tasks"]).output
    assert any(line.startswith("shakespeare") and "generation" in line
               for line in tasks.splitlines())
    assert any(line.startswith("agnews") and "classification" in line
               for line in tasks.splitlines())
    strategies = CliRunner().invoke(main, ["list", "strategies"]).output
    lora = next(line for line in strategies.splitlines() if line.startswith("lora "))
    tfidf = next(line for line in strategies.splitlines() if line.startswith("tfidf-logreg"))
    assert "classification,generation" in lora and "generation" not in tfidf


def test_all_plans_only_the_strategies_of_each_task_kind(data_dir, tiny_decoder, tiny_encoder):
    notes = []
    cells = build_cells(GridRequest(
        tasks=["agnews", "shakespeare"], strategies="all",
        models=(f"decoder={tiny_decoder.source}", f"encoder={tiny_encoder.source}"),
        data_dir=data_dir, n_eval=8, n_train=16), notes)
    on = {kind: {c.strategy for c in cells if c.task.kind == kind}
          for kind in ("classification", "generation")}
    assert on["generation"] == {"zero-shot", "few-shot", "full-finetune", "lora", "qlora",
                                "instruction-tuned"}
    assert {"tfidf-logreg", "embedding-probe"} <= on["classification"]
    assert notes == ["distill, embedding-probe, knn, tfidf-logreg: skipped on shakespeare, a "
                     "generation task (not among the task kinds they support)"]
    # On a generation task the fine-tuning strategies train the decoder, not the encoder.
    models = {(c.strategy, c.task.kind): c.model.source for c in cells if c.model}
    assert models["lora", "generation"] == tiny_decoder.source
    assert models["lora", "classification"] == tiny_encoder.source
    # instruction-tuned trains mixtures of classification tasks only.
    assert all(not c.mixture for c in cells)
    assert all("task_kind" not in c.identity() for c in cells if c.task.kind != "generation")
    assert all(c.identity()["task_kind"] == "generation" for c in cells
               if c.task.kind == "generation")


def test_the_quick_profile_of_a_generation_task_is_small(data_dir, tiny_decoder):
    (cell,) = build_cells(GridRequest(tasks=["shakespeare"], strategies="lora",
                                      models=(f"decoder={tiny_decoder.source}",),
                                      data_dir=data_dir))
    assert (len(cell.train), len(cell.eval)) == KINDS["generation"].profiles["quick"] == (64, 48)


def test_a_grid_no_strategy_can_run_is_one_line(data_dir):
    with pytest.raises(HarnessError, match="no strategy given supports the tasks' kind "
                                           r"\(shakespeare is a generation task\)"):
        build_cells(GridRequest(tasks=["shakespeare"], strategies="tfidf-logreg,embedding-probe",
                                data_dir=data_dir))


def test_instruction_tuned_mixes_classification_tasks_but_not_a_generation_one(
        data_dir, tiny_decoder):
    cells = build_cells(GridRequest(tasks=["agnews", "sst2", "shakespeare"],
                                    strategies="instruction-tuned",
                                    models=(f"decoder={tiny_decoder.source}",),
                                    data_dir=data_dir, n_eval=8, n_train=16))
    shapes = sorted(tuple(t.name for t, _, _ in c.evaluations) for c in cells)
    assert shapes == [("agnews", "sst2"), ("shakespeare",)]
    assert np.all([len(c.eval) == 8 for c in cells])
