"""The grid of cells (task x strategy x model x data seed x seed), built and checked before
anything runs, so bad input fails in one line with nothing written.

A data seed draws the training rows; the evaluation rows are drawn with their own fixed seed
(`eval_seed`), so every data seed is scored on the same rows and comparisons stay paired. What a
strategy declares prunes the grid: a deterministic one runs once, under seed 0, one that uses no
training rows once, under data seed 0 (and is fitted on none), whatever seeds are asked for.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from harness.api import registry
from harness.api.backends import DEFAULT, check_installed, choose, strategy_backends
from harness.inputs.data import Split, load_split, subset, training_rows
from harness.errors import HarnessError
from harness.plan.identity import code_identity
from harness.inputs.models import DEFAULT_MODELS, ModelSpec, check_model, resolve_model
from harness.api.strategy import (NO_TRAINING_ROWS, choose_device, make_config,
                                  model_kind_for, supports)
from harness.inputs.kinds import KINDS, kind_of
from harness.inputs.tasks import AnyTask, Task, get_task

# Seeds feed numpy and scikit-learn, which take 0 <= seed < 2**32; a larger one would be
# refused deep inside (or, for stratified subsets, silently fall back to an unstratified draw).
SEED_LIMIT = 2**32


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
    data_seed: int  # drew the training rows
    # Other tasks trained into the same model and evaluated too (a multi-task strategy run on
    # several tasks): (task, train, eval) each. Empty for the usual one-task cell.
    mixture: tuple = ()
    backend: str = DEFAULT  # what runs the model (harness.api.backends)
    device: str = "cpu"  # where it runs: the strategy's first declared device this machine has
    device_name: str = ""
    # What else the numbers depend on (harness.plan.identity, harness.inputs.model_identity).
    code: dict = field(default_factory=dict)
    packages: dict = field(default_factory=dict)
    model_identity: dict = field(default_factory=dict)
    eval_seed: int = 0  # drew the evaluation rows, the same for every data seed
    data_dir: str | None = None  # where the task's other splits are (the style judge's)
    n_per_class: int | None = None  # the training rows were drawn as this many per label
    # Other ways of running the fitted model, each evaluated after the cell's own predictions
    # and recorded beside them (harness.api.variants); the primary task only.
    inference: tuple[str, ...] = ()
    # Per config field of `runs_strategies` (distill's teacher): the model that strategy runs on
    strategy_models: dict = field(default_factory=dict)

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
        data = f" · data seed {self.data_seed}" if self.data_seed else ""
        rows = f" · {len(self.train)} training rows" if len(self.train) else ""
        return (f"{tasks} · {self.strategy}{backend} · {self.model_name}{rows} · "
                f"seed {self.seed}{data}")

    def identity(self) -> dict:
        """Everything that can change the cell's numbers; its hash names the record."""
        return {
            "task": self.task.name, "task_sha": task_sha(self.task),
            # Classification records predate kinds and do not name theirs (their keys stay).
            **kind_of(self.task).identity(),
            "strategy": self.strategy, "model": self.model_name, **self.model_identity,
            "seed": self.seed, "config": dataclasses.asdict(self.config),
            "deterministic": self.strategy_class.deterministic,
            "n_train": len(self.train), "n_eval": len(self.eval), "data_seed": self.data_seed,
            "eval_seed": self.eval_seed, "train_fingerprint": _fingerprint(self.train),
            **({"n_per_class": self.n_per_class} if self.n_per_class is not None else {}),
            "eval_fingerprint": self.eval.fingerprint(),
            **({"trained_on": [{"task": task.name, "task_sha": task_sha(task),
                                "n_train": len(train), "n_eval": len(ev),
                                "train_fingerprint": _fingerprint(train),
                                "eval_fingerprint": ev.fingerprint()}
                               for task, train, ev in self.evaluations]} if self.mixture else {}),
            "backend": self.backend, "device": self.device, "device_name": self.device_name,
            "code": self.code, "packages": self.packages,
            **({"runs": {name: {"model": spec.name if spec else "-",
                                **(spec.identity() if spec else {})}
                         for name, spec in self.strategy_models.items()}}
               if self.strategy_models else {}),
        }

    @property
    def key(self) -> str:
        return self.key_for(self.task.name)

    @property
    def keys(self) -> list[str]:
        """One record per evaluated task, and one per inference variant of the primary task."""
        return ([self.key_for(task.name) for task, _, _ in self.evaluations]
                + [self.key_for(self.task.name, variant) for variant in self.inference])

    def variant_identity(self, variant: str) -> dict:
        """A variant's record shares the fitted model's identity, and names its variant (the
        default's identity does not, so records from before variants keep their keys)."""
        return {**self.identity(), "inference": variant}

    def key_for(self, task_name: str, variant: str | None = None) -> str:
        identity = self.variant_identity(variant) if variant else self.identity()
        digest = hashlib.sha256(json.dumps(identity, sort_keys=True).encode())
        slug = self.model_name.replace("/", "--").replace(" ", "_")[-60:]
        strategy = self.strategy if self.default_backend else f"{self.strategy}-{self.backend}"
        strategy += f"-{variant}" if variant else ""
        return f"{task_name}__{strategy}__{slug}__seed{self.seed}__{digest.hexdigest()[:10]}"


def _fingerprint(rows: Split) -> str | None:
    return rows.fingerprint() if len(rows) else None  # no training rows: nothing to name


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


def parse_seeds(text: str, option: str = "--seeds") -> list[int]:
    seeds = _integers(text, option, "integers, e.g. 0,1,2", "seed")
    for seed in seeds:
        check_seed(seed, option)
    return list(dict.fromkeys(seeds))


def _integers(text: str, option: str, what: str, one: str) -> list[int]:
    """The comma-separated integers of an option, at least one."""
    try:
        values = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise HarnessError(f"{option} '{text}' must be comma-separated {what}") from None
    if not values:
        raise HarnessError(f"{option} needs at least one {one}")
    return values


def check_seed(seed: int, option: str) -> None:
    if not 0 <= seed < SEED_LIMIT:
        raise HarnessError(f"{option} {seed} is out of range: seeds are integers in "
                           f"0..{SEED_LIMIT - 1}")


def build_cells(task_names: list[str], strategy_spec: str, model_values: tuple[str, ...] = (),
                seeds: list[int] = (0,), profile: str = "quick",
                n_train: int | list[int] | None = None, n_eval: int | None = None,
                data_dir=None, data_seeds: list[int] = (0,),
                config_overrides: dict[str, dict] | None = None,
                trust_remote_code: bool = False, backend: str | None = None,
                eval_seed: int = 0, notes: list[str] | None = None,
                n_per_class: list[int] | None = None,
                inference: tuple[str, ...] = ()) -> list[Cell]:
    """Every cell of the grid, with its data loaded and subset, or a HarnessError. A strategy
    is planned only on the tasks whose kind it supports; each pair left out adds a line to
    `notes` (an error when nothing at all is left). Several training sizes (`n_train` a list,
    or `n_per_class`) make a learning curve: nested draws of each data seed, one cell per size
    for a strategy that trains, one cell in all for one that uses no training rows."""
    if not task_names:
        raise HarnessError("--task names no task: give one or more, e.g. --task agnews")
    for seed in data_seeds:
        check_seed(seed, "--data-seeds")
    check_seed(eval_seed, "--eval-seed")
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
    variants = _variants(classes, inference, tasks, notes)
    kinds = list(dict.fromkeys(task.kind for task in tasks))
    _check_supported(tasks, classes, notes)
    chosen_models = parse_model_overrides(model_values)
    models = _models(classes, kinds, chosen_models, trust_remote_code)
    inner = _inner_strategies(classes, configs, codes, kinds, chosen_models, trust_remote_code)
    sizes = train_sizes(n_train, n_per_class)
    data = _data(tasks, data_dir, profile, sizes, n_eval, data_seeds, eval_seed)
    cells = []
    for name in names:
        cls = classes[name]
        code = dict(codes[name])
        packages = code.pop("packages")
        # What the strategy declares prunes the grid: a deterministic one gives the same
        # predictions for every seed, one that uses no training rows for every data seed. Such
        # a cell is planned once, under seed / data seed 0 whatever was asked, so that it is
        # one cell (found finished) across runs with other seeds.
        draws = [(seed, size) for seed in data_seeds for size in sizes]
        for drawn, size in draws if cls.uses_training_rows else draws[:1]:
            rows = [(task, train if cls.uses_training_rows else NO_TRAINING_ROWS, evaluation)
                    for task, train, evaluation in data[drawn, size]
                    if supports(cls, task)]
            per_class = size[1] if cls.uses_training_rows else None
            data_seed = drawn if cls.uses_training_rows else 0
            # A strategy that can train one model on a task mixture does so when given several
            # tasks of a kind that mixes (classification): one cell, one record per task; any
            # other task runs in a cell of its own.
            mixed = [one for one in rows if cls.multi_task and kind_of(one[0]).mixes]
            groups = [mixed] + [[one] for one in rows if not any(one is m for m in mixed)]
            for (task, train, evaluation), *rest in filter(None, groups):
                model = models[name, task.kind]
                for seed in (0,) if cls.deterministic else seeds:
                    cells.append(Cell(task, name, cls, configs[name], model, seed, train,
                                      evaluation, data_seed, tuple(rest), backends[name],
                                      *runs_on[name], code, packages,
                                      model.identity() if model else {}, eval_seed,
                                      # absolute: a Ray worker's folder is not ours
                                      str(Path(data_dir).resolve()) if data_dir else None,
                                      per_class,
                                      variants[name] if kind_of(task).variants else (),
                                      inner.get((name, task.kind), {})))
    return cells


def _inner_strategies(classes: dict[str, type], configs: dict, codes: dict, kinds: list[str],
                      chosen_models: dict[str, str], trust_remote_code: bool) -> dict:
    """For a strategy that runs others (`runs_strategies`): their code joins its own in `codes`
    (so an edit to a teacher recomputes its students), and the model each runs on per task kind,
    chosen as for a strategy run on its own."""
    inner: dict[tuple[str, str], dict] = {}
    for name, cls in classes.items():
        for setting in cls.runs_strategies:
            other = getattr(configs[name], setting)
            other_cls = registry.get(other)
            code = code_identity(registry.entries()[other].package, other_cls)
            codes[name]["packages"] = {**codes[name]["packages"], **code.pop("packages")}
            codes[name].setdefault("runs", {})[setting] = {"strategy": other, **code}
            found = _models({other: other_cls}, kinds, chosen_models, trust_remote_code)
            for (_, kind), spec in found.items():
                inner.setdefault((name, kind), {})[setting] = spec
    return inner


def _variants(classes: dict[str, type], asked: tuple[str, ...], tasks: list[AnyTask],
              notes: list[str] | None) -> dict[str, tuple[str, ...]]:
    """The variants asked that each strategy can load; each one it cannot adds a note."""
    chosen = {name: tuple(v for v in asked if v in cls.inference_variants)
              for name, cls in classes.items()}
    for name, cls in classes.items():
        missing = [v for v in asked if v not in chosen[name]]
        if missing and notes is not None:
            has = ", ".join(cls.inference_variants) or "none besides its own"
            notes.append(f"{name}: no {', '.join(missing)} inference (its variants: {has})")
    if asked and notes is not None and any(not kind_of(t).variants for t in tasks):
        on = " and ".join(name for name, kind in KINDS.items() if kind.variants)
        notes.append(f"inference variants are evaluated on {on} tasks only")
    return chosen


def _check_supported(tasks: list[AnyTask], classes: dict[str, type],
                     notes: list[str] | None) -> None:
    """Strategies are skipped on tasks of a kind they do not support, with a note; a grid left
    empty is an error naming what supports what."""
    planned = False
    for task in tasks:
        unsupported = [name for name, cls in classes.items() if not supports(cls, task)]
        planned = planned or len(unsupported) < len(classes)
        if unsupported and notes is not None:
            notes.append(f"{', '.join(unsupported)}: skipped on {task.name}, a {task.kind} "
                         f"task (not among the task kinds they support)")
    if not planned:
        kinds = ", ".join(f"{t.name} is a {t.kind} task" for t in tasks)
        raise HarnessError(f"no strategy given supports the tasks' kind ({kinds}); see "
                           f"`harness list strategies` for the kinds each supports")


TrainSize = tuple  # (rows, rows per label): one of them given, or neither (the profile's)


def train_sizes(n_train: int | list[int] | None,
                n_per_class: list[int] | None) -> list[TrainSize]:
    """The training sizes asked, smallest first, each once."""
    if n_train is not None and n_per_class:
        raise HarnessError("--n-train and --n-per-class both given: a learning curve is "
                           "measured in rows or in rows per label, not both")
    if n_per_class:
        return [(None, k) for k in sorted(set(n_per_class))]
    if n_train is None:
        return [(None, None)]
    asked = [n_train] if isinstance(n_train, int) else list(n_train)
    if not asked:
        raise HarnessError("--n-train needs at least one size")
    return [(n, None) for n in sorted(set(asked))]


def parse_sizes(text: str | None, option: str) -> list[int] | None:
    """`--n-train 32,128,512` / `--n-per-class 8,32`: positive integers."""
    if text is None:
        return None
    sizes = _integers(text, option, "whole numbers, e.g. 32,128,512", "size")
    for size in sizes:
        if size <= 0:
            raise HarnessError(f"{option} sizes must be positive, got {size}")
    return sizes


def _data(tasks: list[AnyTask], data_dir, profile: str, sizes: list[TrainSize],
          n_eval: int | None, data_seeds: list[int],
          eval_seed: int) -> dict[tuple[int, TrainSize], list[tuple[Task, Split, Split]]]:
    """(task, training rows, evaluation rows) of every task, per data seed and training size:
    the training rows a prefix of the data seed's nested order (so the sizes of one seed are
    nested), the evaluation rows drawn with `eval_seed`, hence the same for all."""
    data: dict[tuple, list] = {(seed, size): [] for seed in data_seeds for size in sizes}
    for task in tasks:
        profile_train, profile_eval = kind_of(task).profiles[profile]
        train_split = load_split(task, task.train_split, data_dir)
        evaluation = _rows(load_split(task, task.eval_split, data_dir), n_eval, profile_eval,
                           eval_seed, "--n-eval")
        for seed in data_seeds:
            for size in sizes:
                n, per_class = size
                if per_class is None:
                    n = _size(train_split, n, profile_train)
                train = training_rows(train_split, seed, n, per_class, "--n-train")
                data[seed, size].append((task, train, evaluation))
    return data


def _rows(split: Split, asked: int | None, profile_size: int | None, seed: int, option: str):
    return subset(split, _size(split, asked, profile_size), seed, option)


def _size(split: Split, asked: int | None, profile_size: int | None) -> int | None:
    # A profile's size is a ceiling, so small local tasks run whole; an explicit size is a
    # demand, so asking for more rows than exist is an error.
    if asked is None and profile_size is not None:
        return min(profile_size, len(split))
    return asked


def _devices(classes: dict[str, type]) -> dict[str, tuple[str, str]]:
    """(device, device name) per strategy; CUDA is looked for only if a strategy can use it."""
    from harness.environment import cpu_name, cuda_name

    wants_cuda = any("cuda" in cls.devices for cls in classes.values())
    gpu = cuda_name() if wants_cuda else None
    chosen = {}
    for name, cls in classes.items():
        device = choose_device(cls, gpu is not None)
        chosen[name] = (device, gpu if device == "cuda" else cpu_name())
    return chosen


def _models(classes: dict[str, type], task_kinds: list[str], overrides: dict[str, str],
            trust_remote_code: bool) -> dict[tuple[str, str], ModelSpec | None]:
    """The model of every strategy per task kind it runs on: the override for its model kind,
    else that kind's preset (a generation task's fine-tuning runs on the decoder preset)."""
    chosen, checked = {}, {}
    for (name, cls), task_kind in ((pair, k) for pair in classes.items() for k in task_kinds):
        if task_kind not in cls.task_kinds:
            continue
        kind = model_kind_for(cls, task_kind)
        if kind is None:
            chosen[name, task_kind] = None
            continue
        model_name = overrides.get(kind, DEFAULT_MODELS.get(kind))
        if model_name is None:
            raise HarnessError(f"strategy '{name}' wants a model of kind '{kind}'; "
                               f"give one with --model")
        if model_name not in checked:
            spec = resolve_model(model_name, trust_remote_code)
            check_model(spec)
            checked[model_name] = spec
        chosen[name, task_kind] = checked[model_name]
    return chosen
