"""A strategy's settings as a user reads them: name, default, what it accepts and what it means,
the meaning taken from the comments beside each field of the config dataclass (and of the
dataclasses it inherits from, so shared defaults are documented once).

    for setting in documented_settings(LoraConfig):
        print(setting.name, setting.default, setting.accepts, setting.meaning)
"""

from __future__ import annotations

import dataclasses
import inspect
import io
import re
import tokenize
from typing import Any, NamedTuple

from harness.api.settings import type_hints, describe


class Setting(NamedTuple):
    name: str
    default: Any
    accepts: str  # harness.api.settings.describe of its annotation
    meaning: str  # its comments, joined; "" when it has none


def documented_settings(config_class: type) -> list[Setting]:
    meanings: dict[str, str] = {}
    for cls in reversed(config_class.__mro__):  # a subclass's comment replaces its base's
        if dataclasses.is_dataclass(cls):
            meanings.update(field_comments(cls))
    hints = type_hints(config_class)
    return [Setting(f.name, _default(f), describe(hints.get(f.name, Any)),
                    meanings.get(f.name, ""))
            for f in dataclasses.fields(config_class) if f.init]


def _default(field: dataclasses.Field):
    if field.default is not dataclasses.MISSING:
        return field.default
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    return None


_FIELD = re.compile(r"([A-Za-z_]\w*)\s*:")


def field_comments(cls: type) -> dict[str, str]:
    """The comment lines just above each field of the class body and the comment ending its
    line; {} when the source cannot be read (a class made at run time)."""
    try:
        lines, _ = inspect.getsourcelines(cls)
        tokens = list(tokenize.generate_tokens(io.StringIO("".join(lines)).readline))
    except (OSError, TypeError, tokenize.TokenError, IndentationError):
        return {}
    comments = {t.start[0]: t.string.lstrip("#").strip() for t in tokens
                if t.type == tokenize.COMMENT}
    header = next(i for i, line in enumerate(lines, 1) if line.lstrip().startswith("class "))
    body_indent, found, above = None, {}, []
    for number, line in enumerate(lines, 1):
        text = line.strip()
        indent = len(line) - len(line.lstrip())
        if number <= header or not text:  # decorators and the class line
            above = []
            continue
        if text.startswith("#"):
            above.append(comments.get(number, ""))
            continue
        body_indent = indent if body_indent is None else body_indent
        match = _FIELD.match(text) if indent == body_indent else None
        if match:
            trailing = [comments[number]] if number in comments else []
            found[match.group(1)] = " ".join(above + trailing)
        above = []
    return found
