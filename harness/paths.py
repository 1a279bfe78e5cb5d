"""Containment: a path built from a task name or a record field stays inside its folder.

    md_path = inside(out, f"{task}.md")   # out/agnews.md; HarnessError for "../../x" or "/etc/x"
    check_writable(reports_dir, "reports")  # before anything runs; creates nothing
"""

from __future__ import annotations

import os
from pathlib import Path

from harness.errors import HarnessError


def inside(root: str | os.PathLike, *parts: str) -> Path:
    """`root/parts...`, refused when it resolves (symlinks and `..` followed) outside `root`.

    Returned unresolved, so messages and printed paths keep the user's spelling."""
    base = Path(root).resolve()
    path = Path(root).joinpath(*parts)
    resolved = path.resolve()
    if resolved != base and base not in resolved.parents:
        raise HarnessError(f"'{os.path.join(*parts)}' would lie outside '{root}' "
                           f"(at {resolved}); names must not hold '..', '/' or links out")
    return path


def check_writable(folder: str | os.PathLike, what: str) -> None:
    """Fail early when `folder` could not be created or written to, without creating it:
    the nearest existing ancestor must be a folder we may write into."""
    probe = Path(folder).absolute()
    try:
        while not probe.exists():
            probe = probe.parent
        if not probe.is_dir():
            reason = f"'{probe}' is not a folder"
        elif not os.access(probe, os.W_OK | os.X_OK):
            reason = f"'{probe}' is read-only"
        else:
            return
    except OSError as err:
        reason = err.strerror or str(err)
    raise HarnessError(f"cannot write to {what} folder '{folder}': {reason}")
