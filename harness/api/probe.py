"""What a strategy asks the runner to measure inside its own phases: a sub-phase's seconds (a
teacher labelling the training rows, an index being built) and the memory at named points of a
training step. The runner hands a measuring probe in `context.probe`; outside the runner (tests,
a plugin's own script) the probe measures nothing. A strategy never times itself: what it
reports about itself is trusted, what the probe measures is not its to say.

    with context.probe.span("teacher_label"):   # teacher_label_s in the record, and its
        labels = teacher.predict(rows)           # peak RSS as rss_peak_teacher_label_bytes
    context.probe.mark("after_backward")         # rss_mark_after_backward_bytes: the highest
                                                 # RSS seen at that point
    context.probe.progress(step, steps, "steps") # the run's progress line while it trains
"""

from __future__ import annotations

import re
from contextlib import contextmanager

NAME = re.compile(r"[a-z][a-z0-9_]{0,40}")


def check_name(name: str) -> str:
    """Probe names become record fields: lower-case words joined by '_'."""
    if not NAME.fullmatch(name):
        raise ValueError(f"probe name {name!r}: lower-case letters, digits and '_', "
                         f"starting with a letter")
    return name


class Probe:
    """The probe of a strategy run outside the runner: it checks names and measures nothing."""

    @contextmanager
    def span(self, name: str):
        check_name(name)
        yield

    def mark(self, name: str) -> None:
        check_name(name)

    def progress(self, done: int, total: int | None, unit: str) -> None:
        """How far the phase has come (training steps, rows labelled), for the run's progress
        line; nothing is recorded."""


NO_PROBE = Probe()
