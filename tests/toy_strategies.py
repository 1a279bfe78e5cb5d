"""Strategies that misbehave on purpose, to test how the runner contains them. They are
registered with the decorator by the tests that use them, never through entry points."""

import os
import signal
import time
from dataclasses import dataclass

import numpy as np

from harness.api.resources import Resources
from harness.api.strategy import Footprint, Predictions


@dataclass
class NoConfig:
    pass


class _Base:
    description = "test double"
    config_class = NoConfig
    task_kinds = ("classification",)
    model_kind = None
    backends = ("hf",)
    devices = ("cpu",)
    multi_task = False
    trials = 1
    deterministic = False  # planned once per seed, as the runner tests expect
    uses_training_rows = True
    resources = Resources(gpus=0, cpus=1, memory_gib=0.5, model_memory_multiple=0)
    inference_variants = ()  # only its own way of predicting (harness/api/variants.py)
    runs_strategies = ()  # runs no other strategy (harness/api/strategy.py)

    def __init__(self, config, context):
        self.k = context.task.num_labels

    def fit(self, tasks):
        pass

    def prepare(self):
        pass

    def predict(self, texts, task, trial=0):
        scores = np.zeros((len(texts), self.k))
        scores[:, 0] = 1.0
        return Predictions(scores.argmax(axis=1), scores)

    def footprint(self):
        return Footprint(0, 0)

    def export(self, folder):
        pass


class Raising(_Base):
    name = "toy-raising"

    def fit(self, tasks):
        raise ValueError("the toy strategy refuses to train")


class Killed(_Base):
    name = "toy-killed"

    def fit(self, tasks):
        os.kill(os.getpid(), signal.SIGKILL)


class OutOfRange(_Base):
    name = "toy-out-of-range"

    def predict(self, texts, task, trial=0):
        return Predictions(np.full(len(texts), self.k + 1), np.zeros((len(texts), self.k)))


class FirstLabel(_Base):
    name = "toy-first-label"


class SleepsInFit(_Base):
    name = "toy-sleeps-in-fit"

    def fit(self, tasks):
        time.sleep(1.0)


class ClaimsFitTime(SleepsInFit):
    """Sleeps in fit, then claims in its footprint to have been fast and small."""
    name = "toy-claims-fit-time"

    def footprint(self):
        return Footprint(0, 0, extra={"fit_s": 0.001, "peak_memory_bytes": 1})


class Allocates(_Base):
    """Holds 256 MiB (every page written) for 0.3 s in fit, inside a probe span with a mark
    while it is held, and nothing afterwards."""
    name = "toy-allocates"
    held_mib = 256

    def __init__(self, config, context):
        super().__init__(config, context)
        self.probe = context.probe

    def fit(self, tasks):
        with self.probe.span("toy_build"):
            block = np.ones(self.held_mib * 2**20 // 8)
            time.sleep(0.3)
            self.probe.mark("toy_held")
            del block
        self.probe.mark("toy_released")


class LabelsAgainstItsScores(_Base):
    """Labels every row 1 while its scores put label 0 highest."""
    name = "toy-labels-against-its-scores"

    def predict(self, texts, task, trial=0):
        scores = np.zeros((len(texts), self.k))
        scores[:, 0] = 1.0
        return Predictions(np.ones(len(texts), dtype=np.int64), scores)


class ReportsNegativeSeconds(_Base):
    """A footprint the store would not read back (a measured time below zero)."""
    name = "toy-reports-negative-seconds"

    def footprint(self):
        return Footprint(0, 0, extra={"warmup_s": -1.0})


class WritesArtifact(_Base):
    name = "toy-writes-artifact"

    def export(self, folder):
        (folder / "weights.bin").write_bytes(b"x" * 12345)


class ReportsPlacement(_Base):
    """Sleeps in fit and reports, as footprint extras, what its process was given: the GPUs it
    sees, its cores, when it fitted, and the process that started it."""
    name = "toy-reports-placement"
    resources = Resources(gpus=1, cpus=1, memory_gib=0.5, model_memory_multiple=0)

    def fit(self, tasks):
        self.fit_started = time.time()
        time.sleep(float(os.environ.get("TOY_FIT_SLEEP_S", "2")))
        self.fit_ended = time.time()

    def footprint(self):
        return Footprint(0, 0, extra={
            "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
            "cores": sorted(os.sched_getaffinity(0)), "omp_threads": os.environ.get(
                "OMP_NUM_THREADS"), "fit_started": self.fit_started,
            "fit_ended": self.fit_ended, "parent_pid": os.getppid()})


@dataclass
class MarkerConfig:
    marker_dir: str = ""  # where attempts leave a file each


class KillsItsWorkerOnce(_Base):
    """The first attempt kills the process that started its cell (a Ray worker lost mid-cell);
    later attempts fit normally. Every attempt leaves a file in `marker_dir`."""
    name = "toy-kills-its-worker-once"
    config_class = MarkerConfig

    def __init__(self, config, context):
        super().__init__(config, context)
        self.marker_dir = config.marker_dir

    def fit(self, tasks):
        attempts = len(os.listdir(self.marker_dir))
        open(os.path.join(self.marker_dir, f"attempt-{attempts}-{os.getpid()}"), "w").close()
        if attempts == 0:
            os.kill(os.getppid(), signal.SIGKILL)
            time.sleep(30)  # the watcher ends this process once its parent is gone


ALL = [Raising, Killed, OutOfRange, FirstLabel, SleepsInFit, ClaimsFitTime, WritesArtifact,
       ReportsPlacement, KillsItsWorkerOnce, Allocates, LabelsAgainstItsScores,
       ReportsNegativeSeconds]
