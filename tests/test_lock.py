"""Cross-process locks on the ledger."""

from __future__ import annotations

from pathlib import Path

import pytest

from ledger import lock
from ledger.errors import LockedError


def test_symlinked_path_shares_lock(tmp_path: Path) -> None:
    real = tmp_path / "data"
    real.mkdir()
    (tmp_path / "link").symlink_to(real)

    direct = lock.lock_path(real / "ledger.sqlite", "sync")
    linked = lock.lock_path(tmp_path / "link" / "ledger.sqlite", "sync")

    assert direct == linked


def test_held_lock_rejects_second_holder(tmp_path: Path) -> None:
    path = lock.lock_path(tmp_path / "ledger.sqlite", "sync")

    with (
        lock.hold(path),
        pytest.raises(LockedError, match="locked by process"),
        lock.hold(path, wait=0),
    ):
        pass


def test_lock_released_after_block(tmp_path: Path) -> None:
    path = lock.lock_path(tmp_path / "ledger.sqlite", "sync")
    with lock.hold(path):
        assert lock.is_held(path)

    assert not lock.is_held(path)
