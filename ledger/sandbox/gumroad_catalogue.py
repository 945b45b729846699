"""Products of the Gumroad sandbox and their JSON payloads as the API sends them.

The server is in `ledger.sandbox.gumroad`. This module contains the data model, its
validation and the rendering of payloads and page keys.
"""

from __future__ import annotations

import base64
import hashlib
import html
import re
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

NUMBER_FORMS = ("mixed", "int", "float", "string")
PRODUCT_FIELDS = frozenset(
    {
        "name",
        "price_cents",
        "currency",
        "published",
        "membership",
        "preview_url",
        "sales_count",
        "revenue_usd_cents",
        "number_form",
    }
)
_SINGLE_UNIT_CURRENCIES = frozenset({"jpy", "vnd"})
_CURRENCY_SYMBOLS = {"usd": "$", "eur": "€", "gbp": "£", "jpy": "¥", "inr": "₹"}
_PAGE_KEY = re.compile(r"(\d{20})-(\d+)")


class _Omit:
    def __repr__(self) -> str:
        return "OMIT"


OMIT: Any = _Omit()
"""Value for `GumroadSandbox.override` that removes a field from the payload."""


@dataclass
class SandboxProduct:
    """One product of the sandbox catalogue, with its sales totals."""

    seq: int
    product_id: str
    name: str
    price_cents: int
    currency: str
    published: bool
    membership: bool
    preview_url: str | None
    sales_count: int
    revenue_usd_cents: int
    number_form: str
    created_at: datetime
    permalink: str
    deleted: bool = False
    # Raw payload fields set verbatim by GumroadSandbox.override().
    overrides: dict[str, Any] = field(default_factory=dict)

    @property
    def sort_key(self) -> tuple[datetime, int]:
        """Key of the listing order: the API sorts by created_at, then id."""
        return (self.created_at, self.seq)


def new_product_id(seq: int) -> str:
    """Return a deterministic external id: URL-safe base64 of 16 bytes, ending "=="."""
    digest = hashlib.sha256(f"sandbox-product-{seq}".encode()).digest()
    return base64.urlsafe_b64encode(digest[:16]).decode()


def new_permalink(seq: int) -> str:
    """Return a deterministic 6-letter permalink for the product's short URL."""
    digest = hashlib.sha256(f"sandbox-permalink-{seq}".encode()).digest()
    return base64.b32encode(digest).decode().lower()[:6]


def apply_fields(product: SandboxProduct, **fields: Any) -> None:
    """Validate fields named like add_product's parameters and set them on `product`."""
    for name in ("price_cents", "sales_count", "revenue_usd_cents"):
        if name in fields:
            value = fields[name]
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be an int >= 0, got {value!r}")
    currency = fields.get("currency", "usd")
    if not isinstance(currency, str) or not re.fullmatch(r"[a-z]{3}", currency):
        raise ValueError(f"currency must be a lowercase ISO code, got {currency!r}")
    if fields.get("number_form", "mixed") not in NUMBER_FORMS:
        raise ValueError(
            f"number_form must be one of {NUMBER_FORMS}, got {fields['number_form']!r}"
        )

    for name, value in fields.items():
        setattr(product, name, value)


def sale_amount(product: SandboxProduct, count: int, usd_cents: int | None) -> int:
    """Return the USD cents of `count` sales: `usd_cents`, or price x count for USD."""
    if count < 0 or (usd_cents is not None and usd_cents < 0):
        raise ValueError(f"count and usd_cents must be >= 0, got {count}, {usd_cents}")
    if usd_cents is not None:
        return usd_cents
    if product.currency != "usd":
        raise ValueError(
            f"product {product.product_id} is priced in {product.currency}: pass "
            "usd_cents, because Gumroad converts revenue to USD at purchase time"
        )
    return product.price_cents * count


def render_payload(
    product: SandboxProduct, *, include_sales: bool, serial: int, detail: bool = False
) -> dict[str, Any]:
    """Build the product's JSON object as the list or single-product endpoint sends it.

    `serial` numbers the rendering, so the purchasing power parity prices change from
    one request to the next. `detail` adds the signed file URLs of the single-product
    endpoint. Overrides apply last.
    """
    payload = _base_payload(product)
    if payload["price"] > 0:
        payload["purchasing_power_parity_prices"] = _ppp_prices(
            payload["price"], serial
        )
    if include_sales:
        payload["custom_delivery_url"] = None
        payload["sales_count"] = _serialize(product.sales_count, product.number_form)
        payload["sales_usd_cents"] = _serialize(
            product.revenue_usd_cents, product.number_form, usd_sum=True
        )
    if detail:
        payload["files"] = [_signed_file(product)]

    for name, value in product.overrides.items():
        if value is OMIT:
            payload.pop(name, None)
        else:
            payload[name] = value
    return payload


def page_key(product: SandboxProduct) -> str:
    """Return the cursor after `product`, shaped like Gumroad's "<created_at>-<id>"."""
    return f"{product.created_at:%Y%m%d%H%M%S%f}-{product.seq}"


def parse_page_key(text: str) -> tuple[datetime, int] | None:
    """Return the sort key a page key points at, or None when it is malformed."""
    match = _PAGE_KEY.fullmatch(text)
    if match is None:
        return None
    try:
        created = datetime.strptime(match.group(1), "%Y%m%d%H%M%S%f")
    except ValueError:
        return None
    return (created.replace(tzinfo=UTC), int(match.group(2)))


def _base_payload(product: SandboxProduct) -> dict[str, Any]:
    price = 0 if product.membership else product.price_cents
    return {
        "id": product.product_id,
        "name": product.name,
        "description": f"<p>{html.escape(product.name)}</p>",
        "require_shipping": False,
        "preview_url": product.preview_url,
        "custom_receipt": None,
        "customizable_price": False,
        "custom_permalink": None,
        "subscription_duration": "monthly" if product.membership else None,
        "url": None,
        "price": price,
        "currency": product.currency,
        "short_url": f"https://sandbox-seller.gumroad.com/l/{product.permalink}",
        "thumbnail_url": product.preview_url,
        "tags": [],
        "formatted_price": _format_price(price, product.currency),
        "published": product.published and not product.deleted,
        "file_info": {},
        "max_purchase_count": None,
        "deleted": product.deleted,
        "custom_fields": [],
        "custom_summary": None,
        "is_tiered_membership": product.membership,
        "recurrences": ["monthly"] if product.membership else None,
        "variants": _tier_variants(product) if product.membership else [],
    }


def _tier_variants(product: SandboxProduct) -> list[dict[str, Any]]:
    monthly = {"price_cents": product.price_cents, "suggested_price_cents": None}
    option = {
        "name": "Standard",
        "price_difference": 0,
        "is_pay_what_you_want": False,
        "recurrence_prices": {"monthly": monthly},
        "url": None,
    }
    return [{"title": "Tier", "options": [option]}]


def _format_price(price: int, currency: str) -> str:
    symbol = _CURRENCY_SYMBOLS.get(currency, f"{currency.upper()} ")
    if currency in _SINGLE_UNIT_CURRENCIES:
        return f"{symbol}{price:,}"
    whole, cents = divmod(price, 100)
    return f"{symbol}{whole:,}" if cents == 0 else f"{symbol}{whole:,}.{cents:02d}"


def _ppp_prices(price: int, served: int) -> dict[str, int]:
    # The real API recomputes these factors, so they differ between two requests.
    shift = served % 17
    return {
        "US": price,
        "IN": price * (35 + shift) // 100,
        "BR": price * (55 + shift) // 100,
        "DE": price,
    }


def _signed_file(product: SandboxProduct) -> dict[str, Any]:
    return {
        "id": hashlib.sha256(product.product_id.encode()).hexdigest()[:24],
        "name": "download.pdf",
        "size": 1024,
        "url": f"https://files.sandbox.invalid/{product.permalink}.pdf"
        f"?signature={secrets.token_hex(8)}",
    }


def _serialize(value: int, number_form: str, *, usd_sum: bool = False) -> Any:
    if number_form == "string":
        return str(value)
    if number_form == "float" or (number_form == "mixed" and usd_sum):
        return float(value)
    return value
