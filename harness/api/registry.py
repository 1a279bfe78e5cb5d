"""The one registry of strategies: entry points of the `harness.strategies` group, loaded lazily,
plus `register` for strategies defined in a notebook or a test.

Built-in strategies are entry points of this distribution, exactly like third-party ones. Set
HARNESS_DISABLE_PLUGIN_AUTOLOAD=1 to load only this distribution's own strategies.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from importlib import metadata

from harness.errors import HarnessError, did_you_mean

GROUP = "harness.strategies"
OWN_DISTRIBUTION = "adapt-harness"
_registered: dict[str, "Entry"] = {}


@dataclass
class Entry:
    name: str
    target: str  # "module:attr", imported only when the strategy is used
    package: str  # the distribution it came from
    loaded: type | None = None

    def load(self) -> type:
        if self.loaded is None:
            try:
                module_name, _, attr = self.target.partition(":")
                module = __import__(module_name, fromlist=[attr])
                self.loaded = getattr(module, attr)
            except Exception as err:
                raise HarnessError(f"strategy '{self.name}' from {self.package} failed to load "
                                   f"({type(err).__name__}: {err})") from None
            _check_interface(self.name, self.loaded)
        return self.loaded


def register(cls: type) -> type:
    """Class decorator: register a strategy under `cls.name` (overrides an entry point)."""
    _check_interface(cls.__name__, cls)
    _registered[cls.name] = Entry(cls.name, f"{cls.__module__}:{cls.__qualname__}",
                                  cls.__module__.split(".")[0], cls)
    return cls


def unregister(name: str) -> None:
    _registered.pop(name, None)


def entries() -> dict[str, Entry]:
    found = {}
    only_own = os.environ.get("HARNESS_DISABLE_PLUGIN_AUTOLOAD") == "1"
    for ep in metadata.entry_points(group=GROUP):
        package = ep.dist.name if ep.dist else "?"
        if only_own and package != OWN_DISTRIBUTION:
            continue
        if ep.name in found and found[ep.name].target != ep.value:
            raise HarnessError(f"strategy name '{ep.name}' is registered twice "
                               f"({found[ep.name].package} and {package})")
        found[ep.name] = Entry(ep.name, ep.value, package)
    found.update(_registered)
    return dict(sorted(found.items()))


def get(name: str) -> type:
    known = entries()
    if name not in known:
        raise HarnessError(f"unknown strategy '{name}'{did_you_mean(name, known)}")
    return known[name].load()


def select(spec: str) -> list[str]:
    """'all' or a comma-separated list of names, checked, in the order given."""
    known = entries()
    if spec.strip() == "all":
        return list(known)
    names = [n.strip() for n in spec.split(",") if n.strip()]
    if not names:
        raise HarnessError("no strategy given: use --strategies all or a comma-separated list")
    for name in names:
        if name not in known:
            raise HarnessError(f"unknown strategy '{name}'{did_you_mean(name, known)}")
    return list(dict.fromkeys(names))


def _check_interface(label: str, cls) -> None:
    from harness.api.strategy import adopt_later_declarations, declaration_problems

    adopt_later_declarations(cls)
    problems = declaration_problems(cls)
    if problems:
        raise HarnessError(f"strategy '{label}' {'; '.join(problems)} "
                           f"(see harness.api.strategy.Strategy)")
