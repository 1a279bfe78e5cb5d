"""Time and memory measurements, used only by the runner (inside a cell's child process) so that
every strategy is measured the same way.

    memory = PhaseMemory("cpu")          # baseline: what the process holds before loading
    with memory.phase("load"), stopwatch(timings, "load_s", "cpu"):
        ...
    memory.record()  # rss_baseline_bytes, rss_peak_load_bytes, ..., rss_above_baseline_bytes
"""

from __future__ import annotations

import os
import threading
import time
from contextlib import contextmanager

import numpy as np

from harness.api.probe import Probe, check_name
from harness.cell import progress
from harness.environment import seed_everything

PHASES = ("setup", "load", "fit", "predict")
SAMPLE_EVERY_S = 0.005
RUNNABLE_EVERY = 20  # memory samples between two readings of the machine's runnable threads
# A phase is timed on a busy machine when, on average, more threads wanted a core than the
# machine has (the cell's own included): its seconds then hold waiting, and with OpenMP threads
# spinning for cores they do not get, far more than the share of the cores lost (a 200-row
# zero-shot cell: 15 min at 2 threads beside other work, 2 min at 1 thread). Half a thread of
# slack for the short-lived processes of a quiet machine.
BUSY_SLACK = 0.5
BUSY_PHASES = ("fit", "predict")  # the phases whose seconds the report ranks and prices
MIN_RUNNABLE_READINGS = 5


# Allocations from this size up are mapped on their own and unmapped when freed. glibc's default
# threshold grows to 32 MiB as large blocks are freed, after which a training step's activations
# (tens of MiB each) come from the heap and stay in the process once freed: measured on SmolLM2
# LoRA training with gradient checkpointing, 5.1 GB RSS after the forward pass for 1.1 GB live
# (bench/results/training_memory.json). Memory held that way is lost to every other process
# (another cell, the OS), and what the phase peaks measured was the allocator, not the strategy.
MMAP_THRESHOLD_BYTES = 1 << 20
MMAP_THRESHOLD_VARIABLE = "HARNESS_MMAP_THRESHOLD"  # bytes; 0 keeps glibc's dynamic threshold


def return_freed_memory() -> int | None:
    """Make freed large blocks go back to the system at once (glibc's mallopt), for this
    process; the threshold set, or None where it is not glibc or it is turned off."""
    import ctypes

    threshold = int(os.environ.get(MMAP_THRESHOLD_VARIABLE, MMAP_THRESHOLD_BYTES))
    if threshold <= 0:
        return None
    try:
        libc = ctypes.CDLL("libc.so.6")
        m_mmap_threshold = -3  # malloc.h; a fixed value also fixes the trim threshold
        return threshold if libc.mallopt(m_mmap_threshold, threshold) == 1 else None
    except (OSError, AttributeError):
        return None


@contextmanager
def measured_process(seed: int, device: str):
    """What a process that measures a cell (or a variant of it) does first: seeded, freed
    memory returned to the system at once, its memory sampled per phase until it ends.
    Yields (PhaseMemory, the malloc threshold set or None)."""
    seed_everything(seed)
    threshold = return_freed_memory()
    memory = PhaseMemory(device)
    try:
        yield memory, threshold
    finally:
        memory.close()


class PhaseMemory:
    """Peak host RSS per phase, sampled by a thread (Linux's ru_maxrss is a lifetime peak that
    cannot be reset), and on CUDA the peak allocated and reserved device memory per phase.
    Beside RSS, its anonymous part (RSS less the file-backed and shared pages): weights read
    through a memory-mapped file count in RSS while the page cache holds them, but are not
    memory the process allocated.

    The baseline (interpreter, torch and the harness, before the strategy loads anything) is
    kept apart and subtracted: what is left is what the strategy itself used, comparable across
    rows."""

    def __init__(self, device: str):
        import psutil

        self.device = device
        self._process = psutil.Process()
        self.baseline_bytes, self.anon_baseline_bytes = self._read()
        self.peaks: dict[str, int] = {}
        self.anon_peaks: dict[str, int] = {}
        self.cuda: dict[str, tuple[int, int]] = {}  # phase -> (allocated, reserved) peaks
        self.marks: dict[str, int] = {}  # probe mark -> the highest RSS read there
        self.cpu_s: dict[str, float] = {}  # phase -> this process's CPU seconds (all threads)
        self.runnable: dict[str, list[float]] = {}  # phase -> [sum, readings]
        self.load_average_start = _load_average()
        self._phase: str | None = None
        self._peak = self._anon_peak = 0
        self._open_spans: dict[str, int] = {}  # probe span -> its running peak
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _rss(self) -> int:
        return int(self._process.memory_info().rss)

    def _read(self) -> tuple[int, int]:
        """(RSS, its anonymous part) in one reading."""
        info = self._process.memory_info()
        return int(info.rss), int(info.rss - getattr(info, "shared", 0))  # RssFile + RssShmem

    def _sample(self) -> None:
        count = 0
        while not self._stop.wait(SAMPLE_EVERY_S):
            rss, anon = self._read()
            count += 1
            runnable = runnable_threads() if count % RUNNABLE_EVERY == 0 else None
            with self._lock:
                self._peak = max(self._peak, rss)
                self._anon_peak = max(self._anon_peak, anon)
                for name, peak in self._open_spans.items():
                    self._open_spans[name] = max(peak, rss)
                if runnable is not None and self._phase is not None:
                    total = self.runnable.setdefault(self._phase, [0.0, 0])
                    total[0] += runnable
                    total[1] += 1

    @contextmanager
    def phase(self, name: str):
        progress.say(phase=name)
        with self._lock:
            self._peak, self._anon_peak = self._read()
            self._phase = name
        if self.device == "cuda":
            import torch

            torch.cuda.reset_peak_memory_stats()
        cpu = time.process_time()
        try:
            yield
        finally:
            rss, anon = self._read()
            with self._lock:  # a phase met twice (setup before load and before predict)
                self.peaks[name] = max(self._peak, rss, self.peaks.get(name, 0))
                self.anon_peaks[name] = max(self._anon_peak, anon, self.anon_peaks.get(name, 0))
                self.cpu_s[name] = self.cpu_s.get(name, 0.0) + time.process_time() - cpu
                self._phase = None
            if self.device == "cuda":
                import torch

                allocated, reserved = self.cuda.get(name, (0, 0))
                self.cuda[name] = (max(allocated, int(torch.cuda.max_memory_allocated())),
                                   max(reserved, int(torch.cuda.max_memory_reserved())))

    @contextmanager
    def span(self, name: str):
        """The peak RSS within a probe span, kept as the phase `span_<name>` (the highest over
        the times it is entered)."""
        with self._lock:
            self._open_spans[name] = self._rss()
        try:
            yield
        finally:
            rss = self._rss()
            with self._lock:
                peak = max(self._open_spans.pop(name), rss)
                self.peaks[f"span_{name}"] = max(peak, self.peaks.get(f"span_{name}", 0))

    def mark(self, name: str) -> None:
        rss = self._rss()
        with self._lock:
            self.marks[name] = max(rss, self.marks.get(name, 0))

    def close(self) -> None:
        self._stop.set()
        self._thread.join()

    def record(self, phases=PHASES) -> dict:
        """The figures of these phases, above the process's baseline."""
        baseline = self.baseline_bytes
        peaks = {name: v for name, v in self.peaks.items() if name in phases}
        cuda = {name: v for name, v in self.cuda.items() if name in phases}
        peak = max(peaks.values(), default=baseline)  # prepare() included:
        # what an engine reserves there stays held while predicting
        out = {"rss_baseline_bytes": baseline, "rss_peak_bytes": peak,
               "rss_above_baseline_bytes": max(0, peak - baseline)}
        out.update({f"rss_peak_{name}_bytes": value for name, value in peaks.items()})
        out["rss_anon_baseline_bytes"] = self.anon_baseline_bytes
        out.update({f"rss_anon_peak_{name}_bytes": value
                    for name, value in self.anon_peaks.items() if name in phases})
        out.update({f"rss_peak_{name}_bytes": value for name, value in self.peaks.items()
                    if name.startswith("span_")})
        out.update({f"rss_mark_{name}_bytes": value for name, value in self.marks.items()})
        out.update(self._load_fields(phases))
        if cuda:
            out["cuda_peak_allocated_bytes"] = max(a for a, _ in cuda.values())
            out["cuda_peak_reserved_bytes"] = max(r for _, r in cuda.values())
            out.update({f"cuda_peak_reserved_{name}_bytes": r for name, (_, r) in cuda.items()})
            out["cuda_device_used_bytes"] = _device_used_bytes()
        return out

    def _load_fields(self, phases) -> dict:
        """CPU seconds per phase, the machine's runnable threads per phase (mean of readings
        every RUNNABLE_EVERY samples; this process's sampling thread not counted), the load
        average at start and now, and whether a phase that is ranked was timed busy."""
        cores = os.cpu_count() or 1
        out: dict = {f"{name}_cpu_s": seconds for name, seconds in self.cpu_s.items()
                     if name in phases}
        means = {name: total / count for name, (total, count) in self.runnable.items()
                 if name in phases and count}
        out.update({f"{name}_runnable_threads": round(mean, 2) for name, mean in means.items()})
        busy = [name for name in BUSY_PHASES if name in means
                and self.runnable[name][1] >= MIN_RUNNABLE_READINGS
                and means[name] > cores + BUSY_SLACK]
        out.update({"load_average_1m_start": self.load_average_start,
                    "load_average_1m_end": _load_average(), "machine_busy": bool(busy),
                    **({"busy_phases": busy} if busy else {})})
        return out


def runnable_threads() -> int | None:
    """Threads of the whole machine running or waiting for a core now (Linux /proc/stat's
    procs_running), less the one reading it; None elsewhere."""
    try:
        with open("/proc/stat", "rb") as stat:
            for line in stat:
                if line.startswith(b"procs_running "):
                    return max(0, int(line.split()[1]) - 1)
    except (OSError, ValueError):
        return None
    return None


def _load_average() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


def _device_used_bytes() -> int | None:
    """Memory in use on the GPU as the driver sees it (context and every allocator included)."""
    import torch

    try:
        free, total = torch.cuda.mem_get_info()
    except RuntimeError:
        return None
    return int(total - free)


class RunnerProbe(Probe):
    """The probe the runner hands a strategy (context.probe): a span is timed into `timings`
    as `span_<name>_s` and its peak RSS kept by `memory`; a mark reads the RSS."""

    def __init__(self, memory: PhaseMemory, timings: dict, device: str):
        self.memory, self.timings, self.device = memory, timings, device

    @contextmanager
    def span(self, name: str):
        check_name(name)
        with self.memory.span(name), stopwatch(self.timings, f"span_{name}_s", self.device):
            yield

    def mark(self, name: str) -> None:
        self.memory.mark(check_name(name))

    def progress(self, done: int, total: int | None, unit: str) -> None:
        progress.say(done=done, total=total, unit=unit)


@contextmanager
def stopwatch(into: dict, key: str, device: str):
    """Wall seconds of the block added to `into[key]`; waits for queued GPU work at both ends."""
    sync_device(device)
    start = time.perf_counter()
    yield
    sync_device(device)
    into[key] = into.get(key, 0.0) + time.perf_counter() - start


def predict_trials(strategy, texts, task, device: str) -> tuple[list, list, float, list]:
    """Every trial's labels and scores for `texts` (as arrays), the seconds they took, and
    each trial's prompts (None where the strategy used none)."""
    timing: dict = {}
    with stopwatch(timing, "predict_s", device):
        runs = []
        for trial in range(int(strategy.trials)):
            if strategy.trials > 1:
                progress.say(done=trial, total=int(strategy.trials), unit="trials")
            runs.append(strategy.predict(list(texts), task, trial))
    return ([np.asarray(run.labels, dtype=np.int64) for run in runs],
            [np.asarray(run.scores, dtype=np.float64) for run in runs], timing["predict_s"],
            [_prompts(run, len(texts)) for run in runs])


def _prompts(run, rows: int) -> list[str] | None:
    prompts = getattr(run, "prompts", None)
    if prompts is None or len(prompts) != rows:  # a count that does not match is not kept
        return None
    return [str(prompt) for prompt in prompts]


def sync_device(device: str) -> None:
    if device == "cuda":
        import torch

        torch.cuda.synchronize()


LATENCY_SAMPLES = 100  # at most
LATENCY_MIN_SAMPLES = 10
# Sampling stops once the median's 95% interval (distribution-free, from order statistics) lies
# within this share of it, or the samples took LATENCY_BUDGET_S: single-row latency is steady
# on a quiet machine, and 105 fixed forwards were 25% of a 200-row zero-shot cell's wall time.
LATENCY_TOLERANCE = 0.05
LATENCY_BUDGET_S = 20.0
LATENCY_WARMUP = 3
# Warm-up texts when a cell has no row it does not measure: never a measured row, which a
# prefix cache (vLLM) would then serve.
WARMUP_TEXTS = ("The committee will meet again next week to discuss the budget.",
                "A short sentence to warm up the model.", "Results were mixed this quarter.",
                "What is the capital of France?", "I enjoyed the film more than I expected.")


def latency_ms(predict_one, texts, warmup_texts, device: str = "cpu") -> dict:
    """p50/p95 wall milliseconds of predicting single examples (batch size 1), after warm-up
    calls on other texts, and the median's 95% interval: `texts` in order until that interval
    is within LATENCY_TOLERANCE of the median (at least LATENCY_MIN_SAMPLES), the samples have
    taken LATENCY_BUDGET_S (a large model: few samples), or `texts` run out. The p95 of few
    samples is a rough figure: the record keeps their count."""
    for text in warmup_texts:
        predict_one(text)
    samples, started = [], time.perf_counter()
    for text in texts:
        sync_device(device)
        start = time.perf_counter()
        predict_one(text)
        sync_device(device)
        samples.append((time.perf_counter() - start) * 1000)
        if len(samples) >= LATENCY_MIN_SAMPLES and (
                median_interval_share(samples) <= LATENCY_TOLERANCE
                or time.perf_counter() - started >= LATENCY_BUDGET_S):
            break
    low, high = median_interval(samples)
    return {"latency_p50_ms": float(np.percentile(samples, 50)),
            "latency_p95_ms": float(np.percentile(samples, 95)),
            "latency_p50_ci_low_ms": low, "latency_p50_ci_high_ms": high,
            "latency_samples": len(samples), "latency_warmup": len(warmup_texts)}


def median_interval(samples: list[float]) -> tuple[float, float]:
    """A distribution-free 95% interval of the median: the order statistics whose ranks the
    binomial(n, 1/2) puts 1.96 standard deviations either side of n/2 (normal approximation;
    the extremes for small n)."""
    ordered = np.sort(samples)
    n = len(ordered)
    half = 1.96 * np.sqrt(n) / 2
    low = max(0, int(np.floor(n / 2 - half)))
    high = min(n - 1, int(np.ceil(n / 2 + half)) - 1)
    return float(ordered[low]), float(ordered[high])


def median_interval_share(samples: list[float]) -> float:
    """The median interval's half-width as a share of the median."""
    low, high = median_interval(samples)
    median = float(np.median(samples))
    return (high - low) / 2 / median if median > 0 else 0.0


def latency_rows(n_eval: int, seed: int, samples: int = LATENCY_SAMPLES) -> list[int]:
    """Which evaluation rows latency is measured on: up to `samples` of them in a seeded order,
    the same policy for every strategy."""
    order = np.random.default_rng([seed, 7]).permutation(n_eval)
    return order[:samples].tolist()
