"""`harness run`: plan the grid, compute the cells not finished yet, write the report.

    harness run --strategies all --task agnews
    harness run --strategies zero-shot,full-finetune --task agnews,sst2 --seeds 0,1 --n-eval 500
    harness run --strategies few-shot,tfidf-logreg --task agnews --data-seeds 0,1,2
    harness run -s zero-shot,full-finetune,lora -t agnews --n-train 32,128,512,2000 --n-eval 500

The options become one GridRequest (harness.plan.request) and one Execution
(harness.execution.settings); planning checks every input before anything is written.
"""

from __future__ import annotations

import os
import sys
import time

import click

from harness.api.backends import BACKENDS
from harness.api.endpoint import MODES, Endpoint
from harness.api.precision import CHOICES
from harness.api.variants import parse_variants
from harness.cli.common import PRICES_HELP, echo_now, write_reports
from harness.cli.execution_options import execution_from, execution_options
from harness.cli.grid_file import apply_grid, dump, given_on_command_line, grid_document
from harness.environment import VERBOSE_ENV
from harness.errors import ARGV, HarnessError
from harness.paths import CACHE_ENV, cache_dir, check_writable
from harness.plan.request import GridRequest, parse_seeds, parse_sizes


@click.command()
@click.option("--strategies", "-s", default="all", show_default=True,
              help="'all' or a comma-separated list (see `harness list strategies`).")
@click.option("--task", "-t", "tasks", default="agnews", show_default=True,
              help="Task name(s), comma-separated (see `harness list tasks`), or a task YAML file.")
@click.option("--model", "-m", "models", multiple=True, metavar="NAME|KIND=NAME",
              help="Preset, hub id or local folder for every strategy, or per kind: "
                   "encoder=NAME / decoder=NAME. Repeatable. Default: the kind's preset.")
@click.option("--seeds", default="0", show_default=True,
              help="Comma-separated seeds; a deterministic strategy (zero-shot, tfidf-logreg, "
                   "...) runs for the first only.")
@click.option("--profile", type=click.Choice(["quick", "full"]), default="quick",
              show_default=True, help="quick: 2,000 training / 1,000 evaluation rows (a "
                                      "generation task: 64 / 48); full: whole splits.")
@click.option("--n-train", metavar="N[,N...]",
              help="Training rows (overrides the profile); several sizes, e.g. 32,128,512,2000, "
                   "make a learning curve of nested draws.")
@click.option("--n-per-class", metavar="K[,K...]",
              help="Training rows per label instead of --n-train, e.g. 8,32,128.")
@click.option("--n-eval", type=int, help="Evaluation rows (overrides the profile).")
@click.option("--data-seeds", "--data-seed", "data_seeds", default="0", show_default=True,
              help="Comma-separated seeds drawing the training rows, an axis of the grid like "
                   "--seeds; every strategy sees the same rows for a given data seed.")
@click.option("--eval-seed", type=int, default=0, show_default=True,
              help="Seed drawing the evaluation rows: the same for every data seed, so that "
                   "results on them compare row by row.")
@click.option("--tune", type=click.IntRange(min=0), default=0, show_default=True,
              metavar="N",
              help="Tune every strategy that declares a search space over N trials (Optuna "
                   "TPE; the first is its settings as given), each fitted on the training rows "
                   "less a validation fifth and selected on validation macro-F1 (generation: "
                   "perplexity); the evaluation rows are scored once, with the best. The "
                   "search counts in fit time and cost.")
@click.option("--precision", type=click.Choice(CHOICES), default="auto", show_default=True,
              help="Number format: auto runs in bf16 the strategies that declare it safe "
                   "(the fine-tuning ones) where the device has native bf16 units (a CPU "
                   "with AMX or AVX-512 BF16, a GPU from Ampere on), float32 elsewhere; fp32 "
                   "forces float32. In the cell's key and record.")
@click.option("--tune-parallel", type=click.IntRange(min=1), default=1, show_default=True,
              metavar="P",
              help="Tuning trials asked at once, in rounds (TPE treats the trials of a round "
                   "still running as the worst). Above 1 each trial runs as a job of its own on "
                   "the executor (--jobs P, or Ray across a cluster), and the chosen settings "
                   "are fitted once more for the evaluation rows. The settings tried depend on "
                   "P, not on where the trials ran.")
@click.option("--data-dir", type=click.Path(file_okay=False),
              help="Folder with <task>/{train,test}.csv; default $HARNESS_DATA_DIR, else the hub.")
@click.option("--config", "-c", "settings", multiple=True, metavar="STRATEGY.FIELD=VALUE",
              help="Override a strategy setting, e.g. full-finetune.epochs=1. Repeatable.")
@click.option("--out", default="results", show_default=True, type=click.Path(file_okay=False),
              help="Results folder (records and predictions).")
@click.option("--reports", "reports_dir", default="reports", show_default=True,
              type=click.Path(file_okay=False), help="Where the report is written at the end.")
@click.option("--prices", type=click.Path(dir_okay=False), help=PRICES_HELP)
@click.option("--backend", type=click.Choice(list(BACKENDS)),
              help="Inference backend for the strategies that have it (zero-shot, few-shot, "
                   "instruction-tuned have vllm); default: each strategy's own (hf).")
@click.option("--api-base", metavar="URL",
              help="--backend api: the OpenAI-compatible endpoint, up to /v1 (a hosted "
                   "provider, vllm serve, llama.cpp's server).")
@click.option("--api-model", metavar="NAME", help="--backend api: the model name it serves.")
@click.option("--api-mode", type=click.Choice(MODES), default="auto",
              show_default=True,
              help="--backend api: label scores from echoed prompt log-probabilities "
                   "(logprobs), or an answer parsed for a label word (generate); auto: "
                   "logprobs where the endpoint gives them.")
@click.option("--api-key-env", default="OPENAI_API_KEY", show_default=True, metavar="VAR",
              help="--backend api: the environment variable holding the API key (never "
                   "stored).")
@click.option("--api-concurrency", type=click.IntRange(min=1), default=8, show_default=True,
              help="--backend api: requests in flight at once.")
@click.option("--api-timeout", type=click.FloatRange(min=0, min_open=True), default=120.0,
              show_default=True, help="--backend api: seconds per request.")
@click.option("--api-retries", type=click.IntRange(min=0), default=5, show_default=True,
              help="--backend api: retries on 429, 5xx and timeouts, with backoff.")
@click.option("--force", is_flag=True, help="Recompute cells that already finished.")
@click.option("--no-isolation", is_flag=True,
              help="Run cells in this process (for debugging; a crash ends the whole run).")
@click.option("--trust-remote-code", is_flag=True,
              help="Allow models whose code lives in their hub repository.")
@click.option("--inference", metavar="VARIANT[,VARIANT...]",
              help="Also evaluate the fitted model in these variants, one record each: fp32, "
                   "bf16, fp16, int8, nf4, merged (harness/api/variants.py); 'default' = the "
                   "strategy's own, always evaluated.")
@click.option("--grid", "grid_file", type=click.Path(dir_okay=False), metavar="FILE",
              help="The grid as a YAML file (keys: the grid options above, config for -c); "
                   "flags given as well win over the file's values.")
@click.option("--verbose", "-v", is_flag=True,
              help="Show the libraries' own output (progress bars, warnings) of the cells and "
                   "of model conversion; by default it goes to each cell's log.")
@click.option("--dump-grid", is_flag=True,
              help="Print the grid file this command line means, and run nothing.")
@execution_options
def run(**options):
    """Run every strategy on every task and seed, store the records, write the report."""
    from harness.results.cost import load_prices

    if options["verbose"]:  # read by every cell process this run starts, and by this one
        os.environ[VERBOSE_ENV] = "1"
    if options["grid_file"]:
        options = apply_grid(options["grid_file"], options,
                             given_on_command_line(click.get_current_context()))
    if options["dump_grid"]:
        grid_request(options)  # seeds, sizes and settings parsed: a bad one is the error
        click.echo(dump(grid_document(options)), nl=False)
        return

    # The prices first: a bad file fails before anything runs.
    price_table = load_prices(options["prices"])
    check_writable(options["out"], "results")
    check_writable(options["reports_dir"], "reports")
    # Converted models, file hashes and style judges go there: found out now, not after a
    # model's conversion
    check_writable(cache_dir(), f"cache ({CACHE_ENV})")
    from harness.execution.driver import run_cells
    from harness.plan.grid import build_cells
    from harness.results.store import Store

    notes: list[str] = []
    cells = build_cells(grid_request(options), notes)
    how = execution_from(options, sorted({cell.strategy for cell in cells}),
                         not options["no_isolation"])
    how.preflight()
    for note in notes + _curve_notes(cells):
        echo_now(f"note: {note}")
    store = Store(options["out"])
    store.prepare()  # after every input check, so bad input leaves no folder behind
    summary = run_cells(cells, store, force=options["force"], echo=echo_now, execution=how,
                        provenance=provenance(options))
    click.echo(summary.line(len(cells), options["out"]))
    # Every record of the tasks run, not only this run's cells: the report replaces the last.
    ran = {task.name: task for cell in cells for task, _, _ in cell.evaluations}
    if summary.failed and not summary.ran and not store.records(warn=lambda _: None):
        # e.g. a full disk: the cells' lines above say why; "run harness run first" would not
        click.echo(f"no report: no cell saved a record in '{options['out']}'", err=True)
        sys.exit(1)
    for path in write_reports(store, options["reports_dir"], tasks=list(ran.values()),
                              prices=price_table):
        click.echo(f"report: {path}")
    if summary.failed:
        sys.exit(1)


def provenance(options: dict) -> dict:
    """What every record of this run keeps of how it was asked for: the run's id (the name of
    its records' folder once superseded, `harness compare`'s handle), the command line as typed
    and the grid it means (`--dump-grid`)."""
    import secrets
    import shlex

    run_id = f"{time.strftime('%Y%m%dT%H%M%S')}-{secrets.token_hex(3)}"
    given = click.get_current_context().meta.get(ARGV, sys.argv[1:])
    return {"run_id": run_id, "command": shlex.join(["harness", *given]),
            "grid": grid_document(options)}


def grid_request(options: dict):
    """The GridRequest of `harness run`'s options, their text parsed in the order of the
    options (the first bad one is the error)."""
    return GridRequest(
        tasks=tuple(dict.fromkeys(t.strip() for t in options["tasks"].split(",") if t.strip())),
        strategies=options["strategies"], models=options["models"],
        seeds=parse_seeds(options["seeds"]), profile=options["profile"],
        n_train=parse_sizes(options["n_train"], "--n-train"), n_eval=options["n_eval"],
        data_dir=options["data_dir"],
        data_seeds=parse_seeds(options["data_seeds"], "--data-seeds"),
        config=parse_settings(options["settings"]),
        trust_remote_code=options["trust_remote_code"], backend=options["backend"],
        eval_seed=options["eval_seed"],
        n_per_class=parse_sizes(options["n_per_class"], "--n-per-class"),
        inference=parse_variants(options["inference"]), tune=options["tune"],
        tune_parallel=options["tune_parallel"], precision=options["precision"],
        endpoint=endpoint(options))


def endpoint(options: dict):
    """The api backend's endpoint, from --api-* (None without --api-base)."""
    if not options.get("api_base"):
        if options.get("api_model"):
            raise HarnessError("--api-model names the model of an endpoint: give its URL with "
                               "--api-base")
        return None
    if not options.get("api_model"):
        raise HarnessError("--api-base needs --api-model: the model name the endpoint serves")
    return Endpoint(options["api_base"], options["api_model"], options["api_mode"],
                    options["api_key_env"], options["api_concurrency"],
                    options["api_timeout"], options["api_retries"])


def parse_settings(settings: tuple[str, ...]) -> dict[str, dict]:
    """`-c STRATEGY.FIELD=VALUE` values, per strategy (each value checked when planned)."""
    parsed: dict[str, dict] = {}
    for item in settings:
        target, sep, value = item.partition("=")
        strategy, dot, field = target.partition(".")
        if not (sep and dot and strategy and field):
            raise HarnessError(f"--config '{item}' must look like STRATEGY.FIELD=VALUE")
        parsed.setdefault(strategy.strip(), {})[field.strip()] = value.strip()
    return parsed


def _curve_notes(cells) -> list[str]:
    """What a learning curve will be made of, said before hours of cells start."""
    sizes = sorted({len(c.train) for c in cells if len(c.train)})
    if len(sizes) < 2:
        return []
    flat = sorted({c.strategy for c in cells if not len(c.train)})
    once = f"; {', '.join(flat)} use no training rows: run once" if flat else ""
    return [f"learning curve: {len(cells)} cells, training sizes {', '.join(map(str, sizes))} "
            f"(nested draws of each data seed){once}"]
