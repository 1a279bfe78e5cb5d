"""Splits from a local folder (csv / parquet / jsonl), their validation errors, the hub fallback
error, and seeded stratified subsets."""

import os
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from harness.inputs.data import DATA_DIR_ENV, Split, load_split, subset
from harness.errors import HarnessError
from harness.inputs.tasks import Task, get_task

ROWS = [("the cat sat", 0), ("dogs bark loudly", 1), ("a bird sings", 2), ("fish swim", 3),
        ("None", 1), ("NA", 2)]  # the strings "NA" and "None" must survive as text


def write_split(folder: Path, task: str, split: str, ext: str, frame: pd.DataFrame) -> Path:
    path = folder / task / f"{split}.{ext}"
    path.parent.mkdir(parents=True, exist_ok=True)
    if ext == "csv":
        frame.to_csv(path, index=False)
    elif ext == "parquet":
        frame.to_parquet(path, index=False)
    else:
        frame.to_json(path, orient="records", lines=True)
    return path


def rows_frame(rows=ROWS) -> pd.DataFrame:
    return pd.DataFrame({"text": [t for t, _ in rows], "label": [y for _, y in rows]})


@pytest.fixture(autouse=True)
def no_data_dir_env(monkeypatch):
    """Tests pass data_dir explicitly; a HARNESS_DATA_DIR from the Makefile must not leak in."""
    monkeypatch.delenv(DATA_DIR_ENV, raising=False)


@pytest.mark.parametrize("ext", ["csv", "parquet", "jsonl"])
def test_load_split_from_local_file(tmp_path, ext):
    write_split(tmp_path, "agnews", "test", ext, rows_frame())
    split = load_split(get_task("agnews"), "test", tmp_path)
    assert split.texts == tuple(t for t, _ in ROWS)
    assert split.labels.dtype == np.int64
    assert split.labels.tolist() == [y for _, y in ROWS]
    assert len(split) == len(ROWS)


def test_data_dir_from_environment(tmp_path, monkeypatch):
    write_split(tmp_path, "sst2", "train", "csv", rows_frame([("good", 1), ("bad", 0)]))
    monkeypatch.setenv(DATA_DIR_ENV, str(tmp_path))
    split = load_split(get_task("sst2"), "train")
    assert split.texts == ("good", "bad") and split.labels.tolist() == [1, 0]


def test_extra_columns_are_ignored_and_float_labels_accepted(tmp_path):
    frame = rows_frame([("a", 0), ("b", 1)]).assign(label=[0.0, 1.0], extra=["x", "y"])
    write_split(tmp_path, "sst2", "train", "parquet", frame)
    split = load_split(get_task("sst2"), "train", tmp_path)
    assert split.labels.tolist() == [0, 1]


def test_missing_column_is_named(tmp_path):
    write_split(tmp_path, "sst2", "train", "csv", pd.DataFrame({"sentence": ["a"], "label": [0]}))
    with pytest.raises(HarnessError) as info:
        load_split(get_task("sst2"), "train", tmp_path)
    message = info.value.message
    assert "missing column(s) text" in message
    assert "found: sentence, label" in message
    assert "train.csv" in message


@pytest.mark.parametrize("bad_label, row", [(4, 2), (-1, 2)])
def test_label_out_of_range_names_value_and_row(tmp_path, bad_label, row):
    frame = rows_frame([("a", 0), ("b", bad_label), ("c", 1)])
    write_split(tmp_path, "agnews", "test", "csv", frame)
    with pytest.raises(HarnessError) as info:
        load_split(get_task("agnews"), "test", tmp_path)
    message = info.value.message
    assert f"label '{bad_label}' in row {row}" in message
    assert "0..3" in message and "'agnews'" in message


def test_fractional_label_is_an_error(tmp_path):
    frame = pd.DataFrame({"text": ["a", "b"], "label": ["0", "1.5"]})
    write_split(tmp_path, "sst2", "test", "csv", frame)
    with pytest.raises(HarnessError) as info:
        load_split(get_task("sst2"), "test", tmp_path)
    assert "label '1.5' in row 2 is not an integer in 0..1" in info.value.message


EMOTION = get_task("emotion")  # sadness, joy, love, anger, fear, surprise: not alphabetical


@pytest.mark.parametrize("ext", ["csv", "parquet", "jsonl"])
def test_labels_given_as_names_map_to_the_tasks_order(tmp_path, ext):
    frame = pd.DataFrame({"text": ["a", "b", "c", "d"],
                          "label": ["anger", "sadness", "surprise", "joy"]})
    write_split(tmp_path, "emotion", "test", ext, frame)
    assert load_split(EMOTION, "test", tmp_path).labels.tolist() == [3, 0, 5, 1]


def test_names_and_indices_give_the_same_split(tmp_path):
    names = pd.DataFrame({"text": ["a", "b"], "label": ["positive", "negative"]})
    write_split(tmp_path / "names", "sst2", "test", "csv", names)
    write_split(tmp_path / "indices", "sst2", "test", "csv", names.assign(label=[1, 0]))
    by_name = load_split(get_task("sst2"), "test", tmp_path / "names")
    by_index = load_split(get_task("sst2"), "test", tmp_path / "indices")
    assert by_name.fingerprint() == by_index.fingerprint()


def test_labels_that_look_like_numbers_are_read_as_the_tasks_names(tmp_path):
    stars = Task(name="stars", labels=("1", "2", "3"), label_words=("bad", "fair", "good"),
                 prompt_template="{text} {choices}")
    write_split(tmp_path, "stars", "test", "csv", pd.DataFrame({"text": ["a", "b", "c"],
                                                                "label": [3, 1, 2]}))
    assert load_split(stars, "test", tmp_path).labels.tolist() == [2, 0, 1]


def test_an_unknown_label_name_is_named_with_the_valid_ones(tmp_path):
    frame = pd.DataFrame({"text": ["a", "b", "c"], "label": ["joy", "Anger", "joy"]})
    write_split(tmp_path, "emotion", "test", "csv", frame)
    with pytest.raises(HarnessError) as info:
        load_split(EMOTION, "test", tmp_path)
    assert info.value.message == (
        f"{tmp_path / 'emotion' / 'test.csv'}: label 'Anger' in row 2 is not a label of task "
        f"'emotion' (sadness, joy, love, anger, fear, surprise) nor an index 0..5")


def test_a_column_mixing_names_and_indices_is_refused(tmp_path):
    frame = pd.DataFrame({"text": ["a", "b"], "label": ["0", "positive"]})
    write_split(tmp_path, "sst2", "test", "csv", frame)
    with pytest.raises(HarnessError, match="mixes names \\('positive' in row 2\\) and indices"):
        load_split(get_task("sst2"), "test", tmp_path)


LOCAL_ONLY = Task(name="mine", labels=("a", "b"), label_words=("a", "b"),
                  prompt_template="{text} {choices}")  # no hub_id


def test_a_task_without_hub_id_loads_from_the_data_folder(tmp_path):
    write_split(tmp_path, "mine", "train", "csv", pd.DataFrame({"text": ["x", "y"],
                                                                "label": ["b", "a"]}))
    assert load_split(LOCAL_ONLY, "train", tmp_path).labels.tolist() == [1, 0]


@pytest.mark.parametrize("with_folder", [True, False])
def test_a_task_without_hub_id_nor_local_data_says_what_to_do(tmp_path, with_folder):
    folder = tmp_path if with_folder else None
    with pytest.raises(HarnessError) as info:
        load_split(LOCAL_ONLY, "test", folder)
    message = info.value.message
    where = f"'{tmp_path}' holds no mine/ folder" if with_folder else "no data folder given"
    assert message.startswith(f"task 'mine' has no hub_id and {where}: point --data-dir")
    assert "mine/test.csv" in message and "set hub_id in the task file" in message


def test_empty_split_header_only(tmp_path):
    path = tmp_path / "sst2" / "test.csv"
    path.parent.mkdir()
    path.write_text("text,label\n")
    with pytest.raises(HarnessError, match="the split is empty"):
        load_split(get_task("sst2"), "test", tmp_path)


def test_empty_split_zero_byte_file(tmp_path):
    """A 0-byte file is an empty split too, and deserves the same one-line error."""
    path = tmp_path / "sst2" / "test.csv"
    path.parent.mkdir()
    path.write_text("")
    with pytest.raises(HarnessError) as info:
        load_split(get_task("sst2"), "test", tmp_path)
    assert "test.csv" in info.value.message


@pytest.mark.parametrize("ext", ["csv", "parquet", "jsonl"])
def test_empty_texts_are_refused_naming_file_and_count(tmp_path, ext):
    frame = rows_frame([("a", 0), ("", 1), ("  ", 0), ("b", 1)])
    write_split(tmp_path, "sst2", "test", ext, frame)
    with pytest.raises(HarnessError) as info:
        load_split(get_task("sst2"), "test", tmp_path)
    assert f"test.{ext}: 2 row(s) with empty text (first: row 2)" in info.value.message


def test_task_folder_linked_outside_the_data_dir_is_refused(tmp_path):
    outside = tmp_path / "elsewhere"
    write_split(outside, "sst2", "test", "csv", rows_frame([("a", 0), ("b", 1)]))
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "sst2").symlink_to(outside / "sst2")
    with pytest.raises(HarnessError, match="would lie outside"):
        load_split(get_task("sst2"), "test", tmp_path / "data")


def test_unreadable_task_folder_is_one_line(tmp_path, monkeypatch):
    write_split(tmp_path, "sst2", "test", "csv", rows_frame([("a", 0), ("b", 1)]))

    def refuse(path):  # what a folder without read permission does (chmod is moot for root)
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(Path, "is_file", refuse)
    with pytest.raises(HarnessError) as info:
        load_split(get_task("sst2"), "test", tmp_path)
    assert info.value.message == (f"data folder '{tmp_path / 'sst2'}' cannot be read "
                                  f"(Permission denied)")


def test_missing_split_in_existing_task_folder(tmp_path):
    write_split(tmp_path, "trec", "train", "csv", rows_frame([("q", 0)]))
    with pytest.raises(HarnessError) as info:
        load_split(get_task("trec"), "test", tmp_path)
    message = info.value.message
    assert "no 'test' split for task 'trec'" in message
    assert "test.csv, test.parquet or test.jsonl" in message


def test_nonexistent_data_dir(tmp_path):
    missing = tmp_path / "nowhere"
    with pytest.raises(HarnessError) as info:
        load_split(get_task("sst2"), "test", missing)
    assert f"data folder '{missing}' does not exist" in info.value.message
    assert DATA_DIR_ENV in info.value.message


def test_no_local_data_and_offline_hub_points_at_data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))  # no cached copy can answer
    # The variables are read when the libraries are imported; if they already are, patch them.
    if "huggingface_hub.constants" in sys.modules:
        monkeypatch.setattr(sys.modules["huggingface_hub.constants"], "HF_HUB_OFFLINE", True)
    if "datasets.config" in sys.modules:
        config = sys.modules["datasets.config"]
        monkeypatch.setattr(config, "HF_HUB_OFFLINE", True)
        monkeypatch.setattr(config, "HF_DATASETS_OFFLINE", True)
    task = Task(name="nolocal", labels=("a", "b"), label_words=("a", "b"),
                prompt_template="{text} {choices}", hub_id="adapt-harness-test/no-such-dataset")
    empty = tmp_path / "data"
    empty.mkdir()
    with pytest.raises(HarnessError) as info:
        load_split(task, "test", empty)
    message = info.value.message
    assert "cannot load task 'nolocal' split 'test' from the hub" in message
    assert "--data-dir" in message and DATA_DIR_ENV in message
    assert "nolocal/test.csv" in message


# ----- subsets -----

def make_split(counts: dict[int, int]) -> Split:
    labels = np.array([y for y, n in counts.items() for _ in range(n)], dtype=np.int64)
    np.random.default_rng(123).shuffle(labels)
    texts = tuple(f"row {i} of class {y}" for i, y in enumerate(labels))
    return Split(texts, labels)


def test_subset_same_seed_same_rows_other_seed_other_rows():
    split = make_split({0: 50, 1: 30, 2: 20})
    first, again, other = subset(split, 20, 0), subset(split, 20, 0), subset(split, 20, 1)
    assert first.texts == again.texts
    assert first.labels.tolist() == again.labels.tolist()
    assert first.texts != other.texts
    assert len(first) == len(other) == 20
    assert set(first.texts) <= set(split.texts)
    assert len(set(first.texts)) == 20  # no row twice


def test_subset_rows_keep_their_labels_and_order():
    split = make_split({0: 40, 1: 40})
    picked = subset(split, 10, 7)
    position = {text: i for i, text in enumerate(split.texts)}
    indices = [position[t] for t in picked.texts]
    assert indices == sorted(indices)
    assert picked.labels.tolist() == split.labels[indices].tolist()


@pytest.mark.parametrize("n", [10, 37, 64])
def test_subset_is_stratified(n):
    counts = {0: 60, 1: 25, 2: 10, 3: 5}
    split = make_split(counts)
    total = sum(counts.values())
    for seed in range(3):
        got = Counter(subset(split, n, seed).labels.tolist())
        for label, count in counts.items():
            assert abs(got[label] - n * count / total) <= 1, (seed, label, got)


def test_subset_larger_than_split_is_an_error():
    split = make_split({0: 5, 1: 5})
    with pytest.raises(HarnessError) as info:
        subset(split, 11, 0, "--n-train")
    assert "--n-train=11 is more than the 10 rows available" in info.value.message


def test_subset_of_zero_rows_is_an_error():
    with pytest.raises(HarnessError, match="--n-eval must be positive, got 0"):
        subset(make_split({0: 5, 1: 5}), 0, 0, "--n-eval")


def test_subset_none_returns_every_row_in_order():
    split = make_split({0: 7, 1: 3})
    whole = subset(split, None, 5)
    assert whole.texts == split.texts
    assert whole.labels.tolist() == split.labels.tolist()


def test_subset_with_a_class_too_rare_to_stratify_still_draws_n_rows():
    split = make_split({0: 20, 1: 1})
    picked = subset(split, 5, 0)
    assert len(picked) == 5 and len(set(picked.texts)) == 5
    assert picked.texts == subset(split, 5, 0).texts


def test_fingerprint_depends_on_rows():
    split = make_split({0: 5, 1: 5})
    assert split.fingerprint() == make_split({0: 5, 1: 5}).fingerprint()
    assert split.fingerprint() != subset(split, 4, 0).fingerprint()


# ----- the real offline copy -----

# Read at import, before the autouse fixture above removes the variable for each test.
REAL_DATA_DIR = Path(os.environ.get(DATA_DIR_ENV) or "/work/shared/data")


def test_real_agnews_train_and_test_share_no_text():
    if not all((REAL_DATA_DIR / "agnews" / f).is_file() for f in ("train.csv", "test.csv")):
        pytest.skip(f"no agnews copy under {REAL_DATA_DIR}")
    task = get_task("agnews")
    train = load_split(task, "train", REAL_DATA_DIR)
    test = load_split(task, "test", REAL_DATA_DIR)
    assert len(test) == 7600
    assert len(train) > 40000
    assert set(train.labels.tolist()) == set(test.labels.tolist()) == {0, 1, 2, 3}
    assert not set(train.texts) & set(test.texts)


def test_a_local_file_is_read_through_the_task_files_column_names(tmp_path):
    """Issue 27: a CSV of question,label with `hub_text_column: question` failed in the cell."""
    task = Task("q", ("a", "b"), ("a", "b"), "{text}", hub_text_column="question",
                hub_label_column="answer")
    frame = pd.DataFrame({"question": ["why", "how"], "answer": ["b", "a"]})
    write_split(tmp_path, "q", "train", "csv", frame)
    split = load_split(task, "train", tmp_path)
    assert split.texts == ("why", "how") and split.labels.tolist() == [1, 0]
    # a file with the standard names keeps them, whatever the task file says
    write_split(tmp_path, "q", "test", "csv", rows_frame(ROWS[:2]).assign(question="other"))
    assert load_split(task, "test", tmp_path).texts == ("the cat sat", "dogs bark loudly")
