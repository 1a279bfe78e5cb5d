"""What a run says while it goes: the grid's counts (done, running, failed, time left) and one
line per cell as it finishes, in whatever order cells finish: the metrics whose catalog row has
a `progress` part (harness.metrics.catalog), in the catalog's order.

    progress = Progress(total=12, parallel=True)
    for line in result_lines(records, mixture=False):
        echo(f"{progress.counts(summary, running=2)}{label}: {line}")
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from harness.inputs.kinds import record_kind
from harness.metrics import catalog


@dataclass
class Summary:
    ran: int = 0
    skipped: int = 0  # finished before this run
    failed: int = 0
    by_others: int = 0  # computed meanwhile by another process sharing the folder
    cancelled: int = 0  # outstanding when the run was interrupted

    def line(self, cells: int, out) -> str:
        others = f", {self.by_others} ran in other processes" if self.by_others else ""
        cancelled = f", {self.cancelled} cancelled" if self.cancelled else ""
        return (f"{cells} cells: {self.ran} ran, {self.skipped} already finished (not "
                f"recomputed){others}, {self.failed} failed{cancelled}. Records in {out}/")


@dataclass
class Progress:
    """The grid's counts while cells run at once; `eta` from the seconds per finished cell."""

    total: int  # cells this run has to compute (not those finished before it)
    parallel: bool = False
    sent: int = 0  # to the executor, not back yet: running or waiting for resources
    started: float = field(default_factory=time.monotonic)

    def counts(self, summary: Summary, running: int) -> str:
        """`[5/12 done, 2 running, 3 queued, 1 failed, ~3 min left]`."""
        done = summary.ran + summary.failed  # came back from the executor
        queued = f", {self.sent - running} queued" if self.sent > running else ""
        failed = f", {summary.failed} failed" if summary.failed else ""
        left = self.total - done
        eta = ""
        if done and left:
            seconds = (time.monotonic() - self.started) / done * left
            eta = f", ~{_duration(seconds)} left"
        return f"[{done}/{self.total} done, {running} running{queued}{failed}{eta}] "


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def result_lines(records: list[dict], mixture: bool) -> list[str]:
    """What one finished cell scored, a line per evaluated task (its kind's `progress`)."""
    return [record_kind(record).part("progress")(record, mixture) for record in records]


def generation_line(record: dict, mixture: bool) -> str:
    return metric_line(record, catalog.GENERATION)


def classification_line(record: dict, mixture: bool) -> str:
    variant = record.get("inference", "default")
    if variant != "default":
        return _variant_line(record, variant)
    task = f" on {record['task']}" if mixture else ""
    trials = f" over {record['trials']} trials" if record["trials"] > 1 else ""
    return metric_line(record, catalog.CLASSIFICATION, on=task, over=trials)


def metric_line(record: dict, kind: str, **words: str) -> str:
    """'accuracy 0.770 [0.678, 0.842], macro-F1 0.768, ...': each metric with a progress part
    that every ok record of `kind` carries, filled from the record (`words`: the extra names a
    part may use)."""
    parts = []
    for metric in catalog.of_kind(kind):
        if metric.progress and kind in metric.required:
            low, high = [record.get(end) for end in metric.fields[1:]] or [None, None]
            parts.append(metric.progress.format(value=record.get(metric.name), low=low,
                                                high=high, **words))
    return ", ".join(parts)


def _variant_line(record: dict, variant: str) -> str:
    if record["status"] != "ok":
        return f"{variant}: {record['status']} ({record.get('error')})"
    return (f"{variant}: accuracy {record['accuracy']:.3f} (change "
            f"{record['accuracy_delta']:+.3f} [{record['accuracy_delta_ci_low']:+.3f}, "
            f"{record['accuracy_delta_ci_high']:+.3f}]), agreement "
            f"{record['prediction_agreement']:.3f}, latency p50 {record['latency_p50_ms']:.1f} ms, "
            f"{record['throughput_eps']:.1f} examples/s, loaded in {record['conversion_s']:.1f} s")
