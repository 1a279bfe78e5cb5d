"""Tasks are data. A task is of one of two kinds:

- `classification` (Task): label names, one label word per label for prompting, a prompt
  template and where the splits come from;
- `generation` (GenerationTask): text rows only, a style instruction, how an evaluation row
  becomes a prompt (its first line or first words) and a reference (the rest), and the
  generation settings.

Adding a task means adding an entry here (or a YAML file with `kind: generation` or without,
see the README's "Bring your own data"), not code. Adding a kind of task is a dataclass here
and its Kind (harness.inputs.kinds): each dataclass says its kind's name in `kind`, builds
itself from a task file's fields (`from_fields`) and describes itself in a line (`summary`).

    from harness.inputs.tasks import get_task
    task = get_task("agnews")            # or get_task("my-task.yaml")
    task.prompt(text="Stocks fell ...")
    get_task("shakespeare").split_prompt(passage)  # (prompt, reference)
"""

from __future__ import annotations

import dataclasses
import difflib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from harness.errors import HarnessError, did_you_mean, one_line
from harness.inputs.kinds import UNNAMED, kind_named

# A task name becomes part of file names (records, reports, `<data-dir>/<task>/`), so it is a
# slug: no '/', no '..', nothing that could point outside those folders.
NAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}", re.IGNORECASE)


def check_task_name(name) -> None:
    """A task name must be a slug: it names files and folders."""
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        raise HarnessError(f"task name {name!r} must be 1-64 letters, digits, '-' or '_', "
                           f"starting with a letter or digit (it names files)")


# Every prompt scores each label, and the report's confusion matrix is labels x labels: a task
# of more labels is not one this harness can measure (200,000 asked for 298 GiB).
MAX_LABELS = 1000

# A split names a file in the task's folder (<split>.csv) or a hub split, slicing included
# ("train[:1000]"): never a path.
SPLIT_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}(\[[0-9:%+-]{0,32}\])?")


def check_split_names(task, *fields: str) -> None:
    for field in fields:
        value = getattr(task, field)
        if not isinstance(value, str) or not SPLIT_PATTERN.fullmatch(value) or ".." in value:
            raise HarnessError(f"task '{task.name}': {field} {str(value)[:80]!r} must be a split "
                               f"name (letters, digits, '-', '_', '.'; a hub slice like "
                               f"train[:1000]), not a path")


# Fields that say how a task's results are read, not what a cell computes: left out of a
# cell's identity (harness.plan.cell.task_sha), so that changing one re-ranks stored results.
READING_FIELDS = ("primary_metric",)


def primary_metric(task) -> str | None:
    """The metric the task's leaderboard ranks by: its own, or its kind's."""
    # A plugin kind's task class may not have the field: its kind's metric then
    return getattr(task, "primary_metric", None) or kind_named(task.kind).primary


def check_template(task: str, template: str) -> None:
    """A prompt template holds {text} and may hold {choices}, each plain: no other field, no
    attribute or index access, no conversion or format spec (a padding spec can ask for a
    gigabyte-long prompt)."""
    import string

    try:
        fields = [(name, spec, conversion) for _, name, spec, conversion
                  in string.Formatter().parse(template) if name is not None]
    except ValueError as err:
        raise HarnessError(f"task '{task}': the prompt template is not a valid format string "
                           f"({err}); write a literal brace as {{{{ or }}}}") from None
    for name, spec, conversion in fields:
        if name not in ("text", "choices") or spec or conversion:
            shown = "{" + name + (f"!{conversion}" if conversion else "") + \
                (f":{spec}" if spec else "") + "}"
            raise HarnessError(f"task '{task}': the prompt template may only hold {{text}} and "
                               f"{{choices}}, as they are, got {shown[:60]}")
    if "text" not in [name for name, _, _ in fields]:
        raise HarnessError(f"task '{task}': the prompt template must hold {{text}}, where each "
                           f"row's text goes")


@dataclass(frozen=True)
class Task:
    kind: ClassVar[str] = "classification"
    name: str
    labels: tuple[str, ...]
    # One word per label, used by prompting strategies as the answer they score. Chosen to be
    # common single words so that a small instruction model can say them.
    label_words: tuple[str, ...]
    # Format with {text} and {choices}; the answer (a label word) follows the prompt.
    prompt_template: str
    # None for a task whose splits only exist in a local data folder (<data-dir>/<name>/).
    hub_id: str | None = None
    hub_config: str | None = None
    hub_text_column: str = "text"
    hub_label_column: str = "label"
    # Split names: training rows and demonstrations only ever come from train_split.
    train_split: str = "train"
    eval_split: str = "test"
    # The leaderboard's ranking metric (harness.metrics.catalog.primaries); None: the kind's
    primary_metric: str | None = None

    def __post_init__(self):
        check_task_name(self.name)
        if any(not label.strip() for label in (*self.labels, *self.label_words)):
            raise HarnessError(f"task '{self.name}': labels and label words must not be empty")
        if len(set(self.labels)) != len(self.labels):
            repeated = sorted({label for label in self.labels if self.labels.count(label) > 1})
            raise HarnessError(f"task '{self.name}': label(s) {', '.join(repeated)} appear more "
                               f"than once; labels must be distinct")
        if not 2 <= len(self.labels) <= MAX_LABELS:
            raise HarnessError(f"task '{self.name}': needs 2 to {MAX_LABELS} labels to classify "
                               f"into, got {len(self.labels)}")
        if len(self.labels) != len(self.label_words):
            raise HarnessError(f"task '{self.name}': {len(self.labels)} labels but "
                               f"{len(self.label_words)} label words")
        if len(set(self.label_words)) != len(self.label_words):
            raise HarnessError(f"task '{self.name}': label words must be distinct")
        check_template(self.name, self.prompt_template)
        check_split_names(self, "train_split", "eval_split")

    @property
    def num_labels(self) -> int:
        return len(self.labels)

    def prompt(self, text: str) -> str:
        return self.prompt_template.format(text=text.strip(), choices=", ".join(self.label_words))

    @classmethod
    def from_fields(cls, spec: dict) -> "Task":
        """The task of a task file's fields (`kind` already taken out)."""
        return cls(**_typed_fields(spec))

    def summary(self) -> str:
        return f"{self.num_labels} labels: {', '.join(self.labels)}"


PROMPT_FROM = ("words", "line")


@dataclass(frozen=True)
class GenerationTask:
    """Write in a style: the model continues the start of each evaluation passage. Rows are
    texts only (harness.inputs.data gives them label 0)."""

    kind: ClassVar[str] = "generation"
    name: str
    # What every decoder strategy is asked (as the user turn of a chat template, or plain text)
    instruction: str
    # How an evaluation passage becomes a prompt: its first `prompt_words` words, or its first
    # line ("line"); the rest of the passage is the reference continuation.
    prompt_from: str = "words"
    prompt_words: int = 12
    max_new_tokens: int = 48
    temperature: float = 0.8  # 0 decodes greedily
    top_p: float = 0.95
    # Sampling draws from this seed (not the cell's): a strategy's generations depend on what it
    # learnt, not on which seed trained it.
    generation_seed: int = 0
    hub_id: str | None = None
    hub_config: str | None = None
    hub_text_column: str = "text"
    train_split: str = "train"
    eval_split: str = "test"
    # The style judge: trained on train_split (in style) against contrast_split (not in style),
    # its accuracy measured on validation_split against held-out contrast rows.
    contrast_split: str = "contrast"
    validation_split: str = "validation"
    # The leaderboard's ranking metric (harness.metrics.catalog.primaries); None: the kind's
    primary_metric: str | None = None

    def __post_init__(self):
        check_task_name(self.name)
        check_split_names(self, "train_split", "eval_split", "contrast_split",
                          "validation_split")
        if not self.instruction.strip():
            raise HarnessError(f"task '{self.name}': the instruction must not be empty")
        if self.prompt_from not in PROMPT_FROM:
            raise HarnessError(f"task '{self.name}': prompt_from must be one of "
                               f"{', '.join(PROMPT_FROM)}, got {self.prompt_from!r}")
        for field_name, low in (("prompt_words", 1), ("max_new_tokens", 1)):
            value = getattr(self, field_name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise HarnessError(f"task '{self.name}': {field_name} must be an integer >= "
                                   f"{low}, got {value!r}")
        if not (isinstance(self.temperature, (int, float)) and self.temperature >= 0):
            raise HarnessError(f"task '{self.name}': temperature must be >= 0 (0: greedy)")
        if not (isinstance(self.top_p, (int, float)) and 0 < self.top_p <= 1):
            raise HarnessError(f"task '{self.name}': top_p must be in (0, 1]")

    @property
    def greedy(self) -> bool:
        return self.temperature == 0

    @classmethod
    def from_fields(cls, spec: dict) -> "GenerationTask":
        return cls(**_typed_generation_fields(spec))

    def summary(self) -> str:
        return (f"'{self.instruction}' continuing {self.prompt_words} words, "
                f"{self.max_new_tokens} new tokens")

    def split_prompt(self, text: str) -> tuple[str, str]:
        """(prompt, reference) of an evaluation passage. The prompt keeps the passage's own
        spacing and line breaks; the reference is what follows it, stripped."""
        text = text.strip()
        if self.prompt_from == "line" and "\n" in text:
            first, _, rest = text.partition("\n")
            return first, rest.strip()
        matches = list(re.finditer(r"\S+", text))
        if len(matches) <= self.prompt_words:  # too short to split: half of it, at least 1 word
            cut = matches[max(1, len(matches) // 2) - 1].end()
        else:
            cut = matches[self.prompt_words - 1].end()
        return text[:cut], text[cut:].strip()


_CLASSIFY = ("Classify the {what} into one of these categories: {{choices}}.\n\n"
             "{field}: {{text}}\n\nAnswer with one word.")

BUILTIN_TASKS: dict[str, "Task | GenerationTask"] = {
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
        # The offline copy (../shared/data/shakespeare) is split by work; the hub's
        # tiny_shakespeare is one text, not passages, hence no hub_id.
        GenerationTask(
            name="shakespeare",
            instruction="Write in the style of Shakespeare.",
        ),
    ]
}
AnyTask = Task | GenerationTask


FILE_SUFFIXES = (".yaml", ".yml")
# Fields a task file may leave out, and why they have a default.
_OPTIONAL_IN_FILE = {"label_words"}  # the labels themselves


def is_task_file(name: str) -> bool:
    """Whether a --task value names a task file rather than a task."""
    return name.endswith(FILE_SUFFIXES)


def get_task(name: str) -> AnyTask:
    """A built-in task by name, or a task described in a YAML file at that path."""
    if name in BUILTIN_TASKS:
        return BUILTIN_TASKS[name]
    if is_task_file(name):
        if not Path(name).is_file():
            raise HarnessError(f"unknown task '{name}': no such task file")
        return task_from_yaml(Path(name))
    raise HarnessError(f"unknown task '{name}'{did_you_mean(name, BUILTIN_TASKS)}; give a "
                       f"built-in task name or a path to a task YAML file (.yaml or .yml)")


def task_from_yaml(path: Path) -> AnyTask:
    """A task from a YAML mapping of its kind's task fields (`kind: generation`:
    GenerationTask's; no `kind`: Task's); any problem is one line naming the file."""
    import yaml  # only needed for user-described tasks

    class Loader(yaml.SafeLoader):
        """Refuses a key given twice: YAML would keep the last silently."""

        def construct_mapping(self, node, deep=False):
            keys = [self.construct_object(key, deep=True) for key, _ in node.value]
            repeated = next((k for i, k in enumerate(keys) if k in keys[:i]), None)
            if repeated is not None:
                raise HarnessError(f"task file {path}: field '{repeated}' given twice")
            return super().construct_mapping(node, deep)

    try:
        spec = yaml.load(path.read_text(encoding="utf-8"), Loader=Loader)  # noqa: S506
    except (OSError, UnicodeDecodeError) as err:
        raise HarnessError(f"task file {path}: cannot be read ({one_line(err)})") from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        problem = getattr(err, "problem", None) or one_line(err)
        raise HarnessError(f"task file {path}: not valid YAML{where} ({problem})") from None
    if spec is None:
        raise HarnessError(f"task file {path}: is empty; it needs name, labels and "
                           f"prompt_template")
    if not isinstance(spec, dict):
        raise HarnessError(f"task file {path}: must be a mapping of fields (name, labels, "
                           f"prompt_template, hub_id, ...), got {type(spec).__name__}")
    spec = dict(spec)
    kind = spec.pop("kind", UNNAMED)
    try:
        return kind_named(kind).part("task_class").from_fields(spec)
    except HarnessError as err:
        raise HarnessError(f"task file {path}: {err.message}") from None


def _known_fields(cls, spec: dict) -> dict:
    """The dataclass's fields, after checking that `spec` names only those and every required
    one (`kind` is valid everywhere)."""
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = [str(key) for key in spec if key not in fields]
    if unknown:
        close = difflib.get_close_matches(unknown[0], fields, n=1, cutoff=0.5)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise HarnessError(f"unknown field '{unknown[0]}'{hint}; valid fields: kind, "
                           f"{', '.join(fields)}")
    required = [f.name for f in fields.values()
                if f.default is dataclasses.MISSING and f.name not in spec
                and f.name not in _OPTIONAL_IN_FILE]
    if required:
        raise HarnessError(f"missing field(s) {', '.join(required)}")
    return fields


def _typed_generation_fields(spec: dict) -> dict:
    fields = _known_fields(GenerationTask, spec)
    for key, value in spec.items():
        expected = fields[key].type
        ok = {"str": isinstance(value, str), "int": isinstance(value, int),
              "float": isinstance(value, (int, float)),
              "str | None": value is None or isinstance(value, str)}.get(expected, True)
        if isinstance(value, bool) or not ok:
            raise HarnessError(f"field '{key}' must be {expected.replace('|', 'or')}, "
                               f"got {value!r}")
    return spec


def _typed_fields(spec: dict) -> dict:
    _known_fields(Task, spec)
    typed = dict(spec)
    typed["labels"] = _names(spec["labels"], "labels")
    typed["label_words"] = _names(spec.get("label_words", spec["labels"]), "label_words")
    for key, value in typed.items():
        optional = key in ("hub_id", "hub_config", "primary_metric") and value is None
        if key not in ("labels", "label_words") and not optional and not isinstance(value, str):
            raise HarnessError(f"field '{key}' must be a string, got {value!r}")
    return typed


def _names(value, field: str) -> tuple[str, ...]:
    # A string would be split into its characters ("np" -> n, p): demand a list.
    if not isinstance(value, list):
        raise HarnessError(f"'{field}' must be a list like [neg, pos], got {value!r}")
    if not all(isinstance(item, (str, int, float, bool)) for item in value):
        raise HarnessError(f"'{field}' must list plain names, got {value!r}")
    if any(isinstance(item, bool) for item in value):  # YAML 1.1: no, yes, on, off, n, y...
        raise HarnessError(f"'{field}': YAML read {value!r} as true/false; quote the names, "
                           f"e.g. [\"no\", \"yes\"]")
    stripped = {str(item).strip() for item in value}
    if len(stripped) < len(set(map(str, value))):  # exact repeats: the task's own message
        raise HarnessError(f"'{field}' {value!r}: names that differ only by spaces")
    # str(): YAML reads bare yes/no/1 as booleans and numbers.
    return tuple(map(str, value))
