"""parse_product and parse_count on product payloads shaped like Gumroad's."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.errors import GumroadAuthError, GumroadError
from ledger.gumroad.products import Product, parse_count, parse_product

PRODUCT_ID = "A-m3CDDC5dlrSdKZp0RFhA=="


def payload(**changes: Any) -> dict[str, Any]:
    """Return a product payload as GET /v2/products lists it, with `changes` applied."""
    base: dict[str, Any] = {
        "id": PRODUCT_ID,
        "name": "Pencil sketching course",
        "description": "<p>Learn to sketch.</p>",
        "require_shipping": False,
        "preview_url": "https://public-files.gumroad.com/preview.png",
        "custom_receipt": None,
        "customizable_price": None,
        "custom_permalink": None,
        "subscription_duration": None,
        "url": None,
        "price": 1500,
        "currency": "usd",
        "short_url": "https://seller.gumroad.com/l/sketch",
        "thumbnail_url": None,
        "tags": ["art"],
        "formatted_price": "$15",
        "published": True,
        "file_info": {},
        "max_purchase_count": None,
        "deleted": False,
        "custom_fields": [],
        "custom_summary": "",
        "is_tiered_membership": False,
        "recurrences": None,
        "variants": [],
        "purchasing_power_parity_prices": {"US": 1500, "IN": 600},
        "custom_delivery_url": None,
        "sales_count": 12,
        "sales_usd_cents": 18000.0,
    }
    base.update(changes)
    return base


def without(*fields: str) -> dict[str, Any]:
    """Return the standard payload with `fields` removed."""
    data = payload()
    for name in fields:
        del data[name]
    return data


def test_payload_parses_to_product() -> None:
    product = parse_product(payload())

    # raw takes no part in equality, so an empty mapping replaces it here.
    assert product == Product(
        product_id=PRODUCT_ID,
        name="Pencil sketching course",
        price_cents=1500,
        currency="usd",
        sales_count=12,
        revenue_usd_cents=18000,
        published=True,
        deleted=False,
        is_membership=False,
        preview_url="https://public-files.gumroad.com/preview.png",
        short_url="https://seller.gumroad.com/l/sketch",
        raw={},
    )


def test_raw_is_a_copy_of_payload() -> None:
    data = payload()

    product = parse_product(data)
    data["purchasing_power_parity_prices"]["IN"] = 1

    assert product.raw["purchasing_power_parity_prices"]["IN"] == 600
    assert product.raw["id"] == PRODUCT_ID


def test_state_fields_exclude_raw() -> None:
    fields = parse_product(payload()).state_fields()

    assert set(fields) == {
        "product_id",
        "name",
        "price_cents",
        "currency",
        "sales_count",
        "revenue_usd_cents",
        "published",
        "deleted",
        "is_membership",
        "preview_url",
        "short_url",
    }


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param(
            {"purchasing_power_parity_prices": {"US": 1500, "IN": 575}}, id="ppp"
        ),
        pytest.param(
            {"files": [{"url": "https://files.example/a.pdf?signature=2"}]},
            id="signed-file-url",
        ),
        pytest.param({"sales_usd_cents": 18000}, id="float-becomes-int"),
        pytest.param({"sales_count": "12"}, id="string-count"),
    ],
)
def test_volatile_fields_keep_state_fields(changes: dict[str, Any]) -> None:
    before = parse_product(payload()).state_fields()

    after = parse_product(payload(**changes)).state_fields()

    assert after == before


@pytest.mark.parametrize(
    ("changes", "field", "value"),
    [
        pytest.param({"name": "Renamed"}, "name", "Renamed", id="name"),
        pytest.param({"price": 1800}, "price_cents", 1800, id="price"),
        pytest.param({"sales_count": 11}, "sales_count", 11, id="refund-count"),
        pytest.param(
            {"sales_usd_cents": 16500.0}, "revenue_usd_cents", 16500, id="refund-money"
        ),
        pytest.param({"published": False}, "published", False, id="unpublished"),
        pytest.param({"deleted": True}, "deleted", True, id="deleted"),
    ],
)
def test_real_changes_change_state_fields(
    changes: dict[str, Any], field: str, value: Any
) -> None:
    fields = parse_product(payload(**changes)).state_fields()

    assert fields[field] == value
    assert fields != parse_product(payload()).state_fields()


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        pytest.param({}, False, id="one-time-product"),
        pytest.param({"is_tiered_membership": True}, True, id="tiered-membership"),
        pytest.param(
            {"subscription_duration": "monthly"}, True, id="subscription-duration"
        ),
        pytest.param({"is_tiered_membership": None}, False, id="tiered-null"),
    ],
)
def test_membership_detection(changes: dict[str, Any], expected: bool) -> None:
    assert parse_product(payload(**changes)).is_membership is expected


@pytest.mark.parametrize(
    ("changes", "price", "currency"),
    [
        pytest.param({"price": 799, "currency": "jpy"}, 799, "jpy", id="jpy-whole"),
        pytest.param({"price": 111000, "currency": "krw"}, 111000, "krw", id="krw"),
        pytest.param({"currency": "EUR"}, 1500, "eur", id="uppercase-currency"),
        pytest.param({"price": 0}, 0, "usd", id="free"),
        pytest.param({"price": "1500"}, 1500, "usd", id="string-price"),
    ],
)
def test_price_and_currency_kept_as_given(
    changes: dict[str, Any], price: int, currency: str
) -> None:
    product = parse_product(payload(**changes))

    assert product.price_cents == price
    assert product.currency == currency


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        pytest.param({"preview_url": None}, None, id="null"),
        pytest.param({"preview_url": ""}, None, id="empty"),
    ],
)
def test_missing_preview_url_is_none(changes: dict[str, Any], expected: None) -> None:
    assert parse_product(payload(**changes)).preview_url is expected


def test_missing_deleted_defaults_false() -> None:
    assert parse_product(without("deleted")).deleted is False


@pytest.mark.parametrize("field", ["sales_count", "sales_usd_cents"])
def test_missing_sales_field_means_missing_scope(field: str) -> None:
    with pytest.raises(GumroadAuthError) as caught:
        parse_product(without(field))

    assert "view_sales" in str(caught.value)
    assert field in str(caught.value)
    assert PRODUCT_ID in str(caught.value)


@pytest.mark.parametrize("field", ["sales_count", "sales_usd_cents"])
def test_null_sales_field_is_transient_error(field: str) -> None:
    with pytest.raises(GumroadError) as caught:
        parse_product(payload(**{field: None}))

    assert not isinstance(caught.value, GumroadAuthError)
    assert f"{field} as null" in str(caught.value)
    assert PRODUCT_ID in str(caught.value)
    assert caught.value.transient is True


# (field, bad value, text of the value in the message)
INVALID_VALUES = [
    pytest.param("sales_count", "abc", "'abc'", id="count-word"),
    pytest.param("sales_count", "", "''", id="count-empty-string"),
    pytest.param("sales_count", float("nan"), "nan", id="count-nan"),
    pytest.param("sales_count", "NaN", "'NaN'", id="count-nan-string"),
    pytest.param("sales_count", float("inf"), "inf", id="count-inf"),
    pytest.param("sales_count", "-Infinity", "'-Infinity'", id="count-minus-inf"),
    pytest.param("sales_count", -1, "-1", id="count-negative"),
    pytest.param("sales_count", 3.5, "3.5", id="count-fraction"),
    pytest.param("sales_count", "3.5", "'3.5'", id="count-fraction-string"),
    pytest.param("sales_count", True, "True", id="count-bool"),
    pytest.param("sales_count", [12], "[12]", id="count-list"),
    pytest.param("sales_count", "1e400", "'1e400'", id="count-too-large"),
    pytest.param("sales_usd_cents", "12,00", "'12,00'", id="cents-comma"),
    pytest.param("sales_usd_cents", -5.0, "-5.0", id="cents-negative"),
    pytest.param("sales_usd_cents", float("-inf"), "-inf", id="cents-minus-inf"),
    pytest.param("sales_usd_cents", {"usd": 1}, "{'usd': 1}", id="cents-object"),
    pytest.param("price", -100, "-100", id="price-negative"),
    pytest.param("price", None, "None", id="price-null"),
    pytest.param("price", 9.99, "9.99", id="price-fraction"),
    pytest.param("currency", "dollars", "'dollars'", id="currency-word"),
    pytest.param("currency", 840, "840", id="currency-number"),
    pytest.param("name", None, "None", id="name-null"),
    pytest.param("published", "yes", "'yes'", id="published-string"),
    pytest.param("deleted", 0, "0", id="deleted-number"),
    pytest.param("is_tiered_membership", "true", "'true'", id="tiered-string"),
    pytest.param("short_url", 5, "5", id="short-url-number"),
]


@pytest.mark.parametrize(("field", "value", "shown"), INVALID_VALUES)
def test_invalid_value_names_product_field_value(
    field: str, value: Any, shown: str
) -> None:
    with pytest.raises(GumroadError) as caught:
        parse_product(payload(**{field: value}))

    message = str(caught.value)
    assert not isinstance(caught.value, GumroadAuthError)
    assert PRODUCT_ID in message
    assert f"invalid {field}: {shown}" in message
    assert caught.value.code == "invalid_product"


@pytest.mark.parametrize("field", ["name", "price", "currency", "published"])
def test_missing_required_field_is_named(field: str) -> None:
    with pytest.raises(GumroadError) as caught:
        parse_product(without(field))

    assert f"without the {field} field" in str(caught.value)
    assert PRODUCT_ID in str(caught.value)


@pytest.mark.parametrize(
    "product_id",
    [
        pytest.param(None, id="null"),
        pytest.param("", id="empty"),
        pytest.param(12345, id="number"),
    ],
)
def test_invalid_id_is_error(product_id: Any) -> None:
    with pytest.raises(GumroadError) as caught:
        parse_product(payload(id=product_id))

    assert "invalid id" in str(caught.value)
    assert "Pencil sketching course" in str(caught.value)


def test_non_object_product_is_error() -> None:
    with pytest.raises(GumroadError) as caught:
        parse_product(["not", "a", "product"])  # type: ignore[arg-type]

    assert "not a JSON object" in str(caught.value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(1234, 1234, id="int"),
        pytest.param(1234.0, 1234, id="float"),
        pytest.param("1234", 1234, id="string"),
        pytest.param("1234.0", 1234, id="float-string"),
        pytest.param(" 1234 ", 1234, id="padded-string"),
        pytest.param("1.234e3", 1234, id="exponent-string"),
        pytest.param(0, 0, id="zero"),
        pytest.param(10**14, 10**14, id="largest-allowed"),
    ],
)
def test_parse_count_accepts_numeric_forms(value: Any, expected: int) -> None:
    assert parse_count(value, field="sales_count", product_id=PRODUCT_ID) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(1234.5, 1234, id="half-rounds-to-even-down"),
        pytest.param(1235.5, 1236, id="half-rounds-to-even-up"),
        pytest.param("0.5", 0, id="half-string-to-zero"),
        pytest.param(1234.4999, 1234, id="below-half"),
        pytest.param(1234.51, 1235, id="above-half"),
        pytest.param(0.1 + 0.2, 0, id="binary-float-noise"),
    ],
)
def test_parse_count_rounds_cents_half_even(value: Any, expected: int) -> None:
    result = parse_count(
        value, field="sales_usd_cents", product_id=PRODUCT_ID, allow_fraction=True
    )

    assert result == expected


@given(st.integers(min_value=0, max_value=10**14))
def test_parse_count_round_trips_every_form(number: int) -> None:
    for form in (number, float(number), str(number), f"{number}.0"):
        assert parse_count(form, field="sales_count", product_id=PRODUCT_ID) == number


@given(st.floats(allow_nan=True, allow_infinity=True))
def test_parse_count_never_returns_negative(value: float) -> None:
    try:
        result = parse_count(
            value, field="sales_usd_cents", product_id=PRODUCT_ID, allow_fraction=True
        )
    except GumroadError:
        assert math.isnan(value) or math.isinf(value) or value < 0 or value > 10**14
        return

    assert result >= 0


@pytest.mark.parametrize("field", ["name", "currency", "preview_url", "id"])
def test_lone_surrogate_rejected(field: str) -> None:
    body = {
        "id": PRODUCT_ID,
        "name": "Ebook",
        "price": 100,
        "currency": "usd",
        "published": True,
        "preview_url": "http://127.0.0.1:9/p.png",
        "sales_count": 1,
        "sales_usd_cents": 100,
    }
    body[field] = "bad \ud800 text"

    with pytest.raises(GumroadError):
        parse_product(body)


def test_count_above_limit_rejected() -> None:
    with pytest.raises(GumroadError, match="10\\*\\*14"):
        parse_count(10**14 + 1, field="sales_count", product_id=PRODUCT_ID)


def membership_body(**fields: Any) -> dict[str, Any]:
    def option(name: str, cents: Any) -> dict[str, Any]:
        return {
            "name": name,
            "recurrence_prices": {
                "monthly": {"price_cents": cents},
                "yearly": {
                    "price_cents": cents * 10 if isinstance(cents, int) else cents
                },
            },
        }

    body = {
        "id": PRODUCT_ID,
        "name": "Studio",
        "price": 0,
        "currency": "usd",
        "published": True,
        "is_tiered_membership": True,
        "variants": [
            {"title": "Tier", "options": [option("Pro", 1500), option("Basic", 500)]}
        ],
        "sales_count": 1,
        "sales_usd_cents": 500,
    }
    body.update(fields)
    return body


def test_membership_price_is_lowest_tier() -> None:
    assert parse_product(membership_body()).price_cents == 500


def test_membership_without_tiers_keeps_zero() -> None:
    assert parse_product(membership_body(variants=[])).price_cents == 0


def test_membership_bad_tier_price_rejected() -> None:
    body = membership_body()
    body["variants"][0]["options"][0]["recurrence_prices"]["monthly"]["price_cents"] = (
        "x"
    )

    with pytest.raises(GumroadError, match="price_cents"):
        parse_product(body)
