"""rebuild-notion against the Notion sandbox: each kind of tampering, and at scale.

Every test starts from `shop`: three products (P0, P1, P2) and three daily pages,
pushed, with the sandbox's request log cleared. Writes are counted at the sandbox.
"""

from __future__ import annotations

import hashlib
import sqlite3
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import requests

from ledger.errors import ConfigError, NotionConfigError, NotionError
from ledger.notion.layout import daily_layout, products_layout
from ledger.notion.rebuild import RebuildResult, rebuild
from ledger.notion.text import number_value, plain_text, rich_text_value, title_value
from ledger.sandbox.notion import NOTION_VERSION
from tests.conftest import NOTION_TOKEN

if TYPE_CHECKING:
    from tests.push_fixtures import Stack

pytest_plugins = ["tests.push_fixtures"]

DAY = date(2026, 12, 4)
NEXT_DAY = DAY + timedelta(days=1)
LONG_AGO = datetime(2001, 1, 1, tzinfo=UTC)
KEYS = {"products": products_layout(), "daily": daily_layout()}


@pytest.fixture
def shop(ready: Stack) -> Stack:
    """Three products and three daily pages, pushed, and an empty request log."""
    ids = [ready.gumroad.add_product(name=f"P{n}", price_cents=500) for n in range(3)]
    ready.poll(DAY, 10)
    ready.gumroad.sell(ids[0], 2)
    ready.gumroad.sell(ids[1])
    ready.poll(DAY, 12)
    ready.gumroad.sell(ids[0])
    ready.poll(NEXT_DAY, 12)
    ready.push()
    ready.notion.clear_requests()
    return ready


def rebuild_now(stack: Stack, **options: Any) -> RebuildResult:
    return rebuild(stack.engine, stack.settings, stack.client, **options)


def data_source(stack: Stack, kind: str) -> str:
    return stack.targets()[f"{kind}_data_source_id"]


def pages(stack: Stack, kind: str, **options: Any) -> list[dict[str, Any]]:
    return stack.notion.pages(data_source(stack, kind), **options)


def page_of(stack: Stack, kind: str, key: str) -> dict[str, Any]:
    """Return the one live page whose key property is `key`."""
    layout = KEYS[kind]
    found = [
        page
        for page in pages(stack, kind)
        if layout.decode(page)[layout.key_role] == key
    ]
    assert len(found) == 1, f"{len(found)} pages for {kind} {key}"
    return found[0]


def product_id(stack: Stack, name: str) -> str:
    return next(key for key, v in stack.product_values().items() if v["name"] == name)


def product_page(stack: Stack, name: str) -> dict[str, Any]:
    return page_of(stack, "products", product_id(stack, name))


def daily_key(stack: Stack, name: str, day: date = DAY) -> str:
    return f"{product_id(stack, name)}|{day.isoformat()}"


def copy_page(stack: Stack, kind: str, page: dict[str, Any], **options: Any) -> str:
    """Add a page with the same owned values, as a user duplicating a row does."""
    layout = KEYS[kind]
    properties = layout.encode(layout.decode(page))
    return stack.notion.add_page(data_source(stack, kind), properties, **options)


def set_cells(stack: Stack, page_id: str, properties: dict[str, Any]) -> None:
    """Edit cells through the API, as a user editing in Notion does."""
    stack.client.update_page(page_id, properties=properties)


def stored_rows(stack: Stack, kind: str) -> dict[str, tuple[Any, ...]]:
    with sqlite3.connect(stack.path) as connection:
        rows = connection.execute(
            "SELECT key, page_id, create_started_at FROM notion_pages WHERE kind = ?",
            (kind,),
        ).fetchall()
    return {row[0]: row[1:] for row in rows}


def forget_page(stack: Stack, kind: str, key: str) -> None:
    with sqlite3.connect(stack.path) as connection:
        connection.execute(
            "DELETE FROM notion_pages WHERE kind = ? AND key = ?", (kind, key)
        )


def patched_properties(stack: Stack) -> list[list[str]]:
    """Return the property names of each page update the sandbox received."""
    return [
        sorted((record.body or {}).get("properties") or {})
        for record in stack.notion.requests
        if record.method == "PATCH" and record.path.startswith("/v1/pages/")
    ]


def notion_state(stack: Stack) -> list[Any]:
    """Return every page, trashed ones included, and both schemas."""
    state = []
    for kind in ("products", "daily"):
        state.append(pages(stack, kind, include_trashed=True))
        state.append(stack.notion.data_source(data_source(stack, kind))["properties"])
    return state


def ledger_fingerprint(path: Path) -> tuple[list[str], str]:
    """Return the ledger's SQL dump and a digest of its files."""
    with sqlite3.connect(path) as connection:
        dump = list(connection.iterdump())
    digest = hashlib.sha256()
    for part in (path, path.with_name(path.name + "-wal")):
        if part.exists():
            digest.update(part.read_bytes())
    return dump, digest.hexdigest()


def trash_database(stack: Stack, database_id: str) -> None:
    """Move a database to the trash through the API, as a user deleting it does."""
    response = requests.patch(
        f"{stack.notion.url}/v1/databases/{database_id}",
        json={"in_trash": True},
        headers={
            "Authorization": f"Bearer {NOTION_TOKEN}",
            "Notion-Version": NOTION_VERSION,
        },
        timeout=5,
    )
    response.raise_for_status()


# Nothing to do


def test_untouched_notion_gets_no_write(shop: Stack) -> None:
    result = rebuild_now(shop)

    assert shop.writes() == 0
    assert result.writes == 0
    assert result.matched == 6
    assert result.read == 6


def test_untouched_notion_keeps_ledger_records(shop: Stack) -> None:
    before = stored_rows(shop, "product"), stored_rows(shop, "daily")

    rebuild_now(shop)

    assert (stored_rows(shop, "product"), stored_rows(shop, "daily")) == before


# Each kind of tampering alone


@dataclass(frozen=True)
class Edit:
    kind: str
    name: str  # product name whose page is edited
    property: str
    value: dict[str, Any]
    role: str


EDITS = [
    Edit("products", "P0", "Price", number_value(1.0), "price"),
    Edit("products", "P1", "Name", title_value("Renamed by hand"), "name"),
    Edit("products", "P2", "Status", {"select": {"name": "deleted"}}, "status"),
    Edit("products", "P0", "id", rich_text_value(""), "id"),
    Edit("daily", "P0", "Sales", number_value(99), "sales"),
    Edit("daily", "P1", "Date", {"date": {"start": "2020-01-01"}}, "date"),
]


@pytest.mark.parametrize(
    "edit", EDITS, ids=[f"{edit.kind}-{edit.property}" for edit in EDITS]
)
def test_edited_owned_cell_is_rewritten(shop: Stack, edit: Edit) -> None:
    key = product_id(shop, edit.name)
    if edit.kind == "daily":
        key = daily_key(shop, edit.name)
    page = page_of(shop, edit.kind, key)
    expected = KEYS[edit.kind].decode(page)[edit.role]
    set_cells(shop, page["id"], {edit.property: edit.value})
    shop.notion.clear_requests()

    result = rebuild_now(shop)

    assert result.updated == 1
    assert shop.writes() == 1
    assert patched_properties(shop) == [[edit.property]]
    restored = KEYS[edit.kind].decode(shop.notion.page(page["id"]))
    assert restored[edit.role] == expected


def test_edited_relation_is_rewritten(shop: Stack) -> None:
    page = page_of(shop, "daily", daily_key(shop, "P0"))
    other = product_page(shop, "P2")["id"]
    set_cells(shop, page["id"], {"Product": {"relation": [{"id": other}]}})
    shop.notion.clear_requests()

    rebuild_now(shop)

    values = daily_layout().decode(shop.notion.page(page["id"]))
    assert values["product"] == product_page(shop, "P0")["id"]
    assert shop.writes() == 1


def test_unowned_property_is_left_alone(shop: Stack) -> None:
    source = data_source(shop, "products")
    shop.client.update_data_source(source, {"Notes": {"rich_text": {}}})
    page = product_page(shop, "P0")
    set_cells(shop, page["id"], {"Notes": rich_text_value("signed copies only")})
    shop.notion.clear_requests()

    result = rebuild_now(shop)

    assert shop.writes() == 0
    assert result.updated == 0
    notes = shop.notion.page(page["id"])["properties"]["Notes"]
    assert plain_text(notes) == "signed copies only"


def test_unowned_cell_survives_owned_update(shop: Stack) -> None:
    source = data_source(shop, "products")
    shop.client.update_data_source(source, {"Notes": {"rich_text": {}}})
    page = product_page(shop, "P0")
    set_cells(
        shop,
        page["id"],
        {"Notes": rich_text_value("mine"), "Price": number_value(0)},
    )
    shop.notion.clear_requests()

    rebuild_now(shop)

    assert patched_properties(shop) == [["Price"]]
    notes = shop.notion.page(page["id"])["properties"]["Notes"]
    assert plain_text(notes) == "mine"


@pytest.mark.parametrize("kind", ["products", "daily"])
def test_trashed_page_is_restored(shop: Stack, kind: str) -> None:
    key = product_id(shop, "P1") if kind == "products" else daily_key(shop, "P1")
    page = page_of(shop, kind, key)
    shop.notion.trash_page(page["id"])

    result = rebuild_now(shop)

    assert result.restored == 1
    assert result.created == 0
    assert shop.writes() == 1
    assert shop.notion.page(page["id"])["in_trash"] is False
    assert page_of(shop, kind, key)["id"] == page["id"]


def test_trashed_edited_page_is_restored_then_fixed(shop: Stack) -> None:
    page = product_page(shop, "P1")
    set_cells(shop, page["id"], {"Price": number_value(7)})
    shop.notion.trash_page(page["id"])
    shop.notion.clear_requests()

    result = rebuild_now(shop)

    assert result.restored == 1
    assert result.updated == 1
    assert shop.writes() == 2
    assert products_layout().decode(shop.notion.page(page["id"]))["price"] == 5.0


def test_unknown_trashed_page_is_recreated(shop: Stack) -> None:
    key = product_id(shop, "P1")
    old = product_page(shop, "P1")
    shop.notion.trash_page(old["id"])
    forget_page(shop, "product", key)

    result = rebuild_now(shop)

    new = page_of(shop, "products", key)
    assert result.created == 1
    assert new["id"] != old["id"]
    assert stored_rows(shop, "product")[key] == (new["id"], None)


def test_younger_duplicate_is_trashed(shop: Stack) -> None:
    original = product_page(shop, "P0")
    duplicate = copy_page(shop, "products", original)

    result = rebuild_now(shop)

    assert result.trashed == 1
    assert shop.writes() == 1
    assert shop.notion.page(duplicate)["in_trash"] is True
    assert product_page(shop, "P0")["id"] == original["id"]


def test_older_duplicate_is_kept(shop: Stack) -> None:
    key = daily_key(shop, "P0")
    original = page_of(shop, "daily", key)
    older = copy_page(shop, "daily", original, created_time=LONG_AGO)

    result = rebuild_now(shop)

    assert result.trashed == 1
    assert shop.notion.page(original["id"])["in_trash"] is True
    assert page_of(shop, "daily", key)["id"] == older
    assert stored_rows(shop, "daily")[key][0] == older


def test_edited_duplicate_is_trashed_unchanged(shop: Stack) -> None:
    original = product_page(shop, "P0")
    duplicate = copy_page(shop, "products", original)
    set_cells(shop, duplicate, {"Price": number_value(123)})
    shop.notion.clear_requests()

    rebuild_now(shop)

    assert shop.writes() == 1
    assert patched_properties(shop) == [[]]


@pytest.mark.parametrize("kind", ["products", "daily"])
def test_page_with_unknown_key_is_trashed(shop: Stack, kind: str) -> None:
    key = "no-such-product" if kind == "products" else "no-such-product|2026-12-04"
    properties = {
        "Name": title_value("Not from Gumroad"),
        KEYS[kind].key_name: rich_text_value(key),
    }
    page = shop.notion.add_page(data_source(shop, kind), properties)

    result = rebuild_now(shop)

    assert result.trashed == 1
    assert shop.writes() == 1
    assert shop.notion.page(page)["in_trash"] is True


def test_stored_row_of_unknown_key_is_forgotten(shop: Stack) -> None:
    properties = {"Name": title_value("Gone"), "id": rich_text_value("gone")}
    page = shop.notion.add_page(data_source(shop, "products"), properties)
    with sqlite3.connect(shop.path) as connection:
        connection.execute(
            "INSERT INTO notion_pages (kind, key, page_id) VALUES (?, ?, ?)",
            ("product", "gone", page),
        )

    rebuild_now(shop)

    assert "gone" not in stored_rows(shop, "product")


@pytest.mark.parametrize("kind", ["products", "daily"])
def test_page_without_key_is_left_alone(shop: Stack, kind: str) -> None:
    properties = {"Name": title_value("My own notes")}
    page = shop.notion.add_page(data_source(shop, kind), properties)

    result = rebuild_now(shop)

    assert result.left_alone == 1
    assert shop.writes() == 0
    assert shop.notion.page(page)["in_trash"] is False


def test_deleted_owned_property_is_added_back(shop: Stack) -> None:
    shop.notion.remove_property(data_source(shop, "products"), "Status")

    result = rebuild_now(shop)

    assert shop.notion.schema_write_count() == 1
    assert result.updated == 3
    assert {v["status"] for v in shop.product_values().values()} == {"published"}


# All kinds of tampering at once


def tamper_everything(stack: Stack) -> dict[str, Any]:
    """Edit, trash, duplicate and add pages in both databases, and return their ids."""
    source = data_source(stack, "products")
    stack.client.update_data_source(source, {"Notes": {"rich_text": {}}})
    edited = product_page(stack, "P0")["id"]
    set_cells(
        stack,
        edited,
        {"Price": number_value(0), "Notes": rich_text_value("keep")},
    )
    trashed = page_of(stack, "daily", daily_key(stack, "P1"))["id"]
    stack.notion.trash_page(trashed)
    original = page_of(stack, "daily", daily_key(stack, "P0"))
    duplicate = copy_page(stack, "daily", original)
    unknown = stack.notion.add_page(
        source, {"Name": title_value("Old"), "id": rich_text_value("retired-product")}
    )
    keyless = stack.notion.add_page(source, {"Name": title_value("Ideas")})
    stack.notion.clear_requests()
    return {
        "edited": edited,
        "trashed": trashed,
        "duplicate": duplicate,
        "original": original["id"],
        "unknown": unknown,
        "keyless": keyless,
    }


def test_all_tampering_is_repaired(shop: Stack) -> None:
    products_before, daily_before = shop.product_values(), shop.daily_values()
    tampered = tamper_everything(shop)

    result = rebuild_now(shop)

    assert (result.updated, result.restored, result.trashed) == (1, 1, 2)
    assert (result.created, result.left_alone, result.matched) == (0, 1, 6)
    assert shop.writes() == 4
    assert {k: v for k, v in shop.product_values().items() if k} == products_before
    assert shop.daily_values() == daily_before
    assert shop.notion.page(tampered["keyless"])["in_trash"] is False
    notes = shop.notion.page(tampered["edited"])["properties"]["Notes"]
    assert plain_text(notes) == "keep"


def test_second_rebuild_sends_no_write(shop: Stack) -> None:
    tamper_everything(shop)
    rebuild_now(shop)
    shop.notion.clear_requests()

    result = rebuild_now(shop)

    assert shop.writes() == 0
    assert result.writes == 0


def test_push_after_rebuild_sends_no_write(shop: Stack) -> None:
    tamper_everything(shop)
    rebuild_now(shop)
    shop.notion.clear_requests()

    result = shop.push()

    assert shop.writes() == 0
    assert result.writes == 0


def test_progress_reports_each_stage(shop: Stack) -> None:
    tamper_everything(shop)
    reports: list[tuple[str, int, int | None]] = []

    rebuild_now(shop, progress=lambda *report: reports.append(report))

    stages = list(dict.fromkeys(stage for stage, _, _ in reports))
    assert stages == [
        "reading products",
        "writing products",
        "reading daily",
        "writing daily",
    ]
    assert reports[-1] == ("writing daily", 2, 2)


# Dry run


def test_dry_run_changes_nothing(shop: Stack) -> None:
    tamper_everything(shop)
    notion_before = notion_state(shop)
    ledger_before = ledger_fingerprint(shop.path)

    rebuild_now(shop, dry_run=True)

    assert shop.writes() == 0
    assert shop.notion.schema_write_count() == 0
    assert notion_state(shop) == notion_before
    assert ledger_fingerprint(shop.path) == ledger_before


def test_dry_run_lists_each_write(shop: Stack) -> None:
    tampered = tamper_everything(shop)
    p0, p1 = product_id(shop, "P0"), product_id(shop, "P1")

    planned = rebuild_now(shop, dry_run=True).planned

    assert planned == [
        f"update product {p0} 'P0': Price",
        f"trash product retired-product page {tampered['unknown']}: the ledger "
        "does not project this key",
        f"trash daily {p0}|{DAY} page {tampered['duplicate']}: a younger duplicate "
        f"of page {tampered['original']}",
        f"restore daily {p1}|{DAY} '{DAY} · P1' from the trash: page "
        f"{tampered['trashed']}",
    ]


def test_dry_run_counts_match_real_run(shop: Stack) -> None:
    tamper_everything(shop)

    planned = rebuild_now(shop, dry_run=True)
    done = rebuild_now(shop)

    assert len(planned.planned) == done.writes
    counts = ("updated", "created", "restored", "trashed", "left_alone", "matched")
    assert [getattr(planned, name) for name in counts] == [
        getattr(done, name) for name in counts
    ]


# More rows than one query returns


def test_rows_past_query_limit_are_matched(shop: Stack) -> None:
    source = data_source(shop, "products")
    for number in range(10_050):
        shop.notion.add_page(
            source,
            {"Name": title_value(f"note {number}")},
            created_time=LONG_AGO + timedelta(seconds=number),
        )
    # The pushed pages are younger than every note, so they sit past 10,000 rows.
    set_cells(shop, product_page(shop, "P2")["id"], {"Price": number_value(0)})
    copy_page(shop, "products", product_page(shop, "P1"))
    shop.notion.clear_requests()

    result = rebuild_now(shop)

    assert result.left_alone == 10_050
    assert (result.matched, result.updated, result.trashed) == (6, 1, 1)
    assert result.created == 0
    assert shop.writes() == 2
    windows = [
        record
        for record in shop.notion.requests
        if "created_time" in str((record.body or {}).get("filter"))
    ]
    assert windows


# Interrupted rebuilds


def test_interrupted_rebuild_finishes_on_rerun(shop: Stack) -> None:
    tamper_everything(shop)
    # Updates go out in product id order.
    ids = sorted(product_id(shop, name) for name in ("P0", "P1", "P2"))
    for key in ids:
        set_cells(
            shop, page_of(shop, "products", key)["id"], {"Price": number_value(9)}
        )
    last = page_of(shop, "products", ids[2])["id"]
    shop.notion.clear_requests()
    shop.notion.fail_next("json_503", times=2, path_contains=last, method="PATCH")

    with (
        shop.new_client(max_retries=1) as client,
        pytest.raises(NotionError, match="rebuild-notion` again"),
    ):
        rebuild(shop.engine, shop.settings, client)
    sent_first = shop.notion.write_count(succeeded_only=True)
    shop.notion.clear_requests()
    resumed = rebuild_now(shop)

    assert sent_first == 2
    assert resumed.writes == 4  # the failed update, the trash and restore writes
    shop.notion.clear_requests()
    assert rebuild_now(shop).writes == 0
    assert shop.writes() == 0


def test_unconfirmed_create_is_not_duplicated(shop: Stack) -> None:
    key = product_id(shop, "P1")
    shop.notion.trash_page(product_page(shop, "P1")["id"])
    forget_page(shop, "product", key)
    shop.notion.fail_next(
        "timeout_after_commit", method="POST", path_contains="/v1/pages", delay=1.5
    )

    with shop.new_client(timeout=0.5) as client, pytest.raises(NotionError):
        rebuild(shop.engine, shop.settings, client)
    started = stored_rows(shop, "product")[key]
    result = rebuild_now(shop)

    assert started[0] is None
    assert started[1] is not None
    assert result.created == 0
    assert len(shop.product_pages()) == 3
    assert stored_rows(shop, "product")[key] == (
        page_of(shop, "products", key)["id"],
        None,
    )


# Databases that are gone


def remove_database(stack: Stack, kind: str, how: str) -> str:
    database_id = stack.targets()[f"{kind}_database_id"]
    if how == "deleted":
        stack.notion.delete_database(database_id)
    elif how == "unshared":
        stack.notion.unshare(database_id)
    else:
        trash_database(stack, database_id)
    stack.notion.clear_requests()
    return database_id


@pytest.mark.parametrize("how", ["deleted", "unshared", "trashed"])
def test_missing_database_stops_without_flag(shop: Stack, how: str) -> None:
    database_id = remove_database(shop, "products", how)
    ledger_before = ledger_fingerprint(shop.path)

    with pytest.raises(NotionConfigError) as raised:
        rebuild_now(shop)

    message = str(raised.value)
    assert f"products database {database_id}" in message
    assert "--recreate-missing" in message
    assert shop.writes() == 0
    assert shop.notion.schema_write_count() == 0
    assert ledger_fingerprint(shop.path) == ledger_before


def test_unshared_database_names_connections(shop: Stack) -> None:
    remove_database(shop, "daily", "unshared")

    with pytest.raises(NotionConfigError, match="Connections"):
        rebuild_now(shop)


def test_recreated_products_database_gets_pages(shop: Stack) -> None:
    products_before = shop.product_values()
    old = remove_database(shop, "products", "deleted")

    result = rebuild_now(shop, recreate_missing=True)

    new = shop.targets()["products_database_id"]
    assert new != old
    assert result.databases == [
        f"created the products database {new}",
        "set up properties 'Product' of the daily database",
    ]
    assert result.created == 3
    assert result.updated == 3  # each daily page's Product relation
    assert shop.product_values() == products_before
    products = {p["id"] for p in shop.product_pages()}
    assert {v["product"] for v in shop.daily_values().values()} <= products


def test_recreated_database_points_relation_at_it(shop: Stack) -> None:
    remove_database(shop, "products", "deleted")

    rebuild_now(shop, recreate_missing=True)

    schema = shop.notion.data_source(data_source(shop, "daily"))["properties"]
    assert schema["Product"]["relation"]["data_source_id"] == data_source(
        shop, "products"
    )


def test_recreated_daily_database_gets_pages(shop: Stack) -> None:
    daily_before = shop.daily_values()
    remove_database(shop, "daily", "deleted")

    result = rebuild_now(shop, recreate_missing=True)

    assert result.created == 3
    assert shop.daily_values().keys() == daily_before.keys()
    assert shop.writes() == 3


def test_rebuild_after_recreate_sends_no_write(shop: Stack) -> None:
    remove_database(shop, "products", "deleted")
    rebuild_now(shop, recreate_missing=True)
    shop.notion.clear_requests()

    rebuild_now(shop)
    shop.push()

    assert shop.writes() == 0
    assert shop.notion.schema_write_count() == 0


def test_recreate_uses_parent_stored_by_init(shop: Stack) -> None:
    remove_database(shop, "daily", "deleted")
    settings = replace(shop.settings, notion_parent_page_id=None)

    rebuild(shop.engine, settings, shop.client, recreate_missing=True)

    database = shop.client.get_database(shop.targets()["daily_database_id"])
    assert database["parent"]["page_id"] == shop.parent


def test_recreate_without_parent_fails(shop: Stack) -> None:
    remove_database(shop, "daily", "deleted")
    with sqlite3.connect(shop.path) as connection:
        connection.execute("DELETE FROM meta WHERE key = 'notion.parent_page_id'")
    settings = replace(shop.settings, notion_parent_page_id=None)

    with pytest.raises(ConfigError, match="NOTION_PARENT_PAGE_ID"):
        rebuild(shop.engine, settings, shop.client, recreate_missing=True)
    assert shop.notion.schema_write_count() == 0


def test_dry_run_recreate_creates_nothing(shop: Stack) -> None:
    remove_database(shop, "products", "deleted")
    ledger_before = ledger_fingerprint(shop.path)

    result = rebuild_now(shop, recreate_missing=True, dry_run=True)

    assert result.databases == [
        f"create a new products database under page {shop.parent}"
    ]
    assert [line.split()[0] for line in result.planned].count("create") == 3
    assert shop.notion.schema_write_count() == 0
    assert shop.writes() == 0
    assert ledger_fingerprint(shop.path) == ledger_before


@pytest.mark.parametrize(
    ("written", "expected"),
    [("abc", "abc"), ("abc ", "abc "), ("   ", ""), ("", "")],
    ids=["plain", "trailing-space", "blank", "empty"],
)
def test_page_key_is_exact(written: str, expected: str) -> None:
    from ledger.notion.layout import products_layout
    from ledger.notion.rebuild_plan import page_key

    layout = products_layout()
    page = {"properties": layout.encode({"id": written})}

    assert page_key(layout, page) == expected
