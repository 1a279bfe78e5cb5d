"""The generation example passes the contract for its task kind, on a tiny random decoder."""

from harness.api.testing import check_strategy, tiny_model_for
from harness_example_plugin import StylePreamble


def test_contract(tmp_path):
    check_strategy(StylePreamble, tiny_model_for("decoder", tmp_path), tmp_path,
                   task_kind="generation")
