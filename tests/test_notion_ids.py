"""Parsing Notion ids and links from settings."""

from __future__ import annotations

import pytest

from ledger.errors import ConfigError
from ledger.notion.ids import canonical_id, id_from_url, parse_notion_id

HEX = "1a2b3c4d5e6f47808192a3b4c5d6e7f8"
DASHED = "1a2b3c4d-5e6f-4780-8192-a3b4c5d6e7f8"
VIEW = "99998888777766665555444433332222"

VALID = [
    pytest.param(HEX, id="32-hex"),
    pytest.param(HEX.upper(), id="upper-case-hex"),
    pytest.param(DASHED, id="dashed"),
    pytest.param(f"  {HEX}\n", id="surrounding-whitespace"),
    pytest.param(
        f"https://www.notion.so/acme/Sales-{HEX}?v={VIEW}", id="url-with-view"
    ),
    pytest.param(
        f"https://www.notion.so/acme/Sales-{HEX}?v={VIEW}&pvs=4", id="url-pvs"
    ),
    pytest.param(f"https://www.notion.so/{HEX}", id="url-bare-id"),
    pytest.param(
        f"https://notion.so/Gumroad-Sales-2026-{HEX}", id="url-slug-with-digits"
    ),
    pytest.param(f"https://acme.notion.site/Sales-{HEX}", id="notion-site"),
    pytest.param(f"https://www.notion.so/acme/{DASHED}", id="url-dashed-id"),
    pytest.param(f"https://www.notion.so/acme/Sales-{HEX}/", id="url-trailing-slash"),
    pytest.param(
        f"https://www.notion.so/acme/Sales-{HEX}#{VIEW}", id="url-with-fragment"
    ),
    pytest.param(f"www.notion.so/acme/Sales-{HEX}", id="url-without-scheme"),
    pytest.param(
        f"https://www.notion.so/acme/Sales-{HEX}?v={VIEW}&p={VIEW}&pm=s", id="url-peek"
    ),
]

INVALID = [
    pytest.param("", id="empty"),
    pytest.param("   ", id="blank"),
    pytest.param("sales", id="word"),
    pytest.param(HEX[:-1], id="31-hex"),
    pytest.param(HEX + "0", id="33-hex"),
    pytest.param(HEX.replace("a", "g"), id="non-hex-letter"),
    pytest.param(f"https://www.notion.so/acme?v={HEX}", id="id-only-in-view"),
    pytest.param("https://www.notion.so/", id="url-without-path"),
    pytest.param(f"ftp://www.notion.so/Sales-{HEX}", id="ftp-scheme"),
    pytest.param(f"https://www.notion.so/acme/Sales-{HEX[:20]}", id="url-short-id"),
]


@pytest.mark.parametrize("value", VALID)
def test_parse_returns_dashed_id(value: str) -> None:
    assert parse_notion_id(value, "NOTION_PARENT_PAGE_ID") == DASHED


@pytest.mark.parametrize("value", INVALID)
def test_parse_rejects_invalid_value(value: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_notion_id(value, "NOTION_DAILY_DATABASE_ID")

    assert "NOTION_DAILY_DATABASE_ID" in str(raised.value)
    assert raised.value.name == "NOTION_DAILY_DATABASE_ID"
    assert raised.value.exit_code == 2


def test_parse_error_quotes_value() -> None:
    with pytest.raises(ConfigError) as raised:
        parse_notion_id("my-sales-page", "NOTION_PARENT_PAGE_ID")

    assert "'my-sales-page'" in str(raised.value)


def test_parse_never_takes_view_id() -> None:
    url = f"https://www.notion.so/acme/Sales-{HEX}?v={VIEW}"

    assert parse_notion_id(url, "NOTION_PRODUCTS_DATABASE_ID").replace("-", "") == HEX


def test_canonical_id_rejects_url() -> None:
    assert canonical_id(f"https://www.notion.so/{HEX}") is None


def test_id_from_url_rejects_bare_id() -> None:
    assert id_from_url(HEX) is None
