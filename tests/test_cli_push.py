"""`gumroad-ledger push` run as a user runs it, against both sandboxes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ledger.config import load_settings
from ledger.gumroad.client import GumroadClient
from ledger.notion.setup import init_notion
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
        yield sandbox


@pytest.fixture
def env(notion: NotionSandbox, gumroad: GumroadSandbox, ledger_file: Path) -> dict:
    return sandbox_environment(gumroad, notion)


@pytest.fixture
def polled(
    notion: NotionSandbox, gumroad: GumroadSandbox, env: dict, ledger_file: Path
) -> dict:
    """A ledger set up for Notion with two products polled and nothing pushed.

    The setup runs in this process, which is faster than two CLI runs.
    """
    gumroad.add_product(name="Ebook", price_cents=999)
    gumroad.add_product(name="Course", price_cents=4900)
    init_and_poll(env, ledger_file)
    notion.clear_requests()
    return env


def init_and_poll(env: dict, ledger_file: Path, *, init: bool = True) -> None:
    """Run `init` (optionally) and `poll` in this process."""
    settings = load_settings(environ=env | {"LEDGER_DATABASE_URL": str(ledger_file)})
    engine = create_ledger_engine(settings.database_url)
    try:
        ensure_current(engine)
        if init:
            init_notion(engine, settings)
        with GumroadClient(settings.gumroad_api_url, GUMROAD_TOKEN) as client:
            poll(engine, client, settings.timezone)
    finally:
        engine.dispose()


def test_push_prints_one_summary_line(notion: NotionSandbox, polled: dict) -> None:
    result = run_cli("push", env=polled)

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        line for line in result.stdout.splitlines() if line.startswith("push: ")
    ]
    assert len(result.stdout.splitlines()) == 1
    assert "push: 2 created, 0 updated, 0 unchanged (2 writes in" in result.stdout
    assert notion.write_count() == 2


def test_second_push_sends_nothing(notion: NotionSandbox, polled: dict) -> None:
    run_cli("push", env=polled)
    notion.clear_requests()

    result = run_cli("push", env=polled)

    assert result.returncode == 0, result.stderr
    assert "push: 0 created, 0 updated, 2 unchanged (0 writes" in result.stdout
    assert notion.requests == []


def test_dry_run_lists_creates(notion: NotionSandbox, polled: dict) -> None:
    result = run_cli("push", "--dry-run", env=polled)

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 3
    assert lines[0].startswith("create product ")
    assert "'Course'" in lines[0] or "'Course'" in lines[1]
    assert "nothing was sent" in lines[2]
    assert notion.write_count() == 0


def test_dry_run_lists_updates(
    notion: NotionSandbox, gumroad: GumroadSandbox, polled: dict, ledger_file: Path
) -> None:
    run_cli("push", env=polled)
    ebook = gumroad.products()[-1]["id"]
    gumroad.rename(ebook, "Ebook 2")
    init_and_poll(polled, ledger_file, init=False)
    notion.clear_requests()

    result = run_cli("push", "--dry-run", env=polled)

    lines = result.stdout.splitlines()
    assert lines[0] == f"update product {ebook} 'Ebook 2': Name, Last Change"
    assert notion.write_count() == 0


def test_push_without_token_exits_2(polled: dict) -> None:
    env = polled | {"NOTION_TOKEN": ""}

    result = run_cli("push", env=env)

    assert result.returncode == 2
    assert "NOTION_TOKEN is not set" in result.stderr


def test_push_before_init_names_init(env: dict) -> None:
    result = run_cli("push", env=env)

    assert result.returncode == 2
    assert "gumroad-ledger init" in result.stderr


def test_retyped_property_exits_1(notion: NotionSandbox, polled: dict) -> None:
    source = next(
        source_id
        for source_id, record in notion.workspace.data_sources.items()
        if any(prop["name"] == "Sales Count" for prop in record.properties.values())
    )
    notion.set_property_type(source, "Price", "rich_text")

    result = run_cli("push", env=polled)

    assert result.returncode == 1
    assert "'Price'" in result.stderr
    assert "rich_text" in result.stderr
    assert notion.write_count() == 0


def test_push_output_hides_token(polled: dict) -> None:
    result = run_cli("-v", "push", env=polled)

    assert NOTION_TOKEN not in result.output
    assert GUMROAD_TOKEN not in result.output


def test_status_shows_pending_pushes(polled: dict) -> None:
    result = run_cli("status", env=polled)

    assert "pending pushes: 2 products, 0 daily" in result.stdout
