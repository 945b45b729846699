"""Notion faults during a push: transient ones are waited out, setup ones stop.

A transient fault (rate limit, overload, server error, conflict, timeout, reset)
is retried and the push completes with exactly one page per key. A configuration
fault (unshared database, retyped or deleted property, rejected token) stops the
push at once with a message that names the fix. Nothing is written, and the pages
stay pending until the push after the fix.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest

from ledger.errors import NotionConfigError, NotionError
from ledger.notion import projector
from ledger.notion.client import NotionClient
from ledger.notion.projector import push
from tests.fault_helpers import describe_requests

if TYPE_CHECKING:
    from tests.fault_world import World

pytest_plugins = ["tests.fault_world"]

# Where a fault is injected: the method and a part of the path of the request.
TARGETS = {
    "schema": ("GET", "/v1/data_sources/"),
    "lookup": ("POST", "/query"),
    "create": ("POST", "/v1/pages"),
    "update": ("PATCH", "/v1/pages/"),
}
TRANSIENT_KINDS = (
    "rate_limited",
    "overloaded",
    "html_502",
    "json_503",
    "json_500",
    "conflict",
    "timeout_before",
    "timeout_after_commit",
    "reset",
)
# One target per kind runs by default; the rest of the matrix is marked slow.
QUICK_CASES = {
    ("rate_limited", "create"),
    ("overloaded", "update"),
    ("html_502", "lookup"),
    ("json_503", "update"),
    ("json_500", "create"),
    ("conflict", "create"),
    ("conflict", "update"),
    ("timeout_before", "lookup"),
    ("timeout_after_commit", "create"),
    ("reset", "update"),
    ("reset", "schema"),
}
CLIENT_TIMEOUT = 0.3  # below the sandbox's stall of 1 s, so timeouts happen


@pytest.fixture(autouse=True)
def quick_settle(monkeypatch: pytest.MonkeyPatch) -> None:
    """Look up a create whose outcome is unknown after 50 ms instead of a second."""
    monkeypatch.setattr(projector, "SETTLE_SECONDS", 0.05)


def pending_creates(world: World) -> None:
    """Set up Notion and poll two products and a sale: 2 product and 1 daily page."""
    first = world.gumroad.add_product(name="Ebook", price_cents=999)
    world.gumroad.add_product(name="Course", price_cents=4900)
    world.init()
    world.poll()
    world.gumroad.sell(first, 2)
    world.poll()
    world.notion.clear_requests()


def pending_updates(world: World) -> None:
    """Push everything, then poll more sales: 1 product and 1 daily page to update."""
    pending_creates(world)
    world.push()
    product = world.gumroad.products()[-1]["id"]
    world.gumroad.sell(product, 1)
    world.poll()
    world.notion.clear_requests()


def matrix() -> list[object]:
    cases = []
    for kind in TRANSIENT_KINDS:
        for target in TARGETS:
            marks = () if (kind, target) in QUICK_CASES else (pytest.mark.slow,)
            cases.append(pytest.param(kind, target, id=f"{target}-{kind}", marks=marks))
    return cases


@pytest.mark.parametrize(("kind", "target"), matrix())
def test_transient_fault_is_waited_out(world: World, kind: str, target: str) -> None:
    if target == "update":
        pending_updates(world)
    else:
        pending_creates(world)
    world.notion.retry_after = 1
    method, path = TARGETS[target]
    world.notion.fail_next(kind, method=method, path_contains=path)

    world.push(timeout=CLIENT_TIMEOUT)

    records = world.notion.requests
    assert [r.fault for r in records].count(kind) == 1, describe_requests(records)
    world.check_notion()


@pytest.mark.parametrize("kind", ["rate_limited", "overloaded"])
def test_rate_limit_burst_never_resent_early(world: World, kind: str) -> None:
    pending_creates(world)
    world.notion.retry_after = 1
    world.notion.fail_next(kind, times=2)

    world.push()

    records = world.notion.requests
    rejected = [i for i, r in enumerate(records) if r.status in (429, 529)]
    assert len(rejected) == 2, describe_requests(records)
    for index in rejected:
        waited = records[index + 1].time - records[index].time
        assert waited >= 1.0, f"request {index + 1} resent after {waited:.3f} s"
    world.check_notion()


def test_retry_after_beyond_maximum_not_resent(world: World) -> None:
    pending_creates(world)
    world.notion.retry_after = 120
    world.notion.fail_next("rate_limited")
    started = time.monotonic()

    with pytest.raises(NotionError) as raised:
        world.push()

    assert time.monotonic() - started < 10
    assert len(world.notion.requests) == 1
    assert raised.value.status == 429
    assert "120" in str(raised.value)
    assert world.pending() == {"products": 2, "daily": 1}


def test_transient_burst_beyond_retries_stays_pending(world: World) -> None:
    pending_creates(world)
    world.notion.fail_next("json_503", times=3)

    with pytest.raises(NotionError) as raised:
        world.push(max_retries=2)

    assert raised.value.transient is True
    assert "503" in str(raised.value)
    assert len(world.notion.requests) == 3
    assert world.notion.write_count() == 0
    assert world.pending() == {"products": 2, "daily": 1}

    world.push()

    world.check_notion()


def test_unclear_creates_beyond_attempts_stay_pending(world: World) -> None:
    pending_creates(world)
    world.notion.fail_next("json_500", times=3, method="POST", path_contains="/pages")

    with pytest.raises(NotionError):
        world.push()

    assert world.pending() == {"products": 2, "daily": 1}

    world.push()

    world.check_notion()


# Configuration faults: a clear error at once, no retry loop, nothing lost


def unshare_products(world: World) -> Callable[[], None]:
    database = world.targets()["products_database_id"]
    world.notion.unshare(database)
    return lambda: world.notion.share(database)


def retype_price(world: World) -> Callable[[], None]:
    source = world.targets()["products_data_source_id"]
    world.notion.set_property_type(source, "Price", "rich_text")
    return lambda: world.notion.set_property_type(source, "Price", "number")


def delete_sales_count(world: World) -> Callable[[], None]:
    source = world.targets()["products_data_source_id"]
    world.notion.remove_property(source, "Sales Count")
    return world.init


def retype_daily_date(world: World) -> Callable[[], None]:
    source = world.targets()["daily_data_source_id"]
    world.notion.set_property_type(source, "Date", "rich_text")
    return lambda: world.notion.set_property_type(source, "Date", "date")


CONFIG_FAULTS = [
    pytest.param(unshare_products, "Connections", (2, 1), id="database-not-shared"),
    pytest.param(
        retype_price, "change its type back to number", (2, 1), id="property-retyped"
    ),
    pytest.param(
        delete_sales_count, "gumroad-ledger init", (2, 1), id="property-deleted"
    ),
    pytest.param(
        retype_daily_date, "change its type back to date", (0, 1), id="daily-retyped"
    ),
]


def assert_no_request_repeated(records: list[Any]) -> None:
    """Fail when a request was sent twice, which is what a retry loop does."""
    sent = [(r.method, r.path, json.dumps(r.body, sort_keys=True)) for r in records]
    assert len(sent) == len(set(sent)), describe_requests(records)


@pytest.mark.parametrize(("break_notion", "fix_hint", "pending"), CONFIG_FAULTS)
def test_config_fault_stops_without_retry(
    world: World,
    break_notion: Callable[[World], Callable[[], None]],
    fix_hint: str,
    pending: tuple[int, int],
) -> None:
    pending_creates(world)
    repair = break_notion(world)

    with pytest.raises(NotionConfigError) as raised:
        world.push()

    assert fix_hint in str(raised.value)
    assert_no_request_repeated(world.notion.requests)
    assert world.pending() == {"products": pending[0], "daily": pending[1]}

    repair()
    world.push()

    world.check_notion()


def test_rejected_token_stops_without_retry(world: World) -> None:
    pending_creates(world)

    with (
        NotionClient(world.notion.url, "ntn_wrong_token", backoff_base=0.01) as client,
        pytest.raises(NotionConfigError) as raised,
    ):
        push(world.engine, world.settings, client)

    assert "NOTION_TOKEN was rejected" in str(raised.value)
    assert len(world.notion.requests) == 1
    assert world.pending() == {"products": 2, "daily": 1}


def test_deleted_property_refilled_after_init(world: World) -> None:
    pending_creates(world)
    world.push()
    source = world.targets()["products_data_source_id"]
    world.notion.remove_property(source, "Sales Count")

    world.init()
    world.push()

    world.check_notion()


def test_second_data_source_keeps_pushing_to_first(world: World) -> None:
    pending_creates(world)
    database = world.targets()["products_database_id"]
    extra = world.notion.add_data_source(database, {"Title": {"title": {}}})

    world.push()

    assert world.notion.pages(extra) == []
    world.check_notion()


def test_second_data_source_stops_init(world: World) -> None:
    pending_creates(world)
    database = world.targets()["products_database_id"]
    world.notion.add_data_source(database, {"Title": {"title": {}}})
    world.notion.clear_requests()

    with pytest.raises(NotionConfigError) as raised:
        world.init()

    assert "2 data sources" in str(raised.value)
    assert "move the extra ones to their own databases" in str(raised.value)
    assert len(world.notion.requests) == 1
    assert world.notion.schema_write_count() == 0
