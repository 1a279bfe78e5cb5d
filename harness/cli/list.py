"""`harness list`: what can be run, from the registry and the built-in tables.

    harness list strategies
    harness list settings lora
    harness list tasks | models | variants
"""

from __future__ import annotations

import click

from harness.errors import HarnessError

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
            if task.kind == "generation":
                what_it_is = (f"'{task.instruction}' continuing {task.prompt_words} words, "
                              f"{task.max_new_tokens} new tokens")
            else:
                what_it_is = f"{task.num_labels} labels: {', '.join(task.labels)}"
            click.echo(f"{name:<12} {task.kind:<15} {what_it_is}  (hub: {task.hub_id or '-'})")
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
