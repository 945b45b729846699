"""Ledgers built by the real poller from an in-memory catalogue, for reuse in tests.

`LedgerBuilder` drives `ledger.poller.poll` with a fixed clock, so each poll, and
so each delta, lands on a chosen day. `build_reference_ledger` replays one small
store's history. The expected values in the view, SQL and docs tests were worked out
by hand from the timeline in its docstring.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.engine import URL, Engine, make_url

from ledger.errors import GumroadError
from ledger.gumroad.products import Product
from ledger.poller import PollResult, poll
from ledger.store.db import create_ledger_engine, ensure_current

# The instant that the docs tests substitute for SQLite's 'now'.
REFERENCE_NOW = "2026-03-31 12:00:00"


def make_product(
    product_id: str,
    name: str,
    *,
    price_cents: int,
    currency: str = "usd",
    sales_count: int = 0,
    revenue_usd_cents: int = 0,
    published: bool = True,
    is_membership: bool = False,
) -> Product:
    """Build a Product together with a raw payload shaped like GET /v2/products."""
    short_url = f"https://seller.gumroad.com/l/{product_id}"
    raw = {
        "id": product_id,
        "name": name,
        "price": price_cents,
        "currency": currency,
        "sales_count": sales_count,
        "sales_usd_cents": revenue_usd_cents,
        "published": published,
        "deleted": False,
        "is_tiered_membership": is_membership,
        "preview_url": None,
        "short_url": short_url,
    }
    return Product(
        product_id=product_id,
        name=name,
        price_cents=price_cents,
        currency=currency,
        sales_count=sales_count,
        revenue_usd_cents=revenue_usd_cents,
        published=published,
        deleted=False,
        is_membership=is_membership,
        preview_url=None,
        short_url=short_url,
        raw=raw,
    )


@dataclass
class Listing:
    """What the poller reads from a product source."""

    products: list[Product]
    pages: int = 1
    complete: bool = True


@dataclass
class FakeCatalogue:
    """A product source held in memory; `list_products` returns its current state."""

    products: dict[str, Product] = field(default_factory=dict)
    complete: bool = True
    failure: str | None = None

    def add(self, product: Product) -> None:
        self.products[product.product_id] = product

    def change(self, product_id: str, **fields: Any) -> None:
        """Replace some fields of a listed product, keeping `raw` in step."""
        current = self.products[product_id]
        raw = dict(current.raw)
        for name, value in fields.items():
            raw[_RAW_NAMES.get(name, name)] = value
        self.products[product_id] = dataclasses.replace(current, raw=raw, **fields)

    def remove(self, product_id: str) -> None:
        del self.products[product_id]

    def list_products(self) -> Listing:
        if self.failure is not None:
            raise GumroadError(self.failure, status=502, transient=True)
        products = list(self.products.values())
        pages = max(1, -(-len(products) // 10))
        return Listing(products, pages=pages, complete=self.complete)


_RAW_NAMES = {
    "price_cents": "price",
    "revenue_usd_cents": "sales_usd_cents",
    "is_membership": "is_tiered_membership",
}


class LedgerBuilder:
    """A new ledger file at the schema head, polled from a FakeCatalogue."""

    def __init__(self, path: Path, timezone: str = "UTC") -> None:
        self.path = path
        self.url: URL = make_url(f"sqlite:///{path}")
        self.timezone = ZoneInfo(timezone)
        self.engine: Engine = create_ledger_engine(self.url)
        ensure_current(self.engine)
        self.catalogue = FakeCatalogue()

    def poll_at(self, when: datetime | str) -> PollResult:
        """Poll the catalogue as if the clock read `when` (naive text means UTC)."""
        instant = _as_utc(when)
        return poll(self.engine, self.catalogue, self.timezone, clock=lambda: instant)

    def fail_at(self, when: datetime | str, message: str) -> None:
        """Record a failed poll at `when`, as a Gumroad outage would."""
        self.catalogue.failure = message
        try:
            self.poll_at(when)
        except GumroadError:
            pass
        finally:
            self.catalogue.failure = None

    def close(self) -> None:
        self.engine.dispose()


def _as_utc(when: datetime | str) -> datetime:
    if isinstance(when, str):
        return datetime.fromisoformat(when).replace(tzinfo=UTC)
    if when.tzinfo is None:
        raise ValueError(f"expected a timezone-aware datetime, got {when!r}")
    return when


def build_reference_ledger(path: Path, timezone: str = "UTC") -> LedgerBuilder:
    """Replay a small store's first quarter of 2026 into a new ledger at `path`.

    Poll times are UTC. With timezone UTC the deltas land on these days:

    | poll | when (UTC)       | what changed                                   |
    | ---- | ---------------- | ---------------------------------------------- |
    | 1    | 2026-01-05 12:00 | baseline: ebook 10/$100.00, course 2/$100.00,  |
    |      |                  | stickers 4/$22.00 (priced 5.00 EUR),           |
    |      |                  | sampler 20/$0 (free), zine 1/$5.00             |
    | 2    | 2026-01-20 12:00 | ebook +2 +$20.00                               |
    | 3    | 2026-02-10 12:00 | course +1 +$50.00, stickers +2 +$11.00,        |
    |      |                  | ebook price $10.00 -> $12.00                   |
    | 4    | 2026-02-10 18:00 | ebook +1 +$12.00                               |
    | 5    | 2026-02-25 12:00 | course -1 -$50.00 (refund); zine gone from     |
    |      |                  | the listing (deleted); template new 1/$8.00    |
    | 6    | 2026-03-20 12:00 | ebook +3 +$36.00, template +2 +$16.00,         |
    |      |                  | sampler +5 $0, stickers renamed Sticker pack   |
    | 7    | 2026-03-22 23:30 | ebook +1 +$12.00, stickers -1 -$5.50; template |
    |      |                  | price $8.00 -> $10.00; course unpublished      |
    | 8    | 2026-03-25 12:00 | template +1 +$10.00                            |
    | 9    | 2026-03-31 09:00 | nothing                                        |
    | 10   | 2026-03-31 10:00 | failed: Gumroad returned HTTP 502              |

    With timezone Asia/Tokyo (UTC+9), polls 4 and 7 fall on the next local day,
    2026-02-11 and 2026-03-23, so their deltas move to those days. Poll 7's deltas
    also move into ISO week 13.
    """
    builder = LedgerBuilder(path, timezone)
    catalogue = builder.catalogue
    _add_baseline_products(catalogue)
    builder.poll_at("2026-01-05 12:00")

    catalogue.change("ebook", sales_count=12, revenue_usd_cents=12000)
    builder.poll_at("2026-01-20 12:00")

    catalogue.change("course", sales_count=3, revenue_usd_cents=15000)
    catalogue.change("stickers", sales_count=6, revenue_usd_cents=3300)
    catalogue.change("ebook", price_cents=1200)
    builder.poll_at("2026-02-10 12:00")

    catalogue.change("ebook", sales_count=13, revenue_usd_cents=13200)
    builder.poll_at("2026-02-10 18:00")

    catalogue.change("course", sales_count=2, revenue_usd_cents=10000)
    catalogue.remove("zine")
    catalogue.add(
        make_product(
            "template",
            "Template",
            price_cents=800,
            sales_count=1,
            revenue_usd_cents=800,
        )
    )
    builder.poll_at("2026-02-25 12:00")

    catalogue.change("ebook", sales_count=16, revenue_usd_cents=16800)
    catalogue.change("template", sales_count=3, revenue_usd_cents=2400)
    catalogue.change("sampler", sales_count=25)
    catalogue.change("stickers", name="Sticker pack")
    builder.poll_at("2026-03-20 12:00")

    catalogue.change("ebook", sales_count=17, revenue_usd_cents=18000)
    catalogue.change("stickers", sales_count=5, revenue_usd_cents=2750)
    catalogue.change("template", price_cents=1000)
    catalogue.change("course", published=False)
    builder.poll_at("2026-03-22 23:30")

    catalogue.change("template", sales_count=4, revenue_usd_cents=3400)
    builder.poll_at("2026-03-25 12:00")

    builder.poll_at("2026-03-31 09:00")
    builder.fail_at("2026-03-31 10:00", "Gumroad returned HTTP 502")
    return builder


def _add_baseline_products(catalogue: FakeCatalogue) -> None:
    catalogue.add(
        make_product(
            "ebook", "Ebook", price_cents=1000, sales_count=10, revenue_usd_cents=10000
        )
    )
    catalogue.add(
        make_product(
            "course", "Course", price_cents=5000, sales_count=2, revenue_usd_cents=10000
        )
    )
    catalogue.add(
        make_product(
            "stickers",
            "Stickers",
            price_cents=500,
            currency="eur",
            sales_count=4,
            revenue_usd_cents=2200,
        )
    )
    catalogue.add(make_product("sampler", "Sampler", price_cents=0, sales_count=20))
    catalogue.add(
        make_product(
            "zine", "Zine", price_cents=400, sales_count=1, revenue_usd_cents=500
        )
    )
