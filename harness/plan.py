"""The grid of cells (task x strategy x model x seed), built and checked before anything runs,
so bad input fails in one line with nothing written."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field

from harness import registry
from harness.backends import DEFAULT, check_installed, choose, strategy_backends
from harness.data import Split, load_split, subset
from harness.errors import HarnessError
from harness.identity import code_identity
from harness.models import DEFAULT_MODELS, ModelSpec, check_model, resolve_model
from harness.tasks import Task, get_task

# Seeds feed numpy and scikit-learn, which take 0 <= seed < 2**32; a larger one would be
# refused deep inside (or, for stratified subsets, silently fall back to an unstratified draw).
SEED_LIMIT = 2**32

# Rows per profile: (training rows, evaluation rows); None means the whole split.
PROFILES = {"quick": (2000, 1000), "full": (None, None)}


@dataclass(frozen=True)
class Cell:
    task: Task
    strategy: str
    strategy_class: type
    config: object  # the strategy's config dataclass
    model: ModelSpec | None
    seed: int
    train: Split
    eval: Split
    data_seed: int
    # Other tasks trained into the same model and evaluated too (a multi-task strategy run on
    # several tasks): (task, train, eval) each. Empty for the usual one-task cell.
    mixture: tuple = ()
    backend: str = DEFAULT  # what runs the model (harness.backends)
    device: str = "cpu"  # where it runs: the strategy's first declared device this machine has
    device_name: str = ""
    # What else the numbers depend on (harness.identity, harness.model_identity).
    code: dict = field(default_factory=dict)
    packages: dict = field(default_factory=dict)
    model_identity: dict = field(default_factory=dict)

    @property
    def default_backend(self) -> bool:
        return self.backend == strategy_backends(self.strategy_class)[0]

    @property
    def model_name(self) -> str:
        return self.model.name if self.model else "-"

    @property
    def evaluations(self) -> list[tuple[Task, Split, Split]]:
        """(task, train, eval) of every task the cell trains on and reports, the primary first."""
        return [(self.task, self.train, self.eval), *self.mixture]

    @property
    def label(self) -> str:
        tasks = "+".join(task.name for task, _, _ in self.evaluations)
        backend = "" if self.default_backend else f" · {self.backend}"
        return f"{tasks} · {self.strategy}{backend} · {self.model_name} · seed {self.seed}"

    def identity(self) -> dict:
        """Everything that can change the cell's numbers; its hash names the record."""
        return {
            "task": self.task.name, "task_sha": task_sha(self.task),
            "strategy": self.strategy, "model": self.model_name, **self.model_identity,
            "seed": self.seed, "config": dataclasses.asdict(self.config),
            "n_train": len(self.train), "n_eval": len(self.eval), "data_seed": self.data_seed,
            "train_fingerprint": self.train.fingerprint(),
            "eval_fingerprint": self.eval.fingerprint(),
            **({"trained_on": [{"task": task.name, "task_sha": task_sha(task),
                                "n_train": len(train), "n_eval": len(ev),
                                "train_fingerprint": train.fingerprint(),
                                "eval_fingerprint": ev.fingerprint()}
                               for task, train, ev in self.evaluations]} if self.mixture else {}),
            "backend": self.backend, "device": self.device, "device_name": self.device_name,
            "code": self.code, "packages": self.packages,
        }

    @property
    def key(self) -> str:
        return self.key_for(self.task.name)

    @property
    def keys(self) -> list[str]:
        """One record per evaluated task."""
        return [self.key_for(task.name) for task, _, _ in self.evaluations]

    def key_for(self, task_name: str) -> str:
        digest = hashlib.sha256(json.dumps(self.identity(), sort_keys=True).encode())
        slug = self.model_name.replace("/", "--").replace(" ", "_")[-60:]
        strategy = self.strategy if self.default_backend else f"{self.strategy}-{self.backend}"
        return f"{task_name}__{strategy}__{slug}__seed{self.seed}__{digest.hexdigest()[:10]}"


def task_sha(task: Task) -> str:
    """A hash of the task's whole content: another prompt template or label word is another
    computation, even under the same name."""
    text = json.dumps(dataclasses.asdict(task), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def parse_model_overrides(values: tuple[str, ...]) -> dict[str, str]:
    """`--model NAME` for every strategy, or `--model encoder=NAME` / `decoder=NAME` per kind."""
    every, per_kind = None, {}
    for value in values:
        kind, sep, name = value.partition("=")
        if sep and kind not in DEFAULT_MODELS:
            raise HarnessError(f"--model '{value}': the part before '=' must be one of "
                               f"{', '.join(DEFAULT_MODELS)}")
        if not (name if sep else value).strip():
            raise HarnessError(f"--model '{value}': the model name is empty")
        if sep:
            per_kind[kind] = name.strip()
        else:
            every = value.strip()
    # A per-kind choice wins over a plain one, whatever their order on the command line.
    return {**({kind: every for kind in DEFAULT_MODELS} if every else {}), **per_kind}


def parse_seeds(text: str) -> list[int]:
    try:
        seeds = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise HarnessError(f"--seeds '{text}' must be comma-separated integers, e.g. 0,1,2") from None
    if not seeds:
        raise HarnessError("--seeds needs at least one seed")
    for seed in seeds:
        check_seed(seed, "--seeds")
    return list(dict.fromkeys(seeds))


def check_seed(seed: int, option: str) -> None:
    if not 0 <= seed < SEED_LIMIT:
        raise HarnessError(f"{option} {seed} is out of range: seeds are integers in "
                           f"0..{SEED_LIMIT - 1}")


def build_cells(task_names: list[str], strategy_spec: str, model_values: tuple[str, ...] = (),
                seeds: list[int] = (0,), profile: str = "quick", n_train: int | None = None,
                n_eval: int | None = None, data_dir=None, data_seed: int = 0,
                config_overrides: dict[str, dict] | None = None,
                trust_remote_code: bool = False, backend: str | None = None) -> list[Cell]:
    """Every cell of the grid, with its data loaded and subset, or a HarnessError."""
    from harness.strategy import make_config

    if not task_names:
        raise HarnessError("--task names no task: give one or more, e.g. --task agnews")
    check_seed(data_seed, "--data-seed")
    tasks = [get_task(name) for name in task_names]
    names_seen = [task.name for task in tasks]
    if len(set(names_seen)) != len(names_seen):  # their records would overwrite each other
        twice = next(name for name in names_seen if names_seen.count(name) > 1)
        raise HarnessError(f"--task: two tasks are named '{twice}'; task names must differ")
    names = registry.select(strategy_spec)
    classes = {name: registry.get(name) for name in names}
    overrides = config_overrides or {}
    for name in overrides:
        if name not in classes:
            raise HarnessError(f"--config names strategy '{name}', which is not being run")
    configs = {name: make_config(cls, overrides.get(name, {})) for name, cls in classes.items()}
    runs_on = _devices(classes)
    codes = {name: code_identity(registry.entries()[name].package, cls)
             for name, cls in classes.items()}
    named = strategy_spec.strip() != "all"
    backends = {name: choose(name, cls, backend, named) for name, cls in classes.items()}
    for chosen in set(backends.values()):
        check_installed(chosen)
    models = _models(classes, parse_model_overrides(model_values), trust_remote_code)
    profile_train, profile_eval = PROFILES[profile]
    data = []
    for task in tasks:
        train = _rows(load_split(task, task.train_split, data_dir), n_train, profile_train,
                      data_seed, "--n-train")
        evaluation = _rows(load_split(task, task.eval_split, data_dir), n_eval, profile_eval,
                           data_seed, "--n-eval")
        data.append((task, train, evaluation))
    cells = []
    for name in names:
        # A strategy that can train one model on a task mixture does so when given several
        # tasks (one cell, one record per task); any other runs one cell per task.
        groups = ([data] if len(data) > 1 and classes[name].multi_task
                  else [[one] for one in data])
        code = dict(codes[name])
        packages = code.pop("packages")
        model = models[name]
        for group in groups:
            (task, train, evaluation), *rest = group
            for seed in seeds:
                cells.append(Cell(task, name, classes[name], configs[name], model, seed,
                                  train, evaluation, data_seed, tuple(rest), backends[name],
                                  *runs_on[name], code, packages,
                                  model.identity() if model else {}))
    return cells


def _rows(split: Split, asked: int | None, profile_size: int | None, data_seed: int, option: str):
    # A profile's size is a ceiling, so small local tasks run whole; an explicit size is a
    # demand, so asking for more rows than exist is an error.
    if asked is None and profile_size is not None:
        asked = min(profile_size, len(split))
    return subset(split, asked, data_seed, option)


def _devices(classes: dict[str, type]) -> dict[str, tuple[str, str]]:
    """(device, device name) per strategy; CUDA is looked for only if a strategy can use it."""
    from harness.environment import cpu_name, cuda_name
    from harness.strategy import choose_device

    wants_cuda = any("cuda" in cls.devices for cls in classes.values())
    gpu = cuda_name() if wants_cuda else None
    chosen = {}
    for name, cls in classes.items():
        device = choose_device(cls, gpu is not None)
        chosen[name] = (device, gpu if device == "cuda" else cpu_name())
    return chosen


def _models(classes: dict[str, type], overrides: dict[str, str], trust_remote_code: bool):
    chosen, checked = {}, {}
    for name, cls in classes.items():
        kind = cls.model_kind
        if kind is None:
            chosen[name] = None
            continue
        model_name = overrides.get(kind, DEFAULT_MODELS.get(kind))
        if model_name is None:
            raise HarnessError(f"strategy '{name}' wants a model of kind '{kind}'; "
                               f"give one with --model")
        if model_name not in checked:
            spec = resolve_model(model_name, trust_remote_code)
            check_model(spec)
            checked[model_name] = spec
        chosen[name] = checked[model_name]
    return chosen
