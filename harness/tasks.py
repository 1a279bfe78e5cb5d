"""Tasks are data: label names, one label word per label for prompting, a prompt template and
where the splits come from. Adding a task means adding an entry here (or a YAML file), not code.

    from harness.tasks import get_task
    task = get_task("agnews")
    task.prompt(text="Stocks fell ...")
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from harness.errors import HarnessError, did_you_mean


@dataclass(frozen=True)
class Task:
    name: str
    labels: tuple[str, ...]
    # One word per label, used by prompting strategies as the answer they score. Chosen to be
    # common single words so that a small instruction model can say them.
    label_words: tuple[str, ...]
    # Format with {text} and {choices}; the answer (a label word) follows the prompt.
    prompt_template: str
    hub_id: str
    hub_config: str | None = None
    hub_text_column: str = "text"
    hub_label_column: str = "label"
    # Split names: training rows and demonstrations only ever come from train_split.
    train_split: str = "train"
    eval_split: str = "test"

    def __post_init__(self):
        if len(self.labels) != len(self.label_words):
            raise HarnessError(f"task '{self.name}': {len(self.labels)} labels but "
                               f"{len(self.label_words)} label words")
        if len(set(self.label_words)) != len(self.label_words):
            raise HarnessError(f"task '{self.name}': label words must be distinct")
        try:
            self.prompt_template.format(text="", choices="")
        except (KeyError, IndexError, ValueError) as err:
            raise HarnessError(f"task '{self.name}': the prompt template may only use {{text}} "
                               f"and {{choices}} (problem: {err})") from None

    @property
    def num_labels(self) -> int:
        return len(self.labels)

    def prompt(self, text: str) -> str:
        return self.prompt_template.format(text=text.strip(), choices=", ".join(self.label_words))


_CLASSIFY = ("Classify the {what} into one of these categories: {{choices}}.\n\n"
             "{field}: {{text}}\n\nAnswer with one word.")

BUILTIN_TASKS: dict[str, Task] = {
    t.name: t
    for t in [
        Task(
            name="agnews",
            labels=("World", "Sports", "Business", "Sci/Tech"),
            label_words=("World", "Sports", "Business", "Technology"),
            prompt_template=_CLASSIFY.format(what="news article", field="Article"),
            hub_id="fancyzhx/ag_news",
        ),
        Task(
            name="sst2",
            labels=("negative", "positive"),
            label_words=("negative", "positive"),
            prompt_template=("Is the sentiment of this movie review positive or negative?\n\n"
                             "Review: {text}\n\nAnswer with one word: {choices}."),
            hub_id="SetFit/sst2",
        ),
        Task(
            name="trec",
            labels=("ABBR", "ENTY", "DESC", "HUM", "LOC", "NUM"),
            label_words=("Abbreviation", "Entity", "Description", "Person", "Location", "Number"),
            prompt_template=_CLASSIFY.format(what="question by the type of its answer",
                                             field="Question"),
            hub_id="CogComp/trec",
            hub_label_column="coarse_label",
        ),
        Task(
            name="emotion",
            labels=("sadness", "joy", "love", "anger", "fear", "surprise"),
            label_words=("sadness", "joy", "love", "anger", "fear", "surprise"),
            prompt_template=_CLASSIFY.format(what="emotion of the message", field="Message"),
            hub_id="dair-ai/emotion",
        ),
    ]
}


def get_task(name: str) -> Task:
    """A built-in task by name, or a task described in a YAML file at that path."""
    if name in BUILTIN_TASKS:
        return BUILTIN_TASKS[name]
    if name.endswith((".yaml", ".yml")) and Path(name).is_file():
        return task_from_yaml(Path(name))
    raise HarnessError(f"unknown task '{name}'{did_you_mean(name, BUILTIN_TASKS)}")


def task_from_yaml(path: Path) -> Task:
    import yaml  # only needed for user-described tasks

    spec = yaml.safe_load(path.read_text())
    try:
        # str(): YAML reads bare yes/no/1 as booleans and numbers.
        spec["labels"] = tuple(map(str, spec["labels"]))
        spec["label_words"] = tuple(map(str, spec.get("label_words", spec["labels"])))
        return Task(**spec)
    except (KeyError, TypeError) as err:
        raise HarnessError(f"task file {path}: {err}") from None
