"""`harness export --to mlflow`: the records of a results folder as MLflow runs (parameters,
metrics, predictions and the task's report as artifacts; harness/results/mlflow_export.py).

    harness export --to mlflow                          # ./mlflow.db, a local SQLite store
    harness export --to mlflow --tracking-uri http://mlflow.internal:5000 --experiment agnews
"""

from __future__ import annotations

import os

import click

from harness.cli.common import PRICES_HELP
from harness.errors import HarnessError


@click.command()
@click.option("--to", "target", type=click.Choice(["mlflow"]), required=True,
              help="Where to: mlflow (pip install 'adapt-harness[mlflow]').")
@click.option("--results", default="results", show_default=True,
              type=click.Path(file_okay=False), help="Results folder to export.")
@click.option("--reports", default="reports", show_default=True,
              type=click.Path(file_okay=False), help="Reports logged beside each task's runs.")
@click.option("--tracking-uri", help="MLflow tracking URI; default $MLFLOW_TRACKING_URI, else "
                                     "a local SQLite store sqlite:///mlflow.db (works offline; "
                                     "artifacts in mlartifacts/ beside it).")
@click.option("--experiment", default="adapt-harness", show_default=True)
@click.option("--prices", type=click.Path(dir_okay=False), help=PRICES_HELP)
def export(target, results, reports, tracking_uri, experiment, prices):
    """Export every finished record as a run of an experiment tracker; a record exported
    before is not exported twice."""
    from harness.results.cost import load_prices
    from harness.results.store import Store

    price_table = load_prices(prices)
    store = Store(results)
    if not store.root.is_dir():
        raise HarnessError(f"no results folder '{results}' (run `harness run` first)")
    try:
        from harness.results.mlflow_export import export_mlflow

        import mlflow  # noqa: F401
    except ImportError:
        raise HarnessError("harness export --to mlflow needs MLflow: pip install "
                           "'adapt-harness[mlflow]'") from None
    uri = tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or "sqlite:///mlflow.db"
    created, skipped = export_mlflow(store, reports, uri, experiment, price_table)
    click.echo(f"{created} run(s) exported to {uri} (experiment '{experiment}')"
               + (f", {skipped} exported before" if skipped else ""))
