"""`harness list settings`: every setting with its default, what it accepts and what it means,
the meaning read from the comments of the config dataclass and of those it inherits."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal

from click.testing import CliRunner

from harness.api import registry
from harness.cli.main import main
from harness.api.settings_doc import documented_settings


@dataclass
class Base:
    """Not a comment."""

    # the first line of a comment above
    # and its second line
    epochs: float = 3.0
    rate: float = 1e-4  # the base's rate

    def __post_init__(self):
        inner: int = 1  # noqa: F841 - a method's local is no setting


@dataclass
class Child(Base):
    rate: float = 1e-3  # the child's own rate

    mode: Literal["a", "b"] = "a"
    names: list[str] = dataclasses.field(default_factory=lambda: ["x"])


def test_meanings_come_from_the_comments_above_and_beside_each_field_inherited_or_not():
    settings = {s.name: s for s in documented_settings(Child)}
    assert list(settings) == ["epochs", "rate", "mode", "names"]
    assert settings["epochs"].meaning == "the first line of a comment above and its second line"
    assert (settings["rate"].default, settings["rate"].meaning) == (1e-3, "the child's own rate")
    assert (settings["mode"].accepts, settings["mode"].meaning) == ("one of 'a', 'b'", "")
    assert settings["names"].default == ["x"]


def test_a_config_made_at_run_time_lists_its_settings_without_meanings():
    made = dataclasses.make_dataclass("Made", [("k", int, dataclasses.field(default=2))])
    assert documented_settings(made)[0][:3] == ("k", 2, "an integer")


def test_every_built_in_setting_says_what_it_means():
    undocumented = [f"{name}.{s.name}" for name in registry.entries()
                    for s in documented_settings(registry.get(name).config_class)
                    if registry.entries()[name].package == "adapt-harness" and not s.meaning]
    assert undocumented == []


def test_harness_list_settings_shows_inherited_defaults_and_refuses_unknown_names():
    shown = CliRunner().invoke(main, ["list", "settings", "lora", "distill"])
    assert shown.exit_code == 0, shown.output
    lora, distill = shown.output.split("\n\n")[:2]
    assert "learning_rate          0.001" in lora and "adapters need a higher rate" in lora
    assert "learning_rate          0.0001" in distill and "passes over the training rows" in distill
    assert "teacher                \"few-shot\"" in distill
    unknown = CliRunner().invoke(main, ["list", "settings", "loraa"])
    assert unknown.exit_code == 2 and "did you mean 'lora'" in unknown.output
    misplaced = CliRunner().invoke(main, ["list", "tasks", "agnews"])
    assert misplaced.exit_code == 2 and "takes no names" in misplaced.output
