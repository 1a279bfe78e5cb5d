"""Quiet by default: what a cell process prints (Python, C libraries, library warnings) goes to
its log, not to the terminal; a failed cell keeps the log's tail in its record."""

import logging
import os
import sys
import tempfile
from pathlib import Path

import pytest
from toy_strategies import FirstLabel

from harness.api import registry
from harness.results.claims import SCRATCH_PREFIX
from harness.plan.grid import build_cells
from harness.plan.request import GridRequest
from harness.execution.driver import run_cells
from harness.results.store import Store


class NoisyFails(FirstLabel):
    name = "toy-noisy-fails"

    def fit(self, tasks):
        print("noise from print")
        sys.stderr.write("noise on sys.stderr\n")
        os.write(1, b"noise from C on fd 1\n")
        logging.getLogger("bitsandbytes.backends.cpu.ops").warning(
            "Failed to load CPU gemm_4bit_forward from kernels-community: none")
        raise ValueError("the noisy toy fails")


@pytest.fixture
def noisy():
    registry.register(NoisyFails)
    yield
    registry.unregister(NoisyFails.name)


def test_a_cells_output_goes_to_its_log_and_a_failed_cell_keeps_it(noisy, data_dir, tmp_path,
                                                                   capfd):
    store = Store(tmp_path / "results")
    store.prepare()
    cells = build_cells(GridRequest(tasks=["agnews"], strategies="toy-noisy-fails", n_train=20,
                                    n_eval=12, data_dir=data_dir))
    lines = []
    summary = run_cells(cells, store, echo=lines.append)
    assert summary.failed == 1 and "the noisy toy fails" in lines[-1]
    out, err = capfd.readouterr()
    assert "noise" not in out + err and "gemm_4bit" not in out + err
    trace = store.load(cells[0].key)["traceback"]
    assert trace.startswith("Traceback") and "ValueError: the noisy toy fails" in trace
    for noise in ("noise from print", "noise on sys.stderr", "noise from C on fd 1"):
        assert noise in trace.split("--- last output of the cell process ---")[1]
    assert "gemm_4bit" not in trace  # a known, harmless library warning is filtered out
    kept = store.log_path(cells[0].key).read_text()  # the whole output, beside the record
    assert all(noise in kept for noise in ("noise from print", "noise from C on fd 1"))
    assert "log" not in store.load(cells[0].key)
    leftovers = Path(tempfile.gettempdir()).glob(f"{SCRATCH_PREFIX}{os.getpid()}-*")
    assert not list(leftovers)  # the cell's log is removed
