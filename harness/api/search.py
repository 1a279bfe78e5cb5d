"""What a strategy may be tuned over: its `search_space` maps config fields to one of these
ranges, and `harness run --tune N` gives every strategy that declares one the same N trials
(harness.cell.tuning draws them with Optuna's TPE sampler). A range is data; the tuner turns it
into the sampler's calls.

    search_space = {"learning_rate": LogUniform(1e-5, 3e-4), "epochs": IntRange(1, 10),
                    "batch_size": Choice(8, 16, 32)}

The config's defaults are the first trial, so each must lie in its field's range (the contract
tests check it): a tuned strategy is never worse on its validation rows than its defaults.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LogUniform:
    """A positive float, drawn uniformly on a log scale (learning rates, regularisation)."""

    low: float
    high: float

    def __post_init__(self):
        if not 0 < self.low < self.high:
            raise ValueError(f"LogUniform needs 0 < low < high, got {self.low}, {self.high}")

    def contains(self, value) -> bool:
        return _number(value) and self.low <= value <= self.high

    def __str__(self) -> str:
        return f"log-uniform [{self.low:g}, {self.high:g}]"


@dataclass(frozen=True)
class Uniform:
    """A float, drawn uniformly (dropout, warm-up share)."""

    low: float
    high: float

    def __post_init__(self):
        if not self.low < self.high:
            raise ValueError(f"Uniform needs low < high, got {self.low}, {self.high}")

    def contains(self, value) -> bool:
        return _number(value) and self.low <= value <= self.high

    def __str__(self) -> str:
        return f"uniform [{self.low:g}, {self.high:g}]"


@dataclass(frozen=True)
class IntRange:
    """An integer in [low, high], on a log scale if `log` (ranks, neighbours, epochs)."""

    low: int
    high: int
    log: bool = False

    def __post_init__(self):
        if not (isinstance(self.low, int) and isinstance(self.high, int)
                and self.low < self.high and (self.low > 0 or not self.log)):
            raise ValueError(f"IntRange needs integers low < high (low > 0 on a log scale), "
                             f"got {self.low}, {self.high}")

    def contains(self, value) -> bool:
        return _number(value) and float(value).is_integer() and self.low <= value <= self.high

    def __str__(self) -> str:
        return f"integer{' (log)' if self.log else ''} [{self.low}, {self.high}]"


@dataclass(frozen=True, init=False)
class Choice:
    """One of a few values (batch sizes, booleans, names)."""

    values: tuple

    def __init__(self, *values):
        if len(values) < 2 or len(set(map(repr, values))) != len(values):
            raise ValueError(f"Choice needs two or more distinct values, got {values}")
        object.__setattr__(self, "values", tuple(values))

    def contains(self, value) -> bool:
        return any(type(value) is type(v) and value == v for v in self.values)

    def __str__(self) -> str:
        return "one of " + ", ".join(map(str, self.values))


RANGES = (LogUniform, Uniform, IntRange, Choice)


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
