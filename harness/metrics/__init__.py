"""Every metric and statistic: the catalog of metrics (one row each), the statistics behind
their intervals, classification and generation metrics, and the judges."""

from harness import _compat


def __getattr__(name):  # the old module harness.metrics (now harness.metrics.classification)
    return _compat.old_attribute(__name__, name)
