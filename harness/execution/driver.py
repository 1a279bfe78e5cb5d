"""The driver of a grid: which cells still need computing, claiming each before it is sent so
that runs sharing a results folder share the grid (harness.results.claims), handing them to the
executor (harness.execution.executors), and writing what comes back. This process is the only
writer, whatever executes the cells; a finished cell is written once, atomically, the moment it
comes back. A cell tuned with `--tune-parallel P` goes out as its tuning trials, P at a time
(harness.cell.tuning.Search, held here), then once more to fit the chosen settings and be
evaluated; its claim is held throughout.

    summary = run_grid(cells, Store("results"), force=False, echo=print,
                       execution=Execution(executor="ray", ray_address="auto"))
"""

from __future__ import annotations

import json
import time
from collections import deque
from dataclasses import replace

from harness.results.claims import Claim, read_holder, remove_scratch
from harness.errors import HarnessError
from harness.cell.job import CellJob
from harness.execution import executors
from harness.execution.settings import Execution
from harness.execution.progress import Progress, Summary, result_lines
from harness.api.resources import model_bytes, request_for
from harness.results.store import InvalidRecord, Store

CLAIM_POLL_S = 1.0


class Interrupted(HarnessError):
    """Ctrl-C: the outstanding cells were cancelled, the finished ones kept."""

    exit_code = 130


def run_cells(cells: list[Cell], store: Store, force: bool = False, isolate: bool = True,
              echo=print, execution: Execution | None = None, provenance: dict | None = None):
    """Every cell not finished yet, on the executor asked (default: one at a time here), each
    claimed first so that runs sharing the folder share the grid (harness.execution.driver).
    `provenance` (the run's id, the command and grid that asked for it) goes into every
    record this run writes."""
    execution = execution or Execution(isolate=isolate)
    return run_grid(cells, store, force, echo, execution, provenance)


def run_grid(cells: list, store: Store, force: bool, echo, execution: Execution,
             provenance: dict | None = None) -> Summary:
    remove_scratch()  # leftovers of killed runs
    with executors.create(execution, store, echo) as executor:
        cells = executor.plan(cells)
        summary, todo = Summary(), []
        for number, cell in enumerate(cells, 1):
            prefix = f"[{number}/{len(cells)}] {cell.label}"
            if not force and _finished(store, cell):
                summary.skipped += 1
                echo(f"{prefix}: already finished, not recomputed (use --force to recompute)")
            else:
                todo.append((prefix, cell, request_for(cell, execution.resources)))
        for _, cell, request in todo:  # a request nothing can meet fails before anything runs
            executor.check(request, cell.label)
        if executor.concurrent:  # the longest first, so that the last to finish is short
            history = _history(store)
            todo.sort(key=lambda item: -estimated_cost(item[1], history))
        _Driver(store, executor, execution, summary, echo, len(todo),
                provenance or {}).run(todo, force)
    return summary


def _finished(store: Store, cell) -> bool:
    return all(store.is_finished(key) for key in cell.keys)


class _Driver:
    """Claims, sends, collects and writes; see the module docstring."""

    def __init__(self, store, executor, execution, summary, echo, total, provenance):
        self.store, self.executor, self.execution = store, executor, execution
        self.provenance = provenance
        self.summary, self.echo = summary, echo
        self.progress = Progress(total, parallel=executor.concurrent)
        self.claims: dict[str, tuple[Claim, str]] = {}  # primary key -> (claim, prefix)
        self.said_held: set[str] = set()  # each said once, however long it is held
        self.said_waiting: set[str] = set()
        self.searches: dict[str, object] = {}  # primary key -> its tuning search, in flight
        self.pending: deque = deque()

    def run(self, todo: list, force: bool) -> None:
        pending, held = self.pending, []
        pending.extend((prefix, cell, request, {}) for prefix, cell, request in todo)
        try:
            while pending or held or self.claims:
                self._send(pending, held, force)
                collected = self.executor.collect(CLAIM_POLL_S if self.claims else 0)
                for job, computed, extra in collected:
                    self.progress.sent -= 1
                    self._finish(job, computed, extra)
                if not pending and held and not collected:
                    if not self.claims:
                        time.sleep(CLAIM_POLL_S)
                    self._say_waiting(held)
                    pending.extend(held)
                    held = []
        except KeyboardInterrupt:
            self._interrupted()

    def _send(self, pending: deque, held: list, force: bool) -> None:
        """Every pending cell the executor has room for, claimed; a cell held by another live
        run is put aside for later."""
        skipped = deque()
        while pending:
            item = pending.popleft()
            prefix, cell, request, part = item
            if not self.executor.fits(request):  # another, smaller cell may fit
                skipped.append(item)
                continue
            if cell.keys[0] in self.claims:  # a trial or the evaluation of a cell being tuned
                self._submit(cell, request, prefix, part)
                continue
            claim = Claim(self.store.claim_path(cell.keys[0]))
            holder = claim.acquire()
            if holder is not None:
                if prefix not in self.said_held:
                    self.echo(f"{prefix}: {_held_by(holder)}, coming back to it at the end")
                    self.said_held.add(prefix)
                held.append(item)
                continue
            if not force and _finished(self.store, cell):
                claim.release()
                self.summary.by_others += 1  # finished between our look and our claim
                self.echo(f"{prefix}: finished by another process meanwhile")
                continue
            self.claims[cell.keys[0]] = (claim, prefix)
            if cell.tune_parallel > 1:
                self._start_search(cell, request, prefix)
            else:
                self._submit(cell, request, prefix, {})
        pending.extendleft(reversed(skipped))

    def _submit(self, cell, request, prefix: str, part: dict) -> None:
        """`part`: {} for a whole cell, or a tuned cell's {"trial": (number, settings)} or
        {"tuned": the finished search}."""
        job = CellJob(cell=cell, executor=self.executor.name, isolate=self.execution.isolate,
                      timeout_s=self.execution.cell_timeout_s,
                      artifacts=self.execution.artifacts, **part)
        where = self.executor.submit(job, request)
        self.progress.sent += 1
        if job.trial is not None:
            number, settings = job.trial
            self.echo(f"{self._counts()}{prefix}: trial {number + 1}/{cell.tune} {where}: "
                      f"{_settings_text(settings)}")
            return
        chosen = (f" with the chosen settings ({_settings_text(job.tuned['chosen'])})"
                  if job.tuned else "")
        self.echo(f"{self._counts()}{prefix}: {where}{chosen} on {len(cell.train)} training / "
                  f"{len(cell.eval)} evaluation rows")

    def _start_search(self, cell, request, prefix: str) -> None:
        from harness.cell.tuning import Search

        search = self.searches[cell.keys[0]] = Search(cell)
        self._queue_round(search, cell, request, prefix)

    def _queue_round(self, search, cell, request, prefix: str) -> None:
        """The search's next round to the front of the queue, or its evaluation once every trial
        is told (a RuntimeError when every one failed)."""
        if not search.finished:
            parts = [{"trial": trial} for trial in search.round()]
        else:
            parts = [{"tuned": search.summary()}]
            del self.searches[cell.keys[0]]
        self.pending.extendleft(reversed([(prefix, cell, request, part) for part in parts]))

    def _say_waiting(self, held: list) -> None:
        for prefix, cell, _, _ in held:
            holder = read_holder(self.store.claim_path(cell.keys[0]))
            if holder is not None and prefix not in self.said_waiting:
                self.echo(f"{prefix}: {_held_by(holder)}, waiting")
                self.said_waiting.add(prefix)

    def _finish(self, job: CellJob, computed, extra: dict) -> None:
        if job.trial is not None:
            computed = self._told(job, computed, extra)
            if computed is None:
                return
        claim, prefix = self.claims.pop(job.cell.keys[0])
        try:
            self._save(job, computed, extra, prefix)
        finally:
            claim.release()

    def _save(self, job: CellJob, computed, extra: dict, prefix: str) -> None:
        for note in extra.pop("notes", []):
            self.echo(f"{prefix}: {note}")
        results = []
        try:
            for record, predictions in computed.results:
                results.append(self._stored({**record, **extra, **self.provenance},
                                            predictions))
            if computed.log and not computed.ok:
                self.store.save_log(job.cell.keys[0], computed.log)
        except Exception as err:  # noqa: BLE001 - disk full, permissions: this cell fails
            self.summary.failed += 1
            self.echo(f"{self._counts()}{prefix}: FAILED: cannot save its record: "
                      f"{type(err).__name__}: {err}"[:600])
            return
        # skipped: a variant this device cannot run (its record says why), not a failure
        failed = [record for record, _ in results if record["status"] == "failed"]
        if failed:
            self.summary.failed += 1
            self.echo(f"{self._counts()}{prefix}: FAILED: {failed[0]['error']}")
            return
        self.summary.ran += 1
        for line in result_lines([record for record, _ in results], bool(job.cell.mixture)):
            self.echo(f"{self._counts()}{prefix}: {line}")

    def _told(self, job: CellJob, computed, extra: dict):
        """A trial's outcome told to its search, and the next round or the evaluation queued;
        the cell's failed records (Computed) when every trial failed, else None."""
        from harness.cell.runner import failed

        cell, (number, settings) = job.cell, job.trial
        prefix = self.claims[cell.keys[0]][1]
        for note in extra.get("notes", []):
            self.echo(f"{prefix}: trial {number + 1}: {note}")
        search, outcome = self.searches[cell.keys[0]], computed.trial
        error = outcome.get("error") if outcome["status"] == "ok" else \
            f"the trial's process failed: {outcome.get('error')}"
        value = outcome.get("value") if outcome["status"] == "ok" else None
        search.tell(number, value, outcome.get("seconds", 0.0), error)
        said = f"{search.metric} {value:.4g}" if value is not None else f"failed: {error}"
        self.echo(f"{self._counts()}{prefix}: trial {number + 1}/{cell.tune}: {said}")
        try:
            self._queue_round(search, cell, request_for(cell, self.execution.resources), prefix)
        except RuntimeError as err:  # every trial failed
            self.searches.pop(cell.keys[0], None)
            return failed(replace(job, trial=None), str(err))
        return None

    def _stored(self, record: dict, predictions) -> tuple:
        """The record saved as computed or, where the store would not read it back (a label
        outside the task's, a score that is not a number), saved as a failed record saying
        why: a report is made of every record it finds."""
        try:
            self.store.save(record, predictions)
        except InvalidRecord as err:
            if record.get("status") != "ok":
                raise
            record, predictions = {**record, "status": "failed",
                                   "error": f"invalid result: {err.problem}"}, None
            self.store.save(record, predictions)
        return record, predictions

    def _counts(self) -> str:
        if not self.progress.parallel:
            return ""  # the numbered cell lines say as much
        return self.progress.counts(self.summary, self.executor.running())

    def _interrupted(self) -> None:
        """Cancel what is outstanding, keep what finished, release every claim."""
        self.executor.cancel()
        for claim, _ in self.claims.values():
            claim.release()
        self.summary.cancelled = len(self.claims)
        self.claims.clear()
        raise Interrupted(f"interrupted: {self.summary.ran + self.summary.failed} cells finished "
                          f"and kept, {self.summary.cancelled} cancelled; run the same command "
                          f"again to resume") from None


def _settings_text(settings: dict) -> str:
    return ", ".join(f"{name} {value:.3g}" if isinstance(value, float) else f"{name} {value}"
                     for name, value in settings.items())


def _held_by(holder: dict) -> str:
    return f"claimed by pid {holder.get('pid', '?')} on host {holder.get('host', '?')}"


def estimated_cost(cell, history: list[dict]) -> float:
    """A cell's seconds, for ordering only: the wall time of finished cells of the same strategy,
    model and backend, scaled by rows; without any, rows times the model's size."""
    rows = len(cell.train) + len(cell.eval) * max(1, int(cell.strategy_class.trials))
    similar = [record for record in history
               if (record.get("strategy"), record.get("model"), record.get("backend"))
               == (cell.strategy, cell.model_name, cell.backend) and record.get("wall_s")]
    if similar:
        per_row = [r["wall_s"] / max(1, r.get("n_train", 0) + r.get("n_eval", 0))
                   for r in similar]
        return sorted(per_row)[len(per_row) // 2] * rows
    return rows * (1.0 + model_bytes(cell.model) / 1e7)


def _history(store: Store) -> list[dict]:
    """The finished records' JSON alone (their predictions are not needed to order cells)."""
    found = []
    for path in store.root.glob("*.json"):
        try:
            record = json.loads(path.read_bytes())
        except (OSError, ValueError):
            continue
        if isinstance(record, dict) and record.get("status") == "ok":
            found.append(record)
    return found

