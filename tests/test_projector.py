"""The projector against the Notion sandbox: exact values, few writes, no duplicates."""

from __future__ import annotations

import json
import sqlite3
from datetime import date, timedelta
from typing import TYPE_CHECKING

import pytest
from sqlalchemy.orm import Session

from ledger.errors import ConfigError, NotionConfigError, NotionError
from ledger.notion import projector
from ledger.notion.layout import products_layout
from ledger.notion.projection import desired_products, major_units, usd
from ledger.notion.projector import pending_counts
from ledger.notion.text import rich_text_value, title_value, utf16_length

if TYPE_CHECKING:
    from tests.push_fixtures import Stack

pytest_plugins = ["tests.push_fixtures"]

DAY = date(2026, 12, 4)  # the day of Stack.poll() unless a test passes another
NEXT_DAY = DAY + timedelta(days=1)


@pytest.fixture
def quick_settle(monkeypatch: pytest.MonkeyPatch) -> None:
    """Look up a create whose outcome is unknown after 50 ms instead of a second."""
    monkeypatch.setattr(projector, "SETTLE_SECONDS", 0.05)


def stored_page_id(stack: Stack, kind: str, key: str) -> str | None:
    with sqlite3.connect(stack.path) as connection:
        row = connection.execute(
            "SELECT page_id FROM notion_pages WHERE kind = ? AND key = ?", (kind, key)
        ).fetchone()
    return row[0] if row else None


def page_ids(pages: list[dict]) -> list[str]:
    return [page["id"] for page in pages]


@pytest.mark.parametrize(
    ("cents", "currency", "expected"),
    [
        (999, "usd", 9.99),
        (100, "eur", 1.0),
        (799, "jpy", 799),
        (25000, "vnd", 25000),
        (111000, "krw", 1110.0),
        (1, "gbp", 0.01),
    ],
    ids=["usd", "eur-whole", "jpy-whole-yen", "vnd-whole", "krw-x100", "one-cent"],
)
def test_major_units_by_currency(cents: int, currency: str, expected: float) -> None:
    assert major_units(cents, currency) == expected


@pytest.mark.parametrize(
    ("cents", "expected"),
    [(2997, 29.97), (-999, -9.99), (0, 0.0), (10, 0.1), (123456789, 1234567.89)],
    ids=["positive", "negative", "zero", "ten-cents", "large"],
)
def test_usd_rounds_to_cents(cents: int, expected: float) -> None:
    assert usd(cents) == expected


def test_first_push_creates_product_pages(ready: Stack) -> None:
    ebook = ready.gumroad.add_product(
        name="Ebook",
        price_cents=999,
        sales_count=3,
        revenue_usd_cents=2997,
        preview_url="https://public-files.gumroad.com/ebook.png",
    )
    ready.gumroad.add_product(name="Course", price_cents=4900, published=False)
    ready.poll()

    result = ready.push()

    assert result.created == 2
    assert ready.writes() == 2
    assert len(ready.product_pages()) == 2
    values = ready.product_values()[ebook]
    assert values["name"] == "Ebook"
    assert values["price"] == 9.99
    assert values["sales_count"] == 3
    assert values["revenue"] == 29.97
    assert values["currency"] == "USD"
    assert values["status"] == "published"
    assert values["link"].startswith("http")
    assert values["last_change"] == "2026-12-04T12:00:00+00:00"


def test_product_page_cover_is_preview(ready: Stack) -> None:
    ready.gumroad.add_product(
        name="Ebook", preview_url="https://public-files.gumroad.com/ebook.png"
    )
    ready.poll()

    ready.push()

    cover = ready.product_pages()[0]["cover"]
    assert cover == {
        "type": "external",
        "external": {"url": "https://public-files.gumroad.com/ebook.png"},
    }


def test_unpublished_product_status(ready: Stack) -> None:
    course = ready.gumroad.add_product(name="Course", published=False)
    ready.poll()

    ready.push()

    assert ready.product_values()[course]["status"] == "unpublished"


def test_yen_price_stays_whole(ready: Stack) -> None:
    product = ready.gumroad.add_product(name="Zine", price_cents=799, currency="jpy")
    ready.poll()

    ready.push()

    assert ready.product_values()[product]["price"] == 799
    assert ready.product_values()[product]["currency"] == "JPY"


def test_second_push_sends_no_write(ready: Stack) -> None:
    ready.gumroad.add_product(name="Ebook", sales_count=3, revenue_usd_cents=2997)
    ready.poll()
    ready.push()
    ready.poll()
    before = ready.writes()

    result = ready.push()

    assert ready.writes() == before
    assert result.writes == 0
    assert result.unchanged == 1


def test_sales_create_daily_page(ready: Stack) -> None:
    ebook = ready.gumroad.add_product(name="Ebook", price_cents=999)
    ready.poll()
    ready.push()
    ready.gumroad.sell(ebook, 2)
    ready.poll()

    result = ready.push()

    assert result.created == 1
    assert result.updated == 1
    key = f"{ebook}|2026-12-04"
    daily = ready.daily_values()
    assert list(daily) == [key]
    assert daily[key]["sales"] == 2
    assert daily[key]["revenue"] == 19.98
    assert daily[key]["date"] == "2026-12-04"
    assert daily[key]["name"] == "2026-12-04 · Ebook"
    assert daily[key]["product"] == ready.product_pages()[0]["id"]


def test_product_totals_follow_sales(ready: Stack) -> None:
    ebook = ready.gumroad.add_product(
        name="Ebook", price_cents=999, sales_count=1, revenue_usd_cents=999
    )
    ready.poll()
    ready.push()
    ready.gumroad.sell(ebook, 2)
    ready.poll()

    ready.push()

    values = ready.product_values()[ebook]
    assert values["sales_count"] == 3
    assert values["revenue"] == 29.97


def test_refund_shows_as_negative(ready: Stack) -> None:
    ebook = ready.gumroad.add_product(
        name="Ebook", price_cents=999, sales_count=2, revenue_usd_cents=1998
    )
    ready.poll()
    ready.push()
    ready.gumroad.refund(ebook, 1)
    ready.poll(NEXT_DAY)

    ready.push()

    daily = ready.daily_values()[f"{ebook}|2026-12-05"]
    assert daily["sales"] == -1
    assert daily["revenue"] == -9.99
    assert ready.product_values()[ebook]["revenue"] == 9.99


def test_same_day_days_add_up(ready: Stack) -> None:
    ebook = ready.gumroad.add_product(name="Ebook", price_cents=500)
    ready.poll()
    ready.gumroad.sell(ebook, 1)
    ready.poll(hour=13)
    ready.push()
    ready.gumroad.sell(ebook, 2)
    ready.poll(hour=14)

    result = ready.push()

    assert result.created == 0
    assert len(ready.daily_pages()) == 1
    assert ready.daily_values()[f"{ebook}|2026-12-04"]["revenue"] == 15.0


def test_netted_out_day_keeps_zero_page(ready: Stack) -> None:
    ebook = ready.gumroad.add_product(name="Ebook", price_cents=999)
    ready.poll()
    ready.gumroad.sell(ebook, 1)
    ready.poll(hour=13)
    ready.push()
    page_before = page_ids(ready.daily_pages())
    ready.gumroad.refund(ebook, 1)
    ready.poll(hour=14)

    ready.push()

    assert page_ids(ready.daily_pages()) == page_before
    daily = ready.daily_values()[f"{ebook}|2026-12-04"]
    assert daily["sales"] == 0
    assert daily["revenue"] == 0


def test_netted_out_unpushed_day_gets_no_page(ready: Stack) -> None:
    ebook = ready.gumroad.add_product(name="Ebook", price_cents=999)
    ready.poll()
    ready.gumroad.sell(ebook, 1)
    ready.poll(hour=13)
    ready.gumroad.refund(ebook, 1)
    ready.poll(hour=14)

    ready.push()

    assert ready.daily_pages() == []


def test_renamed_product_keeps_page(ready: Stack) -> None:
    ebook = ready.gumroad.add_product(name="Ebook")
    ready.poll()
    ready.push()
    page_before = page_ids(ready.product_pages())
    ready.gumroad.rename(ebook, "Ebook, second edition")
    ready.poll(NEXT_DAY)

    result = ready.push()

    assert result.created == 0
    assert page_ids(ready.product_pages()) == page_before
    assert ready.product_values()[ebook]["name"] == "Ebook, second edition"


def test_update_sends_changed_properties_only(ready: Stack) -> None:
    ebook = ready.gumroad.add_product(name="Ebook")
    ready.poll()
    ready.push()
    ready.gumroad.rename(ebook, "Ebook 2")
    ready.poll()
    ready.notion.clear_requests()

    ready.push()

    patches = [r for r in ready.notion.requests if r.method == "PATCH"]
    assert len(patches) == 1
    assert list(patches[0].body["properties"]) == ["Name"]


def test_deleted_product_marked_deleted(ready: Stack) -> None:
    ebook = ready.gumroad.add_product(name="Ebook")
    ready.poll()
    ready.push()
    ready.gumroad.delete_product(ebook)
    ready.poll(NEXT_DAY)

    ready.push()

    assert ready.product_values()[ebook]["status"] == "deleted"
    assert len(ready.product_pages()) == 1


def test_pending_counts_before_and_after(ready: Stack) -> None:
    ebook = ready.gumroad.add_product(name="Ebook")
    ready.gumroad.add_product(name="Course")
    ready.poll()
    ready.gumroad.sell(ebook, 1)
    ready.poll(hour=13)

    before = pending_counts(ready.engine, ready.settings)
    ready.push()
    after = pending_counts(ready.engine, ready.settings)

    assert before == {"products": 2, "daily": 1}
    assert after == {"products": 0, "daily": 0}


def test_dry_run_sends_no_write(ready: Stack) -> None:
    ebook = ready.gumroad.add_product(name="Ebook")
    ready.poll()
    ready.push()
    ready.gumroad.add_product(name="Course")
    ready.gumroad.rename(ebook, "Ebook 2")
    ready.poll()
    before = ready.writes()

    result = ready.push(dry_run=True)

    assert ready.writes() == before
    lines = [write.describe() for write in result.planned]
    assert any(line.startswith("create product") and "Course" in line for line in lines)
    assert any(
        line.startswith(f"update product {ebook}") and "Name" in line for line in lines
    )
    assert len(lines) == 2


def test_push_before_init_names_init(stack: Stack) -> None:
    with pytest.raises(ConfigError) as caught:
        stack.push()

    assert "gumroad-ledger init" in str(caught.value)


def test_existing_database_adopted_without_duplicates(stack: Stack) -> None:
    database, source = stack.notion.create_database(
        stack.parent, "Sales", products_layout().schema()
    )
    stack.init(stack.settings_with(NOTION_PRODUCTS_DATABASE_ID=database))
    for number in range(130):
        stack.gumroad.add_product(name=f"Product {number}", sales_count=number)
    stack.poll()
    stale = fill_matching_pages(stack, source)
    stack.notion.clear_requests()

    result = stack.push()

    assert result.adopted == 130
    assert result.created == 0
    assert len(stack.notion.pages(source)) == 130
    assert stack.writes() == len(stale)
    queries = [r for r in stack.notion.requests if r.path.endswith("/query")]
    assert len(queries) == 2
    assert queries[1].body.get("start_cursor")
    assert all(stack.product_values()[key]["sales_count"] != -1 for key in stale)


def test_adopted_equal_page_gets_no_write(stack: Stack) -> None:
    stack.init()
    product = stack.gumroad.add_product(name="Ebook", price_cents=999)
    stack.poll()
    source = stack.targets()["products_data_source_id"]
    layout = products_layout()
    properties = layout.encode(
        {
            "name": "Ebook",
            "id": product,
            "price": 9.99,
            "sales_count": 0,
            "revenue": 0.0,
            "link": stack.gumroad.products()[0]["short_url"],
            "currency": "USD",
            "status": "published",
            "last_change": "2026-12-04T12:00:00+00:00",
        }
    )
    stack.notion.add_page(source, properties)
    stack.notion.clear_requests()

    result = stack.push()

    assert result.adopted == 1
    assert stack.writes() == 0


def test_duplicate_pages_adopt_oldest(stack: Stack) -> None:
    stack.init()
    product = stack.gumroad.add_product(name="Ebook")
    stack.poll()
    source = stack.targets()["products_data_source_id"]
    key_only = {"Name": title_value("Ebook"), "id": rich_text_value(product)}
    oldest = stack.notion.add_page(
        source, key_only, created_time="2026-01-01T00:00:00Z"
    )
    stack.notion.add_page(source, key_only, created_time="2026-02-01T00:00:00Z")

    stack.push()

    assert stored_page_id(stack, "product", product) == oldest
    assert len(stack.product_pages()) == 2


def test_rate_limit_waits_retry_after(ready: Stack) -> None:
    ready.gumroad.add_product(name="Ebook")
    ready.poll()
    ready.notion.retry_after = 1
    ready.notion.fail_next("rate_limited", method="POST", path_contains="/v1/pages")

    result = ready.push()

    assert result.created == 1
    creates = [r for r in ready.notion.requests if r.path == "/v1/pages"]
    assert [r.status for r in creates] == [429, 200]
    assert creates[1].time - creates[0].time >= 1.0
    assert len(ready.product_pages()) == 1


def test_late_answered_create_leaves_one_page(ready: Stack, quick_settle: None) -> None:
    ready.gumroad.add_product(name="Ebook")
    ready.poll()
    ready.notion.fail_next(
        "timeout_after_commit", method="POST", path_contains="/v1/pages", delay=1.0
    )

    with ready.new_client(timeout=0.3) as client:
        ready.client = client
        result = ready.push()

    assert len(ready.product_pages()) == 1
    assert result.adopted == 1
    assert result.created == 0


def test_lost_create_is_sent_again(ready: Stack, quick_settle: None) -> None:
    product = ready.gumroad.add_product(name="Ebook")
    ready.poll()
    ready.notion.fail_next("json_503", method="POST", path_contains="/v1/pages")

    result = ready.push()

    assert result.created == 1
    assert len(ready.product_pages()) == 1
    assert stored_page_id(ready, "product", product) == ready.product_pages()[0]["id"]


def test_unclear_create_stays_pending(ready: Stack, quick_settle: None) -> None:
    product = ready.gumroad.add_product(name="Ebook")
    ready.poll()
    ready.notion.fail_next("json_500", times=3, method="POST", path_contains="/pages")

    with pytest.raises(NotionError):
        ready.push()

    with sqlite3.connect(ready.path) as connection:
        row = connection.execute(
            "SELECT page_id, create_started_at FROM notion_pages WHERE key = ?",
            (product,),
        ).fetchone()
    assert row[0] is None
    assert row[1] is not None
    assert pending_counts(ready.engine, ready.settings)["products"] == 1


def test_next_push_finishes_unclear_create(ready: Stack, quick_settle: None) -> None:
    ready.gumroad.add_product(name="Ebook")
    ready.poll()
    ready.notion.fail_next("json_500", times=3, method="POST", path_contains="/pages")
    with pytest.raises(NotionError):
        ready.push()

    ready.push()

    assert len(ready.product_pages()) == 1
    assert pending_counts(ready.engine, ready.settings)["products"] == 0


@pytest.mark.parametrize(
    ("name", "items"),
    [
        ("a" * 1998 + "😀", 1),
        ("a" * 1999 + "😀", 2),
        ("😀" * 1001, 2),
        ("é" * 2000, 1),
    ],
    ids=["emoji-ends-at-2000", "emoji-crosses-2000", "emoji-only-2002", "accents"],
)
def test_long_names_fit_text_limits(ready: Stack, name: str, items: int) -> None:
    product = ready.gumroad.add_product(name=name)
    ready.poll()

    ready.push()

    title = ready.product_pages()[0]["properties"]["Name"]["title"]
    assert len(title) == items
    assert all(utf16_length(item["plain_text"]) <= 2000 for item in title)
    assert ready.product_values()[product]["name"] == name


def test_huge_name_truncated_and_stable(ready: Stack) -> None:
    ready.gumroad.add_product(name="😀" * 120_000)
    ready.poll()
    ready.push()
    before = ready.writes()

    ready.push()

    title = ready.product_pages()[0]["properties"]["Name"]["title"]
    assert len(title) == 100
    assert title[-1]["plain_text"].endswith("…")
    assert ready.writes() == before


def test_unshared_database_keeps_rows_pending(ready: Stack) -> None:
    ready.gumroad.add_product(name="Ebook")
    ready.poll()
    ready.notion.unshare(ready.targets()["products_database_id"])

    with pytest.raises(NotionConfigError) as caught:
        ready.push()

    assert "Connections" in str(caught.value)
    assert pending_counts(ready.engine, ready.settings)["products"] == 1


def test_push_catches_up_after_sharing(ready: Stack) -> None:
    ebook = ready.gumroad.add_product(name="Ebook")
    ready.poll()
    ready.notion.unshare(ready.targets()["products_database_id"])
    with pytest.raises(NotionConfigError):
        ready.push()
    ready.gumroad.sell(ebook, 1)
    ready.poll(hour=13)
    ready.notion.share(ready.targets()["products_database_id"])

    result = ready.push()

    assert result.created == 2
    assert pending_counts(ready.engine, ready.settings) == {"products": 0, "daily": 0}


def test_trashed_page_restored_on_update(ready: Stack) -> None:
    ebook = ready.gumroad.add_product(name="Ebook")
    ready.poll()
    ready.push()
    page = ready.product_pages()[0]["id"]
    ready.notion.trash_page(page)
    ready.gumroad.rename(ebook, "Ebook 2")
    ready.poll()

    result = ready.push()

    assert result.restored == 1
    assert page_ids(ready.product_pages()) == [page]
    assert ready.product_values()[ebook]["name"] == "Ebook 2"


def test_vanished_page_created_again(ready: Stack) -> None:
    ebook = ready.gumroad.add_product(name="Ebook")
    ready.poll()
    ready.push()
    old_page = ready.product_pages()[0]["id"]
    forget_page(ready, old_page)
    ready.gumroad.rename(ebook, "Ebook 2")
    ready.poll()

    result = ready.push()

    assert result.created == 1
    new_pages = page_ids(ready.product_pages())
    assert len(new_pages) == 1
    assert new_pages[0] != old_page
    assert stored_page_id(ready, "product", ebook) == new_pages[0]


def test_currency_written_as_rich_text(stack: Stack) -> None:
    schema = products_layout().schema()
    schema["Currency"] = {"rich_text": {}}
    database, _ = stack.notion.create_database(stack.parent, "Products", schema)
    stack.init(stack.settings_with(NOTION_PRODUCTS_DATABASE_ID=database))
    product = stack.gumroad.add_product(name="Ebook", currency="eur")
    stack.poll()

    stack.push()

    assert stack.product_values()[product]["currency"] == "EUR"


def test_missing_property_at_push_names_init(ready: Stack) -> None:
    ready.gumroad.add_product(name="Ebook")
    ready.poll()
    ready.notion.remove_property(ready.targets()["products_data_source_id"], "Price")

    with pytest.raises(NotionConfigError) as caught:
        ready.push()

    assert "'Price'" in str(caught.value)
    assert "gumroad-ledger init" in str(caught.value)


def test_push_logs_one_info_line(
    ready: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    ready.gumroad.add_product(name="Ebook")
    ready.poll()
    caplog.set_level("INFO", logger="ledger.notion.projector")

    ready.push()

    lines = [r.getMessage() for r in caplog.records if r.name.endswith("projector")]
    assert len(lines) == 1
    assert lines[0].startswith("push: 1 created, 0 updated")


def test_progress_reports_each_key(ready: Stack) -> None:
    ready.gumroad.add_product(name="Ebook")
    ready.gumroad.add_product(name="Course")
    ready.poll()
    calls: list[tuple[int, int]] = []

    ready.push(progress=lambda done, total: calls.append((done, total)))

    assert calls == [(1, 2), (2, 2)]


def test_rejected_page_does_not_stop_others(ready: Stack) -> None:
    ebook = ready.gumroad.add_product(name="Ebook", price_cents=500)
    course = ready.gumroad.add_product(name="Course", price_cents=700)
    ready.poll()
    ready.push()
    ready.gumroad.sell(ebook, 1)
    ready.gumroad.sell(course, 1)
    ready.poll(hour=13)
    point_product_at_missing_page(ready, ebook)

    with pytest.raises(NotionError) as caught:
        ready.push()

    assert "1 page(s) were not pushed" in str(caught.value)
    assert list(ready.daily_values()) == [f"{course}|2026-12-04"]
    assert pending_counts(ready.engine, ready.settings) == {"products": 0, "daily": 1}


# Helpers that build Notion state the way a user or another tool would.


def fill_matching_pages(stack: Stack, source: str) -> list[str]:
    """Add a page equal to the projection for each product; five get a stale count.

    Return the ids of the products whose page is stale.
    """
    layout = products_layout()
    stale = []
    for number, product in enumerate(stack.gumroad.products()):
        sales_count = product["sales_count"]
        if number % 26 == 0:
            sales_count = -1
            stale.append(product["id"])
        values = {
            "name": product["name"],
            "id": product["id"],
            "price": 10.0,
            "sales_count": sales_count,
            "revenue": 0.0,
            "link": product["short_url"],
            "currency": "USD",
            "status": "published",
            "last_change": "2026-12-04T12:00:00+00:00",
        }
        stack.notion.add_page(source, layout.encode(values))
    return stale


def forget_page(stack: Stack, page_id: str) -> None:
    """Delete a page for good, as emptying the Notion trash does."""
    workspace = stack.notion.workspace
    with workspace.lock:
        record = workspace.pages.pop(page_id)
        workspace.data_sources[record.parent_id].page_ids.remove(page_id)


def point_product_at_missing_page(stack: Stack, product_id: str) -> None:
    """Map a product to a page that does not exist, with nothing left to push."""
    with Session(stack.engine) as session:
        desired = next(
            entry for entry in desired_products(session) if entry.key == product_id
        )
    state = json.dumps(desired.state(), sort_keys=True)
    with sqlite3.connect(stack.path) as connection:
        connection.execute(
            "UPDATE notion_pages SET page_id = ?, pushed_json = ? "
            "WHERE kind = 'product' AND key = ?",
            ("00000000-0000-4000-8000-000000000000", state, product_id),
        )


def test_adopted_daily_page_keeps_user_cover(ready: Stack) -> None:
    product = ready.gumroad.add_product(name="Ebook")
    ready.poll()
    ready.push()
    ready.gumroad.sell(product, 1)
    ready.poll()
    key = f"{product}|{DAY.isoformat()}"
    source = ready.targets()["daily_data_source_id"]
    cover = "http://127.0.0.1:9/user-chosen-cover.png"
    ready.new_client().create_page(
        source,
        {"Name": title_value("mine"), "Key": rich_text_value(key)},
        cover_url=cover,
    )

    ready.push()

    [page] = [
        p for p in ready.daily_pages() if p["id"] == stored_page_id(ready, "daily", key)
    ]
    assert (page.get("cover") or {}).get("external", {}).get("url") == cover


@pytest.mark.parametrize(
    "preview_url",
    ["http://127.0.0.1:9/" + "p" * 2100, "javascript:alert(1)"],
    ids=["too-long", "not-http"],
)
def test_unusable_preview_gives_no_cover(ready: Stack, preview_url: str) -> None:
    ready.gumroad.add_product(name="Ebook", preview_url=preview_url)
    ready.poll()

    result = ready.push()

    [page] = ready.product_pages()
    assert result.created == 1
    assert page.get("cover") is None
    assert ready.push().writes == 0


def test_deleted_relation_names_init(ready: Stack) -> None:
    product = ready.gumroad.add_product(name="Ebook")
    ready.poll()
    ready.gumroad.sell(product, 1)
    ready.poll()
    ready.notion.remove_property(ready.targets()["daily_data_source_id"], "Product")

    with pytest.raises(NotionConfigError, match="'Product'.*gumroad-ledger init"):
        ready.push()


def test_few_new_keys_in_large_database_use_lookups(ready: Stack) -> None:
    products = [ready.gumroad.add_product(name=f"P{number}") for number in range(12)]
    ready.poll()
    ready.push()
    with sqlite3.connect(ready.path) as connection:
        # Pretend the ledger maps 5,000 daily pages: a full read would take 51 queries.
        connection.executemany(
            "INSERT INTO notion_pages (kind, key, page_id) VALUES ('daily', ?, ?)",
            [(f"old|{number}", f"page-{number}") for number in range(5000)],
        )
    for product in products:
        ready.gumroad.sell(product, 1)
    ready.poll()
    ready.notion.clear_requests()

    ready.push()

    queries = [r for r in ready.notion.requests if r.path.endswith("/query")]
    assert len(queries) == 12
    assert all("filter" in r.body for r in queries)
