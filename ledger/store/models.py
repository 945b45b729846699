"""SQLAlchemy models of the ledger.

`polls`, `product_snapshots` and `sales_deltas` are the documented tables that users
query; `meta` and `notion_pages` are internal. Every change here needs an Alembic
revision; a test fails when the models and the migrations drift apart.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware datetime stored as naive UTC and read back with tzinfo=UTC.

    SQLite has no time zone type, so the stored text is always UTC
    (`2026-12-04 15:50:14.123456`), which sorts and compares correctly in SQL.
    """

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime) or value.tzinfo is None:
            raise ValueError(f"expected a timezone-aware datetime, got {value!r}")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Poll(Base):
    """One poll attempt of the Gumroad API, successful or not."""

    __tablename__ = "polls"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    error: Mapped[str | None] = mapped_column(Text)
    is_baseline: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    pages_fetched: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    products_seen: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    products_changed: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    products_new: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    products_deleted: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    sales_delta: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    revenue_usd_cents_delta: Mapped[int] = mapped_column(
        Integer, nullable=False, default=0
    )

    __table_args__ = (Index("ix_polls_started_at", "started_at"),)


class ProductSnapshot(Base):
    """A product's observed state, written only when that state changed."""

    __tablename__ = "product_snapshots"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    poll_id: Mapped[int] = mapped_column(ForeignKey("polls.id"), nullable=False)
    product_id: Mapped[str] = mapped_column(String(64), nullable=False)
    observed_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    name: Mapped[str] = mapped_column(Text, nullable=False)
    price_cents: Mapped[int] = mapped_column(Integer, nullable=False)
    currency: Mapped[str] = mapped_column(String(8), nullable=False)
    sales_count: Mapped[int] = mapped_column(Integer, nullable=False)
    revenue_usd_cents: Mapped[int] = mapped_column(Integer, nullable=False)
    published: Mapped[bool] = mapped_column(Boolean, nullable=False)
    deleted: Mapped[bool] = mapped_column(Boolean, nullable=False)
    is_membership: Mapped[bool] = mapped_column(Boolean, nullable=False)
    preview_url: Mapped[str | None] = mapped_column(Text)
    short_url: Mapped[str | None] = mapped_column(Text)
    state_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    raw_json: Mapped[str] = mapped_column(Text, nullable=False)

    __table_args__ = (
        Index("ix_product_snapshots_product_id_id", "product_id", "id"),
        Index("ix_product_snapshots_poll_id", "poll_id"),
    )


class SalesDelta(Base):
    """The signed change of a product's totals between two observations."""

    __tablename__ = "sales_deltas"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    poll_id: Mapped[int] = mapped_column(ForeignKey("polls.id"), nullable=False)
    product_id: Mapped[str] = mapped_column(String(64), nullable=False)
    observed_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    day: Mapped[date] = mapped_column(Date, nullable=False)
    sales_delta: Mapped[int] = mapped_column(Integer, nullable=False)
    revenue_usd_cents_delta: Mapped[int] = mapped_column(Integer, nullable=False)

    __table_args__ = (
        Index("ix_sales_deltas_product_id_day", "product_id", "day"),
        Index("ix_sales_deltas_day", "day"),
        Index("ix_sales_deltas_poll_id", "poll_id"),
    )


class Meta(Base):
    """Internal key-value settings: Notion targets, scheduler heartbeat."""

    __tablename__ = "meta"

    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    value: Mapped[str] = mapped_column(Text, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class NotionPage(Base):
    """Internal map from a projection key to its Notion page and what was last pushed.

    `kind` is `product` or `daily`; `key` is the product id, or `<product id>|<day>`.
    A row with `page_id` NULL and `create_started_at` set records a create whose outcome
    is unknown, so the next push looks the key up in Notion before creating again.
    """

    __tablename__ = "notion_pages"

    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    page_id: Mapped[str | None] = mapped_column(String(64))
    pushed_json: Mapped[str | None] = mapped_column(Text)
    pushed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    create_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_notion_pages_page_id", "page_id"),)
