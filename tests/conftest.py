"""Fixtures shared by the whole suite.

Every test runs with a private HOME, working directory and ledger file, and with both
API URLs aimed at a closed port on 127.0.0.1, so a test that does not start a
sandbox fails fast instead of reaching a real service.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

pytest_plugins = [
    "tests.gumroad_fixtures",
    "tests.notion_fixtures",
    "tests.secrets_guard",
]

CLOSED_LOCAL_URL = "http://127.0.0.1:9"
GUMROAD_TOKEN = "gr-test-7f3a9c1e-SECRET-gumroad-token"
NOTION_TOKEN = "ntn_test_4b8d2e6f_SECRET_notion_token"

CONFIG_VARIABLES = (
    "GUMROAD_ACCESS_TOKEN",
    "MY_GUMROAD_SECRET_TOKEN",
    "NOTION_TOKEN",
    "MY_NOTION_SECRET_TOKEN",
    "LEDGER_DATABASE_URL",
    "LEDGER_TIMEZONE",
    "LEDGER_POLL_INTERVAL",
    "LEDGER_CONFIG",
    "NOTION_PARENT_PAGE_ID",
    "NOTION_PRODUCTS_DATABASE_ID",
    "NOTION_DAILY_DATABASE_ID",
    "GUMROAD_API_URL",
    "NOTION_API_URL",
)


@pytest.fixture(autouse=True)
def isolated_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    """Give each test its own HOME, working directory and closed API URLs."""
    for name in CONFIG_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "config"))
    monkeypatch.setenv("GUMROAD_API_URL", CLOSED_LOCAL_URL)
    monkeypatch.setenv("NOTION_API_URL", CLOSED_LOCAL_URL)
    monkeypatch.setenv("LEDGER_TIMEZONE", "UTC")
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    yield work


@pytest.fixture
def ledger_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A ledger path, also exported as LEDGER_DATABASE_URL."""
    path = tmp_path / "ledger.sqlite"
    monkeypatch.setenv("LEDGER_DATABASE_URL", f"sqlite:///{path}")
    return path


def sandbox_environment(gumroad: Any, notion: Any) -> dict[str, str]:
    """Return the variables that point the CLI at two sandboxes, with a parent page."""
    return {
        "GUMROAD_ACCESS_TOKEN": GUMROAD_TOKEN,
        "GUMROAD_API_URL": gumroad.url,
        "NOTION_TOKEN": NOTION_TOKEN,
        "NOTION_API_URL": notion.url,
        "NOTION_PARENT_PAGE_ID": notion.create_parent_page(),
    }


@dataclass
class CliResult:
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def run_cli(
    *args: str,
    env: dict[str, str] | None = None,
    timeout: float = 120,
    **kwargs: object,
) -> CliResult:
    """Run `python -m ledger ARGS` as a user would, with the test's environment."""
    environment = dict(os.environ)
    environment.update(env or {})
    completed = subprocess.run(
        [sys.executable, "-m", "ledger", *args],
        capture_output=True,
        text=True,
        env=environment,
        timeout=timeout,
        check=False,
        **kwargs,  # type: ignore[arg-type]
    )
    return CliResult(completed.returncode, completed.stdout, completed.stderr)


@pytest.fixture
def cli() -> object:
    return run_cli
