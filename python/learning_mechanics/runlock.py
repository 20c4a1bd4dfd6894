"""The run folder's writer lock, the same file and rules as src/shared/runLock.ts (docs/run-format.md,
"Locks"): `<run>/.lock` holds the owner's pid, purpose and start time as JSON and is created with
O_EXCL, so of two processes only one gets it; a lock whose pid is no longer alive is stale and is
taken over. The logger holds it while a run is open, so `lm train`/`resume` of the TypeScript
trainer, a second logger and a reopen refuse the folder while the script writes it.
"""

from __future__ import annotations

import errno
import json
import os
import time
from typing import Dict, Optional, Union

TRAINER_LOCK = ".lock"
ANALYZER_LOCK = os.path.join("analyses", ".lock")

Owner = Dict[str, Union[int, str]]


class RunLockedError(RuntimeError):
    """The folder is in use by another live process: the message names its pid and purpose."""

    def __init__(self, lock_path: str, owner: Owner) -> None:
        super().__init__(f"{lock_path}: run folder in use by pid {owner['pid']} ({owner['purpose']} since {owner['since']})")
        self.lock_path = lock_path
        self.owner = owner


def pid_alive(pid: int) -> bool:
    """True when a process with this pid exists (EPERM: it exists but is not ours)."""
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except OSError as e:
        return e.errno == errno.EPERM
    return True


def _read_owner(path: str) -> Optional[Owner]:
    """The lock's owner, or None when the file is not a small regular file holding JSON with a pid
    (a write cut short, or something planted: never followed, never trusted)."""
    try:
        st = os.lstat(path)
        if not (st.st_mode & 0o170000 == 0o100000) or st.st_size > 4096:
            return None
        with open(path, encoding="utf-8") as f:
            value = json.load(f)
    except (OSError, ValueError):
        return None
    if not isinstance(value, dict) or type(value.get("pid")) is not int:
        return None
    purpose, since = value.get("purpose"), value.get("since")
    return {"pid": value["pid"], "purpose": purpose if isinstance(purpose, str) else "train", "since": since if isinstance(since, str) else "unknown"}


class RunLock:
    """A held lock; `release` removes the file if this process still owns it."""

    def __init__(self, path: str, recovered: Optional[Owner]) -> None:
        self.path = path
        self.recovered = recovered
        self._released = False

    def release(self) -> None:
        if self._released:
            return
        self._released = True
        owner = _read_owner(self.path)
        if owner is not None and owner["pid"] == os.getpid():
            try:
                os.remove(self.path)
            except FileNotFoundError:
                pass


def acquire(run_dir: str, rel_path: str = TRAINER_LOCK, purpose: str = "train") -> RunLock:
    """Takes the lock `rel_path` of `run_dir` for this process, or raises RunLockedError naming the
    live owner. The lock's folder must exist."""
    path = os.path.join(run_dir, rel_path)
    me = {"pid": os.getpid(), "purpose": purpose, "since": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())}
    recovered: Optional[Owner] = None
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    for _ in range(3):
        try:
            fd = os.open(path, flags, 0o644)
        except FileExistsError:
            pass
        else:
            try:
                os.write(fd, json.dumps(me).encode("utf-8"))
            finally:
                os.close(fd)
            return RunLock(path, recovered)
        owner = _read_owner(path)
        if owner is not None and (owner["pid"] == os.getpid() or pid_alive(int(owner["pid"]))):
            raise RunLockedError(path, owner)
        # Stale (dead pid) or unreadable: take it over. The name is removed, never followed.
        if owner is not None:
            recovered = owner
        try:
            os.remove(path)
        except FileNotFoundError:
            pass
    raise RuntimeError(f"{path}: could not take the lock (it keeps reappearing)")
