"""Fixtures for tests that talk to the Gumroad sandbox through the real client.

Test modules import the fixture functions, which pytest registers under the names
given in @pytest.fixture(name=...). Listing this module in the root conftest.py's
pytest_plugins makes them available everywhere.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from ledger.gumroad.client import GumroadClient
from ledger.sandbox.gumroad import GumroadSandbox

# Distinctive, so that a leak shows up in any text search of messages and logs.
GUMROAD_SANDBOX_TOKEN = "gr-sbx-7d41-SECRET-c0ffee-4242-token"

# Retries wait at most 50 ms, so fault-injection tests stay fast.
FAST_CLIENT_OPTIONS: dict[str, Any] = {
    "timeout": 2.0,
    "max_retries": 3,
    "backoff_base": 0.01,
    "backoff_cap": 0.05,
}

MakeClient = Callable[..., GumroadClient]


@pytest.fixture(name="gumroad_sandbox")
def gumroad_sandbox_fixture() -> Iterator[GumroadSandbox]:
    """A running Gumroad sandbox with an empty catalogue and a distinctive token."""
    sandbox = GumroadSandbox(token=GUMROAD_SANDBOX_TOKEN)
    sandbox.slow_delay = 1.0
    with sandbox:
        yield sandbox


@pytest.fixture(name="make_gumroad_client")
def make_gumroad_client_fixture(
    gumroad_sandbox: GumroadSandbox,
) -> Iterator[MakeClient]:
    """Build clients for the sandbox with fast retries; keyword arguments override."""
    clients: list[GumroadClient] = []

    def make(**overrides: Any) -> GumroadClient:
        options = FAST_CLIENT_OPTIONS | overrides
        base_url = options.pop("base_url", gumroad_sandbox.url)
        token = options.pop("token", GUMROAD_SANDBOX_TOKEN)
        client = GumroadClient(base_url, token, **options)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


def add_catalogue(sandbox: GumroadSandbox, count: int, **options: Any) -> list[str]:
    """Add `count` products named "Product 1".. and return their ids, oldest first."""
    return [
        sandbox.add_product(
            name=f"Product {number}",
            sales_count=number,
            revenue_usd_cents=number * 1000,
            **options,
        )
        for number in range(1, count + 1)
    ]
