"""A strategy's settings as a user reads them: name, default, what it accepts and what it means.
The meaning is the field's `help` metadata, as in PEFT's configs; a subclass that redefines a
field only to change its default keeps the help of the field it redefines:

    @dataclass
    class MyConfig:
        epochs: float = field(default=3.0, metadata={"help": "passes over the training rows"})

    for setting in documented_settings(MyConfig):   # what `harness list settings` prints
        print(setting.name, setting.default, setting.accepts, setting.meaning)
"""

from __future__ import annotations

import dataclasses
from typing import Any, NamedTuple

from harness.api.settings import describe, type_hints


class Setting(NamedTuple):
    name: str
    default: Any
    accepts: str  # harness.api.settings.describe of its annotation
    meaning: str  # its help; "" when it has none


def documented_settings(config_class: type) -> list[Setting]:
    hints = type_hints(config_class)
    return [Setting(f.name, _default(f), describe(hints.get(f.name, Any)),
                    field_help(config_class, f.name))
            for f in dataclasses.fields(config_class) if f.init]


def field_help(config_class: type, name: str) -> str:
    """The `help` of the field as the class or, failing that, the nearest base declaring it
    gives it; "" when none does."""
    for cls in config_class.__mro__:
        declared = vars(cls).get("__dataclass_fields__", {}).get(name)
        if declared is not None and declared.metadata.get("help"):
            return str(declared.metadata["help"])
    return ""


def _default(field: dataclasses.Field):
    if field.default is not dataclasses.MISSING:
        return field.default
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    return None
