"""What lets several `harness run` share one results folder, and cleans up after killed ones:
per-cell claims, the liveness of a pid, stale scratch folders.

    claim = Claim(store.claim_path(key))
    holder = claim.acquire()   # None: the cell is ours; else the live holder {"pid", "host", ...}
    try: ...                   # compute and save the cell
    finally: claim.release()

A claim is a file created atomically (O_CREAT | O_EXCL) holding the holder's pid, host and start
time. One whose holder is dead (same host, pid gone) or that is older than CLAIM_TIMEOUT_S is
broken, so a killed run never blocks the next one.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import tempfile
import time
from pathlib import Path

from harness.paths import HOST

# Longer than any cell: only a holder on another host (whose pid cannot be checked from here)
# or a reused pid has to wait this out.
CLAIM_TIMEOUT_S = 24 * 3600
# A claim file without its JSON was left by a process killed between creating and writing it,
# which takes microseconds.
UNWRITTEN_CLAIM_S = 60
SCRATCH_PREFIX = "harness-cell-"


def pid_alive(pid) -> bool:
    """Whether a process with this pid runs on this host (a zombie counts as dead)."""
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True  # no /proc (macOS): trust kill
    return state not in ("Z", "X")


class Claim:
    """One process's claim on one cell; see the module docstring."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.held = False
        self._mine = b""

    def acquire(self) -> dict | None:
        """Take the claim, breaking a stale one: None when it is ours, else its live holder."""
        holder = None
        for _ in range(5):  # a few rounds: others may release or break it meanwhile
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                holder = read_holder(self.path)
                if holder is None:
                    continue  # released between our attempt and our look
                if not is_stale(holder):
                    return holder
                _break(self.path, holder)
                continue
            self._mine = json.dumps({"pid": os.getpid(), "host": HOST,
                                     "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                                     "token": secrets.token_hex(8)}).encode()
            with os.fdopen(fd, "wb") as handle:
                handle.write(self._mine)
            self.held = True
            return None
        return holder or {"pid": None, "host": None}

    def release(self) -> None:
        """Remove the claim if it is still ours (a timed-out claim may have been taken over)."""
        if self.held:
            self.held = False
            try:
                if self.path.read_bytes() == self._mine:
                    self.path.unlink()
            except FileNotFoundError:
                pass


def read_holder(path: Path) -> dict | None:
    """The claim's content with its age; None when there is no claim."""
    try:
        stat = os.stat(path)
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        return None
    try:
        holder = json.loads(raw)
        holder = holder if isinstance(holder, dict) else {}
    except ValueError:
        holder = {}  # being written right now, or left unwritten by a kill
    return {"pid": holder.get("pid"), "host": holder.get("host"), **holder,
            "age_s": time.time() - stat.st_mtime, "_raw": raw, "_inode": stat.st_ino}


def is_stale(holder: dict) -> bool:
    if holder["age_s"] > CLAIM_TIMEOUT_S:
        return True
    if holder["pid"] is None:
        return holder["age_s"] > UNWRITTEN_CLAIM_S
    return holder["host"] == HOST and not pid_alive(holder["pid"])


def _break(path: Path, holder: dict) -> None:
    """Move the stale claim aside; if another process broke it first and a fresh claim took its
    place, what we moved is that fresh claim: put it back."""
    aside = path.with_name(f".{path.name}.broken-{os.getpid()}-{secrets.token_hex(4)}")
    try:
        os.rename(path, aside)
    except FileNotFoundError:
        return
    try:
        if aside.read_bytes() != holder["_raw"] or os.stat(aside).st_ino != holder["_inode"]:
            os.link(aside, path)  # fails if yet another claim is there: then that one holds
    except FileExistsError:
        pass
    finally:
        aside.unlink(missing_ok=True)


def scratch_dir() -> Path:
    """A new scratch folder named with this process's pid, so a later run can tell it is stale."""
    return Path(tempfile.mkdtemp(prefix=f"{SCRATCH_PREFIX}{os.getpid()}-"))


def remove_scratch(pid: int | None = None) -> int:
    """Remove the scratch folders and logs of `pid`, or by default of every dead process (left
    by a kill -9); returns how many were removed."""
    removed = 0
    for path in Path(tempfile.gettempdir()).glob(f"{SCRATCH_PREFIX}*"):
        owner = path.name[len(SCRATCH_PREFIX):].split("-")[0]
        if not owner.isdigit():
            continue  # not named by this version: not ours to judge
        if (int(owner) == pid) if pid is not None else not pid_alive(int(owner)):
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
            removed += 1
    return removed
