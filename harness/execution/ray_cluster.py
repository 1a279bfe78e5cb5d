"""Cells as Ray tasks, on a Ray instance started for the run or on a cluster (`--ray-address`).

A task asks for the cell's resources (harness.api.resources), starts the cell's isolated process on
its node exactly as the local executor does (harness.cell.runner.compute) and returns the records;
the driver writes them. Ray retries a task whose worker or node was lost (`--max-retries`); a
cell's own error comes back as a failed record and is not retried. Every attempt is logged with
an actor on the driver's node, so the driver can say where a cell was retried.

One Ray driver per results folder: the driver holds `<results>/ray-driver.claim` while it runs,
and a second one on the same folder stops with exit code 2.
"""

from __future__ import annotations

import os
import secrets
import socket
import time
from dataclasses import replace

from harness.api.precision import native_bf16, precision_for
from harness.inputs.models import PRESETS, resolve_model
from harness import environment
from harness.cell.isolation import Placement
from harness.results.claims import Claim
from harness.errors import HarnessError
from harness.cell.job import CellJob
from harness.execution.settings import Execution

DRIVER_CLAIM = "ray-driver.claim"
PROBE_TIMEOUT_S = 300  # the cluster may have to start a node before a probe can run


class RayExecutor:
    """`--executor ray`; see the module docstring."""

    name = "ray"
    concurrent = True

    def __init__(self, execution: Execution, store, echo):
        self.execution, self.store, self.echo = execution, store, echo
        self.refs: dict = {}  # ObjectRef -> CellJob
        self.started_ray = False
        self.attempts = None  # the attempt log actor, once connected
        self.driver_claim = Claim(store.root / DRIVER_CLAIM)

    @classmethod
    def create(cls, execution: Execution, store, echo):
        return cls(execution, store, echo)

    def __enter__(self):
        holder = self.driver_claim.acquire()
        if holder is not None:
            raise HarnessError(
                f"results folder {self.store.root} is in use by the Ray driver pid "
                f"{holder.get('pid')} on host {holder.get('host')} (since "
                f"{holder.get('started_at', '?')}): one Ray driver per results folder; wait "
                f"for it or give another --out")
        try:
            self._connect()
            self.attempts = _attempt_log()
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc):
        if self.attempts is not None or self.started_ray:  # else Ray may not even import
            import ray

            if self.attempts is not None and ray.is_initialized():
                ray.kill(self.attempts)
            if self.started_ray:
                ray.shutdown()
        self.driver_claim.release()
        return False

    def _connect(self) -> None:
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        try:
            import ray
        except ImportError:
            raise HarnessError("--executor ray needs Ray: pip install 'adapt-harness[ray]'") \
                from None
        if ray.is_initialized():  # a notebook or a test that connected already
            return
        address = self.execution.ray_address
        self.execution.preflight()
        try:
            if address:
                ray.init(address=address, log_to_driver=False, logging_level="ERROR")
            else:
                ray.init(num_cpus=len(os.sched_getaffinity(0)), include_dashboard=False,
                         log_to_driver=False, logging_level="ERROR")
        except ConnectionError as err:
            raise HarnessError(f"--ray-address {address}: no Ray cluster there ({err}); start "
                               f"one with `ray start --head`") from None
        self.started_ray = True
        where = f"cluster at {address}" if address else "a local Ray instance"
        total = ray.cluster_resources()
        self.echo(f"note: Ray: {where}, {total.get('CPU', 0):g} CPUs, "
                  f"{total.get('GPU', 0):g} GPUs, {len(_alive_nodes())} node(s)")

    def plan(self, cells: list) -> list:
        """The devices the cells will run on, as a worker of the cluster sees them: a cell's key
        names the device it runs on, and the driver's machine may have none of the workers'."""
        import ray

        from harness.api.strategy import choose_device

        has_gpus = ray.cluster_resources().get("GPU", 0) > 0
        gpu_name, cpu_name, native = self._probe(has_gpus)
        chosen = []
        for cell in cells:
            device = choose_device(cell.strategy_class, gpu_name is not None)
            name = gpu_name if device == "cuda" else cpu_name
            precision = precision_for(cell.precision_asked, cell.strategy_class.precisions,
                                      device, native[device])
            if (device, name, precision) != (cell.device, cell.device_name, cell.precision):
                cell = replace(cell, device=device, device_name=name, precision=precision)
            chosen.append(cell)
        return chosen

    def _probe(self, has_gpus: bool) -> tuple[str | None, str, dict]:
        import ray

        options = {"num_gpus": 1, "accelerator_type": self.execution.accelerator_type} \
            if has_gpus else {"num_cpus": 0}
        probe = ray.remote(_device_names).options(**{k: v for k, v in options.items()
                                                       if v is not None})
        try:
            return tuple(ray.get(probe.remote(), timeout=PROBE_TIMEOUT_S))
        except ray.exceptions.GetTimeoutError:
            raise HarnessError(f"Ray: no worker could run a {'GPU ' if has_gpus else ''}task "
                               f"within {PROBE_TIMEOUT_S} s to tell its devices") from None

    def check(self, request, label: str) -> None:
        import ray

        total = ray.cluster_resources()
        if request.gpus > total.get("GPU", 0) or request.cpus > total.get("CPU", 0):
            raise HarnessError(f"{label}: needs {request.describe()}; the Ray cluster has "
                               f"{total.get('CPU', 0):g} CPUs and {total.get('GPU', 0):g} GPUs "
                               f"(see --resources)")

    def fits(self, request) -> bool:
        return self.execution.jobs is None or len(self.refs) < self.execution.jobs

    def running(self) -> int:
        """Cells in flight that a worker has started (the others wait for resources)."""
        import ray

        keys = [job.name for job in self.refs.values()]
        return ray.get(self.attempts.started_of.remote(keys)) if keys else 0

    def submit(self, job: CellJob, request) -> str:
        import ray

        options = {"num_cpus": request.cpus, "num_gpus": request.gpus,
                   "memory": request.memory_bytes, "max_retries": self.execution.max_retries,
                   "retry_exceptions": False, "name": job.cell.label[:200]}
        if request.gpus and self.execution.accelerator_type:
            options["accelerator_type"] = self.execution.accelerator_type
        task = ray.remote(run_on_worker).options(**options)
        self.refs[task.remote(job, request.gpus > 0, self.attempts)] = job
        return f"sent as a Ray task ({request.describe()})"

    def collect(self, timeout_s: float) -> list:
        import ray

        if not self.refs:
            return []
        ready, _ = ray.wait(list(self.refs), num_returns=1, timeout=timeout_s)
        if ready:  # and any others done by now
            ready, _ = ray.wait(list(self.refs), num_returns=len(self.refs), timeout=0)
        return [self._outcome(ref, self.refs.pop(ref)) for ref in ready]

    def _outcome(self, ref, job: CellJob):
        import ray

        from harness.cell.runner import failed

        attempts = ray.get(self.attempts.of.remote(job.name))
        try:
            computed, node = ray.get(ref)
        except ray.exceptions.RayError as err:  # the worker or node was lost once too often
            computed, node = failed(job, f"Ray task lost after {len(attempts)} attempt(s): "
                                         f"{type(err).__name__}: {_first_line(err)}"), None
        extra = {"attempts": len(attempts), "ray_node_id": node,
                 "ray_attempt_nodes": [n for n, _ in attempts]}
        if len(attempts) > 1:
            tried = ", ".join(f"{i} on node {n[:12]} ({h})" for i, (n, h) in
                              enumerate(attempts, 1))
            extra["notes"] = [f"retried by Ray after a lost worker or node: attempts {tried}"]
        return job, computed, extra

    def cancel(self) -> None:
        import ray

        for ref in self.refs:
            ray.cancel(ref, force=True)  # kills the worker; its cell process follows it
        self.refs.clear()


def run_on_worker(job: CellJob, gets_gpus: bool, attempts):
    """A Ray task: the cell's isolated process on this node, placed on the GPUs Ray assigned
    (none for a CPU cell) with as many threads as CPUs asked; returns (computed, node id)."""
    import ray

    from harness.cell.runner import compute

    context = ray.get_runtime_context()
    node = context.get_node_id()
    # Not waited for: a task blocked in ray.get lends its CPUs to another task and takes them
    # back when it resumes, so two cells would share cores that each was promised alone.
    attempts.started.remote(job.name, node, socket.gethostname())
    gpus = ",".join(str(g) for g in ray.get_gpu_ids()) if gets_gpus else ""
    cpus = context.get_assigned_resources().get("CPU", 1)
    placement = Placement(cuda_visible_devices=gpus, threads=max(1, int(cpus)))
    try:
        cell = _model_on_this_node(job.cell)
    except HarnessError as err:
        from harness.cell.runner import failed

        return failed(job, str(err)), node
    return compute(replace(job, cell=cell, placement=placement)), node


def _model_on_this_node(cell):
    """The cell with its model where this node has it: a preset installed at another path than
    on the driver's machine is found again, and must be the same weights."""
    spec = cell.model
    if spec is None or os.path.exists(spec.source) or not os.path.isabs(spec.source):
        return cell  # no model, present here, or a hub id
    if spec.name not in PRESETS:
        raise HarnessError(f"model '{spec.source}' is not on node {socket.gethostname()}: "
                           f"copy it to the same path on every node")
    here = resolve_model(spec.name, spec.trust_remote_code)
    if here.identity() != cell.provenance.model_identity:
        raise HarnessError(f"preset '{spec.name}' on node {socket.gethostname()} is "
                           f"{here.identity()}, not the driver's {cell.provenance.model_identity}")
    return replace(cell, model=here)


def _device_names() -> tuple[str | None, str, dict]:
    """(GPU name, CPU name, {device: native bf16}) as a worker sees them."""
    cuda = environment.cuda_name()
    return cuda, environment.cpu_name(), {"cpu": native_bf16("cpu"),
                                          "cuda": cuda is not None and native_bf16("cuda")}


def attempt_log_prefix(driver_pid: int) -> str:
    """How the attempt logs of the driver with this pid are named (for a watcher: find it
    with `ray.util.list_named_actors()`); a token follows, as one driver may run several grids."""
    return f"harness-attempts-{driver_pid}-"


def _attempt_log():
    """An actor on the driver's node that every attempt reports to (a lost node loses none)."""
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    node = ray.get_runtime_context().get_node_id()
    actor = ray.remote(AttemptLog).options(
        num_cpus=0, name=attempt_log_prefix(os.getpid()) + secrets.token_hex(4),
        scheduling_strategy=NodeAffinitySchedulingStrategy(node, soft=False))
    return actor.remote()


class AttemptLog:
    def __init__(self):
        self.attempts: dict[str, list] = {}
        self.created = time.time()

    def started(self, key: str, node: str, host: str) -> None:
        self.attempts.setdefault(key, []).append((node, host))

    def of(self, key: str) -> list:
        return self.attempts.get(key, [])

    def every(self) -> dict[str, list]:
        return self.attempts

    def started_of(self, keys: list[str]) -> int:
        return sum(key in self.attempts for key in keys)


def _alive_nodes() -> list:
    import ray

    return [node for node in ray.nodes() if node.get("Alive")]


def _first_line(err: Exception) -> str:
    return (str(err).strip().splitlines() or [""])[0][:300]

