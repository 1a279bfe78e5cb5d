"""A cell is recomputed whenever anything that changes its numbers changes, and nothing else:
the task's content, the strategy's code, package versions, the device, the model's weights."""

import shutil
import sys
import textwrap
from pathlib import Path


from harness.api import registry
from harness.plan import identity
from harness.inputs.models import ModelSpec
from harness.inputs.model_identity import describe, revision
from harness.plan.grid import build_cells
from harness.plan.request import GridRequest
from harness.execution.driver import run_cells
from harness.results.store import Store

def write_tasks(folder: Path) -> dict[str, Path]:
    """Two small YAML tasks with their data; returns the task files."""
    rows = "text,label\n" + "".join(f"row {i} about {'cats' if i % 2 else 'cars'},{i % 2}\n"
                                    for i in range(20))
    files = {}
    for name in ("alpha", "beta"):
        (folder / name).mkdir(parents=True)
        (folder / name / "train.csv").write_text(rows)
        (folder / name / "test.csv").write_text(rows)
        files[name] = folder / f"{name}.yaml"
        files[name].write_text(textwrap.dedent(f"""\
            name: {name}
            labels: [cars, cats]
            prompt_template: "Topic: {{text}} ({{choices}})"
            hub_id: none/none
            """))
    return files


def keys(cells) -> dict[tuple, str]:
    return {(c.task.name, c.strategy): c.key for c in cells}


def test_editing_a_task_file_recomputes_that_tasks_cells_only(toys, tmp_path):
    tasks = write_tasks(tmp_path / "data")
    store = Store(tmp_path / "results")
    store.prepare()

    def plan():
        return build_cells(GridRequest(tasks=[str(tasks["alpha"]), str(tasks["beta"])],
                                       strategies="toy-first-label,toy-writes-artifact",
                                       data_dir=tmp_path / "data", n_train=8, n_eval=8))

    before = plan()
    # In this process: which cells recompute is the driver's business, not the cell's.
    run_cells(before, store, isolate=False, echo=lambda _: None)
    tasks["alpha"].write_text(tasks["alpha"].read_text().replace("Topic:", "Subject:"))
    after = plan()
    changed = {k for k, key in keys(after).items() if keys(before)[k] != key}
    assert changed == {("alpha", "toy-first-label"), ("alpha", "toy-writes-artifact")}
    lines = []
    summary = run_cells(after, store, isolate=False, echo=lines.append)
    assert (summary.ran, summary.skipped) == (2, 2)
    assert all("already finished" in line for line in lines if "beta" in line)


def test_editing_a_strategys_code_recomputes_its_cells_only(toys, tmp_path, monkeypatch,
                                                            data_dir):
    module = tmp_path / "toy_plugin_code.py"
    module.write_text(textwrap.dedent("""\
        from toy_strategies import FirstLabel

        class Edited(FirstLabel):
            name = "toy-edited"
        """))
    monkeypatch.syspath_prepend(str(tmp_path))
    from toy_plugin_code import Edited

    registry.register(Edited)
    try:
        def plan():
            return build_cells(GridRequest(tasks=["agnews"],
                                           strategies="toy-edited,toy-first-label",
                                           data_dir=data_dir, n_train=8, n_eval=8))

        before = keys(plan())
        module.write_text(module.read_text().replace(
            "class Edited(FirstLabel):\n", 'class Edited(FirstLabel):\n    """Documented."""\n\n'
            "    # why it is named so\n") + "    # more comments\n")
        documented = keys(plan())  # comments, docstrings, blank lines: no number changes
        module.write_text(module.read_text() + "    scale = 2  # a change in behaviour\n")
        after = keys(plan())
    finally:
        registry.unregister("toy-edited")
        sys.modules.pop("toy_plugin_code", None)
    assert documented == before
    assert before[("agnews", "toy-edited")] != after[("agnews", "toy-edited")]
    assert before[("agnews", "toy-first-label")] == after[("agnews", "toy-first-label")]


def test_a_module_counts_by_the_package_it_lives_in(tmp_path, monkeypatch):
    """A new module under a computing package changes every cell's code identity; one under a
    presenting package (harness/report) changes none: no list of modules to keep by hand."""
    real = identity._package_root("harness")
    copy = tmp_path / "harness"
    shutil.copytree(real, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(identity, "_package_root",
                        lambda top: copy if top == "harness" else real.parent / top)
    strategy = registry.get("tfidf-logreg")

    def code():
        return identity.code_identity("adapt-harness", strategy)

    before = code()
    assert code() == before  # the same files: the same identity, nothing recomputed
    (copy / "report" / "kappa_section.py").write_text("def section(frame):\n    return []\n")
    assert code() == before
    (copy / "metrics" / "kappa.py").write_text("def kappa(gold, predicted):\n    return 0.0\n")
    after = code()
    assert after["harness_sha"] != before["harness_sha"]
    assert after["sources_sha"] == before["sources_sha"]  # the strategy's own code is unchanged


def test_every_harness_package_is_computing_or_not():
    """A new package is decided when it is made, not found missing from the identity later."""
    root = identity._package_root("harness")
    packages = {f"harness.{path.parent.name}" for path in root.glob("*/__init__.py")}
    assert not set(identity.COMPUTING) & set(identity.NOT_COMPUTING)
    assert packages == set(identity.COMPUTING) | set(identity.NOT_COMPUTING), \
        "put the new package in identity.COMPUTING or identity.NOT_COMPUTING"


def test_a_package_version_recomputes_the_cells_that_import_it(monkeypatch, tiny_encoder,
                                                               tiny_decoder, data_dir):
    def plan():
        cells = build_cells(GridRequest(tasks=["agnews"], strategies="lora,tfidf-logreg,zero-shot",
                                        data_dir=data_dir, n_train=8, n_eval=8,
                                        models=(f"encoder={tiny_encoder.source}",
                                                f"decoder={tiny_decoder.source}")))
        return {c.strategy: c.key for c in cells}

    before = plan()
    real = identity._version
    monkeypatch.setattr(identity, "_version",
                        lambda name: "99.0" if name == "peft" else real(name))
    after = plan()
    assert {s for s in before if before[s] != after[s]} == {"lora"}


def test_another_device_recomputes_the_cells_that_use_it(monkeypatch, tiny_decoder, data_dir):
    def plan():
        cells = build_cells(GridRequest(tasks=["agnews"], strategies="tfidf-logreg,zero-shot",
                                        data_dir=data_dir, n_train=8, n_eval=8,
                                        models=(f"decoder={tiny_decoder.source}",)))
        return {c.strategy: c for c in cells}

    before = plan()
    import harness.environment

    monkeypatch.setattr(harness.environment, "cuda_name", lambda: "NVIDIA H200")
    after = plan()
    assert after["zero-shot"].device == "cuda" and after["zero-shot"].key != before["zero-shot"].key
    # A strategy that declares it runs on the CPU only stays a CPU cell on a GPU machine.
    assert after["tfidf-logreg"].device == "cpu"
    assert after["tfidf-logreg"].key == before["tfidf-logreg"].key


def test_other_weights_under_the_same_name_are_another_model(tmp_path, tiny_decoder):
    folder = Path(tiny_decoder.source)
    same = ModelSpec("smollm2-135m-instruct", str(folder))
    assert revision(same) == revision(ModelSpec("x", str(folder)))  # content, not the name
    copy = tmp_path / "copy"
    copy.mkdir()
    for path in folder.iterdir():
        (copy / path.name).write_bytes(path.read_bytes())
    assert revision(ModelSpec("x", str(copy))) == revision(same)
    weights = next(copy.glob("*.safetensors"))
    weights.write_bytes(weights.read_bytes()[:-1] + b"\0")
    assert revision(ModelSpec("x", str(copy))) != revision(same)


def test_a_gguf_preset_says_it_is_a_dequantized_conversion(tmp_path):
    gguf = tmp_path / "SmolLM2-135M-Instruct.Q4_1.gguf"
    gguf.write_bytes(b"GGUF")
    assert describe(ModelSpec("smollm2-135m-instruct", str(gguf))) == \
        "GGUF Q4_1, de-quantized to float32"
    hub = describe(ModelSpec("smollm2-135m-instruct", "HuggingFaceTB/SmolLM2-135M-Instruct"))
    assert hub.startswith("hub HuggingFaceTB/")


def test_a_settings_help_text_is_documentation_not_code():
    """`harness list settings` reads a field's help from its metadata: rewording it recomputes
    nothing, while a new default does."""
    source = ("from dataclasses import dataclass, field\n@dataclass\nclass C:\n"
              "    epochs: int = field(default=3, metadata={{'help': '{help}'}})\n")
    one = identity._code(source.format(help="passes over the rows").encode())
    reworded = identity._code(source.format(help="how many passes").encode())
    other_default = identity._code(source.replace("default=3", "default=4")
                                   .format(help="passes over the rows").encode())
    assert one == reworded
    assert one != other_default
