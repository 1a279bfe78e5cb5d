"""Dataset splits from a local folder or the Hugging Face hub, validated, with seeded,
stratified subsets.

A local folder holds `<task>/<split>.csv` (or .parquet / .jsonl) with columns `text,label`;
labels are the task's label names or their indices (0 = the task's first label). A column
whose every value is a label name is read as names (so a task labelled "1".."5" reads its own
names), any other as indices.
Rule for empty texts: a split holding a row whose text is empty or only whitespace is refused,
in one line naming the file and how many such rows it has (a model cannot classify nothing,
and dropping rows silently would change what "n rows" means). The shared data has none.

    load_split(get_task("agnews"), "test", data_dir="../shared/data")
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from harness.errors import HarnessError, one_line
from harness.paths import inside
from harness.inputs.kinds import kind_of
from harness.inputs.tasks import Task

DATA_DIR_ENV = "HARNESS_DATA_DIR"
_READERS = {
    ".csv": lambda p: pd.read_csv(p, keep_default_na=False),
    ".parquet": pd.read_parquet,
    ".jsonl": lambda p: pd.read_json(p, lines=True),
}


@dataclass(frozen=True)
class Split:
    """Texts and integer labels of one (sub)split; what strategies fit on and predict. The
    rows of a kind without labels (generation) have none: theirs are all 0."""

    texts: tuple[str, ...]
    labels: np.ndarray

    def __len__(self) -> int:
        return len(self.texts)

    def fingerprint(self) -> str:
        digest = hashlib.sha256()
        for text, label in zip(self.texts, self.labels):
            digest.update(f"{label}\t{text}\n".encode())
        return digest.hexdigest()[:16]

    def take(self, indices) -> "Split":
        return Split(tuple(self.texts[i] for i in indices), self.labels[np.asarray(indices)])


def resolve_data_dir(data_dir: str | os.PathLike | None) -> Path | None:
    value = data_dir or os.environ.get(DATA_DIR_ENV)
    if not value:
        return None
    path = Path(value)
    if not path.is_dir():
        raise HarnessError(f"data folder '{path}' does not exist (from --data-dir or {DATA_DIR_ENV})")
    return path


def load_split(task: Task, split: str, data_dir: str | os.PathLike | None = None) -> Split:
    """Rows of one split, from the local folder when it holds the task, else from the hub."""
    folder = resolve_data_dir(data_dir)
    task_folder = inside(folder, task.name) if folder else None
    local = _local_file(task_folder, split) if task_folder else None
    if local is not None:
        frame, source = _named_columns(_read_local(local), task), str(local)
    elif task_folder is not None and task_folder.is_dir():
        raise HarnessError(f"no '{split}' split for task '{task.name}' in {task_folder} "
                           f"(expected {split}.csv, {split}.parquet or {split}.jsonl)")
    elif task.hub_id is None:
        where = f"'{folder}' holds no {task.name}/ folder" if folder else "no data folder given"
        raise HarnessError(f"task '{task.name}' has no hub_id and {where}: point --data-dir or "
                           f"{DATA_DIR_ENV} at a folder holding {task.name}/{split}.csv with "
                           f"columns text,label, or set hub_id in the task file")
    else:
        frame, source = _hub_frame(task, split), f"hub:{task.hub_id}"
    return _validate(frame, task, source)


def _local_file(task_folder: Path, split: str) -> Path | None:
    try:
        # A link may not lead out of the task's folder: its texts would end up in predictions
        # and reports
        found = [path for path in (inside(task_folder, f"{split}{suffix}")
                                   for suffix in _READERS) if path.is_file()]
        if len(found) > 1:  # which one was meant would be a guess
            raise HarnessError(f"{task_folder}: {' and '.join(p.name for p in found)} both hold "
                               f"split '{split}'; keep one")
        if found:
            return found[0]
    except OSError as err:  # e.g. a folder we may not list
        raise HarnessError(f"data folder '{task_folder}' cannot be read "
                           f"({err.strerror or one_line(err)})") from None
    return None


def _read_local(path: Path) -> pd.DataFrame:
    try:
        return _READERS[path.suffix](path)
    except pd.errors.EmptyDataError:
        raise HarnessError(f"{path}: the split is empty") from None
    except Exception as err:  # a corrupt file: name it rather than show a parser traceback
        raise HarnessError(f"{path}: cannot be read ({type(err).__name__}: "
                           f"{one_line(err, 160)})") from None


def _hub_frame(task: Task, split: str) -> pd.DataFrame:
    try:
        import datasets

        rows = datasets.load_dataset(task.hub_id, task.hub_config, split=split)
        frame = rows.to_pandas()
    except Exception as err:  # offline, unknown repo, missing split: all end the same way
        reason = str(err).splitlines()[0][:160] if str(err) else type(err).__name__
        raise HarnessError(
            f"cannot load task '{task.name}' split '{split}' from the hub ({reason}); point "
            f"--data-dir or {DATA_DIR_ENV} at a folder holding {task.name}/{split}.csv "
            f"with columns text,label") from None
    return _named_columns(frame, task)


def _named_columns(frame: pd.DataFrame, task: Task) -> pd.DataFrame:
    """The task's text and label columns (`hub_text_column`, `hub_label_column`: named for the
    hub, read from a local file too) as text and label, where the frame has no such column."""
    label_column = task.hub_label_column if kind_of(task).labelled else None
    renames = {task.hub_text_column: "text", **({label_column: "label"} if label_column else {})}
    return frame.rename(columns={old: new for old, new in renames.items()
                                 if new not in frame.columns})


def _validate(frame: pd.DataFrame, task: Task, source: str) -> Split:
    labelled = kind_of(task).labelled
    missing = [c for c in ("text", "label")[:2 if labelled else 1] if c not in frame.columns]
    if missing:
        raise HarnessError(f"{source}: missing column(s) {', '.join(missing)} "
                           f"(found: {', '.join(map(str, frame.columns))[:200]}); rename them, "
                           f"or name yours in the task file (hub_text_column, "
                           f"hub_label_column)")
    if frame.empty:
        raise HarnessError(f"{source}: the split is empty")
    labels = _label_indices(frame["label"], task, source) if labelled else \
        pd.Series(np.zeros(len(frame), dtype=np.int64))
    empty = frame["text"].isna() | frame["text"].astype(str).str.strip().eq("")
    if empty.any():
        row = int(np.flatnonzero(empty.to_numpy())[0])
        raise HarnessError(f"{source}: {int(empty.sum())} row(s) with empty text (first: row "
                           f"{row + 1}); remove them, empty texts cannot be used")
    texts = tuple(str(t) for t in frame["text"])
    return Split(texts, labels.to_numpy(dtype=np.int64))


def _label_indices(column: pd.Series, task: Task, source: str) -> pd.Series:
    """Label indices from a column of label names or of indices (see the module docstring)."""
    names = column.map(str)
    index_of = {name: i for i, name in enumerate(task.labels)}
    if names.isin(index_of).all():
        return names.map(index_of)
    labels = pd.to_numeric(column, errors="coerce")
    unknown = (labels.isna() & ~names.isin(index_of)).to_numpy()
    if unknown.any():
        row = int(np.flatnonzero(unknown)[0])
        raise HarnessError(f"{source}: label '{column.iloc[row]}' in row {row + 1} is not a label "
                           f"of task '{task.name}' ({', '.join(task.labels)}) nor an index "
                           f"0..{task.num_labels - 1}")
    if labels.isna().any():  # names among indices: which one was meant would be a guess
        row = int(np.flatnonzero(labels.isna().to_numpy())[0])
        raise HarnessError(f"{source}: the label column mixes names ('{column.iloc[row]}' in "
                           f"row {row + 1}) and indices; use one or the other")
    bad = (labels < 0) | (labels >= task.num_labels) | (labels % 1 != 0)
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise HarnessError(f"{source}: label '{column.iloc[row]}' in row {row + 1} is not "
                           f"an integer in 0..{task.num_labels - 1} for task '{task.name}'")
    return labels


def nested_order(labels: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(order, rank): a seeded order of the rows whose every prefix is label-stratified (each
    class within one row of its share), and each row's rank within its class in that order.
    The first n rows of one seed therefore contain the first m < n: training sizes of a
    learning curve are nested, and a size is the same rows whichever other sizes are asked."""
    rng = np.random.default_rng(seed)
    position = np.empty(len(labels))
    rank = np.empty(len(labels), dtype=np.int64)
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        # The j-th of a class sits at (j + 1/2) / class size: classes interleave by share.
        position[members] = (np.arange(len(members)) + 0.5) / len(members)
        rank[members] = np.arange(len(members))
    return np.lexsort((rng.random(len(labels)), position)), rank


def training_rows(split: Split, seed: int, n: int | None = None, per_class: int | None = None,
                  what: str = "--n-train") -> Split:
    """The first `n` rows, or the first `per_class` rows of every label, of the seed's nested
    order (all rows, in file order, when neither is given)."""
    if per_class is None and (n is None or n == len(split)):
        return split
    order, rank = nested_order(split.labels, seed)
    return split.take(_drawn(split, order, rank, n, per_class, what))


def _drawn(split: Split, order: np.ndarray, rank: np.ndarray, n: int | None,
           per_class: int | None, what: str) -> np.ndarray:
    """The sorted indices of a training draw, from its seed's nested order and ranks."""
    if per_class is not None:
        if per_class <= 0:
            raise HarnessError(f"--n-per-class must be positive, got {per_class}")
        counts = np.bincount(split.labels)
        short = [label for label, count in enumerate(counts) if 0 < count < per_class]
        if short:
            raise HarnessError(f"--n-per-class {per_class} is more than the {counts[short[0]]} "
                               f"training rows of label {short[0]}")
        return np.flatnonzero(rank < per_class)
    if n is None or n == len(split):
        return np.arange(len(split))
    _check_size(split, n, what)
    return np.sort(order[:n])


# Every VALIDATION_PERIOD-th row of each label, in the seed's nested order, is held out for
# validation, starting with its second: about a fifth of each training size, at least one row
# of every label that has two, and nested like the sizes themselves (a class's rows among the
# first n are its ranks 0..m-1, so the validation rows of 128 training rows contain those of 32).
VALIDATION_PERIOD = 5


def training_draw(split: Split, seed: int, n: int | None = None, per_class: int | None = None,
                  what: str = "--n-train") -> tuple[Split, Split, Split]:
    """(training rows, rows to fit on, validation rows): the draw `training_rows` gives for the
    same arguments, and a stratified share held out of it (never of the evaluation rows), from
    one computation of the seed's order."""
    order, rank = nested_order(split.labels, seed)
    chosen = _drawn(split, order, rank, n, per_class, what)
    held = rank[chosen] % VALIDATION_PERIOD == 1
    return split.take(chosen), split.take(chosen[~held]), split.take(chosen[held])


def validation_rows(split: Split, seed: int, n: int | None = None,
                    per_class: int | None = None) -> tuple[Split, Split]:
    """(rows to fit on, validation rows) of the training draw `training_rows` gives."""
    return training_draw(split, seed, n, per_class)[1:]


def subset(split: Split, n: int | None, seed: int, what: str = "rows") -> Split:
    """A seeded, label-stratified subset of n rows (all rows, in order, when n is None)."""
    if n is None or n == len(split):
        return split
    _check_size(split, n, what)
    from sklearn.model_selection import train_test_split

    indices = np.arange(len(split))
    try:
        chosen, _ = train_test_split(indices, train_size=n, stratify=split.labels,
                                     random_state=seed)
    except ValueError:  # a class too rare to stratify on: fall back to a plain seeded draw
        chosen = np.random.default_rng(seed).choice(indices, size=n, replace=False)
    return split.take(np.sort(chosen))


def _check_size(split: Split, n: int, what: str) -> None:
    if n <= 0:
        raise HarnessError(f"{what} must be positive, got {n}")
    if n > len(split):
        raise HarnessError(f"{what}={n} is more than the {len(split)} rows available")
