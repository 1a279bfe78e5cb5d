"""Progress of a running cell, from its process to the run's terminal. The cell process says
its phase and counts (`say`), which go to a small file named by the process that started it;
that process reads the file while it waits for the cell (`Watch`) and hands a line to the
listener its executor set (the local executor: the run's own output), at most every EVERY_S
seconds, so a long cell shows it is moving:

    [2/10] agnews · lora · bf16 ...: training 120/300 steps, 2.1 steps/s, ~1.4 min left

Outside a watched process `say` does nothing.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

ENV = "HARNESS_PROGRESS_FILE"
EVERY_S = 30.0  # between two lines of one cell
WRITE_EVERY_S = 1.0  # between two writes of the file, within a phase
PHASES = {"load": "loading", "fit": "training", "setup": "preparing", "predict": "predicting"}

_state: dict = {}
_written = 0.0
_listener = None


def say(phase: str | None = None, done: int | None = None, total: int | None = None,
        unit: str | None = None) -> None:
    """A new phase (its counts start over), or counts within the current one."""
    global _written
    path = os.environ.get(ENV)
    if not path:
        return
    now = time.time()
    if phase is not None:
        _state.clear()
        _state.update(phase=PHASES.get(phase, phase), since=now)
    if done is not None:
        _state.update(done=done, total=total, unit=unit, at=now)
        _state.setdefault("first", (done, now))
    if phase is None and now - _written < WRITE_EVERY_S and done != total:
        return
    _written = now
    staging = f"{path}.tmp"
    try:
        Path(staging).write_text(json.dumps(_state))
        os.replace(staging, path)
    except OSError:
        pass  # progress is a courtesy: a cell never fails for it


def listen(listener) -> None:
    """`listener(label, line)` gets the progress lines of the cells this process waits for."""
    global _listener
    _listener = listener


def line(state: dict, now: float) -> str:
    """`training 120/300 steps, 2.1 steps/s, ~1.4 min left`, or the phase and its time."""
    text = state.get("phase", "running")
    done, total, unit = state.get("done"), state.get("total"), state.get("unit") or ""
    if done is None or (done == 0 and total):
        # Nothing counted yet: "0/5 trials" would read as stuck; say what is under way
        of = f" ({total} {unit})" if total else ""
        return f"{text}{of}, {_duration(now - state.get('since', now))} so far"
    text += f" {done}/{total} {unit}" if total else f" {done} {unit}"
    first_done, first_at = state.get("first", (done, now))
    at = state.get("at", now)
    if done > first_done and at > first_at:
        rate = (done - first_done) / (at - first_at)
        text += f", {rate:.2g} {unit}/s"
        if total and total > done:
            text += f", ~{_duration((total - done) / rate)} left"
    return text


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.1f} min"


class Watch:
    """The progress file of one cell process, read while waiting for it."""

    def __init__(self, path: str, label: str | None):
        self.path, self.label = Path(path), label
        self.shown, self.last = None, time.monotonic()

    def __call__(self) -> None:
        if _listener is None or self.label is None or time.monotonic() - self.last < EVERY_S:
            return
        try:
            state = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return
        text = line(state, time.time())
        if text != self.shown:
            self.shown, self.last = text, time.monotonic()
            _listener(self.label, text)

    def remove(self) -> None:
        for path in (self.path, Path(f"{self.path}.tmp")):
            path.unlink(missing_ok=True)
