"""Gumroad faults seen by a poll: each ends in a failed poll or is retried away.

A poll that fails records a `failed` row with its error and nothing else; the
next poll then records every sale exactly once. Error shapes and number forms at
the client level are tested in tests/test_gumroad_client.py, and the CLI side of
a failed poll in tests/test_cli_poll.py. These tests follow the same faults
through the ledger.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pytest

from ledger.errors import GumroadAuthError, GumroadError
from tests.fault_helpers import poll_statuses, total_deltas
from tests.ledger_helpers import StepClock, rows

if TYPE_CHECKING:
    from tests.fault_world import World

pytest_plugins = ["tests.fault_world"]

# Every fault of the Gumroad sandbox, sent for page 2 of a 3-page walk, often
# enough to outlast the client's retries. The hint is a phrase of the error.
MID_WALK_FAULTS = [
    pytest.param("success_false", "success false", id="200-success-false"),
    pytest.param("bad_request", "HTTP 400", id="400-error-field"),
    pytest.param("unauthorized", "HTTP 401", id="401-empty-body"),
    pytest.param("forbidden", "view_sales", id="403-empty-body"),
    pytest.param("html_500", "HTML page (HTTP 500)", id="500-html"),
    pytest.param("html_530", "Maintenance | Gumroad", id="530-cloudflare-html"),
    pytest.param("rate_limited", "HTTP 429", id="429-plain-text"),
    pytest.param("truncated", "invalid JSON", id="truncated-json"),
    pytest.param("repeat_page_key", "same page key twice", id="repeated-page-key"),
    pytest.param("slow", "read timed out", id="read-timeout"),
    pytest.param("reset", "connection failed or was reset", id="connection-reset"),
    pytest.param("json_array", "JSON list", id="json-array"),
    pytest.param("no_products", "without a products list", id="no-products-key"),
]
RETRIES = 2  # client retries in these tests; a fault sent RETRIES + 1 times wins


def seed(world: World, count: int = 25) -> list[str]:
    return [
        world.gumroad.add_product(
            name=f"Product {number}", sales_count=number, revenue_usd_cents=100 * number
        )
        for number in range(1, count + 1)
    ]


def sell_some(world: World, ids: list[str]) -> tuple[int, int]:
    """Sell and refund on products of every page; return the net (sales, cents)."""
    world.gumroad.sell(ids[0], 3, usd_cents=3000)
    world.gumroad.sell(ids[12], 1, usd_cents=700)
    world.gumroad.refund(ids[24], 1, usd_cents=100)
    return 3, 3600


@pytest.mark.parametrize(("kind", "hint"), MID_WALK_FAULTS)
def test_mid_walk_fault_records_failed_poll(world: World, kind: str, hint: str) -> None:
    ids = seed(world)
    world.poll()
    expected = sell_some(world, ids)
    world.gumroad.retry_after = 0
    world.gumroad.slow_delay = 0.5
    world.gumroad.fail_next(kind, times=RETRIES + 1, on_page=2)

    with pytest.raises(GumroadError) as raised:
        world.poll(timeout=0.2, max_retries=RETRIES)

    assert hint in str(raised.value)
    assert poll_statuses(world.engine) == ["ok", "failed"]
    world.check()
    assert total_deltas(world.engine) == (0, 0)

    world.gumroad.clear_faults()
    world.poll()

    assert poll_statuses(world.engine) == ["ok", "failed", "ok"]
    world.check()
    assert total_deltas(world.engine) == expected


@pytest.mark.parametrize("kind", ["html_530", "rate_limited", "reset", "slow"])
def test_transient_fault_retried_within_poll(world: World, kind: str) -> None:
    ids = seed(world)
    world.poll()
    expected = sell_some(world, ids)
    world.gumroad.retry_after = 0
    world.gumroad.slow_delay = 0.5
    world.gumroad.fail_next(kind, times=RETRIES, on_page=2)

    world.poll(timeout=0.2, max_retries=RETRIES)

    assert poll_statuses(world.engine) == ["ok", "ok"]
    assert total_deltas(world.engine) == expected


def test_missing_sales_figure_fails_poll(world: World) -> None:
    ids = seed(world)
    world.poll()
    world.gumroad.override(ids[12], sales_count=None)

    with pytest.raises(GumroadError) as raised:
        world.poll()

    assert "sales_count" in str(raised.value)
    assert poll_statuses(world.engine) == ["ok", "failed"]
    world.check()


def test_token_without_view_sales_fails_not_zero(world: World) -> None:
    seed(world, 3)
    world.poll()
    world.gumroad.scopes.discard("view_sales")

    with pytest.raises(GumroadAuthError):
        world.poll()

    assert total_deltas(world.engine) == (0, 0)
    assert rows(world.engine, "SELECT SUM(sales_count) FROM product_totals") == [(6,)]


@pytest.mark.parametrize("form", ["int", "float", "string"])
def test_number_form_change_writes_nothing(world: World, form: str) -> None:
    ids = seed(world, 3)
    world.poll()
    for product_id in ids:
        world.gumroad.update(product_id, number_form=form)

    result = world.poll()

    assert result.products_changed == 0
    assert total_deltas(world.engine) == (0, 0)


@pytest.mark.parametrize("form", ["int", "float", "string"])
def test_sale_in_any_number_form_counted_once(world: World, form: str) -> None:
    ids = seed(world, 3)
    world.poll()
    world.gumroad.update(ids[1], number_form=form)
    world.gumroad.sell(ids[1], 2, usd_cents=2500)

    world.poll()

    assert total_deltas(world.engine) == (2, 2500)
    world.check()


def test_catalogue_shrink_in_failed_walk_deletes_nothing(world: World) -> None:
    ids = seed(world)
    world.poll()
    for product_id in ids[:12]:
        world.gumroad.delete_product(product_id)
    world.gumroad.fail_next("bad_request", on_page=2)

    with pytest.raises(GumroadError):
        world.poll()

    deleted = "SELECT COUNT(*) FROM product_totals WHERE deleted"
    assert rows(world.engine, deleted) == [(0,)]

    world.poll()

    assert rows(world.engine, deleted) == [(12,)]
    assert total_deltas(world.engine) == (0, 0)
    world.check()


def test_clock_stepping_back_dates_by_clock(world: World) -> None:
    ids = seed(world, 3)
    start = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
    world.init()
    world.poll(clock=StepClock(start))
    world.gumroad.sell(ids[0], 1, usd_cents=500)

    world.poll(clock=StepClock(start - timedelta(days=2)))
    world.push()

    assert rows(world.engine, "SELECT day FROM sales_deltas") == [("2026-03-08",)]
    assert poll_statuses(world.engine) == ["ok", "ok"]
    world.check()
    world.check_notion()
