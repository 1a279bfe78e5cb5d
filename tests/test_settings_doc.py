"""`harness list settings`: every setting with its default, what it accepts and what it means,
the meaning read from the `help` metadata of the config dataclass's fields and of those it
inherits."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Literal

from click.testing import CliRunner

from harness.api import registry
from harness.cli.main import main
from harness.api.settings_doc import documented_settings


@dataclass
class Base:
    """Not a setting's help."""

    epochs: float = field(default=3.0, metadata={"help": "passes over the rows"})
    rate: float = field(default=1e-4, metadata={"help": "the base's rate"})
    width: int = field(default=8, metadata={"help": "the base's width"})


@dataclass
class Child(Base):
    rate: float = field(default=1e-3, metadata={"help": "the child's own rate"})
    width: int = 16  # a new default only: a comment is no help, the base's help stays
    mode: Literal["a", "b"] = "a"  # comments are not read
    names: list[str] = field(default_factory=lambda: ["x"], metadata={"help": "names"})


def test_meanings_come_from_each_fields_help_its_own_or_the_base_field_it_redefines():
    settings = {s.name: s for s in documented_settings(Child)}
    assert list(settings) == ["epochs", "rate", "width", "mode", "names"]
    assert settings["epochs"].meaning == "passes over the rows"
    assert (settings["rate"].default, settings["rate"].meaning) == (1e-3, "the child's own rate")
    assert (settings["width"].default, settings["width"].meaning) == (16, "the base's width")
    assert (settings["mode"].accepts, settings["mode"].meaning) == ("one of 'a', 'b'", "")
    assert (settings["names"].default, settings["names"].meaning) == (["x"], "names")


def test_a_config_made_at_run_time_lists_its_settings_and_their_help():
    made = dataclasses.make_dataclass("Made", [
        ("k", int, field(default=2, metadata={"help": "neighbours"})),
        ("j", int, field(default=1))])
    assert [tuple(s) for s in documented_settings(made)] == [
        ("k", 2, "an integer", "neighbours"), ("j", 1, "an integer", "")]


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
    assert "learning_rate          0.0001" in distill and "passes over the rows fitted on" in distill
    assert "teacher                \"few-shot\"" in distill
    unknown = CliRunner().invoke(main, ["list", "settings", "loraa"])
    assert unknown.exit_code == 2 and "did you mean 'lora'" in unknown.output
    misplaced = CliRunner().invoke(main, ["list", "tasks", "agnews"])
    assert misplaced.exit_code == 2 and "takes no names" in misplaced.output
