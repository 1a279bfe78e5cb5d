"""Old import paths, kept for strategies written before the packages by stage (2026-12-05):
`from harness.strategy import Context` still works and warns (DeprecationWarning) with the new
path. New code imports from `harness.api` (see docs/writing-a-strategy.md). An old path is the
very module at its new place (an alias, not a copy), so `isinstance` and monkeypatching see one
object. To be removed after one release.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
import warnings

# Old module -> where it lives now. A package that kept an old module's name (harness.metrics,
# harness.plan, harness.results) answers the old names itself (its __init__'s __getattr__).
MOVED = {
    "harness.anchors": "harness.report.anchors",
    "harness.backends": "harness.api.backends",
    "harness.batching": "harness.api.batching",
    "harness.claims": "harness.results.claims",
    "harness.cli": "harness.cli.main",
    "harness.cost": "harness.results.cost",
    "harness.data": "harness.inputs.data",
    "harness.dispatch": "harness.execution.driver",
    "harness.execution": "harness.execution.settings",
    "harness.execution_options": "harness.cli.execution_options",
    "harness.executors": "harness.execution.executors",
    "harness.executors.local": "harness.execution.local",
    "harness.executors.ray_cluster": "harness.execution.ray_cluster",
    "harness.generation_cell": "harness.cell.generation",
    "harness.generation_metrics": "harness.metrics.generation",
    "harness.gpus": "harness.projection.devices",
    "harness.identity": "harness.plan.identity",
    "harness.inference": "harness.api.variants",
    "harness.isolation": "harness.cell.isolation",
    "harness.lm_scoring": "harness.metrics.lm_scoring",
    "harness.measure": "harness.cell.measure",
    "harness.metrics": "harness.metrics.classification",
    "harness.model_identity": "harness.inputs.model_identity",
    "harness.models": "harness.inputs.models",
    "harness.plan": "harness.plan.grid",
    "harness.progress": "harness.execution.progress",
    "harness.project_cli": "harness.cli.project",
    "harness.projection": "harness.projection.project",
    "harness.projection_measure": "harness.projection.measure",
    "harness.projection_model": "harness.projection.model",
    "harness.recommend": "harness.recommend.options",
    "harness.recommend_run": "harness.recommend.run",
    "harness.recommend_text": "harness.recommend.text",
    "harness.registry": "harness.api.registry",
    "harness.resources": "harness.api.resources",
    "harness.results": "harness.results.frames",
    "harness.runner": "harness.cell.runner",
    "harness.settings": "harness.api.settings",
    "harness.settings_doc": "harness.api.settings_doc",
    "harness.stats": "harness.metrics.stats",
    "harness.store": "harness.results.store",
    "harness.strategy": "harness.api.strategy",
    "harness.style_judge": "harness.metrics.style_judge",
    "harness.tasks": "harness.inputs.tasks",
    "harness.testing": "harness.api.testing",
    "harness.variants": "harness.cell.variants",
}
KEPT_NAMES = ("harness.metrics", "harness.plan", "harness.results")


class _OldPaths(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, fullname, path=None, target=None):
        if fullname in MOVED and fullname not in KEPT_NAMES:
            return importlib.util.spec_from_loader(fullname, self)
        return None

    def create_module(self, spec):
        warnings.warn(f"{spec.name} moved to {MOVED[spec.name]}; the old path will be removed",
                      DeprecationWarning, stacklevel=2)
        return importlib.import_module(MOVED[spec.name])

    def exec_module(self, module):
        pass  # already executed under its new name


def install() -> None:
    if not any(isinstance(finder, _OldPaths) for finder in sys.meta_path):
        sys.meta_path.append(_OldPaths())


def old_attribute(package: str, name: str):
    """A name the old module of a package's name defined (PEP 562 __getattr__ of that package)."""
    if name.startswith("__"):
        raise AttributeError(name)
    module = importlib.import_module(MOVED[package])
    try:
        return getattr(module, name)
    except AttributeError:
        raise AttributeError(f"module {package!r} has no attribute {name!r}") from None
