"""`harness project`: memory, time and price of a training step and of 1,000 predictions per
strategy on GPUs you do not have, projected from the model's architecture by the cost model of
docs/projection.md, and checked against a measurement on the device present.

    harness project --model smollm2-135m-instruct --model llama-3.2-1b --device h100,t4,cpu
    harness project --model ./my-config.json --seq-len 256 --json projection.json
"""

from __future__ import annotations

import os

import click

from harness.errors import HarnessError, did_you_mean
# Light: the projection itself (numpy, torch) waits for the command.
from harness.projection.devices import DEVICE_NAMES, resolve_devices
from harness.projection.model import STRATEGIES as STRATEGY_NAMES, Settings

DEFAULT_MODELS = ("smollm2-135m-instruct", "llama-3.2-1b")
_UTIL = click.FloatRange(0, 1, min_open=True)


@click.command("project")
@click.option("--model", "-m", "models", multiple=True, default=DEFAULT_MODELS, show_default=True,
              help="Preset, built-in architecture (llama-3.2-1b), hub id, local folder or "
                   "config JSON file. Repeatable.")
@click.option("--device", "devices", default="all", show_default=True,
              help=f"Comma-separated devices: {', '.join(DEVICE_NAMES)}, or 'all'. 'cpu' is this "
                   f"machine, measured.")
@click.option("--strategies", "-s", default="all", show_default=True,
              help=f"'all' or comma-separated: {', '.join(STRATEGY_NAMES)}.")
@click.option("--seq-len", type=click.IntRange(1, 2**20), default=128, show_default=True,
              help="Tokens per example (and per prompt).")
@click.option("--batch-size", "train_batch", type=click.IntRange(1, 2**16), default=16,
              show_default=True, help="Examples per training step.")
@click.option("--infer-batch-size", "infer_batch", type=click.IntRange(1, 2**16), default=32,
              show_default=True, help="Examples per inference batch.")
@click.option("--flops-util", type=_UTIL, help="Share of the matmul peak reached (default per "
                                               "device: 0.4 on GPUs, 0.8 of the measured CPU).")
@click.option("--bw-util", type=_UTIL, help="Share of the memory bandwidth reached (default per "
                                            "device: 0.6 on GPUs, 1.0 of the measured CPU).")
@click.option("--gradient-checkpointing", "checkpointing", is_flag=True,
              help="Training keeps each layer's input only and recomputes the layer in the "
                   "backward pass (the trained strategies' gradient_checkpointing setting, on "
                   "for a causal LM).")
@click.option("--check/--no-check", default=True, show_default=True,
              help="Measure a 2-layer copy of each model here and show it beside its projection.")
@click.option("--check-batch-size", type=click.IntRange(1, 1024), default=4, show_default=True,
              help="Examples per step and per batch in that check.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False),
              help="Also write every figure, the device table and the calibration as JSON.")
def project(models, devices, strategies, check, check_batch_size, json_path, **settings):
    """Project memory, time and price per strategy onto GPUs you do not have."""
    import warnings

    from harness.projection.project import project as run_projection

    chosen = _strategies(strategies)
    targets = resolve_devices(devices)
    # --seq-len, --batch-size, --infer-batch-size, --flops-util, --bw-util,
    # --gradient-checkpointing: Settings' fields
    settings = Settings(**settings)
    _quiet_libraries()
    with warnings.catch_warnings():  # peft and transformers deprecations say nothing here
        warnings.simplefilter("ignore", FutureWarning)
        result = run_projection(list(dict.fromkeys(models)), targets, settings, check=check,
                                check_batch=check_batch_size, echo=click.echo,
                                strategies=chosen)
    result["rows"] = [row for row in result["rows"] if row["strategy"] in chosen]
    for name in dict.fromkeys(row["model"] for row in result["rows"]):
        click.echo(f"\n{name}: projected (seq len {settings.seq_len}, train batch "
                   f"{settings.train_batch}, inference batch {settings.infer_batch})")
        click.echo(_table([r for r in result["rows"] if r["model"] == name], PROJECTED))
    if result["checks"]:
        click.echo(f"\nchecked on {result['present_device']['label']}: measured vs projected "
                   f"for a reduced-depth copy (batch {check_batch_size})")
        click.echo(_table(result["checks"], CHECKS))
        load, cores = result.get("check_load_average", 0), len(os.sched_getaffinity(0))
        if load > cores:  # other processes took turns on the cores: the measured times grew
            click.echo(f"warning: the load average was {load:.1f} on {cores} core(s) while "
                       f"measuring; measured/projected time ratios are inflated by it")
    if json_path:
        _write_json(json_path, result)
        click.echo(f"\nwrote {json_path}")


def _strategies(spec: str) -> list[str]:
    names = [s.strip() for s in spec.split(",") if s.strip()]
    if spec.strip() == "all":
        return list(STRATEGY_NAMES)
    for name in names or [spec]:
        if name not in STRATEGY_NAMES:
            raise HarnessError(f"unknown strategy '{name}' for a projection"
                               f"{did_you_mean(name, STRATEGY_NAMES)}")
    return names


def _quiet_libraries() -> None:
    # bitsandbytes (imported by peft) warns that an optional CPU kernel package is missing:
    # nothing is quantized here, only counted.
    import logging

    logging.getLogger("bitsandbytes").setLevel(logging.ERROR)


def _params(row: dict) -> str:
    return f"{_count(row['trainable_params'])}/{_count(row['total_params'])}"


def _count(count: int) -> str:
    for unit, size in (("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if count >= size:
            return f"{count / size:.3g}{unit}"
    return str(count)


def _number(value) -> str:
    if value is None:
        return "-"
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3g}"


# (heading, how a row shows it)
PROJECTED = (
    ("device", lambda r: r["device"]), ("strategy", lambda r: r["strategy"]),
    ("params trained/total", _params),
    ("GiB train", lambda r: _number(r["train_memory_gib"])),
    ("GiB infer", lambda r: _number(r["infer_memory_gib"])),
    ("fits", lambda r: "yes" if r["fits"] else "NO"),
    ("ms/step", lambda r: _number(r["ms_per_step"])),
    ("step bound", lambda r: r["step_bound"] or "-"),
    ("s/1k pred", lambda r: _number(r["s_per_1k_predictions"])),
    ("$/1k pred", lambda r: _number(r["usd_per_1k_predictions"])),
    ("", lambda r: r["kind"]),
)
CHECKS = (
    ("model", lambda r: r["model"]), ("strategy", lambda r: r["strategy"]),
    ("figure", lambda r: r["figure"]), ("measured", lambda r: _number(r["measured"])),
    ("projected", lambda r: _number(r["projected_value"])),
    ("ratio", lambda r: f"{r['ratio']:.2f}"),
    ("GiB measured/projected", lambda r: f"{_number(r['measured_memory_gib'])}/"
                                         f"{_number(r['projected_memory_gib'])}"
     if "measured_memory_gib" in r else "-"),
    ("", lambda r: r["kind"]),
)


def _table(rows: list[dict], columns) -> str:
    cells = [[heading for heading, _ in columns]] + [[show(r) for _, show in columns]
                                                     for r in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(columns))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(line, widths)).rstrip()
                     for line in cells)


def _write_json(path: str, result: dict) -> None:
    import json
    from pathlib import Path

    try:
        Path(path).write_text(json.dumps(result, indent=1, default=str) + "\n")
    except OSError as err:
        raise HarnessError(f"cannot write '{path}': {err.strerror or err}") from None
