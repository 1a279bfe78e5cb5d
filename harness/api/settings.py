"""Strategy settings checked in the plan, before any process starts or any file is written.

A `-c STRATEGY.FIELD=VALUE` value is parsed as JSON (a bare string otherwise) and checked
against the annotation of the config dataclass's field; then the dataclass is built, so its
`__post_init__` checks run here too. Every failure is one line for people (a HarnessError):

    build_config(ZeroShot, {"max_batch_tokens": "abc"})
    # -c zero-shot.max_batch_tokens=abc: expected an integer or null, got 'abc'

A config declares its own range checks with the helpers below:

    @dataclass
    class MyConfig:
        epochs: float = 3.0
        normalize: Literal["sum", "mean"] = "sum"

        def __post_init__(self):
            above(self, 0, "epochs")
"""

from __future__ import annotations

import dataclasses
import json
import math
import types
import typing
from typing import Any, Literal, Union

from harness.errors import HarnessError, did_you_mean


class _Mismatch(Exception):
    """A value that does not fit an annotation (internal: becomes a one-line HarnessError)."""


class _TooLarge(_Mismatch):
    """An integer beyond what the libraries take."""


class SettingError(HarnessError):
    """A config's own check failed; build_config names the strategy in the message."""

    def __init__(self, config, name: str, value, rule: str):
        self.name, self.value, self.rule = name, value, rule
        super().__init__(f"{type(config).__name__}.{name}={value!r}: must be {rule}")


def build_config(strategy_cls: type, overrides: dict[str, Any]):
    """The strategy's config with `overrides` checked, converted and applied."""
    config_class, strategy = strategy_cls.config_class, strategy_cls.name
    fields = {f.name: f for f in dataclasses.fields(config_class) if f.init}
    hints = type_hints(config_class)
    values = {}
    for key, raw in overrides.items():
        if key not in fields:
            raise HarnessError(f"strategy '{strategy}' has no setting '{key}'"
                               f"{did_you_mean(key, fields)}")
        values[key] = parse_setting(strategy, key, raw, hints.get(key, Any))
    try:
        return config_class(**values)
    except SettingError as error:
        # Shown as typed when it came from -c; a default that fails is the config's own bug.
        given = error.name in values
        shown = _show(overrides[error.name] if given else error.value)
        raise HarnessError(f"{'-c ' if given else ''}{strategy}.{error.name}={shown}: "
                           f"must be {error.rule}") from None
    except HarnessError as error:
        raise HarnessError(_one_line(error.message)) from None
    except (ValueError, TypeError) as error:
        raise HarnessError(f"strategy '{strategy}' settings: {_one_line(str(error))}") from None


def parse_setting(strategy: str, name: str, raw, annotation):
    """`raw` (a command-line string, or a Python value) as a value of type `annotation`."""
    too_large = False
    for candidate in _candidates(raw):
        try:
            return _convert(candidate, annotation)
        except _TooLarge:
            too_large = True
        except _Mismatch:
            continue
    if too_large:
        raise HarnessError(f"-c {strategy}.{name}={_show(raw)}: too large (an integer has at "
                           f"most 18 digits)")
    raise HarnessError(f"-c {strategy}.{name}={_show(raw)}: expected {describe(annotation)}, "
                       f"got {raw!r}")


def describe(annotation) -> str:
    """What an annotation accepts, in words: 'an integer or null', "one of 'sum', 'mean'"."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if annotation is type(None):
        return "null"
    if origin in (Union, types.UnionType):
        return " or ".join(describe(arg) for arg in _nulls_last(args))
    if origin is Literal:
        return "one of " + ", ".join(json.dumps(arg) if not isinstance(arg, str) else repr(arg)
                                     for arg in args)
    if origin in (list, tuple) and args and args[-1] is not Ellipsis and origin is tuple:
        return "a JSON list of " + ", ".join(describe(arg) for arg in args)
    if origin in (list, tuple):
        return f"a JSON list, each {describe(args[0])}" if args else "a JSON list"
    return _WORDS.get(annotation, getattr(annotation, "__name__", str(annotation)))


_WORDS = {int: "an integer", float: "a finite number", bool: "true or false", str: "a string"}


# Range checks for a config's __post_init__; None passes, as it means "automatic" in our configs.

def check(config, name: str, ok: bool, rule: str) -> None:
    """A SettingError unless `ok`: e.g. check(self, "k", self.k % 2 == 1, "odd")."""
    if not ok:
        raise SettingError(config, name, getattr(config, name), rule)


# The largest count a setting may hold: what every library's C side takes (a C int), far
# beyond any real batch, length, iteration or neighbour count.
MAX_COUNT = 2**31 - 1


def at_least(config, low, *names: str) -> None:
    for name in names:
        value = getattr(config, name)
        check(config, name, value is None or value >= low, f">= {low}")
        if isinstance(value, int):
            check(config, name, value <= MAX_COUNT, f"in [{low}, {MAX_COUNT}]")


def above(config, low, *names: str) -> None:
    for name in names:
        value = getattr(config, name)
        check(config, name, value is None or value > low, f"> {low}")


def within(config, low, high, *names: str, include_high: bool = True) -> None:
    for name in names:
        value = getattr(config, name)
        fits = value is None or (low <= value <= high if include_high else low <= value < high)
        check(config, name, fits, f"in [{low}, {high}{']' if include_high else ')'}")


def type_hints(config_class: type) -> dict:
    # Annotations are strings (`from __future__ import annotations`); a class whose names cannot
    # be resolved (defined inside a function) keeps today's behaviour: values go in unchecked.
    try:
        return typing.get_type_hints(config_class)
    except (NameError, TypeError):
        return {}


def _candidates(raw) -> list:
    # JSON first, so `3`, `true`, `null` and `[1, 2]` are typed; the text itself second, so a
    # string setting given `2024` or `true` keeps the text rather than failing.
    if not isinstance(raw, str):
        return [raw]
    try:
        parsed = json.loads(raw)
    except json.JSONDecodeError:
        return [raw]
    return [parsed] if parsed == raw else [parsed, raw]


def _convert(value, annotation):
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if annotation is Any or isinstance(annotation, (str, typing.ForwardRef, typing.TypeVar)):
        return value  # nothing to check against
    if annotation is type(None):
        # "None" too: the spelling of the defaults in the dataclass a reader has just seen.
        if value is None or value == "None":
            return None
        raise _Mismatch
    if origin in (Union, types.UnionType):
        return _convert_union(value, args)
    if origin is Literal:
        # By type and value, so True does not pass for 1 nor 1 for True.
        if any(type(value) is type(arg) and value == arg for arg in args):
            return value
        raise _Mismatch
    if origin in (list, tuple):
        return _convert_sequence(value, origin, args)
    converter = _SCALARS.get(annotation)
    # Other types (a Path, a dict) go in as parsed, as before; their __post_init__ can check.
    return converter(value) if converter else value


def _convert_union(value, args):
    why = _Mismatch
    for arg in _nulls_first(args):  # "None" means null even for `str | None`
        try:
            return _convert(value, arg)
        except _TooLarge:
            why = _TooLarge
        except _Mismatch:
            continue
    raise why


def _convert_sequence(value, origin, args):
    if not isinstance(value, (list, tuple)):
        raise _Mismatch
    if origin is tuple and args and args[-1] is not Ellipsis:
        if len(value) != len(args):
            raise _Mismatch
        return tuple(_convert(item, arg) for item, arg in zip(value, args))
    items = [_convert(item, args[0]) if args else item for item in value]
    return tuple(items) if origin is tuple else items


def _to_int(value) -> int:
    if isinstance(value, bool):
        raise _Mismatch  # JSON true is not the integer 1
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # 2e5 for 200000
    # Within int64 with room to spare: torch, numpy and itertools take no larger one
    if isinstance(value, int):
        if abs(value) >= 10**18:
            raise _TooLarge
        return value
    raise _Mismatch


def _to_float(value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _Mismatch
    if not math.isfinite(value):
        raise _Mismatch  # Python's json reads NaN and Infinity; no setting wants them
    return float(value)


def _to_bool(value) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"  # Python's True/False as people write them
    raise _Mismatch


def _to_str(value) -> str:
    if isinstance(value, str):
        return value
    raise _Mismatch


_SCALARS = {int: _to_int, float: _to_float, bool: _to_bool, str: _to_str}


def _nulls_first(args) -> list:
    return sorted(args, key=lambda arg: arg is not type(None))


def _nulls_last(args) -> list:
    return sorted(args, key=lambda arg: arg is type(None))


def _show(value) -> str:
    return value if isinstance(value, str) else json.dumps(value, default=str)


def _one_line(text: str) -> str:
    return " ".join(str(text).split())
