"""One poll: observe every Gumroad product and append what changed to the ledger."""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol, cast
from zoneinfo import ZoneInfo

from sqlalchemy import Table, exists, func, insert, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from ledger.errors import GumroadError, StoreError
from ledger.gumroad.products import Product
from ledger.store import keys
from ledger.store.db import describe_store_error, get_meta, session_factory, set_meta
from ledger.store.models import Poll, ProductSnapshot, SalesDelta

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]

# Core tables, so that a poll inserts its rows without building ORM objects.
_SNAPSHOTS = cast(Table, ProductSnapshot.__table__)
_DELTAS = cast(Table, SalesDelta.__table__)


class ProductSource(Protocol):
    """Interface the poller needs from a Gumroad client."""

    def list_products(self) -> Any: ...


@dataclass
class PollResult:
    """Counts of one poll, as recorded in its `polls` row."""

    poll_id: int
    status: str
    started_at: datetime
    finished_at: datetime
    baseline: bool = False
    complete: bool = True
    pages: int = 0
    products_seen: int = 0
    products_changed: int = 0
    products_new: int = 0
    products_deleted: int = 0
    sales_delta: int = 0
    revenue_usd_cents_delta: int = 0
    error: str | None = None
    changed_product_ids: list[str] = field(default_factory=list)

    @property
    def duration(self) -> float:
        return (self.finished_at - self.started_at).total_seconds()


@dataclass(frozen=True)
class _Latest:
    snapshot_id: int
    state_hash: str
    sales_count: int
    revenue_usd_cents: int
    deleted: bool


def state_hash(product: Product) -> str:
    """Hash the normalized state that decides whether a snapshot is written."""
    canonical = json.dumps(product.state_fields(), sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def utc_now() -> datetime:
    return datetime.now(UTC)


def poll(
    engine: Engine,
    source: ProductSource,
    timezone: ZoneInfo,
    *,
    clock: Clock = utc_now,
) -> PollResult:
    """Fetch every product and record the poll in one transaction.

    On a Gumroad failure the poll is recorded as failed, with its error and no
    snapshot or delta, and the GumroadError is raised again.
    """
    started_at = clock()
    started = time.monotonic()
    try:
        listing = source.list_products()
    except GumroadError as error:
        _record_failure(engine, started_at, clock(), str(error))
        raise

    confirmed_gone = _confirm_gone(engine, source, listing)
    try:
        result = _record_listing(
            engine, listing, timezone, started_at, clock, confirmed_gone
        )
    except SQLAlchemyError as error:
        message = f"ledger write failed: {describe_store_error(error)}"
        _record_failure(engine, started_at, clock(), message)
        raise StoreError(
            f"{message}; the poll was not recorded, nothing was written"
        ) from error
    except (ValueError, OverflowError, UnicodeError) as error:
        # Data that passed parsing but that SQLite cannot store: the poll must still
        # end as a failed row rather than a traceback and no row at all.
        message = f"ledger write failed: {type(error).__name__}: {error}"
        _record_failure(engine, started_at, clock(), message)
        raise StoreError(
            f"{message}; the poll was not recorded, nothing was written"
        ) from error

    log.info(
        "poll %d: %d products seen, %d changed (%d new, %d deleted), "
        "net sales %+d, net revenue %+.2f USD%s in %.1fs",
        result.poll_id,
        result.products_seen,
        result.products_changed,
        result.products_new,
        result.products_deleted,
        result.sales_delta,
        result.revenue_usd_cents_delta / 100,
        " (baseline)" if result.baseline else "",
        time.monotonic() - started,
    )
    return result


def _record_failure(
    engine: Engine, started_at: datetime, finished_at: datetime, message: str
) -> None:
    try:
        with session_factory(engine).begin() as session:
            session.add(
                Poll(
                    started_at=started_at,
                    finished_at=finished_at,
                    status="failed",
                    error=message,
                    **_zero_counts(),
                )
            )
    except SQLAlchemyError as error:
        log.error("could not record the failed poll: %s", describe_store_error(error))


def _zero_counts() -> dict[str, Any]:
    return {
        "is_baseline": False,
        "pages_fetched": 0,
        "products_seen": 0,
        "products_changed": 0,
        "products_new": 0,
        "products_deleted": 0,
        "sales_delta": 0,
        "revenue_usd_cents_delta": 0,
    }


def _confirm_gone(engine: Engine, source: Any, listing: Any) -> set[str] | None:
    """Return the ids missing from a complete listing that Gumroad reports deleted.

    A product absent from the list is asked for by id, which also finds deleted
    products, so a glitch in the listing never marks a live product deleted.
    Returns None for a source that cannot fetch one product (tests, benchmarks),
    where every missing product counts as deleted.
    """
    if not listing.complete or not hasattr(source, "get_product"):
        return None
    with session_factory(engine)() as session:
        latest = _latest_states(session)
    seen = {product.product_id for product in listing.products}
    missing = [
        product_id
        for product_id, state in latest.items()
        if product_id not in seen and not state.deleted
    ]
    return {product_id for product_id in missing if _is_deleted(source, product_id)}


def _is_deleted(source: Any, product_id: str) -> bool:
    try:
        product = source.get_product(product_id)
    except GumroadError as error:
        if error.code == "not_found":
            return True
        log.warning(
            "product %s is missing from the listing and could not be looked up "
            "(%s); it is not marked deleted in this poll",
            product_id,
            error,
        )
        return False
    if not product.deleted:
        log.warning(
            "product %s is missing from the listing but Gumroad still has it; it "
            "is not marked deleted",
            product_id,
        )
    return bool(product.deleted)


def _record_listing(
    engine: Engine,
    listing: Any,
    timezone: ZoneInfo,
    started_at: datetime,
    clock: Clock,
    confirmed_gone: set[str] | None = None,
) -> PollResult:
    with session_factory(engine).begin() as session:
        baseline = not session.scalar(select(exists().where(Poll.status == "ok")))
        latest = _latest_states(session)
        _warn_if_clock_went_back(session, started_at)
        _check_timezone(session, timezone)

        poll_row = Poll(started_at=started_at, status="ok", **_zero_counts())
        session.add(poll_row)
        session.flush()

        recorder = _Recorder(session, poll_row, timezone, baseline, started_at)
        products = _unique(listing.products)
        for product in products:
            recorder.observe(product, latest.get(product.product_id))
        if listing.complete:
            seen = {product.product_id for product in products}
            gone = [
                state.snapshot_id
                for product_id, state in latest.items()
                if product_id not in seen
                and not state.deleted
                and (confirmed_gone is None or product_id in confirmed_gone)
            ]
            for last in _snapshots(session, gone):
                recorder.mark_deleted(last)
        else:
            log.warning(
                "the product listing was incomplete; missing products are not "
                "marked deleted in this poll"
            )

        poll_row.is_baseline = baseline
        poll_row.pages_fetched = listing.pages
        poll_row.products_seen = len(products)
        poll_row.finished_at = clock()
        recorder.write()
        recorder.fill_counts()
        return recorder.result(listing.complete)


def _latest_states(session: Session) -> dict[str, _Latest]:
    # Only the columns that decide a change, not whole rows with their raw JSON:
    # every poll reads one row per product. Deleted products load theirs later.
    latest_ids = (
        select(func.max(ProductSnapshot.id))
        .group_by(ProductSnapshot.product_id)
        .scalar_subquery()
    )
    rows = session.execute(
        select(
            ProductSnapshot.product_id,
            ProductSnapshot.id,
            ProductSnapshot.state_hash,
            ProductSnapshot.sales_count,
            ProductSnapshot.revenue_usd_cents,
            ProductSnapshot.deleted,
        ).where(ProductSnapshot.id.in_(latest_ids))
    )
    return {
        row.product_id: _Latest(
            snapshot_id=row.id,
            state_hash=row.state_hash,
            sales_count=row.sales_count,
            revenue_usd_cents=row.revenue_usd_cents,
            deleted=row.deleted,
        )
        for row in rows
    }


def _snapshots(session: Session, ids: list[int]) -> list[ProductSnapshot]:
    if not ids:
        return []
    query = select(ProductSnapshot).where(ProductSnapshot.id.in_(ids))
    return list(session.scalars(query.order_by(ProductSnapshot.id)))


def _warn_if_clock_went_back(session: Session, started_at: datetime) -> None:
    last = session.scalar(select(func.max(Poll.started_at)))
    if last is not None and last.replace(tzinfo=UTC) > started_at:
        log.warning(
            "the system clock is behind the previous poll (%s > %s); deltas of "
            "this poll are dated by the current clock",
            last.isoformat(),
            started_at.isoformat(),
        )


def _check_timezone(session: Session, timezone: ZoneInfo) -> None:
    stored = get_meta(session, keys.LEDGER_TIMEZONE)
    if stored is None:
        set_meta(session, keys.LEDGER_TIMEZONE, timezone.key)
    elif stored != timezone.key:
        log.warning(
            "LEDGER_TIMEZONE is %s, but this ledger counts days in %s: new deltas "
            "are dated in %s. Set LEDGER_TIMEZONE=%s, or run `gumroad-ledger init` "
            "with the new zone to switch for good",
            timezone.key,
            stored,
            timezone.key,
            stored,
        )


def _unique(products: Iterable[Product]) -> list[Product]:
    unique: dict[str, Product] = {}
    for product in products:
        if product.product_id in unique:
            log.warning(
                "product %s was listed twice; keeping the first", product.product_id
            )
            continue
        unique[product.product_id] = product
    return list(unique.values())


class _Recorder:
    """Collects the snapshots and deltas of one poll, counts them and writes them.

    `write()` inserts the rows with one executemany per table, because building one
    ORM object per row took most of the time of a large poll.
    """

    def __init__(
        self,
        session: Session,
        poll_row: Poll,
        timezone: ZoneInfo,
        baseline: bool,
        observed_at: datetime,
    ) -> None:
        self.session = session
        self.poll_row = poll_row
        self.baseline = baseline
        self.observed_at = observed_at
        self.day = observed_at.astimezone(timezone).date()
        self.changed: list[str] = []
        self.snapshots: list[dict[str, Any]] = []
        self.deltas: list[dict[str, Any]] = []
        self.new = 0
        self.deleted = 0
        self.sales_delta = 0
        self.revenue_delta = 0

    def observe(self, product: Product, previous: _Latest | None) -> None:
        digest = state_hash(product)
        if previous is not None and previous.state_hash == digest:
            return

        self.snapshots.append(self._snapshot(product, digest))
        self.changed.append(product.product_id)
        if previous is None:
            self.new += 0 if self.baseline else 1
            if self.baseline:
                return
            self._delta(
                product.product_id, product.sales_count, product.revenue_usd_cents
            )
        else:
            self._delta(
                product.product_id,
                product.sales_count - previous.sales_count,
                product.revenue_usd_cents - previous.revenue_usd_cents,
            )

    def mark_deleted(self, last: ProductSnapshot) -> None:
        """Record a product absent from a complete listing as deleted, with no delta."""
        marker = {"id": last.product_id, "deleted": True, "absent_from_listing": True}
        self.snapshots.append(
            {
                "poll_id": self.poll_row.id,
                "product_id": last.product_id,
                "observed_at": self.observed_at,
                "name": last.name,
                "price_cents": last.price_cents,
                "currency": last.currency,
                "sales_count": last.sales_count,
                "revenue_usd_cents": last.revenue_usd_cents,
                "published": False,
                "deleted": True,
                "is_membership": last.is_membership,
                "preview_url": last.preview_url,
                "short_url": last.short_url,
                "state_hash": hashlib.sha256(
                    f"{last.state_hash}:deleted".encode()
                ).hexdigest(),
                "raw_json": json.dumps(marker),
            }
        )
        self.changed.append(last.product_id)
        self.deleted += 1

    def _snapshot(self, product: Product, digest: str) -> dict[str, Any]:
        return {
            "poll_id": self.poll_row.id,
            "product_id": product.product_id,
            "observed_at": self.observed_at,
            "name": product.name,
            "price_cents": product.price_cents,
            "currency": product.currency,
            "sales_count": product.sales_count,
            "revenue_usd_cents": product.revenue_usd_cents,
            "published": product.published,
            "deleted": product.deleted,
            "is_membership": product.is_membership,
            "preview_url": product.preview_url,
            "short_url": product.short_url,
            "state_hash": digest,
            "raw_json": json.dumps(dict(product.raw), sort_keys=True, default=str),
        }

    def _delta(self, product_id: str, sales: int, revenue_cents: int) -> None:
        if sales == 0 and revenue_cents == 0:
            return
        self.deltas.append(
            {
                "poll_id": self.poll_row.id,
                "product_id": product_id,
                "observed_at": self.observed_at,
                "day": self.day,
                "sales_delta": sales,
                "revenue_usd_cents_delta": revenue_cents,
            }
        )
        self.sales_delta += sales
        self.revenue_delta += revenue_cents

    def write(self) -> None:
        """Insert the collected rows with one executemany per table (Core, no ORM)."""
        if self.snapshots:
            self.session.execute(insert(_SNAPSHOTS), self.snapshots)
        if self.deltas:
            self.session.execute(insert(_DELTAS), self.deltas)

    def fill_counts(self) -> None:
        self.poll_row.products_changed = len(self.changed)
        self.poll_row.products_new = self.new
        self.poll_row.products_deleted = self.deleted
        self.poll_row.sales_delta = self.sales_delta
        self.poll_row.revenue_usd_cents_delta = self.revenue_delta

    def result(self, complete: bool) -> PollResult:
        row = self.poll_row
        assert row.finished_at is not None
        return PollResult(
            poll_id=row.id,
            status="ok",
            started_at=row.started_at,
            finished_at=row.finished_at,
            baseline=self.baseline,
            complete=complete,
            pages=row.pages_fetched,
            products_seen=row.products_seen,
            products_changed=row.products_changed,
            products_new=row.products_new,
            products_deleted=row.products_deleted,
            sales_delta=row.sales_delta,
            revenue_usd_cents_delta=row.revenue_usd_cents_delta,
            changed_product_ids=list(self.changed),
        )
