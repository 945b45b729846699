"""`run` as a user runs it: a subprocess against sandboxes started by the test."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from ledger.sandbox.gumroad import GumroadSandbox
from ledger.sandbox.notion import NotionSandbox
from tests.conftest import GUMROAD_TOKEN, NOTION_TOKEN, run_cli
from tests.ledger_helpers import check_invariant_3, new_ledger

WAIT_SECONDS = 20


@dataclass
class Stopped:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def gumroad() -> Iterator[GumroadSandbox]:
    with GumroadSandbox(token=GUMROAD_TOKEN) as sandbox:
        sandbox.add_product(name="Icons", sales_count=4, revenue_usd_cents=4000)
        sandbox.add_product(name="Fonts", sales_count=1, revenue_usd_cents=2500)
        yield sandbox


@pytest.fixture
def env(gumroad: GumroadSandbox, ledger_file: Path) -> dict[str, str]:
    return {"GUMROAD_ACCESS_TOKEN": GUMROAD_TOKEN, "GUMROAD_API_URL": gumroad.url}


@contextmanager
def running(env: dict[str, str], *args: str) -> Iterator[subprocess.Popen[str]]:
    """Start `run ARGS` in the background; kill it if the test leaves it running."""
    process = subprocess.Popen(
        [sys.executable, "-m", "ledger", "run", *args],
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=10)


def stop(process: subprocess.Popen[str]) -> Stopped:
    process.send_signal(signal.SIGTERM)
    stdout, stderr = process.communicate(timeout=WAIT_SECONDS)
    return Stopped(process.returncode, stdout, stderr)


def query(path: Path, sql: str) -> list[tuple[object, ...]]:
    if not path.exists():
        return []
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    try:
        return connection.execute(sql).fetchall()
    except sqlite3.OperationalError:
        return []  # the schema is not created yet
    finally:
        connection.close()


def poll_count(path: Path, status: str = "ok") -> int:
    found = query(path, f"SELECT COUNT(*) FROM polls WHERE status = '{status}'")
    return int(found[0][0]) if found else 0


def wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def test_run_does_several_cycles(env, ledger_file) -> None:  # type: ignore[no-untyped-def]
    with running(env, "--interval", "1s") as process:
        wait_for(lambda: poll_count(ledger_file) >= 3, "three polls")
        stopped = stop(process)

    assert stopped.returncode == 0, stopped.stderr
    assert "cycle 3: 2 products seen" in stopped.stderr
    assert "scheduler stopped after" in stopped.stderr
    assert GUMROAD_TOKEN not in stopped.stderr


def test_run_logs_one_info_line_per_cycle(env, ledger_file) -> None:  # type: ignore[no-untyped-def]
    with running(env, "--interval", "1s") as process:
        wait_for(lambda: poll_count(ledger_file) >= 2, "two polls")
        stopped = stop(process)

    info = [line for line in stopped.stderr.splitlines() if " INFO " in line]
    cycle_lines = [line for line in info if "ledger.scheduler: cycle " in line]
    assert len(cycle_lines) >= 2
    assert not [line for line in info if "ledger.poller" in line]


def test_sigterm_mid_cycle_finishes_poll(  # type: ignore[no-untyped-def]
    gumroad, env, ledger_file
) -> None:
    icons = gumroad.products()[-1]["id"]
    with running(env, "--interval", "1s") as process:
        wait_for(lambda: poll_count(ledger_file) >= 2, "two polls")
        gumroad.sell(icons, 3)
        gumroad.refund(icons, 1)
        gumroad.slow_delay = 1.5
        requests_before = len(gumroad.requests)
        gumroad.fail_next("slow")
        wait_for(lambda: len(gumroad.requests) > requests_before, "the slow request")
        polls_before_signal = poll_count(ledger_file)
        time.sleep(0.2)
        stopped = stop(process)

    unfinished = "SELECT COUNT(*) FROM polls WHERE finished_at IS NULL"
    assert stopped.returncode == 0, stopped.stderr
    assert "received SIGTERM: stopping after the cycle in flight" in stopped.stderr
    assert poll_count(ledger_file) == polls_before_signal + 1
    assert poll_count(ledger_file, "failed") == 0
    assert query(ledger_file, unfinished) == [(0,)]
    assert check_invariant_3(new_ledger(ledger_file))[icons] == (6, 6000)


def test_second_signal_exits_130(gumroad, env, ledger_file) -> None:  # type: ignore[no-untyped-def]
    with running(env, "--interval", "1s") as process:
        wait_for(lambda: poll_count(ledger_file) >= 1, "the first poll")
        gumroad.slow_delay = 5
        requests_before = len(gumroad.requests)
        gumroad.fail_next("slow")
        wait_for(lambda: len(gumroad.requests) > requests_before, "the slow request")
        process.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        started = time.monotonic()
        stopped = stop(process)
        waited = time.monotonic() - started

    assert stopped.returncode == 130
    assert "received SIGTERM again: exiting now" in stopped.stderr
    assert waited < 3
    assert query(
        ledger_file, "SELECT COUNT(*) FROM polls WHERE finished_at IS NULL"
    ) == [(0,)]


def test_second_run_is_refused(env, ledger_file) -> None:  # type: ignore[no-untyped-def]
    with running(env, "--interval", "1s") as first:
        wait_for(lambda: poll_count(ledger_file) >= 1, "the first poll")
        second = run_cli("run", "--interval", "1s", env=env, timeout=WAIT_SECONDS)
        stopped = stop(first)

    assert second.returncode == 1
    assert f"process {first.pid}" in second.stderr
    assert "a scheduler is already running" in second.stderr
    assert stopped.returncode == 0


def test_failed_cycle_is_followed_by_good(  # type: ignore[no-untyped-def]
    gumroad, env, ledger_file
) -> None:
    gumroad.fail_next("success_false", message="Store is under maintenance")
    with running(env, "--interval", "1s") as process:
        wait_for(lambda: poll_count(ledger_file) >= 1, "a good poll")
        stopped = stop(process)

    errors = [line for line in stopped.stderr.splitlines() if " ERROR " in line]
    statuses = query(ledger_file, "SELECT status FROM polls ORDER BY id")
    assert stopped.returncode == 0, stopped.stderr
    assert statuses[:2] == [("failed",), ("ok",)]
    assert len(errors) == 1
    assert "cycle 1 failed in poll" in errors[0]
    assert "Store is under maintenance" in errors[0]
    assert "Traceback" not in stopped.stderr


def test_status_shows_heartbeat(env, ledger_file) -> None:  # type: ignore[no-untyped-def]
    with running(env, "--interval", "1s") as process:
        wait_for(lambda: poll_count(ledger_file) >= 2, "two polls")
        during = run_cli("status", "--json", env=env)
        stopped = stop(process)
    after = run_cli("status", "--json", env=env)

    scheduler = json.loads(during.stdout)["scheduler"]
    last_cycle = scheduler["last_cycle"]
    assert stopped.returncode == 0
    assert scheduler["running"] is True
    assert scheduler["pid"] == process.pid
    assert scheduler["interval_seconds"] == 1.0
    assert scheduler["seconds_since_heartbeat"] < 5
    assert last_cycle["status"] == "ok"
    assert json.loads(after.stdout)["scheduler"]["running"] is False


def test_run_pushes_to_notion(  # type: ignore[no-untyped-def]
    gumroad, env, ledger_file
) -> None:
    with NotionSandbox(token=NOTION_TOKEN) as notion:
        parent = notion.create_parent_page()
        notion_env = {
            **env,
            "NOTION_TOKEN": NOTION_TOKEN,
            "NOTION_API_URL": notion.url,
            "NOTION_PARENT_PAGE_ID": parent,
        }
        initialized = run_cli("init", env=notion_env)
        with running(notion_env, "--interval", "1s") as process:
            wait_for(lambda: poll_count(ledger_file) >= 2, "two polls")
            stopped = stop(process)
        data_source = query(
            ledger_file,
            "SELECT value FROM meta WHERE key = 'notion.products.data_source_id'",
        )[0][0]
        names = sorted(
            page["properties"]["Name"]["title"][0]["plain_text"]
            for page in notion.pages(str(data_source))
        )

    assert initialized.returncode == 0, initialized.output
    assert stopped.returncode == 0, stopped.stderr
    assert "2 Notion pages written" in stopped.stderr
    assert names == ["Fonts", "Icons"]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--interval", "0.5s"], "--interval='0.5s' is too short"),
        (["--interval", "often"], "--interval='often' is not a valid interval"),
    ],
    ids=["too-short", "not-a-duration"],
)
def test_bad_interval_exits_2(env, args: list[str], expected: str) -> None:  # type: ignore[no-untyped-def]
    result = run_cli("run", *args, env=env)

    assert result.returncode == 2
    assert expected in result.stderr


def test_missing_token_exits_2(ledger_file: Path) -> None:
    result = run_cli("run", "--interval", "1s")

    assert result.returncode == 2
    assert "GUMROAD_ACCESS_TOKEN is not set" in result.stderr
