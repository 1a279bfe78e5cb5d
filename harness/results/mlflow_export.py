"""The records of a results folder as MLflow runs: one run per finished record, its identity
as parameters, its measurements (and prices) as metrics, its predictions and the task's report
as artifacts. A local SQLite store by default (`sqlite:///mlflow.db`, MLflow's own advice since
its file store went into maintenance; artifacts in `mlartifacts/` beside it): it works offline.

    exported, skipped = export_mlflow(Store("results"), "reports", "sqlite:///mlflow.db",
                                      "adapt-harness")

A record exported before (its key and run id tagged on an MLflow run of the experiment) is not
exported twice.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from harness.results.cost import load_prices, price_records
from harness.results.store import Store

PARAMS = ("task", "strategy", "model", "model_source", "seed", "data_seed", "eval_seed",
          "n_train", "n_eval", "precision", "backend", "inference", "device", "device_name",
          "cpu_threads", "trials", "run_id", "command")
TAG = "harness."  # prefix of the tags that find a record's MLflow run again


def export_mlflow(store: Store, reports: str | None, tracking_uri: str,
                  experiment: str, prices: dict | None = None) -> tuple[int, int]:
    """(runs created, records already exported)."""
    import mlflow

    mlflow.set_tracking_uri(tracking_uri)
    found = mlflow.get_experiment_by_name(experiment)
    experiment_id = found.experiment_id if found else mlflow.create_experiment(
        experiment, artifact_location=_artifacts_beside(tracking_uri, experiment))
    done = _exported(mlflow, experiment_id)
    records = pd.DataFrame(store.records(warn=lambda _: None))
    if records.empty:
        return 0, 0
    records = price_records(records[records["status"] == "ok"], prices or load_prices(None))
    created = skipped = 0
    for record in records.to_dict("records"):
        if (record["key"], record.get("run_id")) in done:
            skipped += 1
            continue
        with mlflow.start_run(run_name=f"{record['task']} · {record['strategy']} · "
                                       f"seed {record['seed']}", experiment_id=experiment_id):
            mlflow.set_tags({f"{TAG}key": record["key"], f"{TAG}run_id": record.get("run_id")
                             or "", f"{TAG}status": record["status"]})
            mlflow.log_params(params(record))
            mlflow.log_metrics(metrics(record))
            predictions = store.predictions_path(record["key"])
            if predictions.is_file():
                mlflow.log_artifact(str(predictions), "predictions")
            mlflow.log_dict(_jsonable(record), "record.json")
            for path in _report_files(reports, record["task"]):
                mlflow.log_artifact(str(path), "report")
        created += 1
    return created, skipped


def params(record: dict) -> dict:
    """The record's identity, and its settings as config.<field>; MLflow keeps text."""
    out = {name: str(record[name]) for name in PARAMS
           if name in record and not _missing(record[name])}
    for field, value in (record.get("config") or {}).items():
        out[f"config.{field}"] = json.dumps(value) if isinstance(value, (dict, list)) \
            else str(value)
    return {name: value[:500] for name, value in out.items()}  # MLflow's limit per value


def metrics(record: dict) -> dict:
    """Every number the record measured (accuracy and its interval, seconds, memory, prices),
    lists and identity fields left out."""
    skip = set(PARAMS) | {"schema_version"}
    return {name: float(value) for name, value in record.items()
            if name not in skip and isinstance(value, (int, float)) and not isinstance(value, bool)
            and not _missing(value)}


def _missing(value) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _artifacts_beside(tracking_uri: str, experiment: str) -> str | None:
    """A local SQLite store's artifacts in `mlartifacts/<experiment>` beside its database (MLflow
    would put them under the working directory); a server's where it says."""
    prefix = "sqlite:///"
    if not tracking_uri.startswith(prefix):
        return None
    folder = Path(tracking_uri[len(prefix):]).resolve().parent / "mlartifacts" / experiment
    return folder.as_uri()


def _exported(mlflow, experiment_id: str) -> set[tuple[str, str | None]]:
    runs = mlflow.search_runs([experiment_id], output_format="list", max_results=50000)
    return {(run.data.tags.get(f"{TAG}key"), run.data.tags.get(f"{TAG}run_id") or None)
            for run in runs if f"{TAG}key" in run.data.tags}


def _report_files(reports: str | None, task: str) -> list[Path]:
    if not reports:
        return []
    return [path for path in (Path(reports) / f"{task}.{suffix}" for suffix in ("md", "html", "csv"))
            if path.is_file()]


def _jsonable(record: dict) -> dict:
    return json.loads(json.dumps(record, default=str))
