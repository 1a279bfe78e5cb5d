"""Run records: round trips, resume keys, atomic writes, leftovers of killed runs, and records
that are invalid on disk (skipped with a warning, not finished)."""

import os
import subprocess
import time

import numpy as np
import pandas as pd
import pytest

from harness.results import store as store_module
from harness.errors import HarnessError
from harness.results.store import HOST_TAG, TEMP_PREFIX, Store, write_atomic

ROWS = pd.DataFrame({"text": ["a b", "", "NA"], "label": [0, 1, 1], "prediction": [0, 1, 0]})


def record(key: str, status: str = "ok", **extra) -> dict:
    """The fields every record needs, and those a finished or failed one adds."""
    ok = {"accuracy": 2 / 3, "config": {}, "per_class_f1": {}, "confusion_matrix": [],
          "device": "cpu", "accuracy_ci_low": 0.1, "accuracy_ci_high": 0.9, "macro_f1": 0.5,
          "fit_s": 1, "predict_s": 1.0, "throughput_eps": 3.0, "latency_p50_ms": 1.0,
          "latency_p95_ms": None}
    return {"key": key, "status": status, "task": "agnews", "strategy": "toy", "seed": 0,
            "model": "-", **(ok if status == "ok" else {"error": "boom"}), **extra}


def dead_pid() -> int:
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "results")
    s.prepare()
    return s


def test_save_and_load_round_trip(store):
    rec = record("cell1", accuracy=np.float64(0.75), n_eval=np.int64(3),
                 confusion=np.array([[1, 2], [3, 4]]), source=store.root / "x",
                 config={"lr": 1e-4, "layers": [1, 2]})
    predictions = ROWS
    store.save(rec, predictions)
    loaded = store.load("cell1")
    assert loaded == {**record("cell1"), "accuracy": 0.75, "n_eval": 3,
                      "confusion": [[1, 2], [3, 4]], "source": str(store.root / "x"),
                      "config": {"lr": 1e-4, "layers": [1, 2]}}
    assert store.record_path("cell1").is_file()
    pd.testing.assert_frame_equal(store.predictions("cell1"), predictions)


def test_load_of_an_unknown_key_is_none(store):
    assert store.load("never-run") is None
    assert not store.is_finished("never-run")


def test_save_refuses_values_json_cannot_hold(store):
    with pytest.raises(TypeError, match="cannot store object"):
        store.save(record("bad", thing=object()))
    assert store.load("bad") is None
    assert list(store.root.iterdir()) == []


# skipped: an inference variant this device cannot run; running it again changes nothing
@pytest.mark.parametrize("status, finished", [("ok", True), ("failed", False),
                                              ("skipped", True)])
def test_is_finished_unless_failed(store, status, finished):
    store.save(record("cell", status=status), ROWS if status == "ok" else None)
    assert store.is_finished("cell") is finished


def test_saving_again_replaces_the_record(store):
    store.save(record("cell", status="failed"))
    store.save(record("cell", status="ok"), ROWS)
    assert store.load("cell")["status"] == "ok"
    assert [r["key"] for r in store.records()] == ["cell"]


def test_write_atomic_writes_bytes(tmp_path):
    path = tmp_path / "f.json"
    write_atomic(path, b"first")
    write_atomic(path, b"second")
    assert path.read_bytes() == b"second"
    assert os.listdir(tmp_path) == ["f.json"]


def test_write_atomic_follows_the_umask_like_a_plain_write(tmp_path):
    write_atomic(tmp_path / "atomic", b"x")
    (tmp_path / "plain").write_bytes(b"x")
    assert (tmp_path / "atomic").stat().st_mode == (tmp_path / "plain").stat().st_mode


def test_write_atomic_failed_rename_leaves_old_file_and_no_temp(tmp_path, monkeypatch):
    path = tmp_path / "record.json"
    path.write_bytes(b"old")

    def refuse(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(store_module.os, "replace", refuse)
    with pytest.raises(OSError, match="No space left"):
        write_atomic(path, b"new")
    assert path.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["record.json"]


def test_write_atomic_interrupted_write_leaves_no_temp(tmp_path, monkeypatch):
    path = tmp_path / "record.json"
    path.write_bytes(b"old")

    def interrupted(fd):
        raise KeyboardInterrupt

    monkeypatch.setattr(store_module.os, "fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_atomic(path, b"new")
    assert path.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["record.json"]


def test_failed_record_write_after_predictions_leaves_no_record(store, monkeypatch):
    real_replace = os.replace
    calls = []

    def second_fails(src, dst):
        calls.append(dst)
        if len(calls) == 2:
            raise OSError(5, "Input/output error")
        real_replace(src, dst)

    monkeypatch.setattr(store_module.os, "replace", second_fails)
    with pytest.raises(OSError):
        store.save(record("cell"), pd.DataFrame({"prediction": [1]}))
    assert store.load("cell") is None and not store.is_finished("cell")
    assert not any(p.name.startswith(TEMP_PREFIX) for p in store.root.iterdir())


def test_prepare_creates_folder_and_removes_leftovers(tmp_path):
    root = tmp_path / "deep" / "results"
    root.mkdir(parents=True)
    (root / f"{TEMP_PREFIX}abc123").write_bytes(b"half a record")
    (root / f"{TEMP_PREFIX}xyz.json").write_bytes(b"{")
    (root / "kept.json").write_text('{"key": "kept", "status": "ok"}')
    Store(root).prepare()
    assert sorted(os.listdir(root)) == ["kept.json"]

    fresh = tmp_path / "new" / "folder"
    Store(fresh).prepare()
    assert fresh.is_dir() and os.listdir(fresh) == []


def test_prepare_under_a_regular_file_is_a_harness_error(tmp_path):
    blocker = tmp_path / "file.txt"
    blocker.write_text("not a folder")
    root = blocker / "results"
    with pytest.raises(HarnessError) as info:
        Store(root).prepare()
    assert f"cannot write to results folder '{root}'" in info.value.message


def test_prepare_when_root_is_a_file_is_a_harness_error(tmp_path):
    root = tmp_path / "results"
    root.write_text("oops")
    with pytest.raises(HarnessError, match="cannot write to results folder"):
        Store(root).prepare()


def test_records_ignores_temp_and_prediction_files(store):
    store.save(record("b"), pd.DataFrame({"prediction": [0]}))
    store.save(record("a", status="failed"))
    (store.root / f"{TEMP_PREFIX}k2j3.json").write_text('{"key": "temp"}')
    (store.root / f"{TEMP_PREFIX}k2j3").write_text("{")
    (store.root / "notes.txt").write_text("hello")
    records = store.records()
    assert [r["key"] for r in records] == ["a", "b"]
    assert [r["status"] for r in records] == ["failed", "ok"]


def test_records_of_a_missing_folder_is_empty(tmp_path):
    assert Store(tmp_path / "absent").records() == []


def test_prepare_keeps_live_writers_temp_files_and_drops_dead_or_old_ones(store):
    live = store.root / f"{TEMP_PREFIX}{os.getppid()}-{HOST_TAG}-inflight"
    dead = store.root / f"{TEMP_PREFIX}{dead_pid()}-{HOST_TAG}-leftover"
    old = store.root / f"{TEMP_PREFIX}{os.getppid()}-{HOST_TAG}-old"
    other_host = store.root / f"{TEMP_PREFIX}{dead_pid()}-0000beef-remote"
    for path in (live, dead, old, other_host):
        path.write_bytes(b"half")
    os.utime(old, (time.time() - 2 * 86400,) * 2)
    store.prepare()
    assert sorted(p.name for p in store.root.iterdir()) == sorted([live.name, other_host.name])
