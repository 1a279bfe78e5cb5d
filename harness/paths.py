"""Files: a path built from a task name or a record field stays inside its folder; every file
is written whole or not at all; the cache folder.

    md_path = inside(out, f"{task}.md")   # out/agnews.md; HarnessError for "../../x" or "/etc/x"
    check_writable(reports_dir, "reports")  # before anything runs; creates nothing
    write_atomic(md_path, text.encode())    # a reader sees the old file or the new one
"""

from __future__ import annotations

import hashlib
import os
import socket
import tempfile
from pathlib import Path

from harness.errors import HarnessError

CACHE_ENV = "HARNESS_CACHE_DIR"
HOST = socket.gethostname()
TEMP_PREFIX = ".tmp-"
# Temporary names carry pid and host, so that a store can tell a dead writer's leftover from
# another live process's write in flight (the host matters on a shared network folder).
HOST_TAG = hashlib.sha256(HOST.encode()).hexdigest()[:8]


def cache_dir() -> Path:
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "adapt-harness")


def temp_prefix() -> str:
    return f"{TEMP_PREFIX}{os.getpid()}-{HOST_TAG}-"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_atomic(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(prefix=temp_prefix(), dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes it private; records are shared
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


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
