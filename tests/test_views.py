"""Reporting views: exact rows on ledgers written by the real poller."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import inspect

from ledger.store.db import alembic_config
from tests.ledger_fixture import LedgerBuilder, build_reference_ledger, make_product

REPORTING_VIEWS = {
    "store_daily_totals",
    "weekly_sales",
    "store_weekly_totals",
    "monthly_sales",
    "store_monthly_totals",
    "product_history",
}


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    path = tmp_path_factory.mktemp("views") / "ledger.sqlite"
    build_reference_ledger(path).close()
    yield path


@pytest.fixture(scope="module")
def tokyo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    path = tmp_path_factory.mktemp("tokyo") / "ledger.sqlite"
    build_reference_ledger(path, timezone="Asia/Tokyo").close()
    yield path


def rows(path: Path, query: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as connection:
        return connection.execute(query).fetchall()


def test_store_daily_totals_values(reference: Path) -> None:
    assert rows(reference, "SELECT * FROM store_daily_totals ORDER BY day") == [
        ("2026-01-20", 1, 2, 2000),
        ("2026-02-10", 3, 4, 7300),
        ("2026-02-25", 2, 0, -4200),
        ("2026-03-20", 3, 10, 5200),
        ("2026-03-22", 2, 0, 650),
        ("2026-03-25", 1, 1, 1000),
    ]


def test_store_daily_totals_use_local_day(tokyo: Path) -> None:
    # Poll 4 (18:00 UTC) and poll 7 (23:30 UTC) are past midnight in Tokyo.
    assert rows(tokyo, "SELECT * FROM store_daily_totals ORDER BY day") == [
        ("2026-01-20", 1, 2, 2000),
        ("2026-02-10", 2, 3, 6100),
        ("2026-02-11", 1, 1, 1200),
        ("2026-02-25", 2, 0, -4200),
        ("2026-03-20", 3, 10, 5200),
        ("2026-03-23", 2, 0, 650),
        ("2026-03-25", 1, 1, 1000),
    ]


def test_weekly_sales_values(reference: Path) -> None:
    query = "SELECT * FROM weekly_sales ORDER BY week_start, product_id"
    assert rows(reference, query) == [
        ("2026-W04", "2026-01-19", "ebook", "Ebook", 2, 2000),
        ("2026-W07", "2026-02-09", "course", "Course", 1, 5000),
        ("2026-W07", "2026-02-09", "ebook", "Ebook", 1, 1200),
        ("2026-W07", "2026-02-09", "stickers", "Sticker pack", 2, 1100),
        ("2026-W09", "2026-02-23", "course", "Course", -1, -5000),
        ("2026-W09", "2026-02-23", "template", "Template", 1, 800),
        ("2026-W12", "2026-03-16", "ebook", "Ebook", 4, 4800),
        ("2026-W12", "2026-03-16", "sampler", "Sampler", 5, 0),
        ("2026-W12", "2026-03-16", "stickers", "Sticker pack", -1, -550),
        ("2026-W12", "2026-03-16", "template", "Template", 2, 1600),
        ("2026-W13", "2026-03-23", "template", "Template", 1, 1000),
    ]


def test_store_weekly_totals_values(reference: Path) -> None:
    assert rows(reference, "SELECT * FROM store_weekly_totals ORDER BY week") == [
        ("2026-W04", "2026-01-19", 1, 2, 2000),
        ("2026-W07", "2026-02-09", 3, 4, 7300),
        ("2026-W09", "2026-02-23", 2, 0, -4200),
        ("2026-W12", "2026-03-16", 4, 10, 5850),
        ("2026-W13", "2026-03-23", 1, 1, 1000),
    ]


def test_store_weekly_totals_use_local_day(tokyo: Path) -> None:
    # In Tokyo poll 7 is Monday 2026-03-23, so it joins poll 8 in week 13.
    query = "SELECT * FROM store_weekly_totals WHERE week >= '2026-W12' ORDER BY week"
    assert rows(tokyo, query) == [
        ("2026-W12", "2026-03-16", 3, 10, 5200),
        ("2026-W13", "2026-03-23", 3, 1, 1650),
    ]


def test_monthly_sales_values(reference: Path) -> None:
    query = "SELECT * FROM monthly_sales ORDER BY month, product_id"
    assert rows(reference, query) == [
        ("2026-01", "ebook", "Ebook", 2, 2000),
        ("2026-02", "course", "Course", 0, 0),
        ("2026-02", "ebook", "Ebook", 1, 1200),
        ("2026-02", "stickers", "Sticker pack", 2, 1100),
        ("2026-02", "template", "Template", 1, 800),
        ("2026-03", "ebook", "Ebook", 4, 4800),
        ("2026-03", "sampler", "Sampler", 5, 0),
        ("2026-03", "stickers", "Sticker pack", -1, -550),
        ("2026-03", "template", "Template", 3, 2600),
    ]


def test_store_monthly_totals_values(reference: Path) -> None:
    assert rows(reference, "SELECT * FROM store_monthly_totals ORDER BY month") == [
        ("2026-01", 1, 2, 2000),
        ("2026-02", 4, 4, 3100),
        ("2026-03", 4, 11, 6850),
    ]


HISTORY_COLUMNS = """
    product_id, snapshot_number, observed_at, name_changed, price_changed,
    previous_price_cents, price_cents, sales_count_change, revenue_usd_cents_change,
    previous_status, status, status_changed, changed_fields
"""

NOON = "12:00:00.000000"
EXPECTED_HISTORY = [
    ("course", 1, f"2026-01-05 {NOON}", None, None, None, 5000, None, None, None,
     "published", None, None),
    ("course", 2, f"2026-02-10 {NOON}", 0, 0, 5000, 5000, 1, 5000, "published",
     "published", 0, "sales_count,revenue"),
    ("course", 3, f"2026-02-25 {NOON}", 0, 0, 5000, 5000, -1, -5000, "published",
     "published", 0, "sales_count,revenue"),
    ("course", 4, "2026-03-22 23:30:00.000000", 0, 0, 5000, 5000, 0, 0, "published",
     "unpublished", 1, "status"),
    ("ebook", 1, f"2026-01-05 {NOON}", None, None, None, 1000, None, None, None,
     "published", None, None),
    ("ebook", 2, f"2026-01-20 {NOON}", 0, 0, 1000, 1000, 2, 2000, "published",
     "published", 0, "sales_count,revenue"),
    ("ebook", 3, f"2026-02-10 {NOON}", 0, 1, 1000, 1200, 0, 0, "published",
     "published", 0, "price"),
    ("ebook", 4, "2026-02-10 18:00:00.000000", 0, 0, 1200, 1200, 1, 1200,
     "published", "published", 0, "sales_count,revenue"),
    ("ebook", 5, f"2026-03-20 {NOON}", 0, 0, 1200, 1200, 3, 3600, "published",
     "published", 0, "sales_count,revenue"),
    ("ebook", 6, "2026-03-22 23:30:00.000000", 0, 0, 1200, 1200, 1, 1200,
     "published", "published", 0, "sales_count,revenue"),
    ("sampler", 1, f"2026-01-05 {NOON}", None, None, None, 0, None, None, None,
     "published", None, None),
    ("sampler", 2, f"2026-03-20 {NOON}", 0, 0, 0, 0, 5, 0, "published", "published",
     0, "sales_count"),
    ("stickers", 1, f"2026-01-05 {NOON}", None, None, None, 500, None, None, None,
     "published", None, None),
    ("stickers", 2, f"2026-02-10 {NOON}", 0, 0, 500, 500, 2, 1100, "published",
     "published", 0, "sales_count,revenue"),
    ("stickers", 3, f"2026-03-20 {NOON}", 1, 0, 500, 500, 0, 0, "published",
     "published", 0, "name"),
    ("stickers", 4, "2026-03-22 23:30:00.000000", 0, 0, 500, 500, -1, -550,
     "published", "published", 0, "sales_count,revenue"),
    ("template", 1, f"2026-02-25 {NOON}", None, None, None, 800, None, None, None,
     "published", None, None),
    ("template", 2, f"2026-03-20 {NOON}", 0, 0, 800, 800, 2, 1600, "published",
     "published", 0, "sales_count,revenue"),
    ("template", 3, "2026-03-22 23:30:00.000000", 0, 1, 800, 1000, 0, 0,
     "published", "published", 0, "price"),
    ("template", 4, f"2026-03-25 {NOON}", 0, 0, 1000, 1000, 1, 1000, "published",
     "published", 0, "sales_count,revenue"),
    ("zine", 1, f"2026-01-05 {NOON}", None, None, None, 400, None, None, None,
     "published", None, None),
    ("zine", 2, f"2026-02-25 {NOON}", 0, 0, 400, 400, 0, 0, "published", "deleted", 1,
     "status"),
]  # fmt: skip


@pytest.mark.parametrize(
    "expected",
    EXPECTED_HISTORY,
    ids=[f"{row[0]}-{row[1]}" for row in EXPECTED_HISTORY],
)
def test_product_history_row(reference: Path, expected: tuple[Any, ...]) -> None:
    query = (
        f"SELECT {HISTORY_COLUMNS} FROM product_history "
        f"WHERE product_id = '{expected[0]}' AND snapshot_number = {expected[1]}"
    )
    assert rows(reference, query) == [expected]


def test_product_history_has_every_snapshot(reference: Path) -> None:
    history = rows(reference, "SELECT snapshot_id FROM product_history")
    snapshots = rows(reference, "SELECT id FROM product_snapshots")
    assert sorted(history) == sorted(snapshots)


def test_product_history_orders_by_snapshot_id(tmp_path: Path) -> None:
    # The clock steps back between the two polls; history follows write order.
    builder = LedgerBuilder(tmp_path / "ledger.sqlite")
    builder.catalogue.add(make_product("ebook", "Ebook", price_cents=1000))
    builder.poll_at("2026-05-02 12:00")
    builder.catalogue.change("ebook", name="Ebook, second edition")
    builder.poll_at("2026-05-01 12:00")
    builder.close()

    query = (
        "SELECT snapshot_number, name, previous_name FROM product_history "
        "ORDER BY snapshot_number"
    )
    assert rows(tmp_path / "ledger.sqlite", query) == [
        (1, "Ebook", None),
        (2, "Ebook, second edition", "Ebook"),
    ]


def test_product_history_links_and_membership(tmp_path: Path) -> None:
    builder = LedgerBuilder(tmp_path / "ledger.sqlite")
    builder.catalogue.add(make_product("club", "Club", price_cents=900))
    builder.poll_at("2026-05-01 12:00")
    builder.catalogue.change("club", is_membership=True, short_url="https://x.test/c")
    builder.poll_at("2026-05-02 12:00")
    builder.close()

    query = (
        "SELECT membership_changed, links_changed, changed_fields "
        "FROM product_history WHERE snapshot_number = 2"
    )
    assert rows(tmp_path / "ledger.sqlite", query) == [(1, 1, "membership,links")]


def test_totals_reconcile_with_deltas(reference: Path) -> None:
    # Baseline products start from their first snapshot, later ones from zero.
    query = """
        SELECT h.product_id, h.sales_count, h.revenue_usd_cents, p.is_baseline,
               COALESCE((SELECT SUM(sales_delta) FROM sales_deltas d
                         WHERE d.product_id = h.product_id), 0),
               COALESCE((SELECT SUM(revenue_usd_cents_delta) FROM sales_deltas d
                         WHERE d.product_id = h.product_id), 0),
               t.sales_count, t.revenue_usd_cents
        FROM product_history h
        JOIN polls p ON p.id = h.poll_id
        JOIN product_totals t ON t.product_id = h.product_id
        WHERE h.snapshot_number = 1
        ORDER BY h.product_id
    """
    found = {
        row[0]: (
            (row[1] if row[3] else 0) + row[4],
            (row[2] if row[3] else 0) + row[5],
            row[6],
            row[7],
        )
        for row in rows(reference, query)
    }
    assert found == {
        "course": (2, 10000, 2, 10000),
        "ebook": (17, 18000, 17, 18000),
        "sampler": (25, 0, 25, 0),
        "stickers": (5, 2750, 5, 2750),
        "template": (4, 3400, 4, 3400),
        "zine": (1, 500, 1, 500),
    }


def test_new_product_first_delta_is_totals(reference: Path) -> None:
    query = (
        "SELECT day, sales_delta, revenue_usd_cents_delta FROM sales_deltas "
        "WHERE product_id = 'template' ORDER BY id LIMIT 1"
    )
    assert rows(reference, query) == [("2026-02-25", 1, 800)]


def test_deleted_product_has_no_delta(reference: Path) -> None:
    query = "SELECT COUNT(*) FROM sales_deltas WHERE product_id = 'zine'"
    assert rows(reference, query) == [(0,)]


def test_iso_weeks_cross_year_boundary(tmp_path: Path) -> None:
    builder = LedgerBuilder(tmp_path / "ledger.sqlite")
    builder.catalogue.add(make_product("ebook", "Ebook", price_cents=100))
    builder.poll_at("2025-12-20 12:00")
    sales_days = ["2025-12-29", "2026-01-04", "2026-12-31", "2027-01-01", "2027-01-04"]
    for count, day in enumerate(sales_days, start=1):
        builder.catalogue.change("ebook", sales_count=count, revenue_usd_cents=count)
        builder.poll_at(f"{day} 12:00")
    builder.close()

    query = "SELECT week, week_start, sales_delta FROM store_weekly_totals ORDER BY 2"
    assert rows(tmp_path / "ledger.sqlite", query) == [
        ("2026-W01", "2025-12-29", 2),
        ("2026-W53", "2026-12-28", 2),
        ("2027-W01", "2027-01-04", 1),
    ]


def test_monthly_views_cross_year_boundary(tmp_path: Path) -> None:
    builder = LedgerBuilder(tmp_path / "ledger.sqlite")
    builder.catalogue.add(make_product("ebook", "Ebook", price_cents=100))
    builder.poll_at("2026-12-01 12:00")
    for count, day in enumerate(["2026-12-31", "2027-01-01"], start=1):
        builder.catalogue.change("ebook", sales_count=count, revenue_usd_cents=count)
        builder.poll_at(f"{day} 12:00")
    builder.close()

    query = "SELECT month, sales_delta FROM store_monthly_totals ORDER BY month"
    assert rows(tmp_path / "ledger.sqlite", query) == [("2026-12", 1), ("2027-01", 1)]


def test_views_empty_on_new_ledger(tmp_path: Path) -> None:
    LedgerBuilder(tmp_path / "ledger.sqlite").close()
    for view in sorted(REPORTING_VIEWS):
        assert rows(tmp_path / "ledger.sqlite", f"SELECT * FROM {view}") == [], view


def test_downgrade_drops_reporting_views(tmp_path: Path) -> None:
    builder = LedgerBuilder(tmp_path / "ledger.sqlite")
    config = alembic_config(builder.url)
    with builder.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0001")
    views = set(inspect(builder.engine).get_view_names())
    builder.close()

    assert views == {"product_totals", "daily_sales"}
