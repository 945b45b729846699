"""Create the ledger tables and the product_totals and daily_sales views.

Revision ID: 0001
Revises:
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from ledger.store.models import UTCDateTime

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PRODUCT_TOTALS = """
CREATE VIEW product_totals AS
SELECT
    s.product_id,
    s.name,
    s.price_cents,
    s.currency,
    s.sales_count,
    s.revenue_usd_cents,
    s.published,
    s.deleted,
    s.is_membership,
    s.preview_url,
    s.short_url,
    s.observed_at AS last_changed_at,
    s.poll_id,
    s.id AS snapshot_id
FROM product_snapshots AS s
JOIN (
    SELECT product_id, MAX(id) AS id FROM product_snapshots GROUP BY product_id
) AS latest ON latest.id = s.id
"""

DAILY_SALES = """
CREATE VIEW daily_sales AS
SELECT
    d.day,
    d.product_id,
    t.name AS product_name,
    SUM(d.sales_delta) AS sales_delta,
    SUM(d.revenue_usd_cents_delta) AS revenue_usd_cents_delta
FROM sales_deltas AS d
JOIN product_totals AS t ON t.product_id = d.product_id
GROUP BY d.day, d.product_id, t.name
"""


def upgrade() -> None:
    op.create_table(
        "polls",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("is_baseline", sa.Boolean(), nullable=False),
        sa.Column("pages_fetched", sa.Integer(), nullable=False),
        sa.Column("products_seen", sa.Integer(), nullable=False),
        sa.Column("products_changed", sa.Integer(), nullable=False),
        sa.Column("products_new", sa.Integer(), nullable=False),
        sa.Column("products_deleted", sa.Integer(), nullable=False),
        sa.Column("sales_delta", sa.Integer(), nullable=False),
        sa.Column("revenue_usd_cents_delta", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_polls")),
    )
    with op.batch_alter_table("polls") as batch:
        batch.create_index("ix_polls_started_at", ["started_at"], unique=False)

    op.create_table(
        "product_snapshots",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("poll_id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.String(length=64), nullable=False),
        sa.Column("observed_at", UTCDateTime(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("price_cents", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=8), nullable=False),
        sa.Column("sales_count", sa.Integer(), nullable=False),
        sa.Column("revenue_usd_cents", sa.Integer(), nullable=False),
        sa.Column("published", sa.Boolean(), nullable=False),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.Column("is_membership", sa.Boolean(), nullable=False),
        sa.Column("preview_url", sa.Text(), nullable=True),
        sa.Column("short_url", sa.Text(), nullable=True),
        sa.Column("state_hash", sa.String(length=64), nullable=False),
        sa.Column("raw_json", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["poll_id"],
            ["polls.id"],
            name=op.f("fk_product_snapshots_poll_id_polls"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_product_snapshots")),
    )
    with op.batch_alter_table("product_snapshots") as batch:
        batch.create_index(
            "ix_product_snapshots_product_id_id", ["product_id", "id"], unique=False
        )
        batch.create_index("ix_product_snapshots_poll_id", ["poll_id"], unique=False)

    op.create_table(
        "sales_deltas",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("poll_id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.String(length=64), nullable=False),
        sa.Column("observed_at", UTCDateTime(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("sales_delta", sa.Integer(), nullable=False),
        sa.Column("revenue_usd_cents_delta", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["poll_id"], ["polls.id"], name=op.f("fk_sales_deltas_poll_id_polls")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sales_deltas")),
    )
    with op.batch_alter_table("sales_deltas") as batch:
        batch.create_index(
            "ix_sales_deltas_product_id_day", ["product_id", "day"], unique=False
        )
        batch.create_index("ix_sales_deltas_day", ["day"], unique=False)
        batch.create_index("ix_sales_deltas_poll_id", ["poll_id"], unique=False)

    op.create_table(
        "meta",
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_meta")),
    )

    op.create_table(
        "notion_pages",
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("page_id", sa.String(length=64), nullable=True),
        sa.Column("pushed_json", sa.Text(), nullable=True),
        sa.Column("pushed_at", UTCDateTime(), nullable=True),
        sa.Column("create_started_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("kind", "key", name=op.f("pk_notion_pages")),
    )
    with op.batch_alter_table("notion_pages") as batch:
        batch.create_index("ix_notion_pages_page_id", ["page_id"], unique=False)

    op.execute(PRODUCT_TOTALS)
    op.execute(DAILY_SALES)


def downgrade() -> None:
    op.execute("DROP VIEW IF EXISTS daily_sales")
    op.execute("DROP VIEW IF EXISTS product_totals")
    op.drop_table("notion_pages")
    op.drop_table("meta")
    op.drop_table("sales_deltas")
    op.drop_table("product_snapshots")
    op.drop_table("polls")
