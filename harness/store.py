"""Run records and per-example predictions under one folder (default `results/`).

One flat JSON record per cell (`<key>.json`) beside its predictions (`<key>.predictions.csv`).
Every file is written to a temporary name and renamed into place, predictions first, so a
record on disk always means a complete cell, and a killed run leaves nothing half-written.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import pandas as pd

from harness.errors import HarnessError

RECORD_SUFFIX = ".json"
PREDICTIONS_SUFFIX = ".predictions.csv"
TEMP_PREFIX = ".tmp-"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_atomic(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(prefix=TEMP_PREFIX, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes it private; records are shared
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class Store:
    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)

    def prepare(self) -> None:
        """Create the folder, prove it is writable and drop leftovers of killed runs."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            write_atomic(self.root / ".write-check", b"ok")
            (self.root / ".write-check").unlink()
        except OSError as err:
            raise HarnessError(f"cannot write to results folder '{self.root}': "
                               f"{err.strerror or err}") from None
        for leftover in self.root.glob(TEMP_PREFIX + "*"):
            leftover.unlink(missing_ok=True)

    def record_path(self, key: str) -> Path:
        return self.root / f"{key}{RECORD_SUFFIX}"

    def predictions_path(self, key: str) -> Path:
        return self.root / f"{key}{PREDICTIONS_SUFFIX}"

    def load(self, key: str) -> dict | None:
        path = self.record_path(key)
        return json.loads(path.read_text()) if path.is_file() else None

    def is_finished(self, key: str) -> bool:
        record = self.load(key)
        return bool(record) and record.get("status") == "ok"

    def save(self, record: dict, predictions: pd.DataFrame | None = None) -> None:
        key = record["key"]
        if predictions is not None:
            write_atomic(self.predictions_path(key), predictions.to_csv(index=False).encode())
        text = json.dumps(record, indent=2, sort_keys=True, default=_jsonable)
        write_atomic(self.record_path(key), text.encode())

    def records(self) -> list[dict]:
        if not self.root.is_dir():
            return []
        return [json.loads(p.read_text())
                for p in sorted(self.root.glob(f"*{RECORD_SUFFIX}"))
                if not p.name.startswith(".")]

    def predictions(self, key: str) -> pd.DataFrame:
        return pd.read_csv(self.predictions_path(key), keep_default_na=False)


def _jsonable(value):
    if hasattr(value, "tolist"):  # numpy scalars and arrays
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot store {type(value).__name__} in a record")
