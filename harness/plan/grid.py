"""The grid of cells (task x strategy x model x data seed x seed), built and checked before
anything runs, so bad input fails in one line with nothing written.

    cells = build_cells(GridRequest(tasks=("agnews",), strategies="zero-shot,lora"), notes=[])

A data seed draws the training rows; the evaluation rows are drawn with their own fixed seed
(`eval_seed`), so every data seed is scored on the same rows and comparisons stay paired. What a
strategy declares prunes the grid: a deterministic one runs once, under seed 0, one that uses no
training rows once, under data seed 0 (and is fitted on none), whatever seeds are asked for.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from harness.api import registry
from harness.api.backends import check_installed, choose
from harness.api.precision import BF16, CHOICES, native_bf16, precision_for
from harness import environment
from harness.inputs.data import Split, load_split, subset, training_draw
from harness.errors import HarnessError, did_you_mean
from harness.metrics import catalog
from harness.plan.cell import Cell, Provenance, Rows
from harness.plan.identity import code_identity
from harness.plan.request import GridRequest, check_seed, parse_model_overrides
from harness.inputs.models import DEFAULT_MODELS, ModelSpec, check_model, resolve_model
from harness.api.strategy import (NO_TRAINING_ROWS, choose_device, make_config,
                                  model_kind_for, supports)
from harness.inputs.kinds import KINDS, kind_of
from harness.inputs.tasks import AnyTask, Task, get_task


@dataclass(frozen=True, kw_only=True)
class _Planned:
    """One strategy as planned: what every cell of it shares."""

    name: str
    cls: type
    config: object
    backend: str
    device: str
    device_name: str
    code: dict
    packages: dict
    variants: tuple[str, ...]  # inference variants it loads, of those asked
    models: dict  # task kind -> ModelSpec | None
    inner: dict  # task kind -> {setting: ModelSpec} of the strategies it runs


def build_cells(request: GridRequest, notes: list[str] | None = None) -> list[Cell]:
    """Every cell of the grid, with its data loaded and subset, or a HarnessError. A strategy
    is planned only on the tasks whose kind it supports; each pair left out adds a line to
    `notes` (an error when nothing at all is left). Several training sizes (`n_train` a list,
    or `n_per_class`) make a learning curve: nested draws of each data seed, one cell per size
    for a strategy that trains, one cell in all for one that uses no training rows."""
    tasks = _tasks(request)
    strategies = _strategies(request, tasks, notes)
    sizes = train_sizes(request.n_train, request.n_per_class)
    data = _data(tasks, request.data_dir, request.profile, sizes, request.n_eval,
                 request.data_seeds, request.eval_seed)
    draws = [(seed, size) for seed in request.data_seeds for size in sizes]
    _check_tuning(request, strategies, notes)
    _check_precision(request, strategies, notes)
    return [cell for planned in strategies for cell in _cells_of(planned, request, data, draws)]


def _check_tuning(request: GridRequest, strategies: list, notes: list[str] | None) -> None:
    """`--tune N`: N >= 0; a note for each strategy it leaves as configured."""
    if not isinstance(request.tune, int) or isinstance(request.tune, bool) or request.tune < 0:
        raise HarnessError(f"--tune {request.tune!r} must be a whole number of trials, 0 or more")
    parallel = request.tune_parallel
    if not isinstance(parallel, int) or isinstance(parallel, bool) or parallel < 1:
        raise HarnessError(f"--tune-parallel {parallel!r} must be a whole number, 1 or more")
    if parallel > 1 and not request.tune:
        raise HarnessError(f"--tune-parallel {parallel} needs --tune N (the trials to run)")
    if parallel > request.tune > 0:
        raise HarnessError(f"--tune-parallel {parallel} is more than the {request.tune} trials "
                           f"of --tune {request.tune}")
    untuned = [p.name for p in strategies if not p.cls.search_space]
    if request.tune and untuned and notes is not None:
        notes.append(f"{', '.join(untuned)}: nothing to tune (no search space); run with "
                     f"the settings given")


def _check_precision(request: GridRequest, strategies: list, notes: list[str] | None) -> None:
    """`--precision`: one of CHOICES; a note for each strategy a forced bf16 leaves in fp32,
    and where bf16 would be emulated (slower than fp32)."""
    if request.precision not in CHOICES:
        raise HarnessError(f"--precision '{str(request.precision)[:40]}' is not one of "
                           f"{', '.join(CHOICES)}")
    if request.precision != BF16 or notes is None:
        return
    fp32_only = [p.name for p in strategies if BF16 not in p.cls.precisions]
    if fp32_only:
        notes.append(f"{', '.join(fp32_only)}: float32 only (bf16 not declared safe); run in "
                     f"fp32")
    emulated = sorted({p.device for p in strategies
                       if BF16 in p.cls.precisions and not native_bf16(p.device)})
    if emulated:
        notes.append(f"bf16 on {', '.join(emulated)} without native bf16 units: emulated, "
                     f"slower than fp32")


def _validated(cls: type, request: GridRequest) -> bool:
    """Rows are held out for a strategy that stops early on them, and for one being tuned."""
    return cls.uses_training_rows and (cls.uses_validation or bool(
        request.tune and cls.search_space))


def check_primary(task) -> None:
    """A task's `primary_metric`, if it names one, is a metric its kind can rank by (checked
    here, not where the task is read: the catalog is a stage above the task's inputs)."""
    named = getattr(task, "primary_metric", None)  # optional in a plugin kind's task class
    if named is None:
        return
    allowed = [metric.name for metric in catalog.primaries(task.kind)]
    if named not in allowed:
        hint = did_you_mean(str(named), allowed)
        hint = hint if "did you mean" in hint else ""  # the list follows anyway
        raise HarnessError(f"task '{task.name}': primary_metric {named!r} is not "
                           f"one a {task.kind} task ranks by{hint}; one of {', '.join(allowed)}")



def _tasks(request: GridRequest) -> list[AnyTask]:
    if not request.tasks:
        raise HarnessError("--task names no task: give one or more, e.g. --task agnews")
    for seed in request.data_seeds:
        check_seed(seed, "--data-seeds")
    check_seed(request.eval_seed, "--eval-seed")
    tasks = [get_task(name) for name in request.tasks]
    for task in tasks:
        check_primary(task)
    names_seen = [task.name for task in tasks]
    if len(set(names_seen)) != len(names_seen):  # their records would overwrite each other
        twice = next(name for name in names_seen if names_seen.count(name) > 1)
        raise HarnessError(f"--task: two tasks are named '{twice}'; task names must differ")
    return tasks


def _strategies(request: GridRequest, tasks: list[AnyTask],
                notes: list[str] | None) -> list[_Planned]:
    """The strategies asked, each checked and planned: config, device, code, backend, variants,
    model per task kind. Each check runs over every strategy before the next begins."""
    names = registry.select(request.strategies)
    classes = {name: registry.get(name) for name in names}
    for name in request.config:
        if name not in classes:
            raise HarnessError(f"--config names strategy '{name}', which is not being run")
    configs = {name: make_config(cls, request.config.get(name, {}))
               for name, cls in classes.items()}
    runs_on = _devices(classes)
    codes = {name: code_identity(registry.entries()[name].package, cls)
             for name, cls in classes.items()}
    named = request.strategies.strip() != "all"
    backends = {name: choose(name, cls, request.backend, named) for name, cls in classes.items()}
    for chosen in set(backends.values()):
        check_installed(chosen)
    if "api" in backends.values() and request.endpoint is None:
        raise HarnessError("--backend api prompts an OpenAI-compatible endpoint: give its URL "
                           "with --api-base (e.g. http://127.0.0.1:8000/v1) and its model "
                           "with --api-model")
    variants = _variants(classes, request.inference, tasks, notes)
    kinds = list(dict.fromkeys(task.kind for task in tasks))
    _check_supported(tasks, classes, notes)
    chosen_models = parse_model_overrides(request.models)
    models = _models(classes, kinds, chosen_models, request.trust_remote_code)
    _note_kinds_unused(request.models, classes, configs, kinds, notes)
    inner = _inner_strategies(classes, configs, codes, kinds, chosen_models,
                              request.trust_remote_code)
    planned = []
    for name, cls in classes.items():
        code = dict(codes[name])
        packages = code.pop("packages")
        device, device_name = runs_on[name]
        planned.append(_Planned(
            name=name, cls=cls, config=configs[name], backend=backends[name], device=device,
            device_name=device_name, code=code, packages=packages, variants=variants[name],
            models={kind: spec for (owner, kind), spec in models.items() if owner == name},
            inner={kind: found for (owner, kind), found in inner.items() if owner == name}))
    return planned


def _cells_of(planned: _Planned, request: GridRequest, data: tuple,
              draws: list) -> list[Cell]:
    """A strategy's cells. What it declares prunes the grid: a deterministic one gives the same
    predictions for every seed, one that uses no training rows for every data seed. Such a cell
    is planned once, under seed / data seed 0 whatever was asked, so that it is one cell (found
    finished) across runs with other seeds."""
    cls = planned.cls
    data, held = data
    # absolute: a Ray worker's folder is not ours
    data_dir = str(Path(request.data_dir).resolve()) if request.data_dir else None
    cells = []
    for drawn, size in draws if cls.uses_training_rows else draws[:1]:
        rows = [(task, train if cls.uses_training_rows else NO_TRAINING_ROWS, evaluation)
                for task, train, evaluation in data[drawn, size]
                if supports(cls, task)]
        for (task, train, evaluation), *rest in _groups(cls, rows):
            if cls.uses_training_rows and kind_of(task).labelled and \
                    len(np.unique(train.labels)) < 2:
                raise HarnessError(f"'{planned.name}' learns from training rows, and "
                                   f"{len(train)} training row(s) of '{task.name}' hold one "
                                   f"label: it needs at least two (--n-train, --n-per-class, or "
                                   f"the task's train split)")
            model = planned.models[task.kind]
            fit_train, validation = (held[drawn, size, task.name] if _validated(cls, request)
                                     else (None, None))
            if request.tune and validation is not None and not len(validation):
                raise HarnessError(f"--tune needs validation rows, held out of the training "
                                   f"rows: {len(train)} training rows of '{task.name}' leave "
                                   f"none (a label needs two rows)")
            drawn_rows = Rows(train=train, eval=evaluation, fit_train=fit_train,
                              validation=validation,
                              data_seed=drawn if cls.uses_training_rows else 0,
                              eval_seed=request.eval_seed,
                              n_per_class=size[1] if cls.uses_training_rows else None,
                              data_dir=data_dir, mixture=tuple(rest))
            provenance = Provenance(code=planned.code, packages=planned.packages,
                                    model_identity=model.identity() if model else {})
            tune = request.tune if cls.search_space and kind_of(task).validation else 0
            # The endpoint computes in its own number format, whatever this machine runs
            precision = "fp32" if planned.backend == "api" else precision_for(
                request.precision, cls.precisions, planned.device)
            for seed in (0,) if cls.deterministic else request.seeds:
                cells.append(Cell(
                    task=task, strategy=planned.name, strategy_class=cls, config=planned.config,
                    model=model, seed=seed, rows=drawn_rows, backend=planned.backend,
                    endpoint=request.endpoint if planned.backend == "api" else None,
                    device=planned.device, device_name=planned.device_name,
                    provenance=provenance,
                    inference=planned.variants if kind_of(task).variants else (),
                    strategy_models=planned.inner.get(task.kind, {}),
                    tune=tune, tune_parallel=request.tune_parallel if tune else 1,
                    precision=precision, precision_asked=request.precision,
                    validates=cls.uses_validation and validation is not None))
    return cells


def _groups(cls: type, rows: list[tuple]) -> list[list[tuple]]:
    """The (task, train, eval) of each cell: a strategy that can train one model on a task
    mixture does so when given several tasks of a kind that mixes (classification): one cell,
    one record per task; any other task runs in a cell of its own."""
    mixed = [one for one in rows if cls.multi_task and kind_of(one[0]).mixes]
    groups = [mixed] + [[one] for one in rows if not any(one is m for m in mixed)]
    return [group for group in groups if group]


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


def _data(tasks: list[AnyTask], data_dir, profile: str, sizes: list[TrainSize],
          n_eval: int | None, data_seeds: list[int],
          eval_seed: int) -> tuple[dict, dict]:
    """(task, training rows, evaluation rows) of every task, per data seed and training size:
    the training rows a prefix of the data seed's nested order (so the sizes of one seed are
    nested), the evaluation rows drawn with `eval_seed`, hence the same for all. And per
    (data seed, size, task name) those training rows split into (rows to fit on, validation
    rows), for the strategies that hold some out."""
    data: dict[tuple, list] = {(seed, size): [] for seed in data_seeds for size in sizes}
    held: dict[tuple, tuple[Split, Split]] = {}
    for task in tasks:
        profile_train, profile_eval = kind_of(task).profiles[profile]
        train_split = load_split(task, task.train_split, data_dir)
        for role, purpose in kind_of(task).extra_splits:
            try:
                load_split(task, getattr(task, role), data_dir)
            except HarnessError as err:
                raise HarnessError(f"task '{task.name}' needs its {role} "
                                   f"'{getattr(task, role)}' ({purpose}): {err.message}") \
                    from None
        evaluation = _rows(load_split(task, task.eval_split, data_dir), n_eval, profile_eval,
                           eval_seed, "--n-eval")
        for seed in data_seeds:
            for size in sizes:
                n, per_class = size
                if per_class is None:
                    n = _size(train_split, n, profile_train)
                train, fit_train, validation = training_draw(train_split, seed, n, per_class,
                                                             "--n-train")
                data[seed, size].append((task, train, evaluation))
                held[seed, size, task.name] = (fit_train, validation)
    return data, held


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
    wants_cuda = any("cuda" in cls.devices for cls in classes.values())
    gpu = environment.cuda_name() if wants_cuda else None
    chosen = {}
    for name, cls in classes.items():
        device = choose_device(cls, gpu is not None)
        chosen[name] = (device, gpu if device == "cuda" else environment.cpu_name())
    return chosen


def _note_kinds_unused(values: tuple[str, ...], classes: dict[str, type], configs: dict,
                       task_kinds: list[str], notes: list[str] | None) -> None:
    """`--model KIND=NAME` for a kind that no strategy of the run uses (nor one it runs, as
    distill's teacher) changes nothing: said in a note rather than ignored silently."""
    runs = [registry.get(getattr(configs[name], setting)) for name, cls in classes.items()
            for setting in cls.runs_strategies]
    used = {model_kind_for(cls, kind) for cls in [*classes.values(), *runs]
            for kind in task_kinds if kind in cls.task_kinds}
    for value in values:
        kind, sep, _ = value.partition("=")
        if sep and kind not in used and notes is not None:
            notes.append(f"--model {value}: no strategy of this run uses a {kind} model; "
                         f"it changes nothing")


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
