"""Built-in tasks are consistent data; unknown names fail for people; YAML tasks load, the
README's examples among them."""

import dataclasses
import re
from pathlib import Path

import pytest
import yaml

from harness.errors import HarnessError
from harness.inputs.tasks import (BUILTIN_TASKS, GenerationTask, Task, get_task, primary_metric,
                                  task_from_yaml)
from harness.plan.cell import task_sha
from harness.plan.grid import check_primary

# Label order of each task's local copy / hub dataset (see ../shared/data/<task>/SOURCE.md):
# index i of `labels` must be the class stored as integer i.
EXPECTED_LABELS = {
    "agnews": ("World", "Sports", "Business", "Sci/Tech"),
    "sst2": ("negative", "positive"),
    "trec": ("ABBR", "ENTY", "DESC", "HUM", "LOC", "NUM"),
    "emotion": ("sadness", "joy", "love", "anger", "fear", "surprise"),
}


def test_builtin_tasks_are_four_classification_tasks_and_one_generation_task():
    assert set(BUILTIN_TASKS) == set(EXPECTED_LABELS) | {"shakespeare"}
    for name, task in BUILTIN_TASKS.items():
        assert task.name == name
        assert task.kind == ("generation" if name == "shakespeare" else "classification")


@pytest.mark.parametrize("name", sorted(EXPECTED_LABELS))
def test_builtin_task_labels_and_words_line_up(name):
    task = get_task(name)
    assert task.labels == EXPECTED_LABELS[name]
    assert task.num_labels == len(EXPECTED_LABELS[name])
    assert len(task.label_words) == task.num_labels
    assert len(set(task.label_words)) == task.num_labels
    # Label words are what a decoder is asked to say: single, non-empty words.
    for word in task.label_words:
        assert word and " " not in word and word == word.strip()
    assert task.train_split == "train" and task.eval_split == "test"
    assert task.hub_id.count("/") == 1


@pytest.mark.parametrize("name", sorted(EXPECTED_LABELS))
def test_prompt_holds_text_and_every_choice(name):
    task = get_task(name)
    assert "{text}" in task.prompt_template and "{choices}" in task.prompt_template
    prompt = task.prompt("  A distinctive sentence about zebras.\n")
    assert "A distinctive sentence about zebras." in prompt
    assert "  A distinctive" not in prompt  # the text is stripped
    assert ", ".join(task.label_words) in prompt
    assert "{" not in prompt and "}" not in prompt  # every placeholder was filled


def test_prompt_keeps_braces_in_the_text_verbatim():
    task = get_task("sst2")
    prompt = task.prompt("a {weird} film with {} braces")
    assert "a {weird} film with {} braces" in prompt


def test_agnews_prompt_exact():
    prompt = get_task("agnews").prompt("Stocks fell.")
    assert prompt == ("Classify the news article into one of these categories: "
                      "World, Sports, Business, Technology.\n\nArticle: Stocks fell.\n\n"
                      "Answer with one word.")


def test_unknown_task_suggests_the_closest_name():
    with pytest.raises(HarnessError) as info:
        get_task("agnew")
    message = info.value.message
    assert "unknown task 'agnew'" in message
    assert "did you mean 'agnews'?" in message


def test_unknown_task_far_from_any_name_lists_the_choices():
    with pytest.raises(HarnessError) as info:
        get_task("zzzzzz")
    assert "choose from: agnews, emotion, shakespeare, sst2, trec" in info.value.message


def test_unknown_task_mentions_task_files():
    with pytest.raises(HarnessError) as info:
        get_task("my-task")
    assert info.value.message.endswith("; give a built-in task name or a path to a task YAML "
                                       "file (.yaml or .yml)")


def test_task_rejects_mismatched_label_words():
    with pytest.raises(HarnessError, match="2 labels but 3 label words"):
        Task(name="bad", labels=("a", "b"), label_words=("x", "y", "z"),
             prompt_template="{text} {choices}", hub_id="org/bad")
    with pytest.raises(HarnessError, match="distinct"):
        Task(name="bad", labels=("a", "b"), label_words=("x", "x"),
             prompt_template="{text} {choices}", hub_id="org/bad")


YAML_TASK = """\
name: spam
labels: [ham, spam]
label_words: [normal, junk]
prompt_template: "Message: {text}\\nIs it one of {choices}?"
hub_id: someone/spam
hub_text_column: sms
eval_split: validation
"""


def test_task_from_yaml_file(tmp_path):
    path = tmp_path / "spam.yaml"
    path.write_text(YAML_TASK)
    task = get_task(str(path))
    assert task == task_from_yaml(path)
    assert task.name == "spam"
    assert task.labels == ("ham", "spam")
    assert task.label_words == ("normal", "junk")
    assert task.hub_text_column == "sms"
    assert task.hub_label_column == "label"  # default kept
    assert task.eval_split == "validation" and task.train_split == "train"
    assert task.prompt("win money") == "Message: win money\nIs it one of normal, junk?"


def test_yaml_task_without_label_words_uses_the_labels(tmp_path):
    path = tmp_path / "t.yml"
    path.write_text("name: t\nlabels: [pos, neg]\nprompt_template: '{text} {choices}'\n"
                    "hub_id: org/t\n")
    task = get_task(str(path))
    assert task.label_words == task.labels == ("pos", "neg")
    assert task.prompt("x") == "x pos, neg"


def test_yaml_task_missing_field_names_the_file(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("name: broken\nprompt_template: '{text}'\nhub_id: org/b\n")
    with pytest.raises(HarnessError) as info:
        get_task(str(path))
    assert str(path) in info.value.message
    assert "labels" in info.value.message


def test_yaml_task_unknown_field_lists_the_valid_ones(tmp_path):
    path = tmp_path / "extra.yaml"
    path.write_text("name: e\nlabels: [a, b]\nprompt_template: '{text}'\nhub_id: org/e\n"
                    "colour: blue\n")
    with pytest.raises(HarnessError) as info:
        get_task(str(path))
    assert info.value.message == (
        f"task file {path}: unknown field 'colour'; valid fields: kind, name, labels, "
        f"label_words, prompt_template, hub_id, "
        f"hub_config, hub_text_column, hub_label_column, train_split, eval_split, "
        f"primary_metric")


def test_missing_yaml_path_is_an_unknown_task(tmp_path):
    path = tmp_path / "absent.yaml"
    with pytest.raises(HarnessError) as info:
        get_task(str(path))
    assert info.value.message == f"unknown task '{path}': no such task file"


def test_a_task_file_without_hub_id_is_a_local_task(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text("name: mine\nlabels: [a, b]\nprompt_template: '{text} {choices}'\n")
    task = get_task(str(path))
    assert task.hub_id is None and task.hub_config is None


def make(name="t", labels=("a", "b"), label_words=None) -> Task:
    return Task(name=name, labels=labels, label_words=label_words or labels,
                prompt_template="{text} {choices}", hub_id="org/t")


@pytest.mark.parametrize("name", ["../../escape", "/etc/passwd", "a/b", "..", "", "-x", "a" * 65,
                                  "a.b", "a b"])
def test_task_name_must_be_a_slug(name):
    with pytest.raises(HarnessError, match="must be 1-64 letters, digits"):
        make(name)


def test_task_name_slugs_accepted():
    assert make("SST2_v2-x").name == "SST2_v2-x" and make("a" * 64)


def test_task_labels_must_be_distinct_and_at_least_two():
    with pytest.raises(HarnessError, match="label\\(s\\) a appear more than once"):
        make(labels=("a", "b", "a"), label_words=("x", "y", "z"))
    with pytest.raises(HarnessError, match="needs 2 to 1000 labels to classify into, got 1"):
        make(labels=("a",))


def test_yaml_labels_as_a_string_are_refused_not_split(tmp_path):
    path = tmp_path / "np.yaml"
    path.write_text("name: np\nlabels: np\nprompt_template: '{text}'\nhub_id: org/np\n")
    with pytest.raises(HarnessError) as info:
        get_task(str(path))
    assert info.value.message == (f"task file {path}: 'labels' must be a list like [neg, pos], "
                                  f"got 'np'")


# ----- the README's task files -----

README = Path(__file__).resolve().parents[1] / "README.md"


def readme_blocks(section: str, language: str) -> list[str]:
    """The fenced `language` blocks of one README section (## heading to the next)."""
    text = README.read_text(encoding="utf-8")
    body = text.split(f"\n## {section}\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(rf"```{language}\n(.*?)```", body, flags=re.DOTALL)


def test_the_readme_task_files_load_with_every_field(tmp_path):
    local, hub, generation = readme_blocks("Bring your own data", "yaml")
    (tmp_path / "g.yaml").write_text(generation)
    assert get_task(str(tmp_path / "g.yaml")).kind == "generation"
    assert set(yaml.safe_load(generation)) == \
        {"kind"} | {f.name for f in dataclasses.fields(GenerationTask)}
    fields = {f.name for f in dataclasses.fields(Task)}
    for text in (local, hub):
        (tmp_path / "t.yaml").write_text(text)
        task = get_task(str(tmp_path / "t.yaml"))
        assert task.prompt("x").count("x") >= 1
    # Between them, the two examples show every key a task file may hold.
    assert set(yaml.safe_load(local)) | set(yaml.safe_load(hub)) == fields
    (tmp_path / "local.yaml").write_text(local)
    assert get_task(str(tmp_path / "local.yaml")).hub_id is None
    (tmp_path / "hub.yaml").write_text(hub)
    assert get_task(str(tmp_path / "hub.yaml")).hub_id == "stanfordnlp/imdb"


def test_the_readme_csv_loads_for_the_readme_task(tmp_path):
    from harness.inputs.data import load_split

    [local, _, _] = readme_blocks("Bring your own data", "yaml")
    [rows] = readme_blocks("Bring your own data", "csv")
    (tmp_path / "tickets.yaml").write_text(local)
    task = get_task(str(tmp_path / "tickets.yaml"))
    (tmp_path / "data" / task.name).mkdir(parents=True)
    (tmp_path / "data" / task.name / "train.csv").write_text(rows)
    split = load_split(task, "train", tmp_path / "data")
    assert split.labels.tolist() == [0, 1, 2]


def test_a_task_ranks_by_a_primary_metric_its_kind_can_rank_by(tmp_path):
    path = tmp_path / "g.yaml"
    path.write_text("kind: generation\nname: g\ninstruction: Write.\n"
                    "primary_metric: hard_judge_auc\n")
    task = get_task(str(path))
    assert primary_metric(task) == "hard_judge_auc"
    # how results are read is not what a cell computes: the same cell identity
    assert task_sha(task) == task_sha(dataclasses.replace(task, primary_metric=None))
    assert primary_metric(get_task("shakespeare")) == "perplexity"
    assert primary_metric(get_task("agnews")) == "accuracy"
    path.write_text("kind: generation\nname: g\ninstruction: Write.\n"
                    "primary_metric: tokens_per_s\n")
    with pytest.raises(HarnessError, match="primary_metric 'tokens_per_s' is not one a "
                                           "generation task ranks by; one of perplexity, "):
        check_primary(get_task(str(path)))
    path.write_text("name: c\nlabels: [a, b]\nprompt_template: '{text}'\n"
                    "primary_metric: macro_f1\n")
    with pytest.raises(HarnessError, match="one of accuracy$"):
        check_primary(get_task(str(path)))

