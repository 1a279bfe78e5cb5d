"""A cell in its own fresh process: memory released after it, a crash contained, its output in a
log instead of on the terminal, and stopped when the runner dies.

    outcome = run_isolated(run_cell, cell)   # run_cell(cell) -> {"status": ..., ...}
    outcome = run_isolated(run_cell, cell, timeout_s=3600, placement=Placement("0", (2, 3)))
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import signal
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from harness.cell import progress
from harness.environment import verbose
from harness.results.claims import SCRATCH_PREFIX, remove_scratch

LOG_TAIL_CHARS = 4000
LOG_KEPT_BYTES = 1 << 20  # of a failed cell's output, kept beside its record


@dataclass(frozen=True)
class Placement:
    """Where a cell's process may run: the GPUs it sees (None: as the parent sees them; "":
    none) and the CPU cores it is pinned to (empty: all)."""

    cuda_visible_devices: str | None = None
    cores: tuple[int, ...] = ()
    threads: int | None = None  # math-library threads; default: one per pinned core

    def apply(self) -> None:
        if self.cuda_visible_devices is not None:
            os.environ["CUDA_VISIBLE_DEVICES"] = self.cuda_visible_devices
        if self.cores:
            os.sched_setaffinity(0, self.cores)
        threads = self.threads or len(self.cores)
        if threads:
            for name in THREAD_VARIABLES:  # read when the math libraries start their pools
                os.environ[name] = str(threads)
            torch = sys.modules.get("torch")  # imported already when the cell was unpickled
            if torch is not None:
                torch.set_num_threads(threads)


THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def run_isolated(function, argument, timeout_s: float | None = None,
                 placement: Placement = Placement(), label: str | None = None) -> dict:
    """`function(argument)` in a fresh interpreter placed as asked; a failed outcome keeps the
    tail of what the process printed in its `traceback`. Past `timeout_s` the process is killed
    and the outcome says so (`timed_out`). While it runs, its progress goes to the listener
    (harness.cell.progress) under `label`."""
    # The log is named with our pid: removed below or, after a kill -9, by the next run.
    log_fd, log_path = tempfile.mkstemp(prefix=f"{SCRATCH_PREFIX}{os.getpid()}-", suffix=".log")
    os.close(log_fd)
    watch = progress.Watch(f"{log_path}.progress", label)
    try:
        outcome = _run_child(function, argument, log_path, timeout_s, placement, watch)
        if outcome["status"] != "ok":
            outcome["traceback"] = _with_log_tail(outcome.get("traceback"), Path(log_path))
            outcome["log"] = _log_end(Path(log_path))
        return outcome
    finally:
        Path(log_path).unlink(missing_ok=True)
        watch.remove()


def _run_child(function, argument, log_path: str, timeout_s: float | None,
               placement: Placement, watch) -> dict:
    if _STOPPED.is_set():
        return {"status": "failed", "error": "cancelled: the run was interrupted"}
    context = mp.get_context("spawn")  # a fresh interpreter: no inherited threads or memory
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(target=_child, daemon=True, args=(
        function, argument, sender, os.getpid(), log_path, placement))
    # A spawn start can take seconds on a loaded machine (it waits for the child to read its
    # cell); a stop_all in that time must still reach this process.
    process.start()
    with _LOCK:
        _LIVE.add(process)
        stopped = _STOPPED.is_set()
    if stopped:
        process.kill()
    sender.close()
    outcome = None
    try:
        if _wait(receiver, timeout_s, watch):
            outcome = receiver.recv()
        else:
            process.kill()
            process.join()
            return {"status": "failed", "timed_out": True,
                    "error": f"cell timed out after {timeout_s:g} s (--cell-timeout): stopped"}
    except EOFError:  # the child died without a word: crash, OOM kill, signal
        pass
    except BaseException:  # Ctrl-C or a cancelled task: the cell goes with us
        process.kill()
        raise
    finally:
        with _LOCK:
            _LIVE.discard(process)
    process.join()
    if outcome is None:
        code = process.exitcode
        how = (f"killed by signal {signal.Signals(-code).name}" if code and code < 0
               else f"exit code {code}")
        outcome = {"status": "failed", "error": f"cell process ended without a result ({how})"}
    return outcome


def _wait(receiver, timeout_s: float | None, watch) -> bool:
    """Whether the child's outcome came within `timeout_s` (None: however long it takes),
    its progress relayed meanwhile."""
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    while True:
        left = None if deadline is None else max(0.0, deadline - time.monotonic())
        if receiver.poll(WATCH_EVERY_S if left is None else min(WATCH_EVERY_S, left)):
            return True
        if left is not None and left <= WATCH_EVERY_S:
            return receiver.poll(0)
        watch()


WATCH_EVERY_S = 2.0
_LIVE: set = set()  # cell processes running now, in any thread
_LOCK = threading.Lock()
_STOPPED = threading.Event()  # set by stop_all until allow_cells: no cell process may run


def stop_all() -> None:
    """Kill every cell process this process runs, and any that a thread starts after this,
    until `allow_cells()` (an interrupted run: its threads end once their cells are gone)."""
    with _LOCK:
        _STOPPED.set()
        live = list(_LIVE)
    for process in live:
        process.kill()


def allow_cells() -> None:
    """After an interrupted run's threads have ended: the next run may start cells again."""
    _STOPPED.clear()


def _log_end(log: Path) -> str | None:
    try:
        with log.open("rb") as handle:
            handle.seek(max(0, log.stat().st_size - LOG_KEPT_BYTES))
            return handle.read().decode(errors="replace") or None
    except OSError:
        return None


def _with_log_tail(trace: str | None, log: Path) -> str | None:
    try:
        tail = log.read_bytes()[-LOG_TAIL_CHARS:].decode(errors="replace").strip()
    except OSError:
        return trace
    if not tail:
        return trace
    return f"{trace or ''}\n--- last output of the cell process ---\n{tail}".lstrip("\n")


def _child(function, argument, sender, parent_pid: int, log_path: str,
           placement: Placement) -> None:
    _exit_with_parent(parent_pid)
    _may_isolate_in_turn()
    os.environ[progress.ENV] = f"{log_path}.progress"
    # The math library's threads own the cell's cores: the tokenizers' own thread pool beside
    # them made a knn cell oversubscribe itself (2.6 runnable threads on 2 cores while it
    # embedded rows: marked busy in a quiet make run)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    if not verbose():  # --verbose: the cell's own output (libraries' bars, warnings) shown
        _output_to(log_path)
    placement.apply()
    try:
        sender.send(function(argument))
    finally:
        sender.close()


def _may_isolate_in_turn() -> None:
    """An isolated process is daemonic (its parent does not wait for it at exit), and
    multiprocessing refuses children to a daemonic process; yet a cell runs parts of itself
    isolated in turn (its inference variants, harness.cell.variants). The flag is only this
    process's view of itself: clearing it changes nothing for the parent, and a child still ends
    with this process (_exit_with_parent)."""
    mp.current_process()._config["daemon"] = False  # noqa: SLF001


def _output_to(log_path: str) -> None:
    """Send this process's stdout and stderr (the file descriptors, so C libraries' output too)
    to the log: the terminal keeps the runner's progress lines only."""
    sys.stdout.flush()
    sys.stderr.flush()
    log = os.open(log_path, os.O_WRONLY | os.O_APPEND)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)


def _exit_with_parent(parent_pid: int) -> None:
    """A cell whose runner was killed stops too, instead of computing a result nobody stores;
    its scratch folder goes with it (os._exit skips the cell's own clean-up)."""
    def watch():
        while os.getppid() == parent_pid:
            time.sleep(1)
        remove_scratch(os.getpid())
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()


class _DropMessage(logging.Filter):
    def __init__(self, start: str):
        super().__init__()
        self.start = start

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(self.start)


# bitsandbytes logs this warning at import, so in every cell process, on CPUs with AVX512-BF16
# when the optional `kernels` package is absent; the fallback it then uses works. Installed when
# this module is imported, which a cell process does before it unpickles its cell (and so
# before the strategy's modules load).
logging.getLogger("bitsandbytes.backends.cpu.ops").addFilter(
    _DropMessage("Failed to load CPU gemm_4bit_forward"))
