"""The plugin runs the same contract tests as the built-in strategies."""

from harness.api.testing import check_strategy
from harness_example_plugin import NaiveBayes


def test_contract(tmp_path):
    check_strategy(NaiveBayes, None, tmp_path)
