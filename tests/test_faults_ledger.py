"""Ledger faults: long readers, concurrent pollers, read-only and full storage.

A poll either commits everything or leaves the ledger as it was (invariant 1),
and a later poll records every sale exactly once (invariant 3).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from sqlalchemy.engine import make_url

from ledger.gumroad.client import GumroadClient
from ledger.poller import poll
from ledger.store.db import create_ledger_engine
from tests.conftest import GUMROAD_TOKEN, CliResult, run_cli
from tests.fault_helpers import (
    assert_clean_cli,
    file_size_limit,
    finish,
    held_read_transaction,
    last_error_line,
    poll_statuses,
    private_mounts_available,
    run_cli_with_mounts,
    start_cli,
    total_deltas,
)
from tests.ledger_helpers import rows

if TYPE_CHECKING:
    from tests.fault_world import World

pytest_plugins = ["tests.fault_world"]

# A recursive count that keeps one read statement running for a second or two.
SLOW_QUERY = (
    "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n "
    "WHERE x < 3000000) SELECT COUNT(*) AS rows_counted FROM n"
)
needs_private_mounts = pytest.mark.skipif(
    not private_mounts_available(),
    reason="mounting in a private namespace needs root with CAP_SYS_ADMIN",
)


def seed(world: World, count: int) -> list[str]:
    return [
        world.gumroad.add_product(
            name=f"Product {number}", sales_count=number, revenue_usd_cents=100 * number
        )
        for number in range(1, count + 1)
    ]


def digest(path: Path) -> str:
    """Hash the ledger file and its WAL, which hold every committed byte."""
    hasher = hashlib.sha256()
    for part in (path, path.with_name(path.name + "-wal")):
        if part.exists():
            hasher.update(part.read_bytes())
    return hasher.hexdigest()


# Readers do not block a poll (WAL mode)


def test_poll_commits_during_open_read(world: World) -> None:
    ids = seed(world, 3)
    world.poll()
    world.gumroad.sell(ids[0], 2, usd_cents=2000)

    with held_read_transaction(world.path) as reader:
        result = world.poll()
        seen_by_reader = reader.execute("SELECT COUNT(*) FROM polls").fetchone()

    assert result.status == "ok"
    assert seen_by_reader == (1,)
    assert total_deltas(world.engine) == (2, 2000)


def test_poll_commits_during_slow_sql(world: World) -> None:
    ids = seed(world, 3)
    world.poll()
    world.gumroad.sell(ids[1], 1, usd_cents=900)
    query = start_cli("sql", "--json", SLOW_QUERY, env=world.env)

    polled_while_reading = 0
    while query.poll() is None and polled_while_reading < 3:
        world.poll()
        polled_while_reading += query.poll() is None
    answered = finish(query)

    assert answered.returncode == 0, answered.stderr
    assert '"rows_counted": 3000000' in answered.stdout
    assert polled_while_reading >= 1
    assert set(poll_statuses(world.engine)) == {"ok"}
    assert total_deltas(world.engine) == (1, 900)


# Two pollers at once


def test_two_poll_processes_count_once(world: World) -> None:
    ids = seed(world, 12)
    world.poll()
    for product_id in ids:
        world.gumroad.sell(product_id, 1, usd_cents=1000)

    first = start_cli("poll", env=world.env)
    second = start_cli("poll", env=world.env)
    results = [finish(first), finish(second)]

    assert [result.returncode for result in results] == [0, 0]
    assert poll_statuses(world.engine) == ["ok", "ok", "ok"]
    world.check()
    assert total_deltas(world.engine) == (12, 12000)


def test_two_pollers_without_lock_count_once(world: World) -> None:
    # poll() itself takes no file lock; BEGIN IMMEDIATE alone must serialize them.
    ids = seed(world, 12)
    world.poll()
    for product_id in ids:
        world.gumroad.sell(product_id, 1, usd_cents=1000)
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def poll_once() -> None:
        engine = create_ledger_engine(world.settings.database_url)
        try:
            with GumroadClient(world.gumroad.url, GUMROAD_TOKEN) as client:
                start.wait()
                poll(engine, client, world.settings.timezone)
        except BaseException as error:  # reported by the assert below
            errors.append(error)
        finally:
            engine.dispose()

    threads = [threading.Thread(target=poll_once) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert poll_statuses(world.engine) == ["ok", "ok", "ok"]
    world.check()
    assert total_deltas(world.engine) == (12, 12000)


# Storage that cannot be written


def test_ledger_under_a_file_is_clear_error(world: World, tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where a directory should be")
    target = blocker / "ledger.sqlite"

    result = run_cli("poll", env=world.env | {"LEDGER_DATABASE_URL": str(target)})

    assert result.returncode == 1
    assert_clean_cli(result)
    line = last_error_line(result)
    assert str(blocker) in line
    assert "LEDGER_DATABASE_URL" in line


def read_only_run(world: World, target: Path, *args: str) -> CliResult:
    """Run the CLI with `target` (the ledger's directory or file) read-only."""
    if os.geteuid() != 0:
        mode = target.stat().st_mode
        target.chmod(0o555 if target.is_dir() else 0o444)
        try:
            return run_cli(*args, env=world.env)
        finally:
            target.chmod(mode)
    if not private_mounts_available():
        pytest.skip("root ignores file modes, and no private mount namespace")
    mounts = (
        f"mount --bind '{target}' '{target}'\n"
        f"mount -o remount,bind,ro '{target}' '{target}'"
    )
    return run_cli_with_mounts(mounts, *args, env=world.env)


@pytest.mark.parametrize("read_only", ["directory", "file"])
def test_read_only_ledger_is_clear_error(world: World, read_only: str) -> None:
    ids = seed(world, 3)
    world.poll()
    world.engine.dispose()
    world.gumroad.sell(ids[0], 1, usd_cents=1000)
    before = digest(world.path)
    target = world.path.parent if read_only == "directory" else world.path

    result = read_only_run(world, target, "poll")

    assert result.returncode == 1, result.stderr
    assert_clean_cli(result)
    line = last_error_line(result)
    assert str(world.path) in line or "readonly" in line
    assert "writable" in line
    assert digest(world.path) == before

    world.poll()

    assert total_deltas(world.engine) == (1, 1000)


def test_file_size_limit_is_clear_error(world: World) -> None:
    # A 2,000-product baseline needs about 1 MB; the cap leaves 64 KB of room.
    world.gumroad.paginate = False
    seed(world, 2000)
    world.engine.dispose()
    room = world.path.stat().st_size + 64 * 1024
    shutil.copyfile(world.path, world.path.with_name("before.sqlite"))

    completed = subprocess.run(
        [sys.executable, "-m", "ledger", "poll"],
        env={**os.environ, **world.env},
        capture_output=True,
        text=True,
        timeout=60,
        preexec_fn=file_size_limit(room),
        check=False,
    )
    result = CliResult(completed.returncode, completed.stdout, completed.stderr)

    assert result.returncode == 1, result.stderr
    assert_clean_cli(result)
    assert "disk I/O error" in last_error_line(result)
    assert "free space" in last_error_line(result)
    assert rows(world.engine, "SELECT COUNT(*) FROM product_snapshots") == [(0,)]
    world.check()

    again = run_cli("poll", env=world.env)

    assert again.returncode == 0, again.stderr
    assert "baseline recorded for 2000 products" in again.stdout


@needs_private_mounts
def test_full_disk_is_clear_error(world: World, tmp_path: Path) -> None:
    world.gumroad.paginate = False
    seed(world, 2000)
    world.engine.dispose()
    mount_point = tmp_path / "small-disk"
    mount_point.mkdir()
    saved = tmp_path / "saved"
    saved.mkdir()
    inside = mount_point / "ledger.sqlite"
    env = world.env | {"LEDGER_DATABASE_URL": f"sqlite:///{inside}"}
    mounts = (
        f"mount -t tmpfs -o size=512k gumroad-ledger-test '{mount_point}'\n"
        f"cp '{world.path}' '{inside}'"
    )
    after = f"cp '{mount_point}'/ledger.sqlite* '{saved}'/"

    result = run_cli_with_mounts(mounts, "poll", env=env, after=after)

    assert result.returncode == 1, result.stderr
    assert_clean_cli(result)
    assert "disk is full" in last_error_line(result)
    assert "free space" in last_error_line(result)
    copy_url = make_url(f"sqlite:///{saved / 'ledger.sqlite'}")
    copy = create_ledger_engine(copy_url)
    try:
        assert rows(copy, "SELECT COUNT(*) FROM product_snapshots") == [(0,)]
        assert rows(copy, "SELECT COUNT(*) FROM polls WHERE status = 'ok'") == [(0,)]
    finally:
        copy.dispose()
