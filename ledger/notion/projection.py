"""The ledger's projection: the values each Notion page should have, per key.

Values come from the product_totals and daily_sales views and are kept as plain
JSON keyed by property role (see ledger.notion.layout). Money
becomes a decimal only here, rounded to the cent, because Notion numbers are
floating point and the ledger keeps integer cents.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Boolean, Date, Integer, String, Text, column, select, table
from sqlalchemy.orm import Session

from ledger.notion.layout import DatabaseLayout, format_instant
from ledger.notion.text import MAX_URL_UNITS, utf16_length
from ledger.store.models import NotionPage, UTCDateTime

log = logging.getLogger(__name__)

# Products whose preview_url was already reported as unusable for a cover.
_REJECTED_COVERS: set[str] = set()

PRODUCT = "product"  # NotionPage.kind of a products database page
DAILY = "daily"  # NotionPage.kind of a daily database page

# Currencies that Gumroad stores in whole units; every other one is stored x100.
SINGLE_UNIT_CURRENCIES = frozenset({"jpy", "vnd"})

_PRODUCT_TOTALS = table(
    "product_totals",
    column("product_id", String()),
    column("name", Text()),
    column("price_cents", Integer()),
    column("currency", String()),
    column("sales_count", Integer()),
    column("revenue_usd_cents", Integer()),
    column("published", Boolean()),
    column("deleted", Boolean()),
    column("preview_url", Text()),
    column("short_url", Text()),
    column("last_changed_at", UTCDateTime()),
)
_DAILY_SALES = table(
    "daily_sales",
    column("day", Date()),
    column("product_id", String()),
    column("product_name", Text()),
    column("sales_delta", Integer()),
    column("revenue_usd_cents_delta", Integer()),
)


@dataclass(frozen=True)
class Desired:
    """Target state of one page: its property values by role, and its cover."""

    kind: str  # PRODUCT or DAILY
    key: str
    values: dict[str, Any]
    cover: str | None = None

    @property
    def label(self) -> str:
        return f"{self.kind} {self.key}"

    def state(self) -> dict[str, Any]:
        """Return the JSON-ready state stored in notion_pages.pushed_json."""
        return {"properties": self.values, "cover": self.cover}


def desired_products(session: Session) -> list[Desired]:
    """Return every product page's values from the latest snapshot of each product."""
    rows = session.execute(
        select(_PRODUCT_TOTALS).order_by(_PRODUCT_TOTALS.c.product_id)
    )
    return [_product_values(row) for row in rows]


def desired_daily(
    session: Session, product_pages: Mapping[str, str], pushed_keys: Iterable[str]
) -> list[Desired]:
    """Return the daily pages' values: days with a net change, and pushed keys.

    `product_pages` maps product ids to their page ids, for the Product relation.
    """
    # NOTE: a day whose sales and refunds cancel out keeps its page, updated to
    # zeros, instead of being trashed. The page id stays stable for anything the
    # seller linked to it, a later sale that day needs no restore, and a zero row is
    # a true record that the day's activity netted out. A key that never had a
    # non-zero change gets no page.
    pushed = set(pushed_keys)
    rows = session.execute(
        select(_DAILY_SALES).order_by(_DAILY_SALES.c.day, _DAILY_SALES.c.product_id)
    )
    desired = []
    for row in rows:
        key = daily_key(row.product_id, row.day)
        moved = row.sales_delta != 0 or row.revenue_usd_cents_delta != 0
        if moved or key in pushed:
            desired.append(_daily_values(row, key, product_pages.get(row.product_id)))
    return desired


def daily_key(product_id: str, day: date) -> str:
    """Return the key of a daily page, `<product id>|<YYYY-MM-DD>`."""
    return f"{product_id}|{day.isoformat()}"


def usd(cents: int) -> float:
    """Return integer cents as dollars rounded to the cent, for a Notion number."""
    return round(cents / 100, 2)


def major_units(amount: int, currency: str) -> int | float:
    """Return a Gumroad price in major units of its currency (yen stay whole)."""
    if currency.lower() in SINGLE_UNIT_CURRENCIES:
        return amount
    return round(amount / 100, 2)


def _product_values(row: Any) -> Desired:
    if row.deleted:
        status = "deleted"
    else:
        status = "published" if row.published else "unpublished"
    values = {
        "name": row.name,
        "id": row.product_id,
        "price": major_units(row.price_cents, row.currency),
        "sales_count": row.sales_count,
        "revenue": usd(row.revenue_usd_cents),
        "link": row.short_url or None,
        "currency": row.currency.upper(),
        "status": status,
        "last_change": format_instant(row.last_changed_at),
    }
    return Desired(PRODUCT, row.product_id, values, cover=_cover(row))


def _cover(row: Any) -> str | None:
    """Return the preview image as a cover URL, or None when Notion would reject it."""
    url = row.preview_url or None
    if url is None:
        return None
    if utf16_length(url) <= MAX_URL_UNITS and urlsplit(url).scheme in ("http", "https"):
        return url
    if row.product_id not in _REJECTED_COVERS:
        # Projections are computed on every push, so warn once per process.
        _REJECTED_COVERS.add(row.product_id)
        log.warning(
            "product %s: preview_url is not an http(s) URL of at most %d UTF-16 "
            "code units; its Notion page gets no cover",
            row.product_id,
            MAX_URL_UNITS,
        )
    return None


def _daily_values(row: Any, key: str, product_page_id: str | None) -> Desired:
    values = {
        "name": f"{row.day.isoformat()} · {row.product_name}",
        "key": key,
        "date": row.day.isoformat(),
        "product": product_page_id,
        "sales": row.sales_delta,
        "revenue": usd(row.revenue_usd_cents_delta),
    }
    return Desired(DAILY, key, values)


@dataclass
class PageState:
    """One key: its desired state, and its page and state as last pushed."""

    desired: Desired
    page_id: str | None
    pushed: dict[str, Any] | None

    @property
    def pending(self) -> bool:
        return self.page_id is None or self.pushed != self.desired.state()

    def changed_roles(self) -> list[str]:
        before = (self.pushed or {}).get("properties") or {}
        return [
            role
            for role, value in self.desired.values.items()
            if role not in before or before[role] != value
        ]

    def cover_changed(self) -> bool:
        return (self.pushed or {}).get("cover") != self.desired.cover


def _stored_pages(session: Session, kind: str) -> dict[str, NotionPage]:
    rows = session.scalars(select(NotionPage).where(NotionPage.kind == kind))
    return {row.key: row for row in rows}


def page_states(session: Session, layout: DatabaseLayout) -> list[PageState]:
    """Return every key of one database with its desired and pushed state.

    `layout.kind` picks the database: "products" or "daily".
    """
    if layout.kind == "products":
        stored = _stored_pages(session, PRODUCT)
        desired = desired_products(session)
    else:
        product_pages = {
            key: row.page_id
            for key, row in _stored_pages(session, PRODUCT).items()
            if row.page_id
        }
        stored = _stored_pages(session, DAILY)
        # A create that may have happened counts as pushed, so its key is looked
        # up (and its page set to zeros) even if its day netted out since.
        pushed = [
            key for key, row in stored.items() if row.page_id or row.create_started_at
        ]
        desired = desired_daily(session, product_pages, pushed)
    return [_page_state(entry, stored.get(entry.key)) for entry in desired]


def _page_state(desired: Desired, row: NotionPage | None) -> PageState:
    if row is None:
        return PageState(desired, None, None)
    pushed = json.loads(row.pushed_json) if row.pushed_json else None
    return PageState(desired, row.page_id, pushed)
