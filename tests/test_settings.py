"""Settings are checked in the plan: `-c STRATEGY.FIELD=VALUE` against the config's annotations
and its __post_init__, one line and exit 2 before any process starts or any file is written."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import pytest
from click.testing import CliRunner

from harness.api import registry
from harness.cli.main import main
from harness.errors import HarnessError
from harness.api.settings import at_least, build_config, check, parse_setting
from harness.api.strategy import make_config


def parse(raw, annotation):
    return parse_setting("toy", "field", raw, annotation)


def rejected(raw, annotation) -> str:
    with pytest.raises(HarnessError) as error:
        parse(raw, annotation)
    return error.value.format_message()


@pytest.mark.parametrize("raw, expected", [("3", 3), (3, 3), ("-2", -2), ("2e3", 2000)])
def test_int_accepts_integers(raw, expected):
    value = parse(raw, int)
    assert value == expected and type(value) is int


@pytest.mark.parametrize("raw", ["1.5", "true", True, '"3"', "abc", "null", "[1]"])
def test_int_rejects_everything_else(raw):
    assert "expected an integer, got" in rejected(raw, int)


@pytest.mark.parametrize("raw", ["99999999999999999999", "1e23", -10**19])
@pytest.mark.parametrize("annotation", [int, int | None])
def test_int_refuses_what_no_library_takes(raw, annotation):
    assert rejected(raw, annotation).endswith("too large (an integer has at most 18 digits)")


@pytest.mark.parametrize("raw, expected", [("3", 3.0), ("1e-3", 0.001), (2, 2.0), ("-0.5", -0.5)])
def test_float_accepts_finite_numbers(raw, expected):
    value = parse(raw, float)
    assert value == expected and type(value) is float


@pytest.mark.parametrize("raw", ["NaN", "Infinity", "-Infinity", "true", "abc", '"1"'])
def test_float_rejects_non_finite_and_non_numbers(raw):
    assert "expected a finite number" in rejected(raw, float)


@pytest.mark.parametrize("raw, expected", [("true", True), ("false", False), ("False", False),
                                           (True, True)])
def test_bool_accepts_true_and_false(raw, expected):
    assert parse(raw, bool) is expected


@pytest.mark.parametrize("raw", ["1", "0", "yes", 1, "null"])
def test_bool_rejects_numbers_and_words(raw):
    assert "expected true or false" in rejected(raw, bool)


@pytest.mark.parametrize("raw, expected", [("sum", "sum"), ('"two"', "two"), ("2024", "2024"),
                                           ("true", "true")])
def test_str_keeps_text(raw, expected):
    assert parse(raw, str) == expected


def test_optional_accepts_null_and_none():
    assert parse("null", int | None) is None
    assert parse("None", int | None) is None
    assert parse(None, int | None) is None
    assert parse("None", str | None) is None  # the dataclass's own spelling of the default
    assert parse("7", int | None) == 7


def test_one_line_message_names_setting_value_and_what_is_valid():
    with pytest.raises(HarnessError) as error:
        parse_setting("zero-shot", "max_batch_tokens", "abc", int | None)
    assert error.value.format_message() == (
        "-c zero-shot.max_batch_tokens=abc: expected an integer or null, got 'abc'")
    assert error.value.exit_code == 2


def test_literal_lists_the_choices():
    assert parse("mean", Literal["sum", "mean"]) == "mean"
    assert parse('"sum"', Literal["sum", "mean"]) == "sum"
    message = rejected("median", Literal["sum", "mean"])
    assert message == "-c toy.field=median: expected one of 'sum', 'mean', got 'median'"


def test_literal_compares_type_as_well_as_value():
    assert parse("2", Literal[1, 2]) == 2
    assert "expected one of 1, 2" in rejected("true", Literal[1, 2])  # True == 1 in Python


def test_sequences_convert_each_item():
    assert parse("[1, 2]", tuple[int, ...]) == (1, 2)
    assert parse('["a", "b"]', list[str]) == ["a", "b"]
    assert parse('[3, "x"]', tuple[int, str]) == (3, "x")
    assert "expected a JSON list, each an integer" in rejected('[1, "x"]', tuple[int, ...])
    assert "expected" in rejected("[1]", tuple[int, str])  # wrong length
    assert "expected" in rejected("1,2", list[int])


@dataclass
class ToyConfig:
    steps: int = 3
    rate: float = 0.1
    mode: Literal["a", "b"] = "a"
    limit: int | None = None
    broken: bool = False  # raises a multi-line ValueError, as third-party code might

    def __post_init__(self):
        at_least(self, 1, "steps", "limit")
        check(self, "rate", 0 < self.rate < 1, "in (0, 1)")
        if self.broken:
            raise ValueError("first line\n  second line")


class Toy:
    name = "toy"
    config_class = ToyConfig


def build_error(**overrides) -> str:
    with pytest.raises(HarnessError) as error:
        build_config(Toy, overrides)
    return error.value.format_message()


def test_build_config_types_values_and_runs_post_init():
    config = build_config(Toy, {"steps": "5", "rate": "0.5", "mode": "b", "limit": "null"})
    assert (config.steps, config.rate, config.mode, config.limit) == (5, 0.5, "b", None)
    assert build_error(steps="0") == "-c toy.steps=0: must be >= 1"
    assert build_error(limit=0) == "-c toy.limit=0: must be >= 1"
    assert build_error(rate="1") == "-c toy.rate=1: must be in (0, 1)"


def test_build_config_errors_are_one_line():
    assert build_error(broken="true") == "strategy 'toy' settings: first line second line"
    assert build_error(stpes="1") == "strategy 'toy' has no setting 'stpes' (did you mean 'steps'?)"


@pytest.mark.parametrize("strategy, overrides, attribute, expected", [
    ("tfidf-logreg", {"max_ngram": "1"}, "max_ngram", 1),
    ("few-shot", {"trials": "2"}, "trials", 2),
    ("zero-shot", {"max_batch_tokens": "null"}, "max_batch_tokens", None),
    ("zero-shot", {"max_batch_tokens": "4096"}, "max_batch_tokens", 4096),
    ("zero-shot", {"scoring": "pmi"}, "scoring", "pmi"),
    ("zero-shot", {"calibrate": "false"}, "calibrate", False),
    ("instruction-tuned", {"scoring": "mean"}, "scoring", "mean"),
    ("full-finetune", {"epochs": "1"}, "epochs", 1.0),
    ("lora", {"target_modules": "query,value"}, "target_modules", "query,value"),
])
def test_valid_overrides_build_typed_configs(strategy, overrides, attribute, expected):
    value = getattr(make_config(registry.get(strategy), overrides), attribute)
    assert value == expected and type(value) is type(expected)


@pytest.mark.parametrize("strategy, field, raw, message", [
    ("zero-shot", "max_batch_tokens", "abc", "expected an integer or null, got 'abc'"),
    ("tfidf-logreg", "max_ngram", '"two"', "expected an integer, got '\"two\"'"),
    ("tfidf-logreg", "C", "NaN", "expected a finite number"),
    ("zero-shot", "scoring", "median", "expected one of 'sum', 'mean', 'pmi'"),
    ("few-shot", "calibrate", "1", "expected true or false"),
    ("zero-shot", "vllm_memory_share", "0", "must be in (0, 1]"),
    ("instruction-tuned", "max_batch_tokens", "0", "must be >= 1"),
    ("few-shot", "k_per_class", "0", "must be >= 1"),
    ("few-shot", "trials", "0", "must be >= 1"),
    ("lora", "r", "0", "must be >= 1"),
    ("qlora", "dropout", "1", "must be in [0, 1)"),  # lora's checks, named for qlora
    ("full-finetune", "learning_rate", "-1e-4", "must be > 0"),
    ("instruction-tuned", "batch_size", "0", "must be in [1, 65536]"),
    ("embedding-probe", "max_length", "0", "must be >= 1"),
    # Upper bounds: beyond them a run diverges, never ends or overflows a library (issue 27)
    ("full-finetune", "learning_rate", "1e300", "must be in [0, 1]"),
    ("lora", "epochs", "1e12", "must be in [0, 10000]"),
    ("full-finetune", "batch_size", "1e9", "must be in [1, 65536]"),
    ("embedding-probe", "max_length", "99999999999999999999", "too large"),
    ("embedding-probe", "max_length", "9999999999", "must be in [1, 2147483647]"),
    ("tfidf-logreg", "max_iter", "1e23", "too large"),
    ("lora", "max_length", "2e6", "must be in [1, 1048576]"),
])
def test_built_in_settings_are_checked(strategy, field, raw, message):
    with pytest.raises(HarnessError) as error:
        make_config(registry.get(strategy), {field: raw})
    text = error.value.format_message()
    assert text.startswith(f"-c {strategy}.{field}={raw}: ") and message in text
    assert "\n" not in text


@pytest.mark.parametrize("setting, words", [
    ("zero-shot.max_batch_tokens=abc", ["zero-shot.max_batch_tokens=abc", "integer or null"]),
    ('tfidf-logreg.max_ngram="two"', ["tfidf-logreg.max_ngram", "expected an integer"]),
    ("zero-shot.scoring=median", ["zero-shot.scoring=median", "'sum', 'mean', 'pmi'"]),
    ("few-shot.k_per_class=0", ["few-shot.k_per_class=0", "must be >= 1"]),
])
def test_bad_setting_fails_the_plan_in_one_line_and_writes_nothing(setting, words, data_dir,
                                                                    tmp_path):
    strategy = setting.split(".")[0]
    result = CliRunner().invoke(main, [
        "run", "-s", strategy, "-c", setting, "--out", str(tmp_path / "r"),
        "--reports", str(tmp_path / "rep"), "--data-dir", str(data_dir),
        "--n-train", "8", "--n-eval", "8"])
    lines = result.output.strip().splitlines()
    assert result.exit_code == 2, result.output
    assert len(lines) == 1 and all(word in lines[0] for word in words), result.output
    assert list(tmp_path.iterdir()) == []
