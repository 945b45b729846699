"""Turn Gumroad product payloads into typed, validated Product records."""

from __future__ import annotations

import copy
import dataclasses
import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any

from ledger.errors import GumroadAuthError, GumroadError

_CURRENCY_CODE = re.compile(r"[a-z]{3}")

# The ledger stores counts and cents in 64-bit SQL integers, and a poll also stores
# their sums over the whole catalogue: 10**14 cents ($1 trillion) per product keeps
# the sum of 10,000 products inside 2**63.
_MAX_COUNT = Decimal(10**14)

_SCOPE_FIX = (
    "the access token lacks the view_sales scope. Create a token with the view_sales "
    "scope (Gumroad: Settings, Advanced, Applications, Generate access token) and set "
    "GUMROAD_ACCESS_TOKEN to it"
)


@dataclass(frozen=True)
class Product:
    """One product as Gumroad reported it, with counts and money as integers."""

    product_id: str
    name: str
    # Minor units of `currency`. Gumroad stores JPY and VND in whole units, so for
    # those currencies this is the whole amount.
    price_cents: int
    currency: str
    sales_count: int
    # Gumroad's sales_usd_cents: USD cents converted at purchase time, net of refunds.
    revenue_usd_cents: int
    published: bool
    deleted: bool
    is_membership: bool
    preview_url: str | None
    short_url: str | None
    raw: Mapping[str, Any] = dataclasses.field(compare=False, repr=False)

    def state_fields(self) -> dict[str, Any]:
        """Return the normalized fields that define a change of state, all but `raw`.

        Volatile payload fields such as purchasing_power_parity_prices or signed file
        URLs live only in `raw`, so they never count as a change.
        """
        return {
            "product_id": self.product_id,
            "name": self.name,
            "price_cents": self.price_cents,
            "currency": self.currency,
            "sales_count": self.sales_count,
            "revenue_usd_cents": self.revenue_usd_cents,
            "published": self.published,
            "deleted": self.deleted,
            "is_membership": self.is_membership,
            "preview_url": self.preview_url,
            "short_url": self.short_url,
        }


def parse_product(raw: Mapping[str, Any]) -> Product:
    """Validate one product payload from GET /v2/products and build a Product.

    Raises GumroadAuthError when the sales fields are missing, which means the token
    lacks the view_sales scope, and GumroadError naming the product id and field for
    any other invalid value.
    """
    if not isinstance(raw, Mapping):
        raise GumroadError(
            "Gumroad returned a product that is not a JSON object but a "
            f"{type(raw).__name__}",
            code="invalid_product",
        )
    product_id = _product_id(raw)

    return Product(
        product_id=product_id,
        name=_string(raw, "name", product_id),
        price_cents=_price(raw, product_id),
        currency=_currency(raw, product_id),
        sales_count=_sales_figure(raw, "sales_count", product_id, allow_fraction=False),
        revenue_usd_cents=_sales_figure(
            raw, "sales_usd_cents", product_id, allow_fraction=True
        ),
        published=_flag(raw, "published", product_id, default=None),
        deleted=_flag(raw, "deleted", product_id, default=False),
        is_membership=_is_membership(raw, product_id),
        preview_url=_optional_string(raw, "preview_url", product_id),
        short_url=_optional_string(raw, "short_url", product_id),
        raw=copy.deepcopy(dict(raw)),
    )


def parse_count(
    value: Any, *, field: str, product_id: str, allow_fraction: bool = False
) -> int:
    """Convert a non-negative count that Gumroad sent as int, float or string to int.

    Accepted forms are 1234, 1234.0, "1234" and "1234.0". With `allow_fraction` (used
    for cents) a fractional value rounds half-even, otherwise it is an error. NaN,
    infinities, negative values, booleans and non-numeric strings raise GumroadError
    naming the product, the field and the value. The caller handles None and missing.
    """
    number = _to_decimal(value, field=field, product_id=product_id)

    if not number.is_finite():
        raise _bad_value(product_id, field, value, "a finite number")
    if number < 0:
        raise _bad_value(product_id, field, value, "a number >= 0")
    if number > _MAX_COUNT:
        raise _bad_value(product_id, field, value, "a number up to 10**14")

    whole = number.to_integral_value(rounding=ROUND_HALF_EVEN)
    if whole != number and not allow_fraction:
        raise _bad_value(product_id, field, value, "a whole number")
    return int(whole)


def _to_decimal(value: Any, *, field: str, product_id: str) -> Decimal:
    # bool is a subclass of int, but true/false in a count is a payload bug.
    if isinstance(value, bool):
        raise _bad_value(product_id, field, value, "a number")
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            raise _bad_value(product_id, field, value, "a finite number")
        # repr gives the shortest decimal that round-trips, so 0.5 stays a tie.
        return Decimal(repr(value))
    if isinstance(value, str):
        try:
            return Decimal(value.strip())
        except InvalidOperation:
            raise _bad_value(product_id, field, value, "a number") from None
    raise _bad_value(product_id, field, value, "a number")


def _bad_value(product_id: str, field: str, value: Any, expected: str) -> GumroadError:
    value_text = repr(value)
    if len(value_text) > 80:
        value_text = value_text[:77] + "..."
    return GumroadError(
        f"Gumroad product {product_id} has an invalid {field}: {value_text}, expected "
        f"{expected}. Report the value to Gumroad support if it persists",
        code="invalid_product",
    )


def _product_id(raw: Mapping[str, Any]) -> str:
    value = raw.get("id")
    if not isinstance(value, str) or not value.strip() or not _encodable(value):
        name = raw.get("name")
        label = f" named {name!r}" if isinstance(name, str) else ""
        raise GumroadError(
            f"Gumroad returned a product{label} with an invalid id: {value!r}, "
            "expected a non-empty string",
            code="invalid_product",
        )
    return value


def _string(raw: Mapping[str, Any], field: str, product_id: str) -> str:
    if field not in raw:
        raise _missing(product_id, field)
    value = raw[field]
    if not isinstance(value, str):
        raise _bad_value(product_id, field, value, "a string")
    if not _encodable(value):
        raise _bad_value(product_id, field, value, "valid Unicode text")
    return value


def _optional_string(raw: Mapping[str, Any], field: str, product_id: str) -> str | None:
    value = raw.get(field)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise _bad_value(product_id, field, value, "a string or null")
    if not _encodable(value):
        raise _bad_value(product_id, field, value, "valid Unicode text")
    return value


def _encodable(text: str) -> bool:
    """Tell whether `text` has no lone surrogate, which JSON allows as \\ud800."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _required_count(raw: Mapping[str, Any], field: str, product_id: str) -> int:
    if field not in raw:
        raise _missing(product_id, field)
    if raw[field] is None:
        raise _bad_value(product_id, field, None, "a number")
    return parse_count(raw[field], field=field, product_id=product_id)


def _sales_figure(
    raw: Mapping[str, Any], field: str, product_id: str, *, allow_fraction: bool
) -> int:
    if field not in raw:
        raise GumroadAuthError(
            f"Gumroad returned product {product_id} without {field}: {_SCOPE_FIX}",
            code="missing_scope",
        )
    value = raw[field]
    if value is None:
        # Recording a zero here would write a false drop in sales, so the poll stops.
        raise GumroadError(
            f"Gumroad returned {field} as null for product {product_id}: Gumroad did "
            "not compute the figure this time, and the ledger will not record it as "
            "zero. Retry the poll later, and report it to Gumroad support if it "
            "persists",
            code="null_sales_figure",
            transient=True,
        )
    return parse_count(
        value, field=field, product_id=product_id, allow_fraction=allow_fraction
    )


def _currency(raw: Mapping[str, Any], product_id: str) -> str:
    value = _string(raw, "currency", product_id)
    code = value.strip().lower()
    if not _CURRENCY_CODE.fullmatch(code):
        raise _bad_value(product_id, "currency", value, "a 3-letter ISO 4217 code")
    return code


def _flag(
    raw: Mapping[str, Any], field: str, product_id: str, *, default: bool | None
) -> bool:
    if field not in raw and default is not None:
        return default
    if field not in raw:
        raise _missing(product_id, field)
    value = raw[field]
    if not isinstance(value, bool):
        raise _bad_value(product_id, field, value, "true or false")
    return value


def _price(raw: Mapping[str, Any], product_id: str) -> int:
    """Return the product's price; for a tiered membership, its lowest tier price.

    Gumroad lists a tiered membership with a top-level price of 0 and keeps each
    tier's price in variants[].options[].recurrence_prices.<recurrence>.price_cents.
    """
    price = _required_count(raw, "price", product_id)
    if price != 0 or raw.get("is_tiered_membership") is not True:
        return price
    tier_prices = list(_tier_prices(raw, product_id))
    return min(tier_prices) if tier_prices else price


def _tier_prices(raw: Mapping[str, Any], product_id: str) -> Iterator[int]:
    variants = raw.get("variants")
    if not isinstance(variants, list):
        return
    for variant in variants:
        options = variant.get("options") if isinstance(variant, Mapping) else None
        for option in options if isinstance(options, list) else []:
            prices = (
                option.get("recurrence_prices") if isinstance(option, Mapping) else None
            )
            for entry in prices.values() if isinstance(prices, Mapping) else []:
                value = entry.get("price_cents") if isinstance(entry, Mapping) else None
                if value is not None:
                    yield parse_count(value, field="price_cents", product_id=product_id)


def _is_membership(raw: Mapping[str, Any], product_id: str) -> bool:
    tiered = raw.get("is_tiered_membership")
    if tiered is not None and not isinstance(tiered, bool):
        raise _bad_value(product_id, "is_tiered_membership", tiered, "true or false")
    duration = _optional_string(raw, "subscription_duration", product_id)
    return bool(tiered) or duration is not None


def _missing(product_id: str, field: str) -> GumroadError:
    return GumroadError(
        f"Gumroad returned product {product_id} without the {field} field, which "
        "every product payload carries. Check that GUMROAD_API_URL points at the "
        "Gumroad API",
        code="invalid_product",
    )
