"""`harness list`: what can be run, from the registry and the built-in tables.

    harness list strategies
    harness list settings lora
    harness list tasks | models | variants
"""

from __future__ import annotations

import click

from harness.api.variants import VARIANTS
from harness.api.settings_doc import documented_settings
from harness.api import registry
from harness.errors import HarnessError
from harness.inputs.models import PRESETS, resolve_model
from harness.inputs.tasks import BUILTIN_TASKS

_KINDS = ("strategies", "settings", "tasks", "models", "variants")


@click.command(name="list")
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
        for name, entry in registry.entries().items():
            cls = entry.load()
            kinds = ",".join(cls.task_kinds)
            click.echo(f"{name:<20} {entry.package:<16} {kinds:<26} {cls.description}")
    elif what == "variants":
        for name, meaning in VARIANTS.items():
            who = [n for n, entry in registry.entries().items()
                   if name in entry.load().inference_variants]
            click.echo(f"{name:<8} {meaning} [{', '.join(who) or 'no strategy'}]")
    elif what == "tasks":
        for name, task in BUILTIN_TASKS.items():
            click.echo(f"{name:<12} {task.kind:<15} {task.summary()}  "
                       f"(hub: {task.hub_id or '-'})")
    else:
        for name, preset in PRESETS.items():
            source = resolve_model(name).source
            where = "offline copy" if source != preset.hub_id else "hub"
            click.echo(f"{name:<24} {preset.kind:<8} {preset.description} [{where}: {source}]")


def _list_settings(names: tuple[str, ...]) -> None:
    import json
    import shutil
    import textwrap

    width = max(100, shutil.get_terminal_size().columns)
    for name in names or registry.entries():
        cls = registry.get(name)  # an unknown name: a one-line error with a suggestion
        click.echo(f"{name}: {cls.description}")
        for setting in documented_settings(cls.config_class):
            meaning = f"; {setting.meaning}" if setting.meaning else ""
            if setting.name in cls.search_space:  # what --tune searches
                meaning += f" [--tune: {cls.search_space[setting.name]}]"
            line = f"  {setting.name:<22} {json.dumps(setting.default):<10} {setting.accepts}"
            click.echo(textwrap.fill(line + meaning, width, subsequent_indent=" " * 36))
        click.echo("")
