"""A ledger wired to both sandboxes, for the Notion setup and projector tests.

Test modules load the fixtures with `pytest_plugins = ["tests.push_fixtures"]`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from ledger.config import Settings, load_settings
from ledger.gumroad.client import GumroadClient
from ledger.notion.client import NotionClient
from ledger.notion.layout import daily_layout, products_layout
from ledger.notion.projector import PushResult, push
from ledger.notion.setup import init_notion, stored_targets
from ledger.poller import PollResult, poll
from ledger.sandbox.gumroad import GumroadSandbox
from ledger.sandbox.notion import NotionSandbox
from ledger.store.db import create_ledger_engine, ensure_current
from tests.conftest import GUMROAD_TOKEN, NOTION_TOKEN

DAY = date(2026, 12, 4)


def make_settings(
    notion: NotionSandbox, gumroad: GumroadSandbox, path: Path, **extra: str
) -> Settings:
    """Return settings for a ledger file and both sandboxes, plus `extra` variables."""
    environ = {
        "LEDGER_DATABASE_URL": f"sqlite:///{path}",
        "LEDGER_TIMEZONE": "UTC",
        "GUMROAD_ACCESS_TOKEN": GUMROAD_TOKEN,
        "GUMROAD_API_URL": gumroad.url,
        "NOTION_TOKEN": NOTION_TOKEN,
        "NOTION_API_URL": notion.url,
        **extra,
    }
    return load_settings(environ=environ)


def fast_client(notion: NotionSandbox, **options: Any) -> NotionClient:
    """Return a Notion client with no pacing and short retry waits."""
    defaults: dict[str, Any] = {
        "timeout": 5.0,
        "requests_per_second": None,
        "backoff_base": 0.01,
    }
    return NotionClient(notion.url, NOTION_TOKEN, **(defaults | options))


@dataclass
class Stack:
    """A ledger, both sandboxes and a Notion client, with shortcuts for the tests."""

    notion: NotionSandbox
    gumroad: GumroadSandbox
    engine: Engine
    settings: Settings
    client: NotionClient
    parent: str
    path: Path

    def init(self, settings: Settings | None = None) -> list[str]:
        return init_notion(self.engine, settings or self.settings, client=self.client)

    def poll(self, day: date = DAY, hour: int = 12) -> PollResult:
        moment = datetime.combine(day, time(hour), tzinfo=UTC)
        with GumroadClient(self.gumroad.url, GUMROAD_TOKEN) as gumroad:
            return poll(
                self.engine, gumroad, self.settings.timezone, clock=lambda: moment
            )

    def push(self, **options: Any) -> PushResult:
        return push(self.engine, self.settings, self.client, **options)

    def targets(self) -> dict[str, str]:
        return stored_targets(self.engine)

    def product_pages(self, **options: Any) -> list[dict[str, Any]]:
        source = self.targets()["products_data_source_id"]
        return self.notion.pages(source, **options)

    def daily_pages(self, **options: Any) -> list[dict[str, Any]]:
        return self.notion.pages(self.targets()["daily_data_source_id"], **options)

    def product_values(self) -> dict[str, dict[str, Any]]:
        """Return each product page's owned values, keyed by product id."""
        layout = products_layout()
        values = [layout.decode(page) for page in self.product_pages()]
        return {value["id"]: value for value in values}

    def daily_values(self) -> dict[str, dict[str, Any]]:
        """Return each daily page's owned values, keyed by `<product id>|<day>`."""
        layout = daily_layout()
        values = [layout.decode(page) for page in self.daily_pages()]
        return {value["key"]: value for value in values}

    def writes(self) -> int:
        return self.notion.write_count()

    def settings_with(self, **extra: str) -> Settings:
        """Return this ledger's settings with other variables; the parent page stays."""
        variables = {"NOTION_PARENT_PAGE_ID": self.parent, **extra}
        return make_settings(self.notion, self.gumroad, self.path, **variables)

    def new_client(self, **options: Any) -> NotionClient:
        """Return another fast client; the caller closes it."""
        return fast_client(self.notion, **options)


@pytest.fixture
def notion() -> Iterator[NotionSandbox]:
    sandbox = NotionSandbox(token=NOTION_TOKEN, retry_after=1, stall_seconds=1.0)
    with sandbox:
        yield sandbox


@pytest.fixture
def gumroad() -> Iterator[GumroadSandbox]:
    with GumroadSandbox(token=GUMROAD_TOKEN) as sandbox:
        yield sandbox


@pytest.fixture
def stack(
    notion: NotionSandbox, gumroad: GumroadSandbox, tmp_path: Path
) -> Iterator[Stack]:
    """A migrated ledger, not yet initialised for Notion, and a parent page."""
    parent = notion.create_parent_page()
    path = tmp_path / "ledger.sqlite"
    settings = make_settings(notion, gumroad, path, NOTION_PARENT_PAGE_ID=parent)
    engine = create_ledger_engine(settings.database_url)
    ensure_current(engine)
    with fast_client(notion) as client:
        yield Stack(notion, gumroad, engine, settings, client, parent, path)
    engine.dispose()


@pytest.fixture
def ready(stack: Stack) -> Stack:
    """A stack whose Notion databases are created and whose request log is empty."""
    stack.init()
    stack.notion.clear_requests()
    return stack
