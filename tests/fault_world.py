"""The `world` fixture of the fault-injection suite: both sandboxes and a ledger.

Test modules load it with `pytest_plugins = ["tests.fault_world"]` and import
`World` only for type checking, so that pytest can rewrite this module's asserts.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from ledger.config import Settings, load_settings
from ledger.gumroad.client import GumroadClient
from ledger.notion.client import NotionClient
from ledger.notion.projector import PushResult, pending_counts, push
from ledger.notion.setup import init_notion, stored_targets
from ledger.poller import Clock, PollResult, poll
from ledger.sandbox.gumroad import GumroadSandbox
from ledger.sandbox.notion import NotionSandbox
from ledger.store.db import create_ledger_engine, ensure_current
from tests.conftest import GUMROAD_TOKEN, NOTION_TOKEN, sandbox_environment
from tests.fault_helpers import assert_notion_matches_ledger, check_ledger


@dataclass
class World:
    """Both sandboxes, a ledger file, and the settings the CLI would load."""

    gumroad: GumroadSandbox
    notion: NotionSandbox
    path: Path
    env: dict[str, str]
    settings: Settings
    engine: Engine

    def init(self) -> None:
        """Create the two Notion databases in this process (faster than the CLI)."""
        init_notion(self.engine, self.settings)

    def poll(self, clock: Clock | None = None, **client_options: Any) -> PollResult:
        """Poll the Gumroad sandbox in this process, with short retry waits."""
        options: dict[str, Any] = {
            "timeout": 2.0,
            "backoff_base": 0.01,
            "backoff_cap": 0.05,
        }
        options.update(client_options)
        with GumroadClient(self.gumroad.url, GUMROAD_TOKEN, **options) as client:
            if clock is None:
                return poll(self.engine, client, self.settings.timezone)
            return poll(self.engine, client, self.settings.timezone, clock=clock)

    def push(self, **client_options: Any) -> PushResult:
        """Push in this process with an unpaced client and short retry waits."""
        options: dict[str, Any] = {
            "timeout": 5.0,
            "requests_per_second": None,
            "backoff_base": 0.01,
        }
        options.update(client_options)
        with NotionClient(self.notion.url, NOTION_TOKEN, **options) as client:
            return push(self.engine, self.settings, client)

    def targets(self) -> dict[str, str]:
        return stored_targets(self.engine)

    def pending(self) -> dict[str, int]:
        return pending_counts(self.engine, self.settings)

    def check(self) -> dict[str, tuple[int, int]]:
        """Assert ledger invariants 1 and 3; return each product's latest totals."""
        return check_ledger(self.engine)

    def check_notion(self) -> None:
        """Assert invariant 7 between this ledger and the Notion sandbox."""
        assert_notion_matches_ledger(self.engine, self.settings, self.notion)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    """Empty sandboxes, a migrated ledger and a Notion parent page; nothing polled."""
    with (
        GumroadSandbox(token=GUMROAD_TOKEN) as gumroad,
        NotionSandbox(token=NOTION_TOKEN, stall_seconds=1.0) as notion,
    ):
        path = tmp_path / "ledger.sqlite"
        env = {
            "LEDGER_DATABASE_URL": f"sqlite:///{path}",
            "LEDGER_TIMEZONE": "UTC",
            **sandbox_environment(gumroad, notion),
        }
        settings = load_settings(environ=env)
        engine = create_ledger_engine(settings.database_url)
        ensure_current(engine)
        try:
            yield World(gumroad, notion, path, env, settings, engine)
        finally:
            engine.dispose()
