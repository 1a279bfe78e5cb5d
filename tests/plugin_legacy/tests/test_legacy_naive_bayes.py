"""The plugin on the old paths runs the contract tests as it always did (harness.testing)."""

from harness.testing import check_strategy
from harness_legacy_plugin import NaiveBayes


def test_contract(tmp_path):
    check_strategy(NaiveBayes, None, tmp_path)
