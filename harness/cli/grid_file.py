"""The grid as a file: `harness run --grid grid.yaml` reads it, `harness run --dump-grid`
prints the file a command line means. The file's keys are `harness run`'s grid options (the
flags are its shorthand); a flag given on the command line wins over the file's value.

    strategies: [zero-shot, full-finetune]
    tasks: [agnews]
    seeds: [0, 1]
    n_train: [32, 128]
    config:
      full-finetune: {epochs: 1}

Execution (where and how the cells run: --jobs, --executor, ...) and output folders are not
part of a grid: the same grid gives the same cell keys wherever it runs.
"""

from __future__ import annotations

from pathlib import Path

import click
import yaml

from harness.errors import HarnessError

# File key -> `harness run` parameter; the order is the file's.
KEYS = {"strategies": "strategies", "tasks": "tasks", "models": "models", "seeds": "seeds",
        "profile": "profile", "n_train": "n_train", "n_per_class": "n_per_class",
        "n_eval": "n_eval", "data_seeds": "data_seeds", "eval_seed": "eval_seed",
        "data_dir": "data_dir", "config": "settings", "backend": "backend",
        "precision": "precision", "inference": "inference", "tune": "tune",
        "tune_parallel": "tune_parallel", "trust_remote_code": "trust_remote_code",
        "api_base": "api_base", "api_model": "api_model", "api_mode": "api_mode",
        "api_key_env": "api_key_env"}
LISTS = ("strategies", "tasks", "seeds", "n_train", "n_per_class", "data_seeds", "inference")
INTEGERS = ("n_eval", "eval_seed", "tune", "tune_parallel")


def grid_document(options: dict) -> dict:
    """The grid the options mean, as the file would hold it (None and empty values left out)."""
    document = {}
    for key, parameter in KEYS.items():
        value = options.get(parameter)
        if key.startswith("api_") and not options.get("api_base"):
            continue  # the api backend's defaults say nothing without an endpoint
        if key in LISTS and isinstance(value, str):
            value = [_scalar(part.strip()) for part in value.split(",") if part.strip()]
        elif key == "models":
            value = list(value or ())
        elif key == "config":
            value = _config_mapping(value or ())
        if not (value is None or value is False or value == [] or value == {}):
            document[key] = value
    return document


def dump(document: dict) -> str:
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True)


def apply_grid(path: str, options: dict, given: set[str]) -> dict:
    """`options` with the grid file's values for every grid option not `given` on the command
    line; the file checked: a mapping of known keys with values of the right shape."""
    document = _read(path)
    merged = dict(options)
    for key, value in document.items():
        parameter = KEYS[key]
        if parameter not in given:
            merged[parameter] = _option_value(path, key, value)
    return merged


def _read(path: str) -> dict:
    try:
        document = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as err:
        raise HarnessError(f"--grid {path}: cannot read it ({err.strerror or err})") from None
    except (yaml.YAMLError, UnicodeDecodeError) as err:
        where = getattr(err, "problem_mark", None)
        at = f" (line {where.line + 1})" if where is not None else ""
        raise HarnessError(f"--grid {path}: not valid YAML{at}") from None
    if document is None:
        return {}
    if not isinstance(document, dict):
        raise HarnessError(f"--grid {path}: must be a mapping of grid options "
                           f"({', '.join(KEYS)})")
    unknown = [str(key) for key in document if key not in KEYS]
    if unknown:
        raise HarnessError(f"--grid {path}: unknown key '{unknown[0]}' (known: "
                           f"{', '.join(KEYS)})")
    return document


def _option_value(path: str, key: str, value):
    """A file value as `harness run` takes the option: lists as comma-separated text, the
    config as STRATEGY.FIELD=VALUE items; each is then parsed and checked as the flag is."""
    wrong = HarnessError(f"--grid {path}: '{key}' {_SHAPES.get(key, 'has the wrong type')}")
    if key in LISTS:
        items = value if isinstance(value, list) else [value]
        if not items or any(isinstance(item, (dict, list, bool)) or item is None
                            for item in items):
            raise wrong
        return ",".join(str(item) for item in items)
    if key == "models":
        items = value if isinstance(value, list) else [value]
        if any(not isinstance(item, str) for item in items):
            raise wrong
        return tuple(items)
    if key == "config":
        if not isinstance(value, dict) or any(not isinstance(fields, dict)
                                              for fields in value.values()):
            raise wrong
        return tuple(f"{strategy}.{field}={_text(setting)}"
                     for strategy, fields in value.items() for field, setting in fields.items())
    if key in INTEGERS:
        if isinstance(value, bool) or not isinstance(value, int):
            raise wrong
        return value
    if key == "trust_remote_code":
        if not isinstance(value, bool):
            raise wrong
        return value
    if not isinstance(value, str):
        raise wrong
    return value


_SHAPES = {"config": "must map each strategy to its settings, e.g. {full-finetune: {epochs: 1}}",
           "models": "must be a name or a list of names (NAME or KIND=NAME)",
           "trust_remote_code": "must be true or false",
           **{key: "must be a whole number" for key in INTEGERS},
           **{key: "must be a value or a list of values" for key in LISTS}}


def _config_mapping(settings: tuple[str, ...]) -> dict:
    mapping: dict[str, dict] = {}
    for item in settings:
        target, _, value = item.partition("=")
        strategy, _, field = target.partition(".")
        mapping.setdefault(strategy.strip(), {})[field.strip()] = _scalar(value.strip())
    return mapping


def _scalar(text: str):
    """A setting's text as YAML would type it (1 -> 1, true -> True), so the file reads
    naturally; `_text` turns it back into the same text."""
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    return value if isinstance(value, (int, float, bool, str)) and _text(value) == text else text


def _text(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def given_on_command_line(context: click.Context) -> set[str]:
    """The parameters the user typed (not defaults): they win over the grid file's."""
    source = click.core.ParameterSource
    return {name for name in context.params
            if context.get_parameter_source(name) in (source.COMMANDLINE, source.ENVIRONMENT)}
