"""Advisory file locks that keep syncs and schedulers of one ledger apart.

The lock files sit next to the SQLite file and hold the owner's pid and host, so a
refused command can name the process that holds the lock. The kernel releases a
lock when its process dies, so a crash never leaves a stale lock behind.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from ledger.errors import LockedError

log = logging.getLogger(__name__)

SYNC_WAIT_SECONDS = 15 * 60


def lock_path(ledger_path: Path, role: str) -> Path:
    """Return the lock file of `role` for a ledger, the same for every path to it.

    Symbolic links are resolved, so two processes that reach one ledger file by
    different paths take the same lock.
    """
    real = ledger_path.expanduser().resolve()
    return real.with_name(f"{real.name}.{role}.lock")


def read_owner(path: Path) -> dict[str, Any] | None:
    """Return the pid, host and start time written by the lock's holder, if any."""
    try:
        text = path.read_text(encoding="utf-8")
        owner = json.loads(text) if text.strip() else None
    except (OSError, ValueError):
        return None
    return owner if isinstance(owner, dict) else None


def is_held(path: Path) -> bool:
    """Tell whether some process holds the lock at `path` right now."""
    if not path.exists():
        return False
    with open(path, "a+", encoding="utf-8") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
    return False


@contextmanager
def hold(path: Path, *, wait: float = 0.0, what: str = "ledger") -> Iterator[None]:
    """Hold an exclusive lock on `path`, waiting up to `wait` seconds for it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(path, "a+", encoding="utf-8")  # noqa: SIM115 - closed in finally
    try:
        _acquire(handle, path, wait, what)
        _write_owner(handle)
        yield
    finally:
        handle.close()


def _acquire(handle: IO[str], path: Path, wait: float, what: str) -> None:
    deadline = time.monotonic() + wait
    announced = False
    while True:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            owner = read_owner(path)
            if time.monotonic() >= deadline:
                raise LockedError(
                    f"{what} is locked by {describe_owner(owner)}"
                ) from None
            if not announced:
                log.info("waiting for %s held by %s", what, describe_owner(owner))
                announced = True
            time.sleep(0.2)


def _write_owner(handle: IO[str]) -> None:
    owner = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "since": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    handle.seek(0)
    handle.truncate()
    handle.write(json.dumps(owner))
    handle.flush()


def describe_owner(owner: dict[str, Any] | None) -> str:
    if not owner:
        return "another process"
    return (
        f"process {owner.get('pid')} on {owner.get('host')} since {owner.get('since')}"
    )
