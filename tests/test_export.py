"""`harness export --to mlflow` writes real MLflow runs (a local SQLite store), read back with
MLflow's own client; a second export adds nothing, and nothing is written outside the folders
named."""

from pathlib import Path

import pytest

from test_cli import harness
from test_runs_as_data import GRID_ARGS, run_args


def test_records_become_mlflow_runs_read_back_by_mlflow(data_dir, tmp_path):
    mlflow = pytest.importorskip("mlflow")
    done = harness(*run_args(data_dir, tmp_path, *GRID_ARGS))
    assert done.exit_code == 0, done.output
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    args = ["export", "--to", "mlflow", "--results", tmp_path / "results", "--reports",
            tmp_path / "reports", "--tracking-uri", uri, "--experiment", "agnews-test"]
    first = harness(*args)
    assert first.exit_code == 0 and "2 run(s) exported" in first.output, first.output
    again = harness(*args)
    assert "0 run(s) exported" in again.output and "2 exported before" in again.output

    mlflow.set_tracking_uri(uri)
    experiment = mlflow.get_experiment_by_name("agnews-test")
    runs = mlflow.search_runs([experiment.experiment_id], output_format="list")
    assert sorted(run.data.params["strategy"] for run in runs) == ["knn", "tfidf-logreg"]
    tfidf = next(run for run in runs if run.data.params["strategy"] == "tfidf-logreg")
    assert tfidf.data.params["config.C"] == "2.5"
    assert 0 < tfidf.data.metrics["accuracy"] <= 1 and tfidf.data.metrics["fit_s"] > 0
    assert "fit_cost_usd" in tfidf.data.metrics
    artifacts = {Path(a.path).name for a in
                 mlflow.MlflowClient().list_artifacts(tfidf.info.run_id, "report")}
    assert artifacts == {"agnews.md", "agnews.html", "agnews.csv"}
    assert (tmp_path / "mlartifacts" / "agnews-test").is_dir()
    assert not Path("mlruns").exists() and not Path("mlartifacts").exists()


def test_export_without_results_is_one_line(tmp_path):
    result = harness("export", "--to", "mlflow", "--results", tmp_path / "none")
    assert result.exit_code != 0 and "no results folder" in result.output
