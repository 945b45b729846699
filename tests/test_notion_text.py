"""Splitting text into Notion rich-text items and checking numbers."""

from __future__ import annotations

import logging
import math
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.notion.text import (
    ELLIPSIS,
    check_finite,
    number_value,
    plain_text,
    rich_text_items,
    rich_text_value,
    split_text,
    text_property,
    title_value,
    url_value,
    utf16_length,
)

TEXT_LOGGER = "ledger.notion.text"
GRINNING = "\U0001f600"  # two UTF-16 code units
FAMILY = "\U0001f468\u200d\U0001f469\u200d\U0001f467"  # ZWJ sequence, eight units
FLAG_FR = "\U0001f1eb\U0001f1f7"  # two regional indicators, four units
THUMBS_DARK = "\U0001f44d\U0001f3ff"  # emoji and skin-tone modifier, four units


def units(chunks: list[str]) -> list[int]:
    return [utf16_length(chunk) for chunk in chunks]


def test_utf16_length_counts_pairs_twice() -> None:
    assert utf16_length("a" + GRINNING) == 3


def test_short_text_is_one_chunk() -> None:
    assert split_text("Product A") == ["Product A"]


def test_empty_text_has_no_items() -> None:
    assert rich_text_items("") == []


def test_ascii_splits_at_2000_units() -> None:
    assert units(split_text("x" * 4001)) == [2000, 2000, 1]


def test_emoji_at_boundary_moves_whole() -> None:
    chunks = split_text("a" * 1999 + GRINNING + "b")

    assert chunks == ["a" * 1999, GRINNING + "b"]


def test_emoji_ending_exactly_at_limit_stays() -> None:
    chunks = split_text("a" * 1998 + GRINNING + "b")

    assert units(chunks) == [2000, 1]


@pytest.mark.parametrize(
    "cluster",
    [
        pytest.param("e\u0301", id="combining-acute"),
        pytest.param("a\u0308\u0323", id="two-combining-marks"),
        pytest.param(FAMILY, id="zwj-family"),
        pytest.param(FLAG_FR, id="flag"),
        pytest.param(THUMBS_DARK, id="skin-tone"),
        pytest.param("\u2764\ufe0f", id="variation-selector"),
        pytest.param("\r\n", id="crlf"),
    ],
)
def test_cluster_at_boundary_is_not_split(cluster: str) -> None:
    text = "a" * 1999 + cluster + "z"

    chunks = split_text(text)

    assert chunks[1].startswith(cluster)
    assert "".join(chunks) == text


def test_two_flags_split_between_flags() -> None:
    assert split_text(FLAG_FR + FLAG_FR, max_units=4) == [FLAG_FR, FLAG_FR]


def test_exactly_100_items_is_not_truncated(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger=TEXT_LOGGER)

    chunks = split_text("y" * 200_000)

    assert len(chunks) == 100
    assert chunks[-1].endswith("y")
    assert caplog.records == []


def test_long_text_truncated_to_100_items() -> None:
    chunks = split_text("y" * 200_001)

    assert len(chunks) == 100
    assert max(units(chunks)) == 2000
    assert chunks[-1].endswith(ELLIPSIS)


def test_truncation_keeps_surrogate_pairs() -> None:
    chunks = split_text(GRINNING * 150_000)

    assert chunks[-1] == GRINNING * 999 + ELLIPSIS
    assert utf16_length(chunks[-1]) == 1999


def test_truncation_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger=TEXT_LOGGER)

    split_text("y" * 300_000, label="product description")

    assert len(caplog.records) == 1
    assert "product description" in caplog.records[0].getMessage()
    assert "300000" in caplog.records[0].getMessage()


@given(st.text(max_size=60), st.integers(min_value=2, max_value=12))
def test_chunks_rejoin_within_limit(text: str, max_units: int) -> None:
    chunks = split_text(text, max_units=max_units, max_items=10_000)

    assert "".join(chunks) == text
    assert all(1 <= utf16_length(chunk) <= max_units for chunk in chunks)


def test_title_value_shape() -> None:
    assert title_value("A") == {"title": [{"type": "text", "text": {"content": "A"}}]}


def test_rich_text_value_shape() -> None:
    assert rich_text_value("p1") == {
        "rich_text": [{"type": "text", "text": {"content": "p1"}}]
    }


def test_text_property_rejects_other_kind() -> None:
    with pytest.raises(ValueError, match="'number'"):
        text_property("number", "5")


def test_plain_text_joins_items() -> None:
    value = {
        "type": "rich_text",
        "rich_text": [{"plain_text": "prod_1|"}, {"plain_text": "2026-10-08"}],
    }

    assert plain_text(value) == "prod_1|2026-10-08"


def test_plain_text_of_request_value() -> None:
    assert plain_text(rich_text_value("x" * 2500)) == "x" * 2500


def test_plain_text_of_missing_value() -> None:
    assert plain_text(None) == ""


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(math.nan, id="nan"),
        pytest.param(math.inf, id="inf"),
        pytest.param(-math.inf, id="minus-inf"),
        pytest.param(Decimal("NaN"), id="decimal-nan"),
        pytest.param(Decimal("-Infinity"), id="decimal-inf"),
    ],
)
def test_check_finite_rejects_non_finite(value: object) -> None:
    with pytest.raises(ValueError, match="Revenue"):
        check_finite(value, "Revenue")


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(True, id="bool"),
        pytest.param("12.5", id="string"),
        pytest.param([1], id="list"),
    ],
)
def test_check_finite_rejects_non_numbers(value: object) -> None:
    with pytest.raises(TypeError, match="Revenue"):
        check_finite(value, "Revenue")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(None, None, id="none"),
        pytest.param(0, 0, id="zero"),
        pytest.param(-3.5, -3.5, id="negative-float"),
        pytest.param(Decimal("12.50"), 12.5, id="decimal-fraction"),
        pytest.param(Decimal("1234"), 1234, id="decimal-whole"),
    ],
)
def test_check_finite_accepts_numbers(value: object, expected: object) -> None:
    assert check_finite(value, "Revenue") == expected


def test_decimal_whole_becomes_int() -> None:
    assert type(check_finite(Decimal("7.00"), "Price")) is int


def test_number_value_wraps_number() -> None:
    assert number_value(Decimal("9.99"), "Price") == {"number": 9.99}


def test_url_value_keeps_normal_url() -> None:
    assert url_value("https://x.gumroad.com/l/a") == {
        "url": "https://x.gumroad.com/l/a"
    }


def test_url_value_drops_overlong_url(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger=TEXT_LOGGER)

    value = url_value("https://cdn.example/" + "q" * 2000, label="cover")

    assert value == {"url": None}
    assert "cover" in caplog.text
