"""init_notion against the Notion sandbox: create, adopt, validate, stay idempotent."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from ledger.errors import ConfigError, NotionConfigError
from ledger.notion.layout import daily_layout, products_layout
from ledger.notion.setup import check_properties, require_targets, stored_targets

if TYPE_CHECKING:
    from tests.push_fixtures import Stack

pytest_plugins = ["tests.push_fixtures"]

TUTORIAL_TEMPLATE: dict[str, Any] = {
    "Name": {"title": {}},
    "id": {"rich_text": {}},
    "Price": {"number": {"format": "number"}},
    "Sales Count": {"number": {"format": "number"}},
    "Revenue": {"number": {"format": "dollar"}},
    "Link": {"url": {}},
}
USER_EXTRAS: dict[str, Any] = {
    "Notes": {"rich_text": {}},
    "Rating": {"select": {"options": [{"name": "good"}]}},
}


def schema_types(stack: Stack, data_source_id: str) -> dict[str, str]:
    properties = stack.notion.data_source(data_source_id)["properties"]
    return {name: prop["type"] for name, prop in properties.items()}


def test_init_creates_products_database(stack: Stack) -> None:
    stack.init()

    source = stack.targets()["products_data_source_id"]
    assert schema_types(stack, source) == {
        "Name": "title",
        "id": "rich_text",
        "Price": "number",
        "Sales Count": "number",
        "Revenue": "number",
        "Link": "url",
        "Currency": "select",
        "Status": "select",
        "Last Change": "date",
    }


def test_init_creates_daily_database(stack: Stack) -> None:
    stack.init()

    targets = stack.targets()
    source = stack.notion.data_source(targets["daily_data_source_id"])
    types = {name: prop["type"] for name, prop in source["properties"].items()}
    assert types == {
        "Name": "title",
        "Key": "rich_text",
        "Date": "date",
        "Product": "relation",
        "Sales": "number",
        "Revenue": "number",
    }
    relation = source["properties"]["Product"]["relation"]
    assert relation["data_source_id"] == targets["products_data_source_id"]


def test_init_stores_every_id(stack: Stack) -> None:
    lines = stack.init()

    targets = stored_targets(stack.engine)
    assert sorted(targets) == [
        "daily_data_source_id",
        "daily_database_id",
        "parent_page_id",
        "products_data_source_id",
        "products_database_id",
    ]
    assert targets["parent_page_id"] == stack.parent
    assert lines[0].startswith(f"products database {targets['products_database_id']}")
    assert "created under page" in lines[1]


def test_init_twice_sends_no_write(stack: Stack) -> None:
    stack.init()
    targets_before = stack.targets()
    stack.notion.clear_requests()

    lines = stack.init()

    assert stack.notion.schema_write_count() == 0
    assert {r.method for r in stack.notion.requests} == {"GET"}
    assert stack.targets() == targets_before
    assert all("all properties present" in line for line in lines)


def test_init_again_creates_no_database(stack: Stack) -> None:
    stack.init()

    stack.init()

    assert len(stack.notion.workspace.databases) == 2


def test_tutorial_template_gets_missing_properties(stack: Stack) -> None:
    schema = TUTORIAL_TEMPLATE | USER_EXTRAS
    database, source = stack.notion.create_database(stack.parent, "Sales", schema)

    lines = stack.init(stack.settings_with(NOTION_PRODUCTS_DATABASE_ID=database))

    types = schema_types(stack, source)
    assert types["Currency"] == "select"
    assert types["Status"] == "select"
    assert types["Last Change"] == "date"
    assert "added properties Currency, Status, Last Change" in lines[0]


def test_tutorial_template_keeps_user_properties(stack: Stack) -> None:
    schema = TUTORIAL_TEMPLATE | USER_EXTRAS
    database, source = stack.notion.create_database(stack.parent, "Sales", schema)
    before = stack.notion.data_source(source)["properties"]

    stack.init(stack.settings_with(NOTION_PRODUCTS_DATABASE_ID=database))

    after = stack.notion.data_source(source)["properties"]
    assert after["Notes"] == before["Notes"]
    assert after["Rating"] == before["Rating"]
    assert after["Price"] == before["Price"]


def test_adopted_database_stored_as_target(stack: Stack) -> None:
    database, source = stack.notion.create_database(
        stack.parent, "Sales", TUTORIAL_TEMPLATE
    )

    stack.init(stack.settings_with(NOTION_PRODUCTS_DATABASE_ID=database))

    assert stack.targets()["products_database_id"] == database
    assert stack.targets()["products_data_source_id"] == source


def test_database_adopted_from_url(stack: Stack) -> None:
    database, _ = stack.notion.create_database(stack.parent, "Sales", TUTORIAL_TEMPLATE)
    url = f"https://www.notion.so/acme/Sales-{database.replace('-', '')}?v=0123"

    stack.init(stack.settings_with(NOTION_PRODUCTS_DATABASE_ID=url))

    assert stack.targets()["products_database_id"] == database


def test_both_databases_adopted(stack: Stack) -> None:
    products, products_source = stack.notion.create_database(
        stack.parent, "Products", TUTORIAL_TEMPLATE
    )
    daily_schema = daily_layout().schema(products_source)
    daily, _ = stack.notion.create_database(stack.parent, "Daily", daily_schema)
    settings = stack.settings_with(
        NOTION_PARENT_PAGE_ID="",
        NOTION_PRODUCTS_DATABASE_ID=products,
        NOTION_DAILY_DATABASE_ID=daily,
    )

    stack.init(settings)

    assert stack.targets()["daily_database_id"] == daily
    assert len(stack.notion.workspace.databases) == 2


def test_retyped_property_names_both_types(stack: Stack) -> None:
    schema = TUTORIAL_TEMPLATE | {"Price": {"rich_text": {}}}
    database, _ = stack.notion.create_database(stack.parent, "Sales", schema)
    stack.notion.clear_requests()

    with pytest.raises(NotionConfigError) as caught:
        stack.init(stack.settings_with(NOTION_PRODUCTS_DATABASE_ID=database))

    message = str(caught.value)
    assert "'Price'" in message
    assert "rich_text" in message
    assert "number" in message
    assert caught.value.exit_code == 1
    assert stack.notion.schema_write_count() == 0


def test_retyped_after_init_is_rejected(stack: Stack) -> None:
    stack.init()
    source = stack.targets()["products_data_source_id"]
    stack.notion.set_property_type(source, "Sales Count", "rich_text")

    with pytest.raises(NotionConfigError) as caught:
        stack.init()

    assert "'Sales Count'" in str(caught.value)


def test_currency_as_rich_text_accepted(stack: Stack) -> None:
    schema = TUTORIAL_TEMPLATE | {"Currency": {"rich_text": {}}}
    database, source = stack.notion.create_database(stack.parent, "Sales", schema)

    stack.init(stack.settings_with(NOTION_PRODUCTS_DATABASE_ID=database))

    assert schema_types(stack, source)["Currency"] == "rich_text"


def test_renamed_title_suggests_config(stack: Stack) -> None:
    schema = {"Product": {"title": {}}, "id": {"rich_text": {}}}
    database, _ = stack.notion.create_database(stack.parent, "Sales", schema)

    with pytest.raises(NotionConfigError) as caught:
        stack.init(stack.settings_with(NOTION_PRODUCTS_DATABASE_ID=database))

    assert "'Product'" in str(caught.value)
    assert "[notion.products_properties]" in str(caught.value)


def test_configured_names_used_on_create(stack: Stack, tmp_path: Any) -> None:
    config = tmp_path / "ledger.toml"
    config.write_text(
        '[notion.products_properties]\nRevenue = "Net revenue"\n'
        '[notion.daily_properties]\ndate = "Day"\n',
        encoding="utf-8",
    )
    settings = stack.settings_with(LEDGER_CONFIG=str(config))

    stack.init(settings)

    targets = stack.targets()
    assert "Net revenue" in schema_types(stack, targets["products_data_source_id"])
    assert "Day" in schema_types(stack, targets["daily_data_source_id"])


def test_daily_relation_elsewhere_rejected(stack: Stack) -> None:
    _, other_source = stack.notion.create_database(
        stack.parent, "Other", {"Name": {"title": {}}}
    )
    daily, _ = stack.notion.create_database(
        stack.parent, "Daily", daily_layout().schema(other_source)
    )

    with pytest.raises(NotionConfigError) as caught:
        stack.init(stack.settings_with(NOTION_DAILY_DATABASE_ID=daily))

    assert "'Product'" in str(caught.value)
    assert other_source in str(caught.value)


def test_other_database_after_init_rejected(stack: Stack) -> None:
    stack.init()
    other, _ = stack.notion.create_database(stack.parent, "Other", TUTORIAL_TEMPLATE)

    with pytest.raises(ConfigError) as caught:
        stack.init(stack.settings_with(NOTION_PRODUCTS_DATABASE_ID=other))

    message = str(caught.value)
    assert stack.targets()["products_database_id"] in message
    assert other in message
    assert "NOTION_PRODUCTS_DATABASE_ID" in message
    assert caught.value.exit_code == 2


def test_other_parent_after_init_rejected(stack: Stack) -> None:
    stack.init()
    other_parent = stack.notion.create_parent_page("Elsewhere")

    with pytest.raises(ConfigError) as caught:
        stack.init(stack.settings_with(NOTION_PARENT_PAGE_ID=other_parent))

    assert other_parent in str(caught.value)
    assert stack.parent in str(caught.value)


def test_nothing_configured_names_parent_setting(stack: Stack) -> None:
    with pytest.raises(ConfigError) as caught:
        stack.init(stack.settings_with(NOTION_PARENT_PAGE_ID=""))

    assert "NOTION_PARENT_PAGE_ID" in str(caught.value)


def test_unshared_database_names_connections(stack: Stack) -> None:
    database, _ = stack.notion.create_database(
        stack.parent, "Sales", TUTORIAL_TEMPLATE, shared=False
    )

    with pytest.raises(NotionConfigError) as caught:
        stack.init(stack.settings_with(NOTION_PRODUCTS_DATABASE_ID=database))

    assert "Connections" in str(caught.value)
    assert database in str(caught.value)


def test_second_data_source_rejected(stack: Stack) -> None:
    database, _ = stack.notion.create_database(stack.parent, "Sales", TUTORIAL_TEMPLATE)
    stack.notion.add_data_source(database, {"Name": {"title": {}}})

    with pytest.raises(NotionConfigError) as caught:
        stack.init(stack.settings_with(NOTION_PRODUCTS_DATABASE_ID=database))

    assert "2 data sources" in str(caught.value)


def test_failed_daily_setup_keeps_products(stack: Stack) -> None:
    hidden, _ = stack.notion.create_database(
        stack.parent, "Hidden", {"Name": {"title": {}}}, shared=False
    )
    with pytest.raises(NotionConfigError):
        stack.init(stack.settings_with(NOTION_DAILY_DATABASE_ID=hidden))
    products = stack.targets()["products_database_id"]

    stack.init()

    assert stack.targets()["products_database_id"] == products
    assert len(stack.notion.workspace.databases) == 3


def test_require_targets_before_init(stack: Stack) -> None:
    with pytest.raises(ConfigError) as caught:
        require_targets(stack.engine)

    assert "gumroad-ledger init" in str(caught.value)


def test_check_properties_returns_types(stack: Stack) -> None:
    stack.init()
    source = stack.targets()["products_data_source_id"]

    types = check_properties(stack.client, products_layout(), source)

    assert types["currency"] == "select"
    assert types["price"] == "number"


def test_check_properties_missing_names_init(stack: Stack) -> None:
    stack.init()
    source = stack.targets()["products_data_source_id"]
    stack.notion.remove_property(source, "Link")

    with pytest.raises(NotionConfigError) as caught:
        check_properties(stack.client, products_layout(), source)

    assert "'Link'" in str(caught.value)
    assert "gumroad-ledger init" in str(caught.value)
