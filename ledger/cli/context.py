"""State shared by the commands of one invocation: settings, engine, locks, clients."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ledger.config import Settings, load_settings, sqlite_path

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from ledger.gumroad.client import GumroadClient
    from ledger.notion.client import NotionClient

FLAG_VARIABLES = {
    "database_url": "LEDGER_DATABASE_URL",
    "timezone": "LEDGER_TIMEZONE",
    "gumroad_api_url": "GUMROAD_API_URL",
    "notion_api_url": "NOTION_API_URL",
}


@dataclass
class AppContext:
    """Lazily built resources, so `--help` never validates configuration."""

    overrides: dict[str, str | None] = field(default_factory=dict)
    config_file: Path | None = None
    env_file: Path | None = None
    verbosity: int = 0
    _settings: Settings | None = None
    _engine: Engine | None = None

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> AppContext:
        overrides = {
            variable: options.get(option) for option, variable in FLAG_VARIABLES.items()
        }
        return cls(
            overrides=overrides,
            config_file=options.get("config_file"),
            env_file=options.get("env_file"),
            verbosity=-1 if options.get("quiet") else int(options.get("verbose") or 0),
        )

    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings(
                self.overrides, config_file=self.config_file, env_file=self.env_file
            )
        return self._settings

    def override(self, variable: str, value: str | None) -> None:
        """Apply a command-level flag before settings are first loaded."""
        if value is not None:
            self.overrides[variable] = value
            self._settings = None

    def secrets(self) -> list[str]:
        return self._settings.secrets() if self._settings is not None else []

    def engine(self, *, upgrade: bool = True) -> Engine:
        """Return the ledger engine; by default upgrade an older schema to head."""
        if self._engine is None:
            from ledger.store.db import create_ledger_engine, ensure_current

            self._engine = create_ledger_engine(self.settings().database_url)
            if upgrade:
                ensure_current(self._engine)
        return self._engine

    def ledger_path(self) -> Path | None:
        return sqlite_path(self.settings().database_url)

    @contextmanager
    def sync_lock(self, *, wait: float | None = None) -> Iterator[None]:
        """Keep polls and pushes of this ledger from interleaving across processes."""
        from ledger import lock

        path = self.ledger_path()
        if path is None:
            yield
            return
        limit = lock.SYNC_WAIT_SECONDS if wait is None else wait
        with lock.hold(lock.lock_path(path, "sync"), wait=limit, what="the ledger"):
            yield

    def gumroad_client(self) -> GumroadClient:
        from ledger.gumroad.client import GumroadClient

        settings = self.settings()
        return GumroadClient(settings.gumroad_api_url, settings.require_gumroad_token())

    def notion_client(self) -> NotionClient:
        from ledger.notion.client import NotionClient

        settings = self.settings()
        return NotionClient(settings.notion_api_url, settings.require_notion_token())
