"""Fixtures for tests that talk to the Notion sandbox through the real client.

Test modules import the fixture functions, which pytest registers under the names
given in @pytest.fixture(name=...). Listing this module in the root conftest.py's
pytest_plugins makes them available everywhere.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from ledger.notion.client import NotionClient
from ledger.notion.text import number_value, rich_text_value, title_value
from ledger.sandbox.notion import NotionSandbox

# Distinctive, so that a leak shows up in any text search of messages and logs.
NOTION_SANDBOX_TOKEN = "ntn-sbx-5e17-SECRET-decaf-9090-token"

# 20 requests per second on both sides, and retries that wait at most about 50 ms
# unless the sandbox sends Retry-After, keep fault-injection tests fast.
FAST_CLIENT_OPTIONS: dict[str, Any] = {
    "timeout": 1.0,
    "requests_per_second": 20.0,
    "max_retries": 3,
    "backoff_base": 0.02,
}

PRODUCTS_SCHEMA: dict[str, Any] = {
    "Name": {"title": {}},
    "id": {"rich_text": {}},
    "Price": {"number": {"format": "number"}},
    "Sales Count": {"number": {"format": "number"}},
    "Link": {"url": {}},
    "Last Change": {"date": {}},
}

MakeClient = Callable[..., NotionClient]


@pytest.fixture(name="notion_sandbox")
def notion_sandbox_fixture() -> Iterator[NotionSandbox]:
    """A running Notion sandbox limited to 20 requests per second, burst 3."""
    sandbox = NotionSandbox(
        token=NOTION_SANDBOX_TOKEN, rate_limit=20, retry_after=1, stall_seconds=1.5
    )
    with sandbox:
        yield sandbox


@pytest.fixture(name="make_notion_client")
def make_notion_client_fixture(notion_sandbox: NotionSandbox) -> Iterator[MakeClient]:
    """Build clients for the sandbox with fast retries; keyword arguments override."""
    clients: list[NotionClient] = []

    def make(**overrides: Any) -> NotionClient:
        options = FAST_CLIENT_OPTIONS | overrides
        base_url = options.pop("base_url", notion_sandbox.url)
        token = options.pop("token", NOTION_SANDBOX_TOKEN)
        client = NotionClient(base_url, token, **options)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture(name="products_table")
def products_table_fixture(notion_sandbox: NotionSandbox) -> tuple[str, str]:
    """A shared products database under a parent page: (database_id, data_source_id)."""
    parent = notion_sandbox.create_parent_page()
    return notion_sandbox.create_database(parent, "Products", PRODUCTS_SCHEMA)


def product_properties(
    name: str, key: str, price: float | None = None
) -> dict[str, Any]:
    """Return request properties for one row of PRODUCTS_SCHEMA."""
    return {
        "Name": title_value(name),
        "id": rich_text_value(key),
        "Price": number_value(price),
    }
