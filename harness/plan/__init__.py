"""The grid before anything runs: the request, its cells, and the identity (code, packages)
that keys each cell."""

from harness import _compat


def __getattr__(name):  # the old module harness.plan (now harness.plan.grid)
    return _compat.old_attribute(__name__, name)
