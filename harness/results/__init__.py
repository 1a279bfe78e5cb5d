"""Stored results: the store of records and predictions, claims shared by concurrent runs,
prices, and results as DataFrames."""

from harness import _compat


def __getattr__(name):  # the old module harness.results (now harness.results.frames)
    return _compat.old_attribute(__name__, name)
