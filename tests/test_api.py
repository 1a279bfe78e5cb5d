"""What a strategy author imports: `harness.api`'s names, and StrategyBase's defaults, which the
built-ins lean on (declaring only what differs) and a class without the base still may spell out."""

from __future__ import annotations

import ast
import subprocess
import sys
from dataclasses import dataclass, field

import numpy as np
import pytest

import harness.api
from harness.api import registry
from harness.api.strategy import (
    DECLARATIONS,
    Footprint,
    StrategyBase,
    declaration_problems,
    predictions_from_scores,
)
from harness.api.testing import check_strategy
from harness.errors import HarnessError


def test_every_name_of_harness_api_is_the_object_of_its_module():
    for module, names in harness.api.EXPORTS.items():
        for name in names:
            assert getattr(harness.api, name) is getattr(sys.modules[module], name), name
    assert sorted(harness.api.__all__) == sorted(n for ns in harness.api.EXPORTS.values()
                                                 for n in ns)
    with pytest.raises(AttributeError):
        harness.api.not_a_name  # noqa: B018 - the lookup is the test


def test_the_type_checking_imports_list_exactly_the_lazy_names():
    # Type checkers, editors and the import graph read the imports; run time reads EXPORTS.
    tree = ast.parse(open(harness.api.__file__).read())
    guarded = next(node for node in tree.body if isinstance(node, ast.If))
    imported = {}
    for node in guarded.body:
        imported.setdefault(node.module, set()).update(alias.name for alias in node.names)
    assert imported == {module: set(names) for module, names in harness.api.EXPORTS.items()}


def test_the_cli_start_up_loads_no_numpy_through_harness_api():
    # harness --help imports harness.api.backends, so runs harness/api/__init__.py.
    code = "import sys, harness.cli.main; print(sorted({'numpy', 'torch'} & set(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "[]"


@dataclass
class CountsConfig:
    smoothing: float = field(default=1.0, metadata={"help": "added to every label's count"})


class MajorityLabel(StrategyBase):
    """Stating only what differs from the base: the contract passes."""

    name = "majority-label"
    description = "The most frequent training label, whatever the text."
    config_class = CountsConfig
    model_kind = None
    deterministic = True

    def __init__(self, config: CountsConfig, context):
        self.config, self.log_counts = config, None

    def fit(self, tasks) -> None:
        (task, train), = tasks
        counts = np.bincount(train.labels, minlength=task.num_labels) + self.config.smoothing
        self.log_counts = np.log(counts)

    def predict(self, texts, task, trial: int = 0):
        return predictions_from_scores(np.tile(self.log_counts, (len(texts), 1)))

    def footprint(self) -> Footprint:
        return Footprint(trainable_params=self.log_counts.size, total_params=self.log_counts.size)


def test_a_strategy_stating_only_what_differs_from_the_base_passes_the_contract(tmp_path):
    check_strategy(MajorityLabel, None, tmp_path)
    assert (MajorityLabel.trials, MajorityLabel.uses_training_rows) == (1, True)


def test_the_base_leaves_the_strategys_own_declarations_to_it():
    class Unnamed(StrategyBase):
        description = "lacks what no default can say"
        config_class = CountsConfig

        def fit(self, tasks): ...
        def predict(self, texts, task, trial=0): ...

    assert declaration_problems(Unnamed) == ["lacks name, model_kind, footprint"]
    with pytest.raises(HarnessError, match="lacks name, model_kind, footprint"):
        registry.register(Unnamed)


BUILT_INS = [name for name, entry in registry.entries().items()
             if entry.package == "adapt-harness"]
DEFAULTS = {name: getattr(StrategyBase, name) for name in DECLARATIONS
            if hasattr(StrategyBase, name)}


@pytest.mark.parametrize("name", BUILT_INS)
def test_a_built_in_inherits_the_base_and_restates_no_default(name):
    cls = registry.get(name)
    assert issubclass(cls, StrategyBase)
    mro = cls.__mro__
    above_the_base = mro[:mro.index(StrategyBase)]

    def inherited(at: int, attr: str):
        """What the class at `at` would have without its own statement (qlora sets fp32 back
        over lora's bf16: not a restatement)."""
        return next((vars(k)[attr] for k in mro[at + 1:] if attr in vars(k)), DEFAULTS[attr])

    restated = [f"{klass.__name__}.{attr}" for at, klass in enumerate(above_the_base)
                for attr in DEFAULTS
                if attr in vars(klass) and vars(klass)[attr] == inherited(at, attr)]
    assert restated == []
