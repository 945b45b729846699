"""`gumroad-ledger sync` run as a user runs it: poll, then push, and their failures."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from ledger.config import load_settings
from ledger.gumroad.client import GumroadClient
from ledger.notion.setup import init_notion, stored_targets
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
def targets(env: dict, ledger_file: Path) -> dict[str, str]:
    """Run init in this process, which is faster than a CLI run; return the ids."""
    settings = load_settings(environ=env | {"LEDGER_DATABASE_URL": str(ledger_file)})
    engine = create_ledger_engine(settings.database_url)
    try:
        ensure_current(engine)
        init_notion(engine, settings)
        return stored_targets(engine)
    finally:
        engine.dispose()


def poll_in_process(env: dict, ledger_file: Path) -> None:
    settings = load_settings(environ=env | {"LEDGER_DATABASE_URL": str(ledger_file)})
    engine = create_ledger_engine(settings.database_url)
    try:
        with GumroadClient(settings.gumroad_api_url, GUMROAD_TOKEN) as client:
            poll(engine, client, settings.timezone)
    finally:
        engine.dispose()


def polls(path: Path) -> list[tuple[str, int]]:
    with sqlite3.connect(path) as connection:
        return connection.execute(
            "SELECT status, products_seen FROM polls ORDER BY id"
        ).fetchall()


def test_sync_polls_then_pushes(
    notion: NotionSandbox, env: dict, targets: dict, ledger_file: Path
) -> None:
    result = run_cli("sync", env=env)

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("poll 1: baseline recorded for 2 products")
    assert lines[1].startswith("push: 2 created")
    assert len(notion.pages(targets["products_data_source_id"])) == 2
    assert polls(ledger_file) == [("ok", 2)]


def test_sync_pushes_sales_as_daily_pages(
    notion: NotionSandbox,
    gumroad: GumroadSandbox,
    env: dict,
    targets: dict,
    ledger_file: Path,
) -> None:
    poll_in_process(env, ledger_file)
    gumroad.sell(gumroad.products()[0]["id"], 3)

    result = run_cli("sync", env=env)

    assert result.returncode == 0, result.stderr
    daily = notion.pages(targets["daily_data_source_id"])
    assert len(daily) == 1
    assert daily[0]["properties"]["Sales"]["number"] == 3
    assert daily[0]["properties"]["Revenue"]["number"] == 147.0


def test_unshared_database_exits_1_poll_kept(
    notion: NotionSandbox, env: dict, targets: dict, ledger_file: Path
) -> None:
    notion.unshare(targets["products_database_id"])

    result = run_cli("sync", env=env)

    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1
    assert "Connections" in errors[0]
    assert polls(ledger_file) == [("ok", 2)]
    assert notion.write_count() == 0


def test_push_catches_up_after_sharing(
    notion: NotionSandbox, env: dict, targets: dict, ledger_file: Path
) -> None:
    notion.unshare(targets["products_database_id"])
    run_cli("sync", env=env)
    notion.share(targets["products_database_id"])

    result = run_cli("push", env=env)

    assert result.returncode == 0, result.stderr
    assert "push: 2 created" in result.stdout
    assert len(notion.pages(targets["products_data_source_id"])) == 2


def test_failed_poll_still_pushes_pending(
    notion: NotionSandbox,
    gumroad: GumroadSandbox,
    env: dict,
    targets: dict,
    ledger_file: Path,
) -> None:
    poll_in_process(env, ledger_file)
    gumroad.fail_next("unauthorized")

    result = run_cli("sync", env=env)

    assert result.returncode == 1
    assert "push: 2 created" in result.stdout
    assert "Error:" in result.stderr
    assert polls(ledger_file) == [("ok", 2), ("failed", 0)]
    assert len(notion.pages(targets["products_data_source_id"])) == 2


def test_both_failures_reported(
    notion: NotionSandbox,
    gumroad: GumroadSandbox,
    env: dict,
    targets: dict,
    ledger_file: Path,
) -> None:
    poll_in_process(env, ledger_file)
    gumroad.fail_next("unauthorized")
    notion.unshare(targets["products_database_id"])

    result = run_cli("sync", env=env)

    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 2
    assert errors[0].startswith("Error: poll failed:")
    assert "Connections" in errors[1]


def test_sync_before_init_polls_nothing(env: dict, ledger_file: Path) -> None:
    result = run_cli("sync", env=env)

    assert result.returncode == 2
    assert "gumroad-ledger init" in result.stderr
    assert polls(ledger_file) == []


def test_sync_output_hides_tokens(env: dict, targets: dict) -> None:
    result = run_cli("-vv", "sync", env=env)

    assert NOTION_TOKEN not in result.output
    assert GUMROAD_TOKEN not in result.output
