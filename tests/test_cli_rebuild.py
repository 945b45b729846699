"""`gumroad-ledger rebuild-notion` run as a user runs it, against both sandboxes."""

from __future__ import annotations

import hashlib
import io
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import make_url

from ledger import lock
from ledger.cli.rebuild_command import TerminalProgress
from ledger.config import load_settings
from ledger.gumroad.client import GumroadClient
from ledger.notion.client import NotionClient
from ledger.notion.layout import products_layout
from ledger.notion.projector import push
from ledger.notion.setup import init_notion, stored_targets
from ledger.notion.text import number_value
from ledger.poller import poll
from ledger.sandbox.gumroad import GumroadSandbox
from ledger.sandbox.notion import NotionSandbox
from ledger.store.db import create_ledger_engine, ensure_current
from tests.conftest import GUMROAD_TOKEN, NOTION_TOKEN, run_cli, sandbox_environment


@pytest.fixture
def notion() -> Iterator[NotionSandbox]:
    with NotionSandbox(token=NOTION_TOKEN) as sandbox:
        yield sandbox


@pytest.fixture
def gumroad() -> Iterator[GumroadSandbox]:
    with GumroadSandbox(token=GUMROAD_TOKEN) as sandbox:
        sandbox.add_product(name="Ebook", price_cents=999)
        sandbox.add_product(name="Course", price_cents=4900)
        yield sandbox


@pytest.fixture
def env(notion: NotionSandbox, gumroad: GumroadSandbox, ledger_file: Path) -> dict:
    return sandbox_environment(gumroad, notion)


@pytest.fixture
def pushed(notion: NotionSandbox, env: dict, ledger_file: Path) -> dict:
    """A ledger whose two product pages are in Notion, and an empty request log.

    The setup runs in this process, which is faster than three CLI runs.
    """
    settings = load_settings(environ=env | {"LEDGER_DATABASE_URL": str(ledger_file)})
    engine = create_ledger_engine(settings.database_url)
    try:
        ensure_current(engine)
        init_notion(engine, settings)
        with GumroadClient(settings.gumroad_api_url, GUMROAD_TOKEN) as gumroad:
            poll(engine, gumroad, settings.timezone)
        with api_client(notion) as client:
            push(engine, settings, client)
    finally:
        engine.dispose()
    notion.clear_requests()
    return env


def api_client(notion: NotionSandbox) -> NotionClient:
    return NotionClient(notion.url, NOTION_TOKEN, requests_per_second=None)


def targets(ledger_file: Path) -> dict[str, str]:
    engine = create_ledger_engine(make_url(f"sqlite:///{ledger_file}"))
    try:
        return stored_targets(engine)
    finally:
        engine.dispose()


def product_pages(notion: NotionSandbox, ledger_file: Path) -> list[dict[str, Any]]:
    source = targets(ledger_file)["products_data_source_id"]
    return notion.pages(source, include_trashed=True)


def edit_prices(notion: NotionSandbox, ledger_file: Path) -> None:
    """Set every product page's Price to 0, as a user editing cells does."""
    with api_client(notion) as client:
        for page in product_pages(notion, ledger_file):
            client.update_page(page["id"], properties={"Price": number_value(0)})
    notion.clear_requests()


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    for part in (path, path.with_name(path.name + "-wal")):
        if part.exists():
            digest.update(part.read_bytes())
    return digest.hexdigest()


def start_cli(*args: str, env: dict) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "ledger", *args],
        env=dict(os.environ) | env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for(condition: Any, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting for the CLI"
        time.sleep(0.05)


def test_rebuild_prints_one_summary_line(
    notion: NotionSandbox, pushed: dict, ledger_file: Path
) -> None:
    edit_prices(notion, ledger_file)

    result = run_cli("rebuild-notion", env=pushed)

    assert result.returncode == 0, result.stderr
    assert len(result.stdout.splitlines()) == 1
    assert result.stdout.startswith(
        "rebuild-notion: 2 read, 2 matched, 2 updated, 0 created, 0 restored, "
        "0 trashed, 0 left alone (2 writes in "
    )
    assert notion.write_count() == 2


def test_no_progress_line_when_not_terminal(
    notion: NotionSandbox, pushed: dict
) -> None:
    result = run_cli("rebuild-notion", env=pushed)

    assert result.returncode == 0, result.stderr
    assert "\r" not in result.stderr


def test_dry_run_prints_plan(
    notion: NotionSandbox, pushed: dict, ledger_file: Path
) -> None:
    page = product_pages(notion, ledger_file)[0]
    notion.trash_page(page["id"])
    before = file_digest(ledger_file), product_pages(notion, ledger_file)

    result = run_cli("rebuild-notion", "--dry-run", env=pushed)

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("restore product ")
    assert lines[0].endswith(f"from the trash: page {page['id']}")
    assert lines[1] == (
        "rebuild-notion (dry run): 2 read, 2 matched, 0 to update, 0 to create, "
        "1 to restore, 0 to trash, 0 left alone; nothing was changed"
    )
    assert notion.write_count() == 0
    assert (file_digest(ledger_file), product_pages(notion, ledger_file)) == before


def test_missing_database_exits_1_with_fix(
    notion: NotionSandbox, pushed: dict, ledger_file: Path
) -> None:
    database_id = targets(ledger_file)["products_database_id"]
    notion.delete_database(database_id)

    result = run_cli("rebuild-notion", env=pushed)

    assert result.returncode == 1
    assert result.stdout == ""
    assert f"Error: the products database {database_id} was not found" in result.stderr
    assert "Connections" in result.stderr
    assert "--recreate-missing" in result.stderr
    assert notion.write_count() == 0


def test_recreate_missing_builds_new_database(
    notion: NotionSandbox, pushed: dict, ledger_file: Path
) -> None:
    old = targets(ledger_file)["products_database_id"]
    notion.delete_database(old)

    result = run_cli("rebuild-notion", "--recreate-missing", env=pushed)

    new = targets(ledger_file)["products_database_id"]
    assert result.returncode == 0, result.stderr
    assert new != old
    assert result.stdout.splitlines()[0] == f"created the products database {new}"
    assert "2 created" in result.stdout
    assert len(product_pages(notion, ledger_file)) == 2


@pytest.mark.slow
def test_killed_rebuild_finishes_on_rerun(
    notion: NotionSandbox, pushed: dict, ledger_file: Path
) -> None:
    edit_prices(notion, ledger_file)
    # The first update is applied, then its reply stalls until the kill.
    notion.fail_next("timeout_after_commit", method="PATCH", delay=60)
    process = start_cli("rebuild-notion", env=pushed)
    wait_for(lambda: any(record.fault for record in notion.requests))
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=10)
    notion.clear_requests()

    resumed = run_cli("rebuild-notion", env=pushed)

    assert resumed.returncode == 0, resumed.stderr
    assert "1 updated" in resumed.stdout
    assert notion.write_count() == 1
    prices = [
        products_layout().decode(page)["price"]
        for page in product_pages(notion, ledger_file)
    ]
    assert sorted(prices) == [9.99, 49.0]


def test_rebuild_waits_for_sync_lock(
    notion: NotionSandbox, pushed: dict, ledger_file: Path
) -> None:
    with lock.hold(lock.lock_path(ledger_file, "sync"), what="the test"):
        process = start_cli("rebuild-notion", env=pushed)
        time.sleep(1.5)
        requests_while_locked = len(notion.requests)
    stdout, stderr = process.communicate(timeout=60)

    assert requests_while_locked == 0
    assert process.returncode == 0, stderr
    assert stdout.startswith("rebuild-notion: ")


def test_rebuild_before_init_is_usage_error(env: dict) -> None:
    result = run_cli("rebuild-notion", env=env)

    assert result.returncode == 2
    assert "gumroad-ledger init" in result.stderr


def test_help_names_both_options() -> None:
    result = run_cli("rebuild-notion", "--help")

    assert result.returncode == 0
    assert "--dry-run" in result.stdout
    assert "--recreate-missing" in result.stdout


def test_progress_line_redraws_in_place() -> None:
    stream = io.StringIO()
    progress = TerminalProgress(stream)

    progress("reading products", 100, None)
    progress("writing products", 3, 3)

    first, second = "reading products: 100 pages", "writing products: 3/3"
    assert stream.getvalue() == f"\r{first}\r{second.ljust(len(first))}"


def test_progress_line_is_erased_on_close() -> None:
    stream = io.StringIO()
    progress = TerminalProgress(stream)
    progress("reading daily", 200, None)

    progress.close()

    blank = " " * len("reading daily: 200 pages")
    assert stream.getvalue().endswith(f"\r{blank}\r")


def test_progress_hidden_when_stderr_is_not_terminal() -> None:
    # pytest captures stderr, so it is not a terminal here.
    assert TerminalProgress.for_stderr() is None
