"""What a run asks for, as one value: the CLI (or a test, or a notebook) builds a GridRequest by
keyword and planning turns it into cells (harness.plan.grid.build_cells). Also the parsers of
the option text that fills it (seeds, sizes, `--model` values).

    request = GridRequest(tasks=("agnews",), strategies="zero-shot,lora", seeds=(0, 1),
                          n_train=(32, 128), n_eval=500, config={"lora": {"epochs": "1"}})
    cells = build_cells(request, notes=[])
"""

from __future__ import annotations

from dataclasses import dataclass, field

from harness.api.endpoint import Endpoint
from harness.errors import HarnessError
from harness.inputs.models import DEFAULT_MODELS

# Seeds feed numpy and scikit-learn, which take 0 <= seed < 2**32; a larger one would be
# refused deep inside (or, for stratified subsets, silently fall back to an unstratified draw).
SEED_LIMIT = 2**32


@dataclass(frozen=True, kw_only=True)
class GridRequest:
    """The grid asked for, as given: names and values are checked when it is planned, so that a
    bad one is one line before anything runs. Sequences are kept as tuples."""

    tasks: tuple[str, ...]  # names or task YAML files
    strategies: str = "all"  # 'all' or comma-separated names
    models: tuple[str, ...] = ()  # `--model` values: NAME, or KIND=NAME per model kind
    seeds: tuple[int, ...] = (0,)
    profile: str = "quick"  # rows per task kind: each Kind's `profiles` (harness.inputs.kinds)
    n_train: int | tuple[int, ...] | None = None  # several sizes: a learning curve
    n_per_class: tuple[int, ...] | None = None  # training rows per label instead of n_train
    n_eval: int | None = None
    data_dir: str | None = None  # None: $HARNESS_DATA_DIR, else the hub
    data_seeds: tuple[int, ...] = (0,)  # draw the training rows
    eval_seed: int = 0  # draws the evaluation rows, the same for every data seed
    config: dict = field(default_factory=dict)  # strategy -> {setting: value as text}
    trust_remote_code: bool = False
    backend: str | None = None  # None: each strategy's own
    endpoint: Endpoint | None = None  # what the api backend prompts (--api-base, ...)
    inference: tuple[str, ...] = ()  # inference variants evaluated besides the default
    # Trials of each strategy's search space on validation rows (harness.cell.tuning); 0: none
    tune: int = 0
    # Trials asked at once, each round after the last is told (harness.cell.tuning.Search); >1:
    # the trials run as jobs of their own on the executor, then the chosen settings are refit
    tune_parallel: int = 1
    # auto: bf16 for strategies that declare it where the device runs it natively, else fp32
    precision: str = "auto"

    def __post_init__(self):
        for name in ("tasks", "models", "seeds", "data_seeds", "inference"):
            if isinstance(getattr(self, name), str):  # tuple() would split it into letters
                raise TypeError(f"GridRequest.{name} is a sequence, not the string "
                                f"{getattr(self, name)!r}")
            object.__setattr__(self, name, tuple(getattr(self, name)))
        for name in ("n_train", "n_per_class"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, int):
                object.__setattr__(self, name, tuple(value))


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


def parse_sizes(text: str | None, option: str) -> list[int] | None:
    """`--n-train 32,128,512` / `--n-per-class 8,32`: positive integers."""
    if text is None:
        return None
    sizes = _integers(text, option, "whole numbers, e.g. 32,128,512", "size")
    for size in sizes:
        if size <= 0:
            raise HarnessError(f"{option} sizes must be positive, got {size}")
    return sizes


def _integers(text: str, option: str, what: str, one: str) -> list[int]:
    """The comma-separated integers of an option, at least one."""
    items = text.split(",")
    if not text.replace(",", "").strip():
        raise HarnessError(f"{option} needs at least one {one}")
    if any(not item.strip() for item in items):  # "1,,2" or "32,": a value left out?
        raise HarnessError(f"{option} '{text}' has an empty item; give comma-separated {what}")
    try:
        values = [int(item) for item in items]
    except ValueError:
        raise HarnessError(f"{option} '{text}' must be comma-separated {what}") from None
    if any(abs(v) >= 10**18 for v in values):
        raise HarnessError(f"{option} '{text[:60]}': too large")
    return values


def check_seed(seed: int, option: str) -> None:
    if not 0 <= seed < SEED_LIMIT:
        raise HarnessError(f"{option} {seed} is out of range: seeds are integers in "
                           f"0..{SEED_LIMIT - 1}")
