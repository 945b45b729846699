"""Small builders for poller and store tests: payloads, listings and a clock."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from ledger.gumroad.products import Product, parse_product
from ledger.store.db import create_ledger_engine, ensure_current, session_factory
from ledger.store.models import Poll, ProductSnapshot, SalesDelta


def payload(
    product_id: str,
    *,
    name: str | None = None,
    price: int = 1000,
    currency: str = "usd",
    sales_count: Any = 0,
    sales_usd_cents: Any = 0,
    published: bool = True,
    **extra: Any,
) -> dict[str, Any]:
    """Build a product payload shaped like GET /v2/products returns it."""
    body = {
        "id": product_id,
        "name": name or f"Product {product_id}",
        "price": price,
        "currency": currency,
        "published": published,
        "deleted": False,
        "is_tiered_membership": False,
        "subscription_duration": None,
        "preview_url": None,
        "short_url": f"https://seller.gumroad.com/l/{product_id.lower()}",
        "sales_count": sales_count,
        "sales_usd_cents": sales_usd_cents,
    }
    body.update(extra)
    return body


@dataclass
class Listing:
    products: list[Product]
    pages: int = 1
    complete: bool = True


@dataclass
class ScriptedSource:
    """A product source whose next listing the test sets; no network involved."""

    payloads: dict[str, dict[str, Any]] = field(default_factory=dict)
    complete: bool = True

    def set(self, *bodies: dict[str, Any]) -> None:
        for body in bodies:
            self.payloads[body["id"]] = body

    def remove(self, product_id: str) -> None:
        del self.payloads[product_id]

    def list_products(self) -> Listing:
        products = [parse_product(body) for body in self.payloads.values()]
        return Listing(
            products, pages=max(1, -(-len(products) // 10)), complete=self.complete
        )


class StepClock:
    """A clock that moves forward by `step` each time it is read."""

    def __init__(
        self, start: datetime | None = None, step: timedelta = timedelta(minutes=1)
    ):
        self.now = start or datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
        self.step = step

    def __call__(self) -> datetime:
        current = self.now
        self.now += self.step
        return current

    def jump(self, delta: timedelta) -> None:
        self.now += delta


def new_ledger(path: Any) -> Engine:
    engine = create_ledger_engine(_url(path))
    ensure_current(engine)
    return engine


def _url(path: Any) -> Any:
    from sqlalchemy.engine import make_url

    return make_url(f"sqlite:///{path}")


def check_invariant_3(engine: Engine) -> dict[str, tuple[int, int]]:
    """Assert baseline totals plus the sum of deltas equal the latest totals.

    The starting point is the first snapshot for a product seen in the baseline
    poll, and zero for a product first seen later. Returns the latest totals.
    """
    latest: dict[str, tuple[int, int]] = {}
    with session_factory(engine)() as session:
        baseline_poll = session.scalar(select(Poll.id).where(Poll.is_baseline))
        ids = session.scalars(select(ProductSnapshot.product_id).distinct()).all()
        for product_id in ids:
            snapshots = session.scalars(
                select(ProductSnapshot)
                .where(ProductSnapshot.product_id == product_id)
                .order_by(ProductSnapshot.id)
            ).all()
            first, last = snapshots[0], snapshots[-1]
            start = (
                (first.sales_count, first.revenue_usd_cents)
                if first.poll_id == baseline_poll
                else (0, 0)
            )
            sales, revenue = session.execute(
                select(
                    func.coalesce(func.sum(SalesDelta.sales_delta), 0),
                    func.coalesce(func.sum(SalesDelta.revenue_usd_cents_delta), 0),
                ).where(SalesDelta.product_id == product_id)
            ).one()
            assert start[0] + sales == last.sales_count, product_id
            assert start[1] + revenue == last.revenue_usd_cents, product_id
            latest[product_id] = (last.sales_count, last.revenue_usd_cents)
    return latest


def rows(engine: Engine, sql: str, params: Iterable[Any] = ()) -> list[tuple[Any, ...]]:
    with engine.connect() as connection:
        return [tuple(row) for row in connection.exec_driver_sql(sql, tuple(params))]
