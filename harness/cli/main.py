"""The command line: `harness run`, `harness report`, `harness recommend`, `harness project`,
`harness list`.

    harness run --strategies all --task agnews
    harness run --strategies zero-shot,full-finetune --task agnews,sst2 --seeds 0,1 --n-eval 500
    harness run --strategies few-shot,tfidf-logreg --task agnews --data-seeds 0,1,2
    harness run -s zero-shot,full-finetune,lora -t agnews --n-train 32,128,512,2000 --n-eval 500
    harness recommend --results results --task agnews --n-train 500 --max-latency-ms 50
    harness list strategies
    harness list settings lora
    harness report --results results --out reports --prices prices.json
"""

from __future__ import annotations

import sys

import click

from harness.api.backends import BACKENDS
from harness.errors import HarnessError, HarnessGroup
from harness.cli.execution_options import execution_from, execution_options

_KINDS = ("strategies", "settings", "tasks", "models", "variants")
_PRICES_HELP = ("JSON file of prices in USD per hour, overriding the defaults of harness/results/cost.py: "
                "'cpu_core' per core-hour, GPUs by name, 'cuda' for any other GPU. Applied "
                "when the report is written, from the stored device-seconds.")


@click.group(cls=HarnessGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="adapt-harness")
def main():
    """Benchmark adaptation strategies for language models: accuracy and cost, side by side."""


@main.command()
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
@click.option("--data-dir", type=click.Path(file_okay=False),
              help="Folder with <task>/{train,test}.csv; default $HARNESS_DATA_DIR, else the hub.")
@click.option("--config", "-c", "settings", multiple=True, metavar="STRATEGY.FIELD=VALUE",
              help="Override a strategy setting, e.g. full-finetune.epochs=1. Repeatable.")
@click.option("--out", default="results", show_default=True, type=click.Path(file_okay=False),
              help="Results folder (records and predictions).")
@click.option("--reports", "reports_dir", default="reports", show_default=True,
              type=click.Path(file_okay=False), help="Where the report is written at the end.")
@click.option("--prices", type=click.Path(dir_okay=False), help=_PRICES_HELP)
@click.option("--backend", type=click.Choice(list(BACKENDS)),
              help="Inference backend for the strategies that have it (zero-shot, few-shot, "
                   "instruction-tuned have vllm); default: each strategy's own (hf).")
@click.option("--force", is_flag=True, help="Recompute cells that already finished.")
@click.option("--no-isolation", is_flag=True,
              help="Run cells in this process (for debugging; a crash ends the whole run).")
@click.option("--trust-remote-code", is_flag=True,
              help="Allow models whose code lives in their hub repository.")
@click.option("--inference", metavar="VARIANT[,VARIANT...]",
              help="Also evaluate the fitted model in these variants, one record each: fp32, "
                   "bf16, fp16, int8, nf4, merged (harness/api/variants.py); 'default' = the "
                   "strategy's own, always evaluated.")
@execution_options
def run(strategies, tasks, models, seeds, profile, n_train, n_per_class, n_eval, data_seeds,
        eval_seed, data_dir, settings, out, reports_dir, prices, backend, force, no_isolation,
        trust_remote_code, inference, **execution):
    """Run every strategy on every task and seed, store the records, write the report."""
    from harness.results.cost import load_prices
    from harness.paths import check_writable

    price_table = load_prices(prices)  # first: a bad file fails before anything runs
    check_writable(out, "results")
    check_writable(reports_dir, "reports")
    from harness.api.variants import parse_variants
    from harness.plan.grid import build_cells, parse_seeds, parse_sizes
    from harness.execution.driver import run_cells
    from harness.results.store import Store

    task_names = list(dict.fromkeys(t.strip() for t in tasks.split(",") if t.strip()))
    notes: list[str] = []
    cells = build_cells(task_names, strategies, models, parse_seeds(seeds), profile,
                        parse_sizes(n_train, "--n-train"), n_eval, data_dir,
                        parse_seeds(data_seeds, "--data-seeds"), _parse_settings(settings),
                        trust_remote_code, backend, eval_seed, notes,
                        parse_sizes(n_per_class, "--n-per-class"),
                        parse_variants(inference))
    how = execution_from(execution, sorted({cell.strategy for cell in cells}), not no_isolation)
    for note in notes + _curve_notes(cells):
        _echo_now(f"note: {note}")
    store = Store(out)
    store.prepare()  # after every input check, so bad input leaves no folder behind
    summary = run_cells(cells, store, force=force, echo=_echo_now, execution=how)
    click.echo(summary.line(len(cells), out))
    # Every record of the tasks run, not only this run's cells: the report replaces the last.
    ran = {task.name: task for cell in cells for task, _, _ in cell.evaluations}
    for path in _write_reports(store, reports_dir, tasks=list(ran.values()), prices=price_table):
        click.echo(f"report: {path}")
    if summary.failed:
        sys.exit(1)


@main.command()
@click.option("--results", default="results", show_default=True,
              type=click.Path(file_okay=False), help="Results folder to read.")
@click.option("--out", default="reports", show_default=True, type=click.Path(file_okay=False),
              help="Where to write <task>.md, <task>.html and <task>.csv.")
@click.option("--task", "tasks", help="Only these tasks (comma-separated names or task YAML "
                                       "files); default every task with records.")
@click.option("--prices", type=click.Path(dir_okay=False), help=_PRICES_HELP)
@click.option("--strict", is_flag=True,
              help="Fail on an unreadable or invalid record instead of skipping it with a warning.")
def report(results, out, tasks, prices, strict):
    """Write a Markdown, a self-contained HTML and a CSV report per task from every stored
    record, pricing their stored device-seconds (re-pricing needs no re-run)."""
    from harness.results.cost import load_prices
    from harness.paths import check_writable
    from harness.results.store import Store
    from harness.inputs.tasks import check_task_name, get_task, is_task_file

    price_table = load_prices(prices)
    check_writable(out, "reports")
    wanted = [t.strip() for t in tasks.split(",") if t.strip()] if tasks else None
    if tasks is not None and not wanted:
        raise HarnessError("--task names no task: give one or more, or leave it out for all")
    for name in wanted or []:
        if not is_task_file(name):
            check_task_name(name)  # records of tasks from files have no built-in to check
    # A task file gives its name, and its labels to records too old to carry them.
    chosen = [get_task(t) if is_task_file(t) else t for t in wanted] if wanted else None
    paths = _write_reports(Store(results), out, tasks=chosen, prices=price_table, strict=strict)
    for path in paths:
        click.echo(f"report: {path}")


@main.command()
@click.option("--results", default="results", show_default=True,
              type=click.Path(file_okay=False), help="Results folder to read.")
@click.option("--task", "-t", "task", required=True, help="The task to recommend for.")
@click.option("--n-train", type=int, help="Labelled rows you have: curves are read (or "
                                           "interpolated) at this size.")
@click.option("--max-latency-ms", type=float, help="p95 latency at batch size 1.")
@click.option("--max-usd-per-1k", type=float, help="Cost of 1,000 predictions (USD).")
@click.option("--max-memory-gib", type=float,
              help="Peak memory: GPU reserved on a GPU, else the process's peak RSS.")
@click.option("--max-fit-usd", type=float, help="Cost of training, load included (USD).")
@click.option("--min-accuracy", type=float, help="Accuracy (point estimate) at least this.")
@click.option("--explain", is_flag=True, help="Also print a paragraph for a design document.")
@click.option("--prices", type=click.Path(dir_okay=False), help=_PRICES_HELP)
def recommend(results, task, n_train, max_latency_ms, max_usd_per_1k, max_memory_gib,
              max_fit_usd, min_accuracy, explain, prices):
    """The strategies that meet every constraint, most accurate first, each with its numbers,
    and what excludes the others. Exit 1 when none qualifies (the binding constraint named)."""
    from harness.recommend.options import Constraints
    from harness.recommend.run import run_recommend

    constraints = Constraints(max_latency_ms, max_usd_per_1k, max_memory_gib, max_fit_usd,
                              min_accuracy)
    text, qualified = run_recommend(results, task, n_train, constraints, explain, prices)
    click.echo(text)
    if not qualified:
        sys.exit(1)


@main.command(name="list")
@click.argument("what", type=click.Choice(_KINDS))
@click.argument("strategies", nargs=-1)
def list_(what, strategies):
    """List the registered strategies, their settings (`harness list settings [STRATEGY...]`:
    each setting's default, what it accepts and what it means), the built-in tasks, the model
    presets or the inference variants (and which strategies can load each)."""
    if strategies and what != "settings":
        raise HarnessError(f"`harness list {what}` takes no names; `harness list settings "
                           f"{' '.join(strategies)}` lists those strategies' settings")
    if what == "settings":
        _list_settings(strategies)
    elif what == "strategies":
        from harness.api import registry

        for name, entry in registry.entries().items():
            cls = entry.load()
            kinds = ",".join(cls.task_kinds)
            click.echo(f"{name:<20} {entry.package:<16} {kinds:<26} {cls.description}")
    elif what == "variants":
        from harness.api import registry
        from harness.api.variants import VARIANTS

        for name, meaning in VARIANTS.items():
            who = [n for n, entry in registry.entries().items()
                   if name in entry.load().inference_variants]
            click.echo(f"{name:<8} {meaning} [{', '.join(who) or 'no strategy'}]")
    elif what == "tasks":
        from harness.inputs.tasks import BUILTIN_TASKS

        for name, task in BUILTIN_TASKS.items():
            click.echo(f"{name:<12} {task.kind:<15} {task.summary()}  "
                       f"(hub: {task.hub_id or '-'})")
    else:
        from harness.inputs.models import PRESETS, resolve_model

        for name, preset in PRESETS.items():
            source = resolve_model(name).source
            where = "offline copy" if source != preset.hub_id else "hub"
            click.echo(f"{name:<24} {preset.kind:<8} {preset.description} [{where}: {source}]")


def _list_settings(names: tuple[str, ...]) -> None:
    import json
    import shutil
    import textwrap

    from harness.api import registry
    from harness.api.settings_doc import documented_settings

    width = max(100, shutil.get_terminal_size().columns)
    for name in names or registry.entries():
        cls = registry.get(name)  # an unknown name: a one-line error with a suggestion
        click.echo(f"{name}: {cls.description}")
        for setting in documented_settings(cls.config_class):
            meaning = f"; {setting.meaning}" if setting.meaning else ""
            line = f"  {setting.name:<22} {json.dumps(setting.default):<10} {setting.accepts}"
            click.echo(textwrap.fill(line + meaning, width, subsequent_indent=" " * 36))
        click.echo("")


def _register_project() -> None:
    from harness.cli.project import project  # click only at import: `harness --help` stays fast

    main.add_command(project)


_register_project()


def _write_reports(store, folder, **options) -> list:
    """harness.report.write_reports, with a refused file named in one line: the records of a
    run stay whatever happens to its report."""
    from harness.report import write_reports

    try:
        return write_reports(store, folder, **options)
    except OSError as err:
        raise HarnessError(f"cannot write the report into '{folder}': {err.strerror or err} "
                           f"('{err.filename or folder}')") from None


def _curve_notes(cells) -> list[str]:
    """What a learning curve will be made of, said before hours of cells start."""
    sizes = sorted({len(c.train) for c in cells if len(c.train)})
    if len(sizes) < 2:
        return []
    flat = sorted({c.strategy for c in cells if not len(c.train)})
    once = f"; {', '.join(flat)} use no training rows: run once" if flat else ""
    return [f"learning curve: {len(cells)} cells, training sizes {', '.join(map(str, sizes))} "
            f"(nested draws of each data seed){once}"]


def _echo_now(message: str) -> None:
    # Flushed: progress lines must show when stdout is a file or a pipe (CI logs, `tee`).
    click.echo(message)
    sys.stdout.flush()


def _parse_settings(settings: tuple[str, ...]) -> dict[str, dict]:
    parsed: dict[str, dict] = {}
    for item in settings:
        target, sep, value = item.partition("=")
        strategy, dot, field = target.partition(".")
        if not (sep and dot and strategy and field):
            raise HarnessError(f"--config '{item}' must look like STRATEGY.FIELD=VALUE")
        parsed.setdefault(strategy.strip(), {})[field.strip()] = value.strip()
    return parsed


if __name__ == "__main__":
    main()
