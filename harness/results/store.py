"""Run records and per-example predictions under one folder (default `results/`).

    store = Store("results"); store.prepare()
    store.save(record, predictions); store.is_finished(key); store.records()

One flat JSON record per cell (`<key>.json`) beside its predictions (`<key>.predictions.csv`).
Every file is written to a temporary name and renamed into place, predictions first, so a
record on disk always means a complete cell, and a killed run leaves nothing half-written.
A record is checked when read (schema, required fields, its predictions' rows and fingerprint):
one that fails is skipped with one warning line naming the file, and a cell whose record fails
is not finished, so a resumed run computes it again.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import secrets
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from harness.errors import HarnessError
from harness.inputs.data import Split
from harness.inputs.kinds import record_kind
from harness.inputs.tasks import NAME_PATTERN
from harness.metrics import catalog
from harness.paths import HOST_TAG, TEMP_PREFIX, temp_prefix, write_atomic
from harness.results.claims import pid_alive
from harness.results.spreadsheet import guard, unguard

RECORD_SUFFIX = ".json"
PREDICTIONS_SUFFIX = ".predictions.csv"
LOG_SUFFIX = ".log"
CLAIM_SUFFIX = ".claim"
SCORE_PREFIX = "score_"  # a labelled task's predictions: one score column per label
# 2: the runner writes `schema_version`; predictions match eval_fingerprint.
# 3: `labels` in task order and per-class values as lists aligned with it (a dict keyed by label
#    loses that order in sorted JSON); calibration (ece, brier, nll) and prediction shares.
# 4: generation records (`task_kind: "generation"`: perplexity, style accuracy, ... instead of
#    accuracy and per-class values; predictions hold continuations). Classification records
#    are as in 3.
SCHEMA_VERSION = 4
STATUSES = ("ok", "failed", "skipped")
# The fields every record has, and those a finished or a failed one adds: what reports read.
# Which metrics an ok record carries, and their types, is the catalog's (harness.metrics.catalog);
# the record's own structure is here.
REQUIRED_FIELDS = {"key": str, "status": str, "task": str, "strategy": str, "seed": int,
                   "model": str}
FAILED_FIELDS = {"error": str}
OK_FIELDS = {**catalog.required_fields(catalog.CLASSIFICATION, 1), "config": dict,
             "per_class_f1": dict, "confusion_matrix": list, "device": str}
# Schema 3: per-class values are lists in the order of `labels`.
PER_CLASS_LISTS = ("per_class_precision", "per_class_recall", "per_class_f1",
                   "per_class_support", "prediction_shares")
OK_FIELDS_3 = {**OK_FIELDS, "labels": list, **dict.fromkeys(PER_CLASS_LISTS, list),
               **catalog.required_fields(catalog.CLASSIFICATION, 3)}
GENERATION_OK_FIELDS = {**catalog.required_fields(catalog.GENERATION, SCHEMA_VERSION),
                        "config": dict, "device": str}
MAX_ROWS = 10**9  # of an evaluation split: a count above it is corrupt, not data
HISTORY = "history"  # superseded records, one store per record: history/<key>/<run>/
STALE_TEMP_S = 24 * 3600  # no write takes a day: a temporary file that old is a leftover


def _is_stale_temp(path: Path) -> bool:
    """A leftover of a dead writer on this host, or of any writer a day ago."""
    try:
        age_s = time.time() - path.stat().st_mtime
    except FileNotFoundError:
        return False  # renamed into place meanwhile
    pid, _, rest = path.name[len(TEMP_PREFIX):].partition("-")
    host = rest.partition("-")[0]
    if age_s > STALE_TEMP_S or not pid.isdigit():
        return True  # too old, or not named by this version
    return host == HOST_TAG and not pid_alive(int(pid))


def remove_stale_temps(folder: Path) -> None:
    """Drop the temporary files that killed writers left in `folder` (never a live one's)."""
    for leftover in folder.glob(TEMP_PREFIX + "*"):
        if _is_stale_temp(leftover):
            leftover.unlink(missing_ok=True)


def _warn_stderr(line: str) -> None:
    print(f"warning: {line}", file=sys.stderr, flush=True)



class InvalidRecord(HarnessError):
    """A record the store would not read back valid: refused, nothing of it written."""

    def __init__(self, key: str, problem: str):
        super().__init__(f"record {key} not saved: {problem}")
        self.problem = problem

class Store:
    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)

    def prepare(self) -> None:
        """Create the folder, prove it is writable and drop leftovers of killed runs (never
        another live process's write in flight)."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            check = self.root / f"{temp_prefix()}check-{secrets.token_hex(4)}"
            write_atomic(check, b"ok")
            check.unlink()
        except OSError as err:
            raise HarnessError(f"cannot write to results folder '{self.root}': "
                               f"{err.strerror or err}") from None
        remove_stale_temps(self.root)

    def record_path(self, key: str) -> Path:
        return self.root / f"{key}{RECORD_SUFFIX}"

    def predictions_path(self, key: str) -> Path:
        return self.root / f"{key}{PREDICTIONS_SUFFIX}"

    def claim_path(self, key: str) -> Path:
        return self.root / f"{key}{CLAIM_SUFFIX}"

    def load(self, key: str) -> dict | None:
        """The cell's record; None when there is none or it is invalid."""
        path = self.record_path(key)
        return self._read(path)[0] if path.is_file() else None

    def is_finished(self, key: str) -> bool:
        record = self.load(key)
        # skipped: a variant this device cannot run; running again would not change that
        return record is not None and record["status"] in ("ok", "skipped")

    def save(self, record: dict, predictions: pd.DataFrame | None = None) -> None:
        """Writes the record (and its predictions) as read back later; one that would not be
        read back valid is refused with a HarnessError, and nothing of it is written."""
        key = record["key"]
        csv = _csv(predictions)
        text = json.dumps(record, indent=2, sort_keys=True, default=_jsonable)
        problem = self._problem(json.loads(text), csv, key)
        if problem:
            raise InvalidRecord(key, problem)
        self.keep_superseded(key)
        if csv is not None:
            write_atomic(self.predictions_path(key), csv)
        write_atomic(self.record_path(key), text.encode())

    def keep_superseded(self, key: str) -> Path | None:
        """The cell's record (and predictions) that a new one is about to replace, kept under
        history/<key>/<run>/ as a store of its own: a recomputed cell (`--force`, a failed cell
        run again) never loses the result it had. Hard links, made in a hidden folder renamed
        into place, so history holds whole records only and the writes that follow replace
        the names, not the kept files."""
        files = [path for path in (self.record_path(key), self.predictions_path(key),
                                   self.log_path(key)) if path.is_file()]
        if not files or not files[0].name.endswith(RECORD_SUFFIX):
            return None
        folder = self.root / HISTORY / key
        folder.mkdir(parents=True, exist_ok=True)
        partial = Path(tempfile.mkdtemp(prefix=temp_prefix(), dir=folder))
        for path in files:
            try:
                os.link(path, partial / path.name)
            except OSError:  # a file system without hard links
                shutil.copy2(path, partial / path.name)
        name = _run_name(files[0])
        target, number = folder / name, 1
        while target.exists():
            number += 1
            target = folder / f"{name}-{number}"
        os.replace(partial, target)
        return target

    def history(self) -> list[dict]:
        """Every superseded record kept under history/, valid ones only, oldest first."""
        found = []
        for folder in sorted((self.root / HISTORY).glob("*/*")):
            if folder.is_dir() and not folder.name.startswith(TEMP_PREFIX):
                found += Store(folder).records(warn=lambda line: None)
        return sorted(found, key=lambda record: record.get("started_at", ""))

    def _problem(self, record, csv: bytes | None, key: str) -> str | None:
        if not isinstance(key, str) or not key or "/" in key or key.startswith("."):
            return f"key {key!r} cannot name a file"
        problem = _record_problem(record, key)
        if problem is None and record["status"] == "ok":
            problem = _predictions_problem(record, csv, self.predictions_path(key).name)
        return problem

    def log_path(self, key: str) -> Path:
        return self.root / f"{key}{LOG_SUFFIX}"

    def save_log(self, key: str, text: str) -> None:
        """What a failed cell's process printed, kept beside its record for reading."""
        write_atomic(self.log_path(key), text.encode(errors="replace"))

    def records(self, strict: bool = False, warn=None) -> list[dict]:
        """Every valid record, by file name. An invalid one is skipped and `warn` (default: a
        line on stderr) gets 'skipped <file>: <reason>'; with `strict` it is a HarnessError."""
        if not self.root.is_dir():
            return []
        found = []
        for path in sorted(self.root.glob(f"*{RECORD_SUFFIX}")):
            if path.name.startswith("."):
                continue
            record, problem = self._read(path)
            if problem and strict:
                raise HarnessError(f"invalid record {path}: {problem}")
            if problem:
                (warn or _warn_stderr)(f"skipped {path}: {problem}")
            else:
                found.append(record)
        return found

    def predictions(self, key: str) -> pd.DataFrame:
        return unguard(pd.read_csv(self.predictions_path(key), keep_default_na=False))

    def _read(self, path: Path) -> tuple[dict | None, str | None]:
        """(record, None), or (None, why it cannot be used)."""
        try:
            record = json.loads(path.read_bytes())
        except OSError as err:
            return None, f"cannot read it ({err.strerror or err})"
        except ValueError:
            return None, "not valid JSON (truncated, binary or corrupt)"
        problem = _record_problem(record, path.name[:-len(RECORD_SUFFIX)])
        if problem is None and record["status"] == "ok":
            problem = self._predictions_problem(record)
        return (None, problem) if problem else (record, None)

    def _predictions_problem(self, record: dict) -> str | None:
        path = self.predictions_path(record["key"])
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            raw = None
        except OSError as err:
            return f"its predictions file {path.name} is unreadable ({type(err).__name__})"
        return _predictions_problem(record, raw, path.name)


def _run_name(record_path: Path) -> str:
    """A superseded record's folder name: the run that made it, else when it started."""
    try:
        record = json.loads(record_path.read_bytes())
    except (OSError, ValueError):
        record = {}
    record = record if isinstance(record, dict) else {}
    name = record.get("run_id") or record.get("started_at") or time.strftime(
        "%Y%m%dT%H%M%S", time.localtime(record_path.stat().st_mtime))
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in str(name))[:80] or "run"


def _csv(predictions: pd.DataFrame | None) -> bytes | None:
    """Predictions as written: texts that a spreadsheet would run as formulas guarded, and
    every text quoted (pandas leaves a carriage return unquoted, which readers take for a row
    break)."""
    if predictions is None:
        return None
    return guard(predictions).to_csv(index=False, quoting=csv.QUOTE_NONNUMERIC).encode()


def _predictions_problem(record: dict, raw: bytes | None, name: str) -> str | None:
    """Why a finished record's predictions (the file's bytes; None: no file) cannot be used."""
    if raw is None:
        return f"its predictions file {name} is missing"
    try:
        frame = unguard(pd.read_csv(io.BytesIO(raw), dtype=str, keep_default_na=False))
    except (ValueError, UnicodeDecodeError) as err:
        return f"its predictions file {name} is unreadable ({type(err).__name__})"
    if not raw.endswith(b"\n") or "prediction" not in frame:
        return f"its predictions file {name} is truncated"
    n_eval = record.get("n_eval")
    if n_eval is not None and len(frame) != n_eval:
        return f"its predictions file {name} has {len(frame)} rows, n_eval is {n_eval}"
    expected = record.get("eval_fingerprint")
    if record.get("schema_version", 1) >= 2 and expected and _fingerprint(frame) != expected:
        return f"its predictions file {name} does not match its eval_fingerprint"
    if record_kind(record).labelled:
        problem = _labelled_predictions_problem(record, frame)
        return f"its predictions file {name}: {problem}" if problem else None
    return None


def _labelled_predictions_problem(record: dict, frame: pd.DataFrame) -> str | None:
    """What a report reads from a labelled task's predictions, checked: labels and predictions
    class indices within the task's labels, and scores (where there are any, as a strategy
    need not give calibrated ones: one column per label) numbers that are not NaN. A diverged
    model's empty score cells would otherwise stop every later report."""
    scores = [c for c in frame if c.startswith(SCORE_PREFIX)]
    labels = record.get("labels")
    k = len(labels) if isinstance(labels, list) else len(scores) or None
    if scores and k is not None and (len(scores) != k or isinstance(labels, list) and
                                     scores != [SCORE_PREFIX + name for name in labels]):
        return f"its score columns are not one per label of the record ({k})"
    for column in ["label", "prediction", *(c for c in frame if c.startswith("prediction_"))]:
        if column not in frame:
            continue
        values = frame[column]
        if not values.str.fullmatch(r"\d{1,9}").all():
            bad = values[~values.str.fullmatch(r"\d{1,9}")].iloc[0]
            return f"{column} {bad[:20]!r} is not a class index"
        if k is not None and len(values) and values.astype(np.int64).max() >= k:
            return f"{column} holds a class index outside 0..{k - 1}"
    if scores:
        values = frame[scores].apply(pd.to_numeric, errors="coerce").to_numpy(np.float64)
        if np.isnan(values).any() or np.isposinf(values).any():
            return "a score is empty, NaN, infinite or not a number"
    return None


def _record_problem(record, stem: str) -> str | None:
    """Why a parsed record cannot be used, or None."""
    if not isinstance(record, dict):
        return f"a JSON {type(record).__name__}, not a record object"
    problem = _fields_problem(record, REQUIRED_FIELDS)
    if problem:
        return problem
    version = record.get("schema_version", 1)  # records written before the field are version 1
    if type(version) is not int or not 1 <= version <= SCHEMA_VERSION:
        return f"schema_version {version!r} is not one this harness reads (1 to {SCHEMA_VERSION})"
    if not NAME_PATTERN.fullmatch(record["task"]):  # it names the report's files
        return f"task {record['task'][:40]!r} is not a task name"
    if record["key"] != stem:  # the key names the predictions file: it must stay this file's
        return f"its key '{record['key'][:80]}' is not its file name"
    if record["status"] not in STATUSES:
        return f"status '{record['status'][:40]}' is not one of {', '.join(STATUSES)}"
    if record["status"] != "ok":
        return _fields_problem(record, FAILED_FIELDS)
    try:
        kind = record_kind(record)  # what a finished record holds is its kind's
    except HarnessError as err:
        return f"task_kind: {err.message}"
    return kind.part("record_problem")(record, version) or _range_problem(record)


# What a measured number can be: a report prints it as it is, so a value outside its field's
# range (a negative time, a NaN accuracy, a latency of 1e308) marks a corrupt record.
SHARE_FIELDS = ("accuracy", "accuracy_ci_low", "accuracy_ci_high", "macro_f1", "ece",
                "style_accuracy", "distinct_1", "distinct_2", "repetition_rate",
                "prediction_agreement")
MEASURE_SUFFIXES = ("_s", "_ms", "_bytes", "_eps")
COUNT_FIELDS = ("n_train", "n_eval", "n_predictions", "trainable_params", "total_params",
                "latency_samples", "host_cpu_count")
MAX_MEASURE = 1e15  # seconds, bytes or rows: beyond any run


def _range_problem(record: dict) -> str | None:
    for name, value in record.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        if name in SHARE_FIELDS:
            low, high = 0.0, 1.0
        elif name == "cpu_threads":
            low, high = 1, 1e6
        elif name in COUNT_FIELDS or name.endswith(MEASURE_SUFFIXES):
            low, high = 0, MAX_MEASURE
        else:
            continue
        if not low <= value <= high:  # NaN too
            return f"{name} {value!r:.40} is outside its range [{low:g}, {high:g}]"
    return None


def classification_record_problem(record: dict, version: int) -> str | None:
    """The classification kind's check of a finished record (harness.inputs.kinds)."""
    if version < 3:
        return _fields_problem(record, OK_FIELDS)
    return _fields_problem(record, OK_FIELDS_3) or _per_class_problem(record)


def generation_record_problem(record: dict, version: int) -> str | None:
    """The generation kind's check of a finished record."""
    return _fields_problem(record, GENERATION_OK_FIELDS)


def _per_class_problem(record: dict) -> str | None:
    """Per-class lists and the confusion matrix must follow `labels`, or a report would
    name the wrong class."""
    k = len(record["labels"])
    if not all(isinstance(label, str) for label in record["labels"]):
        return "'labels' must be a list of label names"
    wrong = [name for name in PER_CLASS_LISTS if len(record[name]) != k]
    matrix = record["confusion_matrix"]
    if len(matrix) != k or any(not isinstance(row, list) or len(row) != k for row in matrix):
        wrong.append("confusion_matrix")
    if wrong:
        return f"{', '.join(wrong)}: not one entry per label ({k} labels)"
    counts = [*record["per_class_support"], *(n for row in matrix for n in row)]
    if not all(type(n) is int and 0 <= n <= MAX_ROWS for n in counts):
        return "per_class_support and confusion_matrix must hold row counts"
    rates = [value for name in PER_CLASS_LISTS if name != "per_class_support"
             for value in record[name]]
    if not all(_is(v, catalog.NUMBER_OR_NULL) and (v is None or 0 <= v <= 1) for v in rates):
        return f"{', '.join(n for n in PER_CLASS_LISTS if n != 'per_class_support')} " \
               f"must hold numbers from 0 to 1"
    return None


def _fields_problem(record: dict, fields: dict) -> str | None:
    wrong = [f"'{name}' ({kind if isinstance(kind, str) else kind.__name__})"
             for name, kind in fields.items() if not _is(record.get(name, ...), kind)]
    return f"missing or mistyped field {', '.join(wrong)}" if wrong else None


def _is(value, kind) -> bool:
    if isinstance(value, bool):  # a JSON true is no number, text or table
        return False
    if kind in (catalog.NUMBER, catalog.NUMBER_OR_NULL):
        return isinstance(value, (int, float)) or (kind == catalog.NUMBER_OR_NULL and
                                                   value is None)
    return isinstance(value, kind)


def _fingerprint(frame: pd.DataFrame) -> str | None:
    """harness.inputs.data.Split.fingerprint of the stored text and label columns (a generation
    task's rows have no label column: theirs are 0)."""
    if "text" not in frame:
        return None
    if "label" not in frame:
        return Split(tuple(frame["text"]), np.zeros(len(frame), dtype=np.int64)).fingerprint()
    try:
        labels = frame["label"].astype(np.int64).to_numpy()
    except (ValueError, TypeError, OverflowError):
        return None
    return Split(tuple(frame["text"]), labels).fingerprint()


def _jsonable(value):
    if hasattr(value, "tolist"):  # numpy scalars and arrays
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot store {type(value).__name__} in a record")
