"""adapt-harness: which adaptation strategy should I use for my task, and what will it cost?

    harness run --strategies all --task agnews
    harness report
"""

__version__ = "0.1.0"

from harness import _compat

_compat.install()  # old module paths (harness.strategy, harness.tasks, ...) still import
