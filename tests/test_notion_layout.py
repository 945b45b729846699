"""The Notion database layouts: names, schemas, and values written and read back."""

from __future__ import annotations

import pytest

from ledger.errors import ConfigError
from ledger.notion.layout import (
    daily_layout,
    decode_value,
    encode_value,
    products_layout,
    role_key,
)
from ledger.notion.text import utf16_length

PRODUCTS_DS = "11111111-2222-3333-4444-555555555555"


def test_products_default_names_match_tutorial() -> None:
    layout = products_layout()

    names = [layout.name(spec.role) for spec in layout.specs]

    assert names == [
        "Name",
        "id",
        "Price",
        "Sales Count",
        "Revenue",
        "Link",
        "Currency",
        "Status",
        "Last Change",
    ]


def test_daily_default_names() -> None:
    layout = daily_layout()

    names = [layout.name(spec.role) for spec in layout.specs]

    assert names == ["Name", "Key", "Date", "Product", "Sales", "Revenue"]


@pytest.mark.parametrize(
    ("given", "role"),
    [
        ("Sales Count", "sales_count"),
        ("sales_count", "sales_count"),
        ("sales-count", "sales_count"),
        ("  Last   Change ", "last_change"),
        ("id", "id"),
    ],
    ids=["default-name", "snake", "kebab", "spaces", "id"],
)
def test_role_key_accepts_name_forms(given: str, role: str) -> None:
    assert role_key(given) == role


def test_override_renames_one_property() -> None:
    layout = products_layout({"Revenue": "Net revenue", "sales_count": "Sold"})

    assert layout.name("revenue") == "Net revenue"
    assert layout.name("sales_count") == "Sold"
    assert layout.name("price") == "Price"


def test_unknown_role_names_the_role() -> None:
    with pytest.raises(ConfigError) as caught:
        products_layout({"Profit": "Profit"})

    assert "'Profit'" in str(caught.value)
    assert "Sales Count" in str(caught.value)
    assert caught.value.exit_code == 2


def test_two_roles_one_name_rejected() -> None:
    with pytest.raises(ConfigError) as caught:
        daily_layout({"Sales": "Revenue"})

    assert "'Revenue'" in str(caught.value)


def test_products_schema_types() -> None:
    schema = products_layout().schema()

    types = {name: next(iter(config)) for name, config in schema.items()}

    assert types == {
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


def test_status_schema_lists_three_options() -> None:
    schema = products_layout().schema()

    options = [option["name"] for option in schema["Status"]["select"]["options"]]

    assert options == ["published", "unpublished", "deleted"]


def test_revenue_schema_is_dollars() -> None:
    schema = daily_layout().schema(PRODUCTS_DS)

    assert schema["Revenue"] == {"number": {"format": "dollar"}}


def test_daily_relation_points_at_products() -> None:
    schema = daily_layout().schema(PRODUCTS_DS)

    assert schema["Product"]["relation"]["data_source_id"] == PRODUCTS_DS
    assert schema["Product"]["relation"]["type"] == "single_property"


def test_daily_schema_needs_related_source() -> None:
    with pytest.raises(ValueError):
        daily_layout().schema()


def test_schema_copies_are_independent() -> None:
    first = products_layout().schema()
    first["Status"]["select"]["options"].append({"name": "extra"})

    second = products_layout().schema()

    assert len(second["Status"]["select"]["options"]) == 3


def test_currency_accepts_rich_text() -> None:
    spec = products_layout().spec("currency")

    assert spec.accepted_types == ("select", "rich_text")


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        ("title", "Ebook"),
        ("rich_text", "abc123"),
        ("rich_text", ""),
        ("number", 12.5),
        ("number", -3),
        ("number", None),
        ("url", "https://example.gumroad.com/l/ebook"),
        ("url", None),
        ("select", "published"),
        ("select", None),
        ("date", "2026-12-04"),
        ("date", "2026-12-04T15:50:14+00:00"),
        ("date", None),
        ("relation", "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"),
        ("relation", None),
    ],
    ids=lambda value: repr(value),
)
def test_value_round_trips(kind: str, value: object) -> None:
    encoded = encode_value(kind, value)

    assert decode_value(encoded) == value


def test_empty_text_reads_back_empty() -> None:
    assert decode_value({"type": "rich_text", "rich_text": []}) == ""


def test_notion_datetime_normalized_for_comparison() -> None:
    prop = {"type": "date", "date": {"start": "2026-12-04T15:50:14.000Z"}}

    assert decode_value(prop) == "2026-12-04T15:50:14+00:00"


def test_long_title_split_at_utf16_limit() -> None:
    name = "😀" * 1500  # 3000 UTF-16 units

    encoded = encode_value("title", name)

    assert [utf16_length(item["text"]["content"]) for item in encoded["title"]] == [
        2000,
        1000,
    ]
    assert decode_value(encoded) == name


def test_encode_uses_configured_names() -> None:
    layout = products_layout({"Revenue": "Net revenue"})

    properties = layout.encode({"revenue": 1.5, "name": "Ebook"})

    assert properties == {
        "Net revenue": {"number": 1.5},
        "Name": {"title": [{"type": "text", "text": {"content": "Ebook"}}]},
    }


def test_encode_currency_as_rich_text() -> None:
    layout = products_layout()

    properties = layout.encode({"currency": "USD"}, {"currency": "rich_text"})

    assert properties == {
        "Currency": {"rich_text": [{"type": "text", "text": {"content": "USD"}}]}
    }


def test_decode_reads_owned_properties_only() -> None:
    layout = daily_layout()
    page = {
        "properties": {
            "Key": {
                "type": "rich_text",
                "rich_text": [{"plain_text": "p1|2026-12-04"}],
            },
            "Notes": {"type": "rich_text", "rich_text": [{"plain_text": "mine"}]},
        }
    }

    assert layout.decode(page) == {"key": "p1|2026-12-04"}


def test_key_filter_matches_key_property() -> None:
    layout = products_layout({"id": "Product ID"})

    assert layout.key_filter("abc") == {
        "property": "Product ID",
        "rich_text": {"equals": "abc"},
    }
